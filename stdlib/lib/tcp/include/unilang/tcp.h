/* The TCP API for apps (stdlib/lib/tcp), over ipv4 and the link below it.
 *
 * Polled, no threads, like udp: the app calls unilang_net_poll() in a loop;
 * tcp's timers (retransmission, TIME_WAIT, ...) advance from the monotonic
 * clock inside that poll, and data queued with unilang_tcp_send() goes out at
 * the end of the poll step (or of the next one).  Connection handles are
 * small ints (an index into a fixed table of `max_connections` slots); data
 * pointers are valid only during the callback.  Every accepted connection
 * gets exactly one `closed` call, also after unilang_tcp_abort(). */
#ifndef UNILANG_TCP_H
#define UNILANG_TCP_H

#include <stdint.h>
#include <unilang/ethernet.h>
#include <unilang/ipv4.h>

struct unilang_tcp_callbacks {
    /* A new connection on a listening port reached ESTABLISHED. */
    void (*accepted)(int conn, void *ctx);
    /* In-order bytes arrived (never out of order, never duplicated). */
    void (*received)(int conn, const uint8_t *data, unsigned len, void *ctx);
    /* Send space grew (ACKed data freed the send buffer); may be NULL. */
    void (*writable)(int conn, void *ctx);
    /* The peer sent FIN (no more data will arrive); may be NULL, and then
     * the library closes our side too (after the queued data). */
    void (*peer_closed)(int conn, void *ctx);
    /* The connection is gone (closed, reset or timed out); the handle is free after this. */
    void (*closed)(int conn, void *ctx);
};

/* Listen on `port`; a listener number >= 0, or a negative UNILANG_TCP_E* error.
 * `cb` (and ctx) must stay valid: it is kept, not copied. */
int unilang_tcp_listen(uint16_t port, const struct unilang_tcp_callbacks *cb, void *ctx);
/* Queue up to len bytes; returns bytes accepted (0 when the send buffer is full), or < 0. */
int unilang_tcp_send(int conn, const void *data, unsigned len);
/* Free bytes in the connection's send buffer. */
unsigned unilang_tcp_send_space(int conn);
/* Send FIN after the queued data (graceful close). */
void unilang_tcp_close(int conn);
/* Send RST and free the connection at once. */
void unilang_tcp_abort(int conn);

/* Errors (negative) */
#define UNILANG_TCP_EINVAL   (-1)  /* bad argument (port 0, bad handle) */
#define UNILANG_TCP_EINUSE   (-2)  /* port already listened on */
#define UNILANG_TCP_EFULL    (-3)  /* listener table full */
#define UNILANG_TCP_EPOLICY  (-4)  /* the image's network policy (its `listen`) forbids this port: UNILANG_NET_EPOLICY of <unilang/netpolicy.h>, counted in policy_refused_listen */

#define UNILANG_IP_TCP 6u

/* Counters: what arrived and left, each reason a segment was dropped, and
 * what happened to connections. */
struct unilang_tcp_stats {
    uint64_t segs_rx, segs_tx, retransmits, rst_rx, rst_tx;
    uint64_t opened, closed, reset, timed_out, current;
    uint64_t syn_refused, syn_evicted;
    uint64_t drop_short, drop_offset, drop_checksum, drop_address, drop_flags, drop_options;
    uint64_t drop_no_conn, drop_window, drop_ack, drop_syn, drop_rst, drop_out_of_order;
    uint64_t fast_retransmits; /* of the retransmits: after 3 duplicate ACKs */
};
extern struct unilang_tcp_stats unilang_tcp_stats;

#endif /* UNILANG_TCP_H */
