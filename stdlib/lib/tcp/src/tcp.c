/* TCP (RFC 9293) over ipv4, passive open only.  One static table of
 * connection slots, each with its send ring; nothing is allocated.  Received
 * in-order data goes straight to the app (no receive buffer); out-of-order
 * segments are dropped, counted, and answered with an ACK of rcv_nxt.  See
 * README.md for the state machine and the limits. */
#include <stdint.h>
#include <unilang/ethernet.h>
#include <unilang/ipv4.h>
#include <unilang/netpolicy.h>
#include <unilang/runtime.h> /* UNILANG_PARAM_* */
#include <unilang/tcp.h>
#include <unilang/tsc-clock.h>

#define N UNILANG_PARAM_TCP_MAX_CONNECTIONS
#define NL UNILANG_PARAM_TCP_MAX_LISTENERS
#define SB ((uint32_t)UNILANG_PARAM_TCP_SEND_BUFFER)
#define RW ((uint32_t)UNILANG_PARAM_TCP_RECV_WINDOW)
#define MSS ((uint32_t)UNILANG_PARAM_TCP_MSS)
#define RTO_INIT ((uint32_t)UNILANG_PARAM_TCP_RTO_INITIAL_MS * 1000u) /* microseconds */
#define TIME_WAIT_NS ((uint64_t)UNILANG_PARAM_TCP_TIME_WAIT_MS * 1000000u)
#define RTO_MIN 200000u          /* us */
#define RTO_MAX 30000000u        /* us */
#define RETRIES 8                /* retransmissions (or zero-window probes) without progress */
#define SYN_RETRIES 3            /* SYN-ACKs resent before a half-open slot is freed */
#define FIN_WAIT_2_NS 30000000000ull
#define MSS_MIN 64u
#define ARP_RETRY_NS 20000000ull /* a SYN-ACK lost to an ARP miss is resent this soon */
#define ARP_RETRIES 3
#define HLEN 20u
/* ACK-window update threshold (receiver-side silly window avoidance) */
#define WND_STEP (MSS < RW / 2 ? MSS : RW / 2)

enum { FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16 };
enum { FREE, SYN_RCVD, ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, FIN_WAIT_2, CLOSING, LAST_ACK,
       TIME_WAIT };
enum { F_APP = 1, F_OUT = 2, F_ACKNOW = 4, F_FINQ = 8 };

#define LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define LE(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)

struct conn {
    uint8_t state, flags, lst, retries;
    uint16_t lport, rport, mss;
    uint8_t arp;     /* fast SYN-ACK resends left while the peer's MAC is unknown */
    uint8_t dupacks; /* duplicate ACKs in a row (3: fast retransmit) */
    uint32_t raddr, born;
    uint32_t iss, snd_una, snd_nxt, snd_wnd, wl1, wl2, cwnd;
    uint32_t snd_max; /* the highest sequence number sent (snd_nxt goes back on a timeout) */
    uint32_t rcv_nxt, rcv_adv;
    uint32_t head, len; /* send ring: index of the byte at snd_una, bytes queued */
    uint32_t rto, srtt, rttvar, rtt_seq; /* microseconds */
    uint64_t rtt_t, deadline;            /* ns; 0 = not running */
};

struct seg {
    uint32_t seq, ack;
    uint16_t wnd;
    uint8_t fl;
    const uint8_t *data;
    unsigned dlen;
};

struct unilang_tcp_stats unilang_tcp_stats;
#define S unilang_tcp_stats

static struct conn conns[N];
/* Send rings are only read where unilang_tcp_send wrote them, so the boot
 * need not clear them (.bss.unilang_noinit: clearing 64 x 8 KiB is ~64k
 * emulated steps where the hypervisor emulates the guest; docs/network.md) */
static uint8_t ring[N][SB] __attribute__((section(".bss.unilang_noinit"), aligned(64)));
static struct {
    uint16_t port;
    const struct unilang_tcp_callbacks *cb;
    void *ctx;
} lsts[NL];
static uint8_t out[HLEN + 4 + MSS];
static uint64_t next_deadline = ~0ull;
static uint32_t secret, serial;
static int want_output;
static int arp_wait;         /* a SYN-ACK waits for a MAC: resend when ARP learns one */
static uint64_t arp_learned; /* unilang_net_stats.arp_learned when that SYN-ACK failed */

