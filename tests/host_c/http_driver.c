/* Host driver for stdlib/lib/http/src/http.c: the server compiled for the
 * host (under AddressSanitizer and UBSan by tests/test_http_host.py) with
 * this file standing in for what is below it: tcp (callbacks in, sends
 * recorded), the sealed file table (a fixed one), the clock and the poll.
 *
 * Operations on stdin, one a line:
 *   A c        tcp accepted connection c
 *   R c HEX    bytes arrived on c
 *   W c        c's send buffer has room again (writable)
 *   F c        the peer sent FIN on c
 *   C c        c is gone (closed)
 *   S n        tcp's send buffer has n bytes free now, and again after each W
 *              (what the peer's ACKs free); 0: full
 *   T ms       the clock advances by ms; then 256 steps of unilang_http_poll()
 * Output, one a line:
 *   open c       (echoed) tcp accepted c: a new connection on that handle
 *   send c HEX   bytes http queued on c
 *   close c      http closed c (FIN after the queued bytes)
 *   abort c      http reset c
 * and at the end `stats` with the http counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unilang/files.h>
#include <unilang/http.h>
#include <unilang/tcp.h>

static const struct unilang_tcp_callbacks *cb;
static unsigned long long now_ns = 1000000000ull;
static unsigned send_limit = 1u << 30, send_space = 1u << 30;
static int listening;

#define BIG 20000
static unsigned char big[BIG];
static struct unilang_file table[] = {
    {"big.bin", big, "application/octet-stream", 7, BIG, 24, 0},
    {"dir/index.html", (const unsigned char *)"<p>dir</p>\n", "text/html", 14, 11, 9, 0},
    {"index.html", (const unsigned char *)"<h1>hi</h1>\n", "text/html", 10, 12, 9, 0},
    {"style.css", (const unsigned char *)"p{}\n", "text/css", 9, 4, 8, 0},
};

const struct unilang_file *unilang_file_find(const char *path, unsigned len)
{
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].path_len == len && memcmp(table[i].path, path, len) == 0)
            return &table[i];
    return 0;
}

int unilang_tcp_listen(uint16_t port, const struct unilang_tcp_callbacks *c, void *ctx)
{
    (void)ctx;
    if (port != 80 || listening) return UNILANG_TCP_EINVAL;
    cb = c;
    listening = 1;
    return 0;
}

static void hex_out(const char *what, int conn, const void *data, unsigned len)
{
    printf("%s %d ", what, conn);
    for (unsigned i = 0; i < len; i++) printf("%02x", ((const unsigned char *)data)[i]);
    printf("\n");
}

int unilang_tcp_send(int conn, const void *data, unsigned len)
{
    unsigned n = len < send_space ? len : send_space;
    send_space -= n;
    if (n) hex_out("send", conn, data, n);
    return (int)n;
}

unsigned unilang_tcp_send_space(int conn) { (void)conn; return send_space; }
void unilang_tcp_close(int conn) { printf("close %d\n", conn); }
void unilang_tcp_abort(int conn)
{
    printf("abort %d\n", conn);
    cb->closed(conn, 0); /* as tcp does: closed() follows at once */
}
unsigned unilang_net_poll(void) { return 0; }
unsigned long long unilang_monotonic_ns(void) { return now_ns; }

static unsigned char *unhex(const char *s, unsigned *len)
{
    size_t n = strlen(s) / 2;
    unsigned char *out = malloc(n ? n : 1);   /* exactly n: ASan sees any overread */
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    *len = (unsigned)n;
    return out;
}

int main(void)
{
    static char line[1 << 20];
    for (unsigned i = 0; i < BIG; i++) big[i] = (unsigned char)(i * 7 + 3);
    if (unilang_http_start() != 0) return 2;
    while (fgets(line, sizeof line, stdin)) {
        char op = line[0];
        int c = 0;
        line[strcspn(line, "\n")] = 0;
        if (op == 'A' || op == 'W' || op == 'F' || op == 'C' || op == 'R') c = atoi(line + 2);
        switch (op) {
        case 'A': printf("open %d\n", c); cb->accepted(c, 0); break;
        case 'W': send_space = send_limit; cb->writable(c, 0); break;
        case 'F': cb->peer_closed(c, 0); break;
        case 'C': cb->closed(c, 0); break;
        case 'S': send_limit = send_space = (unsigned)strtoul(line + 2, 0, 10); break;
        case 'T':
            now_ns += strtoull(line + 2, 0, 10) * 1000000ull;
            for (int i = 0; i < 256; i++) /* the sweep reads the clock every 256th step */
                unilang_http_poll();
            break;
        case 'R': {
            const char *h = strchr(line + 2, ' ');
            unsigned len;
            unsigned char *d = unhex(h ? h + 1 : "", &len);
            cb->received(c, d, len, 0);
            free(d);
            break;
        }
        default: return 3;
        }
        fflush(stdout);
    }
    const struct unilang_http_stats *s = &unilang_http_stats;
    printf("stats connections=%llu requests=%llu responses=%llu 200=%llu 400=%llu 404=%llu "
           "405=%llu 408=%llu 413=%llu 414=%llu 431=%llu 503=%llu 505=%llu idle=%llu "
           "stalled=%llu overflow=%llu refused=%llu\n",
           (unsigned long long)s->connections, (unsigned long long)s->requests,
           (unsigned long long)s->responses, (unsigned long long)s->status_200,
           (unsigned long long)s->status_400, (unsigned long long)s->status_404,
           (unsigned long long)s->status_405, (unsigned long long)s->status_408,
           (unsigned long long)s->status_413, (unsigned long long)s->status_414,
           (unsigned long long)s->status_431, (unsigned long long)s->status_503,
           (unsigned long long)s->status_505, (unsigned long long)s->closed_idle,
           (unsigned long long)s->closed_stalled, (unsigned long long)s->closed_overflow,
           (unsigned long long)s->refused);
    return 0;
}
