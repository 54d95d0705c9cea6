/* Ethernet II: receive, dispatch, send. */
#include <stdint.h>
#include <unilang/ethernet.h>
#include <unilang/netlink.h>

#define MAX_TYPES 4
#define MIN_FRAME 60u
_Static_assert(UNILANG_LINK_MTU_FRAME >= MIN_FRAME + 8, "room for the padding stores");

struct unilang_net_stats unilang_net_stats;

static struct {
    uint16_t type;
    unilang_eth_handler fn;
} handlers[MAX_TYPES];
static unsigned nhandlers;
static uint8_t frame[UNILANG_LINK_MTU_FRAME];

int unilang_eth_register(uint16_t ethertype, unilang_eth_handler fn)
{
    if (nhandlers >= MAX_TYPES || fn == 0) return -1;
    handlers[nhandlers].type = ethertype;
    handlers[nhandlers].fn = fn;
    nhandlers++;
    return 0;
}

/* A MAC as a 4-byte and a 2-byte word: two compares, not a byte loop. */
static int is_broadcast(const uint8_t *m)
{
    uint32_t a;
    uint16_t b;
    __builtin_memcpy(&a, m, 4);
    __builtin_memcpy(&b, m + 4, 2);
    return a == 0xffffffffu && b == 0xffffu;
}

static int is_mine(const uint8_t *m)
{
    uint32_t a, c;
    uint16_t b, d;
    __builtin_memcpy(&a, m, 4);
    __builtin_memcpy(&b, m + 4, 2);
    __builtin_memcpy(&c, unilang_link_mac, 4);
    __builtin_memcpy(&d, unilang_link_mac + 4, 2);
    return a == c && b == d;
}

static void input(const uint8_t *f, unsigned len)
{
    struct unilang_net_stats *s = &unilang_net_stats;
    s->eth_rx++;
    if (len < UNILANG_ETH_HLEN) {
        s->eth_drop_short++;
        return;
    }
    if (len > UNILANG_LINK_MTU_FRAME) {
        s->eth_drop_oversized++;
        return;
    }
    if (!is_mine(f) && !is_broadcast(f)) {
        s->eth_drop_not_for_us++;
        return;
    }
    uint16_t type = unilang_get16(f + 12);
    for (unsigned i = 0; i < nhandlers; i++)
        if (handlers[i].type == type) {
            handlers[i].fn(f + 6, f + UNILANG_ETH_HLEN, len - UNILANG_ETH_HLEN);
            return;
        }
    s->eth_drop_ethertype++;
}

static void (*poll_hook)(void);

int unilang_net_on_poll(void (*fn)(void))
{
    if (poll_hook != 0) return -1;
    poll_hook = fn;
    return 0;
}

unsigned unilang_net_poll(void)
{
    unsigned n = unilang_link_poll(input, 64);
    if (poll_hook != 0) poll_hook();
    return n;
}

int unilang_eth_send(const uint8_t dst[6], uint16_t ethertype, const void *payload, unsigned len)
{
    if (len > UNILANG_LINK_MTU_FRAME - UNILANG_ETH_HLEN) return -1;
    /* fixed-size copies and word stores, not byte loops: each guest
     * instruction is emulated under PVM (docs/network.md, "Figures") */
    __builtin_memcpy(frame, dst, 6);
    __builtin_memcpy(frame + 6, unilang_link_mac, 6);
    unilang_put16(frame + 12, ethertype);
    unilang_link_copy(frame + UNILANG_ETH_HLEN, payload, len);
    unsigned n = UNILANG_ETH_HLEN + len;
    /* pad to the minimum frame; the 8-byte stores may run up to 7 bytes
     * past it, still inside `frame` */
    for (unsigned i = n; i < MIN_FRAME; i += 8) __builtin_memset(frame + i, 0, 8);
    if (n < MIN_FRAME) n = MIN_FRAME;
    if (unilang_link_send(frame, n) < 0) return -1;
    unilang_net_stats.eth_tx++;
    return 0;
}
