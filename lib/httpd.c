/*
 * httpd.c - GET /metrics and /healthz (and a daemon's pages) with
 * libmicrohttpd on a libev loop (see httpd.h).
 *
 * libmicrohttpd is loaded with dlopen() when an endpoint is started, not
 * linked: Debian's build pulls in GnuTLS, p11-kit, nettle and more
 * (about 1.2 MiB of PSS per process, measured with bench/memory.py),
 * which an rs-agent without --metrics should not pay.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "model.h"

#define HTTPD_CONN_MAX     64
#define HTTPD_TIMEOUT_S    5
#define HTTPD_MEM_LIMIT    (16 * 1024)
#define HTTPD_PART_MAX     (8 * 1024)   /* a streamed response's block (it
					 * lives in the connection's memory) */

/* The functions used, from the library loaded at the first start. */
static struct {
	void *lib;
	struct MHD_Daemon *(*start_daemon)(unsigned, uint16_t, MHD_AcceptPolicyCallback,
					   void *, MHD_AccessHandlerCallback, void *, ...);
	void (*stop_daemon)(struct MHD_Daemon *);
	enum MHD_Result (*run)(struct MHD_Daemon *);
	enum MHD_Result (*get_timeout)(struct MHD_Daemon *, MHD_UNSIGNED_LONG_LONG *);
	const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *,
						       enum MHD_DaemonInfoType, ...);
	struct MHD_Response *(*create_response_from_buffer)(size_t, void *,
							    enum MHD_ResponseMemoryMode);
	struct MHD_Response *(*create_response_from_callback)(uint64_t, size_t,
							      MHD_ContentReaderCallback, void *,
							      MHD_ContentReaderFreeCallback);
	enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *,
					       const char *);
	enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int,
					  struct MHD_Response *);
	void (*destroy_response)(struct MHD_Response *);
	const union MHD_ConnectionInfo *(*get_connection_info)(struct MHD_Connection *,
							       enum MHD_ConnectionInfoType, ...);
	const char *(*lookup_connection_value)(struct MHD_Connection *,
					       enum MHD_ValueKind, const char *);
} M;

/* Loads libmicrohttpd once. 0, or -ENOTSUP (with a message in err). */
static int mhd_load(void)
{
	static const char *const names[] = { "libmicrohttpd.so.12", "libmicrohttpd.so" };
	void *lib = NULL;

	if (M.lib)
		return 0;
	for (size_t i = 0; !lib && i < sizeof names / sizeof names[0]; i++)
		lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return -ENOTSUP;
#define SYM(field, name) \
	if (!(*(void **)&M.field = dlsym(lib, name))) goto bad
	SYM(start_daemon, "MHD_start_daemon");
	SYM(stop_daemon, "MHD_stop_daemon");
	SYM(run, "MHD_run");
	SYM(get_timeout, "MHD_get_timeout");
	SYM(get_daemon_info, "MHD_get_daemon_info");
	SYM(create_response_from_buffer, "MHD_create_response_from_buffer");
	SYM(create_response_from_callback, "MHD_create_response_from_callback");
	SYM(add_response_header, "MHD_add_response_header");
	SYM(queue_response, "MHD_queue_response");
	SYM(destroy_response, "MHD_destroy_response");
	SYM(get_connection_info, "MHD_get_connection_info");
	SYM(lookup_connection_value, "MHD_lookup_connection_value");
#undef SYM
	M.lib = lib;
	return 0;
bad:
	dlclose(lib);
	return -ENOTSUP;
}

struct httpd {
	struct ev_loop    *loop;
	struct MHD_Daemon *mhd;
	ev_io              io;
	ev_timer           timer;
	httpd_metrics_fn   fn;
	void              *arg;
	httpd_page_fn      page;
	httpd_stream_fn    stream;
};

void httpd_set_pages(httpd *h, httpd_page_fn fn)
{
	h->page = fn;
}

