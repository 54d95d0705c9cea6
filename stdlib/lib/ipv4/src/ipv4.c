/* IPv4 (RFC 791): receive checks, dispatch, send. */
#include <stdint.h>
#include <unilang/arp.h>
#include <unilang/conio.h>
#include <unilang/ethernet.h>
#include <unilang/ipv4.h>
#include <unilang/netpolicy.h>
#include <unilang/runtime.h> /* UNILANG_PARAM_* */

#define MAX_PROTOCOLS 4

static uint32_t my_ip, netmask, gateway;
static uint16_t next_id;
static struct {
    uint8_t protocol;
    unilang_ipv4_handler fn;
} handlers[MAX_PROTOCOLS];
static unsigned nhandlers;
static uint8_t packet[UNILANG_IPV4_HLEN + UNILANG_IPV4_MAX_PAYLOAD];

typedef uint64_t unilang_u64_unaligned __attribute__((aligned(1), may_alias));
typedef uint32_t unilang_u32_unaligned __attribute__((aligned(1), may_alias));
typedef uint16_t unilang_u16_unaligned __attribute__((aligned(1), may_alias));

/* The Internet checksum (RFC 1071) of p[0..len), added to `sum`.  The
 * ones'-complement sum does not depend on byte order (RFC 1071, 2.B), so
 * the data is summed as little-endian 64-bit words with end-around carry,
 * four words per loop iteration in one add-with-carry chain, and only the
 * folded 16-bit result is byte-swapped into the big-endian domain of `sum`.
 * Few instructions per byte matter where the hypervisor emulates each one
 * (docs/network.md, "Figures"): ~0.2 a byte here, against ~5 for a 16-bit
 * loop.  Same value as adding each big-endian 16-bit word to `sum`. */
uint32_t unilang_csum_add(uint32_t sum, const uint8_t *p, unsigned len)
{
    uint64_t acc = 0;
    unsigned long blocks = len / 32;
    if (blocks != 0) {
        /* dec and lea leave CF alone: the carry runs through the loop */
        __asm__("clc\n"
                "1:\n\t"
                "adcq 0(%[p]), %[acc]\n\t"
                "adcq 8(%[p]), %[acc]\n\t"
                "adcq 16(%[p]), %[acc]\n\t"
                "adcq 24(%[p]), %[acc]\n\t"
                "leaq 32(%[p]), %[p]\n\t"
                "decq %[n]\n\t"
                "jnz 1b\n\t"
                "adcq $0, %[acc]"
                : [acc] "+r"(acc), [p] "+r"(p), [n] "+r"(blocks)
                : "m"(*(const uint8_t(*)[len])p)
                : "cc");
    }
    unsigned rest = len % 32;
    for (; rest >= 8; rest -= 8, p += 8) {
        uint64_t w = *(const unilang_u64_unaligned *)p;
        acc += w;
        acc += acc < w;
    }
    uint64_t tail = 0;
    if (rest & 4) { tail = *(const unilang_u32_unaligned *)p; p += 4; }
    if (rest & 2) { tail += (uint64_t)*(const unilang_u16_unaligned *)p << 32; p += 2; }
    if (rest & 1) tail += (uint64_t)p[0] << 48; /* an even offset: the low byte of a word */
    acc += tail;
    acc += acc < tail;
    /* fold 64 -> 16 bits with end-around carry */
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    sum += (uint32_t)(((acc & 0xff) << 8) | (acc >> 8));
    return (sum & 0xffff) + (sum >> 16);
}

