/* http: an HTTP/1.1 server (RFC 9110, RFC 9112) for the files sealed into
 * the image, over tcp.
 *
 * Every connection has a slot: a buffer of max_request_line + 2 +
 * max_header_bytes bytes that collects one request head (the request line,
 * the header lines and the empty line), and the response in progress (a
 * formatted header, then a pointer into the sealed file).  Requests are
 * answered strictly in order: while a response is still being sent, the
 * bytes of pipelined requests wait in the buffer (tcp's window, which it
 * caps by the free send buffer, holds the client back meanwhile).  Nothing
 * is allocated; every byte from the network is treated as hostile: the
 * parser only moves forward inside the buffer's bounds, and each limit is a
 * status code, never an overrun.
 *
 * What a request may be: a request line `METHOD SP TARGET SP HTTP/1.x`
 * ending in CRLF (a bare LF is accepted as a line end, a CR elsewhere is
 * not), header lines `name: value` with a token name and no control bytes
 * but HT in the value, no obsolete line folding, exactly one Host in
 * HTTP/1.1, and no body (a GET or HEAD with Content-Length > 0 or any
 * Transfer-Encoding gets 413 and the connection is closed, since the body
 * cannot be told apart from the next request otherwise).  Empty lines before
 * a request line are skipped (RFC 9112, 2.2). */
#include <stdint.h>
#include <unilang/ethernet.h>
#include <unilang/files.h>
#include <unilang/http.h>
#include <unilang/tcp.h>
#include <unilang/tsc-clock.h>

#define PORT UNILANG_PARAM_HTTP_PORT
#define MAX_LINE UNILANG_PARAM_HTTP_MAX_REQUEST_LINE
#define MAX_HEAD UNILANG_PARAM_HTTP_MAX_HEADER_BYTES
#define MAX_CONN UNILANG_PARAM_HTTP_MAX_CONNECTIONS
#define IDLE_NS ((unsigned long long)UNILANG_PARAM_HTTP_IDLE_TIMEOUT_MS * 1000000ull)

/* the request line with its CRLF, then the header section */
#define BUF_CAP (MAX_LINE + 2 + MAX_HEAD)
/* a response head: status line, Server, Content-Type (at most 64 bytes),
 * Content-Length, Connection, Allow, and the empty line */
#define OUT_CAP 320

struct unilang_http_stats unilang_http_stats;

enum { FREE, OPEN, CLOSING };

struct slot {
    int conn;
    uint8_t state;
    uint8_t close_after;   /* close once the response in progress is sent */
    uint8_t peer_closed;   /* the client sent FIN: no more requests will come */
    uint8_t overflow;      /* bytes were dropped while a response was in progress */
    uint8_t active;        /* bytes moved since the last sweep: it stamps last_ns */
    uint8_t head_new;      /* a request head began since the last sweep: it stamps head_ns */
    unsigned len;          /* bytes in buf */
    unsigned line_end;     /* 0, or the offset just past the request line's LF */
    unsigned scan;         /* where the search for the end of the head resumes */
    unsigned line_start;   /* start of the header line that scan is in */
    unsigned out_len, out_off;
    const uint8_t *body;
    uint32_t body_left;
    unsigned long long last_ns;
    unsigned long long head_ns; /* when the first byte of the request head in buf came */
};

static struct slot slots[MAX_CONN];
/* Each slot's response head (read only in out_off..out_len, after respond()
 * wrote it) and request buffer (read only below len, after it was filled):
 * written before they are read, so in .bss.unilang_noinit, which the boot
 * does not clear (where the hypervisor emulates the guest, every 8 bytes
 * cleared is an emulated step; docs/network.md). */
#define NOINIT __attribute__((section(".bss.unilang_noinit"), aligned(64)))
static char outs[MAX_CONN][OUT_CAP] NOINIT;
static uint8_t bufs[MAX_CONN][BUF_CAP] NOINIT;
#define OUT(s) outs[(s) - slots]
#define BUF(s) bufs[(s) - slots]
static int started;
/* The request path reads no clock (a TSC read traps under nested KVM): it
 * marks a slot active (or a request head begun), and the next sweep, which
 * reads the clock once every 256 poll steps, stamps the slot with its time.
 * Stamps are late by at most one sweep, so no timeout fires early. */
static unsigned long long clock_ns;

