/* Echo through a heap copy of every datagram (so the guard sees the traffic);
 * `quit` prints every counter as name=value and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unilang/net.h>

static int done;

static void echo(int sock, uint32_t src, uint16_t src_port, const uint8_t *data, unsigned len,
                 void *ctx)
{
    (void)ctx;
    if (len == 4 && memcmp(data, "quit", 4) == 0) {
        done = 1;
        return;
    }
    uint8_t *copy = malloc(len + 1);
    if (copy == NULL) return;
    memcpy(copy, data, len);
    unilang_udp_send(sock, src, src_port, copy, len);
    free(copy);
}

#define S(f) printf(#f "=%llu\n", (unsigned long long)s->f)
#define L(f) printf("link_" #f "=%llu\n", (unsigned long long)l->f)

int main(void)
{
    if (!unilang_link_up() || unilang_udp_bind(7, echo, 0) < 0) {
        printf("netfuzz: no network\n");
        return 1;
    }
    printf("netfuzz: listening on port 7\n");
    while (!done) unilang_net_poll();
    const struct unilang_net_stats *s = &unilang_net_stats;
    const struct unilang_link_stats *l = &unilang_link_stats;
    S(eth_rx); S(eth_tx); S(eth_drop_short); S(eth_drop_oversized); S(eth_drop_not_for_us);
    S(eth_drop_ethertype);
    S(arp_rx); S(arp_tx); S(arp_replied); S(arp_learned); S(arp_evicted);
    S(arp_drop_malformed); S(arp_drop_spoofed); S(arp_drop_not_for_us); S(arp_unresolved);
    S(ip_rx); S(ip_tx); S(ip_drop_short); S(ip_drop_version); S(ip_drop_header_length);
    S(ip_drop_total_length); S(ip_drop_checksum); S(ip_drop_options); S(ip_drop_fragment);
    S(ip_drop_ttl); S(ip_drop_bad_source); S(ip_drop_not_for_us); S(ip_drop_protocol);
    S(ip_drop_tx_too_long);
    S(icmp_rx); S(icmp_echo_replied); S(icmp_drop_malformed); S(icmp_drop_checksum);
    S(icmp_drop_type);
    S(udp_rx); S(udp_tx); S(udp_drop_short); S(udp_drop_length); S(udp_drop_checksum);
    S(udp_drop_no_socket); S(udp_drop_tx_too_long);
    L(rx_frames); L(tx_frames); L(rx_bad_length); L(rx_bad_id); L(tx_too_long); L(tx_queue_full);
    printf("netfuzz: heap %s\n", heap_check(NULL) >= 0 ? "ok" : "damaged");
    return 0;
}
