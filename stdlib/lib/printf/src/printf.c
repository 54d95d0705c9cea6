/* Small printf family.  Pure C, no asm: it also builds on the host.
 *
 * Host tests compile it with -DUNILANG_FMT_PREFIX=xyz_ to get xyz_snprintf,
 * xyz_vsnprintf, xyz_printf, ... instead of the libc names, and provide
 * unilang_console_write themselves.  Without the macro the standard names
 * are defined and <stdio.h> (ours) is checked against them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h> /* strnlen, strlen: the printf library requires `string` */

#ifndef UNILANG_FMT_PREFIX
#include <stdio.h>
#define UNILANG_FMT_PREFIX
#endif

#define UFMT_CAT2(a, b) a##b
#define UFMT_CAT(a, b) UFMT_CAT2(a, b)
#define UFMT(name) UFMT_CAT(UNILANG_FMT_PREFIX, name)

void unilang_console_write(const char *s, unsigned long n);

/* Output sink: a bounded buffer, flushed to the console when `console`. */
struct sink {
    char *buf;
    size_t cap;   /* bytes available in buf (incl. room for NUL if string) */
    size_t len;   /* bytes stored in buf */
    size_t total; /* bytes produced */
    int console;
};

static void sink_flush(struct sink *s)
{
    if (s->console && s->len) {
        unilang_console_write(s->buf, s->len);
        s->len = 0;
    }
}

static void sink_put(struct sink *s, char c)
{
    if (s->console) {
        if (s->len == s->cap)
            sink_flush(s);
        s->buf[s->len++] = c;
    } else if (s->len + 1 < s->cap) {
        s->buf[s->len++] = c;
    }
    s->total++;
}

/* The literal characters from p up to the next '%' or the end, into the
 * sink; returns where they end.  One tight loop per run rather than a
 * sink_put call per character: where a hypervisor emulates every guest
 * instruction (PVM, docs/network.md) a line of text cost ~30 a character. */
static const char *sink_literal(struct sink *s, const char *p)
{
    const char *start = p;
    if (s->console) {
        for (;;) {
            /* locals: a char store may alias the sink's fields */
            char *buf = s->buf;
            size_t len = s->len, cap = s->cap;
            while (len < cap && *p != '%' && *p != '\0')
                buf[len++] = *p++;
            s->len = len;
            if (*p == '%' || *p == '\0')
                break;
            sink_flush(s);
        }
    } else {
        char *buf = s->buf;
        size_t len = s->len, room = s->cap > len + 1 ? s->cap - len - 1 : 0;
        for (; *p != '%' && *p != '\0'; ++p) {
            if (room) {
                buf[len++] = *p;
                --room;
            }
        }
        s->len = len;
    }
    s->total += (size_t)(p - start);
    return p;
}

static void sink_pad(struct sink *s, char c, int n)
{
    while (n-- > 0)
        sink_put(s, c);
}

static void fmt_core(struct sink *s, const char *fmt, va_list ap)
{
    static const char lower[] = "0123456789abcdef";
    static const char upper[] = "0123456789ABCDEF";

    for (; *fmt; ++fmt) {
        if (*fmt != '%') {
            fmt = sink_literal(s, fmt) - 1;
            continue;
        }
        const char *start = fmt++;
        int left = 0, zero = 0, width = 0, prec = -1, lng = 0;

        for (;; ++fmt) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '0')
                zero = 1;
            else
                break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = 1;
                width = -width;
            }
            ++fmt;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            ++fmt;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                ++fmt;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
            }
        }
        if (*fmt == 'l') {
            lng = 1;
            if (*++fmt == 'l') {
                lng = 2;
                ++fmt;
            }
        } else if (*fmt == 'z') {
            lng = 3;
            ++fmt;
        }
        if (left)
            zero = 0;

        char tmp[24];
        const char *str = tmp;
        int n = 0, neg = 0, is_ptr = 0;
        uint64_t u = 0;
        unsigned base = 10;
        const char *digits = lower;

        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v;
            if (lng == 2)
                v = va_arg(ap, long long);
            else if (lng == 1)
                v = va_arg(ap, long);
            else if (lng == 3)
                v = (int64_t)va_arg(ap, size_t); /* ssize_t-sized */
            else
                v = va_arg(ap, int);
            neg = v < 0;
            u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            goto number;
        }
        case 'u':
        case 'x':
        case 'X':
            if (lng == 2)
                u = va_arg(ap, unsigned long long);
            else if (lng == 1)
                u = va_arg(ap, unsigned long);
            else if (lng == 3)
                u = va_arg(ap, size_t);
            else
                u = va_arg(ap, unsigned int);
            if (*fmt != 'u')
                base = 16;
            if (*fmt == 'X')
                digits = upper;
            goto number;
        case 'p':
            u = (uint64_t)(uintptr_t)va_arg(ap, void *);
            base = 16;
            is_ptr = 1;
        number: {
            char *e = tmp + sizeof(tmp);
            char *p = e;
            do {
                *--p = digits[u % base];
                u /= base;
            } while (u);
            str = p;
            n = (int)(e - p);
            int extra = neg + 2 * is_ptr;
            int pad = width > n + extra ? width - n - extra : 0;
            if (!left && !zero)
                sink_pad(s, ' ', pad);
            if (neg)
                sink_put(s, '-');
            if (is_ptr) {
                sink_put(s, '0');
                sink_put(s, 'x');
            }
            if (zero)
                sink_pad(s, '0', pad);
            while (n--)
                sink_put(s, *str++);
            if (left)
                sink_pad(s, ' ', pad);
            continue;
        }
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            n = 1;
            break;
        case 's':
            str = va_arg(ap, const char *);
            if (str == NULL)
                str = "(null)";
            n = (int)strnlen(str, prec < 0 ? (size_t)INT32_MAX : (size_t)prec);
            break;
        case '%':
            sink_put(s, '%');
            continue;
        default: /* unknown or truncated: copy the directive verbatim */
            for (; start <= fmt && *start; ++start)
                sink_put(s, *start);
            if (*fmt == '\0')
                return;
            continue;
        }
        /* %c and %s: space padding only */
        int pad = width > n ? width - n : 0;
        if (!left)
            sink_pad(s, ' ', pad);
        while (n--)
            sink_put(s, *str++);
        if (left)
            sink_pad(s, ' ', pad);
    }
}

int UFMT(vsnprintf)(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    struct sink s = {buf, size, 0, 0, 0};

    fmt_core(&s, fmt, ap);
    if (size)
        buf[s.len] = '\0';
    return (int)s.total;
}

int UFMT(snprintf)(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = UFMT(vsnprintf)(buf, size, fmt, ap);
    va_end(ap);
    return r;
}

int UFMT(vprintf)(const char *restrict fmt, va_list ap)
{
    char buf[128];
    struct sink s = {buf, sizeof(buf), 0, 0, 1};

    fmt_core(&s, fmt, ap);
    sink_flush(&s);
    return (int)s.total;
}

int UFMT(printf)(const char *restrict fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = UFMT(vprintf)(fmt, ap);
    va_end(ap);
    return r;
}

int UFMT(putchar)(int c)
{
    char ch = (char)c;

    unilang_console_write(&ch, 1);
    return (unsigned char)ch;
}

int UFMT(puts)(const char *s)
{
    unilang_console_write(s, strlen(s));
    unilang_console_write("\n", 1);
    return 1;
}
