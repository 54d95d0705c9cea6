/* First-fit, address-ordered free-list allocator with coalescing.
 *
 * The part above "PVH arena discovery" is pure C (host-testable): it only
 * needs heap_add_region(ptr, size).  heap_init() (init table entry of the
 * "heap" library) picks the arena from the PVH start-info memory map: the
 * largest type-1 (RAM) range above __heap_floor (the end of the image rounded
 * up to 2 MiB, the RAM that pvh maps for general use) and below 4 GiB (the identity
 * map), avoiding the start info, memory map, command line and modules, and
 * capped at UNILANG_PARAM_HEAP_MAX_SIZE bytes (heap.max_size).
 *
 * Block layout: a 16-byte header {size, tag} precedes every block; size
 * counts the header and is a multiple of 16; payloads are 16-byte aligned.
 * In free blocks the second word links the free list; allocated blocks
 * store a tag there (USED_MAGIC, or with the canary guard a 16-bit magic
 * and the requested size).
 *
 * Guard (library parameter heap.guard = canary, UNILANG_PARAM_HEAP_GUARD_CANARY):
 * every block keeps at least CANARY_MIN bytes after the requested size, all
 * of them filled with CANARY_BYTE; free() and realloc() check them and a
 * double or foreign free, and on damage call heap_corrupted(), which on the
 * target prints "heap: ..." to the console and shuts down with
 * UNILANG_PARAM_HEAP_GUARD_EXIT_CODE.
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

/* The parameters come from unilang_params.h; their defaults live in heap.uni
 * only.  The preprocessor would quietly read a missing GUARD as 0, and the
 * others are used only in some configurations: hence the check. */
#if !defined(UNILANG_PARAM_HEAP_GUARD) || !defined(UNILANG_PARAM_HEAP_GUARD_CANARY) || \
    !defined(UNILANG_PARAM_HEAP_MAX_SIZE) || !defined(UNILANG_PARAM_HEAP_GUARD_EXIT_CODE)
#error "heap parameters missing: build through unilang (unilang_params.h), or pass -D"
#endif
#define HEAP_CANARY (UNILANG_PARAM_HEAP_GUARD == UNILANG_PARAM_HEAP_GUARD_CANARY)

#define ALIGN 16u
#define HDR 16u
#define MIN_BLOCK 32u
#define USED_MAGIC ((struct blk *)(uintptr_t)0x75736564a110c8edull)
#define CANARY_MIN (HEAP_CANARY ? 8u : 0u)
#define CANARY_BYTE 0xa5
#define TAG_MAGIC 0xa11cull /* canary mode: tag = TAG_MAGIC << 48 | requested */

struct blk {
    size_t size;
    struct blk *next;
};

static struct blk *free_list;
static size_t total_bytes, free_bytes;

/* Reports heap damage: kind is "canary" (bytes after a block overwritten),
 * "double-free" (free of a block that is not allocated) or "realloc".
 * Host tests provide it; the target version prints and shuts down. */
#if HEAP_CANARY
void UHEAP(heap_corrupted)(const char *kind, void *block, size_t size);
#define CORRUPTED(kind, block, size) UHEAP(heap_corrupted)(kind, block, size)
#else
#define CORRUPTED(kind, block, size) ((void)0)
#endif

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

/* Walks the free list: returns the number of free blocks, or -1 if the list
 * is out of address order, has adjacent (uncoalesced) or misaligned blocks
 * or its sizes do not add up to heap_free_bytes(); *largest gets the size
 * of the largest free block (header included). */
long UHEAP(heap_check)(size_t *largest)
{
    long count = 0;
    size_t sum = 0, big = 0;

    for (struct blk *b = free_list; b != NULL; b = b->next) {
        if (((uintptr_t)b & (ALIGN - 1)) != 0 || b->size < MIN_BLOCK ||
            (b->size & (ALIGN - 1)) != 0)
            return -1;
        if (b->next != NULL && (char *)b + b->size >= (char *)b->next)
            return -1; /* overlapping, unordered or not coalesced */
        sum += b->size;
        if (b->size > big)
            big = b->size;
        ++count;
    }
    if (largest != NULL)
        *largest = big;
    return sum == free_bytes ? count : -1;
}

