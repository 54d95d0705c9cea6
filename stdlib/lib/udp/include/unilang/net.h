/* The network API for apps (stdlib/lib/udp, with ethernet, ipv4 and the link below it).
 *
 * Polled, no threads: call unilang_net_poll() in a loop; it hands every
 * datagram that arrived for a bound port to that socket's receive function.
 * Addresses and ports are host-order integers.  Counters of everything
 * received, sent and dropped (and why) are in unilang_net_stats (the stack)
 * and unilang_link_stats (the driver). */
#ifndef UNILANG_NET_H
#define UNILANG_NET_H

#include <stdint.h>
#include <unilang/ethernet.h>
#include <unilang/ipv4.h>
#include <unilang/netlink.h>
#include <unilang/netpolicy.h>

#define UNILANG_UDP_MAX_PAYLOAD 1472u /* 1500 - 20 - 8 */

/* A datagram for a bound port: its sender and its data (valid during the call). */
typedef void (*unilang_udp_recv_fn)(int sock, uint32_t src, uint16_t src_port,
                                    const uint8_t *data, unsigned len, void *ctx);

/* What unilang_udp_bind returns for a port the image's network policy does not
 * allow (its `listen`), and unilang_udp_send when the policy refuses the send. */
#define UNILANG_UDP_EPOLICY UNILANG_NET_EPOLICY

/* Bind `port`; a socket number >= 0, or -1 (port 0, already bound, table full),
 * or UNILANG_UDP_EPOLICY (-4, counted in policy_refused_listen) when the
 * policy does not allow it. */
int unilang_udp_bind(uint16_t port, unilang_udp_recv_fn fn, void *ctx);
void unilang_udp_close(int sock);
/* Send from the socket's port; 0, or -1 when dropped (counted), or
 * UNILANG_UDP_EPOLICY when the policy refuses it (counted in policy_drop_send). */
int unilang_udp_send(int sock, uint32_t dst, uint16_t dst_port, const void *data, unsigned len);

#endif /* UNILANG_NET_H */
