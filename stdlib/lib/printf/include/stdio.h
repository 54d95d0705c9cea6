/* unilang freestanding <stdio.h> subset (library printf, stdlib/lib/printf).
 * Conversions: %d %i %u %x %X %s %c %p %%; length l, ll, z; flags '-' '0';
 * field width (number or '*'); precision ".N" / ".*" for %s only. */
#ifndef UNILANG_STDIO_H
#define UNILANG_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap);
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vprintf(const char *restrict fmt, va_list ap);
int printf(const char *restrict fmt, ...) __attribute__((format(printf, 1, 2)));
int putchar(int c);
int puts(const char *s);

#endif
