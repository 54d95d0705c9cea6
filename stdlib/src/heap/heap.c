/* First-fit, address-ordered free-list allocator with coalescing.
 *
 * The part above "PVH arena discovery" is pure C (host-testable): it only
 * needs heap_add_region(ptr, size).  heap_init() (init table entry of the
 * "heap" library) picks the arena from the PVH start-info memory map: the
 * largest type-1 (RAM) range above __image_end and below 4 GiB (the identity
 * map), avoiding the start info, memory map, command line and modules, and
 * capped at UNILANG_PARAM_HEAP_MAX_SIZE bytes (0 = no cap).
 *
 * Block layout: a 16-byte header {size, next} precedes every block; size
 * counts the header and is a multiple of 16; payloads are 16-byte aligned.
 * `next` is only meaningful in free blocks; allocated blocks store a magic.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Host tests: -DUNILANG_HEAP_PREFIX=xyz_ renames the public functions
 * (xyz_malloc, xyz_heap_add_region, ...) and drops the PVH part. */
#ifdef UNILANG_HEAP_PREFIX
#define UNILANG_HEAP_HOST_TEST 1
#else
#include <stdlib.h>
#define UNILANG_HEAP_PREFIX
#endif
#define UHEAP_CAT2(a, b) a##b
#define UHEAP_CAT(a, b) UHEAP_CAT2(a, b)
#define UHEAP(name) UHEAP_CAT(UNILANG_HEAP_PREFIX, name)

#ifndef UNILANG_PARAM_HEAP_MAX_SIZE
#define UNILANG_PARAM_HEAP_MAX_SIZE 0
#endif

#define ALIGN 16u
#define HDR 16u
#define MIN_BLOCK 32u
#define USED_MAGIC ((struct blk *)(uintptr_t)0x75736564a110c8edull)

struct blk {
    size_t size;
    struct blk *next;
};

static struct blk *free_list;
static size_t total_bytes, free_bytes;

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* Insert a block into the address-ordered free list, merging neighbours. */
static void insert_free(struct blk *b)
{
    struct blk *prev = NULL, *cur = free_list;

    free_bytes += b->size;
    while (cur != NULL && cur < b) {
        prev = cur;
        cur = cur->next;
    }
    if (cur != NULL && (char *)b + b->size == (char *)cur) {
        b->size += cur->size;
        b->next = cur->next;
    } else {
        b->next = cur;
    }
    if (prev != NULL && (char *)prev + prev->size == (char *)b) {
        prev->size += b->size;
        prev->next = b->next;
    } else if (prev != NULL) {
        prev->next = b;
    } else {
        free_list = b;
    }
}

void UHEAP(heap_add_region)(void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    uintptr_t s = round_up(a, ALIGN);

    if (n < s - a + MIN_BLOCK)
        return;
    n = (n - (s - a)) & ~(size_t)(ALIGN - 1);
    struct blk *b = (struct blk *)s;
    b->size = n;
    total_bytes += n;
    insert_free(b);
}

size_t UHEAP(heap_free_bytes)(void)
{
    return free_bytes;
}

size_t UHEAP(heap_total_bytes)(void)
{
    return total_bytes;
}

/* Bytes needed for a payload of n (0 on overflow). */
static size_t block_size(size_t n)
{
    if (n > SIZE_MAX / 2)
        return 0;
    n = round_up(n, ALIGN) + HDR;
    return n < MIN_BLOCK ? MIN_BLOCK : n;
}

/* First fit with payload alignment `align` (power of two >= 16). */
static void *alloc_aligned(size_t align, size_t n)
{
    size_t need = block_size(n);
    struct blk **link = &free_list;

    if (need == 0 || align > SIZE_MAX / 4)
        return NULL;
    for (struct blk *b = free_list; b != NULL; link = &b->next, b = b->next) {
        uintptr_t start = (uintptr_t)b, end = start + b->size;
        uintptr_t hdr = round_up(start + HDR, align) - HDR;

        if (hdr != start && hdr - start < MIN_BLOCK)
            hdr += align; /* leave room for a free block in front */
        if (hdr + need > end || hdr + need < hdr)
            continue;

        /* unlink b; give back the front and tail pieces */
        *link = b->next;
        free_bytes -= b->size;
        size_t tail = end - (hdr + need);
        if (tail < MIN_BLOCK) {
            need += tail;
            tail = 0;
        }
        if (hdr != start) {
            b->size = hdr - start;
            insert_free(b);
        }
        if (tail) {
            struct blk *t = (struct blk *)(hdr + need);
            t->size = tail;
            insert_free(t);
        }
        struct blk *r = (struct blk *)hdr;
        r->size = need;
        r->next = USED_MAGIC;
        return (char *)r + HDR;
    }
    return NULL;
}

void *UHEAP(malloc)(size_t n)
{
    return alloc_aligned(ALIGN, n);
}

