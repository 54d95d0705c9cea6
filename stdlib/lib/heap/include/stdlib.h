/* unilang freestanding <stdlib.h> subset (library heap, stdlib/lib/heap). */
#ifndef UNILANG_STDLIB_H
#define UNILANG_STDLIB_H

#include <stddef.h>

void *malloc(size_t size);
void free(void *ptr);
void *calloc(size_t nmemb, size_t size);
void *realloc(void *ptr, size_t size);
void *aligned_alloc(size_t alignment, size_t size);

/* Give a memory range to the allocator (the boot code does it from the PVH
 * memory map; callable again to add more). */
void heap_add_region(void *p, size_t n);
/* Bytes currently free / total arena bytes (for tests and diagnostics). */
size_t heap_free_bytes(void);
size_t heap_total_bytes(void);
/* Walks the free list: number of free blocks, or -1 if it is damaged
 * (unordered, uncoalesced, misaligned, or not adding up); *largest (may be
 * NULL) gets the largest free block's size, header included. */
long heap_check(size_t *largest);

#endif
