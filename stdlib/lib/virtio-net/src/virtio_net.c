/* A polled virtio-net driver (virtio 1.x, section 5.1) over virtio-mmio.
 * Every value the device writes (used ring indices, ids, lengths) is checked
 * before it is used: a faulty or hostile device cannot make us read or write
 * outside our buffers. */
#include <stdint.h>
#include <unilang/conio.h>
#include <unilang/core.h>
#include <unilang/netlink.h>
#include <unilang/virtio-mmio.h>
#include <unilang/runtime.h> /* UNILANG_PARAM_* */

#define QN UNILANG_PARAM_VIRTIO_NET_QUEUE_SIZE
_Static_assert(QN >= 2 && QN <= 256 && (QN & (QN - 1)) == 0, "queue_size: a power of two");

#define F_MAC (1ull << 5)
#define F_VERSION_1 (1ull << 32)
#define HDR 12u               /* struct virtio_net_hdr_v1 */
#define BUF 2048u             /* >= 12 + 1514 */
#define RXQ 0u
#define TXQ 1u

/* The ring entries, like the descriptors, are ours to write and the
 * device's to read only after the index moves past them (a compiler barrier
 * orders the two), so only the fields the device looks at without that
 * ordering are volatile. */
struct avail {
    volatile uint16_t flags, idx;
    uint16_t ring[QN];
    volatile uint16_t used_event;
};
struct used_elem {
    uint32_t id, len;
};
struct used {
    uint16_t flags, idx;
    struct used_elem ring[QN];
    uint16_t avail_event;
};

/* The descriptor table, like the ring entries, is written by us only and
 * read by the device only after avail.idx moves past its entry (the
 * barrier() before that store orders them; x86 keeps stores in order), even
 * when the device asked for no notify; so it need not be volatile: plain
 * stores let the compiler merge them, which matters where each guest
 * instruction is emulated (PVM). */
struct vq {
    struct virtq_desc desc[QN] __attribute__((aligned(16)));
    struct avail avail __attribute__((aligned(4)));
    volatile struct used used __attribute__((aligned(4)));
    uint16_t last_used;
};

static struct vq rxq, txq;
/* Not cleared at boot (2 x QN x 2 KiB; the device writes an RX buffer
 * before we read it, we write a TX buffer before the device reads it). */
#define NOINIT __attribute__((section(".bss.unilang_noinit"), aligned(64)))
static uint8_t rxbuf[QN][BUF] NOINIT;
static uint8_t txbuf[QN][BUF] NOINIT;
static uint16_t tx_free[QN], tx_nfree;
static uintptr_t dev;
static unsigned rx_unannounced;

uint8_t unilang_link_mac[6];
struct unilang_link_stats unilang_link_stats;

#define barrier() __asm__ volatile("" ::: "memory")

int unilang_link_up(void) { return dev != 0; }

static void rx_post(uint16_t id)
{
    uint16_t i = rxq.avail.idx;
    rxq.avail.ring[i % QN] = id;
    barrier();
    rxq.avail.idx = (uint16_t)(i + 1);
}

static void tx_reclaim(void)
{
    uint16_t used = txq.used.idx;
    barrier();
    while (txq.last_used != used) {
        uint32_t id = txq.used.ring[txq.last_used % QN].id;
        txq.last_used++;
        if (id < QN && tx_nfree < QN)
            tx_free[tx_nfree++] = (uint16_t)id;
        else
            unilang_link_stats.rx_bad_id++;
    }
}