/* ------------------------------------------------------------ helpers */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* tchar of RFC 9110, 5.6.2 */
static int is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    }
    return 0;
}

static int same_ci(const uint8_t *a, unsigned alen, const char *b)
{
    unsigned i = 0;
    for (; i < alen; i++)
        if (b[i] == 0 || lower(a[i]) != lower((uint8_t)b[i]))
            return 0;
    return b[i] == 0;
}

static int same(const uint8_t *a, unsigned alen, const char *b)
{
    unsigned i = 0;
    for (; i < alen; i++)
        if (b[i] == 0 || a[i] != (uint8_t)b[i])
            return 0;
    return b[i] == 0;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (uint8_t)lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static struct slot *slot_of(int conn)
{
    for (unsigned i = 0; i < MAX_CONN; i++)
        if (slots[i].state != FREE && slots[i].conn == conn)
            return &slots[i];
    return 0;
}

/* ------------------------------------------------------------ responses */

struct out { char *p; unsigned n, cap; };

static void put(struct out *o, const char *s, unsigned len)
{
    for (unsigned i = 0; i < len && o->n < o->cap; i++)
        o->p[o->n++] = s[i];
}

static void puts_(struct out *o, const char *s)
{
    unsigned n = 0;
    while (s[n]) n++;
    put(o, s, n);
}

static void putu(struct out *o, unsigned long long v)
{
    char d[20];
    unsigned n = 0;
    do { d[n++] = (char)('0' + v % 10); v /= 10; } while (v && n < sizeof d);
    while (n) put(o, &d[--n], 1);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    }
    return "Error";
}

static void count_status(int status)
{
    struct unilang_http_stats *st = &unilang_http_stats;
    st->responses++;
    switch (status) {
    case 200: st->status_200++; break;
    case 400: st->status_400++; break;
    case 404: st->status_404++; break;
    case 405: st->status_405++; break;
    case 408: st->status_408++; break;
    case 413: st->status_413++; break;
    case 414: st->status_414++; break;
    case 431: st->status_431++; break;
    case 503: st->status_503++; break;
    case 505: st->status_505++; break;
    }
}

/* The body of an error response: its status line's text and a newline. */
static unsigned error_body(int status, char *b, unsigned cap)
{
    struct out o = { b, 0, cap };
    putu(&o, (unsigned)status);
    put(&o, " ", 1);
    puts_(&o, reason(status));
    put(&o, "\n", 1);
    return o.n;
}

/* Format a response head into OUT(s); the body (file bytes, or the error
 * text in OUT(s) after the head) follows unless head_only. */
static void respond(struct slot *s, int status, const struct unilang_file *f, int head_only,
                    int keep_alive_10)
{
    struct out o = { OUT(s), 0, OUT_CAP };
    char ebody[64];
    unsigned elen = 0;
    const char *type = "text/plain";
    unsigned type_len = 10;
    unsigned long long length;

    if (f) {
        type = f->type;
        type_len = f->type_len < 64 ? f->type_len : 64;
        length = f->size;
    } else {
        elen = error_body(status, ebody, sizeof ebody);
        length = elen;
    }
    puts_(&o, "HTTP/1.1 ");
    putu(&o, (unsigned)status);
    put(&o, " ", 1);
    puts_(&o, reason(status));
    puts_(&o, "\r\nServer: unilang\r\nContent-Type: ");
    put(&o, type, type_len);
    puts_(&o, "\r\nContent-Length: ");
    putu(&o, length);
    puts_(&o, "\r\n");
    if (status == 405)
        puts_(&o, "Allow: GET, HEAD\r\n");
    if (s->close_after)
        puts_(&o, "Connection: close\r\n");
    else if (keep_alive_10)
        puts_(&o, "Connection: keep-alive\r\n");
    puts_(&o, "\r\n");
    s->body = 0;
    s->body_left = 0;
    if (!head_only) {
        if (f) {
            s->body = f->data;
            s->body_left = f->size;
        } else {
            put(&o, ebody, elen); /* fits: OUT_CAP leaves room for the longest head and body */
        }
    }
    s->out_len = o.n;
    s->out_off = 0;
    count_status(status);
}

