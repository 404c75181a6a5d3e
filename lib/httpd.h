/*
 * httpd.h - the Prometheus endpoint of a daemon: GET /metrics and
 * GET /healthz served by libmicrohttpd on the daemon's own libev loop.
 *
 * MHD runs without a thread of its own: its epoll fd is one io watcher and
 * MHD_get_timeout() one timer, so a scrape is answered from the thread
 * that owns the daemon's state (no locks), and a slow or hostile client
 * costs only a socket. Connections are limited in number, time (5 s) and
 * memory (16 KiB of request headers: more gets an error), so a scrape
 * never blocks supervision. Anything but GET/HEAD gets 405; other paths
 * go to the pages function if one is set (httpd_set_pages), else 404.
 */
#ifndef RS_HTTPD_H
#define RS_HTTPD_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "prom.h"

typedef struct httpd httpd;
/* Writes the metrics text into b (called per scrape, on the loop). */
typedef void (*httpd_metrics_fn)(void *arg, prom_buf *b);

/* Serves on HOST:PORT ("[v6]:PORT", "*:PORT"; port 0 = any) from loop.
 * Writes the bound "ADDR:PORT" into ep. 0, -EINVAL (bad HOST:PORT),
 * -EADDRINUSE (cannot listen), -ENOTSUP (libmicrohttpd cannot be loaded)
 * or -ENOMEM. */
int httpd_start(struct ev_loop *loop, const char *hostport,
		httpd_metrics_fn fn, void *arg, httpd **out, char *ep,
		size_t epn);
/* Other pages (rsd's status page): called for a GET/HEAD of any other
 * path, with whether the client may see them (local: it connected from a
 * loopback address and named a loopback host, so that a web page of
 * another site cannot read them by rebinding its name); returns the HTTP
 * status, the body in b and its Content-Type in *type (404: not here). */
typedef unsigned (*httpd_page_fn)(void *arg, const char *url, bool local,
				  prom_buf *b, const char **type);
void httpd_set_pages(httpd *h, httpd_page_fn fn);
/* /metrics written in parts instead of at once (a big exposition: rsd's
 * at 150,000 instances is 20 MB, ~0.4 s to write, which must not hold the
 * loop): called again and again with the same *state (NULL the first
 * time), each call appending a part to b (a millisecond's worth, or
 * nothing yet); returns 1 while more follows, 0 after the last part
 * (then *state is freed). With b NULL the client went away: free *state,
 * return 0. MHD sends the parts as they come (chunked), one part a turn
 * of the loop, so other work goes on between them. */
typedef int (*httpd_stream_fn)(void *arg, void **state, prom_buf *b);
void httpd_set_stream(httpd *h, httpd_stream_fn fn);
/* Whether sa is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x). */
bool httpd_addr_loopback(const struct sockaddr *sa);
/* Whether an HTTP Host header names a loopback host ("localhost",
 * "127.x.y.z", "[::1]", with or without a port). NULL: no. */
bool httpd_host_loopback(const char *host);

/* Why httpd_start failed, for a person. */
const char *httpd_strerror(int r);
/* Stops and frees *h, NULLs it. Accepts NULL. */
void httpd_stop(httpd **h);

#endif
