/* Host driver for stdlib/lib/heap/src/heap.c (compiled with UNILANG_HEAP_PREFIX=h_).
 * usage: heap_driver ARENA_BYTES OFFSET  (the region starts OFFSET bytes into
 * a 4096-byte aligned static arena, to exercise unaligned regions)
 * stdin, one op per line (ids < 4096):
 *   m ID SIZE | c ID NMEMB SIZE | r ID SIZE | a ID ALIGN SIZE | f ID
 * stdout: "total T", then per op "ID OFFSET|null" for allocations (offset of
 * the payload from the arena start, so its alignment is the address's) and "chk COUNT LARGEST FREE" after every
 * op; problems the driver sees itself (contents lost across realloc, calloc
 * not zeroed) as "BAD ..."; with the canary guard, reports as "CORRUPT kind".
 * "end COUNT FREE TOTAL" after freeing every live block. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void h_heap_add_region(void *p, size_t n);
size_t h_heap_free_bytes(void);
size_t h_heap_total_bytes(void);
long h_heap_check(size_t *largest);
void *h_malloc(size_t n);
void h_free(void *p);
void *h_calloc(size_t m, size_t n);
void *h_realloc(void *p, size_t n);
void *h_aligned_alloc(size_t a, size_t n);

void h_heap_corrupted(const char *kind, void *block, size_t size)
{
    (void)block;
    printf("CORRUPT %s %zu\n", kind, size);
}

static unsigned char arena[1 << 22] __attribute__((aligned(4096)));
static unsigned char *base;
static void *ptr[4096];
static size_t len[4096];

static unsigned char pat(int id, size_t i)
{
    return (unsigned char)(id * 31 + i * 7 + 1);
}
static void fill(int id)
{
    for (size_t i = 0; i < len[id]; i++)
        ((unsigned char *)ptr[id])[i] = pat(id, i);
}
static int intact(int id, size_t upto)
{
    for (size_t i = 0; i < upto; i++)
        if (((unsigned char *)ptr[id])[i] != pat(id, i))
            return 0;
    return 1;
}
static void show(int id)
{
    if (ptr[id] == NULL)
        printf("%d null\n", id);
    else
        printf("%d %ld\n", id, (long)((unsigned char *)ptr[id] - arena));
}

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoul(argv[1], NULL, 0) : 65536;
    size_t off = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
    char op;
    int id;

    if (size + off > sizeof arena)
        return 2;
    base = arena + off;
    h_heap_add_region(base, size);
    printf("total %zu\n", h_heap_total_bytes());
    while (scanf(" %c %d", &op, &id) == 2) {
        size_t a = 0, b = 0;
        if (id < 0 || id >= 4096)
            return 2;
        switch (op) {
        case 'm':
            if (scanf("%zu", &a) != 1)
                return 2;
            ptr[id] = h_malloc(a);
            len[id] = ptr[id] ? a : 0;
            if (ptr[id])
                fill(id);
            show(id);
            break;
        case 'c':
            if (scanf("%zu %zu", &a, &b) != 2)
                return 2;
            ptr[id] = h_calloc(a, b);
            len[id] = ptr[id] ? a * b : 0;
            if (ptr[id]) {
                for (size_t i = 0; i < len[id]; i++)
                    if (((unsigned char *)ptr[id])[i] != 0) {
                        printf("BAD calloc %d not zeroed\n", id);
                        break;
                    }
                fill(id);
            }
            show(id);
            break;
        case 'a':
            if (scanf("%zu %zu", &a, &b) != 2)
                return 2;
            ptr[id] = h_aligned_alloc(a, b);
            len[id] = ptr[id] ? b : 0;
            if (ptr[id])
                fill(id);
            show(id);
            break;
        case 'r': {
            if (scanf("%zu", &a) != 1)
                return 2;
            void *q = h_realloc(ptr[id], a);
            if (q == NULL && a != 0) {
                if (!intact(id, len[id]))
                    printf("BAD realloc %d failed and lost contents\n", id);
                printf("%d null\n", id);
                break;
            }
            size_t keep = len[id] < a ? len[id] : a;
            ptr[id] = q;
            if (q && !intact(id, keep))
                printf("BAD realloc %d lost contents\n", id);
            len[id] = a;
            if (q)
                fill(id);
            show(id);
            break;
        }
        case 'f':
            if (ptr[id] && !intact(id, len[id]))
                printf("BAD block %d overwritten\n", id);
            h_free(ptr[id]);
            ptr[id] = NULL;
            break;
        case 'x': /* guard tests: write one byte past the block, then free */
            ((unsigned char *)ptr[id])[len[id]] ^= 0xff;
            h_free(ptr[id]);
            ptr[id] = NULL;
            break;
        case 'd': /* guard tests: free twice */
            h_free(ptr[id]);
            h_free(ptr[id]);
            ptr[id] = NULL;
            break;
        default:
            return 2;
        }
        size_t largest = 0;
        long count = h_heap_check(&largest);
        printf("chk %ld %zu %zu\n", count, largest, h_heap_free_bytes());
    }
    for (int i = 0; i < 4096; i++) {
        if (ptr[i] && !intact(i, len[i]))
            printf("BAD block %d overwritten\n", i);
        h_free(ptr[i]);
    }
    printf("end %ld %zu %zu\n", h_heap_check(NULL), h_heap_free_bytes(), h_heap_total_bytes());
    return 0;
}
