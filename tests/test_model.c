/*
 * test_model.c - enum names (round trips, unknowns), label syntax,
 * rs_spec_validate field by field, rs_spec_copy / rs_spec_clear ownership
 * (ASan/LSan catch double frees and leaks), argv/env limits, rs_strlcpy.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* ---------- enums ---------- */

#define ROUND_TRIP(type, prefix, nr)                                          \
	do {                                                                  \
		for (int v_ = 0; v_ < (nr); v_++) {                           \
			const char *s_ = prefix##_to_string((type)v_);        \
			cr_assert_not_null(s_, #prefix " %d", v_);            \
			cr_expect_str_neq(s_, "invalid", #prefix " %d", v_);  \
			cr_expect_eq(prefix##_from_string(s_), v_,            \
				     #prefix " '%s' -> %d, want %d", s_,      \
				     prefix##_from_string(s_), v_);           \
			for (int w_ = 0; w_ < v_; w_++)                       \
				cr_expect_str_neq(s_,                         \
					prefix##_to_string((type)w_),         \
					#prefix " %d and %d share a name",    \
					v_, w_);                              \
		}                                                             \
		cr_expect_str_eq(prefix##_to_string((type)(nr)), "invalid");  \
		cr_expect_str_eq(prefix##_to_string((type)((nr) + 100)),      \
				 "invalid");                                  \
		cr_expect_str_eq(prefix##_to_string((type)-1), "invalid");    \
		cr_expect_eq(prefix##_from_string("bogus"), -EINVAL);         \
		cr_expect_eq(prefix##_from_string("invalid"), -EINVAL);       \
		cr_expect_eq(prefix##_from_string(NULL), -EINVAL);            \
		cr_expect_eq(prefix##_from_string(" "), -EINVAL);             \
	} while (0)

Test(model, enum_istate, .timeout = 10)
{
	ROUND_TRIP(rs_istate, rs_istate, RS_IS__NR);
	cr_expect_eq(rs_istate_from_string(""), -EINVAL);
	cr_expect_str_eq(rs_istate_to_string(RS_IS_RUNNING), "running");
	cr_expect_str_eq(rs_istate_to_string(RS_IS_BACKOFF), "backoff");
	cr_expect_eq(rs_istate_from_string("running "), -EINVAL);
	cr_expect_eq(rs_istate_from_string("runnin"), -EINVAL);
}

/* RS_ER_NONE is the empty string (docs: "... or empty"). */
Test(model, enum_exit_reason, .timeout = 10)
{
	ROUND_TRIP(rs_exit_reason, rs_exit_reason, RS_ER__NR);
	cr_expect_str_eq(rs_exit_reason_to_string(RS_ER_NONE), "");
	cr_expect_eq(rs_exit_reason_from_string(""), RS_ER_NONE);
	cr_expect_str_eq(rs_exit_reason_to_string(RS_ER_NO_HEARTBEAT),
			 "no-heartbeat");
	cr_expect_eq(rs_exit_reason_from_string("signaled"), RS_ER_SIGNALED);
}

Test(model, enum_policy, .timeout = 10)
{
	ROUND_TRIP(rs_policy, rs_policy, RS_RP__NR);
	cr_expect_eq(rs_policy_from_string(""), -EINVAL);
	cr_expect_str_eq(rs_policy_to_string(RS_RP_ON_FAILURE), "on-failure");
	cr_expect_eq(rs_policy_from_string("never"), RS_RP_NEVER);
}

Test(model, enum_notify_type, .timeout = 10)
{
	ROUND_TRIP(rs_notify_type, rs_notify_type, RS_NT__NR);
	cr_expect_eq(rs_notify_type_from_string(""), -EINVAL);
	cr_expect_eq(rs_notify_type_from_string("simple"), RS_NT_SIMPLE);
}

Test(model, enum_node_state, .timeout = 10)
{
	ROUND_TRIP(rs_node_state, rs_node_state, RS_NS__NR);
	/* appended after lost: a 0.2.0 store reader keeps 0..2 as they were */
	cr_expect_eq(RS_NS_LOST, 2);
	cr_expect_str_eq(rs_node_state_to_string(RS_NS_SUSPECT), "suspect");
	cr_expect_str_eq(rs_node_state_to_string(RS_NS_FENCED), "fenced");
	ROUND_TRIP(rs_fence, rs_fence, RS_FENCE__NR);
	cr_expect_str_eq(rs_fence_to_string(RS_FENCE_STOP), "stop");
	cr_expect_eq(rs_fence_from_string("none"), RS_FENCE_NONE);
	cr_expect_eq(rs_fence_from_string("kill"), -EINVAL);
	cr_expect_str_eq(rs_exit_reason_to_string(RS_ER_FENCED), "fenced");
	cr_expect_eq(rs_node_state_from_string(""), -EINVAL);
	cr_expect_eq(rs_node_state_from_string("lost"), RS_NS_LOST);
}

Test(model, enum_desired, .timeout = 10)
{
	ROUND_TRIP(rs_desired, rs_desired, RS_WANT__NR);
	cr_expect_eq(rs_desired_from_string(""), -EINVAL);
	cr_expect_eq(rs_desired_from_string("up"), RS_WANT_UP);
}

/* ---------- labels ---------- */

static void fill(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

Test(model, label_valid, .timeout = 10)
{
	char l63[64], l64[65];

	fill(l63, 'a', 63);
	fill(l64, 'a', 64);
	cr_expect(rs_label_valid("web"));
	cr_expect(rs_label_valid("a.b-c_1"));
	cr_expect(rs_label_valid("A"));
	cr_expect(rs_label_valid("9"));
	cr_expect(rs_label_valid("_x"));
	cr_expect(rs_label_valid("x."));
	cr_expect(rs_label_valid("x-"));
	cr_expect(rs_label_valid(l63), "63 chars");
}

Test(model, label_invalid, .timeout = 10)
{
	static const char *const bad[] = {
		"", ".x", "-x", "a b", "a/b", "\xc3\xa9" /* é */, "a\xc3\xa9",
		".", "-", "a\tb", "a\nb", "a:b", "a*", "a\x7f", "\xff",
	};
	char l64[65], l100[101];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_not(rs_label_valid(bad[i]), "'%s' accepted", bad[i]);
	fill(l64, 'a', 64);
	fill(l100, 'b', 100);
	cr_expect_not(rs_label_valid(l64), "64 chars");
	cr_expect_not(rs_label_valid(l100), "100 chars");
}

/* ---------- rs_spec_validate ---------- */

static void good_spec(rs_spec *s)
{
	rs_spec_init(s);
	rs_strlcpy(s->label, "web", sizeof s->label);
	cr_assert_eq(rs_spec_add_arg(s, "/usr/bin/python3"), 0);
	cr_assert_eq(rs_spec_add_arg(s, "-m"), 0);
	cr_assert_eq(rs_spec_add_arg(s, "http.server"), 0);
	cr_assert_eq(rs_spec_add_env(s, "PORT=8080"), 0);
	cr_assert_eq(rs_spec_add_env(s, "EMPTY="), 0);
	s->cwd = strdup("/srv/web");
	cr_assert_not_null(s->cwd);
	s->period_ms = 5000;
}

/* Validates s and expects -EINVAL with an error naming `field`. */
static void expect_bad(const rs_spec *s, const char *field, const char *what)
{
	char err[512];
	int r;

	memset(err, 0, sizeof err);
	r = rs_spec_validate(s, err, sizeof err);
	cr_expect_eq(r, -EINVAL, "%s: validate returned %d", what, r);
	cr_expect_neq(err[0], '\0', "%s: no error text", what);
	cr_expect_not_null(strstr(err, field),
			   "%s: error '%s' does not mention '%s'", what, err,
			   field);
}

static void expect_good(const rs_spec *s, const char *what)
{
	char err[512] = "";
	int r = rs_spec_validate(s, err, sizeof err);

	cr_expect_eq(r, 0, "%s: validate returned %d (%s)", what, r, err);
}

Test(model, validate_good, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	expect_good(&s, "full spec");
	rs_spec_clear(&s);

	/* minimal: label + one arg, defaults for the rest */
	rs_spec_init(&s);
	rs_strlcpy(s.label, "a", sizeof s.label);
	rs_spec_add_arg(&s, "x");
	expect_good(&s, "minimal");

	/* edges that are still valid */
	s.stop_signal = 1;
	expect_good(&s, "stop signal 1");
	s.stop_signal = 64;
	expect_good(&s, "stop signal 64");
	s.backoff.max_ms = s.backoff.initial_ms;
	expect_good(&s, "max == initial");
	s.backoff.factor = 1;
	expect_good(&s, "factor 1");
	rs_strlcpy(s.node, "n1.example-2", sizeof s.node);
	expect_good(&s, "node name");
	s.policy = RS_RP_NEVER;
	s.notify = RS_NT_SIMPLE;
	expect_good(&s, "last enum values");
	rs_spec_clear(&s);
}

Test(model, validate_bad_label, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	s.label[0] = '\0';
	expect_bad(&s, "label", "empty label");
	rs_strlcpy(s.label, ".x", sizeof s.label);
	expect_bad(&s, "label", "label .x");
	rs_strlcpy(s.label, "a b", sizeof s.label);
	expect_bad(&s, "label", "label 'a b'");
	rs_spec_clear(&s);
}

Test(model, validate_no_argv, .timeout = 10)
{
	rs_spec s;

	rs_spec_init(&s);
	rs_strlcpy(s.label, "web", sizeof s.label);
	expect_bad(&s, "command", "no argv");
	rs_spec_add_arg(&s, "");
	rs_spec_add_arg(&s, "arg1");
	expect_bad(&s, "command", "empty argv[0]");
	rs_spec_clear(&s);
}

Test(model, validate_bad_env, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	rs_spec_add_env(&s, "NOEQUALS");
	expect_bad(&s, "environment", "env without =");
	rs_spec_clear(&s);

	good_spec(&s);
	rs_spec_add_env(&s, "=x");
	expect_bad(&s, "environment", "env =x");
	rs_spec_clear(&s);

	good_spec(&s);
	rs_spec_add_env(&s, "");
	expect_bad(&s, "environment", "empty env");
	rs_spec_clear(&s);
}

Test(model, validate_bad_stop_signal, .timeout = 10)
{
	static const int bad[] = { 0, 65, -1, 1000 };
	rs_spec s;

	good_spec(&s);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char what[32];

		snprintf(what, sizeof what, "stop signal %d", bad[i]);
		s.stop_signal = bad[i];
		expect_bad(&s, "stop signal", what);
	}
	rs_spec_clear(&s);
}

Test(model, validate_bad_policy, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	s.policy = RS_RP__NR;
	expect_bad(&s, "policy", "policy NR");
	s.policy = (rs_policy)-1;
	expect_bad(&s, "policy", "policy -1");
	rs_spec_clear(&s);
}

Test(model, validate_bad_notify, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	s.notify = RS_NT__NR;
	expect_bad(&s, "notify", "notify NR");
	rs_spec_clear(&s);
}

Test(model, validate_bad_ready_timeout, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	s.ready_timeout_ms = 0;
	expect_bad(&s, "ready timeout", "ready timeout 0");
	rs_spec_clear(&s);
}

Test(model, validate_bad_backoff, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	s.backoff.factor = 0;
	expect_bad(&s, "factor", "factor 0");
	s.backoff.factor = 2;
	s.backoff.initial_ms = 5000;
	s.backoff.max_ms = 4999;
	expect_bad(&s, "backoff", "max < initial");
	expect_bad(&s, "cap", "max < initial");
	rs_spec_clear(&s);
}

Test(model, validate_bad_node, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	rs_strlcpy(s.node, "bad node", sizeof s.node);
	expect_bad(&s, "node", "node 'bad node'");
	rs_strlcpy(s.node, "-n", sizeof s.node);
	expect_bad(&s, "node", "node -n");
	rs_strlcpy(s.node, "n/1", sizeof s.node);
	expect_bad(&s, "node", "node n/1");
	rs_spec_clear(&s);
}

Test(model, validate_too_many_bytes, .timeout = 10)
{
	char *big = malloc(RS_ARG_MAX);
	rs_spec s;

	cr_assert_not_null(big);
	fill(big, 'x', RS_ARG_MAX - 1);
	rs_spec_init(&s);
	rs_strlcpy(s.label, "big", sizeof s.label);
	/* 70 x 4096 > 256 KiB */
	for (int i = 0; i < 70; i++)
		cr_assert_eq(rs_spec_add_arg(&s, big), 0);
	expect_bad(&s, "bytes", "argv too big");
	rs_spec_clear(&s);
	free(big);
}

/* A tiny error buffer is truncated, NUL-terminated, never overrun. */
Test(model, validate_small_err_buffer, .timeout = 10)
{
	char err[9];
	rs_spec s;

	good_spec(&s);
	s.label[0] = '\0';
	memset(err, 'Z', sizeof err);
	cr_expect_eq(rs_spec_validate(&s, err, 8), -EINVAL);
	cr_expect_eq(strlen(err), 7);
	cr_expect_eq(err[8], 'Z');
	cr_expect_eq(rs_spec_validate(&s, NULL, 0), -EINVAL);
	rs_spec_clear(&s);
}

/* ---------- copy / clear ---------- */

Test(model, spec_copy_is_deep, .timeout = 10)
{
	rs_spec src, dst;

	good_spec(&src);
	src.stop_signal = SIGINT;
	src.backoff.reset_ms = 1234;
	rs_strlcpy(src.node, "n2", sizeof src.node);

	cr_assert_eq(rs_spec_copy(&dst, &src), 0);
	cr_assert_eq(dst.argc, 3);
	cr_assert_eq(dst.envc, 2);
	cr_expect_neq(dst.argv, src.argv);
	cr_expect_neq(dst.env, src.env);
	cr_expect_neq(dst.cwd, src.cwd);
	for (size_t i = 0; i < 3; i++)
		cr_expect_neq(dst.argv[i], src.argv[i]);
	cr_expect_null(dst.argv[3], "argv NULL-terminated");
	cr_expect_null(dst.env[2], "env NULL-terminated");

	/* scribble on the source, then free it: the copy is unaffected */
	src.argv[0][0] = 'X';
	src.env[0][0] = 'X';
	src.cwd[0] = 'X';
	src.label[0] = 'X';
	rs_spec_clear(&src);

	cr_expect_str_eq(dst.label, "web");
	cr_expect_str_eq(dst.argv[0], "/usr/bin/python3");
	cr_expect_str_eq(dst.argv[1], "-m");
	cr_expect_str_eq(dst.argv[2], "http.server");
	cr_expect_str_eq(dst.env[0], "PORT=8080");
	cr_expect_str_eq(dst.env[1], "EMPTY=");
	cr_expect_str_eq(dst.cwd, "/srv/web");
	cr_expect_str_eq(dst.node, "n2");
	cr_expect_eq(dst.stop_signal, SIGINT);
	cr_expect_eq(dst.backoff.reset_ms, 1234);
	cr_expect_eq(dst.period_ms, 5000);
	expect_good(&dst, "copy");

	/* the copy can grow on its own */
	cr_expect_eq(rs_spec_add_arg(&dst, "--more"), 0);
	cr_expect_eq(dst.argc, 4);
	cr_expect_null(dst.argv[4]);
	rs_spec_clear(&dst);
}

Test(model, spec_copy_empty, .timeout = 10)
{
	rs_spec src, dst;

	rs_spec_init(&src);
	memset(&dst, 0xaa, sizeof dst);   /* dst is uninitialised */
	cr_assert_eq(rs_spec_copy(&dst, &src), 0);
	cr_expect_null(dst.argv);
	cr_expect_null(dst.env);
	cr_expect_null(dst.cwd);
	cr_expect_eq(dst.argc, 0);
	cr_expect_eq(dst.envc, 0);
	cr_expect_eq(dst.ready_timeout_ms, RS_DEF_READY_TIMEOUT_MS);
	rs_spec_clear(&dst);
	rs_spec_clear(&src);
}

Test(model, spec_clear_frees_and_reinits, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	s.policy = RS_RP_NEVER;
	s.stop_signal = SIGKILL;
	rs_spec_clear(&s);
	cr_expect_null(s.argv);
	cr_expect_null(s.env);
	cr_expect_null(s.cwd);
	cr_expect_eq(s.argc, 0);
	cr_expect_eq(s.envc, 0);
	cr_expect_eq(s.label[0], '\0');
	cr_expect_eq(s.policy, RS_RP_ALWAYS);
	cr_expect_eq(s.stop_signal, SIGTERM);
	cr_expect_eq(s.ready_timeout_ms, RS_DEF_READY_TIMEOUT_MS);
	cr_expect_eq(s.stop_timeout_ms, RS_DEF_STOP_TIMEOUT_MS);
	cr_expect_eq(s.settle_ms, RS_DEF_SETTLE_MS);
	cr_expect_eq(s.backoff.initial_ms, RS_DEF_BACKOFF_INITIAL);
	cr_expect_eq(s.backoff.factor, RS_DEF_BACKOFF_FACTOR);
	cr_expect_eq(s.backoff.max_ms, RS_DEF_BACKOFF_MAX);
	cr_expect_eq(s.backoff.reset_ms, RS_DEF_BACKOFF_RESET);
	cr_expect_not(s.backoff.disabled);
	cr_expect_eq(s.notify, RS_NT_AUTO);
	/* clearing twice is safe (no double free under ASan) */
	rs_spec_clear(&s);
	/* and the cleared spec is reusable */
	cr_expect_eq(rs_spec_add_arg(&s, "again"), 0);
	rs_spec_clear(&s);
}

/* ---------- limits ---------- */

Test(model, argv_env_count_limit, .timeout = 10)
{
	rs_spec s;

	rs_spec_init(&s);
	for (int i = 0; i < RS_ARGV_MAX; i++) {
		char a[16];

		snprintf(a, sizeof a, "a%d", i);
		cr_assert_eq(rs_spec_add_arg(&s, a), 0, "arg %d", i);
		snprintf(a, sizeof a, "K%d=v", i);
		cr_assert_eq(rs_spec_add_env(&s, a), 0, "env %d", i);
	}
	cr_expect_eq(rs_spec_add_arg(&s, "one-too-many"), -E2BIG);
	cr_expect_eq(rs_spec_add_env(&s, "ONE=too-many"), -E2BIG);
	cr_expect_eq(s.argc, RS_ARGV_MAX);
	cr_expect_eq(s.envc, RS_ARGV_MAX);
	cr_expect_str_eq(s.argv[RS_ARGV_MAX - 1], "a255");
	cr_expect_null(s.argv[RS_ARGV_MAX]);
	cr_expect_null(s.env[RS_ARGV_MAX]);
	rs_spec_clear(&s);
}

Test(model, arg_length_limit, .timeout = 10)
{
	char *a = malloc(RS_ARG_MAX + 1);
	rs_spec s;

	cr_assert_not_null(a);
	rs_spec_init(&s);
	fill(a, 'y', RS_ARG_MAX);
	cr_expect_eq(rs_spec_add_arg(&s, a), -E2BIG, "RS_ARG_MAX chars");
	cr_expect_eq(rs_spec_add_env(&s, a), -E2BIG);
	cr_expect_eq(s.argc, 0);
	cr_expect_null(s.argv);
	fill(a, 'y', RS_ARG_MAX - 1);
	cr_expect_eq(rs_spec_add_arg(&s, a), 0, "RS_ARG_MAX - 1 chars");
	cr_expect_eq(s.argc, 1);
	cr_expect_eq(strlen(s.argv[0]), RS_ARG_MAX - 1);
	rs_spec_clear(&s);
	free(a);
}

/* ---------- listen ---------- */

Test(model, listen_copy_clear_and_set, .timeout = 10)
{
	char *next[] = { "admin=unix:/run/web.sock" };
	rs_spec src, dst;

	good_spec(&src);
	cr_assert_eq(rs_spec_add_listen(&src, "web=tcp:0.0.0.0:8080"), 0);
	cr_assert_eq(rs_spec_add_listen(&src, "v6=tcp6:[::]:8080"), 0);
	expect_good(&src, "two listen entries");
	cr_assert_eq(rs_spec_copy(&dst, &src), 0);
	cr_assert_eq(dst.nlisten, 2);
	cr_expect_neq(dst.listen, src.listen);
	cr_expect_neq(dst.listen[0], src.listen[0]);
	cr_expect_null(dst.listen[2], "listen NULL-terminated");
	src.listen[0][0] = 'X';
	rs_spec_clear(&src);
	cr_expect_null(src.listen);
	cr_expect_eq(src.nlisten, 0);
	cr_expect_str_eq(dst.listen[0], "web=tcp:0.0.0.0:8080");
	cr_expect_str_eq(dst.listen[1], "v6=tcp6:[::]:8080");

	/* set replaces the whole list; an empty set clears it */
	cr_assert_eq(rs_spec_set_listen(&dst, next, 1), 0);
	cr_assert_eq(dst.nlisten, 1);
	cr_expect_str_eq(dst.listen[0], "admin=unix:/run/web.sock");
	cr_expect_null(dst.listen[1]);
	cr_assert_eq(rs_spec_set_listen(&dst, NULL, 0), 0);
	cr_expect_eq(dst.nlisten, 0);
	cr_expect_null(dst.listen);
	rs_spec_clear(&dst);
}

Test(model, listen_limits, .timeout = 10)
{
	char *a = malloc(RS_LISTEN_STR_MAX + 1), *many[RS_LISTEN_MAX + 1];
	char bufs[RS_LISTEN_MAX + 1][32];
	rs_spec s;

	cr_assert_not_null(a);
	rs_spec_init(&s);
	for (int i = 0; i <= RS_LISTEN_MAX; i++) {
		snprintf(bufs[i], sizeof bufs[i], "s%d=tcp:127.0.0.1:%d", i, 2000 + i);
		many[i] = bufs[i];
	}
	for (int i = 0; i < RS_LISTEN_MAX; i++)
		cr_assert_eq(rs_spec_add_listen(&s, many[i]), 0, "entry %d", i);
	cr_expect_eq(rs_spec_add_listen(&s, many[RS_LISTEN_MAX]), -E2BIG);
	cr_expect_eq(s.nlisten, RS_LISTEN_MAX);
	/* a set that does not fit leaves the old list alone */
	cr_expect_eq(rs_spec_set_listen(&s, many, RS_LISTEN_MAX + 1), -E2BIG);
	cr_expect_eq(s.nlisten, RS_LISTEN_MAX);
	cr_expect_str_eq(s.listen[0], "s0=tcp:127.0.0.1:2000");
	rs_spec_clear(&s);
	fill(a, 'y', RS_LISTEN_STR_MAX);
	cr_expect_eq(rs_spec_add_listen(&s, a), -E2BIG, "RS_LISTEN_STR_MAX chars");
	cr_expect_eq(s.nlisten, 0);
	rs_spec_clear(&s);
	free(a);
}

Test(model, validate_bad_listen, .timeout = 10)
{
	rs_spec s;

	good_spec(&s);
	rs_spec_add_listen(&s, "web=tcp:1.2.3.4:99999");
	expect_bad(&s, "listen \"web=tcp:1.2.3.4:99999\": port must be 1..65535",
		   "bad port");
	rs_spec_clear(&s);

	good_spec(&s);
	rs_spec_add_listen(&s, "web=tcp:1.2.3.4:80");
	rs_spec_add_listen(&s, "web=unix:/run/web.sock");
	expect_bad(&s, "NAME 'web' is given twice", "duplicate name");
	rs_spec_clear(&s);

	good_spec(&s);
	rs_spec_add_listen(&s, "a=tcp:1.2.3.4:80");
	rs_spec_add_listen(&s, "b=tcp:1.2.3.4:80");
	expect_bad(&s, "tcp:1.2.3.4:80 is already listed as 'a'", "duplicate address");
	rs_spec_clear(&s);
}

/* ---------- rs_strlcpy ---------- */

Test(model, strlcpy, .timeout = 10)
{
	char buf[8];

	memset(buf, 'Z', sizeof buf);
	cr_expect_eq(rs_strlcpy(buf, "hello", 4), -E2BIG);
	cr_expect_str_eq(buf, "hel");
	cr_expect_eq(buf[4], 'Z', "no write past n");

	cr_expect_eq(rs_strlcpy(buf, "abc", 4), 0, "exact fit");
	cr_expect_str_eq(buf, "abc");

	cr_expect_eq(rs_strlcpy(buf, "abcd", 4), -E2BIG, "one too long");
	cr_expect_str_eq(buf, "abc");

	cr_expect_eq(rs_strlcpy(buf, "", sizeof buf), 0);
	cr_expect_str_eq(buf, "");

	cr_expect_eq(rs_strlcpy(buf, NULL, sizeof buf), 0);
	cr_expect_str_eq(buf, "");

	memset(buf, 'Z', sizeof buf);
	cr_expect_eq(rs_strlcpy(buf, "x", 1), -E2BIG);
	cr_expect_eq(buf[0], '\0');
	cr_expect_eq(buf[1], 'Z');

	memset(buf, 'Z', sizeof buf);
	cr_expect_eq(rs_strlcpy(buf, "x", 0), -E2BIG, "n == 0");
	cr_expect_eq(buf[0], 'Z', "n == 0 writes nothing");

	cr_expect_eq(rs_strlcpy(buf, "a much longer string", sizeof buf),
		     -E2BIG);
	cr_expect_str_eq(buf, "a much ");
	cr_expect_eq(strlen(buf), sizeof buf - 1);
}

/* rs_grow: the array itself while it has room, doubled (from first) when
 * full, NULL with everything as it was when the size cannot be had. */
Test(model, grow_doubles_only_when_full, .timeout = 10)
{
	size_t cap = 0, n = 0;
	int *v = NULL, *w;

	for (int i = 0; i < 100; i++, n++) {
		w = rs_grow(v, &cap, n, sizeof *v, 4);
		cr_assert_not_null(w);
		if (n < 4)
			cr_assert_eq(cap, 4);
		v = w;
		v[n] = i;
	}
	cr_assert_eq(cap, 128);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(v[i], i, "kept across the moves");
	w = rs_grow(v, &cap, 50, sizeof *v, 4);
	cr_assert_eq(w, v, "room: the same array");
	cr_assert_eq(cap, 128);
	cr_assert_null(rs_grow(v, &cap, 128, SIZE_MAX / 8, 4), "too big");
	cr_assert_eq(cap, 128, "unchanged when it fails");
	free(v);
}