/* Send what tcp takes of the response in progress; 1 when it is all sent. */
static int pump(struct slot *s)
{
    while (s->out_off < s->out_len) {
        int n = unilang_tcp_send(s->conn, OUT(s) + s->out_off, s->out_len - s->out_off);
        if (n <= 0) {
            if (n < 0) s->out_off = s->out_len, s->body_left = 0; /* the connection is gone */
            return n < 0;
        }
        s->out_off += (unsigned)n;
        s->active = 1;
    }
    while (s->body_left) {
        int n = unilang_tcp_send(s->conn, s->body, s->body_left);
        if (n <= 0) {
            if (n < 0) s->body_left = 0;
            return n < 0;
        }
        if ((uint32_t)n > s->body_left) n = (int)s->body_left; /* never trust a count */
        s->body += n;
        s->body_left -= (uint32_t)n;
        unilang_http_stats.body_bytes += (unsigned)n;
        s->active = 1;
    }
    return 1;
}

static int busy(const struct slot *s) { return s->out_off < s->out_len || s->body_left; }

/* ------------------------------------------------------------ requests */

/* What the search for the end of a request head found. */
enum { NEED_MORE, COMPLETE, TOO_LONG_LINE, TOO_LONG_HEAD, BAD };

/* Drop the first n bytes of the buffer (a request answered, or empty lines). */
static void consume(struct slot *s, unsigned n)
{
    if (n > s->len) n = s->len;
    for (unsigned i = n; i < s->len; i++)
        BUF(s)[i - n] = BUF(s)[i];
    s->len -= n;
    s->line_end = s->scan = s->line_start = 0;
    if (s->len)
        s->head_new = 1; /* the next request's time starts now */
}

/* Find the end of the request head in buf, resuming where the last call
 * stopped; *end is the offset just past its empty line. */
static int find_head(struct slot *s, unsigned *end)
{
    /* empty lines before the request line are skipped */
    if (s->line_end == 0) {
        unsigned skip = 0;
        while (skip < s->len && (BUF(s)[skip] == '\n' ||
               (BUF(s)[skip] == '\r' && skip + 1 < s->len && BUF(s)[skip + 1] == '\n')))
            skip += BUF(s)[skip] == '\n' ? 1 : 2;
        if (skip) {
            consume(s, skip);
        }
        if (s->len == 1 && BUF(s)[0] == '\r')
            return NEED_MORE;
        for (; s->scan < s->len; s->scan++) {
            if (BUF(s)[s->scan] == '\n') {
                unsigned line = s->scan;
                if (line && BUF(s)[line - 1] == '\r') line--;
                if (line > MAX_LINE) return TOO_LONG_LINE;
                s->line_end = s->line_start = s->scan + 1;
                s->scan++;
                break;
            }
            /* no LF within the limit: MAX_LINE bytes, then at most a CR */
            if (s->scan >= MAX_LINE + 1 || (s->scan == MAX_LINE && BUF(s)[s->scan] != '\r'))
                return TOO_LONG_LINE;
        }
        if (s->line_end == 0)
            return NEED_MORE;
    }
    for (; s->scan < s->len; s->scan++) {
        if (s->scan - s->line_end >= MAX_HEAD) return TOO_LONG_HEAD;
        if (BUF(s)[s->scan] != '\n') continue;
        unsigned len = s->scan - s->line_start;
        if (len == 0 || (len == 1 && BUF(s)[s->line_start] == '\r')) {
            *end = s->scan + 1;
            return COMPLETE;
        }
        s->line_start = s->scan + 1;
    }
    if (s->len - s->line_end > MAX_HEAD) return TOO_LONG_HEAD;
    return NEED_MORE;
}

/* The length of a line [start, nl) without its CR; -1 for a CR elsewhere. */
static int line_len(const uint8_t *b, unsigned start, unsigned nl)
{
    unsigned n = nl - start;
    if (n && b[nl - 1] == '\r') n--;
    for (unsigned i = start; i < start + n; i++)
        if (b[i] == '\r') return -1;
    return (int)n;
}

struct request {
    int head;            /* HEAD rather than GET */
    int method_ok;       /* GET or HEAD */
    int http10;
    int close;           /* Connection: close (or 1.0 without keep-alive) */
    int keep_alive;      /* Connection: keep-alive */
    int hosts;
    int body;            /* Content-Length > 0 or Transfer-Encoding */
    const uint8_t *target;
    unsigned target_len;
};

