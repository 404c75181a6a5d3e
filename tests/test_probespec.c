/*
 * test_probespec.c - lib/probespec: defaults, rsctl's targets, the checks,
 * copies and equality, and the store's text form (round trip, and bad
 * text read as no probes).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probespec.h"

Test(probespec, defaults_are_kubernetes, .timeout = 10)
{
	rs_spec s;

	rs_spec_init(&s);
	for (int i = 0; i < RS_PROBE__NR; i++) {
		cr_assert_eq(s.probes[i].kind, RS_PK_NONE);
		cr_assert_eq(s.probes[i].period_ms, 10000);
		cr_assert_eq(s.probes[i].timeout_ms, 1000);
		cr_assert_eq(s.probes[i].failures, 3);
		cr_assert_eq(s.probes[i].initial_delay_ms, 0);
		cr_assert_eq(s.probes[i].status_min, 200);
		cr_assert_eq(s.probes[i].status_max, 399);
	}
	cr_assert(!rs_spec_has_probes(&s));
}

Test(probespec, targets, .timeout = 10)
{
	static const struct { const char *in; int kind; const char *target; } ok[] = {
		{ "http://127.0.0.1:8080/healthz", RS_PK_HTTP, "http://127.0.0.1:8080/healthz" },
		{ "https://example.org/", RS_PK_HTTP, "https://example.org/" },
		{ "tcp:127.0.0.1:5432", RS_PK_TCP, "127.0.0.1:5432" },
		{ "tcp:[::1]:80", RS_PK_TCP, "[::1]:80" },
		{ "tcp:localhost:80", RS_PK_TCP, "localhost:80" },
		{ "none", RS_PK_NONE, NULL },
	};
	static const char *const bad[] = {
		"http://", "http:///x", "ftp://h/", "tcp:db.example:5432", "tcp:127.0.0.1",
		"tcp:127.0.0.1:0", "tcp:127.0.0.1:65536", "tcp::80", "http://a b/", "",
		"exec:", "exec:  ", "exec:true", "exec:bin/true -q", "/bin/true",
	};
	char err[256], out[512];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		rs_probe p;

		rs_probe_init(&p);
		cr_assert_eq(rs_probe_parse_target(&p, ok[i].in, err, sizeof err), 0,
			     "%s: %s", ok[i].in, err);
		cr_assert_eq(p.kind, ok[i].kind, "%s", ok[i].in);
		if (ok[i].target)
			cr_assert_str_eq(p.target, ok[i].target);
		else
			cr_assert_null(p.target);
		cr_assert_eq(rs_probe_validate(&p, RS_PROBE_LIVENESS, err, sizeof err), 0,
			     "%s: %s", ok[i].in, err);
		rs_probe_format_target(&p, out, sizeof out);
		cr_assert_str_eq(out, ok[i].in);
		rs_probe_clear(&p);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rs_probe p;

		rs_probe_init(&p);
		cr_assert_eq(rs_probe_parse_target(&p, bad[i], err, sizeof err), -EINVAL,
			     "'%s' taken", bad[i]);
		cr_assert(err[0]);
		rs_probe_clear(&p);
	}
}

/* rsctl's exec form: words split at blanks, the program absolute; it
 * replaces another kind's target and is replaced by one (no argv left). */
