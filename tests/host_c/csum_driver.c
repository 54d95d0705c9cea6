/* Host driver for ipv4's unilang_csum_add (add-with-carry over 8-byte words)
 * and netlink.h's unilang_link_copy (rep movsq + rep movsb), against models:
 * RFC 1071's sum of big-endian 16-bit words, and a byte loop.  Seeded random
 * lengths (0..4096), offsets (0..15: unaligned starts), incoming partial
 * sums and contents (all zero, all 0xff, random, 0/0xff mixes: the carry and
 * ones'-complement corner cases).  Copies are checked for guard bytes on
 * both sides; ipv4's pseudo-header sum (from the fields) against the sum of
 * its 12 bytes, alone and followed by data.  Built by tests/test_net_host.py
 * with the sanitizers.
 * Usage: csum_driver SEED CASES; prints "checked N", exits 1 on a mismatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unilang/arp.h>
#include <unilang/conio.h>
#include <unilang/ethernet.h>
#include <unilang/ipv4.h>
#include <unilang/netlink.h>

struct unilang_net_stats unilang_net_stats;

/* ---- what ipv4.c links against; never called here ---- */
int unilang_eth_register(uint16_t type, unilang_eth_handler fn)
{
    (void)type;
    (void)fn;
    return 0;
}
int unilang_arp_resolve(uint32_t ip, uint8_t mac[6])
{
    (void)ip;
    (void)mac;
    return -1;
}
void unilang_arp_start(uint32_t ip, uint32_t ask) { (void)ip; (void)ask; }
void unilang_puts(const char *s) { puts(s); }
int unilang_eth_send(const uint8_t dst[6], uint16_t type, const void *payload, unsigned len)
{
    (void)dst;
    (void)type;
    (void)payload;
    (void)len;
    return -1;
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static uint16_t model_fold(uint32_t sum, const uint8_t *p, unsigned len)
{
    for (unsigned i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1) sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    rng_state = strtoull(argv[1], 0, 10);
    unsigned long cases = strtoul(argv[2], 0, 10), bad = 0;
    static uint8_t src[4096 + 32], dst[4096 + 64];
    for (unsigned long c = 0; c < cases; c++) {
        unsigned len = c < 64 ? (unsigned)c : rnd() % 4097, off = rnd() % 16, mode = rnd() % 4;
        for (unsigned i = 0; i < sizeof src; i++)
            src[i] = mode == 0 ? 0 : mode == 1 ? 0xff : mode == 2 ? (rnd() & 1 ? 0xff : 0)
                                                                 : (uint8_t)rnd();
        uint32_t sum = c % 3 == 0 ? 0 : rnd() % 0x20000;
        uint16_t want = model_fold(sum, src + off, len);
        uint16_t got = unilang_csum_fold(unilang_csum_add(sum, src + off, len));
        if (got != want) {
            if (bad++ < 10)
                printf("MISMATCH csum len=%u off=%u mode=%u sum=%#x want=%#x got=%#x\n", len, off,
                       mode, sum, want, got);
        }
        unsigned doff = 16 + rnd() % 16;
        memset(dst, 0xa5, sizeof dst);
        unilang_link_copy(dst + doff, src + off, len);
        int ok = memcmp(dst + doff, src + off, len) == 0;
        for (unsigned i = 0; i < doff && ok; i++) ok = dst[i] == 0xa5;
        for (unsigned i = doff + len; i < sizeof dst && ok; i++) ok = dst[i] == 0xa5;
        if (!ok && bad++ < 10) printf("MISMATCH copy len=%u off=%u doff=%u\n", len, off, doff);
        /* the pseudo header, summed from its fields, against its 12 bytes */
        uint32_t a = c % 5 == 0 ? 0xffffffffu : rnd() << 1 ^ rnd(), b = c % 7 == 0 ? 0 : rnd() << 1 ^ rnd();
        uint8_t proto = (uint8_t)rnd();
        unsigned plen = c % 11 == 0 ? 0xffff : rnd() % 0x10000;
        uint8_t ph[12] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a,
                          (uint8_t)(b >> 24), (uint8_t)(b >> 16), (uint8_t)(b >> 8), (uint8_t)b,
                          0, proto, (uint8_t)(plen >> 8), (uint8_t)plen};
        uint32_t ps = unilang_ipv4_pseudo_sum(a, b, proto, plen);
        uint32_t ph_sum = 0;
        for (unsigned i = 0; i < 12; i += 2) ph_sum += (uint32_t)(ph[i] << 8 | ph[i + 1]);
        want = model_fold(ph_sum, src + off, len); /* pseudo header, then the data */
        got = unilang_csum_fold(unilang_csum_add(ps, src + off, len));
        if (ps >= 0x20000 || unilang_csum_fold(ps) != model_fold(0, ph, 12) || got != want) {
            if (bad++ < 10)
                printf("MISMATCH pseudo src=%#x dst=%#x proto=%u len=%u data=%u want=%#x got=%#x\n",
                       a, b, proto, plen, len, want, got);
        }
    }
    printf("checked %lu\n", cases);
    return bad != 0;
}
