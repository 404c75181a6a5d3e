/*
 * test_listen.c - lib/listen.c: NAME=ADDR strings (good and bad), sets
 * with duplicates, and real sockets on loopback and in a temp directory.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"

static char tmpdir[64];

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/rs-test-listen-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(listen, .init = setup, .fini = teardown, .timeout = 10);

struct good { const char *spec, *name; rs_listen_family fam; const char *host;
	      unsigned port; const char *path; };

static const struct good goods[] = {
	{ "web=tcp:127.0.0.1:8080", "web", RS_LISTEN_TCP, "127.0.0.1", 8080, "" },
	{ "a=tcp:0.0.0.0:1", "a", RS_LISTEN_TCP, "0.0.0.0", 1, "" },
	{ "A_b.c-9=tcp:localhost:65535", "A_b.c-9", RS_LISTEN_TCP, "localhost", 65535, "" },
	{ "v6=tcp6:[::1]:443", "v6", RS_LISTEN_TCP6, "::1", 443, "" },
	{ "any6=tcp6:[::]:80", "any6", RS_LISTEN_TCP6, "::", 80, "" },
	{ "ll=tcp6:[fe80::1%lo]:80", "ll", RS_LISTEN_TCP6, "fe80::1%lo", 80, "" },
	{ "n6=tcp6:[ip6-localhost]:80", "n6", RS_LISTEN_TCP6, "ip6-localhost", 80, "" },
	{ "ctl=unix:/run/rs/ctl.sock", "ctl", RS_LISTEN_UNIX, "", 0, "/run/rs/ctl.sock" },
	{ "x=unix:/a=b:c", "x", RS_LISTEN_UNIX, "", 0, "/a=b:c" },
};

Test(listen, parses_good_specs)
{
	for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
		const struct good *g = &goods[i];
		char err[256] = "", addr[RS_LISTEN_STR_MAX], again[2 * RS_LISTEN_STR_MAX];
		rs_listen l;

		cr_assert_eq(rs_listen_parse(g->spec, &l, err, sizeof err), 0,
			     "%s: %s", g->spec, err);
		cr_expect_str_eq(l.name, g->name, "%s", g->spec);
		cr_expect_eq(l.family, g->fam, "%s", g->spec);
		cr_expect_str_eq(l.host, g->host, "%s", g->spec);
		cr_expect_eq(l.port, g->port, "%s", g->spec);
		cr_expect_str_eq(l.path, g->path, "%s", g->spec);
		/* the address prints back as it was written */
		rs_listen_addr(&l, addr, sizeof addr);
		snprintf(again, sizeof again, "%s=%s", l.name, addr);
		cr_expect_str_eq(again, g->spec);
	}
}

struct bad { const char *spec, *want; };

static const struct bad bads[] = {
	{ "web=tcp:1.2.3.4:99999", "listen \"web=tcp:1.2.3.4:99999\": port must be 1..65535" },
	{ "web=tcp:1.2.3.4:0", "port must be 1..65535" },
	{ "web=tcp:1.2.3.4:", "port must be 1..65535" },
	{ "web=tcp:1.2.3.4:+80", "port must be 1..65535" },
	{ "web=tcp:1.2.3.4:8o", "port must be 1..65535" },
	{ "web=tcp:1.2.3.4:000080", "port must be 1..65535" },
	{ "web", "expected NAME=ADDR" },
	{ "", "expected NAME=ADDR" },
	{ "=tcp:1.2.3.4:80", "NAME before '=' is empty" },
	{ "a:b=tcp:1.2.3.4:80", "':' is not allowed in NAME (use A-Z a-z 0-9 _ . -; "
				"LISTEN_FDNAMES is colon-separated)" },
	{ "a b=tcp:1.2.3.4:80", "' ' is not allowed in NAME" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=unix:/x",
	  "NAME is longer than 64 characters" },
	{ "web=udp:1.2.3.4:80", "the address must start with tcp:, tcp6: or unix:" },
	{ "web=1.2.3.4:80", "the address must start with tcp:, tcp6: or unix:" },
	{ "web=tcp:80", "expected tcp:HOST:PORT" },
	{ "web=tcp::80", "HOST is empty" },
	{ "web=tcp:::1:80", "an IPv6 address needs tcp6:[HOST]:PORT" },
	{ "web=tcp:1.2.3.999:80", "'1.2.3.999' is not an IPv4 address" },
	{ "web=tcp:host name:80", "' ' is not allowed in HOST" },
	{ "web=tcp6:::1:80", "expected tcp6:[HOST]:PORT" },
	{ "web=tcp6:[::1]80", "expected tcp6:[HOST]:PORT" },
	{ "web=tcp6:[]:80", "HOST is empty" },
	{ "web=tcp6:[::g]:80", "'::g' is not an IPv6 address" },
	{ "web=tcp6:[::1]:70000", "port must be 1..65535" },
	{ "web=unix:", "the socket PATH must be absolute" },
	{ "web=unix:run/x.sock", "the socket PATH must be absolute" },
	{ "web=unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "the socket PATH is longer than 107 bytes" },
};

Test(listen, rejects_bad_specs_with_clear_errors)
{
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		char err[512] = "", prefix[600];
		rs_listen l;

		cr_expect_eq(rs_listen_parse(bads[i].spec, &l, err, sizeof err), -EINVAL,
			     "%s: accepted", bads[i].spec);
		cr_expect(strstr(err, bads[i].want) != NULL, "%s:\n  got:  %s\n  want: %s",
			  bads[i].spec, err, bads[i].want);
		snprintf(prefix, sizeof prefix, "listen \"%s\": ", bads[i].spec);
		cr_expect(strncmp(err, prefix, strlen(prefix)) == 0,
			  "the error does not quote the spec: %s", err);
	}
}

