/*
 * test_retain.c - events stay bounded: rsd --events-keep and
 * --events-max-age prune the event table from the periodic check while a
 * crash-looping service writes events, and `rsctl events` goes on
 * answering with the newest ones. Real rsd, rs-agent and rsctl
 * (tests/harness.c); every wait is on a condition with a deadline.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define T_TIMEOUT 90

static void teardown(void)
{
	h_teardown();
}

TestSuite(retain, .fini = teardown, .timeout = T_TIMEOUT);

/* What `rsctl events -n 1000 --json` shows: how many, the oldest and the
 * newest seq, and whether the seqs are consecutive. */
struct evs {
	size_t   n;
	uint64_t first, last;
	bool     consecutive;
};

static struct evs events_now(void)
{
	const h_res *r = h_rsctl("events", "-n", "1000", "--json", NULL);
	json_t *j = h_json(r), *arr;
	struct evs e = { 0, 0, 0, true };
	size_t i;
	json_t *ev;

	cr_assert_eq(r->code, 0, "events: %s", r->err);
	arr = json_object_get(j, "events");
	cr_assert(json_is_array(arr), "events: %s", r->out);
	e.n = json_array_size(arr);
	json_array_foreach(arr, i, ev) {
		uint64_t seq = (uint64_t)json_integer_value(json_object_get(ev, "seq"));

		if (i && seq != e.last + 1)
			e.consecutive = false;
		if (!i)
			e.first = seq;
		e.last = seq;
	}
	return e;
}

static bool newest_past(void *arg)
{
	return events_now().last >= *(uint64_t *)arg;
}

static bool at_most(void *arg)
{
	return events_now().n <= *(size_t *)arg;
}

/* A service that exits at once, restarted without backoff: events. */
static void crash_loop(const char *label)
{
	const h_res *r = h_rsctl("up", label, "--no-block", "--no-backoff", "--",
				 "/bin/sh", "-c", "exit 3", NULL);

	cr_assert_eq(r->code, 0, "up %s: %s", label, r->err);
}

Test(retain, events_keep_bounds_the_table)
{
	h_opts o = { .agents = 1, .alarm_s = T_TIMEOUT - 10,
		     .rsd_arg = { "--events-keep=50" } };
	uint64_t enough = 400;
	size_t keep = 50;
	struct evs e;
	const h_res *r;

	h_setup_opts(&o);
	crash_loop("crash");
	cr_assert(h_wait_until(newest_past, &enough, 40000),
		  "fewer than %llu events in 40 s (newest %llu)",
		  (unsigned long long)enough, (unsigned long long)events_now().last);
	r = h_rsctl("down", "crash", NULL);
	cr_assert_eq(r->code, 0, "down: %s", r->err);
	/* the periodic check catches up: 50 left, the newest, no holes */
	cr_assert(h_wait_until(at_most, &keep, 10000), "%zu events left",
		  events_now().n);
	e = events_now();
	cr_assert_eq(e.n, keep);
	cr_assert(e.consecutive);
	cr_assert_eq(e.last - e.first + 1, keep);
	cr_assert_geq(e.last, enough);
	/* rsd restarted on the same file: the same bound, seqs go on */
	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	crash_loop("crash2");
	enough = e.last + 100;
	cr_assert(h_wait_until(newest_past, &enough, 40000), "no new events");
	cr_assert_eq(h_rsctl("down", "crash2", NULL)->code, 0);
	cr_assert(h_wait_until(at_most, &keep, 10000), "%zu events left",
		  events_now().n);
	cr_assert_gt(events_now().first, e.last);
	h_pass();
}

/* `rsctl events LABEL -n N --json`: the rows' seqs (oldest first) in
 * seq[], their count; each row checked to be LABEL's. */
static size_t label_events(const char *label, const char *n, uint64_t *seq, size_t max)
{
	const h_res *r = h_rsctl("events", label, "-n", n, "--json", NULL);
	json_t *j = h_json(r), *ev;
	size_t i, k = 0;

	cr_assert_eq(r->code, 0, "events %s: %s", label, r->err);
	json_array_foreach(json_object_get(j, "events"), i, ev) {
		cr_assert_str_eq(json_string_value(json_object_get(ev, "label")), label,
				 "events %s: %s", label, r->out);
		cr_assert(k < max);
		seq[k] = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
		cr_assert(!k || seq[k] > seq[k - 1], "not oldest first: %s", r->out);
		k++;
	}
	return k;
}

