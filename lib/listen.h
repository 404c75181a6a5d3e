/*
 * listen.h - listening sockets a service declares ("NAME=ADDR"), handed to
 * it systemd-style (LISTEN_FDS, LISTEN_FDNAMES) so that a live update can
 * start the new instance on the sockets the old one still serves.
 *
 * Owns: the NAME=ADDR syntax, checks of one spec's set, and opening one
 * socket (create, bind, listen). Must not: include ZeroMQ, protobuf-c or
 * libev headers, or log (errors are returned as text).
 *
 * ADDR is one of
 *   tcp:HOST:PORT      IPv4; HOST a dotted quad or a name (getaddrinfo)
 *   tcp6:[HOST]:PORT   IPv6 only (IPV6_V6ONLY); HOST an address or a name
 *   unix:PATH          a stream socket at the absolute PATH
 * NAME is 1-64 of [A-Za-z0-9_.-]: it ends up in the colon-separated
 * LISTEN_FDNAMES, so it never holds ':'.
 */
#ifndef RS_LISTEN_H
#define RS_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#define RS_LISTEN_NAME_MAX 65    /* incl. NUL: names are 1-64 chars */
#define RS_LISTEN_HOST_MAX 256   /* incl. NUL */
#define RS_LISTEN_PATH_MAX 108   /* sizeof(struct sockaddr_un.sun_path) */
#define RS_LISTEN_STR_MAX  512   /* incl. NUL: one "NAME=ADDR" string */
#define RS_LISTEN_MAX      16    /* listen entries of one service */

typedef enum rs_listen_family {
	RS_LISTEN_TCP = 0,
	RS_LISTEN_TCP6,
	RS_LISTEN_UNIX,
	RS_LISTEN__NR
} rs_listen_family;

/* One parsed listen spec. port is 1-65535 after rs_listen_parse(); a
 * caller may set 0 by hand to let the kernel pick (tests). */
typedef struct rs_listen {
	char             name[RS_LISTEN_NAME_MAX];
	rs_listen_family family;
	char             host[RS_LISTEN_HOST_MAX];  /* tcp, tcp6: no brackets */
	uint16_t         port;                      /* tcp, tcp6 */
	char             path[RS_LISTEN_PATH_MAX];  /* unix */
} rs_listen;

/* Parses "NAME=ADDR" into out. On error fills err with
 * `listen "SPEC": reason` and returns -EINVAL. Does no I/O. */
int rs_listen_parse(const char *spec, rs_listen *out, char *err, size_t errlen);

/* Checks the n "NAME=ADDR" strings of one service: each parses, at most
 * RS_LISTEN_MAX, no NAME twice and no ADDR twice. 0, or -EINVAL with err. */
int rs_listen_validate_set(char *const *specs, size_t n, char *err, size_t errlen);

/* Creates, binds and listens (backlog SOMAXCONN) a SOCK_STREAM socket for
 * l, O_CLOEXEC and blocking: SO_REUSEADDR for tcp, IPV6_V6ONLY for tcp6;
 * for unix a stale socket file at the path is unlinked first, anything
 * else there is an error. Returns the fd (the caller owns it), or a
 * negative errno with err naming the address and the reason. */
int rs_listen_open(const rs_listen *l, char *err, size_t errlen);

/* Writes l's ADDR ("tcp:127.0.0.1:80", "tcp6:[::1]:80", "unix:/run/x")
 * into buf[n]. */
void rs_listen_addr(const rs_listen *l, char *buf, size_t n);

#endif