#define IDX(c) ((int)((c) - conns))
#define CB(c) (lsts[(c)->lst].cb)
#define CTX(c) (lsts[(c)->lst].ctx)

static void arm(struct conn *c, uint64_t at)
{
    c->deadline = at;
    if (at < next_deadline) next_deadline = at;
}

static void schedule(struct conn *c, uint8_t f)
{
    c->flags |= (uint8_t)(F_OUT | f);
    want_output = 1;
}

/* The window we advertise: recv_window, capped by the free send buffer (an
 * app that answers each byte with at most one never has to hold data), never
 * moving the right edge left, and moved right only by WND_STEP or more. */
static uint16_t rwnd(struct conn *c)
{
    uint32_t w = SB - c->len < RW ? SB - c->len : RW;
    uint32_t edge = c->rcv_nxt + w;
    if (!LT(edge, c->rcv_adv + WND_STEP) || (w == RW && LT(c->rcv_adv, edge))) c->rcv_adv = edge;
    if (LT(c->rcv_adv, c->rcv_nxt)) c->rcv_adv = c->rcv_nxt;
    return (uint16_t)(c->rcv_adv - c->rcv_nxt);
}

static int xmit(uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                 uint8_t flags, uint16_t wnd, const uint8_t *buf, uint32_t pos, uint32_t n)
{
    unsigned hl = flags & SYN ? HLEN + 4 : HLEN;
    unilang_put16(out, sport);
    unilang_put16(out + 2, dport);
    unilang_put32(out + 4, seq);
    unilang_put32(out + 8, flags & ACK ? ack : 0);
    out[12] = (uint8_t)(hl << 2);
    out[13] = flags;
    unilang_put16(out + 14, wnd);
    unilang_put32(out + 16, 0); /* checksum, urgent pointer */
    if (flags & SYN) {          /* MSS option */
        unilang_put32(out + HLEN, 0x02040000u | MSS);
    }
    if (n != 0) { /* the ring may wrap once */
        uint32_t first = n < SB - pos ? n : SB - pos;
        unilang_link_copy(out + hl, buf + pos, first);
        unilang_link_copy(out + hl + first, buf, n - first);
    }
    uint32_t ph = unilang_ipv4_pseudo_sum(unilang_ipv4_address(), dst, UNILANG_IP_TCP, hl + n);
    unilang_put16(out + 16, unilang_csum_fold(unilang_csum_add(ph, out, hl + n)));
    if (unilang_ipv4_send(dst, UNILANG_IP_TCP, out, hl + n) < 0) return -1;
    S.segs_tx++;
    if (flags & RST) S.rst_tx++;
    return 0;
}

static int send_seg(struct conn *c, uint32_t seq, uint8_t flags, uint32_t off, uint32_t n)
{
    uint32_t pos = c->head + off;
    if (pos >= SB) pos -= SB;
    c->flags &= (uint8_t)~F_ACKNOW;
    return xmit(c->raddr, c->lport, c->rport, seq, c->rcv_nxt, flags, rwnd(c), ring[IDX(c)],
                pos, n);
}

/* The SYN-ACK, resent soon (not after a whole RTO) when it could not leave
 * because the peer's MAC was not known yet: ipv4 has asked ARP for it. */
static void syn_ack(struct conn *c, uint64_t now)
{
    uint64_t learned = unilang_net_stats.arp_learned;
    if (send_seg(c, c->iss, SYN | ACK, 0, 0) < 0 && c->arp > 0) {
        c->arp--;
        arm(c, now + ARP_RETRY_NS);
        arp_wait = 1;
        arp_learned = learned;
    } else {
        c->arp = 0;
        arm(c, now + (uint64_t)c->rto * 1000u);
    }
}

/* A reset for a segment that has no connection (RFC 9293 3.10.7.1). */
static void reset_reply(uint32_t src, uint16_t sport, uint16_t dport, const struct seg *g)
{
    if (g->fl & ACK)
        xmit(src, dport, sport, g->ack, 0, RST, 0, 0, 0, 0);
    else
        xmit(src, dport, sport, 0, g->seq + g->dlen + (g->fl & SYN ? 1 : 0) + (g->fl & FIN),
             RST | ACK, 0, 0, 0, 0);
}

