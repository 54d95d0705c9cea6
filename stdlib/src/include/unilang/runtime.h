/* unilang runtime API (freestanding, x86-64).
 *
 * Only <stdint.h> and <stddef.h> are used.  If the compiler generated a
 * header "unilang_params.h" (library parameters, UNILANG_PARAM_* macros) and
 * put it on the include path, it is included here; -D options work as well.
 */
#ifndef UNILANG_RUNTIME_H
#define UNILANG_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(__has_include)
#if __has_include(<unilang_params.h>)
#include <unilang_params.h>
#endif
#endif

/* ---- console / shutdown (provided by the selected backend) ---- */

/* Write n bytes; the backend decides the device (COM1 UART, port 0xE9 ...). */
void unilang_console_write(const char *s, unsigned long n);
/* Write s followed by "\n" (conio, portable). */
void unilang_puts(const char *s);
/* End the guest with an exit code (backend specific; never returns). */
_Noreturn void unilang_shutdown(int code);

/* ---- boot state (pvh_entry.S / boot.c) ---- */

extern unsigned long long unilang_tsc_entry; /* TSC at the first instruction */
extern unsigned long long unilang_tsc_main;  /* TSC just before main() */
extern unsigned long long unilang_start_info; /* phys addr of hvm_start_info */

/* Init table entries (see the linker script): one pointer per library,
 * placed by generated code in section ".unilang_init.<lib>". */
typedef void (*unilang_init_fn)(void);

/* ---- monotonic time (stdlib/src/time/tsc.c, library tsc-clock) ---- */
/* Nanoseconds since the boot entry; never goes backwards.  The first call
 * calibrates the TSC (see tsc.c). */
unsigned long long unilang_monotonic_ns(void);
/* TSC ticks per second (calibrating on first use). */
unsigned long long unilang_tsc_hz(void);
/* Busy-waits until unilang_monotonic_ns() has advanced by at least ns. */
void unilang_sleep_ns(unsigned long long ns);

/* ---- random bytes (stdlib/src/rng/rdrand.c, library rdrand) ---- */
/* Fills buf with n random bytes from RDRAND (or RDSEED, see the library's
 * `source` parameter).  Returns 0, or -1 when the CPU lacks the instruction
 * (a message says so on the console, once) or it keeps failing. */
int unilang_random_bytes(void *buf, size_t n);

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

/* ---- x86 helpers: port I/O takes (port, value) ---- */

static inline void unilang_outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void unilang_outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void unilang_outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t unilang_inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t unilang_inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t unilang_inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t unilang_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline void unilang_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a,
                                 uint32_t *b, uint32_t *c, uint32_t *d)
{
    uint32_t ra, rb, rc, rd;
    __asm__ volatile("cpuid"
                     : "=a"(ra), "=b"(rb), "=c"(rc), "=d"(rd)
                     : "a"(leaf), "c"(subleaf));
    *a = ra;
    *b = rb;
    *c = rc;
    *d = rd;
}

static inline uint64_t unilang_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void unilang_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                     : "memory");
}

_Noreturn static inline void unilang_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

#endif /* UNILANG_RUNTIME_H */
