/*
 * test_usagesel.c - the agent's choice of usage to send (thresholds, the
 * 10 s resend bound) and rsctl's CPU share (lib/usagesel.h).
 */
#include <criterion/criterion.h>

#include "usagesel.h"

static const rs_usage base = { .instance_id = 7, .cpu_ms = 5000,
	.memory = 100u << 20, .memory_peak = 120u << 20, .tasks = 3,
	.time_ms = 1700000000000ull };

Test(usagesel, first_always, .timeout = 10)
{
	rs_usage cur = base;

	/* never sent (sent_ms 0): sent, whatever last holds */
	cr_assert(usagesel_due(&(rs_usage){ 0 }, 0, &cur, 1));
	cr_assert(usagesel_due(&base, 0, &cur, 123456));
}

Test(usagesel, at_most_every_10s, .timeout = 10)
{
	rs_usage cur = base;

	cur.cpu_ms += 100000;   /* a big change */
	cur.tasks = 50;
	cr_assert_not(usagesel_due(&base, 1000, &cur, 1000));
	cr_assert_not(usagesel_due(&base, 1000, &cur, 1000 + USAGE_RESEND_MS - 1));
	cr_assert(usagesel_due(&base, 1000, &cur, 1000 + USAGE_RESEND_MS));
}

Test(usagesel, thresholds, .timeout = 10)
{
	uint64_t sent = 1000, now = 1000 + USAGE_RESEND_MS;
	rs_usage cur = base;

	/* nothing changed: not sent, however long it has been */
	cr_assert_not(usagesel_due(&base, sent, &cur, now * 100));
	/* CPU: below 10 ms not, 10 ms yes, going back (a new process) yes */
	cur.cpu_ms = base.cpu_ms + USAGE_CPU_MS - 1;
	cr_assert_not(usagesel_due(&base, sent, &cur, now));
	cur.cpu_ms = base.cpu_ms + USAGE_CPU_MS;
	cr_assert(usagesel_due(&base, sent, &cur, now));
	cur.cpu_ms = base.cpu_ms - 1;
	cr_assert(usagesel_due(&base, sent, &cur, now));
	cur = base;
	/* memory of 100 MiB: 1 % (1 MiB) is the bar, not 64 KiB; both ways */
	cur.memory = base.memory + (1u << 20) - 1024;
	cr_assert_not(usagesel_due(&base, sent, &cur, now));
	cur.memory = base.memory + (100u << 20) / 100;
	cr_assert(usagesel_due(&base, sent, &cur, now));
	cur.memory = base.memory - (100u << 20) / 100;
	cr_assert(usagesel_due(&base, sent, &cur, now));
	cur = base;
	/* the peak likewise */
	cur.memory_peak = base.memory_peak + (2u << 20);
	cr_assert(usagesel_due(&base, sent, &cur, now));
	cur = base;
	/* small memory: 64 KiB is the bar */
	{
		rs_usage small = base, c2;

		small.memory = small.memory_peak = 1u << 20;
		c2 = small;
		c2.memory += USAGE_MEM_MIN - 1;
		c2.memory_peak = c2.memory;
		cr_assert_not(usagesel_due(&small, sent, &c2, now));
		c2.memory = c2.memory_peak = small.memory + USAGE_MEM_MIN;
		cr_assert(usagesel_due(&small, sent, &c2, now));
	}
	/* tasks: any change */
	cur.tasks = base.tasks + 1;
	cr_assert(usagesel_due(&base, sent, &cur, now));
	cur.tasks = base.tasks - 1;
	cr_assert(usagesel_due(&base, sent, &cur, now));
}

Test(usagesel, cpu_pct, .timeout = 10)
{
	rs_usage a = base, b = base;

	b.cpu_ms = a.cpu_ms + 5000;
	b.time_ms = a.time_ms + 10000;
	cr_assert_float_eq(usagesel_cpu_pct(&a, &b), 50.0, 1e-9);
	b.cpu_ms = a.cpu_ms + 20000;   /* two CPUs */
	cr_assert_float_eq(usagesel_cpu_pct(&a, &b), 200.0, 1e-9);
	/* cannot be told: the same sample, an older one, CPU went back, no
	 * earlier report */
	cr_assert_lt(usagesel_cpu_pct(&a, &a), 0);
	cr_assert_lt(usagesel_cpu_pct(&b, &a), 0);
	b.time_ms = a.time_ms + 1000;
	b.cpu_ms = a.cpu_ms - 1;
	cr_assert_lt(usagesel_cpu_pct(&a, &b), 0);
	cr_assert_lt(usagesel_cpu_pct(&(rs_usage){ 0 }, &a), 0);
	/* since the start: a start time as the earlier "report" */
	cr_assert_float_eq(usagesel_cpu_pct(&(rs_usage){ .time_ms = a.time_ms - 10000 }, &a),
			   50.0, 1e-9);
}
