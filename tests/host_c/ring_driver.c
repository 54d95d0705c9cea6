/* Host driver for backends/xen/lib/debugcon/src/xencons_ring.c: the PV console's out ring.
 * Prints "BAD ..." lines and "checked N". */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "xencons_ring.h"

static struct xencons_interface ring;
static long checked;
#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        checked++;                                                                       \
        if (!(cond)) {                                                                   \
            printf("BAD line %d: ", __LINE__);                                           \
            printf(__VA_ARGS__);                                                         \
            printf("\n");                                                                \
        }                                                                                \
    } while (0)

/* the console backend's side: take up to n bytes */
static size_t consume(char *out, size_t n)
{
    size_t k = 0;
    while (k < n && ring.out_cons != ring.out_prod)
        out[k++] = ring.out[XENCONS_OUT_MASK(ring.out_cons++)];
    return k;
}

static void reset(uint32_t idx)
{
    memset(&ring, 0, sizeof ring);
    ring.out_cons = ring.out_prod = idx;
}

int main(void)
{
    char buf[3 * XENCONS_OUT_SIZE], got[3 * XENCONS_OUT_SIZE];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)('A' + i % 23);

    /* empty ring: a short write lands at the slot of the index */
    reset(0);
    CHECK(xencons_ring_space(&ring) == 2048, "space %zu", xencons_ring_space(&ring));
    CHECK(xencons_ring_write(&ring, "hello", 5) == 5, "short write");
    CHECK(ring.out_prod == 5 && ring.out_cons == 0 && memcmp(ring.out, "hello", 5) == 0, "slots");
    CHECK(xencons_ring_space(&ring) == 2043, "space after write");

    /* wrap-around: start 8 bytes before the end of the buffer */
    reset(2040);
    CHECK(xencons_ring_write(&ring, buf, 20) == 20, "wrap write");
    CHECK(memcmp(ring.out + 2040, buf, 8) == 0 && memcmp(ring.out, buf + 8, 12) == 0, "wrap slots");
    CHECK(ring.out_prod == 2060, "wrap prod %u", ring.out_prod);

    /* full ring: 2048 fit, then nothing; partial write when nearly full */
    reset(100);
    CHECK(xencons_ring_write(&ring, buf, 3000) == 2048, "fill");
    CHECK(xencons_ring_space(&ring) == 0, "full space");
    CHECK(xencons_ring_write(&ring, buf, 10) == 0, "write to full ring");
    CHECK(ring.out_prod == 100 + 2048, "prod after full");
    CHECK(consume(got, 5) == 5 && memcmp(got, buf, 5) == 0, "consume 5");
    CHECK(xencons_ring_write(&ring, buf + 2048, 10) == 5, "partial write");
    CHECK(consume(got, sizeof got) == 2048 && memcmp(got, buf + 5, 2048) == 0, "drain");

    /* 32-bit index wrap-around */
    reset(0xfffffff0u);
    CHECK(xencons_ring_write(&ring, buf, 40) == 40, "index wrap");
    CHECK(ring.out_prod == 24u, "prod wrapped to %u", ring.out_prod);
    CHECK(xencons_ring_space(&ring) == 2048 - 40, "space across index wrap");
    CHECK(consume(got, 40) == 40 && memcmp(got, buf, 40) == 0, "read across index wrap");

    /* inconsistent indices (more than a ring outstanding): write nothing */
    reset(0);
    ring.out_prod = 3000;
    CHECK(xencons_ring_write(&ring, buf, 10) == 0 && ring.out_prod == 3000, "inconsistent");
    CHECK(xencons_ring_space(&ring) == 0, "inconsistent space");

    /* zero-length write */
    reset(7);
    CHECK(xencons_ring_write(&ring, buf, 0) == 0 && ring.out_prod == 7, "empty write");

    /* a long stream through a slow consumer, from many start indices */
    for (uint32_t k = 0; k < 64; k++) {
        uint32_t start = 0xfffff800u + k * 0x3fu; /* some cross 2^32 */
        reset(start);
        size_t sent = 0, recv = 0, step = 1;
        while (recv < sizeof buf) {
            size_t want = (step * 37) % 700 + 1;
            if (want > sizeof buf - sent)
                want = sizeof buf - sent;
            sent += xencons_ring_write(&ring, buf + sent, want);
            recv += consume(got + recv, (step * 53) % 500 + 1);
            step++;
        }
        CHECK(memcmp(got, buf, sizeof buf) == 0, "stream from %u", start);
    }
    printf("checked %ld\n", checked);
    return 0;
}