/* A label's newest events come from rsd's ring of their seqs once read
 * (RSD_EV_RING): with two services crash-looping and the table kept at 10
 * rows, the ring's older seqs are pruned under it (the ring's rows are
 * read and checked; a row gone: a scan): each answer is the label's
 * newest (RS_CHECK_TABLES makes rsd compare every answer from the ring
 * with a scan, and abort on a difference), its newest row never older
 * than the last answer's, for 60 (more than the table keeps after a
 * prune) as well as 5. */
Test(retain, label_events_from_the_ring_while_pruned)
{
	h_opts o = { .agents = 1, .alarm_s = T_TIMEOUT - 10,
		     .rsd_arg = { "--events-keep=10" } };
	uint64_t seq[64], last5 = 0, last50 = 0, enough = 300;
	size_t k;
	int reads = 0;
	struct timespec t0, t;

	h_setup_opts(&o);
	crash_loop("ring1");
	crash_loop("ring2");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* 300 events, and 4 s: the periodic check prunes a few times */
	for (t = t0; events_now().last < enough || t.tv_sec - t0.tv_sec < 4;
	     clock_gettime(CLOCK_MONOTONIC, &t)) {
		k = label_events("ring1", "5", seq, 64);
		cr_assert_leq(k, 5);
		if (k) {
			cr_assert_geq(seq[k - 1], last5, "went back");
			last5 = seq[k - 1];
		}
		k = label_events("ring1", "60", seq, 64);
		cr_assert_leq(k, 60);
		if (k) {
			cr_assert_geq(seq[k - 1], last50, "went back");
			last50 = seq[k - 1];
		}
		reads++;
		cr_assert(reads < 5000, "fewer than %llu events after %d reads",
			  (unsigned long long)enough, reads);
	}
	/* ring2 first: then ring1's down is among the 10 rows kept, its
	 * newest event, and stays so (an answer from the ring, checked) */
	cr_assert_eq(h_rsctl("down", "ring2", NULL)->code, 0);
	cr_assert_eq(h_rsctl("down", "ring1", NULL)->code, 0);
	k = label_events("ring1", "5", seq, 64);
	cr_assert(k > 0);
	uint64_t down = seq[k - 1];

	for (int i = 0; i < 3; i++) {
		k = label_events("ring1", "5", seq, 64);
		cr_assert(k > 0 && seq[k - 1] == down);
	}
	h_pass();
}

Test(retain, events_max_age_empties_an_idle_table)
{
	h_opts o = { .agents = 1, .alarm_s = T_TIMEOUT - 10,
		     .rsd_arg = { "--events-keep", "0", "--events-max-age", "2s" } };
	uint64_t enough = 30;
	size_t none = 0;
	const h_res *r;

	h_setup_opts(&o);
	crash_loop("crash");
	cr_assert(h_wait_until(newest_past, &enough, 40000), "too few events");
	r = h_rsctl("down", "crash", NULL);
	cr_assert_eq(r->code, 0, "down: %s", r->err);
	/* nothing new after the down: 2 s later every event is too old */
	cr_assert(h_wait_until(at_most, &none, 15000), "%zu events left",
		  events_now().n);
	h_pass();
}

Test(retain, bad_flags_refused)
{
	static const char *const bad[][2] = {
		{ "--events-keep", "-1" }, { "--events-keep", "ten" },
		{ "--events-keep", "" }, { "--events-max-age", "7" },
		{ "--events-max-age", "-1d" }, { "--events-max-age", "1w" },
	};
	char bin[512];
	const char *dir = getenv("RS_BIN_DIR");

	h_setup(0);     /* the harness owns what h_run returns */
	snprintf(bin, sizeof bin, "%s/rsd/rsd", dir ? dir : ".");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *argv[] = { bin, bad[i][0], bad[i][1], "--db",
				       "/nonexistent/rs.db", NULL };
		const h_res *r = h_run(10000, argv);

		cr_assert_eq(r->code, 2, "%s '%s': exit %d (%s)", bad[i][0], bad[i][1],
			     r->code, r->err);
		cr_assert(strstr(r->err, bad[i][0] + 2), "%s", r->err);
	}
	h_pass();
}