void httpd_set_stream(httpd *h, httpd_stream_fn fn)
{
	h->stream = fn;
}

/* A streamed /metrics: the parts written so far and not yet sent. */
typedef struct stream_ctx {
	httpd   *h;
	void    *state;     /* the stream function's */
	prom_buf part;
	size_t   off;       /* sent of part */
	bool     done;      /* the function said the last part */
} stream_ctx;

/* MHD wants up to max more bytes (the connection could take them): what
 * is left of the last part, else the next part, one call to the stream
 * function per call at most, so that each turn of the loop writes one
 * part. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream_ctx *x = cls;
	size_t n;

	(void)pos;
	while (x->off == x->part.len) {
		if (x->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		x->part.len = x->off = 0;
		x->done = x->h->stream(x->h->arg, &x->state, &x->part) == 0;
		if (x->part.oom)
			return MHD_CONTENT_READER_END_WITH_ERROR;   /* cut */
		if (!x->part.len && !x->done)
			return 0;   /* nothing this turn: MHD asks again */
	}
	n = x->part.len - x->off < max ? x->part.len - x->off : max;
	memcpy(buf, x->part.s + x->off, n);
	x->off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	stream_ctx *x = cls;

	if (!x->done)
		(void)x->h->stream(x->h->arg, &x->state, NULL);   /* client gone */
	prom_free(&x->part);
	free(x);
}

bool httpd_addr_loopback(const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (!memcmp(a->s6_addr, mapped, sizeof mapped) && a->s6_addr[12] == 127);
	}
	return false;
}

