/* Freestanding string functions.  GCC emits calls to memcpy/memset/memmove/
 * memcmp even with -ffreestanding, so most images link this library.
 * "no-tree-loop-distribute-patterns" stops GCC from turning these very
 * loops back into calls to themselves. */
#include <stddef.h>
#include <stdint.h>

/* Host tests: -DUNILANG_STRING_PREFIX=xyz_ renames every function (xyz_memcpy,
 * ...) so that they can be compared with the host's libc in one program. */
#ifdef UNILANG_STRING_PREFIX
#define USTR_CAT2(a, b) a##b
#define USTR_CAT(a, b) USTR_CAT2(a, b)
#define memcpy USTR_CAT(UNILANG_STRING_PREFIX, memcpy)
#define memmove USTR_CAT(UNILANG_STRING_PREFIX, memmove)
#define memset USTR_CAT(UNILANG_STRING_PREFIX, memset)
#define memcmp USTR_CAT(UNILANG_STRING_PREFIX, memcmp)
#define memchr USTR_CAT(UNILANG_STRING_PREFIX, memchr)
#define strlen USTR_CAT(UNILANG_STRING_PREFIX, strlen)
#define strnlen USTR_CAT(UNILANG_STRING_PREFIX, strnlen)
#define strcmp USTR_CAT(UNILANG_STRING_PREFIX, strcmp)
#define strncmp USTR_CAT(UNILANG_STRING_PREFIX, strncmp)
#define strchr USTR_CAT(UNILANG_STRING_PREFIX, strchr)
#define strrchr USTR_CAT(UNILANG_STRING_PREFIX, strrchr)
#define strcpy USTR_CAT(UNILANG_STRING_PREFIX, strcpy)
#define strncpy USTR_CAT(UNILANG_STRING_PREFIX, strncpy)
#else
#include <string.h>
#endif

#define UNILANG_STRING_FN __attribute__((optimize("no-tree-loop-distribute-patterns")))

UNILANG_STRING_FN void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    while (n--)
        *d++ = *s++;
    return dst;
}

UNILANG_STRING_FN void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if ((uintptr_t)d < (uintptr_t)s) {
        while (n--)
            *d++ = *s++;
    } else if ((uintptr_t)d > (uintptr_t)s) {
        d += n;
        s += n;
        while (n--)
            *--d = *--s;
    }
    return dst;
}

UNILANG_STRING_FN void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;

    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

UNILANG_STRING_FN int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;

    for (; n; --n, ++x, ++y) {
        if (*x != *y)
            return *x < *y ? -1 : 1;
    }
    return 0;
}

UNILANG_STRING_FN size_t strlen(const char *s)
{
    const char *p = s;

    while (*p)
        ++p;
    return (size_t)(p - s);
}

UNILANG_STRING_FN int strcmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    while (*x && *x == *y) {
        ++x;
        ++y;
    }
    return (*x > *y) - (*x < *y);
}

UNILANG_STRING_FN int strncmp(const char *a, const char *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    for (; n; --n, ++x, ++y) {
        if (*x != *y)
            return *x < *y ? -1 : 1;
        if (*x == '\0')
            break;
    }
    return 0;
}

UNILANG_STRING_FN char *strncpy(char *restrict dst, const char *restrict src, size_t n)
{
    size_t i = 0;

    for (; i < n && src[i] != '\0'; ++i)
        dst[i] = src[i];
    for (; i < n; ++i)
        dst[i] = '\0';
    return dst;
}

UNILANG_STRING_FN void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;

    for (; n; --n, ++p) {
        if (*p == (unsigned char)c)
            return (void *)(uintptr_t)p;
    }
    return NULL;
}

UNILANG_STRING_FN size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;

    while (n < max && s[n] != '\0')
        ++n;
    return n;
}

/* strchr(s, '\0') finds the terminator, as the standard says. */
UNILANG_STRING_FN char *strchr(const char *s, int c)
{
    for (;; ++s) {
        if (*s == (char)c)
            return (char *)(uintptr_t)s;
        if (*s == '\0')
            return NULL;
    }
}

UNILANG_STRING_FN char *strrchr(const char *s, int c)
{
    const char *last = NULL;

    for (;; ++s) {
        if (*s == (char)c)
            last = s;
        if (*s == '\0')
            return (char *)(uintptr_t)last;
    }
}

UNILANG_STRING_FN char *strcpy(char *restrict dst, const char *restrict src)
{
    char *d = dst;

    while ((*d++ = *src++) != '\0')
        ;
    return dst;
}
