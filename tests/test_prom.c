/* Unit tests of the Prometheus text builder (lib/prom.c), and of the
 * endpoint (lib/httpd.c): its gate to the status page, and /metrics
 * streamed in parts by a real libmicrohttpd on a libev loop. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ev.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "prom.h"

Test(prom, family_and_samples, .timeout = 10)
{
	prom_buf b = { 0 };

	prom_family(&b, "rs_x", "counter", "Help with \\ and\nnewline.");
	prom_sample(&b, "rs_x", 3, NULL);
	prom_sample(&b, "rs_x", 1.5, "label", "a\"b\\c\nd", "node", "n1", NULL);
	cr_assert_str_eq(b.s,
		"# HELP rs_x Help with \\\\ and\\nnewline.\n"
		"# TYPE rs_x counter\n"
		"rs_x 3\n"
		"rs_x{label=\"a\\\"b\\\\c\\nd\",node=\"n1\"} 1.5\n");
	prom_free(&b);
}

Test(prom, special_values, .timeout = 10)
{
	prom_buf b = { 0 };

	prom_sample(&b, "a", NAN, NULL);
	prom_sample(&b, "b", INFINITY, NULL);
	prom_sample(&b, "c", -INFINITY, NULL);
	prom_sample(&b, "d", 1795585640.25, NULL);
	prom_sample(&b, "e", 0, "k", NULL, NULL);
	prom_sample(&b, "f", 95 / 1000.0, NULL);          /* no ...0000001 */
	prom_sample(&b, "g", 0.1 + 0.2, NULL);            /* needs 17 digits */
	cr_assert_str_eq(b.s, "a NaN\nb +Inf\nc -Inf\nd 1795585640.25\ne{k=\"\"} 0\n"
			 "f 0.095\ng 0.30000000000000004\n");
	prom_free(&b);
}

Test(prom, grows_and_process_metrics, .timeout = 10)
{
	prom_buf b = { 0 };

	for (int i = 0; i < 2000; i++)
		prom_sample(&b, "rs_many", i, "i", "x", NULL);
	cr_assert_eq(b.oom, 0);
	cr_assert(strstr(b.s, "rs_many{i=\"x\"} 1999\n"));
	prom_process(&b);
	cr_assert(strstr(b.s, "# TYPE process_cpu_seconds_total counter\n"));
	cr_assert(strstr(b.s, "\nprocess_resident_memory_bytes "));
	cr_assert(strstr(b.s, "\nprocess_open_fds "));
	cr_assert(strstr(b.s, "\nprocess_start_time_seconds 1"));
	prom_free(&b);
	cr_assert_null(b.s);
}

Test(prom, histogram_cumulative, .timeout = 10)
{
	static const double bounds[] = { 0.001, 0.01, 0.1 };
	prom_buf b = { 0 };
	prom_hist h;

	prom_hist_init(&h, bounds, 3);
	/* binary fractions, so the sum prints exactly */
	prom_hist_observe(&h, 0.000244140625);
	prom_hist_observe(&h, 0.0009765625);
	prom_hist_observe(&h, 0.03125);
	prom_hist_observe(&h, 4);
	prom_hist_write(&b, "rs_x_seconds", "X.", &h);
	cr_assert_str_eq(b.s,
		"# HELP rs_x_seconds X.\n# TYPE rs_x_seconds histogram\n"
		"rs_x_seconds_bucket{le=\"0.001\"} 2\n"
		"rs_x_seconds_bucket{le=\"0.01\"} 2\n"
		"rs_x_seconds_bucket{le=\"0.1\"} 3\n"
		"rs_x_seconds_bucket{le=\"+Inf\"} 4\n"
		"rs_x_seconds_sum 4.032470703125\n"
		"rs_x_seconds_count 4\n");
	prom_free(&b);
}

