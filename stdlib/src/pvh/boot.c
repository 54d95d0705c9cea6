/* First C code after pvh_entry.S: run the init table, then main(). */
#include <unilang/runtime.h>

/* Bracketing symbols from the linker script; between them one pointer per
 * library with an init function, in the order the compiler chose. */
extern const unilang_init_fn __unilang_init_start[];
extern const unilang_init_fn __unilang_init_end[];

unsigned long long unilang_tsc_main;

int main(void);
_Noreturn void unilang_boot_main(void);

_Noreturn void unilang_boot_main(void)
{
    const unilang_init_fn *p = __unilang_init_start;
    const unilang_init_fn *end = __unilang_init_end;

    /* Hide the provenance of the two distinct linker symbols from the
     * optimiser (comparing pointers to different objects). */
    __asm__("" : "+r"(p));
    __asm__("" : "+r"(end));
    (void)unilang_tsc_entry;
    for (; p < end; ++p) {
        if (*p != NULL)
            (*p)();
    }
    unilang_tsc_main = unilang_rdtsc();
    unilang_shutdown(main());
}