uint16_t unilang_csum_fold(uint32_t sum)
{
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The pseudo header's six big-endian 16-bit words are the halves of the
 * host-order addresses, the protocol and the length: summed directly (a
 * dozen instructions instead of a 12-byte buffer through unilang_csum_add),
 * folded once so that the result is below 0x20000 like unilang_csum_add's. */
uint32_t unilang_ipv4_pseudo_sum(uint32_t src, uint32_t dst, uint8_t protocol, unsigned len)
{
    uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + protocol +
                   (len & 0xffff);
    return (sum & 0xffff) + (sum >> 16);
}

int unilang_ipv4_parse(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (unsigned part = 0; part < 4; part++) {
        unsigned n = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 3) {
            n = n * 10 + (unsigned)(*s++ - '0');
            digits++;
        }
        if (digits == 0 || n > 255) return -1;
        v = v << 8 | n;
        if (part < 3 && *s++ != '.') return -1;
    }
    if (*s != 0) return -1;
    *out = v;
    return 0;
}

uint32_t unilang_ipv4_address(void) { return my_ip; }

int unilang_ipv4_register(uint8_t protocol, unilang_ipv4_handler fn)
{
    if (fn == 0) return -1;
    for (unsigned i = 0; i < nhandlers; i++)
        if (handlers[i].protocol == protocol) { /* dhcp's UDP during init, then udp's */
            handlers[i].fn = fn;
            return 0;
        }
    if (nhandlers >= MAX_PROTOCOLS) return -1;
    handlers[nhandlers].protocol = protocol;
    handlers[nhandlers].fn = fn;
    nhandlers++;
    return 0;
}

static void input(const uint8_t *src_mac, const uint8_t *p, unsigned len)
{
    (void)src_mac;
    struct unilang_net_stats *s = &unilang_net_stats;
    s->ip_rx++;
    if (len < UNILANG_IPV4_HLEN) { s->ip_drop_short++; return; }
    if (p[0] >> 4 != 4) { s->ip_drop_version++; return; }
    unsigned hlen = (p[0] & 15u) * 4u;
    if (hlen < UNILANG_IPV4_HLEN || hlen > len) { s->ip_drop_header_length++; return; }
    unsigned total = unilang_get16(p + 2);
    if (total < hlen || total > len) { s->ip_drop_total_length++; return; }
    if (unilang_csum_fold(unilang_csum_add(0, p, hlen)) != 0) { s->ip_drop_checksum++; return; }
    if (hlen != UNILANG_IPV4_HLEN) { s->ip_drop_options++; return; }
    if ((unilang_get16(p + 6) & 0x3fff) != 0) { s->ip_drop_fragment++; return; } /* MF or offset */
    if (p[8] == 0) { s->ip_drop_ttl++; return; }
    uint32_t src = unilang_get32(p + 12), dst = unilang_get32(p + 16);
    uint32_t bcast = (my_ip & netmask) | ~netmask;
    if (src == 0xffffffffu || (src >> 28) == 0xe || src == my_ip || src == bcast ||
        (src >> 24) == 127) {
        s->ip_drop_bad_source++;
        return;
    }
    if (!unilang_policy_peer_allowed(src)) { s->policy_drop_peer++; return; }
    /* dst 0.0.0.0 is never ours, not even while unconfigured (my_ip == 0) */
    if (dst == 0 || (dst != my_ip && dst != 0xffffffffu && dst != bcast)) {
        s->ip_drop_not_for_us++;
        return;
    }
    for (unsigned i = 0; i < nhandlers; i++)
        if (handlers[i].protocol == p[9]) {
            handlers[i].fn(src, dst, p + hlen, total - hlen);
            return;
        }
    s->ip_drop_protocol++;
}

