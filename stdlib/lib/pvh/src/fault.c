/* The fault report: what the CPU faulted on, where, and in which function;
 * then shutdown with UNILANG_EXIT_FAULT (125).  Reached from fault_entry.S
 * through the IDT that protect.c builds.  The format is documented in
 * docs/build.md ("Memory protection and fault reports"):
 *
 *   unilang: fault: page fault: write to read-only memory at 0x100158 (text)
 *   unilang: fault: rip 0x10016a <main+0x12>
 *   unilang: fault: shutting down with exit code 125
 *
 * The nearest symbol comes from the table between __unilang_symtab_start and
 * __unilang_symtab_end that the build generates from a first link
 * (unilang/emit/symtab.py): a count, `count` pairs {address, name offset}
 * sorted by address (32-bit: the image lies below 3 GiB), then the names,
 * each NUL-terminated.  Everything read from it is bounds-checked.
 *
 * A stack overflow is a page fault in the guard page below the boot stack; as
 * the CPU cannot push the fault's frame on the overflowed stack, it arrives
 * as a double fault, on the fault stack (IST1).  It is reported as a stack
 * overflow when CR2 lies in the guard page or the interrupted RSP is below the
 * stack (a frame larger than the guard page lands in read-only data). */
#include <unilang/runtime.h>

/* Run once, at the end: small beats fast. */
#pragma GCC optimize("Os", "no-tree-loop-distribute-patterns")

#include "pvh_private.h"

