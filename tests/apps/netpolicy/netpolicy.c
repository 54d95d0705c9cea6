/* Under the policy `echo-lan` (listen udp:7, peers 10.0.2.0/24): binding udp:8
 * and sending to 192.0.2.1 are refused; datagrams from outside 10.0.2.0/24 never
 * reach the echo.  `quit` prints the counters and exits with -(udp:8's bind
 * result): 4 when the policy refused it, as it must. */
#include <stdio.h>
#include <string.h>
#include <unilang/net.h>

static int done;

static void echo(int sock, uint32_t src, uint16_t src_port, const uint8_t *data, unsigned len,
                 void *ctx)
{
    (void)ctx;
    if (len == 4 && memcmp(data, "quit", 4) == 0) {
        printf("netpolicy: quit from %u.%u.%u.%u\n", (unsigned)(src >> 24),
               (unsigned)(src >> 16 & 255), (unsigned)(src >> 8 & 255), (unsigned)(src & 255));
        done = 1;
        return;
    }
    unilang_udp_send(sock, src, src_port, data, len);
}

int main(void)
{
    if (!unilang_link_up()) {
        printf("netpolicy: no network\n");
        return 1;
    }
    int refused = unilang_udp_bind(8, echo, 0);
    printf("netpolicy: bind udp:8 -> %d%s\n", refused,
           refused == UNILANG_UDP_EPOLICY ? " (refused by the policy)" : "");
    int sock = unilang_udp_bind(7, echo, 0);
    printf("netpolicy: bind udp:7 -> %d\n", sock);
    if (sock < 0) return 1;
    int sent = unilang_udp_send(sock, 0xC0000201u /* 192.0.2.1 */, 9, "x", 1);
    printf("netpolicy: send to 192.0.2.1 -> %d%s\n", sent,
           sent == UNILANG_UDP_EPOLICY ? " (refused by the policy)" : "");
    printf("netpolicy: listening on port 7\n");
    while (!done) unilang_net_poll();
    const struct unilang_net_stats *s = &unilang_net_stats;
    printf("policy_refused_listen=%llu\npolicy_drop_peer=%llu\npolicy_drop_send=%llu\n"
           "udp_rx=%llu\nicmp_rx=%llu\n",
           (unsigned long long)s->policy_refused_listen, (unsigned long long)s->policy_drop_peer,
           (unsigned long long)s->policy_drop_send, (unsigned long long)s->udp_rx,
           (unsigned long long)s->icmp_rx);
    return -refused;
}
