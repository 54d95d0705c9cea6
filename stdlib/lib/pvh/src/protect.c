/* Memory protection, set up first thing in 64-bit C (unilang_boot_main).
 *
 * Page tables.  pvh_entry.S leaves an identity map that is writable and
 * executable everywhere (1 GiB pages, or 2 MiB pages over the image).  This
 * replaces it, in place, with one built from the image's segments, using the
 * page-aligned symbols of the linker script:
 *
 *   0 .. 4 KiB                      not mapped (null pointers fault)
 *   4 KiB .. __image_start          not mapped, except the pages of the
 *                                   loader's start info, memory map, command
 *                                   line and module list: read-write, no-execute
 *   __image_start .. __rodata_start read + execute (headers and code)
 *   __rodata_start .. __stack_guard read-only, no-execute (rodata, the init
 *                                   table, the symbol table, the notes, the GDT)
 *   __stack_guard (4 KiB)           not mapped: the guard page below the stack
 *   __stack_bottom .. __image_end   read-write, no-execute (the stacks, .data,
 *                                   .bss with the page tables)
 *   __sealed_start .. __sealed_end  read-only, no-execute, 2 MiB pages (the
 *                                   sealed files of `files`, when there are any)
 *   __image_end .. __heap_floor     not mapped (the rest of the first 2 MiB)
 *   RAM from __heap_floor (2 MiB aligned) up, ACPI ranges: read-write,
 *                                   no-execute, 2 MiB pages (the heap's RAM)
 *   device memory (unilang_map_mmio) read-write, no-execute, uncached
 *
 * The first 2 MiB use one page table of 4 KiB pages (the linker script
 * asserts that code, rodata and the stacks end below 2 MiB); the rest of the
 * first GiB uses 2 MiB pages, and with 1 GiB pages 1..4 GiB stay 1 GiB pages,
 * now no-execute.  CR0.WP (set by pvh_entry.S) makes read-only pages hold for
 * this ring-0 code too; EFER.NXE (set there when CPUID 0x80000001 EDX bit 20
 * says the CPU has NX) makes the no-execute bit count.  Without NX the NX bit
 * is left out (it would be a reserved bit) and only write protection holds.
 *
 * Cost.  Only the image's pages (a few dozen) and the loader's few get 4 KiB
 * entries; the RAM gets one 2 MiB entry per 2 MiB (8 for 16 MiB); the TLB is
 * flushed once (CR3 reload) at the end.  Each page-table write is expensive
 * under nested KVM (tens of microseconds: a guest without EPT write-traps
 * its page tables), which is why the RAM below the heap floor is left
 * unmapped rather than filled page by page (bench/README.md).
 *
 * Faults.  A 64-bit TSS whose IST1 is the fault stack (pvh_entry.S, above the
 * boot stack), and an IDT whose 32 exception vectors go to fault_entry.S; the
 * double fault runs on IST1, so an overflow of the boot stack, whose fault
 * cannot be pushed on the overflowed stack, is still reported (fault.c). */
#include <unilang/runtime.h>

/* Run once at boot: small beats unrolled (the loops are short). */
#pragma GCC optimize("Os", "no-tree-loop-distribute-patterns")

#include "pvh_private.h"

#define PTE_P 0x001ull
#define PTE_W 0x002ull
#define PTE_PWT 0x008ull
#define PTE_PCD 0x010ull
#define PTE_A 0x020ull
#define PTE_D 0x040ull
#define PTE_PS 0x080ull
#define PTE_NX (1ull << 63)

#define PAGE 4096ull
#define MIB2 (1ull << 21)
#define GIB (1ull << 30)
#define HVM_MEMMAP_TYPE_ACPI 3u
#define HVM_MEMMAP_TYPE_NVS 4u

extern uint64_t unilang_boot_pdpt[512];
extern uint64_t unilang_boot_pd[4 * 512];
extern uint64_t unilang_boot_pt[512];
extern uint64_t unilang_boot_gib_pages;
extern uint64_t unilang_boot_ext_edx;
extern uint64_t unilang_gdt[5];
extern char unilang_fault_stubs[]; /* fault_entry.S: 32 stubs, 8 bytes apart */

static uint64_t nx_bit; /* PTE_NX when the CPU has NX, else 0 */

