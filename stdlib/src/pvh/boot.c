/* First C code after pvh_entry.S: run the init table, then main(). */
#include <unilang/runtime.h>

/* Bracketing symbols from the linker script; between them one pointer per
 * library with an init function, in the order the compiler chose. */
extern const unilang_init_fn __unilang_init_start[];
extern const unilang_init_fn __unilang_init_end[];

unsigned long long unilang_tsc_main;

/* Page tables from pvh_entry.S: either all of 0..4 GiB is mapped by 1 GiB
 * pages, or the PDPT points at four page directories of 2 MiB pages of
 * which only 0..__image_end is filled.  Then the rest of the first GiB is
 * mapped here, in 64-bit code, before anything reads the loader's start
 * info (which may lie above the image), and 1..4 GiB only when the memory
 * map has RAM above 1 GiB. */
extern uint64_t unilang_boot_pd[4 * 512];
extern uint64_t unilang_boot_gib_pages;

#define GIB (1ULL << 30)

static int ram_above_1gib(void)
{
    const struct hvm_start_info *si = unilang_get_start_info();
    if (si == NULL || si->version < 1 || si->memmap_paddr == 0)
        return 1; /* no map: be safe, map everything */
    const struct hvm_memmap_table_entry *e =
        (const struct hvm_memmap_table_entry *)(uintptr_t)si->memmap_paddr;
    for (uint32_t i = 0; i < si->memmap_entries; i++)
        if (e[i].type == HVM_MEMMAP_TYPE_RAM && e[i].addr + e[i].size > GIB)
            return 1;
    return 0;
}

static void fill_pd(uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++)
        unilang_boot_pd[i] = (i << 21) | 0xe3; /* P W A D PS */
}

static void map_memory(void)
{
    if (unilang_boot_gib_pages)
        return;
    fill_pd(0, 512); /* rewrites the entries already in use with the same values */
    if (ram_above_1gib())
        fill_pd(512, 4 * 512);
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

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
    map_memory();
    for (; p < end; ++p) {
        if (*p != NULL)
            (*p)();
    }
    unilang_tsc_main = unilang_rdtsc();
    unilang_shutdown(main());
}