int unilang_link_send(const void *frame, unsigned len)
{
    if (dev == 0) return -1;
    if (len > UNILANG_LINK_MTU_FRAME) {
        unilang_link_stats.tx_too_long++;
        return -1;
    }
    tx_reclaim();
    for (unsigned spin = 0; tx_nfree == 0 && spin < 1000000; spin++) {
        __asm__ volatile("pause");
        tx_reclaim();
    }
    if (tx_nfree == 0) {
        unilang_link_stats.tx_queue_full++;
        return -1;
    }
    uint16_t id = tx_free[--tx_nfree];
    uint8_t *b = txbuf[id];
    __builtin_memset(b, 0, HDR);
    unilang_link_copy(b + HDR, frame, len);
    txq.desc[id].addr = (uintptr_t)b;
    txq.desc[id].len = HDR + len;
    txq.desc[id].flags = 0;
    txq.desc[id].next = 0;
    uint16_t i = txq.avail.idx;
    txq.avail.ring[i % QN] = id;
    barrier();
    txq.avail.idx = (uint16_t)(i + 1);
    if (!(txq.used.flags & 1)) virtio_mmio_notify(dev, TXQ);
    unilang_link_stats.tx_frames++;
    unilang_link_stats.tx_bytes += len;
    return 0;
}

unsigned unilang_link_poll(unilang_link_rx_fn fn, unsigned max)
{
    unsigned n = 0;
    if (dev == 0) return 0;
    while (n < max) {
        uint16_t used = rxq.used.idx;
        barrier();
        if (rxq.last_used == used) break;
        struct used_elem e = {rxq.used.ring[rxq.last_used % QN].id,
                              rxq.used.ring[rxq.last_used % QN].len};
        rxq.last_used++;
        if (e.id >= QN) {
            unilang_link_stats.rx_bad_id++;
            continue; /* not ours: never re-post it */
        }
        if (e.len < HDR || e.len > BUF) {
            unilang_link_stats.rx_bad_length++;
        } else {
            unilang_link_stats.rx_frames++;
            unilang_link_stats.rx_bytes += e.len - HDR;
            fn(rxbuf[e.id] + HDR, e.len - HDR);
            n++;
        }
        rx_post((uint16_t)e.id);
        /* A notify is a VM exit (costly under nested KVM): the device needs one
         * only when it ran out of buffers, which cannot happen before half of
         * them are back in its hands unannounced. */
        if (++rx_unannounced >= QN / 2) {
            rx_unannounced = 0;
            if (!(rxq.used.flags & 1)) virtio_mmio_notify(dev, RXQ);
        }
    }
    return n;
}

void virtio_net_init(void);
void virtio_net_init(void)
{
    uintptr_t base = virtio_mmio_find(1, 0);
    if (base == 0) {
        unilang_puts("virtio-net: no modern virtio-mmio net device "
                     "(QEMU: -global virtio-mmio.force-legacy=false)");
        return;
    }
    if (virtio_mmio_begin(base, F_VERSION_1 | F_MAC) < 0) {
        unilang_puts("virtio-net: the device refused VERSION_1 + MAC");
        return;
    }
    rxq.avail.flags = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT: we poll */
    txq.avail.flags = 1;
    if (virtio_mmio_queue(base, RXQ, QN, rxq.desc, &rxq.avail, &rxq.used) < 0 ||
        virtio_mmio_queue(base, TXQ, QN, txq.desc, &txq.avail, &txq.used) < 0) {
        unilang_puts("virtio-net: queue setup failed");
        return;
    }
    for (unsigned i = 0; i < 6; i++) unilang_link_mac[i] = virtio_mmio_config8(base, i);
    /* Every RX buffer to the device, every TX buffer free: one pass, with
     * the avail index and the free count written once at the end (a few
     * instructions per buffer; rx_post per buffer cost 25). */
    uintptr_t a = (uintptr_t)rxbuf;
    for (unsigned id = 0; id < QN; id++, a += BUF) {
        rxq.desc[id] = (struct virtq_desc){a, BUF, VIRTQ_DESC_F_WRITE, 0};
        rxq.avail.ring[id] = (uint16_t)id;
        tx_free[id] = (uint16_t)(QN - 1 - id);
    }
    barrier();
    rxq.avail.idx = QN;
    tx_nfree = QN;
    virtio_mmio_ready(base);
    dev = base;
    virtio_mmio_notify(base, RXQ);
}