/* The highest address the page directories map: with 1 GiB pages, 1..4 GiB
 * are 1 GiB pages and only the first GiB goes through unilang_boot_pd. */
static uint64_t pd_limit(void)
{
    return unilang_boot_gib_pages ? GIB : 4 * GIB;
}

/* Identity map [lo, hi) read-write, no-execute with 2 MiB pages, above the
 * first 2 MiB (which the page table maps). */
static void map_range(uint64_t lo, uint64_t hi)
{
    uint64_t i = lo >> 21;

    if (hi > pd_limit())
        hi = pd_limit();
    if (i == 0)
        i = 1;
    for (; (i << 21) < hi; i++)
        unilang_boot_pd[i] = (i << 21) | PTE_P | PTE_W | PTE_A | PTE_D | PTE_PS | nx_bit;
    __asm__ volatile("" : : : "memory"); /* mapped before anything reads through it */
}

/* Identity map [lo, hi) with 4 KiB pages of the first 2 MiB (never page 0). */
static void map_4k(uint64_t lo, uint64_t hi, uint64_t flags)
{
    if (hi > MIB2)
        hi = MIB2;
    lo &= ~(PAGE - 1);
    if (lo == 0)
        lo = PAGE;
    if (lo >= hi)
        return;
    /* A count and a running entry: five instructions a page (an image with
     * network buffers has a hundred pages, each instruction emulated under
     * PVM).  Adding PAGE never carries into the flags: entries stay below 2 MiB. */
    uint64_t *pte = &unilang_boot_pt[lo >> 12], e = lo | flags;
    for (uint64_t n = (hi - lo + PAGE - 1) / PAGE; n != 0; n--, e += PAGE)
        *pte++ = e;
}

/* [lo, hi) read-write, no-execute: 4 KiB pages below 2 MiB, 2 MiB above. */
static void map_data(uint64_t lo, uint64_t hi)
{
    map_4k(lo, hi, PTE_P | PTE_W | PTE_A | PTE_D | nx_bit);
    map_range(lo, hi);
}

void unilang_map_mmio(uint64_t lo, uint64_t hi)
{
    if (lo >= hi || lo >= pd_limit())
        return; /* 1 GiB pages already map 1..4 GiB (no-execute) */
    if (hi > pd_limit())
        hi = pd_limit();
    /* Only entries that are not present yet: never remap RAM.  A not-present
     * translation is never cached, so no TLB flush is needed. */
    for (uint64_t i = lo >> 21; (i << 21) < hi; i++)
        if (i != 0 && !(unilang_boot_pd[i] & PTE_P))
            unilang_boot_pd[i] = (i << 21) | PTE_P | PTE_W | PTE_PWT | PTE_PCD | PTE_A | PTE_D |
                                 PTE_PS | nx_bit; /* uncached */
    __asm__ volatile("" : : : "memory");
}

/* What the loader reports: the start info, memory map, command line and
 * module list (wherever they are), and every RAM and ACPI range below 4 GiB
 * from 2 MiB up (RAM below 2 MiB outside the image stays unmapped: the heap
 * starts at __heap_floor). */
static void map_memory(void)
{
    map_data(unilang_start_info, unilang_start_info + sizeof(struct hvm_start_info));
    const struct hvm_start_info *si = unilang_get_start_info();
    if (si == NULL || si->version < 1 || si->memmap_paddr == 0) {
        map_range(0, 4 * GIB); /* no memory map: be safe, map everything */
        return;
    }
    const struct hvm_memmap_table_entry *e =
        (const struct hvm_memmap_table_entry *)(uintptr_t)si->memmap_paddr;
    map_data(si->memmap_paddr, si->memmap_paddr + (uint64_t)si->memmap_entries * sizeof(*e));
    if (si->cmdline_paddr != 0)
        map_data(si->cmdline_paddr, si->cmdline_paddr + 1);
    if (si->modlist_paddr != 0)
        map_data(si->modlist_paddr, si->modlist_paddr +
                 (uint64_t)si->nr_modules * sizeof(struct hvm_modlist_entry));
    for (uint32_t i = 0; i < si->memmap_entries; i++)
        if (e[i].type == HVM_MEMMAP_TYPE_RAM || e[i].type == HVM_MEMMAP_TYPE_ACPI ||
            e[i].type == HVM_MEMMAP_TYPE_NVS)
            map_range(e[i].addr, e[i].addr + e[i].size);
}

