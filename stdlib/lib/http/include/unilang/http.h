/* <unilang/http.h>: an HTTP/1.1 server for the files sealed into the image
 * (stdlib/lib/http, over <unilang/tcp.h> and <unilang/files.h>).
 *
 * Polled, no threads: unilang_http_poll() runs one unilang_net_poll() and
 * closes idle connections; unilang_http_serve() starts and polls forever.
 * Parameters (set http.NAME = VALUE; in the spec): port, max_request_line,
 * max_header_bytes, max_connections, idle_timeout_ms. */
#ifndef UNILANG_HTTP_H
#define UNILANG_HTTP_H

#include <stdint.h>

/* Listen on the `port` parameter: 0, or a negative UNILANG_TCP_E* error. */
int unilang_http_start(void);
/* One step of the event loop: network input, timers, idle connections. */
void unilang_http_poll(void);
/* unilang_http_start(), then unilang_http_poll() forever; returns only the
 * error of a failed start. */
int unilang_http_serve(void);

/* Counters: requests parsed, responses by status, and why connections ended. */
struct unilang_http_stats {
    uint64_t connections, requests, responses, body_bytes;
    uint64_t status_200, status_400, status_404, status_405, status_408, status_413, status_414;
    uint64_t status_431, status_503, status_505;
    uint64_t closed_idle;      /* idle_timeout_ms passed with nothing to do */
    uint64_t closed_stalled;   /* a response made no progress for idle_timeout_ms: aborted */
    uint64_t closed_overflow;  /* the client pipelined more than the buffer holds */
    uint64_t refused;          /* no free connection slot: 503 */
};
extern struct unilang_http_stats unilang_http_stats;

#endif /* UNILANG_HTTP_H */
