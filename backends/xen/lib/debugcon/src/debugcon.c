/* Xen backend console.
 *
 * On real Xen (CPUID "XenVMMXenVMM"), when the library parameter
 * debugcon.pv is true (the default): the PV console.  On the first write
 * the hypercall page is installed and HVMOP_get_param reads
 * HVM_PARAM_CONSOLE_PFN (the ring page, identity mapped below 4 GiB) and
 * HVM_PARAM_CONSOLE_EVTCHN; bytes go into the ring (xencons_ring.c, "\n"
 * becomes "\r\n" as a terminal expects) and EVTCHNOP_send notifies the
 * console backend (xenconsoled; `xl console`).  When the ring stays full
 * for a long time, the rest goes to port 0xE9.  THIS PATH RUNS ONLY ON REAL
 * XEN and is untested here (no Xen host).
 *
 * Everywhere else, and on Xen when the setup fails or pv is false: every
 * byte goes to I/O port 0xE9: Xen's guest debug output for HVM/PVH guests
 * (`xl dmesg`, prefixed "(dN)"); under QEMU -device isa-debugcon,iobase=0xe9.
 * No init function: the probe happens on the first write, so it costs boot
 * nothing. */
#include <unilang/runtime.h>

#include "xen_hypercall.h"
#include "xencons_ring.h"

/* UNILANG_PARAM_DEBUGCON_PV comes from unilang_params.h (default in debugcon.uni) */

#define DEBUGCON_PORT 0xe9
#define FULL_RING_SPINS 50000000ul /* pauses before giving up on a full ring */

enum { CON_UNKNOWN, CON_PV, CON_PORT };
static int con_mode = CON_UNKNOWN;
static volatile struct xencons_interface *con_intf;
static uint32_t con_evtchn;

static void port_write(const char *s, unsigned long n)
{
    for (unsigned long i = 0; i < n; ++i)
        unilang_outb(DEBUGCON_PORT, (uint8_t)s[i]);
}

/* Only on real Xen. */
static int pv_setup(void)
{
    uint32_t base = xen_cpuid_base();
    uint64_t pfn = 0, port = 0;

    if (base == 0 || !xen_hypercall_init(base))
        return 0;
    if (xen_hvm_get_param(XEN_HVM_PARAM_CONSOLE_PFN, &pfn) != 0 || pfn == 0 ||
        pfn >= (0x100000000ull >> 12)) /* outside the 4 GiB identity map */
        return 0;
    if (xen_hvm_get_param(XEN_HVM_PARAM_CONSOLE_EVTCHN, &port) != 0)
        return 0;
    con_intf = (volatile struct xencons_interface *)(uintptr_t)(pfn << 12);
    con_evtchn = (uint32_t)port;
    return 1;
}

/* Only on real Xen: all of s into the ring; 0 if the ring stayed full. */
static int pv_put(const char *s, unsigned long n)
{
    unsigned long spins = 0;

    while (n > 0) {
        size_t k = xencons_ring_write(con_intf, s, n);
        if (k > 0) {
            xen_evtchn_send(con_evtchn);
            s += k;
            n -= k;
            spins = 0;
        } else if (++spins > FULL_RING_SPINS) {
            return 0;
        } else {
            __asm__ volatile("pause");
        }
    }
    return 1;
}

static void pv_write(const char *s, unsigned long n)
{
    unsigned long start = 0;

    for (unsigned long i = 0; i <= n; ++i) {
        if (i < n && s[i] != '\n')
            continue;
        if (!pv_put(s + start, i - start) || (i < n && !pv_put("\r\n", 2))) {
            con_mode = CON_PORT; /* backend not draining: use the port */
            port_write(s + start, n - start);
            return;
        }
        start = i + 1;
    }
}

void unilang_console_write(const char *s, unsigned long n)
{
    if (con_mode == CON_UNKNOWN)
        con_mode = (UNILANG_PARAM_DEBUGCON_PV && pv_setup()) ? CON_PV : CON_PORT;
    if (con_mode == CON_PV)
        pv_write(s, n);
    else
        port_write(s, n);
}