bool httpd_host_loopback(const char *host)
{
	char name[64];
	struct in_addr a4;
	char *colon;

	if (!host || rs_strlcpy(name, host, sizeof name) < 0)
		return false;
	if (!strncmp(name, "[::1]", 5))
		return name[5] == '\0' || name[5] == ':';
	if ((colon = strchr(name, ':')))
		*colon = '\0';
	if (!strcasecmp(name, "localhost"))
		return true;
	return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* Whether connection c may see the pages (httpd_page_fn's local). */
static bool conn_local(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		M.get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	return ci && httpd_addr_loopback(ci->client_addr) &&
	       httpd_host_loopback(M.lookup_connection_value(c, MHD_HEADER_KIND, "Host"));
}

static enum MHD_Result metrics_answer(void *cls, struct MHD_Connection *c,
				      const char *url, const char *method,
				      const char *version, const char *upload,
				      size_t *upload_size, void **con_cls)
{
	httpd *h = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status = MHD_HTTP_OK;
	prom_buf b = { 0 };
	const char *type = "text/plain; version=0.0.4; charset=utf-8";

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") == 0 && h->stream) {
		stream_ctx *x = calloc(1, sizeof *x);

		if (!x)
			return MHD_NO;
		x->h = h;
		resp = M.create_response_from_callback(MHD_SIZE_UNKNOWN, HTTPD_PART_MAX,
						       stream_read, x, stream_free);
		if (!resp) {
			free(x);
			return MHD_NO;
		}
		M.add_response_header(resp, "Content-Type", type);
		M.add_response_header(resp, "Cache-Control", "no-store");
		ret = M.queue_response(c, status, resp);
		M.destroy_response(resp);
		return ret;
	} else if (strcmp(url, "/metrics") == 0) {
		h->fn(h->arg, &b);
		if (b.oom)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else if (strcmp(url, "/healthz") != 0) {
		status = h->page ? h->page(h->arg, url, conn_local(c), &b, &type) :
			 MHD_HTTP_NOT_FOUND;
		if (status == MHD_HTTP_OK && b.oom)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	if (status != MHD_HTTP_OK && !(status == MHD_HTTP_FORBIDDEN && b.s)) {
		prom_free(&b);
		b.s = strdup(status == MHD_HTTP_NOT_FOUND ? "not found\n" :
			     status == MHD_HTTP_METHOD_NOT_ALLOWED ?
			     "method not allowed\n" : "internal error\n");
		b.len = b.s ? strlen(b.s) : 0;
		type = "text/plain; charset=utf-8";
	} else if (strcmp(url, "/healthz") == 0) {
		b.s = strdup("ok\n");
		b.len = b.s ? 3 : 0;
	}
	resp = M.create_response_from_buffer(b.len, b.s ? b.s : (char *)"",
					       b.s ? MHD_RESPMEM_MUST_FREE :
					       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(b.s);
		return MHD_NO;
	}
	M.add_response_header(resp, "Content-Type", type);
	M.add_response_header(resp, "X-Content-Type-Options", "nosniff");
	M.add_response_header(resp, "Cache-Control", "no-store");
	ret = M.queue_response(c, status, resp);
	M.destroy_response(resp);
	return ret;
}

/* Lets MHD do its work, then re-arms the timer it asks for. */
static void metrics_run(httpd *h)
{
	MHD_UNSIGNED_LONG_LONG to;

	M.run(h->mhd);
	ev_timer_stop(h->loop, &h->timer);
	if (M.get_timeout(h->mhd, &to) == MHD_YES) {
		ev_timer_set(&h->timer, (double)to / 1000.0, 0.);
		ev_timer_start(h->loop, &h->timer);
	}
}

static void mhd_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	metrics_run(w->data);
}

static void mhd_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	metrics_run(w->data);
}

/* Parses HOST:PORT ([v6]:PORT too) into a socket address. */
static int parse_hostport(const char *hp, struct sockaddr_storage *ss)
{
	char host[256], *port;
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM }, *res;
	int r;

	if (rs_strlcpy(host, hp, sizeof host) < 0)
		return -EINVAL;
	port = strrchr(host, ':');
	if (!port)
		return -EINVAL;
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	r = getaddrinfo(host[0] && strcmp(host, "*") ? host : NULL, port, &hints, &res);
	if (r != 0)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int httpd_start(struct ev_loop *loop, const char *hostport,
		httpd_metrics_fn fn, void *arg, httpd **out, char *ep,
		size_t epn)
{
	struct sockaddr_storage ss;
	httpd *h;
	const union MHD_DaemonInfo *info;
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int r;

	r = parse_hostport(hostport, &ss);
	if (r < 0)
		return r;
	if ((r = mhd_load()) < 0)
		return r;   /* libmicrohttpd12 is not installed */
	h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->loop = loop;
	h->fn = fn;
	h->arg = arg;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->mhd = M.start_daemon(flags, 0, NULL, NULL, metrics_answer, h,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_CONN_MAX,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_MEM_LIMIT,
				  MHD_OPTION_END);
	if (!h->mhd) {
		free(h);
		return -EADDRINUSE;
	}
	info = M.get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		M.stop_daemon(h->mhd);
		free(h);
		return -ENOTSUP;
	}
	ev_io_init(&h->io, mhd_io_cb, info->epoll_fd, EV_READ);
	h->io.data = h;
	ev_io_start(loop, &h->io);
	ev_init(&h->timer, mhd_timer_cb);
	h->timer.data = h;
	info = M.get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
	snprintf(ep, epn, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
		 info ? (unsigned)info->port : 0u);
	*out = h;
	return 0;
}

const char *httpd_strerror(int r)
{
	switch (r) {
	case -EINVAL: return "want HOST:PORT";
	case -ENOTSUP: return "libmicrohttpd (Debian package libmicrohttpd12) cannot be loaded";
	case -EADDRINUSE: return "cannot listen there (address in use or not available)";
	default: return strerror(-r);
	}
}

void httpd_stop(httpd **hp)
{
	httpd *h = hp ? *hp : NULL;

	if (!h)
		return;
	ev_io_stop(h->loop, &h->io);
	ev_timer_stop(h->loop, &h->timer);
	M.stop_daemon(h->mhd);
	free(h);
	*hp = NULL;
}

