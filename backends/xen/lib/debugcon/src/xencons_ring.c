/* Writing into the Xen PV console's out ring (pure C, host-tested).
 *
 * Protocol (Xen's public/io/console.h, as Linux's hvc_xen and Mini-OS use
 * it): the guest is the producer of `out`; it reads out_cons (advanced by
 * the console backend), copies bytes to out[MASK(prod)], issues a write
 * barrier so the bytes are visible before the index, then stores out_prod.
 * Indices are free-running 32-bit counters; prod - cons (mod 2^32) is the
 * number of bytes in flight. */
#include "xencons_ring.h"

/* Full barrier before reading the ring (the consumer's index must be read
 * before we look at slots it freed), and a write barrier before publishing.
 * x86 is TSO, so these order the compiler; sfence also covers any
 * non-temporal stores. */
#define XENCONS_MB() __asm__ volatile("mfence" ::: "memory")
#define XENCONS_WMB() __asm__ volatile("sfence" ::: "memory")

size_t xencons_ring_space(const volatile struct xencons_interface *intf)
{
    XENCONS_RING_IDX cons = intf->out_cons;
    XENCONS_RING_IDX prod = intf->out_prod;
    XENCONS_RING_IDX used = prod - cons;

    if (used > XENCONS_OUT_SIZE)
        return 0;
    return XENCONS_OUT_SIZE - used;
}

size_t xencons_ring_write(volatile struct xencons_interface *intf, const char *data,
                          size_t len)
{
    XENCONS_RING_IDX cons = intf->out_cons;
    XENCONS_RING_IDX prod = intf->out_prod;
    size_t sent = 0;

    XENCONS_MB();
    if ((XENCONS_RING_IDX)(prod - cons) > XENCONS_OUT_SIZE)
        return 0; /* inconsistent indices: write nothing */
    while (sent < len && (XENCONS_RING_IDX)(prod - cons) < XENCONS_OUT_SIZE)
        intf->out[XENCONS_OUT_MASK(prod++)] = data[sent++];
    XENCONS_WMB();
    intf->out_prod = prod;
    return sent;
}
