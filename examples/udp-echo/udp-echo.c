/* udp-echo: every datagram on port 7 goes back to its sender; `quit` ends. */
#include <stdio.h>
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
    if (!unilang_link_up()) {
        printf("udp-echo: no network device\n");
        return 1;
    }
    if (unilang_udp_bind(7, echo, 0) < 0) {
        printf("udp-echo: cannot bind port 7\n");
        return 1;
    }
    printf("udp-echo: listening on port 7\n");
    while (!done) unilang_net_poll();
    const struct unilang_net_stats *s = &unilang_net_stats;
    const struct unilang_link_stats *l = &unilang_link_stats;
    printf("udp-echo: counters: udp_rx=%llu udp_tx=%llu frames_rx=%llu frames_tx=%llu "
           "dropped: eth=%llu arp=%llu ip=%llu udp=%llu link=%llu\n",
           (unsigned long long)s->udp_rx, (unsigned long long)s->udp_tx,
           (unsigned long long)l->rx_frames, (unsigned long long)l->tx_frames,
           (unsigned long long)(s->eth_drop_short + s->eth_drop_oversized +
                                s->eth_drop_not_for_us + s->eth_drop_ethertype),
           (unsigned long long)(s->arp_drop_malformed + s->arp_drop_spoofed),
           (unsigned long long)(s->ip_drop_short + s->ip_drop_version + s->ip_drop_header_length +
                                s->ip_drop_total_length + s->ip_drop_checksum +
                                s->ip_drop_options + s->ip_drop_fragment + s->ip_drop_ttl +
                                s->ip_drop_bad_source + s->ip_drop_not_for_us +
                                s->ip_drop_protocol),
           (unsigned long long)(s->udp_drop_short + s->udp_drop_length + s->udp_drop_checksum +
                                s->udp_drop_no_socket),
           (unsigned long long)(l->rx_bad_length + l->rx_bad_id + l->tx_queue_full));
    return 0;
}
