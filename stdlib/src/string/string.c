/* Freestanding string functions.  GCC emits calls to memcpy/memset/memmove/
 * memcmp even with -ffreestanding, so most images link this library.
 * "no-tree-loop-distribute-patterns" stops GCC from turning these very
 * loops back into calls to themselves. */
#include <string.h>
#include <stdint.h>

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
