/* Host driver for stdlib/lib/tcp (with the real ipv4 below it): a seeded
 * fuzz of segments from a few peers, near and far from the sequence numbers
 * the guest uses, with a fake clock and an app that sends, closes and aborts
 * at random.  Built with the sanitizers by tests/test_runtime_host.py.
 *
 * Checked after every step: every frame tcp sends is a well-formed IPv4/TCP
 * packet (lengths, both checksums, data offset, flags, MSS option on SYN,
 * no more data than the MSS), the slots in use never exceed the table, and
 * the app sees `accepted` and `closed` strictly alternating per handle.
 * Usage: tcp_driver SEED STEPS; prints the counters, exits 1 on a violation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unilang/arp.h>
#include <unilang/conio.h>
#include <unilang/ethernet.h>
#include <unilang/ipv4.h>
#include <unilang/tcp.h>

#define N UNILANG_PARAM_TCP_MAX_CONNECTIONS
#define GUEST 0x0a00020fu
#define PEER 0x0a000202u
#define NPORTS 12

struct unilang_net_stats unilang_net_stats;
static unilang_eth_handler ip_input;
static void (*poll_hook)(void);
static unsigned long long now_ns = 1000000;
static uint64_t rng_state;
static unsigned long frames_out, violations;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static void fail(const char *what)
{
    printf("VIOLATION: %s\n", what);
    violations++;
}

/* ---- what the stack below and beside tcp would provide ---- */
int unilang_eth_register(uint16_t type, unilang_eth_handler fn)
{
    if (type == UNILANG_ETHERTYPE_IPV4) ip_input = fn;
    return 0;
}
int unilang_arp_resolve(uint32_t ip, uint8_t mac[6])
{
    (void)ip;
    if (rnd() % 64 == 0) return -1; /* an ARP miss now and then */
    memset(mac, 2, 6);
    return 0;
}
void unilang_arp_start(uint32_t ip, uint32_t ask) { (void)ip; (void)ask; }
void unilang_puts(const char *s) { puts(s); }
unsigned long long unilang_monotonic_ns(void) { return now_ns; }
unsigned long long unilang_tsc_hz(void) { return 1000000000ull; }
int unilang_net_on_poll(void (*fn)(void))
{
    poll_hook = fn;
    return 0;
}

/* the guest's view per peer port: its next sequence number, what it ACKs */
static struct {
    uint16_t port;
    uint32_t my_seq, guest_seq, guest_ack;
    int seen;
} peers[NPORTS];

int unilang_eth_send(const uint8_t dst[6], uint16_t type, const void *payload, unsigned len)
{
    (void)dst;
    const uint8_t *p = payload;
    frames_out++;
    if (type != UNILANG_ETHERTYPE_IPV4 || len < 40 || len > 1500) {
        fail("frame type or length");
        return 0;
    }
    unsigned total = unilang_get16(p + 2);
    if (p[0] != 0x45 || total != len || p[9] != UNILANG_IP_TCP ||
        unilang_csum_fold(unilang_csum_add(0, p, 20)) != 0) {
        fail("IPv4 header");
        return 0;
    }
    const uint8_t *t = p + 20;
    unsigned tlen = len - 20, hl = (t[12] >> 4) * 4u;
    uint8_t fl = t[13];
    uint32_t ph = unilang_ipv4_pseudo_sum(GUEST, unilang_get32(p + 16), UNILANG_IP_TCP, tlen);
    if (unilang_csum_fold(unilang_csum_add(ph, t, tlen)) != 0) fail("TCP checksum");
    if (hl != ((fl & 2) ? 24u : 20u) || hl > tlen) fail("data offset");
    if ((fl & 2) && (t[20] != 2 || t[21] != 4 || unilang_get16(t + 22) != UNILANG_PARAM_TCP_MSS))
        fail("MSS option");
    if ((fl & 2) && (fl & 5)) fail("SYN with FIN or RST");
    if (tlen - hl > UNILANG_PARAM_TCP_MSS) fail("segment beyond the MSS");
    if (!(fl & 4) && unilang_get16(t) != 7 && unilang_get16(t) != 8) fail("source port");
    uint16_t dport = unilang_get16(t + 2);
    for (int i = 0; i < NPORTS; i++)
        if (peers[i].port == dport && !(fl & 4)) {
            peers[i].guest_seq = unilang_get32(t + 4) + (tlen - hl) + (fl & 1) + ((fl >> 1) & 1);
            peers[i].guest_ack = unilang_get32(t + 8);
            peers[i].seen = 1;
        }
    return 0;
}

