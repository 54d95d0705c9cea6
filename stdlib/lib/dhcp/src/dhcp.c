/* DHCP client (RFC 2131, options RFC 2132), run once from dhcp_init: the
 * interface is 0.0.0.0 until the ACK (ipv4 stays unconfigured when this
 * library is selected); udp_init runs after this and takes protocol 17 over.
 * Everything received is hostile: every length is checked before it is read. */
#include <stdint.h>
#include <unilang/conio.h>
#include <unilang/dhcp.h>
#include <unilang/ethernet.h>
#include <unilang/ipv4.h>
#include <unilang/netlink.h>
#include <unilang/runtime.h> /* UNILANG_PARAM_DHCP_* */
#include <unilang/tsc-clock.h>

#define CLIENT_PORT 68u
#define SERVER_PORT 67u
#define UDP_HLEN 8u
#define FIXED 236u       /* op .. file */
#define OPTIONS 240u     /* after the magic cookie */
#define MSG_LEN 300u     /* what we send: BOOTP's minimum */
#define BROADCAST 0xffffffffu

enum { DISCOVER = 1, OFFER = 2, REQUEST = 3, ACK = 5, NAK = 6 };
enum { SELECTING, REQUESTING, BOUND };

struct unilang_dhcp_stats unilang_dhcp_stats;

static int state;
static uint32_t xid;
static uint32_t offered, server, mask, router, lease;
static uint8_t out[UDP_HLEN + MSG_LEN];

/* The options we use from one reply. */
struct opts {
    unsigned type;
    uint32_t server, mask, router, lease, requested;
    uint64_t seen; /* bit n: option n (< 64) was present */
};

static int unicast(uint32_t a)
{
    return a != 0 && a != BROADCAST && (a >> 28) < 0xe && (a >> 24) != 127;
}

/* 0 and *o, or -1: an option running past `len`, or one we use with a wrong length. */
static int parse_options(const uint8_t *p, unsigned len, struct opts *o)
{
    unsigned i = OPTIONS;
    o->type = 0;
    o->seen = 0;
    while (i < len) {
        unsigned code = p[i];
        if (code == 0) { i++; continue; }   /* pad */
        if (code == 255) return 0;          /* end */
        if (i + 1 >= len) return -1;
        unsigned olen = p[i + 1];
        if (olen > len - i - 2) return -1;
        const uint8_t *v = p + i + 2;
        switch (code) {
        case 53:
            if (olen != 1) return -1;
            o->type = v[0];
            break;
        case 1: case 50: case 51: case 54:
            if (olen != 4) return -1;
            {
                uint32_t x = unilang_get32(v);
                if (code == 1) o->mask = x;
                else if (code == 50) o->requested = x;
                else if (code == 51) o->lease = x;
                else o->server = x;
            }
            break;
        case 3: /* routers: one or more addresses, the first is used */
            if (olen == 0 || olen % 4 != 0) return -1;
            o->router = unilang_get32(v);
            break;
        default:
            break;
        }
        if (code < 64) o->seen |= 1ull << code;
        i += 2 + olen;
    }
    return -1; /* no end option within the datagram */
}

#define SEEN(o, code) ((o)->seen >> (code) & 1u)

static void input(uint32_t src, uint32_t dst, const uint8_t *p, unsigned len)
{
    struct unilang_dhcp_stats *s = &unilang_dhcp_stats;
    (void)dst;
    s->rx++;
    if (len < UDP_HLEN) { s->drop_udp++; return; }
    unsigned ulen = unilang_get16(p + 4);
    if (ulen < UDP_HLEN || ulen > len) { s->drop_udp++; return; }
    if (unilang_get16(p + 6) != 0) {
        uint32_t ph = unilang_ipv4_pseudo_sum(src, dst, UNILANG_IP_UDP, ulen);
        if (unilang_csum_fold(unilang_csum_add(ph, p, ulen)) != 0) {
            s->drop_udp++;
            return;
        }
    }
    if (unilang_get16(p) != SERVER_PORT || unilang_get16(p + 2) != CLIENT_PORT) {
        s->drop_foreign++;
        return;
    }
    const uint8_t *m = p + UDP_HLEN;
    unsigned n = ulen - UDP_HLEN;
    if (n < OPTIONS) { s->drop_malformed++; return; }
    if (m[0] != 2 || m[1] != 1 || m[2] != 6 || unilang_get32(m + 4) != xid) {
        s->drop_foreign++;
        return;
    }
    for (unsigned k = 0; k < 6; k++)
        if (m[28 + k] != unilang_link_mac[k]) { s->drop_foreign++; return; }
    if (unilang_get32(m + FIXED) != 0x63825363u) { s->drop_malformed++; return; }
    struct opts o = {0};
    if (parse_options(m, n, &o) < 0 || !SEEN(&o, 53)) { s->drop_malformed++; return; }
    uint32_t yiaddr = unilang_get32(m + 16);
    if (state == SELECTING) {
        if (o.type != OFFER) { s->drop_unexpected++; return; }
        if (!SEEN(&o, 54) || !unicast(o.server) || !unicast(yiaddr)) {
            s->drop_malformed++;
            return;
        }
        offered = yiaddr;
        server = o.server;
        state = REQUESTING;
        return;
    }
    if (state != REQUESTING) { s->drop_unexpected++; return; }
    if (!SEEN(&o, 54) || o.server != server) { s->drop_foreign++; return; }
    if (o.type == NAK) {
        s->nak++;
        state = SELECTING;
        return;
    }
    if (o.type != ACK) { s->drop_unexpected++; return; }
    if (yiaddr != offered) { s->drop_malformed++; return; }
    if (SEEN(&o, 1) && (o.mask == 0 || (~o.mask & (~o.mask + 1u)) != 0)) {
        s->drop_malformed++;
        return;
    }
    if (SEEN(&o, 3) && !unicast(o.router)) { s->drop_malformed++; return; }
    mask = SEEN(&o, 1) ? o.mask : 0;
    router = SEEN(&o, 3) ? o.router : 0;
    lease = SEEN(&o, 51) ? o.lease : 0;
    state = BOUND;
}

