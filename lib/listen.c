/*
 * listen.c - "NAME=ADDR" listen specs: parse, check a set, open one.
 * See listen.h for the syntax.
 */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

_Static_assert(RS_LISTEN_PATH_MAX == sizeof(((struct sockaddr_un *)0)->sun_path),
	       "RS_LISTEN_PATH_MAX must be sun_path's size");

/* Writes `listen "SPEC": reason` into err. Returns -EINVAL. */
__attribute__((format(printf, 4, 5)))
static int bad(const char *spec, char *err, size_t errlen, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "listen \"%s\": %s", spec, why);
	return -EINVAL;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Copies s[0..n) into dst[size] as a string; false if it does not fit. */
static bool take(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

/* Parses a decimal port 1-65535 (no sign, no spaces). */
static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return false;
	v = strtoul(s, NULL, 10);
	if (v < 1 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Checks host (tcp: an IPv4 address or a name; tcp6: an IPv6 address,
 * with an optional %scope, or a name). Returns NULL or the reason. */
static const char *host_problem(const char *host, rs_listen_family fam,
				char *why, size_t n)
{
	const char *allowed = fam == RS_LISTEN_TCP6 ?
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:%" :
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	size_t ok = strspn(host, allowed);
	unsigned char buf[sizeof(struct in6_addr)];
	char addr[RS_LISTEN_HOST_MAX];

	if (!*host)
		return "HOST is empty";
	if (fam == RS_LISTEN_TCP && host[ok] == ':')
		return "an IPv6 address needs tcp6:[HOST]:PORT";
	if (host[ok]) {
		snprintf(why, n, "'%c' is not allowed in HOST", host[ok]);
		return why;
	}
	if (fam == RS_LISTEN_TCP && strspn(host, "0123456789.") == strlen(host) &&
	    inet_pton(AF_INET, host, buf) != 1) {
		snprintf(why, n, "'%s' is not an IPv4 address", host);
		return why;
	}
	if (fam == RS_LISTEN_TCP6 && strchr(host, ':')) {
		snprintf(addr, sizeof addr, "%.*s", (int)strcspn(host, "%"), host);
		if (inet_pton(AF_INET6, addr, buf) != 1) {
			snprintf(why, n, "'%s' is not an IPv6 address", host);
			return why;
		}
	}
	return NULL;
}

/* Parses the ADDR part of spec into out. 0 or -EINVAL (err filled). */
static int parse_addr(const char *spec, const char *addr, rs_listen *out,
		      char *err, size_t errlen)
{
	const char *rest, *host, *port;
	size_t hostlen;
	const char *problem;
	char why[128];

	if (!strncmp(addr, "unix:", 5)) {
		rest = addr + 5;
		out->family = RS_LISTEN_UNIX;
		if (rest[0] != '/')
			return bad(spec, err, errlen, "the socket PATH must be absolute");
		if (!take(out->path, sizeof out->path, rest, strlen(rest)))
			return bad(spec, err, errlen, "the socket PATH is longer than %zu bytes",
				   sizeof out->path - 1);
		return 0;
	}
	if (!strncmp(addr, "tcp:", 4)) {
		out->family = RS_LISTEN_TCP;
		host = addr + 4;
		port = strrchr(host, ':');
		if (!port)
			return bad(spec, err, errlen, "expected tcp:HOST:PORT");
		hostlen = (size_t)(port - host);
	} else if (!strncmp(addr, "tcp6:", 5)) {
		out->family = RS_LISTEN_TCP6;
		rest = addr + 5;
		port = strstr(rest, "]:");
		if (rest[0] != '[' || !port)
			return bad(spec, err, errlen, "expected tcp6:[HOST]:PORT");
		host = rest + 1;
		hostlen = (size_t)(port - host);
		port++;
	} else {
		return bad(spec, err, errlen, "the address must start with tcp:, tcp6: or unix:");
	}
	if (!take(out->host, sizeof out->host, host, hostlen))
		return bad(spec, err, errlen, "HOST is longer than %d bytes",
			   RS_LISTEN_HOST_MAX - 1);
	problem = host_problem(out->host, out->family, why, sizeof why);
	if (problem)
		return bad(spec, err, errlen, "%s", problem);
	if (!parse_port(port + 1, &out->port))
		return bad(spec, err, errlen, "port must be 1..65535");
	return 0;
}

int rs_listen_parse(const char *spec, rs_listen *out, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	size_t nlen;

	memset(out, 0, sizeof *out);
	if (strlen(spec) >= RS_LISTEN_STR_MAX)
		return bad(spec, err, errlen, "longer than %d bytes", RS_LISTEN_STR_MAX - 1);
	if (!eq)
		return bad(spec, err, errlen, "expected NAME=ADDR");
	nlen = (size_t)(eq - spec);
	if (nlen == 0)
		return bad(spec, err, errlen, "NAME before '=' is empty");
	if (!take(out->name, sizeof out->name, spec, nlen))
		return bad(spec, err, errlen, "NAME is longer than %d characters",
			   RS_LISTEN_NAME_MAX - 1);
	for (size_t i = 0; i < nlen; i++)
		if (!name_char(spec[i]))
			return bad(spec, err, errlen, "'%c' is not allowed in NAME (use "
				   "A-Z a-z 0-9 _ . -%s)", spec[i], spec[i] == ':' ?
				   "; LISTEN_FDNAMES is colon-separated" : "");
	return parse_addr(spec, eq + 1, out, err, errlen);
}

void rs_listen_addr(const rs_listen *l, char *buf, size_t n)
{
	switch (l->family) {
	case RS_LISTEN_TCP:
		snprintf(buf, n, "tcp:%s:%u", l->host, (unsigned)l->port);
		break;
	case RS_LISTEN_TCP6:
		snprintf(buf, n, "tcp6:[%s]:%u", l->host, (unsigned)l->port);
		break;
	case RS_LISTEN_UNIX:
		snprintf(buf, n, "unix:%s", l->path);
		break;
	default:
		snprintf(buf, n, "invalid");
		break;
	}
}

int rs_listen_validate_set(char *const *specs, size_t n, char *err, size_t errlen)
{
	char a[RS_LISTEN_STR_MAX], b[RS_LISTEN_STR_MAX];
	rs_listen *ls;
	int r = 0;

	if (n > RS_LISTEN_MAX) {
		snprintf(err, errlen, "listen: %zu sockets, more than the %d allowed",
			 n, RS_LISTEN_MAX);
		return -EINVAL;
	}
	ls = calloc(n ? n : 1, sizeof *ls);
	if (!ls) {
		snprintf(err, errlen, "listen: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = rs_listen_parse(specs[i], &ls[i], err, errlen);
		rs_listen_addr(&ls[i], a, sizeof a);
		for (size_t j = 0; r == 0 && j < i; j++) {
			rs_listen_addr(&ls[j], b, sizeof b);
			if (!strcmp(ls[i].name, ls[j].name))
				r = bad(specs[i], err, errlen, "NAME '%s' is given twice",
					ls[i].name);
			else if (!strcmp(a, b))
				r = bad(specs[i], err, errlen, "%s is already listed as '%s'",
					a, ls[j].name);
		}
	}
	free(ls);
	return r;
}

/* The reason for a socket call's errno, in the words of docs/cli.md. */
static const char *reason(int e)
{
	switch (e) {
	case EADDRINUSE:
		return "address already in use";
	case EACCES:
		return "permission denied";
	case EADDRNOTAVAIL:
		return "address not available on this host";
	default:
		return strerror(e);
	}
}

/* Writes "cannot listen on ADDR (NAME): why" into err. Returns -e. */
__attribute__((format(printf, 5, 6)))
static int open_err(const rs_listen *l, char *err, size_t errlen, int e,
		    const char *fmt, ...)
{
	char addr[RS_LISTEN_STR_MAX], why[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	rs_listen_addr(l, addr, sizeof addr);
	snprintf(err, errlen, "cannot listen on %s (%s): %s", addr, l->name, why);
	return -e;
}

/* Resolves l's host and port into ss (first result of l's family). */
static int resolve(const rs_listen *l, struct sockaddr_storage *ss, socklen_t *len,
		   char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = l->family == RS_LISTEN_TCP6 ? AF_INET6 : AF_INET,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	}, *res, *ai;
	char port[8];
	int g;

	snprintf(port, sizeof port, "%u", (unsigned)l->port);
	g = getaddrinfo(l->host, port, &hints, &res);
	if (g == EAI_SYSTEM)
		return open_err(l, err, errlen, errno ? errno : EIO,
				"cannot resolve '%s': %s", l->host, strerror(errno));
	if (g)
		return open_err(l, err, errlen, g == EAI_MEMORY ? ENOMEM : EADDRNOTAVAIL,
				"cannot resolve '%s': %s", l->host, gai_strerror(g));
	for (ai = res; ai && ai->ai_family != hints.ai_family; ai = ai->ai_next)
		;
	if (!ai || ai->ai_addrlen > sizeof *ss) {
		freeaddrinfo(res);
		return open_err(l, err, errlen, EADDRNOTAVAIL, "'%s' has no %s address",
				l->host, l->family == RS_LISTEN_TCP6 ? "IPv6" : "IPv4");
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Makes the unix path free for bind: nothing there, or a socket nobody
 * listens on any more (removed). A live socket or any other file is an
 * error and is left alone. */
static int clear_unix_path(const rs_listen *l, const struct sockaddr_un *sa,
			   char *err, size_t errlen)
{
	struct stat st;
	int fd, r;

	if (lstat(l->path, &st) < 0)
		return errno == ENOENT ? 0 :
		       open_err(l, err, errlen, errno, "%s", reason(errno));
	if (!S_ISSOCK(st.st_mode))
		return open_err(l, err, errlen, EEXIST,
				"%s exists and is not a socket; not removing it", l->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return open_err(l, err, errlen, errno, "%s", reason(errno));
	r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	if (r == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		close(fd);
		return open_err(l, err, errlen, EADDRINUSE,
				"address already in use (a process listens on %s)", l->path);
	}
	close(fd);
	if (unlink(l->path) < 0 && errno != ENOENT)
		return open_err(l, err, errlen, errno, "cannot remove the stale socket: %s",
				reason(errno));
	return 0;
}

int rs_listen_open(const rs_listen *l, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	socklen_t sslen = 0;
	int fd, one = 1, r;

	memset(&ss, 0, sizeof ss);
	if (l->family == RS_LISTEN_UNIX) {
		if (!l->path[0] || strnlen(l->path, sizeof sun->sun_path) >= sizeof sun->sun_path)
			return open_err(l, err, errlen, EINVAL, "bad socket path");
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, l->path, strlen(l->path));
		sslen = sizeof *sun;
		r = clear_unix_path(l, sun, err, errlen);
	} else if (l->family == RS_LISTEN_TCP || l->family == RS_LISTEN_TCP6) {
		r = resolve(l, &ss, &sslen, err, errlen);
	} else {
		r = open_err(l, err, errlen, EINVAL, "unknown address family");
	}
	if (r < 0)
		return r;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return open_err(l, err, errlen, errno, "socket: %s", reason(errno));
	if (l->family != RS_LISTEN_UNIX &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		goto fail;
	if (l->family == RS_LISTEN_TCP6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	return fd;
fail:
	r = errno;
	close(fd);
	return open_err(l, err, errlen, r, "%s", reason(r));
}
