/* Xen backend shutdown.
 *
 * On real Xen (CPUID signature "XenVMMXenVMM" at leaf 0x40000000, or at a
 * later 0x100-aligned base such as 0x40000100 when Viridian is enabled):
 *   - write "unilang: exit N\n" to the 0xE9 debug console, because
 *     SCHEDOP_shutdown/SHUTDOWN_poweroff cannot carry an exit code;
 *   - install the hypercall page (CPUID base+2: EBX = MSR index; writing the
 *     page's physical address to that MSR makes Xen fill it);
 *   - HYPERVISOR_sched_op(SCHEDOP_shutdown, {SHUTDOWN_poweroff}).
 * THE XEN-ONLY PATH RUNS ONLY ON REAL XEN and is untested here (no Xen host);
 * it follows Xen's public headers (xen.h: __HYPERVISOR_sched_op 29; sched.h:
 * SCHEDOP_shutdown 2, SHUTDOWN_poweroff 0); the hypercall helpers and the
 * shared hypercall page are in xen_hypercall.h.
 *
 * Elsewhere (QEMU test runs of the Xen image): QEMU isa-debug-exit, outb of
 * `code` to port 0xf4 (status ((code & 0xff) << 1) | 1), then cli; hlt.
 */
#include <unilang/runtime.h>

#include "xen_hypercall.h"

#define DEBUGCON_PORT 0xe9
#define DEBUG_EXIT_PORT 0xf4

struct sched_shutdown {
    unsigned int reason;
};

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
    struct sched_shutdown arg = {XEN_SHUTDOWN_poweroff};

    if (!xen_hypercall_init(base))
        return;
    xen_hypercall2(XEN_HYPERVISOR_sched_op, XEN_SCHEDOP_shutdown, (uint64_t)(uintptr_t)&arg);
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