Test(probespec, exec_target, .timeout = 10)
{
	char err[256], out[512], many[40 * 3 + 16] = "exec:/bin/x";
	rs_probe p;

	rs_probe_init(&p);
	cr_assert_eq(rs_probe_parse_target(&p, "tcp:127.0.0.1:80", err, sizeof err), 0);
	cr_assert_eq(rs_probe_parse_target(&p, "exec:/usr/bin/test  -f\t/tmp/x ", err,
					   sizeof err), 0, "%s", err);
	cr_assert_eq(p.kind, RS_PK_EXEC);
	cr_assert_null(p.target);
	cr_assert_eq(p.argc, 3);
	cr_assert_str_eq(p.argv[0], "/usr/bin/test");
	cr_assert_str_eq(p.argv[1], "-f");
	cr_assert_str_eq(p.argv[2], "/tmp/x");
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_STARTUP, err, sizeof err), 0, "%s", err);
	rs_probe_format_target(&p, out, sizeof out);
	cr_assert_str_eq(out, "exec:/usr/bin/test -f /tmp/x");
	cr_assert_eq(rs_probe_parse_target(&p, "http://127.0.0.1/", err, sizeof err), 0);
	cr_assert_eq(p.argc, 0);
	cr_assert_null(p.argv);
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_LIVENESS, err, sizeof err), 0, "%s", err);
	/* more words than an exec probe takes: refused, p as it was */
	for (int i = 0; i < 40; i++)
		strcat(many, " ab");
	cr_assert_eq(rs_probe_parse_target(&p, many, err, sizeof err), -EINVAL);
	cr_assert_eq(p.kind, RS_PK_HTTP);
	rs_probe_clear(&p);
}

/* A valid http probe with everything set, into p. */
static void full_http(rs_probe *p)
{
	rs_probe_init(p);
	p->kind = RS_PK_HTTP;
	cr_assert_eq(rs_probe_set_target(p, "http://127.0.0.1:8080/a%20b"), 0);
	cr_assert_eq(rs_probe_add_header(p, "Host: example.org"), 0);
	cr_assert_eq(rs_probe_add_header(p, "X-Token: -"), 0);
	p->period_ms = 1500;
	p->timeout_ms = 250;
	p->failures = 7;
	p->initial_delay_ms = 3000;
	p->status_min = 200;
	p->status_max = 204;
}

Test(probespec, validate_names_role_and_field, .timeout = 10)
{
	char err[256];
	rs_probe p;

	full_http(&p);
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_READINESS, err, sizeof err), 0, "%s", err);
	/* a space in a URL is not taken */
	rs_probe_set_target(&p, "http://127.0.0.1:8080/a b");
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_READINESS, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "readiness probe:"), "%s", err);
	rs_probe_set_target(&p, "http://127.0.0.1:8080/a");
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_READINESS, err, sizeof err), 0, "%s", err);
	p.period_ms = 50;
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_STARTUP, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "startup probe: period"), "%s", err);
	p.period_ms = 1000;
	p.failures = 0;
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_LIVENESS, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "failures"), "%s", err);
	p.failures = 3;
	p.status_min = 400;
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_LIVENESS, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "status"), "%s", err);
	p.status_min = 200;
	cr_assert_eq(rs_probe_add_header(&p, "Bad Name: x"), 0);
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_LIVENESS, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "header"), "%s", err);
	rs_probe_clear(&p);

	/* headers on a tcp probe, an exec probe without an absolute program */
	rs_probe_init(&p);
	p.kind = RS_PK_TCP;
	rs_probe_set_target(&p, "127.0.0.1:1");
	rs_probe_add_header(&p, "A: b");
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_LIVENESS, err, sizeof err), -EINVAL);
	rs_probe_clear(&p);
	p.kind = RS_PK_EXEC;
	rs_probe_add_arg(&p, "check");
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_STARTUP, err, sizeof err), -EINVAL);
	rs_probe_clear(&p);
	p.kind = RS_PK_EXEC;
	rs_probe_add_arg(&p, "/usr/local/bin/check");
	rs_probe_add_arg(&p, "--quick");
	cr_assert_eq(rs_probe_validate(&p, RS_PROBE_STARTUP, err, sizeof err), 0, "%s", err);
	rs_probe_clear(&p);
}