/* Parse the request line [0, n); a status, or 0 when it is acceptable. */
static int parse_request_line(const uint8_t *b, unsigned n, struct request *r)
{
    unsigned i = 0, m;
    while (i < n && is_tchar(b[i])) i++;
    m = i;
    if (m == 0 || i >= n || b[i] != ' ') return 400;
    r->head = same(b, m, "HEAD");
    r->method_ok = r->head || same(b, m, "GET");
    unsigned t = ++i;
    while (i < n && b[i] > ' ' && b[i] < 0x7f) i++;
    if (i == t || i >= n || b[i] != ' ') return 400;
    r->target = b + t;
    r->target_len = i - t;
    i++;
    const uint8_t *v = b + i;
    unsigned vlen = n - i;
    if (vlen != 8 || !same(v, 5, "HTTP/") || v[6] != '.' ||
        v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1') return 505;
    r->http10 = v[7] == '0';
    return 0;
}

/* Does the comma-separated list [v, v+n) hold the token tok (any case)? */
static int has_token(const uint8_t *v, unsigned n, const char *tok)
{
    unsigned i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        unsigned s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t') i++;
        if (i > s && same_ci(v + s, i - s, tok)) return 1;
    }
    return 0;
}

/* Parse the header lines in [from, to) (to: the start of the empty line). */
static int parse_headers(const uint8_t *b, unsigned from, unsigned to, struct request *r)
{
    unsigned pos = from;
    int have_length = 0;
    unsigned long long length = 0;
    while (pos < to) {
        unsigned nl = pos;
        while (nl < to && b[nl] != '\n') nl++;
        if (nl >= to) return 400;            /* cannot happen: every line ends in LF */
        int n = line_len(b, pos, nl);
        if (n <= 0) return 400;              /* a bare CR, or an empty line too early */
        const uint8_t *l = b + pos;
        if (l[0] == ' ' || l[0] == '\t') return 400; /* obsolete line folding */
        unsigned c = 0;
        while (c < (unsigned)n && is_tchar(l[c])) c++;
        if (c == 0 || c >= (unsigned)n || l[c] != ':') return 400;
        unsigned vs = c + 1, ve = (unsigned)n;
        while (vs < ve && (l[vs] == ' ' || l[vs] == '\t')) vs++;
        while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t')) ve--;
        for (unsigned k = vs; k < ve; k++)
            if ((l[k] < ' ' && l[k] != '\t') || l[k] == 0x7f) return 400;
        const uint8_t *v = l + vs;
        unsigned vlen = ve - vs;
        if (same_ci(l, c, "host")) {
            r->hosts++;
        } else if (same_ci(l, c, "connection")) {
            if (has_token(v, vlen, "close")) r->close = 1;
            if (has_token(v, vlen, "keep-alive")) r->keep_alive = 1;
        } else if (same_ci(l, c, "content-length")) {
            unsigned long long x = 0;
            if (vlen == 0) return 400;
            for (unsigned k = 0; k < vlen; k++) {
                if (v[k] < '0' || v[k] > '9') return 400;
                if (x > 100000000000ull) { r->body = 1; x = 100000000000ull; continue; }
                x = x * 10 + (v[k] - '0');
            }
            if (have_length && x != length) return 400;
            have_length = 1;
            length = x;
            if (x > 0) r->body = 1;
        } else if (same_ci(l, c, "transfer-encoding")) {
            r->body = 1;
        }
        pos = nl + 1;
    }
    return 0;
}

/* The sealed file a request target names, or 0: origin form (`/path?query`)
 * or absolute form (`http://host/path`), percent-decoded; a path ending in
 * `/` names its index.html.  *bad is set for a target that is malformed. */
