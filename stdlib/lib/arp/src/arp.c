/* ARP (RFC 826) for IPv4 over Ethernet.  Only learns from packets addressed
 * to us (requests for our address, replies to us), or refreshes entries it
 * already has; never learns broadcast/multicast MACs or our own address. */
#include <stdint.h>
#include <unilang/arp.h>
#include <unilang/ethernet.h>
#include <unilang/runtime.h> /* UNILANG_PARAM_* */

#define N UNILANG_PARAM_ARP_CACHE_SIZE
#define PKT 28u

static struct {
    uint32_t ip;
    uint8_t mac[6];
} cache[N];
static unsigned next_victim;
static uint32_t my_ip;
static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static int find(uint32_t ip)
{
    for (unsigned i = 0; i < N; i++)
        if (cache[i].ip == ip && ip != 0) return (int)i;
    return -1;
}

static void store(uint32_t ip, const uint8_t *mac, int insert)
{
    int i = find(ip);
    if (i < 0) {
        if (!insert) return;
        i = (int)next_victim;
        next_victim = (next_victim + 1) % N;
        if (cache[i].ip != 0) unilang_net_stats.arp_evicted++;
        cache[i].ip = ip;
        unilang_net_stats.arp_learned++;
    }
    for (unsigned k = 0; k < 6; k++) cache[i].mac[k] = mac[k];
}

static void send(uint16_t op, const uint8_t *dst_mac, const uint8_t *tha, uint32_t tpa)
{
    uint8_t p[PKT];
    unilang_put16(p, 1);
    unilang_put16(p + 2, UNILANG_ETHERTYPE_IPV4);
    p[4] = 6;
    p[5] = 4;
    unilang_put16(p + 6, op);
    __builtin_memcpy(p + 8, unilang_link_mac, 6);
    __builtin_memcpy(p + 18, tha, 6);
    unilang_put32(p + 14, my_ip);
    unilang_put32(p + 24, tpa);
    if (unilang_eth_send(dst_mac, UNILANG_ETHERTYPE_ARP, p, PKT) == 0)
        unilang_net_stats.arp_tx++;
}

static void input(const uint8_t *src_mac, const uint8_t *p, unsigned len)
{
    struct unilang_net_stats *s = &unilang_net_stats;
    s->arp_rx++;
    if (len < PKT || unilang_get16(p) != 1 || unilang_get16(p + 2) != UNILANG_ETHERTYPE_IPV4 ||
        p[4] != 6 || p[5] != 4) {
        s->arp_drop_malformed++;
        return;
    }
    uint16_t op = unilang_get16(p + 6);
    const uint8_t *sha = p + 8;
    uint32_t spa = unilang_get32(p + 14), tpa = unilang_get32(p + 24);
    if (op != 1 && op != 2) {
        s->arp_drop_malformed++;
        return;
    }
    int sane_sender = !(sha[0] & 1) && spa != 0 && spa != my_ip && spa != 0xffffffffu &&
                      (spa >> 28) != 0xe;
    for (unsigned k = 0; k < 6; k++)
        if (sha[k] != src_mac[k]) sane_sender = 0; /* a lying sender hardware address */
    if (!sane_sender) {
        s->arp_drop_spoofed++;
        return;
    }
    if (my_ip == 0 || tpa != my_ip) {
        store(spa, sha, 0); /* refresh only */
        s->arp_drop_not_for_us++;
        return;
    }
    store(spa, sha, 1);
    if (op == 1) {
        send(2, sha, sha, spa);
        s->arp_replied++;
    }
}

/* Who has `ip`?  Broadcast; counted as unresolved until its reply is learned. */
static void request(uint32_t ip)
{
    unilang_net_stats.arp_unresolved++;
    send(1, broadcast, (const uint8_t[6]){0}, ip);
}

void unilang_arp_start(uint32_t ip, uint32_t ask)
{
    my_ip = ip;
    if (ip == 0) return;
    /* The request first: a neighbour that answers it learns our MAC from it
     * (QEMU's slirp does), so its reply comes ahead of whatever it held for
     * us until it knew our MAC; announced first, the held packets came
     * first, and each found the next hop unresolved. */
    if (ask != 0 && ask != ip && find(ask) < 0)
        request(ask);
    send(1, broadcast, (const uint8_t[6]){0}, ip); /* gratuitous: spa == tpa */
}

void unilang_arp_set_address(uint32_t ip) { unilang_arp_start(ip, 0); }

int unilang_arp_resolve(uint32_t ip, uint8_t mac[6])
{
    if (ip == 0xffffffffu) {
        for (unsigned k = 0; k < 6; k++) mac[k] = 0xff;
        return 0;
    }
    int i = find(ip);
    if (i >= 0) {
        for (unsigned k = 0; k < 6; k++) mac[k] = cache[i].mac[k];
        return 0;
    }
    request(ip);
    return -1;
}

void arp_init(void);
void arp_init(void)
{
    unilang_eth_register(UNILANG_ETHERTYPE_ARP, input);
}