/* The image's pages of the first 2 MiB, from its segments.  Every other
 * entry of the page table stays zero (the loader zeroes .bss): page 0, the
 * guard page, RAM nothing uses. */
static void map_image(void)
{
    map_4k((uintptr_t)__image_start, (uintptr_t)__rodata_start, PTE_P | PTE_A);
    map_4k((uintptr_t)__rodata_start, (uintptr_t)__stack_guard, PTE_P | PTE_A | nx_bit);
    map_4k((uintptr_t)__stack_bottom, (uintptr_t)__image_end,
           PTE_P | PTE_W | PTE_A | PTE_D | nx_bit);
}

/* The sealed files (`files`): read-only, no-execute, 2 MiB pages.  The linker
 * script aligns them to 2 MiB at both ends, above the first 2 MiB; after
 * map_memory(), which mapped that RAM read-write. */
static void map_sealed(void)
{
    uint64_t lo = (uintptr_t)__sealed_start, hi = (uintptr_t)__sealed_end;

    if (lo >= hi || (lo & (MIB2 - 1)))
        return; /* no sealed files (then both are the end of .bss) */
    if (hi > pd_limit())
        hi = pd_limit(); /* the linker script keeps the image below 3 GiB */
    for (uint64_t i = lo >> 21; i != 0 && (i << 21) < hi; i++)
        unilang_boot_pd[i] = (i << 21) | PTE_P | PTE_A | PTE_PS | nx_bit;
    __asm__ volatile("" : : : "memory");
}

/* 64-bit TSS: only IST1 is used (ring 0 only, no I/O bitmap). */
struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iopb;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "TSS layout");

static struct tss tss __attribute__((aligned(16)));
static uint64_t idt[32 * 2] __attribute__((aligned(16)));

#define TSS_SELECTOR 0x18
#define CODE_SELECTOR 0x08
#define VEC_DOUBLE_FAULT 8

static void set_up_faults(void)
{
    uint64_t base = (uintptr_t)&tss;
    uint64_t limit = sizeof(tss) - 1;

    tss.ist[0] = (uintptr_t)unilang_fault_stack_top;
    tss.iopb = sizeof(tss);
    /* available 64-bit TSS (type 9), present; written while the GDT's page is
     * still writable (the boot map), before ltr marks it busy */
    unilang_gdt[3] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
                     ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    unilang_gdt[4] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(TSS_SELECTOR) : "memory");

    /* Interrupt gates (type 14), present, DPL 0.  The stubs are 8 bytes apart
     * in one 256-byte aligned block below 4 GiB (fault_entry.S): gate v is
     * gate 0 plus 8 * v, and every high half stays zero (.bss). */
    uint64_t h = (uintptr_t)unilang_fault_stubs;
    uint64_t gate = (h & 0xffff) | (uint64_t)CODE_SELECTOR << 16 | 0x8eull << 40 |
                    ((h >> 16) & 0xffff) << 48;
    for (unsigned v = 0; v < 32; v++, gate += 8)
        idt[2 * v] = gate;
    idt[2 * VEC_DOUBLE_FAULT] |= 1ull << 32; /* IST1: the fault stack */
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = {sizeof(idt) - 1, (uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void unilang_protect(void)
{
    /* CPUID 0x80000001 EDX as pvh_entry.S read it (a cpuid is a VM exit) */
    if (unilang_boot_ext_edx & (1u << 20))
        nx_bit = PTE_NX; /* pvh_entry.S set EFER.NXE on the same test */
    set_up_faults(); /* writes the GDT: before it becomes read-only */

    map_image();
    unilang_boot_pd[0] = (uintptr_t)unilang_boot_pt | PTE_P | PTE_W | PTE_A;
    map_range(0, (uintptr_t)__image_end); /* .bss beyond 2 MiB: no-execute now */
    map_memory();
    map_sealed();
    if (unilang_boot_gib_pages) {
        unilang_boot_pdpt[0] = (uintptr_t)unilang_boot_pd | PTE_P | PTE_W | PTE_A;
        for (int i = 1; i < 4; i++)
            unilang_boot_pdpt[i] |= nx_bit;
    }
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0\n\tmov %0, %%cr3" : "=r"(cr3) : : "memory"); /* flush */
}