/* ---- the app ---- */
static int open_[N];
static unsigned long long accepted, closed, received_bytes;
static uint8_t junk[3000];

static void on_accepted(int c, void *ctx)
{
    (void)ctx;
    if (c < 0 || c >= N || open_[c]) fail("accepted: bad or busy handle");
    else open_[c] = 1;
    accepted++;
    if (rnd() % 4 == 0) unilang_tcp_send(c, junk, rnd() % sizeof junk);
}
static void on_received(int c, const uint8_t *d, unsigned n, void *ctx)
{
    (void)ctx;
    if (c < 0 || c >= N || !open_[c]) fail("received on a handle not open");
    received_bytes += n;
    switch (rnd() % 40) {
    case 0: unilang_tcp_abort(c); break;
    case 1: unilang_tcp_close(c); break;
    default: unilang_tcp_send(c, d, n); break;
    }
}
static void on_writable(int c, void *ctx)
{
    (void)ctx;
    if (c < 0 || c >= N || !open_[c]) fail("writable on a handle not open");
    if (rnd() % 3 == 0) unilang_tcp_send(c, junk, rnd() % sizeof junk);
}
static void on_peer_closed(int c, void *ctx)
{
    (void)ctx;
    if (c < 0 || c >= N || !open_[c]) fail("peer_closed on a handle not open");
    if (rnd() % 2) unilang_tcp_close(c);
}
static void on_closed(int c, void *ctx)
{
    (void)ctx;
    if (c < 0 || c >= N || !open_[c]) fail("closed on a handle not open");
    else open_[c] = 0;
    closed++;
    if (c >= 0 && unilang_tcp_send(c, "x", 1) >= 0) fail("send after closed");
}
static const struct unilang_tcp_callbacks cbs = {on_accepted, on_received, on_writable,
                                                 on_peer_closed, on_closed};
static const struct unilang_tcp_callbacks cbs2 = {on_accepted, on_received, 0, 0, on_closed};

/* ---- segments from the peers ---- */
static uint8_t pkt[1600];

static void deliver(unsigned tlen, int mangle_ip)
{
    uint8_t *h = pkt;
    h[0] = 0x45;
    h[1] = 0;
    unilang_put16(h + 2, (uint16_t)(20 + tlen));
    unilang_put32(h + 4, 0);
    h[6] = 0x40;
    h[8] = 64;
    h[9] = UNILANG_IP_TCP;
    unilang_put16(h + 10, 0);
    unilang_put32(h + 12, PEER);
    unilang_put32(h + 16, mangle_ip ? 0xffffffffu : GUEST);
    unilang_put16(h + 10, unilang_csum_fold(unilang_csum_add(0, h, 20)));
    uint8_t src[6] = {2, 2, 2, 2, 2, 2};
    ip_input(src, pkt, 20 + tlen);
}

