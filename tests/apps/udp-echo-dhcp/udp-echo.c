/* udp-echo-dhcp: udp-echo (examples/udp-echo), plus the dhcp client's counters at `quit`. */
#include <stdio.h>
#include <unilang/dhcp.h>
#include <unilang/net.h>

static int done;

static void echo(int sock, uint32_t src, uint16_t src_port, const uint8_t *data, unsigned len,
                 void *ctx)
{
    (void)ctx;
    if (len == 4 && data[0] == 'q' && data[1] == 'u' && data[2] == 'i' && data[3] == 't') {
        done = 1;
        return;
    }
    unilang_udp_send(sock, src, src_port, data, len);
}

int main(void)
{
    if (unilang_udp_bind(7, echo, 0) < 0) {
        printf("udp-echo: cannot bind port 7\n");
        return 1;
    }
    printf("udp-echo: listening on port 7\n");
    while (!done) unilang_net_poll();
    const struct unilang_dhcp_stats *d = &unilang_dhcp_stats;
    const struct unilang_net_stats *s = &unilang_net_stats;
    printf("dhcp: leased=%d lease_s=%u tx=%llu rx=%llu dropped: udp=%llu foreign=%llu "
           "malformed=%llu unexpected=%llu nak=%llu timeouts=%llu\n",
           d->leased, (unsigned)d->lease_s, (unsigned long long)d->tx, (unsigned long long)d->rx,
           (unsigned long long)d->drop_udp, (unsigned long long)d->drop_foreign,
           (unsigned long long)d->drop_malformed, (unsigned long long)d->drop_unexpected,
           (unsigned long long)d->nak, (unsigned long long)d->timeouts);
    printf("udp-echo: udp_rx=%llu udp_tx=%llu\n", (unsigned long long)s->udp_rx,
           (unsigned long long)s->udp_tx);
    return 0;
}
