/* Touch RAM above 1 GiB: the first and the last word of every RAM range of
 * the memory map that lies between 1 GiB and 4 GiB.  An unmapped address
 * faults, and without an IDT the guest resets: no "ok" line, no exit code.
 * The 3 MiB .bss buffer makes the image span three 2 MiB pages, all of
 * which the 32-bit entry must map: pvh_entry.S zeroes .bss before boot.c
 * maps anything else. */
#include <unilang/runtime.h>

#define GIB (1ULL << 30)

static unsigned char big[3 << 20];

static int touch(uint64_t addr)
{
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)addr;
    *p = addr ^ 0x5a5a5a5a5a5a5a5aULL;
    return *p == (addr ^ 0x5a5a5a5a5a5a5a5aULL);
}

int main(void)
{
    const struct hvm_start_info *si = unilang_get_start_info();
    if (si == NULL || si->memmap_paddr == 0) {
        unilang_puts("himem: no memory map");
        return 1;
    }
    const struct hvm_memmap_table_entry *e =
        (const struct hvm_memmap_table_entry *)(uintptr_t)si->memmap_paddr;
    big[sizeof big - 1] = 1;
    if (big[0] != 0 || big[sizeof big - 1] != 1) {
        unilang_puts("himem: .bss is not zero");
        return 1;
    }
    int touched = 0;
    for (uint32_t i = 0; i < si->memmap_entries; i++) {
        if (e[i].type != HVM_MEMMAP_TYPE_RAM)
            continue;
        uint64_t lo = e[i].addr < GIB ? GIB : e[i].addr;
        uint64_t hi = e[i].addr + e[i].size;
        if (hi > 4 * GIB)
            hi = 4 * GIB;
        if (lo + 8 > hi)
            continue;
        if (!touch(lo) || !touch(hi - 8)) {
            unilang_puts("himem: read back a different value");
            return 1;
        }
        touched++;
    }
    unilang_puts(touched ? "himem: ok" : "himem: no RAM above 1 GiB");
    return touched ? 0 : 1;
}