static void segment(void)
{
    int i = (int)(rnd() % NPORTS);
    uint8_t *t = pkt + 20;
    uint16_t dport = rnd() % 16 == 0 ? (uint16_t)rnd() : (rnd() % 8 == 0 ? 8 : 7);
    uint32_t seq = peers[i].my_seq, ack = peers[i].guest_seq;
    switch (rnd() % 8) { /* near or far sequence and acknowledgement numbers */
    case 0: seq = rnd(); break;
    case 1: seq += rnd() % 20000 - 10000; break;
    case 2: ack = rnd(); break;
    case 3: ack += rnd() % 4000 - 2000; break;
    case 4: ack = peers[i].guest_ack; break;
    default: break;
    }
    static const uint8_t flagset[] = {2, 2, 16, 16, 16, 24, 24, 17, 4, 20, 18, 3, 6, 0, 1, 41};
    uint8_t fl = rnd() % 10 == 0 ? (uint8_t)rnd() : flagset[rnd() % sizeof flagset];
    unsigned optlen = 0;
    if (fl & 2) optlen = rnd() % 3 == 0 ? (rnd() % 11) * 4 : 4;
    unsigned dlen = rnd() % 4 == 0 ? rnd() % 1461 : rnd() % 50;
    if (rnd() % 3 == 0) dlen = 0;
    unilang_put16(t, peers[i].port);
    unilang_put16(t + 2, dport);
    unilang_put32(t + 4, seq);
    unilang_put32(t + 8, ack);
    t[12] = (uint8_t)((5 + optlen / 4) << 4);
    t[13] = fl;
    unilang_put16(t + 14, rnd() % 8 == 0 ? 0 : (uint16_t)(rnd() % 4 == 0 ? rnd() : 65535));
    unilang_put32(t + 16, 0);
    for (unsigned k = 0; k < optlen; k++) t[20 + k] = (uint8_t)rnd();
    if (optlen >= 4 && rnd() % 2) { /* a valid MSS option, any value */
        t[20] = 2;
        t[21] = 4;
    }
    for (unsigned k = 0; k < dlen; k++) t[20 + optlen + k] = (uint8_t)rnd();
    unsigned tlen = 20 + optlen + dlen;
    if (rnd() % 20 == 0) t[12] = (uint8_t)(rnd() & 0xf0); /* any data offset */
    uint32_t ph = unilang_ipv4_pseudo_sum(PEER, GUEST, UNILANG_IP_TCP, tlen);
    unilang_put16(t + 16, unilang_csum_fold(unilang_csum_add(ph, t, tlen)));
    if (rnd() % 30 == 0) t[rnd() % tlen] ^= (uint8_t)(1u << (rnd() % 8)); /* bad checksum */
    if (rnd() % 30 == 0) tlen = rnd() % tlen;                             /* cut short */
    if ((fl & 2) && !(fl & 16)) peers[i].my_seq = seq + 1;
    else if (!(fl & 4)) peers[i].my_seq = seq + dlen + (fl & 1);
    if (rnd() % 16 == 0) peers[i].my_seq = peers[i].guest_ack; /* resynchronise */
    deliver(tlen, rnd() % 200 == 0);
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    rng_state = strtoull(argv[1], 0, 10);
    long steps = strtol(argv[2], 0, 10);
    for (unsigned k = 0; k < sizeof junk; k++) junk[k] = (uint8_t)k;
    for (int i = 0; i < NPORTS; i++) peers[i].port = (uint16_t)(40000 + i), peers[i].my_seq = rnd();
    void ipv4_init(void);
    void tcp_init(void);
    ipv4_init();
    tcp_init();
    if (!ip_input || !poll_hook) return 3;
    if (unilang_tcp_listen(7, &cbs, 0) < 0 || unilang_tcp_listen(8, &cbs2, 0) < 0 ||
        unilang_tcp_listen(7, &cbs, 0) != UNILANG_TCP_EINUSE ||
        unilang_tcp_listen(0, &cbs, 0) != UNILANG_TCP_EINVAL)
        fail("listen");
    for (long s = 0; s < steps; s++) {
        segment();
        if (rnd() % 4 == 0) poll_hook();
        unsigned r = rnd() % 100;
        now_ns += r < 80 ? rnd() % 2000000 : r < 98 ? rnd() % 400000000 : 5000000000ull;
        poll_hook();
        if (rnd() % 50 == 0) { /* the API with any handle */
            int c = (int)(rnd() % (N + 4)) - 2;
            switch (rnd() % 4) {
            case 0: unilang_tcp_send(c, junk, rnd() % 100); break;
            case 1: (void)unilang_tcp_send_space(c); break;
            case 2: unilang_tcp_close(c); break;
            default: unilang_tcp_abort(c); break;
            }
        }
        unsigned open_now = 0;
        for (int c = 0; c < N; c++) open_now += (unsigned)open_[c];
        if (unilang_tcp_stats.current > N || open_now > unilang_tcp_stats.current)
            fail("more connections than slots");
        if (violations > 10) break;
    }
    /* a long quiet time: every timer runs out, every slot comes back */
    for (int k = 0; k < 200; k++) {
        now_ns += 2000000000ull;
        poll_hook();
    }
    const struct unilang_tcp_stats *t = &unilang_tcp_stats;
    printf("frames_out=%lu accepted=%llu closed=%llu received=%llu segs_rx=%llu current=%llu "
           "opened=%llu reset=%llu timed_out=%llu retransmits=%llu syn_evicted=%llu "
           "drop_window=%llu drop_out_of_order=%llu drop_flags=%llu drop_checksum=%llu\n",
           frames_out, accepted, closed, received_bytes, (unsigned long long)t->segs_rx,
           (unsigned long long)t->current, (unsigned long long)t->opened,
           (unsigned long long)t->reset, (unsigned long long)t->timed_out,
           (unsigned long long)t->retransmits, (unsigned long long)t->syn_evicted,
           (unsigned long long)t->drop_window, (unsigned long long)t->drop_out_of_order,
           (unsigned long long)t->drop_flags, (unsigned long long)t->drop_checksum);
    unsigned open_now = 0;
    for (int c = 0; c < N; c++) open_now += (unsigned)open_[c];
    if (open_now != 0 && t->current == 0) fail("handles open after every slot was freed");
    return violations ? 1 : 0;
}
