/* Host driver for stdlib/lib/printf/src/printf.c (compiled with UNILANG_FMT_PREFIX=u_):
 * compares u_snprintf with the host's snprintf.
 *   - a fixed table of string, char, pointer and mixed formats;
 *   - lines on stdin "FORMAT<TAB>VALUE" for one integer conversion, the
 *     value passed as the type the length modifier names.
 * Every comparison is done at several buffer sizes (return value and bytes).
 * Prints "MISMATCH ..." lines and finally "checked N". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int u_vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap);
int u_snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...);
int u_printf(const char *restrict fmt, ...);

static char console[4096];
static size_t console_len;
void unilang_console_write(const char *s, unsigned long n)
{
    if (console_len + n < sizeof console) {
        memcpy(console + console_len, s, n);
        console_len += n;
    }
}

static long checked;

static void compare(const char *fmt, ...)
{
    static const size_t sizes[] = {0, 1, 2, 3, 7, 16, 300};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char a[300], b[300];
        va_list ap, aq;
        memset(a, '#', sizeof a);
        memset(b, '#', sizeof b);
        va_start(ap, fmt);
        va_copy(aq, ap);
        int ra = u_vsnprintf(a, sizes[k], fmt, ap);
        int rb = vsnprintf(b, sizes[k], fmt, aq);
        va_end(aq);
        va_end(ap);
        checked++;
        if (ra != rb || memcmp(a, b, sizeof a) != 0)
            printf("MISMATCH fmt=\"%s\" size=%zu ours=%d \"%.*s\" host=%d \"%.*s\"\n", fmt,
                   sizes[k], ra, ra < 0 ? 0 : (int)(ra < 299 ? ra : 299), a, rb,
                   rb < 0 ? 0 : (int)(rb < 299 ? rb : 299), b);
    }
}

#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat"

static void table(void)
{
    int x = 5;
    compare("");
    compare("plain text");
    compare("100%%");
    compare("%%%d%%", 7);
    compare("%s", "");
    compare("%s", "hello");
    compare("%10s|", "hello");
    compare("%-10s|", "hello");
    compare("%3s|", "toolong");
    compare("%.3s|", "toolong");
    compare("%.0s|", "toolong");
    compare("%8.3s|", "toolong");
    compare("%-8.3s|", "toolong");
    compare("%.*s|", 2, "toolong");
    compare("%*s|", 6, "ab");
    compare("%*s|", -6, "ab");
    compare("%-*s|", 6, "ab");
    compare("%c", 'a');
    compare("%3c|", 'a');
    compare("%-3c|", 'a');
    compare("%c%c%c", 'x', 'y', 'z');
    compare("%p", (void *)&x);
    compare("%p", (void *)(uintptr_t)0x1000);
    compare("%20p|", (void *)(uintptr_t)0xdeadbeef);
    compare("%-20p|", (void *)(uintptr_t)0xdeadbeef);
    compare("%s=%d, %s=%u, %x%X", "a", -1, "b", 4000000000u, 0xabcu, 0xabcu);
    compare("%5s|%-5d|%05u|%lx|%lld|%zu", "k", 12, 34u, 0x1234567890abcdeful,
            -1234567890123ll, (size_t)99);
    compare("[%d] [%i] [%u]", 0, 0, 0u);
    compare("%*d|%-*d|%0*d", 5, 42, 5, 42, 5, 42);
    compare("%*d|", -5, 42);
}

/* Integer conversion from a "FORMAT\tVALUE" line: the conversion is the last
 * character of FORMAT, the length modifier the letters before it. */
static void one(const char *fmt, const char *value)
{
    size_t n = strlen(fmt);
    char conv = fmt[n - 1];
    int is_signed = conv == 'd' || conv == 'i';
    int ll = n >= 3 && fmt[n - 2] == 'l' && fmt[n - 3] == 'l';
    int l = !ll && fmt[n - 2] == 'l';
    int z = fmt[n - 2] == 'z';
    long long sv = strtoll(value, NULL, 0);
    unsigned long long uv = strtoull(value, NULL, 0);

    if (is_signed) {
        if (ll)
            compare(fmt, sv);
        else if (l)
            compare(fmt, (long)sv);
        else if (z)
            compare(fmt, (ptrdiff_t)sv); /* %zd: the signed type of size_t's size */
        else
            compare(fmt, (int)sv);
    } else {
        if (ll)
            compare(fmt, uv);
        else if (l)
            compare(fmt, (unsigned long)uv);
        else if (z)
            compare(fmt, (size_t)uv);
        else
            compare(fmt, (unsigned)uv);
    }
}

int main(void)
{
    char line[512];

    table();
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (tab == NULL)
            continue;
        *tab = '\0';
        one(line, tab + 1);
    }
    /* printf goes to the console in chunks */
    console_len = 0;
    int r = u_printf("%s %d %0300d|", "console", -5, 7);
    char want[400];
    int w = snprintf(want, sizeof want, "%s %d %0300d|", "console", -5, 7);
    checked++;
    if (r != w || console_len != (size_t)w || memcmp(console, want, (size_t)w) != 0)
        printf("MISMATCH printf to console: %d vs %d\n", r, w);
    /* literal runs longer than the 128-byte console buffer, around a directive */
    static const char lit[] =
        "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghij"
        "%d klmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopq"
        "rstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz|";
    console_len = 0;
    r = u_printf(lit, 42);
    w = snprintf(want, sizeof want, lit, 42);
    checked++;
    if (r != w || console_len != (size_t)w || memcmp(console, want, (size_t)w) != 0)
        printf("MISMATCH long literal to console: %d vs %d\n", r, w);
    printf("checked %ld\n", checked);
    return 0;
}
