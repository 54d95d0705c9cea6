/* Library virtio-mmio: the modern virtio-mmio transport (stdlib/lib/virtio-mmio). */
#ifndef UNILANG_VIRTIO_MMIO_H
#define UNILANG_VIRTIO_MMIO_H

#include <stdint.h>

#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

/* The device of type `device_id` (1 = net) numbered `index` among them, found
 * from the command line's virtio_mmio.device= entries, else by probing QEMU
 * microvm's window.  Its register base, or 0 when there is none (or it is a
 * legacy version 1 device: QEMU needs -global virtio-mmio.force-legacy=false). */
uintptr_t virtio_mmio_find(uint32_t device_id, unsigned index);

/* Reset, ACKNOWLEDGE, DRIVER, feature negotiation (the driver's 64 feature
 * bits, which must include VERSION_1 and be offered by the device), FEATURES_OK.
 * 0 on success, -1 when the device refuses. */
int virtio_mmio_begin(uintptr_t base, uint64_t features);

/* Set up queue `q` with `num` entries (a power of two, at most the device's
 * maximum) at the given rings. 0 on success, -1 otherwise. */
int virtio_mmio_queue(uintptr_t base, unsigned q, unsigned num, volatile struct virtq_desc *desc,
                      volatile void *avail, volatile void *used);

/* DRIVER_OK: the device runs. */
void virtio_mmio_ready(uintptr_t base);

/* Tell the device that queue `q` has new buffers. */
void virtio_mmio_notify(uintptr_t base, unsigned q);

/* Device-specific configuration space, byte by byte. */
static inline uint8_t virtio_mmio_config8(uintptr_t base, unsigned off)
{
    return *(volatile uint8_t *)(base + 0x100 + off);
}

#endif /* UNILANG_VIRTIO_MMIO_H */
