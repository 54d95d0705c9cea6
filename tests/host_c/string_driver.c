/* Host driver for stdlib/lib/libc-string/src/string.c (UNILANG_STRING_PREFIX=s_):
 * compares every function with the host libc on many generated inputs.
 * Prints "BAD ..." lines and "checked N". */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wstringop-truncation"

void *s_memcpy(void *restrict d, const void *restrict s, size_t n);
void *s_memmove(void *d, const void *s, size_t n);
void *s_memset(void *d, int c, size_t n);
int s_memcmp(const void *a, const void *b, size_t n);
void *s_memchr(const void *s, int c, size_t n);
size_t s_strlen(const char *s);
size_t s_strnlen(const char *s, size_t n);
int s_strcmp(const char *a, const char *b);
int s_strncmp(const char *a, const char *b, size_t n);
char *s_strchr(const char *s, int c);
char *s_strrchr(const char *s, int c);
char *s_strcpy(char *restrict d, const char *restrict s);
char *s_strncpy(char *restrict d, const char *restrict s, size_t n);

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (unsigned)(rs % n);
}
static int sign(int v)
{
    return (v > 0) - (v < 0);
}
static long checked;
#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        checked++;                                                                       \
        if (!(cond)) {                                                                   \
            printf("BAD " __VA_ARGS__);                                                  \
            printf("\n");                                                                \
        }                                                                                \
    } while (0)

/* random string over a small alphabet (so that matches happen), incl. bytes >= 0x80 */
static void rstr(char *s, size_t n)
{
    static const char alpha[] = "aab\x80\xff";
    for (size_t i = 0; i < n; i++)
        s[i] = alpha[rnd(sizeof alpha - 1)];
    s[n] = '\0';
}

int main(void)
{
    for (int iter = 0; iter < 20000; iter++) {
        char a[80], b[80], x[200], y[200];
        size_t na = rnd(40), nb = rnd(40);
        rstr(a, na);
        if (rnd(3) == 0) {
            memcpy(b, a, na + 1);
            if (na && rnd(2))
                b[rnd((unsigned)na)] ^= (char)(1 + rnd(255));
        } else {
            rstr(b, nb);
        }
        size_t n = rnd(45);
        int c = "ab\x80\xff\0z"[rnd(6)];

        CHECK(s_strlen(a) == strlen(a), "strlen");
        CHECK(s_strnlen(a, n) == strnlen(a, n), "strnlen %zu", n);
        CHECK(sign(s_strcmp(a, b)) == sign(strcmp(a, b)), "strcmp %s %s", a, b);
        CHECK(sign(s_strncmp(a, b, n)) == sign(strncmp(a, b, n)), "strncmp %zu", n);
        CHECK(sign(s_memcmp(a, b, na < nb ? na : nb)) == sign(memcmp(a, b, na < nb ? na : nb)),
              "memcmp");
        CHECK(s_strchr(a, c) == strchr(a, c), "strchr %d in %s", c, a);
        CHECK(s_strrchr(a, c) == strrchr(a, c), "strrchr %d in %s", c, a);
        CHECK(s_memchr(a, c, n < na ? n : na) == memchr(a, c, n < na ? n : na), "memchr");

        memset(x, '#', sizeof x);
        memset(y, '#', sizeof y);
        CHECK(s_strcpy(x + 1, a) == x + 1 && (strcpy(y + 1, a), memcmp(x, y, sizeof x) == 0),
              "strcpy");
        CHECK(s_strncpy(x + 3, a, n) == x + 3 && (strncpy(y + 3, a, n), memcmp(x, y, sizeof x) == 0),
              "strncpy %zu", n);
        memset(x, '#', sizeof x);
        memset(y, '#', sizeof y);
        size_t o = rnd(8);
        s_memset(x + o, c, n);
        memset(y + o, c, n);
        CHECK(memcmp(x, y, sizeof x) == 0, "memset %zu %zu", o, n);

        /* memcpy, and memmove with overlap in both directions */
        for (size_t i = 0; i < sizeof x; i++)
            x[i] = y[i] = (char)rnd(256);
        size_t so = rnd(100), dof = rnd(100), m = rnd(90);
        CHECK(s_memmove(x + dof, x + so, m) == x + dof &&
                  (memmove(y + dof, y + so, m), memcmp(x, y, sizeof x) == 0),
              "memmove %zu->%zu %zu", so, dof, m);
        CHECK(s_memcpy(x + 100, y, m) == x + 100 && memcmp(x + 100, y, m) == 0, "memcpy");
    }
    printf("checked %ld\n", checked);
    return 0;
}
