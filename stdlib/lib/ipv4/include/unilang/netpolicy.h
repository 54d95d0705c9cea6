/* The image's network policy at run time (stdlib/lib/ipv4, src/netpolicy.c).
 *
 * The applied policies' `listen`, `peers` and `send` rules are compiled by
 * unilang into one read-only table, `unilang_netpolicy` (generated in
 * unilang_init.c, `const`, in .rodata), and enforced by the stack:
 *   - unilang_udp_bind (and tcp's listen) on a port the policy does not allow
 *     returns UNILANG_NET_EPOLICY, counted in policy_refused_listen;
 *   - an IPv4 packet from a source outside `peers` is dropped in ipv4's input,
 *     for every protocol, and counted in policy_drop_peer;
 *   - unilang_ipv4_send with `send = false`, or to a unicast destination
 *     outside `peers`, returns UNILANG_NET_EPOLICY, counted in policy_drop_send.
 * A policy that does not set a key restricts nothing. Addresses are host order. */
#ifndef UNILANG_NETPOLICY_H
#define UNILANG_NETPOLICY_H

#include <stdint.h>

/* What a bind, listen or send refused by the policy returns. */
#define UNILANG_NET_EPOLICY (-4)

struct unilang_port_rule {
    uint8_t ipproto;   /* 6 tcp, 17 udp */
    uint16_t low, high; /* inclusive */
};
struct unilang_peer_rule {
    uint32_t addr, mask; /* addr has no bits outside mask */
};
struct unilang_netpolicy {
    uint8_t restrict_listen; /* 0: any port may be bound */
    uint8_t restrict_peers;  /* 0: any peer */
    uint8_t may_send;
    uint16_t nlisten, npeers;
    const struct unilang_port_rule *listen;
    const struct unilang_peer_rule *peers;
};
extern const struct unilang_netpolicy unilang_netpolicy;

/* 1 when the policy lets the image listen on `port` of IP protocol `ipproto`, else 0. */
int unilang_policy_may_listen(uint8_t ipproto, uint16_t port);
/* 1 when the policy lets the image talk to `addr`, else 0. */
int unilang_policy_peer_allowed(uint32_t addr);
/* 1 when the policy lets the image send at all, else 0. */
int unilang_policy_may_send(void);

#endif /* UNILANG_NETPOLICY_H */
