/* Shared between the pvh library's sources; not part of its interface. */
#ifndef UNILANG_PVH_PRIVATE_H
#define UNILANG_PVH_PRIVATE_H

#include <stdint.h>

/* Exit code of the shutdown after a CPU fault (documented in docs/build.md,
 * "Memory protection and fault reports"). */
#define UNILANG_EXIT_FAULT 125

/* Page-aligned boundaries from the linker script (pvh-image.lds.j2). */
extern char __image_start[], __rodata_start[], __stack_guard[], __stack_bottom[],
    __stack_end[], __bss_start[], __image_end[], __heap_floor[],
    __sealed_start[], __sealed_end[];
/* pvh_entry.S */
extern char unilang_boot_stack_top[], unilang_fault_stack_top[];

/* protect.c: the final page tables (W^X, guard page, page 0 unmapped); the
 * TSS with the double-fault stack; the IDT. Called first thing in 64-bit C. */
void unilang_protect(void);

#endif