/* Tell the app (once) that an accepted connection is gone. */
static void notify(struct conn *c)
{
    if (!(c->flags & F_APP)) return;
    c->flags &= (uint8_t)~F_APP;
    S.closed++;
    if (CB(c)->closed) CB(c)->closed(IDX(c), CTX(c));
}

static void release(struct conn *c)
{
    c->state = FREE;
    c->deadline = 0;
    S.current--;
    notify(c);
}

static void time_wait(struct conn *c, uint64_t now)
{
    c->state = TIME_WAIT;
    c->flags &= (uint8_t)~F_FINQ;
    arm(c, now + TIME_WAIT_NS);
    notify(c);
}

/* Send what the windows allow; `force` sends one byte (or the FIN) even into
 * a zero window: the probe after a timeout. */
static void output(struct conn *c, int force, uint64_t now)
{
    c->flags &= (uint8_t)~F_OUT;
    if (c->state == FREE) return;
    if (c->state == SYN_RCVD) {
        if (c->flags & F_ACKNOW) send_seg(c, c->iss, SYN | ACK, 0, 0);
        return;
    }
    for (;;) {
        uint32_t off = c->snd_nxt - c->snd_una;
        if (off > c->len) break; /* the FIN is out */
        uint32_t wnd = c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;
        uint32_t room = wnd > off ? wnd - off : 0;
        uint32_t n = c->len - off;
        if (n > room) n = room;
        if (n > c->mss) n = c->mss;
        int fin = (c->flags & F_FINQ) && off + n == c->len && room > n;
        if (force && n == 0 && !fin) {
            if (off < c->len) n = 1;
            else fin = (c->flags & F_FINQ) != 0;
        }
        if (n == 0 && !fin) break;
        force = 0;
        send_seg(c, c->snd_nxt, (uint8_t)(ACK | (fin ? FIN : 0) | (n ? PSH : 0)), off, n);
        if (c->rtt_t == 0 && c->snd_nxt == c->snd_max) { /* Karn: time new data only */
            c->rtt_t = now;
            c->rtt_seq = c->snd_nxt;
        }
        c->snd_nxt += n + (uint32_t)fin;
        if (LT(c->snd_max, c->snd_nxt)) c->snd_max = c->snd_nxt;
    }
    /* the retransmission timer runs while anything is unacknowledged, and
     * as the persist timer while data or the FIN waits for the window */
    uint32_t pending = c->len + (c->flags & F_FINQ ? 1u : 0u);
    if (c->deadline == 0 && (c->snd_max != c->snd_una || pending > c->snd_nxt - c->snd_una) &&
        c->state != TIME_WAIT && c->state != FIN_WAIT_2)
        arm(c, now + (uint64_t)c->rto * 1000u);
    if (c->flags & F_ACKNOW) send_seg(c, c->snd_max, ACK, 0, 0);
}

static void timeout(struct conn *c, uint64_t now)
{
    c->deadline = 0;
    if (c->state == TIME_WAIT) {
        release(c);
        return;
    }
    if (c->state == FIN_WAIT_2) {
        S.timed_out++;
        release(c);
        return;
    }
    if (c->state == SYN_RCVD && c->arp > 0) { /* not a retransmission: it never left */
        syn_ack(c, now);
        return;
    }
    if (++c->retries > (c->state == SYN_RCVD ? SYN_RETRIES : RETRIES)) {
        if (c->state != SYN_RCVD) {
            S.timed_out++;
            send_seg(c, c->snd_max, RST | ACK, 0, 0);
        }
        release(c);
        return;
    }
    S.retransmits++;
    c->rto = c->rto * 2 > RTO_MAX ? RTO_MAX : c->rto * 2;
    c->rtt_t = 0; /* Karn: no sample from a retransmitted segment */
    if (c->state == SYN_RCVD) {
        syn_ack(c, now);
        return;
    }
    c->snd_nxt = c->snd_una;
    c->cwnd = c->mss;
    output(c, 1, now);
}

static struct conn *alloc(void)
{
    struct conn *tw = 0, *half = 0;
    for (int i = 0; i < N; i++) {
        struct conn *c = &conns[i];
        if (c->state == FREE) {
            S.current++;
            return c;
        }
        if (c->state == TIME_WAIT && (tw == 0 || LT(c->born, tw->born))) tw = c;
        if (c->state == SYN_RCVD && (half == 0 || LT(c->born, half->born))) half = c;
    }
    if (tw) return tw;
    if (half) S.syn_evicted++;
    return half;
}