static void send(unsigned type)
{
    uint8_t *m = out + UDP_HLEN;
    for (unsigned i = 0; i < sizeof out; i++) out[i] = 0;
    m[0] = 1; /* BOOTREQUEST */
    m[1] = 1; /* Ethernet */
    m[2] = 6;
    unilang_put32(m + 4, xid);
    unilang_put16(m + 10, 0x8000); /* broadcast the reply: we have no address yet */
    for (unsigned k = 0; k < 6; k++) m[28 + k] = unilang_link_mac[k];
    unilang_put32(m + FIXED, 0x63825363u);
    uint8_t *o = m + OPTIONS;
    *o++ = 53; *o++ = 1; *o++ = (uint8_t)type;
    if (type == REQUEST) {
        *o++ = 50; *o++ = 4; unilang_put32(o, offered); o += 4;
        *o++ = 54; *o++ = 4; unilang_put32(o, server); o += 4;
    }
    *o++ = 55; *o++ = 3; *o++ = 1; *o++ = 3; *o++ = 51; /* parameter request list */
    *o++ = 255;
    unsigned ulen = UDP_HLEN + MSG_LEN;
    unilang_put16(out, CLIENT_PORT);
    unilang_put16(out + 2, SERVER_PORT);
    unilang_put16(out + 4, (uint16_t)ulen);
    uint32_t ph = unilang_ipv4_pseudo_sum(0, BROADCAST, UNILANG_IP_UDP, ulen);
    uint16_t c = unilang_csum_fold(unilang_csum_add(ph, out, ulen));
    unilang_put16(out + 6, c == 0 ? 0xffff : c);
    if (unilang_ipv4_send(BROADCAST, UNILANG_IP_UDP, out, ulen) == 0) unilang_dhcp_stats.tx++;
}

/* Poll until the state leaves `from` or `ns` pass; 1 when it left. */
static int wait_for(int from, unsigned long long ns)
{
    unsigned long long end = unilang_monotonic_ns() + ns;
    while (state == from && unilang_monotonic_ns() < end) unilang_net_poll();
    return state != from;
}

static char *put_ip(char *p, uint32_t a)
{
    for (int shift = 24; shift >= 0; shift -= 8) {
        unsigned b = a >> shift & 255u;
        if (b >= 100) *p++ = (char)('0' + b / 100);
        if (b >= 10) *p++ = (char)('0' + b / 10 % 10);
        *p++ = (char)('0' + b % 10);
        if (shift) *p++ = '.';
    }
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s) *p++ = *s++;
    return p;
}

static char *put_uint(char *p, uint32_t v)
{
    char d[10];
    unsigned n = 0;
    do { d[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = d[--n];
    return p;
}

static void fall_back(const char *why)
{
    char line[160], *p = line;
    p = put_str(p, "dhcp: ");
    p = put_str(p, why);
    if (unilang_ipv4_configure_static() < 0) {
        p = put_str(p, "; ipv4's static parameters are not usable: the interface stays down");
    } else {
        p = put_str(p, "; falling back to the static address ");
        p = put_ip(p, unilang_ipv4_address());
    }
    *p = 0;
    unilang_puts(line);
}

void dhcp_init(void);
void dhcp_init(void)
{
    if (!unilang_link_up()) {
        fall_back("no network link");
        return;
    }
    /* a transaction id that differs between boots and between MACs */
    xid = (uint32_t)unilang_monotonic_ns() ^ (uint32_t)(unilang_tsc_hz() << 7) ^
          unilang_get32(unilang_link_mac + 2);
    unilang_ipv4_register(UNILANG_IP_UDP, input);
    const unsigned long long timeout = (unsigned long long)UNILANG_PARAM_DHCP_TIMEOUT_MS * 1000000ull;
    for (unsigned attempt = 0; attempt < UNILANG_PARAM_DHCP_ATTEMPTS && state != BOUND; attempt++) {
        xid += 0x9e3779b9u; /* a fresh id per attempt: late replies to the last one are foreign */
        state = SELECTING;
        send(DISCOVER);
        if (!wait_for(SELECTING, timeout)) { unilang_dhcp_stats.timeouts++; continue; }
        send(REQUEST);
        if (!wait_for(REQUESTING, timeout) || state != BOUND) {
            if (state == REQUESTING) unilang_dhcp_stats.timeouts++;
            continue;
        }
    }
    if (state != BOUND) {
        fall_back("no lease from any server");
        return;
    }
    if (mask == 0) /* no option 1: the address class's mask (RFC 2131 3.3 leaves it to us) */
        mask = offered >> 31 == 0 ? 0xff000000u : offered >> 30 == 2 ? 0xffff0000u : 0xffffff00u;
    if (unilang_ipv4_configure(offered, mask, router) < 0) {
        fall_back("the lease does not fit its netmask");
        return;
    }
    unilang_dhcp_stats.leased = 1;
    unilang_dhcp_stats.lease_s = lease;
    char line[160], *p = line;
    p = put_str(p, "dhcp: leased ");
    p = put_ip(p, offered);
    p = put_str(p, " netmask ");
    p = put_ip(p, mask);
    p = put_str(p, " gateway ");
    p = put_ip(p, router);
    p = put_str(p, " from ");
    p = put_ip(p, server);
    p = put_str(p, " for ");
    p = put_uint(p, lease);
    p = put_str(p, " s");
    *p = 0;
    unilang_puts(line);
}
