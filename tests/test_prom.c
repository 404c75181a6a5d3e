/* Unit tests of the Prometheus text builder (lib/prom.c), and of the
 * endpoint's gate to the status page (lib/httpd.c). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

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
	cr_assert_str_eq(b.s, "a NaN\nb +Inf\nc -Inf\nd 1795585640.25\ne{k=\"\"} 0\n");
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
