/* Xen hypercalls for PVH guests, shared by the xen backend's libraries.
 *
 * RUNS ONLY ON REAL XEN: nothing here is exercised under QEMU (there the
 * CPUID signature is not Xen's and every caller falls back to I/O ports),
 * and there is no Xen host in this project's test setup.  It follows Xen's
 * public headers: xen.h (hypercall numbers), arch-x86/cpuid.h (leaf
 * base+2: EAX = number of hypercall pages, EBX = the MSR that installs
 * them), hvm/hvm_op.h, hvm/params.h, event_channel.h, sched.h.
 *
 * 64-bit hypercall ABI: call hypercall_page + 32 * op with arguments in
 * rdi, rsi, rdx, r10, r8; the result is in rax; rcx and r11 are clobbered
 * (and the argument registers may be).
 *
 * The hypercall page is one weak definition shared by every object that
 * includes this header (the linker keeps one). It is executable because the
 * boot page tables set no NX bit. */
#ifndef UNILANG_XEN_HYPERCALL_H
#define UNILANG_XEN_HYPERCALL_H

#include <unilang/runtime.h>

#define XEN_HYPERVISOR_sched_op 29
#define XEN_HYPERVISOR_event_channel_op 32
#define XEN_HYPERVISOR_hvm_op 34
#define XEN_SCHEDOP_shutdown 2
#define XEN_SHUTDOWN_poweroff 0
#define XEN_EVTCHNOP_send 4
#define XEN_HVMOP_get_param 1
#define XEN_HVM_PARAM_CONSOLE_PFN 17
#define XEN_HVM_PARAM_CONSOLE_EVTCHN 18
#define XEN_DOMID_SELF 0x7ff0u

struct xen_hvm_param {
    uint16_t domid;
    uint32_t index;
    uint64_t value;
};
_Static_assert(sizeof(struct xen_hvm_param) == 16, "xen_hvm_param layout");

struct xen_evtchn_send {
    uint32_t port;
};

__attribute__((weak, aligned(4096))) unsigned char unilang_xen_hypercall_page[4096];
__attribute__((weak)) int unilang_xen_hypercall_ready;

/* The Xen CPUID base (0x40000000, or 0x40000100 when Viridian leaves come
 * first), or 0 when not running on Xen.  Each CPUID is a VM exit: only
 * these two bases are probed. */
static inline uint32_t xen_cpuid_base(void)
{
    uint32_t a, b, c, d;

    unilang_cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 31))) /* hypervisor bit */
        return 0;
    for (uint32_t base = 0x40000000; base <= 0x40000100; base += 0x100) {
        unilang_cpuid(base, 0, &a, &b, &c, &d);
        /* "XenVMMXenVMM" */
        if (b == 0x566e6558 && c == 0x65584d4d && d == 0x4d4d566e && a >= base + 2)
            return base;
    }
    return 0;
}

/* Installs the hypercall page (once); 1 when hypercalls can be made. */
static inline int xen_hypercall_init(uint32_t base)
{
    uint32_t a, b, c, d;

    if (unilang_xen_hypercall_ready)
        return 1;
    unilang_cpuid(base + 2, 0, &a, &b, &c, &d); /* a = pages, b = MSR */
    if (a < 1)
        return 0;
    unilang_wrmsr(b, (uint64_t)(uintptr_t)unilang_xen_hypercall_page);
    unilang_xen_hypercall_ready = 1;
    return 1;
}

static inline long xen_hypercall2(unsigned op, uint64_t a1, uint64_t a2)
{
    long ret;
    void *entry = unilang_xen_hypercall_page + op * 32;

    __asm__ volatile("call *%[entry]"
                     : "=a"(ret), "+D"(a1), "+S"(a2)
                     : [entry] "r"(entry)
                     : "rcx", "rdx", "r8", "r9", "r10", "r11", "memory");
    return ret;
}

/* HVMOP_get_param on this domain; 0 on success. */
static inline long xen_hvm_get_param(uint32_t index, uint64_t *value)
{
    struct xen_hvm_param p = {XEN_DOMID_SELF, index, 0};
    long r = xen_hypercall2(XEN_HYPERVISOR_hvm_op, XEN_HVMOP_get_param,
                            (uint64_t)(uintptr_t)&p);
    if (r == 0)
        *value = p.value;
    return r;
}

static inline long xen_evtchn_send(uint32_t port)
{
    struct xen_evtchn_send s = {port};
    return xen_hypercall2(XEN_HYPERVISOR_event_channel_op, XEN_EVTCHNOP_send,
                          (uint64_t)(uintptr_t)&s);
}

#endif
