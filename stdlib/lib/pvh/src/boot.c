/* First C code after pvh_entry.S: run the init table, then main(). */
#include <unilang/runtime.h>

#include "pvh_private.h"

/* Bracketing symbols from the linker script; between them one pointer per
 * library with an init function, in the order the compiler chose. */
extern const unilang_init_fn __unilang_init_start[];
extern const unilang_init_fn __unilang_init_end[];

unsigned long long unilang_tsc_main;

int main(void);
_Noreturn void unilang_boot_main(void);

/* The exit code travels through QEMU's isa-debug-exit as (code << 1) | 1 in an
 * 8-bit process status: only 0..127 survive.  Another return value of main is
 * reported on the console (when the image has one) and becomes 127
 * (UNILANG_EXIT_OUT_OF_RANGE), documented in docs/cli.md. */
#define UNILANG_EXIT_MAX 127
#define UNILANG_EXIT_OUT_OF_RANGE 127

/* Weak: an image without a console still links (the address is then null). */
extern void unilang_console_write(const char *s, unsigned long n) __attribute__((weak));

static void console_str(const char *s)
{
    unsigned long n = 0;

    while (s[n])
        n++;
    unilang_console_write(s, n);
}

static int exit_code(int rc)
{
    if (rc >= 0 && rc <= UNILANG_EXIT_MAX)
        return rc;
    if (unilang_console_write) {
        char buf[12];
        int i = sizeof(buf);
        unsigned u = rc < 0 ? 0u - (unsigned)rc : (unsigned)rc;

        buf[--i] = '\0';
        do {
            buf[--i] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (rc < 0)
            buf[--i] = '-';
        console_str("unilang: main returned ");
        console_str(&buf[i]);
        console_str(", outside 0..127; exiting with 127\n");
    }
    return UNILANG_EXIT_OUT_OF_RANGE;
}

_Noreturn void unilang_boot_main(void)
{
    const unilang_init_fn *p = __unilang_init_start;
    const unilang_init_fn *end = __unilang_init_end;

    /* Hide the provenance of the two distinct linker symbols from the
     * optimiser (comparing pointers to different objects). */
    __asm__("" : "+r"(p));
    __asm__("" : "+r"(end));
    (void)unilang_tsc_entry;
    unilang_protect(); /* page tables, IDT: before anything else */
    for (; p < end; ++p) {
        if (*p != NULL)
            (*p)();
    }
    unilang_tsc_main = unilang_rdtsc();
    unilang_shutdown(exit_code(main()));
}
