/* The Xen PV console ring (xen/include/public/io/console.h), and the pure
 * part of writing to it: no hypercalls, no port I/O, so the host tests
 * compile xencons_ring.c as it is. */
#ifndef UNILANG_XENCONS_RING_H
#define UNILANG_XENCONS_RING_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t XENCONS_RING_IDX;

struct xencons_interface {
    char in[1024];
    char out[2048];
    XENCONS_RING_IDX in_cons, in_prod;
    XENCONS_RING_IDX out_cons, out_prod;
};

#define XENCONS_OUT_SIZE 2048u
/* Free-running indices; the slot is the index modulo the ring size. */
#define XENCONS_OUT_MASK(idx) ((idx) & (XENCONS_OUT_SIZE - 1))

_Static_assert(sizeof(struct xencons_interface) == 3088, "xencons_interface layout");
_Static_assert(offsetof(struct xencons_interface, out_cons) == 3080, "xencons_interface layout");

/* Bytes the producer may still write (0 when full, or when the indices are
 * inconsistent: more than a ring's worth outstanding). */
size_t xencons_ring_space(const volatile struct xencons_interface *intf);

/* Copies up to len bytes of data into the out ring, wrapping at the end of
 * the buffer, and publishes them (write barrier, then out_prod).  Returns
 * how many bytes were copied: less than len when the ring fills up, 0 when
 * it is full. */
size_t xencons_ring_write(volatile struct xencons_interface *intf, const char *data,
                          size_t len);

#endif