/* The store's form: every field back as it was, a spec copy equal. */
Test(probespec, pack_unpack_round_trip, .timeout = 10)
{
	rs_spec s, back, copy;
	char *text;

	rs_spec_init(&s);
	full_http(&s.probes[RS_PROBE_LIVENESS]);
	s.probes[RS_PROBE_READINESS].kind = RS_PK_TCP;
	rs_probe_set_target(&s.probes[RS_PROBE_READINESS], "127.0.0.1:8080");
	s.probes[RS_PROBE_STARTUP].kind = RS_PK_EXEC;
	rs_probe_add_arg(&s.probes[RS_PROBE_STARTUP], "/usr/local/bin/check");
	rs_probe_add_arg(&s.probes[RS_PROBE_STARTUP], "-");
	rs_probe_add_arg(&s.probes[RS_PROBE_STARTUP], "");
	rs_probe_add_arg(&s.probes[RS_PROBE_STARTUP], "two words\nand 100%");
	text = rs_probes_pack(&s);
	cr_assert_not_null(text);
	cr_assert_eq(strchr(text, '\n') - text > 0, 1);
	rs_spec_init(&back);
	cr_assert_eq(rs_probes_unpack(&back, text), 0, "%s", text);
	for (int i = 0; i < RS_PROBE__NR; i++)
		cr_assert(rs_probe_equal(&s.probes[i], &back.probes[i]), "probe %d: %s", i, text);
	cr_assert_str_eq(back.probes[RS_PROBE_STARTUP].argv[3], "two words\nand 100%");
	cr_assert_str_eq(back.probes[RS_PROBE_STARTUP].argv[1], "-");
	cr_assert_str_eq(back.probes[RS_PROBE_STARTUP].argv[2], "");
	cr_assert_eq(rs_spec_copy(&copy, &s), 0);
	for (int i = 0; i < RS_PROBE__NR; i++)
		cr_assert(rs_probe_equal(&s.probes[i], &copy.probes[i]));
	copy.probes[RS_PROBE_LIVENESS].failures++;
	cr_assert(!rs_probe_equal(&s.probes[RS_PROBE_LIVENESS], &copy.probes[RS_PROBE_LIVENESS]));
	free(text);
	rs_spec_clear(&s);
	rs_spec_clear(&back);
	rs_spec_clear(&copy);

	/* none: "" and back */
	rs_spec_init(&s);
	text = rs_probes_pack(&s);
	cr_assert_str_eq(text, "");
	cr_assert_eq(rs_probes_unpack(&s, text), 0);
	cr_assert(!rs_spec_has_probes(&s));
	free(text);
}

/* Text that does not read (a hand-edited row) is no probes at all. */
Test(probespec, bad_text_is_no_probes, .timeout = 10)
{
	static const char *const bad[] = {
		"liveness", "sideways http 1 1 1 1 200 399 http://x/ 0 0\n",
		"liveness http 1 1 1 1 200 399 http://x/ 1\n",
		"liveness http 1 1 1 1 200 399 http://x/ 0 0 extra\n",
		"liveness http 1 1 1 1 200 399 http://x/%0 0 0\n",
		"liveness http 1 1 1 1 200 399 http://x/%00 0 0\n",
		"liveness http x 1 1 1 200 399 http://x/ 0 0\n",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rs_spec s;

		rs_spec_init(&s);
		cr_assert_eq(rs_probes_unpack(&s, bad[i]), -EINVAL, "'%s' read", bad[i]);
		cr_assert(!rs_spec_has_probes(&s));
		rs_spec_clear(&s);
	}
}

/* rs_spec_validate checks the probes, naming the role. */
Test(probespec, spec_validate_checks_probes, .timeout = 10)
{
	char err[256];
	rs_spec s;

	rs_spec_init(&s);
	strcpy(s.label, "web");
	rs_spec_add_arg(&s, "/bin/true");
	s.probes[RS_PROBE_READINESS].kind = RS_PK_TCP;
	cr_assert_eq(rs_spec_validate(&s, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "readiness probe"), "%s", err);
	rs_probe_set_target(&s.probes[RS_PROBE_READINESS], "127.0.0.1:80");
	cr_assert_eq(rs_spec_validate(&s, err, sizeof err), 0, "%s", err);
	rs_spec_clear(&s);
}
