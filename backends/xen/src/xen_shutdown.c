/* Xen backend shutdown.
 *
 * On real Xen (CPUID signature "XenVMMXenVMM" at leaf 0x40000000, or at a
 * later 0x100-aligned base such as 0x40000100 when Viridian is enabled):
 *   - write "unilang: exit N\n" to the 0xE9 debug console, because
 *     SCHEDOP_shutdown/SHUTDOWN_poweroff cannot carry an exit code;
 *   - install the hypercall page (CPUID base+2: EBX = MSR index; writing the
 *     page's physical address to that MSR makes Xen fill it);
 *   - HYPERVISOR_sched_op(SCHEDOP_shutdown, {SHUTDOWN_poweroff}).
 * The Xen-only path is untested here (no Xen host); it follows Xen's public
 * headers (xen.h: __HYPERVISOR_sched_op 29; sched.h: SCHEDOP_shutdown 2,
 * SHUTDOWN_poweroff 0; hypercall N is at page offset N * 32; 64-bit ABI:
 * arguments in rdi, rsi; result in rax).
 *
 * Elsewhere (QEMU test runs of the Xen image): QEMU isa-debug-exit, outb of
 * `code` to port 0xf4 (status ((code & 0xff) << 1) | 1), then cli; hlt.
 */
#include <unilang/runtime.h>

#define DEBUGCON_PORT 0xe9
#define DEBUG_EXIT_PORT 0xf4
#define HYPERVISOR_sched_op 29
#define SCHEDOP_shutdown 2
#define SHUTDOWN_poweroff 0

struct sched_shutdown {
    unsigned int reason;
};

/* Filled by Xen with hypercall stubs; executable because the boot page
 * tables map everything without NX. */
static unsigned char hypercall_page[4096] __attribute__((aligned(4096)));

/* Returns the Xen CPUID base (0x40000000, 0x40000100, ...) or 0. */
static uint32_t xen_cpuid_base(void)
{
    uint32_t a, b, c, d;

    unilang_cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 31))) /* hypervisor bit */
        return 0;
    /* Xen sits at 0x40000000, or at 0x40000100 when Viridian (Hyper-V)
     * leaves come first.  Each CPUID is a VM exit: probe only these two. */
    for (uint32_t base = 0x40000000; base <= 0x40000100; base += 0x100) {
        unilang_cpuid(base, 0, &a, &b, &c, &d);
        if (b == 0x566e6558 && c == 0x65584d4d && d == 0x4d4d566e && a >= base + 2)
            return base;
    }
    return 0;
}

static void debugcon_str(const char *s)
{
    while (*s)
        unilang_outb(DEBUGCON_PORT, (uint8_t)*s++);
}

static void debugcon_int(int v)
{
    char buf[12];
    int i = sizeof(buf);
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;

    buf[--i] = '\0';
    do {
        buf[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[--i] = '-';
    debugcon_str(&buf[i]);
}

/* Only on real Xen. */
static void xen_poweroff(uint32_t base)
{
    uint32_t a, b, c, d;

    unilang_cpuid(base + 2, 0, &a, &b, &c, &d); /* a = pages, b = MSR */
    if (a < 1)
        return;
    unilang_wrmsr(b, (uint64_t)(uintptr_t)hypercall_page);

    struct sched_shutdown arg = {SHUTDOWN_poweroff};
    long ret;
    uint64_t cmd = SCHEDOP_shutdown;
    void *argp = &arg;
    void *entry = hypercall_page + HYPERVISOR_sched_op * 32;
    __asm__ volatile("call *%[entry]"
                     : "=a"(ret), "+D"(cmd), "+S"(argp)
                     : [entry] "r"(entry)
                     : "rcx", "rdx", "r8", "r9", "r10", "r11", "memory");
    (void)ret;
}

_Noreturn void unilang_shutdown(int code)
{
    uint32_t base = xen_cpuid_base();

    if (base != 0) {
        debugcon_str("unilang: exit ");
        debugcon_int(code);
        debugcon_str("\n");
        xen_poweroff(base); /* does not return on success */
    }
    unilang_outb(DEBUG_EXIT_PORT, (uint8_t)code);
    unilang_halt_forever();
}