/* One series of a labelled histogram family (rs_ctl_request_seconds{verb}). */
Test(prom, histogram_with_a_label, .timeout = 10)
{
	static const double bounds[] = { 0.001, 0.01 };
	prom_buf b = { 0 };
	prom_hist h;

	prom_hist_init(&h, bounds, 2);
	prom_hist_observe(&h, 0.0009765625);
	prom_hist_observe(&h, 0.5);
	prom_hist_samples(&b, "rs_y_seconds", &h, "verb", "up");
	cr_assert_str_eq(b.s,
		"rs_y_seconds_bucket{verb=\"up\",le=\"0.001\"} 1\n"
		"rs_y_seconds_bucket{verb=\"up\",le=\"0.01\"} 1\n"
		"rs_y_seconds_bucket{verb=\"up\",le=\"+Inf\"} 2\n"
		"rs_y_seconds_sum{verb=\"up\"} 0.5009765625\n"
		"rs_y_seconds_count{verb=\"up\"} 2\n");
	prom_free(&b);
}

/* The status page's gate (lib/httpd.c): loopback addresses and names. */
Test(prom, status_page_is_for_loopback_only, .timeout = 10)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };

	inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
	cr_assert(httpd_addr_loopback((struct sockaddr *)&a4));
	inet_pton(AF_INET, "127.8.9.10", &a4.sin_addr);
	cr_assert(httpd_addr_loopback((struct sockaddr *)&a4));
	inet_pton(AF_INET, "10.0.0.1", &a4.sin_addr);
	cr_assert_not(httpd_addr_loopback((struct sockaddr *)&a4));
	inet_pton(AF_INET6, "::1", &a6.sin6_addr);
	cr_assert(httpd_addr_loopback((struct sockaddr *)&a6));
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr);
	cr_assert(httpd_addr_loopback((struct sockaddr *)&a6));
	inet_pton(AF_INET6, "::ffff:192.168.1.1", &a6.sin6_addr);
	cr_assert_not(httpd_addr_loopback((struct sockaddr *)&a6));
	inet_pton(AF_INET6, "fe80::1", &a6.sin6_addr);
	cr_assert_not(httpd_addr_loopback((struct sockaddr *)&a6));
	cr_assert_not(httpd_addr_loopback(NULL));

	cr_assert(httpd_host_loopback("127.0.0.1:9100"));
	cr_assert(httpd_host_loopback("localhost"));
	cr_assert(httpd_host_loopback("LOCALHOST:80"));
	cr_assert(httpd_host_loopback("[::1]:9100"));
	cr_assert(httpd_host_loopback("[::1]"));
	cr_assert_not(httpd_host_loopback("[::1]x"));
	cr_assert_not(httpd_host_loopback("evil.example"));
	cr_assert_not(httpd_host_loopback("127.0.0.1.evil.example"));
	cr_assert_not(httpd_host_loopback("localhost.evil.example"));
	cr_assert_not(httpd_host_loopback("10.0.0.1:9100"));
	cr_assert_not(httpd_host_loopback(""));
	cr_assert_not(httpd_host_loopback(NULL));
}

/* ---- /metrics in parts (httpd_set_stream) ---------------------------- */

#define PARTS 3000

static struct {
	struct ev_loop *loop;
	ev_async        done;
	ev_prepare      turn;
	unsigned        turns, calls, freed, parts_at_turn, most_parts_a_turn;
	int             port;
	size_t          read_max;   /* the client stops after this many bytes */
	const char     *pad;        /* a label each part carries (NULL: none) */
	char           *body;
	size_t          len;
} S;

static int stream_fn(void *arg, void **state, prom_buf *b)
{
	uintptr_t i = (uintptr_t)*state;
	char name[32];

	(void)arg;
	if (!b) {
		S.freed++;
		*state = NULL;
		return 0;
	}
	S.calls++;
	S.parts_at_turn++;
	if (S.parts_at_turn > S.most_parts_a_turn)
		S.most_parts_a_turn = S.parts_at_turn;
	if (i == 0)
		prom_family(b, "part", "gauge", "One sample a part.");
	snprintf(name, sizeof name, "%lu", (unsigned long)i);
	if (S.pad)
		prom_sample(b, "part", (double)i, "n", name, "pad", S.pad, NULL);
	else
		prom_sample(b, "part", (double)i, "n", name, NULL);
	*state = (void *)(i + 1);
	return i + 1 < PARTS;
}

static void turn_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop; (void)w; (void)revents;
	S.turns++;
	S.parts_at_turn = 0;
}