/* A SYN for a listening port: parse the MSS option, take a slot, SYN-ACK. */
static void passive_open(int l, uint32_t src, uint16_t sport, uint16_t dport, const uint8_t *p,
                         unsigned hl, const struct seg *g, uint64_t now)
{
    uint32_t mss = 536; /* RFC 9293: without the option */
    for (unsigned i = HLEN; i < hl;) {
        if (p[i] == 0) break;
        if (p[i] == 1) {
            i++;
            continue;
        }
        if (i + 1 >= hl || p[i + 1] < 2 || i + p[i + 1] > hl ||
            (p[i] == 2 && p[i + 1] != 4)) {
            S.drop_options++;
            return;
        }
        if (p[i] == 2) mss = unilang_get16(p + i + 2);
        i += p[i + 1];
    }
    struct conn *c = alloc();
    if (c == 0) {
        S.syn_refused++;
        reset_reply(src, sport, dport, g);
        return;
    }
    if (mss > MSS) mss = MSS;
    if (mss < MSS_MIN) mss = MSS_MIN;
    uint32_t h = (secret ^ src) * 0x9e3779b1u;
    h = (h ^ ((uint32_t)sport << 16 | dport)) * 0x85ebca6bu;
    h ^= h >> 15;
    *c = (struct conn){.state = SYN_RCVD, .lst = (uint8_t)l, .lport = dport, .rport = sport,
                       .mss = (uint16_t)mss, .raddr = src, .born = serial++,
                       .iss = h + (uint32_t)(now >> 12), /* RFC 6528: clock + keyed hash */
                       .snd_wnd = g->wnd, .wl1 = g->seq, .cwnd = 10 * mss,
                       .rcv_nxt = g->seq + 1, .rto = RTO_INIT, .arp = ARP_RETRIES};
    c->snd_una = c->iss;
    c->snd_nxt = c->snd_max = c->iss + 1;
    c->rcv_adv = c->rcv_nxt;
    syn_ack(c, now);
}

static int acceptable(const struct conn *c, uint32_t seq, uint32_t slen)
{
    /* seq == rcv_nxt always passes (RFC 9293: valid ACKs and RSTs are taken
     * even into a zero window; the data is then trimmed to the window) */
    if (seq == c->rcv_nxt) return 1;
    uint32_t last = seq + (slen ? slen - 1 : 0);
    return (LE(c->rcv_nxt, seq) && LT(seq, c->rcv_adv)) ||
           (slen && LE(c->rcv_nxt, last) && LT(last, c->rcv_adv));
}

static void rtt_sample(struct conn *c, uint64_t now)
{
    uint32_t r = (uint32_t)((now - c->rtt_t) / 1000u);
    c->rtt_t = 0;
    if (c->srtt == 0) {
        c->srtt = r + 1;
        c->rttvar = r / 2;
    } else {
        uint32_t d = c->srtt > r ? c->srtt - r : r - c->srtt;
        c->rttvar = (3 * c->rttvar + d) / 4;
        c->srtt = (7 * c->srtt + r) / 8;
    }
    uint32_t rto = c->srtt + 4 * c->rttvar;
    c->rto = rto < RTO_MIN ? RTO_MIN : rto > RTO_MAX ? RTO_MAX : rto;
}

