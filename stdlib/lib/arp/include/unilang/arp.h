/* Library arp: IPv4 address resolution (stdlib/lib/arp). Addresses are host-order uint32_t. */
#ifndef UNILANG_ARP_H
#define UNILANG_ARP_H

#include <stdint.h>

/* Our address (ipv4 sets it at start); announces it with a gratuitous ARP. */
void unilang_arp_set_address(uint32_t ip);
/* The same, but first asks for `ask`'s MAC (when nonzero, not `ip` and not
 * cached): ipv4 passes the gateway, whose reply then arrives ahead of the
 * packets a neighbour held until it knew our MAC. */
void unilang_arp_start(uint32_t ip, uint32_t ask);
/* 0 and the MAC when `ip` is in the cache; else -1 after sending a request. */
int unilang_arp_resolve(uint32_t ip, uint8_t mac[6]);

#endif /* UNILANG_ARP_H */
