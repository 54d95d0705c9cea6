/* rtcheck: one line per runtime check; exit code = number of failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unilang/runtime.h>

static int failures;

static void report(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "ok" : "FAILED");
    if (!ok)
        failures++;
}

static int check_heap(void)
{
    size_t total = heap_total_bytes(), free0 = heap_free_bytes();
    void *blocks[512];
    int n = 0;

    if (total == 0 || total > 256 * 1024 || free0 != total)
        return 0;
    if (malloc(1024 * 1024) != NULL) /* more than the heap */
        return 0;
    while (n < 512 && (blocks[n] = malloc(4000)) != NULL)
        memset(blocks[n++], 0x5a, 4000);
    if (n == 512 || n < 32) /* 256 KiB / ~4 KiB: exhausted well before 512 */
        return 0;
    char *a = aligned_alloc(4096, 100);
    for (int i = 0; i < n; i += 2)
        free(blocks[i]);
    if (a == NULL)
        a = aligned_alloc(4096, 100);
    if (a == NULL || ((uintptr_t)a & 4095) != 0)
        return 0;
    unsigned char *c = calloc(100, 10);
    if (c == NULL)
        return 0;
    for (int i = 0; i < 1000; i++)
        if (c[i] != 0)
            return 0;
    memset(c, 7, 1000);
    c = realloc(c, 3000);
    if (c == NULL || c[999] != 7)
        return 0;
    free(c);
    free(a);
    for (int i = 1; i < n; i += 2)
        free(blocks[i]);
    return heap_free_bytes() == total && heap_check(NULL) == 1;
}

static int check_printf(void)
{
    char buf[128];
    int r = snprintf(buf, sizeof buf, "[%5d|%-5d|%05d|%x|%X|%c|%s|%%|%lld|%zu]", -42, 42, 42,
                     255, 255, 'x', "hi", -9223372036854775807LL - 1, (size_t)123);
    printf("printf: %s\n", buf);
    if (r != (int)strlen(buf))
        return 0;
    int t = snprintf(buf, 4, "%d", 123456); /* truncated, returns the full length */
    return t == 6 && strcmp(buf, "123") == 0;
}

int main(void)
{
    report("heap", check_heap());
    report("printf", check_printf());

    unsigned long long t0 = unilang_monotonic_ns();
    unilang_sleep_ns(1000000);
    unsigned long long t1 = unilang_monotonic_ns();
    report("clock: sleep 1 ms", t1 - t0 >= 1000000 && t1 - t0 < 1000000000ull);

    unsigned char r[64];
    memset(r, 0, sizeof r);
    int rc = unilang_random_bytes(r, sizeof r);
    int differ = 0;
    for (size_t i = 1; i < sizeof r; i++)
        differ |= r[i] != r[0];
    report("rng", rc == 0 && differ);

    const char *s = "unikernel";
    char d[16];
    report("string", strlen(s) == 9 && strnlen(s, 4) == 4 && strchr(s, 'k') == s + 3 &&
                         strrchr(s, 'e') == s + 7 && memchr(s, 'l', 9) == s + 8 &&
                         strcmp(strcpy(d, s), s) == 0 && strchr(s, '\0') == s + 9);
    return failures;
}