/* A segment for a connection (RFC 9293 3.10.7.4, in its order). */
static void segment(struct conn *c, const struct seg *g, uint64_t now)
{
    uint8_t fl = g->fl;
    if (c->state == SYN_RCVD) {
        if (fl & SYN) { /* the peer resent its SYN: resend the SYN-ACK */
            if (g->seq == c->rcv_nxt - 1 && !(fl & ACK)) schedule(c, F_ACKNOW);
            else S.drop_syn++;
            return;
        }
        if (!acceptable(c, g->seq, g->dlen + (fl & FIN))) {
            S.drop_window++;
            return;
        }
        if (fl & RST) { /* back to LISTEN: the slot is free again */
            S.rst_rx++;
            release(c);
            return;
        }
        if (!(fl & ACK)) {
            S.drop_flags++;
            return;
        }
        if (g->ack != c->iss + 1) {
            S.drop_ack++;
            reset_reply(c->raddr, c->rport, c->lport, g);
            return;
        }
        c->state = ESTABLISHED;
        c->snd_una = c->iss + 1;
        c->snd_wnd = g->wnd;
        c->wl1 = g->seq;
        c->wl2 = g->ack;
        c->retries = 0;
        c->deadline = 0;
        c->rto = RTO_INIT;
        c->flags |= F_APP;
        S.opened++;
        if (CB(c)->accepted) CB(c)->accepted(IDX(c), CTX(c));
        if (c->state == FREE) return;
    }
    uint32_t slen = g->dlen + (fl & FIN);
    if (!acceptable(c, g->seq, slen)) {
        S.drop_window++;
        if (!(fl & RST)) schedule(c, F_ACKNOW); /* tells the peer what we expect */
        return;
    }
    if (fl & RST) {
        if (g->seq != c->rcv_nxt) { /* RFC 5961: in the window but not exact */
            S.drop_rst++;
            schedule(c, F_ACKNOW); /* challenge ACK */
            return;
        }
        S.rst_rx++;
        S.reset++;
        release(c);
        return;
    }
    if (fl & SYN) { /* RFC 5961 4.2: challenge ACK, drop */
        S.drop_syn++;
        schedule(c, F_ACKNOW);
        return;
    }
    if (!(fl & ACK)) {
        S.drop_flags++;
        return;
    }
    /* unsent or ancient; after a timeout snd_nxt went back to snd_una, and an
     * ACK of what was sent before it (up to snd_max) is still good news */
    if (LT(c->snd_max, g->ack) || LT(g->ack, c->snd_una - SB - 1)) {
        S.drop_ack++;
        schedule(c, F_ACKNOW);
        return;
    }
    int freed = 0;
    if (LT(c->snd_una, g->ack)) {
        uint32_t n = g->ack - c->snd_una, data = n > c->len ? c->len : n;
        c->head += data;
        if (c->head >= SB) c->head -= SB;
        c->len -= data;
        c->snd_una = g->ack;
        if (LT(c->snd_nxt, c->snd_una)) c->snd_nxt = c->snd_una; /* not resent again */
        c->retries = 0;
        c->dupacks = 0;
        if (c->rtt_t && LT(c->rtt_seq, g->ack)) rtt_sample(c, now);
        if (c->cwnd < 4 * SB) c->cwnd += c->mss;
        c->deadline = 0;
        if (c->snd_una != c->snd_max) arm(c, now + (uint64_t)c->rto * 1000u);
        freed = data != 0;
        if (n > data) { /* our FIN is acknowledged */
            c->flags &= (uint8_t)~F_FINQ;
            if (c->state == FIN_WAIT_1) {
                c->state = FIN_WAIT_2;
                arm(c, now + FIN_WAIT_2_NS);
            } else if (c->state == CLOSING) {
                time_wait(c, now);
            } else if (c->state == LAST_ACK) {
                release(c);
                return;
            }
        }
        /* the window we may advertise grew: say so when the step is worth it */
        uint32_t w = SB - c->len < RW ? SB - c->len : RW;
        if (!LT(c->rcv_nxt + w, c->rcv_adv + WND_STEP)) schedule(c, F_ACKNOW);
    } else if (g->ack == c->snd_una && slen == 0 && g->wnd == c->snd_wnd &&
               c->snd_max != c->snd_una && ++c->dupacks == 3) {
        /* RFC 5681 fast retransmit: the first unacknowledged segment, once */
        uint32_t n = c->len < c->mss ? c->len : c->mss;
        S.retransmits++;
        S.fast_retransmits++;
        c->rtt_t = 0;
        c->cwnd = c->cwnd / 2 > 2u * c->mss ? c->cwnd / 2 : 2u * c->mss;
        if (n) send_seg(c, c->snd_una, ACK | PSH, 0, n);
    }
    if (LT(c->wl1, g->seq) || (c->wl1 == g->seq && LE(c->wl2, g->ack))) {
        if (c->snd_wnd == 0 && g->wnd != 0) { /* the window opened: resend a probed byte */
            c->snd_nxt = c->snd_una;
            c->rtt_t = 0;
        }
        c->snd_wnd = g->wnd;
        c->wl1 = g->seq;
        c->wl2 = g->ack;
    }
    schedule(c, 0);
    if (freed && (c->state == ESTABLISHED || c->state == CLOSE_WAIT) && !(c->flags & F_FINQ) &&
        CB(c)->writable) {
        CB(c)->writable(IDX(c), CTX(c));
        if (c->state == FREE) return;
    }
    if (slen == 0) return;
    if (c->state != ESTABLISHED && c->state != FIN_WAIT_1 && c->state != FIN_WAIT_2) {
        schedule(c, F_ACKNOW); /* after the peer's FIN: nothing more can arrive */
        return;
    }
    uint32_t skip = c->rcv_nxt - g->seq, n = g->dlen;
    int fin = fl & FIN;
    if (LT(g->seq, c->rcv_nxt)) {
        if (skip > n) skip = n;
    } else {
        skip = 0;
    }
    if (g->seq + skip != c->rcv_nxt) { /* out of order: dropped, the peer resends */
        S.drop_out_of_order++;
        send_seg(c, c->snd_max, ACK, 0, 0); /* one duplicate ACK each: its fast retransmit */
        return;
    }
    uint32_t room = c->rcv_adv - c->rcv_nxt;
    if (n - skip > room) { /* beyond our window (and its FIN with it) */
        n = skip + room;
        fin = 0;
        S.drop_window++;
    }
    schedule(c, F_ACKNOW);
    if (n > skip) {
        c->rcv_nxt += n - skip;
        if (CB(c)->received) CB(c)->received(IDX(c), g->data + skip, n - skip, CTX(c));
        if (c->state == FREE) return;
    }
    if (!fin) return;
    c->rcv_nxt++;
    if (c->state == ESTABLISHED) {
        c->state = CLOSE_WAIT;
        if (CB(c)->peer_closed) CB(c)->peer_closed(IDX(c), CTX(c));
        else unilang_tcp_close(IDX(c));
    } else if (c->state == FIN_WAIT_1) {
        if (c->flags & F_FINQ) c->state = CLOSING; /* our FIN is not acknowledged yet */
        else time_wait(c, now);
    } else {
        time_wait(c, now);
    }
}

