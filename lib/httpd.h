/*
 * httpd.h - the Prometheus endpoint of a daemon: GET /metrics and
 * GET /healthz served by libmicrohttpd on the daemon's own libev loop.
 *
 * MHD runs without a thread of its own: its epoll fd is one io watcher and
 * MHD_get_timeout() one timer, so a scrape is answered from the thread
 * that owns the daemon's state (no locks), and a slow or hostile client
 * costs only a socket. Connections are limited in number, time (5 s) and
 * memory (16 KiB of request headers: more gets an error), so a scrape
 * never blocks supervision. Anything but GET/HEAD of those two paths gets
 * 404 or 405.
 */
#ifndef RS_HTTPD_H
#define RS_HTTPD_H

#include <ev.h>
#include <stddef.h>

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
/* Why httpd_start failed, for a person. */
const char *httpd_strerror(int r);
/* Stops and frees *h, NULLs it. Accepts NULL. */
void httpd_stop(httpd **h);

#endif