static const struct unilang_file *lookup(const uint8_t *t, unsigned n, int *bad)
{
    char path[MAX_LINE + 16];
    unsigned i = 0, o = 0;
    *bad = 0;
    if (n >= 7 && same_ci(t, 7, "http://")) {
        i = 7;
        while (i < n && t[i] != '/' && t[i] != '?') i++;
        if (i == 7) { *bad = 1; return 0; }   /* no authority */
        if (i >= n || t[i] == '?') { n = i; } /* `http://host` is `/` */
    } else if (n == 0 || t[0] != '/') {
        *bad = 1;
        return 0;
    }
    if (i < n && t[i] == '/') i++;
    for (; i < n && t[i] != '?' && t[i] != '#'; i++) {
        uint8_t c = t[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(t[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(t[i + 2]) : -1;
            if (hi < 0 || lo < 0) { *bad = 1; return 0; }
            c = (uint8_t)(hi * 16 + lo);
            if (c == 0) { *bad = 1; return 0; }
            i += 2;
        }
        if (o >= MAX_LINE) return 0;
        path[o++] = (char)c;
    }
    if (o == 0 || path[o - 1] == '/') {
        static const char index[] = "index.html";
        if (o + sizeof index - 1 > sizeof path) return 0;
        for (unsigned k = 0; k + 1 < sizeof index; k++) path[o++] = index[k];
    }
    return unilang_file_find(path, o);
}

/* Answer the complete request head [0, end) in buf. */
static void answer(struct slot *s, unsigned end)
{
    struct request r = { 0 };
    unsigned line = s->line_end - 1;
    if (line && BUF(s)[line - 1] == '\r') line--;
    int status = 0;
    for (unsigned i = 0; i < line; i++)
        if (BUF(s)[i] == '\r' || BUF(s)[i] == 0) status = 400;
    if (!status) status = parse_request_line(BUF(s), line, &r);
    unsigned empty = end - 1;                  /* the empty line's LF */
    if (empty && BUF(s)[empty - 1] == '\r' && empty - 1 >= s->line_end) empty--;
    if (!status) status = parse_headers(BUF(s), s->line_end, empty, &r);
    unilang_http_stats.requests++;
    if (!status && !r.http10 && r.hosts != 1) status = 400;
    if (!status && r.hosts > 1) status = 400;
    int keep_alive_10 = 0;
    if (status) {
        s->close_after = 1;
        respond(s, status, 0, r.head, 0);
        return;
    }
    if (r.close || (r.http10 && !r.keep_alive))
        s->close_after = 1;
    else if (r.http10)
        keep_alive_10 = 1;
    if (r.body) {                              /* the body would be read as a request */
        s->close_after = 1;
        respond(s, r.method_ok ? 413 : 405, 0, r.head, 0);
        return;
    }
    if (!r.method_ok) {
        respond(s, 405, 0, 0, keep_alive_10);
        return;
    }
    int bad;
    const struct unilang_file *f = lookup(r.target, r.target_len, &bad);
    if (bad) {
        s->close_after = 1;
        respond(s, 400, 0, r.head, 0);
        return;
    }
    respond(s, f ? 200 : 404, f, r.head, keep_alive_10);
}

/* Answer every complete request in the buffer, in order, while the
 * responses go out; stop at the first one still being sent. */
static void serve(struct slot *s)
{
    while (s->state == OPEN) {
        if (busy(s) && !pump(s))
            return;                             /* wait for writable */
        if (s->close_after) {
            s->state = CLOSING;
            unilang_tcp_close(s->conn);
            return;
        }
        unsigned end = 0;
        int found = find_head(s, &end);
        if (found == COMPLETE) {
            answer(s, end);
            consume(s, end);
            continue;
        }
        if (found == TOO_LONG_LINE || found == TOO_LONG_HEAD) {
            unilang_http_stats.requests++;
            s->close_after = 1;
            s->len = 0;
            respond(s, found == TOO_LONG_LINE ? 414 : 431, 0, 0, 0);
            continue;
        }
        /* NEED_MORE */
        if (s->overflow) {
            unilang_http_stats.closed_overflow++;
            s->state = CLOSING;
            unilang_tcp_close(s->conn);
        } else if (s->peer_closed) {
            s->state = CLOSING;
            unilang_tcp_close(s->conn);
        }
        return;
    }
}

/* ------------------------------------------------------------ tcp callbacks */

static void on_accepted(int conn, void *ctx)
{
    (void)ctx;
    for (unsigned i = 0; i < MAX_CONN; i++) {
        struct slot *s = &slots[i];
        if (s->state != FREE) continue;
        s->conn = conn;
        s->state = OPEN;
        s->close_after = s->peer_closed = s->overflow = 0;
        s->len = s->line_end = s->scan = s->line_start = 0;
        s->out_len = s->out_off = 0;
        s->body = 0;
        s->body_left = 0;
        s->last_ns = s->head_ns = clock_ns;
        s->active = 1;
        s->head_new = 0;
        unilang_http_stats.connections++;
        return;
    }
    /* no slot: a short 503, then close (the text fits any send buffer) */
    static const char busy503[] = "HTTP/1.1 503 Service Unavailable\r\nServer: unilang\r\n"
                                  "Content-Length: 0\r\nConnection: close\r\n\r\n";
    unilang_http_stats.refused++;
    count_status(503);
    unilang_tcp_send(conn, busy503, sizeof busy503 - 1);
    unilang_tcp_close(conn);
}

static void on_received(int conn, const uint8_t *data, unsigned len, void *ctx)
{
    (void)ctx;
    struct slot *s = slot_of(conn);
    if (!s || s->state != OPEN || !data)
        return;                                 /* closing, or refused: discard */
    s->active = 1;
    while (len && s->state == OPEN) {
        unsigned room = BUF_CAP - s->len;
        if (room == 0) {
            /* a response is in progress and the client pipelined more than the
             * buffer holds: keep what is complete, then close */
            s->overflow = 1;
            return;
        }
        unsigned n = len < room ? len : room;
        if (s->len == 0)
            s->head_new = 1;
        for (unsigned i = 0; i < n; i++) BUF(s)[s->len + i] = data[i];
        s->len += n;
        data += n;
        len -= n;
        serve(s);
    }
}

static void on_writable(int conn, void *ctx)
{
    (void)ctx;
    struct slot *s = slot_of(conn);
    if (s && s->state == OPEN)
        serve(s);
}

static void on_peer_closed(int conn, void *ctx)
{
    (void)ctx;
    struct slot *s = slot_of(conn);
    if (!s) {
        unilang_tcp_close(conn);
        return;
    }
    s->peer_closed = 1;
    if (s->state == OPEN)
        serve(s);                               /* answers what is complete, then closes */
}

static void on_closed(int conn, void *ctx)
{
    (void)ctx;
    struct slot *s = slot_of(conn);
    if (s) {
        s->state = FREE;
        s->conn = -1;
    }
}

static const struct unilang_tcp_callbacks callbacks = {
    .accepted = on_accepted,
    .received = on_received,
    .writable = on_writable,
    .peer_closed = on_peer_closed,
    .closed = on_closed,
};

/* ------------------------------------------------------------ the loop */

int unilang_http_start(void)
{
    if (started)
        return 0;
    for (unsigned i = 0; i < MAX_CONN; i++) {
        slots[i].state = FREE;
        slots[i].conn = -1;
    }
    clock_ns = unilang_monotonic_ns();
    int l = unilang_tcp_listen(PORT, &callbacks, 0);
    if (l < 0)
        return l;
    started = 1;
    return 0;
}

static unsigned long long last_sweep;

void unilang_http_poll(void)
{
    static unsigned polls;
    unilang_net_poll();
    /* the idle sweep reads the clock once every 256 steps, not every step */
    if (++polls & 255)
        return;
    unsigned long long now = clock_ns = unilang_monotonic_ns();
    if (now - last_sweep < 10000000ull)       /* sweep at most every 10 ms */
        return;
    last_sweep = now;
    for (unsigned i = 0; i < MAX_CONN; i++) {
        struct slot *s = &slots[i];
        if (s->active) {
            s->active = 0;
            s->last_ns = now;
        }
        if (s->head_new) {
            s->head_new = 0;
            s->head_ns = now;
        }
        if (s->state == OPEN && !busy(s) && s->len && now - s->head_ns >= IDLE_NS) {
            /* a request head still incomplete after idle_timeout_ms, however
             * slowly its bytes trickle in: 408, then close */
            unilang_http_stats.requests++;
            s->close_after = 1;
            s->len = 0;
            respond(s, 408, 0, 0, 0);
            serve(s);
            continue;
        }
        if (s->state == FREE || now - s->last_ns < IDLE_NS)
            continue;
        if (s->state == OPEN && busy(s)) {
            unilang_http_stats.closed_stalled++;
            s->state = CLOSING;
            unilang_tcp_abort(s->conn);         /* its closed() frees the slot */
        } else if (s->state == OPEN) {
            unilang_http_stats.closed_idle++;
            s->state = CLOSING;
            s->last_ns = now;
            unilang_tcp_close(s->conn);
        } else if (now - s->last_ns >= 2 * IDLE_NS) {
            unilang_tcp_abort(s->conn);         /* a FIN the peer never answers */
        }
    }
}

int unilang_http_serve(void)
{
    int err = unilang_http_start();
    if (err < 0)
        return err;
    for (;;)
        unilang_http_poll();
}
