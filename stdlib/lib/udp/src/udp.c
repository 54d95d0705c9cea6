/* UDP (RFC 768) over ipv4. */
#include <stdint.h>
#include <unilang/net.h>
#include <unilang/runtime.h> /* UNILANG_PARAM_* */

#define N UNILANG_PARAM_UDP_MAX_SOCKETS
#define HLEN 8u

static struct {
    uint16_t port;
    unilang_udp_recv_fn fn;
    void *ctx;
} socks[N];
static uint8_t out[HLEN + UNILANG_UDP_MAX_PAYLOAD];

static void input(uint32_t src, uint32_t dst, const uint8_t *p, unsigned len)
{
    struct unilang_net_stats *s = &unilang_net_stats;
    s->udp_rx++;
    if (len < HLEN) { s->udp_drop_short++; return; }
    unsigned ulen = unilang_get16(p + 4);
    if (ulen < HLEN || ulen > len) { s->udp_drop_length++; return; }
    uint32_t ph = unilang_ipv4_pseudo_sum(src, dst, UNILANG_IP_UDP, ulen);
    if (unilang_get16(p + 6) != 0 && unilang_csum_fold(unilang_csum_add(ph, p, ulen)) != 0) {
        s->udp_drop_checksum++;
        return;
    }
    uint16_t sport = unilang_get16(p), dport = unilang_get16(p + 2);
    for (int i = 0; i < N; i++)
        if (socks[i].fn != 0 && socks[i].port == dport) {
            socks[i].fn(i, src, sport, p + HLEN, ulen - HLEN, socks[i].ctx);
            return;
        }
    s->udp_drop_no_socket++;
}

int unilang_udp_bind(uint16_t port, unilang_udp_recv_fn fn, void *ctx)
{
    int free = -1;
    if (port == 0 || fn == 0) return -1;
    if (!unilang_policy_may_listen(UNILANG_IP_UDP, port)) {
        unilang_net_stats.policy_refused_listen++;
        return UNILANG_UDP_EPOLICY;
    }
    for (int i = 0; i < N; i++) {
        if (socks[i].fn != 0 && socks[i].port == port) return -1;
        if (socks[i].fn == 0 && free < 0) free = i;
    }
    if (free >= 0) {
        socks[free].port = port;
        socks[free].fn = fn;
        socks[free].ctx = ctx;
    }
    return free;
}

void unilang_udp_close(int sock)
{
    if (sock >= 0 && sock < N) socks[sock].fn = 0;
}

int unilang_udp_send(int sock, uint32_t dst, uint16_t dst_port, const void *data, unsigned len)
{
    if (sock < 0 || sock >= N || socks[sock].fn == 0) return -1;
    if (len > UNILANG_UDP_MAX_PAYLOAD) {
        unilang_net_stats.udp_drop_tx_too_long++;
        return -1;
    }
    unsigned ulen = HLEN + len;
    unilang_put16(out, socks[sock].port);
    unilang_put16(out + 2, dst_port);
    unilang_put16(out + 4, (uint16_t)ulen);
    unilang_put16(out + 6, 0);
    unilang_link_copy(out + HLEN, data, len);
    uint32_t ph = unilang_ipv4_pseudo_sum(unilang_ipv4_address(), dst, UNILANG_IP_UDP, ulen);
    uint16_t c = unilang_csum_fold(unilang_csum_add(ph, out, ulen));
    unilang_put16(out + 6, c == 0 ? 0xffff : c);
    int rc = unilang_ipv4_send(dst, UNILANG_IP_UDP, out, ulen);
    if (rc < 0) return rc;
    unilang_net_stats.udp_tx++;
    return 0;
}

void udp_init(void);
void udp_init(void)
{
    unilang_ipv4_register(UNILANG_IP_UDP, input);
}
