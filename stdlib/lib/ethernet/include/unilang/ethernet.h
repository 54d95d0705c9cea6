/* Library ethernet: framing, dispatch by EtherType, the polled event loop and
 * the network stack's counters (stdlib/lib/ethernet). */
#ifndef UNILANG_ETHERNET_H
#define UNILANG_ETHERNET_H

#include <stdint.h>
#include <unilang/netlink.h>

#define UNILANG_ETH_HLEN 14u
#define UNILANG_ETHERTYPE_IPV4 0x0800u
#define UNILANG_ETHERTYPE_ARP 0x0806u

/* Every counter of the stack; a layer that is not in the image leaves its zero.
 * "drop" counters say why a frame or packet was discarded. */
struct unilang_net_stats {
    uint64_t eth_rx, eth_tx;
    uint64_t eth_drop_short, eth_drop_oversized, eth_drop_not_for_us, eth_drop_ethertype;
    uint64_t arp_rx, arp_tx, arp_replied, arp_learned, arp_evicted;
    uint64_t arp_drop_malformed, arp_drop_spoofed, arp_drop_not_for_us, arp_unresolved;
    uint64_t ip_rx, ip_tx;
    uint64_t ip_drop_short, ip_drop_version, ip_drop_header_length, ip_drop_total_length;
    uint64_t ip_drop_checksum, ip_drop_options, ip_drop_fragment, ip_drop_ttl;
    uint64_t ip_drop_bad_source, ip_drop_not_for_us, ip_drop_protocol, ip_drop_tx_too_long;
    uint64_t icmp_rx, icmp_echo_replied, icmp_drop_malformed, icmp_drop_checksum, icmp_drop_type;
    uint64_t udp_rx, udp_tx;
    uint64_t udp_drop_short, udp_drop_length, udp_drop_checksum, udp_drop_no_socket;
    uint64_t udp_drop_tx_too_long;
    /* the network policy (<unilang/netpolicy.h>): packets from a peer it does not
     * allow, sends it refused, binds of a port it does not allow */
    uint64_t policy_drop_peer, policy_drop_send, policy_refused_listen;
};
extern struct unilang_net_stats unilang_net_stats;

static inline uint16_t unilang_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t unilang_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void unilang_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void unilang_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* A protocol's receive function: the sender's MAC, the payload after the header. */
typedef void (*unilang_eth_handler)(const uint8_t *src_mac, const uint8_t *payload, unsigned len);
/* 0, or -1 when the table (4 EtherTypes) is full. */
int unilang_eth_register(uint16_t ethertype, unilang_eth_handler fn);
/* Send one frame (padded to 60 bytes); 0, or -1 when it was dropped (counted). */
int unilang_eth_send(const uint8_t dst[6], uint16_t ethertype, const void *payload, unsigned len);

/* The event loop's step: handle the frames that arrived (at most 64), then
 * run the poll hook (if one is set); how many frames. */
unsigned unilang_net_poll(void);
/* Set the one function unilang_net_poll() calls after the frames of each
 * step (tcp's timers and deferred output); 0, or -1 when one is set already. */
int unilang_net_on_poll(void (*fn)(void));

#endif /* UNILANG_ETHERNET_H */