static void done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w; (void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* An HTTP/1.0 client (no chunks: the body ends with the connection). */
static void *client(void *arg)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)S.port) };
	static const char rq[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	int fd = socket(AF_INET, SOCK_STREAM, 0), rcvbuf = 4096;
	size_t cap = 1 << 16;
	ssize_t n;

	(void)arg;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	/* a fixed receive buffer (no autotuning): what the server can have
	 * sent before the client reads is its own send buffer and this */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	S.body = malloc(cap);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    write(fd, rq, sizeof rq - 1) == (ssize_t)(sizeof rq - 1)) {
		while (S.len < S.read_max &&
		       (n = read(fd, S.body + S.len, cap - S.len - 1)) > 0) {
			S.len += (size_t)n;
			if (cap - S.len < 4096)
				S.body = realloc(S.body, cap *= 2);
		}
	}
	S.body[S.len] = '\0';
	if (fd >= 0)
		close(fd);
	ev_async_send(S.loop, &S.done);
	return NULL;
}

static void serve(size_t read_max, const char *pad)
{
	httpd *h = NULL;
	char ep[64], *colon;
	pthread_t th;

	memset(&S, 0, sizeof S);
	S.read_max = read_max;
	S.pad = pad;
	S.loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(httpd_start(S.loop, "127.0.0.1:0", NULL, NULL, &h, ep, sizeof ep), 0);
	httpd_set_stream(h, stream_fn);
	colon = strrchr(ep, ':');
	S.port = atoi(colon + 1);
	ev_async_init(&S.done, done_cb);
	ev_async_start(S.loop, &S.done);
	ev_prepare_init(&S.turn, turn_cb);
	ev_prepare_start(S.loop, &S.turn);
	cr_assert_eq(pthread_create(&th, NULL, client, NULL), 0);
	ev_run(S.loop, 0);
	pthread_join(th, NULL);
	/* what MHD still holds of a connection the client closed */
	for (int i = 0; i < 200 && read_max != (size_t)-1 && !S.freed; i++) {
		ev_run(S.loop, EVRUN_NOWAIT);
		usleep(5000);
	}
	httpd_stop(&h);
	ev_loop_destroy(S.loop);
}

Test(prom, metrics_streamed_a_part_a_turn, .timeout = 30)
{
	char want[64];
	const char *body;

	serve((size_t)-1, NULL);
	cr_assert(!strncmp(S.body, "HTTP/1.", 7) && strstr(S.body, " 200 "), "%.80s", S.body);
	body = strstr(S.body, "\r\n\r\n");
	cr_assert_not_null(body);
	body += 4;
	cr_assert(!strncmp(body, "# HELP part One sample a part.\n# TYPE part gauge\npart{n=\"0\"} 0\n",
			   63), "%.100s", body);
	snprintf(want, sizeof want, "part{n=\"%d\"} %d\n", PARTS - 1, PARTS - 1);
	cr_assert(strstr(body, want), "the last part is there");
	cr_assert_eq(S.calls, PARTS, "one call a part");
	cr_assert_eq(S.freed, 0, "ended by its last part, not abandoned");
	/* the parts were spread over turns of the loop, not written at once */
	cr_assert_leq(S.most_parts_a_turn, 2, "%u parts in one turn", S.most_parts_a_turn);
	cr_assert_geq(S.turns, PARTS / 2, "%u turns for %d parts", S.turns, PARTS);
	free(S.body);
}

Test(prom, metrics_stream_freed_when_the_client_goes, .timeout = 30)
{
	/* parts of 4 KiB: 12 MiB in all, more than the kernel can hold for
	 * a client that stopped reading (the server's send buffer, at most
	 * tcp_wmem's 4 MiB, and the client's 4 KiB), so the stream cannot
	 * have been written out before the close, however late the client
	 * thread runs (with parts of ~20 bytes it had been, on a loaded
	 * machine, and the test failed) */
	static char pad[4096];

	memset(pad, 'x', sizeof pad - 1);
	serve(4096, pad);   /* reads a little, then closes */
	cr_assert_lt(S.calls, PARTS, "%u calls", S.calls);
	cr_assert_eq(S.freed, 1, "the stream's state was freed once");
	free(S.body);
}