Test(listen, longest_unix_path_and_name_fit)
{
	char spec[RS_LISTEN_STR_MAX], err[256] = "";
	rs_listen l;

	snprintf(spec, sizeof spec, "%.64s=unix:/%.106s",
		 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
		 "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
		 "ppppppppppppppppppppppppppppppppppppppppppppppppppp");
	cr_assert_eq(rs_listen_parse(spec, &l, err, sizeof err), 0, "%s", err);
	cr_assert_eq(strlen(l.name), 64);
	cr_assert_eq(strlen(l.path), 107);
}

Test(listen, sets_reject_duplicates)
{
	char *ok[] = { "a=tcp:127.0.0.1:80", "b=tcp:127.0.0.1:81", "c=tcp6:[::1]:80",
		       "d=unix:/run/d" };
	char *dup_name[] = { "a=tcp:127.0.0.1:80", "a=tcp:127.0.0.1:81" };
	char *dup_addr[] = { "a=unix:/run/x", "b=tcp:0.0.0.0:80", "c=unix:/run/x" };
	char *one_bad[] = { "a=tcp:127.0.0.1:80", "b=tcp:127.0.0.1:0" };
	char *many[RS_LISTEN_MAX + 1];
	char bufs[RS_LISTEN_MAX + 1][32];
	char err[512] = "";

	cr_assert_eq(rs_listen_validate_set(ok, 4, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rs_listen_validate_set(NULL, 0, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rs_listen_validate_set(dup_name, 2, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "listen \"a=tcp:127.0.0.1:81\": NAME 'a' is given twice"), "%s", err);
	cr_assert_eq(rs_listen_validate_set(dup_addr, 3, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "listen \"c=unix:/run/x\": unix:/run/x is already listed as 'a'"),
		  "%s", err);
	cr_assert_eq(rs_listen_validate_set(one_bad, 2, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "port must be 1..65535"), "%s", err);
	for (int i = 0; i <= RS_LISTEN_MAX; i++) {
		snprintf(bufs[i], sizeof bufs[i], "s%d=tcp:127.0.0.1:%d", i, 1000 + i);
		many[i] = bufs[i];
	}
	cr_assert_eq(rs_listen_validate_set(many, RS_LISTEN_MAX, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rs_listen_validate_set(many, RS_LISTEN_MAX + 1, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "more than the 16 allowed"), "%s", err);
}

/* ---- real sockets ------------------------------------------------------ */

/* Asserts fd is a listening, close-on-exec stream socket. */
static void assert_listening(int fd)
{
	int v = 0;
	socklen_t len = sizeof v;

	cr_assert_geq(fd, 0);
	cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
	cr_assert_eq(v, 1, "not listening");
	cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), 0);
	cr_assert_eq(v, SOCK_STREAM);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "not close-on-exec");
}

/* Connects to lfd's own address, accepts, and checks a byte goes through. */
static void assert_connectable(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int c, a;
	char ch = 0;

	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(c, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&ss, len), 0, "connect: %s", strerror(errno));
	a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(a, 0, "accept: %s", strerror(errno));
	cr_assert_eq(write(c, "x", 1), 1);
	cr_assert_eq(read(a, &ch, 1), 1);
	cr_assert_eq(ch, 'x');
	close(a);
	close(c);
}

static unsigned bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	return ss.ss_family == AF_INET6 ?
	       ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	       ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static rs_listen tcp_l(rs_listen_family fam, const char *host, unsigned port)
{
	rs_listen l;

	memset(&l, 0, sizeof l);
	strcpy(l.name, "web");
	l.family = fam;
	snprintf(l.host, sizeof l.host, "%s", host);
	l.port = (uint16_t)port;
	return l;
}

Test(listen, opens_tcp_on_loopback)
{
	rs_listen l = tcp_l(RS_LISTEN_TCP, "127.0.0.1", 0);
	char err[512] = "";
	int fd = rs_listen_open(&l, err, sizeof err);

	cr_assert_geq(fd, 0, "%s", err);
	assert_listening(fd);
	cr_assert_gt(bound_port(fd), 0);
	assert_connectable(fd);
	close(fd);
}

Test(listen, opens_tcp_by_name)
{
	rs_listen l = tcp_l(RS_LISTEN_TCP, "localhost", 0);
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	char err[512] = "";
	int fd = rs_listen_open(&l, err, sizeof err);

	cr_assert_geq(fd, 0, "%s", err);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	cr_assert_eq(sin.sin_family, AF_INET);
	cr_assert_eq(ntohl(sin.sin_addr.s_addr) >> 24, 127, "localhost is not on 127/8");
	assert_connectable(fd);
	close(fd);
}

