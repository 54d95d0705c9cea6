/* ICMP (RFC 792): echo reply only. */
#include <stdint.h>
#include <unilang/ethernet.h>
#include <unilang/ipv4.h>

static uint8_t reply[UNILANG_IPV4_MAX_PAYLOAD];

static void input(uint32_t src, uint32_t dst, const uint8_t *p, unsigned len)
{
    struct unilang_net_stats *s = &unilang_net_stats;
    s->icmp_rx++;
    if (len < 8) { s->icmp_drop_malformed++; return; }
    if (unilang_csum_fold(unilang_csum_add(0, p, len)) != 0) { s->icmp_drop_checksum++; return; }
    if (p[0] != 8 || p[1] != 0 || dst != unilang_ipv4_address() ||
        len > UNILANG_IPV4_MAX_PAYLOAD) {
        s->icmp_drop_type++;
        return;
    }
    unilang_link_copy(reply, p, len);
    reply[0] = 0;
    unilang_put16(reply + 2, 0);
    unilang_put16(reply + 2, unilang_csum_fold(unilang_csum_add(0, reply, len)));
    if (unilang_ipv4_send(src, UNILANG_IP_ICMP, reply, len) == 0) s->icmp_echo_replied++;
}

void icmp_init(void);
void icmp_init(void)
{
    unilang_ipv4_register(UNILANG_IP_ICMP, input);
}