int unilang_ipv4_send(uint32_t dst, uint8_t protocol, const void *payload, unsigned len)
{
    if (len > UNILANG_IPV4_MAX_PAYLOAD) {
        unilang_net_stats.ip_drop_tx_too_long++;
        return -1;
    }
    /* the policy: no sending at all, or not to this unicast destination */
    if (!unilang_policy_may_send() || (dst != 0xffffffffu && !unilang_policy_peer_allowed(dst))) {
        unilang_net_stats.policy_drop_send++;
        return UNILANG_NET_EPOLICY;
    }
    if (my_ip == 0 && dst != 0xffffffffu) return -1; /* unconfigured: broadcasts only */
    uint32_t hop = (dst & netmask) == (my_ip & netmask) || dst == 0xffffffffu ? dst : gateway;
    uint8_t mac[6];
    if (unilang_arp_resolve(hop, mac) < 0) return -1;
    uint8_t *h = packet;
    h[0] = 0x45;
    h[1] = 0;
    unilang_put16(h + 2, (uint16_t)(UNILANG_IPV4_HLEN + len));
    unilang_put16(h + 4, next_id++);
    unilang_put16(h + 6, 0x4000); /* DF */
    h[8] = UNILANG_PARAM_IPV4_TTL;
    h[9] = protocol;
    unilang_put16(h + 10, 0);
    unilang_put32(h + 12, my_ip);
    unilang_put32(h + 16, dst);
    unilang_put16(h + 10, unilang_csum_fold(unilang_csum_add(0, h, UNILANG_IPV4_HLEN)));
    unilang_link_copy(h + UNILANG_IPV4_HLEN, payload, len);
    if (unilang_eth_send(mac, UNILANG_ETHERTYPE_IPV4, packet, UNILANG_IPV4_HLEN + len) < 0)
        return -1;
    unilang_net_stats.ip_tx++;
    return 0;
}

/* Ask for the gateway's MAC, then announce our address (gratuitous ARP):
 * under QEMU user networking every forwarded datagram or connection comes
 * from the gateway's address, and an answer that meets an unknown MAC is
 * dropped (udp) or waits for tcp's ARP retry (20 ms).  The request goes
 * first: slirp learns our MAC from it, so its reply reaches us ahead of the
 * datagrams slirp held for us until then (announced first, each of those
 * found the gateway unresolved and was dropped, ~1 ms of emulated guest
 * work apiece under PVM).  One request; its reply, addressed to us, is
 * learned like any other (arp_unresolved counts this request).  arp asks
 * only for a nonzero gateway other than us; the subnet is ours to judge. */
static void announce(void)
{
    unilang_arp_start(my_ip, (gateway & netmask) == (my_ip & netmask) ? gateway : 0);
}

int unilang_ipv4_configure(uint32_t addr, uint32_t mask, uint32_t gw)
{
    /* a netmask is contiguous ones then zeros; the address is a unicast one */
    if (mask == 0 || (~mask & (~mask + 1u)) != 0) return -1;
    if (addr == 0 || addr == 0xffffffffu || (addr >> 28) >= 0xe || (addr >> 24) == 127 ||
        (addr & ~mask) == 0 || (addr & ~mask) == ~mask)
        return -1;
    my_ip = addr;
    netmask = mask;
    gateway = gw;
    announce();
    return 0;
}

int unilang_ipv4_configure_static(void)
{
    if (unilang_ipv4_parse(UNILANG_PARAM_IPV4_ADDRESS, &my_ip) < 0 ||
        unilang_ipv4_parse(UNILANG_PARAM_IPV4_NETMASK, &netmask) < 0 ||
        unilang_ipv4_parse(UNILANG_PARAM_IPV4_GATEWAY, &gateway) < 0) {
        unilang_puts("ipv4: address, netmask or gateway is not a dotted quad; the interface stays down");
        my_ip = 0;
        return -1;
    }
    announce();
    return 0;
}

void ipv4_init(void);
void ipv4_init(void)
{
#ifdef UNILANG_HAVE_DHCP
    /* net.addr is provided by dhcp: stay unconfigured (0.0.0.0, broadcasts
     * only) until it calls unilang_ipv4_configure() from its init */
    unilang_eth_register(UNILANG_ETHERTYPE_IPV4, input);
#else
    if (unilang_ipv4_configure_static() == 0) unilang_eth_register(UNILANG_ETHERTYPE_IPV4, input);
#endif
}
