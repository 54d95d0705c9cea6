/* Library ipv4 (stdlib/lib/ipv4). Addresses are host-order uint32_t. */
#ifndef UNILANG_IPV4_H
#define UNILANG_IPV4_H

#include <stdint.h>

#define UNILANG_IPV4_HLEN 20u
#define UNILANG_IPV4_MAX_PAYLOAD 1480u /* 1500 - 20: nothing is fragmented */
#define UNILANG_IP_ICMP 1u
#define UNILANG_IP_UDP 17u

/* This interface's address. */
uint32_t unilang_ipv4_address(void);
/* Set the address, netmask and gateway (the net.addr provider does: ipv4's
 * static parameters by default, or dhcp) and announce the address with a
 * gratuitous ARP; 0, or -1 (non-contiguous mask, or not a unicast host
 * address on that network) leaving the old values.  Until an address is set
 * the interface is 0.0.0.0 and sends only to 255.255.255.255. */
int unilang_ipv4_configure(uint32_t addr, uint32_t mask, uint32_t gw);
/* Apply the static `address`, `netmask` and `gateway` parameters (what
 * ipv4_init does unless dhcp is selected; dhcp's fallback); 0, or -1 with a
 * console message when one is not a dotted quad (the interface stays down). */
int unilang_ipv4_configure_static(void);
/* A protocol's receive function: the packet's addresses and its payload. */
typedef void (*unilang_ipv4_handler)(uint32_t src, uint32_t dst, const uint8_t *payload,
                                     unsigned len);
/* 0, or -1 when the table (4 protocols) is full; registering a protocol
 * again replaces its function. */
int unilang_ipv4_register(uint8_t protocol, unilang_ipv4_handler fn);
/* Send one packet (DF set); 0, or -1 when it was dropped (counted: too long,
 * or the next hop's MAC is not known yet, in which case it was asked for), or
 * UNILANG_NET_EPOLICY (-4) when the network policy refuses it (<unilang/netpolicy.h>:
 * `send = false`, or a unicast destination outside `peers`; counted). */
int unilang_ipv4_send(uint32_t dst, uint8_t protocol, const void *payload, unsigned len);
/* "a.b.c.d" -> 0 and *out; -1 if it is not a dotted quad. */
int unilang_ipv4_parse(const char *s, uint32_t *out);
/* The Internet checksum (RFC 1071): add bytes to a running sum, then fold and invert. */
uint32_t unilang_csum_add(uint32_t sum, const uint8_t *p, unsigned len);
uint16_t unilang_csum_fold(uint32_t sum);
/* The running sum of the pseudo-header a UDP or TCP checksum covers. */
uint32_t unilang_ipv4_pseudo_sum(uint32_t src, uint32_t dst, uint8_t protocol, unsigned len);

#endif /* UNILANG_IPV4_H */
