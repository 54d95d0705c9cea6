/* First C code after pvh_entry.S: run the init table, then main(). */
#include <unilang/runtime.h>

/* Bracketing symbols from the linker script; between them one pointer per
 * library with an init function, in the order the compiler chose. */
extern const unilang_init_fn __unilang_init_start[];
extern const unilang_init_fn __unilang_init_end[];

unsigned long long unilang_tsc_main;

/* Page tables from pvh_entry.S: either all of 0..4 GiB is mapped by 1 GiB
 * pages, or the PDPT points at four page directories of 2 MiB pages (entry
 * i maps i * 2 MiB) of which only 0..__image_end is filled.  In that case
 * this maps what is there, from 64-bit code, before anything else reads
 * it: the loader's start info, memory map, command line and module list,
 * and every RAM and ACPI range of the memory map below 4 GiB.
 *
 * Not simply all of 0..4 GiB, nor all of the first GiB: on the nested KVM
 * this project measures on, a guest runs at about a microsecond per
 * instruction, and filling the 512 entries of the first GiB took 3-8 ms;
 * the RAM of a 16 MiB guest is 8 entries.  Only not-present entries become
 * present, which needs no TLB flush.  (Issue 13's W^X page tables, built
 * from the segments, belong here too.) */
extern uint64_t unilang_boot_pd[4 * 512];
extern uint64_t unilang_boot_gib_pages;

#define GIB (1ULL << 30)
#define HVM_MEMMAP_TYPE_ACPI 3u
#define HVM_MEMMAP_TYPE_NVS 4u

/* Identity map [lo, hi) with 2 MiB pages, clipped to 4 GiB. */
static void map_range(uint64_t lo, uint64_t hi)
{
    if (hi > 4 * GIB)
        hi = 4 * GIB;
    for (uint64_t i = lo >> 21; (i << 21) < hi; i++)
        unilang_boot_pd[i] = (i << 21) | 0xe3; /* P W A D PS */
    __asm__ volatile("" : : : "memory"); /* mapped before anything reads through it */
}

void unilang_map_mmio(uint64_t lo, uint64_t hi)
{
    if (unilang_boot_gib_pages || lo >= hi || lo >= 4 * GIB)
        return; /* 1 GiB pages already map all of 0..4 GiB */
    if (hi > 4 * GIB)
        hi = 4 * GIB;
    /* Only entries that are not present yet: never remap RAM.  A not-present
     * translation is never cached, so no TLB flush is needed. */
    for (uint64_t i = lo >> 21; (i << 21) < hi; i++)
        if (!(unilang_boot_pd[i] & 1))
            unilang_boot_pd[i] = (i << 21) | 0xfb; /* P W PWT PCD A D PS: uncached */
    __asm__ volatile("" : : : "memory");
}

static void map_memory(void)
{
    if (unilang_boot_gib_pages)
        return;
    map_range(unilang_start_info, unilang_start_info + sizeof(struct hvm_start_info));
    const struct hvm_start_info *si = unilang_get_start_info();
    if (si == NULL || si->version < 1 || si->memmap_paddr == 0) {
        map_range(0, 4 * GIB); /* no memory map: be safe, map everything */
        return;
    }
    const struct hvm_memmap_table_entry *e =
        (const struct hvm_memmap_table_entry *)(uintptr_t)si->memmap_paddr;
    map_range(si->memmap_paddr, si->memmap_paddr + (uint64_t)si->memmap_entries * sizeof(*e));
    if (si->cmdline_paddr != 0)
        map_range(si->cmdline_paddr, si->cmdline_paddr + 1);
    if (si->modlist_paddr != 0)
        map_range(si->modlist_paddr, si->modlist_paddr +
                  (uint64_t)si->nr_modules * sizeof(struct hvm_modlist_entry));
    for (uint32_t i = 0; i < si->memmap_entries; i++)
        if (e[i].type == HVM_MEMMAP_TYPE_RAM || e[i].type == HVM_MEMMAP_TYPE_ACPI ||
            e[i].type == HVM_MEMMAP_TYPE_NVS)
            map_range(e[i].addr, e[i].addr + e[i].size);
}

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
    map_memory();
    for (; p < end; ++p) {
        if (*p != NULL)
            (*p)();
    }
    unilang_tsc_main = unilang_rdtsc();
    unilang_shutdown(exit_code(main()));
}
