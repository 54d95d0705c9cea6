/* unilang core interfaces: what every build sees (stdlib/include/unilang/).
 *
 * The constructs every image has, whichever libraries provide them: the
 * console (`console`), shutdown (`shutdown`) and the boot state and init table
 * (`boot`, library pvh), plus the PVH start info the boot loader passes.
 * A library's own API is in its folder's include/ (stdlib/lib/<name>/include),
 * visible only to builds that select it.  Only <stdint.h> and <stddef.h> are
 * used. */
#ifndef UNILANG_CORE_H
#define UNILANG_CORE_H

#include <stddef.h>
#include <stdint.h>

/* ---- console / shutdown (provided by the selected backend) ---- */

/* Write n bytes; the backend decides the device (COM1 UART, port 0xE9 ...). */
void unilang_console_write(const char *s, unsigned long n);
/* End the guest with an exit code (backend specific; never returns). */
_Noreturn void unilang_shutdown(int code);

/* ---- boot state (library pvh: pvh_entry.S / boot.c) ---- */

extern unsigned long long unilang_tsc_entry; /* TSC at the first instruction */
extern unsigned long long unilang_tsc_main;  /* TSC just before main() */
extern unsigned long long unilang_start_info; /* phys addr of hvm_start_info */

/* Identity map the device registers in [lo, hi) (below 4 GiB), uncached, where
 * boot left them unmapped (a CPU without 1 GiB pages maps only RAM). */
void unilang_map_mmio(uint64_t lo, uint64_t hi);

/* Init table entries (see the linker script): one pointer per library,
 * placed by generated code in section ".unilang_init.<lib>". */
typedef void (*unilang_init_fn)(void);

/* ---- PVH start info (Xen public/arch-x86/hvm/start_info.h) ---- */
#define HVM_START_MAGIC_VALUE 0x336ec578u
#define HVM_MEMMAP_TYPE_RAM 1u

struct hvm_start_info {
    uint32_t magic;          /*  0: HVM_START_MAGIC_VALUE */
    uint32_t version;        /*  4: 1 has the memory map */
    uint32_t flags;          /*  8 */
    uint32_t nr_modules;     /* 12 */
    uint64_t modlist_paddr;  /* 16 */
    uint64_t cmdline_paddr;  /* 24 */
    uint64_t rsdp_paddr;     /* 32 */
    uint64_t memmap_paddr;   /* 40 (version >= 1) */
    uint32_t memmap_entries; /* 48 (version >= 1) */
    uint32_t reserved;       /* 52 */
};

struct hvm_modlist_entry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};

struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "hvm_start_info layout");
_Static_assert(offsetof(struct hvm_start_info, memmap_entries) == 48, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist entry layout");

/* NULL when the boot loader did not pass a valid start info. The first
 * 4 GiB are identity mapped, so physical addresses are usable pointers. */
static inline const struct hvm_start_info *unilang_get_start_info(void)
{
    const struct hvm_start_info *si =
        (const struct hvm_start_info *)(uintptr_t)unilang_start_info;
    if (si == NULL || si->magic != HVM_START_MAGIC_VALUE)
        return NULL;
    return si;
}

#endif /* UNILANG_CORE_H */