Test(listen, opens_tcp6_v6only)
{
	rs_listen l = tcp_l(RS_LISTEN_TCP6, "::1", 0);
	char err[512] = "";
	int fd, v = 0;
	socklen_t len = sizeof v;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		cr_skip_test("no IPv6 in this sandbox: %s", strerror(errno));
	close(fd);
	fd = rs_listen_open(&l, err, sizeof err);
	if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT)
		cr_skip_test("no ::1 in this sandbox: %s", err);
	cr_assert_geq(fd, 0, "%s", err);
	assert_listening(fd);
	cr_assert_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), 0);
	cr_assert_eq(v, 1, "IPV6_V6ONLY is not set");
	assert_connectable(fd);
	close(fd);
}

Test(listen, port_in_use_is_reported)
{
	rs_listen l = tcp_l(RS_LISTEN_TCP, "127.0.0.1", 0);
	char err[512] = "", want[128];
	int fd = rs_listen_open(&l, err, sizeof err), fd2;

	cr_assert_geq(fd, 0, "%s", err);
	l.port = (uint16_t)bound_port(fd);
	fd2 = rs_listen_open(&l, err, sizeof err);
	cr_assert_eq(fd2, -EADDRINUSE, "second open gave %d: %s", fd2, err);
	snprintf(want, sizeof want, "cannot listen on tcp:127.0.0.1:%u (web): "
		 "address already in use", (unsigned)l.port);
	cr_assert_str_eq(err, want);
	close(fd);
}

Test(listen, privileged_port_is_permission_denied)
{
	rs_listen l = tcp_l(RS_LISTEN_TCP, "127.0.0.1", 1);
	char err[512] = "";
	int fd;

	if (geteuid() == 0)
		cr_skip_test("root may bind port 1");
	fd = rs_listen_open(&l, err, sizeof err);
	if (fd >= 0) {
		close(fd);
		cr_skip_test("this kernel lets anyone bind port 1 (ip_unprivileged_port_start)");
	}
	cr_assert_eq(fd, -EACCES, "%d: %s", fd, err);
	cr_assert(strstr(err, "permission denied"), "%s", err);
}

Test(listen, opens_unix_and_replaces_a_stale_socket)
{
	rs_listen l;
	char spec[RS_LISTEN_STR_MAX], err[512] = "";
	struct stat st;
	int fd, fd2;

	snprintf(spec, sizeof spec, "ctl=unix:%s/ctl.sock", tmpdir);
	cr_assert_eq(rs_listen_parse(spec, &l, err, sizeof err), 0, "%s", err);
	fd = rs_listen_open(&l, err, sizeof err);
	cr_assert_geq(fd, 0, "%s", err);
	assert_listening(fd);
	assert_connectable(fd);

	/* a live socket is not taken over */
	fd2 = rs_listen_open(&l, err, sizeof err);
	cr_assert_eq(fd2, -EADDRINUSE, "%d: %s", fd2, err);
	cr_assert(strstr(err, "address already in use"), "%s", err);

	/* once nobody listens, the file left behind is replaced */
	close(fd);
	cr_assert_eq(stat(l.path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	fd = rs_listen_open(&l, err, sizeof err);
	cr_assert_geq(fd, 0, "%s", err);
	assert_connectable(fd);
	close(fd);
}

Test(listen, regular_file_at_unix_path_is_kept)
{
	rs_listen l;
	char spec[RS_LISTEN_STR_MAX], err[512] = "", want[512];
	struct stat st;
	FILE *f;
	int fd;

	snprintf(spec, sizeof spec, "ctl=unix:%s/data", tmpdir);
	cr_assert_eq(rs_listen_parse(spec, &l, err, sizeof err), 0, "%s", err);
	f = fopen(l.path, "w");
	cr_assert_not_null(f);
	fputs("precious\n", f);
	fclose(f);
	fd = rs_listen_open(&l, err, sizeof err);
	cr_assert_eq(fd, -EEXIST, "%d: %s", fd, err);
	snprintf(want, sizeof want, "cannot listen on unix:%s (ctl): %s exists and is not "
		 "a socket; not removing it", l.path, l.path);
	cr_assert_str_eq(err, want);
	cr_assert_eq(stat(l.path, &st), 0, "the file was removed");
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_size, 9);
}

Test(listen, unix_in_missing_directory_is_reported)
{
	rs_listen l;
	char spec[RS_LISTEN_STR_MAX], err[512] = "";
	int fd;

	snprintf(spec, sizeof spec, "ctl=unix:%s/no/such/dir.sock", tmpdir);
	cr_assert_eq(rs_listen_parse(spec, &l, err, sizeof err), 0, "%s", err);
	fd = rs_listen_open(&l, err, sizeof err);
	cr_assert_eq(fd, -ENOENT, "%d: %s", fd, err);
	cr_assert(strstr(err, "cannot listen on unix:"), "%s", err);
	cr_assert(strstr(err, "No such file or directory"), "%s", err);
}