void UHEAP(free)(void *p)
{
    if (p == NULL)
        return;
    struct blk *b = (struct blk *)((char *)p - HDR);
    if (b->next != USED_MAGIC)
        return; /* double free or foreign pointer: ignore */
    insert_free(b);
}

void *UHEAP(calloc)(size_t m, size_t n)
{
    if (n != 0 && m > SIZE_MAX / n)
        return NULL;
    void *p = UHEAP(malloc)(m * n);
    if (p != NULL)
        memset(p, 0, m * n);
    return p;
}

void *UHEAP(realloc)(void *p, size_t n)
{
    if (p == NULL)
        return UHEAP(malloc)(n);
    if (n == 0) {
        UHEAP(free)(p);
        return NULL;
    }
    struct blk *b = (struct blk *)((char *)p - HDR);
    size_t have = b->size - HDR;
    if (n <= have)
        return p;
    void *q = UHEAP(malloc)(n);
    if (q != NULL) {
        memcpy(q, p, have);
        UHEAP(free)(p);
    }
    return q;
}

void *UHEAP(aligned_alloc)(size_t align, size_t n)
{
    if (align == 0 || (align & (align - 1)) != 0)
        return NULL;
    return alloc_aligned(align < ALIGN ? ALIGN : align, n);
}

/* ---------------- PVH arena discovery (target only) ---------------- */
#ifndef UNILANG_HEAP_HOST_TEST
#include <unilang/runtime.h>

extern char __image_end[];

void heap_init(void);

/* Shrink [*lo, *hi) to the larger side of the hole [rlo, rhi). */
static void avoid(uint64_t *lo, uint64_t *hi, uint64_t rlo, uint64_t rhi)
{
    if (rhi <= *lo || rlo >= *hi || rlo >= rhi)
        return;
    uint64_t below = rlo > *lo ? rlo - *lo : 0;
    uint64_t above = rhi < *hi ? *hi - rhi : 0;
    if (below >= above)
        *hi = *lo + below;
    else
        *lo = rhi;
}

static uint64_t cstr_len(uint64_t pa)
{
    const char *s = (const char *)(uintptr_t)pa;
    uint64_t n = 0;
    while (s[n] != '\0' && n < 65536)
        ++n;
    return n + 1;
}

void heap_init(void)
{
    const struct hvm_start_info *si = unilang_get_start_info();
    if (si == NULL || si->version < 1 || si->memmap_paddr == 0)
        return;

    const struct hvm_memmap_table_entry *mm =
        (const struct hvm_memmap_table_entry *)(uintptr_t)si->memmap_paddr;
    const struct hvm_modlist_entry *mods =
        (const struct hvm_modlist_entry *)(uintptr_t)si->modlist_paddr;
    uint64_t best_lo = 0, best_hi = 0;

    for (uint32_t i = 0; i < si->memmap_entries; ++i) {
        if (mm[i].type != HVM_MEMMAP_TYPE_RAM)
            continue;
        uint64_t lo = mm[i].addr, hi = mm[i].addr + mm[i].size;
        uint64_t img = (uint64_t)(uintptr_t)__image_end;
        if (lo < img)
            lo = img;
        if (hi > 0x100000000ull) /* identity map covers 4 GiB */
            hi = 0x100000000ull;
        if (hi <= lo)
            continue;
        avoid(&lo, &hi, (uintptr_t)si, (uintptr_t)si + sizeof(*si));
        avoid(&lo, &hi, si->memmap_paddr,
              si->memmap_paddr + (uint64_t)si->memmap_entries * sizeof(*mm));
        if (si->cmdline_paddr != 0)
            avoid(&lo, &hi, si->cmdline_paddr,
                  si->cmdline_paddr + cstr_len(si->cmdline_paddr));
        if (si->modlist_paddr != 0) {
            avoid(&lo, &hi, si->modlist_paddr,
                  si->modlist_paddr + (uint64_t)si->nr_modules * sizeof(*mods));
            for (uint32_t m = 0; m < si->nr_modules; ++m) {
                avoid(&lo, &hi, mods[m].paddr, mods[m].paddr + mods[m].size);
                if (mods[m].cmdline_paddr != 0)
                    avoid(&lo, &hi, mods[m].cmdline_paddr,
                          mods[m].cmdline_paddr + cstr_len(mods[m].cmdline_paddr));
            }
        }
        if (hi - lo > best_hi - best_lo) {
            best_lo = lo;
            best_hi = hi;
        }
    }
    uint64_t size = best_hi - best_lo;
    if (UNILANG_PARAM_HEAP_MAX_SIZE != 0 && size > (uint64_t)UNILANG_PARAM_HEAP_MAX_SIZE)
        size = (uint64_t)UNILANG_PARAM_HEAP_MAX_SIZE;
    if (size != 0)
        UHEAP(heap_add_region)((void *)(uintptr_t)best_lo, (size_t)size);
}
#endif
