/* The net.link construct: send and receive Ethernet frames (provided by
 * virtio-net on kvm).  Polled: nothing happens between calls. */
#ifndef UNILANG_NETLINK_H
#define UNILANG_NETLINK_H

#include <stdint.h>

#define UNILANG_LINK_MTU_FRAME 1514u /* largest frame without FCS: 14 + 1500 */

struct unilang_link_stats {
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
    uint64_t rx_bad_length;   /* used.len shorter than the header or longer than the buffer */
    uint64_t rx_bad_id;       /* a used entry naming a descriptor the driver never posted */
    uint64_t tx_too_long;     /* a frame longer than UNILANG_LINK_MTU_FRAME, not sent */
    uint64_t tx_queue_full;   /* no free TX descriptor, frame dropped */
};

extern uint8_t unilang_link_mac[6];
extern struct unilang_link_stats unilang_link_stats;

/* 1 once a device is running, 0 when none was found (then nothing is sent or received). */
int unilang_link_up(void);
/* Queue one frame; 0, or -1 when it was dropped (counted). */
int unilang_link_send(const void *frame, unsigned len);
/* Hand at most `max` received frames to fn, one by one; the number handed. */
typedef void (*unilang_link_rx_fn)(const uint8_t *frame, unsigned len);
unsigned unilang_link_poll(unilang_link_rx_fn fn, unsigned max);

/* Copy n bytes (no overlap) with two string instructions, `rep movsq` then
 * `rep movsb`, as every layer copies a payload into its frame.  Where KVM
 * runs a guest through its instruction emulator (PVM, as on this project's
 * nested hosts: ~1-6 us per instruction), a byte loop's ~5 instructions a
 * byte made a 1460-byte echo take >100 ms; a string instruction is one
 * emulation for the whole copy (docs/network.md, "Figures"). */
static inline void unilang_link_copy(void *dst, const void *src, unsigned n)
{
    unsigned long words = n >> 3, bytes = n & 7u;
    __asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(words) : : "memory");
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(bytes) : : "memory");
}

#endif /* UNILANG_NETLINK_H */