struct unilang_fault_frame {
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

_Noreturn void unilang_fault(struct unilang_fault_frame *f);

extern const uint32_t __unilang_symtab_start[], __unilang_symtab_end[];
/* Weak: an image without a console still links (the address is then null). */
extern void unilang_console_write(const char *s, unsigned long n) __attribute__((weak));

#define PF_PRESENT 0x01u
#define PF_WRITE 0x02u
#define PF_RSVD 0x08u
#define PF_FETCH 0x10u

static void out(const char *s)
{
    unsigned long n = 0;

    while (s[n])
        n++;
    if (unilang_console_write)
        unilang_console_write(s, n);
}

static void out_hex(uint64_t v)
{
    char buf[19];
    int i = sizeof(buf);

    buf[--i] = '\0';
    do {
        buf[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    out(&buf[i]);
}

static void out_dec(unsigned v)
{
    char buf[12];
    int i = sizeof(buf);

    buf[--i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out(&buf[i]);
}

static int in_ram(uint64_t a)
{
    const struct hvm_start_info *si = unilang_get_start_info();

    if (si == NULL || si->version < 1 || si->memmap_paddr == 0)
        return 0;
    const struct hvm_memmap_table_entry *e =
        (const struct hvm_memmap_table_entry *)(uintptr_t)si->memmap_paddr;
    for (uint32_t i = 0; i < si->memmap_entries && i < 128; i++)
        if (e[i].type == HVM_MEMMAP_TYPE_RAM && e[i].addr <= a && a - e[i].addr < e[i].size)
            return 1;
    return 0;
}

/* The region of the memory map an address lies in (docs/build.md). */
static const char *region(uint64_t a)
{
    if (a < 4096)
        return "page 0";
    if (a < (uintptr_t)__image_start)
        return "low memory";
    if (a < (uintptr_t)__rodata_start)
        return "text";
    if (a < (uintptr_t)__stack_guard)
        return "read-only data";
    if (a < (uintptr_t)__stack_bottom)
        return "stack guard page";
    if (a < (uintptr_t)unilang_boot_stack_top)
        return "stack";
    if (a < (uintptr_t)unilang_fault_stack_top)
        return "fault stack";
    if (a < (uintptr_t)__bss_start)
        return "data";
    if (a < (uintptr_t)__image_end)
        return "bss";
    if (a < (uintptr_t)__heap_floor)
        return "unmapped RAM";
    if (in_ram(a)) {
#ifdef UNILANG_HAVE_HEAP
        return "heap";
#else
        return "RAM above the image";
#endif
    }
    return "not RAM";
}

/* The function containing rip, from the generated table; NULL if none. */
static const char *nearest_symbol(uint64_t rip, uint64_t *offset)
{
    const uint32_t *t = __unilang_symtab_start;
    const uint32_t *end = __unilang_symtab_end;

    __asm__("" : "+r"(t)); /* two linker symbols: hide their provenance */
    __asm__("" : "+r"(end));
    if (rip < (uintptr_t)__image_start || rip >= (uintptr_t)__rodata_start || end - t < 1)
        return NULL;
    uint64_t words = (uint64_t)(end - t), n = t[0];
    if (n == 0 || n > (words - 1) / 2)
        return NULL;
    const uint32_t *e = t + 1;
    const char *names = (const char *)(e + 2 * n);
    uint64_t names_len = (uint64_t)((const char *)end - names);
    uint64_t lo = 0, hi = n; /* first entry with address > rip */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (e[2 * mid] <= rip)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    uint64_t off = e[2 * (lo - 1) + 1];
    if (off >= names_len)
        return NULL;
    for (uint64_t i = off; i < names_len; i++)
        if (names[i] == '\0') {
            *offset = rip - e[2 * (lo - 1)];
            return names + off;
        }
    return NULL;
}

/* The name of an exception vector; NULL for the rarer ones ("exception N"). */
static const char *vector_name(unsigned v)
{
    switch (v) {
    case 0:
        return "divide error";
    case 6:
        return "invalid opcode";
    case 8:
        return "double fault";
    case 13:
        return "general protection fault";
    case 14:
        return "page fault";
    default:
        return NULL;
    }
}

static int in_fault;

_Noreturn void unilang_fault(struct unilang_fault_frame *f)
{
    uint64_t cr2;

    if (in_fault) /* a fault while reporting one: stop at once */
        unilang_shutdown(UNILANG_EXIT_FAULT);
    in_fault = 1;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    unsigned v = (unsigned)f->vector;
    uint64_t guard = (uintptr_t)__stack_guard;
    int overflow = (v == 14 || v == 8) &&
                   ((cr2 >= guard && cr2 < guard + 4096) ||
                    (f->rsp < (uintptr_t)__stack_bottom && f->rsp >= (uintptr_t)__rodata_start));

    out("unilang: fault: ");
    if (overflow) {
        out("stack overflow at ");
        out_hex(cr2);
        out(" (");
        out(region(cr2));
        out(")");
    } else if (v == 14) {
        uint32_t e = (uint32_t)f->error;
        out("page fault: ");
        if (e & PF_RSVD)
            out("reserved bit set in a page-table entry, access");
        else if (e & PF_FETCH)
            out(e & PF_PRESENT ? "execute from no-execute memory" : "execute from unmapped memory");
        else if (e & PF_WRITE)
            out(e & PF_PRESENT ? "write to read-only memory" : "write to unmapped memory");
        else
            out("read from unmapped memory");
        out(" at ");
        out_hex(cr2);
        out(" (");
        out(region(cr2));
        out(")");
    } else {
        if (vector_name(v) != NULL) {
            out(vector_name(v));
        } else {
            out("exception ");
            out_dec(v);
        }
        if (v == 10 || v == 11 || v == 12 || v == 13 || v == 17 || v == 21) {
            out(" (error code ");
            out_hex(f->error);
            out(")");
        }
    }
    out("\nunilang: fault: rip ");
    out_hex(f->rip);
    uint64_t off = 0;
    const char *sym = nearest_symbol(f->rip, &off);
    if (sym != NULL) {
        out(" <");
        out(sym);
        out("+");
        out_hex(off);
        out(">");
    } else {
        out(" (");
        out(region(f->rip));
        out(")");
    }
    out("\nunilang: fault: shutting down with exit code ");
    out_dec(UNILANG_EXIT_FAULT);
    out("\n");
    unilang_shutdown(UNILANG_EXIT_FAULT);
}
