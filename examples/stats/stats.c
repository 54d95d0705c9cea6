/* stats: exercise the heap, printf and the monotonic clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unilang/runtime.h>

#define N 2000

static unsigned long long next_rand(unsigned long long *s)
{
    /* xorshift64*: deterministic, so the printed results are too */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void sort(unsigned *a, size_t n)
{
    /* insertion sort over gaps (shell sort): no recursion, no libc qsort */
    for (size_t gap = n / 2; gap > 0; gap /= 2)
        for (size_t i = gap; i < n; i++) {
            unsigned v = a[i];
            size_t j = i;
            while (j >= gap && a[j - gap] > v) {
                a[j] = a[j - gap];
                j -= gap;
            }
            a[j] = v;
        }
}

int main(void)
{
    unsigned long long t0 = unilang_monotonic_ns();
    unsigned long long seed = 0x9E3779B97F4A7C15ULL;
    size_t free_before = heap_free_bytes();

    /* many blocks of many sizes, freed in an interleaved order */
    void *blocks[256];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < 256; i++) {
            blocks[i] = malloc((size_t)(next_rand(&seed) % 4096) + 1);
            if (blocks[i] == NULL) {
                printf("stats: out of memory in round %d\n", round);
                return 1;
            }
            memset(blocks[i], i, 1);
        }
        for (int i = 0; i < 256; i += 2)
            free(blocks[i]);
        for (int i = 1; i < 256; i += 2)
            free(blocks[i]);
    }
    if (heap_free_bytes() != free_before) {
        printf("stats: heap leaked %zu bytes\n", free_before - heap_free_bytes());
        return 1;
    }

    unsigned *nums = calloc(N, sizeof *nums);
    if (nums == NULL) {
        printf("stats: calloc failed\n");
        return 1;
    }
    unsigned long long sum = 0;
    for (int i = 0; i < N; i++) {
        nums[i] = (unsigned)(next_rand(&seed) % 1000000);
        sum += nums[i];
    }
    sort(nums, N);
    for (int i = 1; i < N; i++)
        if (nums[i - 1] > nums[i]) {
            printf("stats: not sorted at %d\n", i);
            return 1;
        }
    printf("sorted %d numbers: min %u, median %u, max %u, mean %llu\n", N, nums[0],
           nums[N / 2], nums[N - 1], sum / N);
    free(nums);
    printf("heap: %zu KiB total, %zu KiB free\n", heap_total_bytes() / 1024,
           heap_free_bytes() / 1024);

    unsigned long long t1 = unilang_monotonic_ns();
    unsigned long long hz = unilang_tsc_hz();
    unsigned long long boot_us = (unilang_tsc_main - unilang_tsc_entry) * 1000000ULL / (hz ? hz : 1);
    printf("clock: monotonic %s, work took %llu us\n", t1 >= t0 ? "ok" : "WENT BACKWARDS",
           (t1 - t0) / 1000);
    printf("boot: entry to main in %llu us\n", boot_us);
    return 0;
}