/* Bytes needed for a payload of n (0 on overflow). */
static size_t block_size(size_t n)
{
    if (n > SIZE_MAX / 2)
        return 0;
    n = round_up(n + CANARY_MIN, ALIGN) + HDR;
    return n < MIN_BLOCK ? MIN_BLOCK : n;
}

/* First fit with payload alignment `align` (power of two >= 16). */
static void mark_used(struct blk *r, size_t n)
{
#if HEAP_CANARY
    r->next = (struct blk *)(uintptr_t)(TAG_MAGIC << 48 | n);
    memset((char *)r + HDR + n, CANARY_BYTE, r->size - HDR - n);
#else
    (void)n;
    r->next = USED_MAGIC;
#endif
}

/* The requested size of an allocated block, or SIZE_MAX if b is not one. */
static size_t used_size(const struct blk *b)
{
#if HEAP_CANARY
    uintptr_t t = (uintptr_t)b->next;
    size_t n = (size_t)(t & ((1ull << 48) - 1));
    if ((t >> 48) != TAG_MAGIC || b->size < HDR + CANARY_MIN ||
        n > b->size - HDR - CANARY_MIN)
        return SIZE_MAX;
    return n;
#else
    return b->next == USED_MAGIC ? b->size - HDR : SIZE_MAX;
#endif
}

/* Canary mode: 1 if every byte between the requested size and the block's
 * end still holds CANARY_BYTE. */
__attribute__((unused)) static int canary_ok(const struct blk *b, size_t n)
{
    const unsigned char *c = (const unsigned char *)b + HDR + n;
    const unsigned char *e = (const unsigned char *)b + b->size;

    for (; c < e; ++c)
        if (*c != CANARY_BYTE)
            return 0;
    return 1;
}

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
        mark_used(r, n);
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
    size_t n = used_size(b);
    if (n == SIZE_MAX) {
        /* double free or foreign pointer: ignored, or reported by the guard */
        CORRUPTED("double-free", p, 0);
        return;
    }
    if (HEAP_CANARY && !canary_ok(b, n)) {
        CORRUPTED("canary", p, n);
        return; /* host tests: the block is leaked, not reused */
    }
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
    size_t old = used_size(b);
    if (old == SIZE_MAX) {
        CORRUPTED("realloc", p, 0);
        return NULL;
    }
    if (HEAP_CANARY && !canary_ok(b, old)) {
        CORRUPTED("canary", p, old);
        return NULL;
    }
    if (n <= b->size - HDR - CANARY_MIN) {
        mark_used(b, n); /* same block; canary mode moves the canary */
        return p;
    }
    void *q = UHEAP(malloc)(n);
    if (q != NULL) {
        memcpy(q, p, old);
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

extern char __heap_floor[];

void heap_init(void);

#if HEAP_CANARY
static void heap_say(const char *s)
{
    unilang_console_write(s, strlen(s));
}

static void heap_say_hex(uint64_t v)
{
    char buf[19];
    int i = sizeof(buf);

    do {
        buf[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    unilang_console_write(buf + i, sizeof(buf) - (unsigned long)i);
}

void heap_corrupted(const char *kind, void *block, size_t size)
{
    if (kind[0] == 'c') {
        heap_say("heap: corruption: canary after block ");
        heap_say_hex((uintptr_t)block);
        heap_say(" of size ");
        heap_say_hex(size);
        heap_say(" overwritten\n");
    } else {
        heap_say("heap: corruption: ");
        heap_say(kind);
        heap_say(" of ");
        heap_say_hex((uintptr_t)block);
        heap_say(", which is not an allocated block\n");
    }
    unilang_shutdown(UNILANG_PARAM_HEAP_GUARD_EXIT_CODE);
}
#endif

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
        uint64_t img = (uint64_t)(uintptr_t)__heap_floor;
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