static void input(uint32_t src, uint32_t dst, const uint8_t *p, unsigned len)
{
    S.segs_rx++;
    if (len < HLEN) {
        S.drop_short++;
        return;
    }
    unsigned hl = (p[12] >> 4) * 4u;
    if (hl < HLEN || hl > len) {
        S.drop_offset++;
        return;
    }
    uint32_t ph = unilang_ipv4_pseudo_sum(src, dst, UNILANG_IP_TCP, len);
    if (unilang_csum_fold(unilang_csum_add(ph, p, len)) != 0) {
        S.drop_checksum++;
        return;
    }
    uint16_t sport = unilang_get16(p), dport = unilang_get16(p + 2);
    if (sport == 0 || dport == 0 || dst != unilang_ipv4_address()) {
        S.drop_address++;
        return;
    }
    struct seg g = {.seq = unilang_get32(p + 4), .ack = unilang_get32(p + 8),
                    .wnd = unilang_get16(p + 14), .fl = (uint8_t)(p[13] & 0x1f),
                    .data = p + hl, .dlen = len - hl};
    /* SYN with FIN or RST, and segments with none of SYN, ACK, RST, are invalid */
    if (((g.fl & SYN) && (g.fl & (FIN | RST))) || !(g.fl & (SYN | ACK | RST))) {
        S.drop_flags++;
        return;
    }
    uint64_t now = unilang_monotonic_ns();
    for (int i = 0; i < N; i++) {
        struct conn *c = &conns[i];
        if (c->state != FREE && c->raddr == src && c->rport == sport && c->lport == dport) {
            /* a new SYN beyond a TIME_WAIT connection's sequence space reopens it */
            if (c->state == TIME_WAIT && (g.fl & (SYN | ACK)) == SYN && LT(c->rcv_nxt, g.seq)) {
                release(c);
                break;
            }
            segment(c, &g, now);
            return;
        }
    }
    if (g.fl & RST) {
        S.drop_no_conn++;
        return;
    }
    if ((g.fl & (SYN | ACK)) == SYN)
        for (int l = 0; l < NL; l++)
            if (lsts[l].cb && lsts[l].port == dport) {
                passive_open(l, src, sport, dport, p, hl, &g, now);
                return;
            }
    S.drop_no_conn++;
    reset_reply(src, sport, dport, &g);
}

