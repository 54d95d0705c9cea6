/* Echo every byte back on its connection.  The window tcp advertises is
 * capped by the free send buffer, so an echo always fits: a short send would
 * be a bug, and is counted (short_sends) for the tests to assert 0.  A
 * connection whose first data is exactly `close` is closed by us first (the
 * path through TIME_WAIT); one whose first data is exactly `blast` gets
 * BLAST bytes of a fixed pattern (byte i = (i * 31 + (i >> 11)) & 255),
 * refilled from the writable callback, then our FIN; one whose first data
 * is exactly `quit` ends the
 * loop; then every counter is printed as name=value and main returns 0. */
#include <stdio.h>
#include <string.h>
#include <unilang/tcp.h>

static int done;
static unsigned long long accepted, closed, peer_fins, echoed, short_sends;
static unsigned long long seen[64]; /* bytes received per handle (max_connections <= 64) */
static unsigned blast_left[64], blast_pos[64];

#define BLAST 100000u

static void fill(int c)
{
    uint8_t buf[512];
    while (blast_left[c] > 0) {
        unsigned n = blast_left[c] < sizeof buf ? blast_left[c] : sizeof buf;
        for (unsigned i = 0; i < n; i++) {
            unsigned k = blast_pos[c] + i;
            buf[i] = (uint8_t)(k * 31u + (k >> 11));
        }
        int sent = unilang_tcp_send(c, buf, n);
        if (sent <= 0) return; /* full: the writable callback comes back */
        blast_left[c] -= (unsigned)sent;
        blast_pos[c] += (unsigned)sent;
    }
    unilang_tcp_close(c);
}

static void on_writable(int c, void *ctx)
{
    (void)ctx;
    if (c >= 0 && c < 64 && blast_left[c] > 0) fill(c);
}

static void on_accepted(int c, void *ctx)
{
    (void)ctx;
    accepted++;
    if (c >= 0 && c < 64) seen[c] = blast_left[c] = blast_pos[c] = 0;
}

static void on_received(int c, const uint8_t *data, unsigned len, void *ctx)
{
    (void)ctx;
    if (c >= 0 && c < 64) {
        if (seen[c] == 0 && len == 4 && memcmp(data, "quit", 4) == 0) {
            done = 1;
            unilang_tcp_close(c);
            return;
        }
        if (seen[c] == 0 && len == 5 && memcmp(data, "close", 5) == 0) {
            unilang_tcp_close(c);
            return;
        }
        if (seen[c] == 0 && len == 5 && memcmp(data, "blast", 5) == 0) {
            seen[c] = len;
            blast_left[c] = BLAST;
            fill(c);
            return;
        }
        if (blast_left[c] > 0) return; /* nothing else is echoed while blasting */
        seen[c] += len;
    }
    int n = unilang_tcp_send(c, data, len);
    if (n > 0) echoed += (unsigned)n;
    if (n != (int)len) short_sends++;
}

static void on_peer_closed(int c, void *ctx)
{
    (void)ctx;
    peer_fins++;
    if (c < 0 || c >= 64 || blast_left[c] == 0)
        unilang_tcp_close(c); /* after the echoes still queued (a blast closes when done) */
}

static void on_closed(int c, void *ctx)
{
    (void)c;
    (void)ctx;
    closed++;
}

static const struct unilang_tcp_callbacks cbs = {
    .accepted = on_accepted,
    .received = on_received,
    .writable = on_writable,
    .peer_closed = on_peer_closed,
    .closed = on_closed,
};

#define T(f) printf("tcp_" #f "=%llu\n", (unsigned long long)t->f)
#define S(f) printf(#f "=%llu\n", (unsigned long long)s->f)

int main(void)
{
    int l = unilang_tcp_listen(7, &cbs, 0);
    if (l < 0 || unilang_tcp_listen(7, &cbs, 0) != UNILANG_TCP_EINUSE ||
        unilang_tcp_listen(0, &cbs, 0) != UNILANG_TCP_EINVAL) {
        printf("tcp-echo: listen failed (%d)\n", l);
        return 1;
    }
    printf("tcp-echo: listening on port 7\n");
    while (!done) unilang_net_poll();
    /* let the FIN of the quit connection out */
    for (int i = 0; i < 1000; i++) unilang_net_poll();
    const struct unilang_tcp_stats *t = &unilang_tcp_stats;
    const struct unilang_net_stats *s = &unilang_net_stats;
    T(segs_rx); T(segs_tx); T(retransmits); T(rst_rx); T(rst_tx);
    T(opened); T(closed); T(reset); T(timed_out); T(current);
    T(syn_refused); T(syn_evicted);
    T(drop_short); T(drop_offset); T(drop_checksum); T(drop_address); T(drop_flags);
    T(drop_options); T(drop_no_conn); T(drop_window); T(drop_ack); T(drop_syn); T(drop_rst);
    T(drop_out_of_order); T(fast_retransmits);
    S(ip_rx); S(ip_tx); S(ip_drop_protocol); S(eth_rx); S(eth_tx); S(arp_learned); S(arp_unresolved);
    printf("link_tx_queue_full=%llu\n", (unsigned long long)unilang_link_stats.tx_queue_full);
    printf("app_accepted=%llu\napp_closed=%llu\napp_peer_fins=%llu\napp_echoed=%llu\n"
           "app_short_sends=%llu\n", accepted, closed, peer_fins, echoed, short_sends);
    printf("tcp-echo: done\n");
    return 0;
}