/* Once per unilang_net_poll(): deferred output, then due timers. */
static void tick(void)
{
    if (!want_output && next_deadline == ~0ull) return; /* idle: not even the clock */
    uint64_t now = unilang_monotonic_ns();
    if (arp_wait && unilang_net_stats.arp_learned != arp_learned) {
        /* ARP learned a MAC (the reply ipv4's request asked for): resend the
         * waiting SYN-ACKs now rather than at their retry timer */
        arp_wait = 0;
        for (int i = 0; i < N; i++)
            if (conns[i].state == SYN_RCVD && conns[i].arp > 0 && conns[i].deadline != 0)
                syn_ack(&conns[i], now);
    }
    if (want_output) {
        want_output = 0;
        for (int i = 0; i < N; i++)
            if (conns[i].flags & F_OUT) output(&conns[i], 0, now);
    }
    if (now < next_deadline) return;
    next_deadline = ~0ull;
    for (int i = 0; i < N; i++) {
        struct conn *c = &conns[i];
        if (c->state != FREE && c->deadline != 0 && c->deadline <= now) timeout(c, now);
        if (c->state != FREE && c->deadline != 0 && c->deadline < next_deadline)
            next_deadline = c->deadline;
    }
}

static struct conn *app_conn(int conn)
{
    if (conn < 0 || conn >= N || !(conns[conn].flags & F_APP)) return 0;
    return &conns[conn];
}

_Static_assert(UNILANG_TCP_EPOLICY == UNILANG_NET_EPOLICY, "one policy error code for udp and tcp");

int unilang_tcp_listen(uint16_t port, const struct unilang_tcp_callbacks *cb, void *ctx)
{
    int free = -1;
    if (port == 0 || cb == 0) return UNILANG_TCP_EINVAL;
    if (!unilang_policy_may_listen(UNILANG_IP_TCP, (uint16_t)port)) {
        unilang_net_stats.policy_refused_listen++;
        return UNILANG_TCP_EPOLICY;
    }
    for (int l = 0; l < NL; l++) {
        if (lsts[l].cb && lsts[l].port == port) return UNILANG_TCP_EINUSE;
        if (!lsts[l].cb && free < 0) free = l;
    }
    if (free < 0) return UNILANG_TCP_EFULL;
    lsts[free].port = port;
    lsts[free].cb = cb;
    lsts[free].ctx = ctx;
    return free;
}

unsigned unilang_tcp_send_space(int conn)
{
    struct conn *c = app_conn(conn);
    if (c == 0 || (c->state != ESTABLISHED && c->state != CLOSE_WAIT) || (c->flags & F_FINQ))
        return 0;
    return SB - c->len;
}

int unilang_tcp_send(int conn, const void *data, unsigned len)
{
    struct conn *c = app_conn(conn);
    if (c == 0 || (data == 0 && len != 0)) return UNILANG_TCP_EINVAL;
    uint32_t room = unilang_tcp_send_space(conn), pos = c->head + c->len;
    if (c->state != ESTABLISHED && c->state != CLOSE_WAIT) return UNILANG_TCP_EINVAL;
    if (len > room) len = room;
    if (pos >= SB) pos -= SB;
    uint32_t first = len < SB - pos ? len : SB - pos; /* the ring may wrap once */
    unilang_link_copy(ring[conn] + pos, data, first);
    unilang_link_copy(ring[conn], (const uint8_t *)data + first, len - first);
    c->len += len;
    if (len) schedule(c, 0);
    return (int)len;
}

void unilang_tcp_close(int conn)
{
    struct conn *c = app_conn(conn);
    if (c == 0 || (c->flags & F_FINQ)) return;
    if (c->state == ESTABLISHED) c->state = FIN_WAIT_1;
    else if (c->state == CLOSE_WAIT) c->state = LAST_ACK;
    else return;
    c->flags |= F_FINQ;
    schedule(c, 0);
}

void unilang_tcp_abort(int conn)
{
    struct conn *c = app_conn(conn);
    if (c == 0) return;
    send_seg(c, c->snd_max, RST | ACK, 0, 0);
    release(c);
}

void tcp_init(void);
void tcp_init(void)
{
    uint64_t t = unilang_monotonic_ns();
    secret = (uint32_t)(t ^ t >> 32 ^ unilang_tsc_hz()) * 0x2545f491u;
    unilang_ipv4_register(UNILANG_IP_TCP, input);
    unilang_net_on_poll(tick);
}
