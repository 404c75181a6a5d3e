/*
 * test_reslimits.c - resource limits as data (lib/reslimits.h): the
 * forms users write, validation, the store's text, an edit's merge.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "reslimits.h"

Test(reslimits, sizes, .timeout = 10)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "4096", 4096 }, { "256M", 256ull << 20 }, { "256m", 256ull << 20 },
		{ "1G", 1ull << 30 }, { "1GiB", 1ull << 30 }, { "2Ki", 2048 },
		{ "3KB", 3072 }, { "1T", 1ull << 40 }, { "10b", 10 },
	};
	static const char *const bad[] = {
		"", "M", "-1M", "0", "0M", "1.5G", "1X", "1MM", "1 M", "18446744073709551615T",
	};
	uint64_t v;
	char buf[32];

	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		cr_assert_eq(rs_size_parse(ok[i].s, &v), 0, "%s", ok[i].s);
		cr_assert_eq(v, ok[i].v, "%s", ok[i].s);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_lt(rs_size_parse(bad[i], &v), 0, "'%s'", bad[i]);
	rs_size_format(256ull << 20, buf, sizeof buf);
	cr_assert_str_eq(buf, "256M");
	rs_size_format((1ull << 30) + 1, buf, sizeof buf);
	cr_assert_str_eq(buf, "1073741825");
	rs_size_format(3ull << 40, buf, sizeof buf);
	cr_assert_str_eq(buf, "3T");
}

Test(reslimits, cpu_max, .timeout = 10)
{
	uint32_t p;

	cr_assert_eq(rs_cpu_max_parse("50%", &p), 0);
	cr_assert_eq(p, 50);
	cr_assert_eq(rs_cpu_max_parse("200%", &p), 0);
	cr_assert_eq(p, 200);
	cr_assert_lt(rs_cpu_max_parse("0%", &p), 0);
	cr_assert_lt(rs_cpu_max_parse("50", &p), 0);
	cr_assert_lt(rs_cpu_max_parse("5.5%", &p), 0);
	cr_assert_lt(rs_cpu_max_parse("102401%", &p), 0);
}

Test(reslimits, validate_and_needs, .timeout = 10)
{
	rs_limits l = { 0 };
	char err[128];

	cr_assert(!rs_limits_any(&l));
	cr_assert_eq(rs_limits_needs(&l), 0);
	cr_assert_eq(rs_limits_validate(&l, err, sizeof err), 0);
	l.memory_high = 1u << 20;
	cr_assert_eq(rs_limits_needs(&l), RS_CTL_MEMORY);
	l.memory_max = 1u << 19;
	cr_assert_eq(rs_limits_validate(&l, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "memory high"), "%s", err);
	l.memory_max = 1u << 21;
	l.cpu_weight = 10001;
	cr_assert_eq(rs_limits_validate(&l, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "cpu weight"), "%s", err);
	l.cpu_weight = 1;
	l.pids_max = 3;
	cr_assert_eq(rs_limits_validate(&l, err, sizeof err), 0);
	cr_assert_eq(rs_limits_needs(&l), RS_CTL__ALL);
	rs_ctl_format(rs_limits_needs(&l), err, sizeof err);
	cr_assert_str_eq(err, "memory,cpu,pids");
	rs_ctl_format(0, err, sizeof err);
	cr_assert_str_eq(err, "none");
	l.memory_max = 100;
	cr_assert_eq(rs_limits_validate(&l, err, sizeof err), -EINVAL);
}

Test(reslimits, pack_unpack, .timeout = 10)
{
	rs_limits l = { .memory_max = 256ull << 20, .memory_high = 200ull << 20,
			.cpu_weight = 100, .cpu_max = 50, .pids_max = 64 }, got;
	char text[RS_LIMITS_TEXT_MAX];

	rs_limits_pack(&l, text, sizeof text);
	cr_assert_str_eq(text, "memory-max=256M memory-high=200M cpu-weight=100 "
			 "cpu-max=50% pids-max=64");
	cr_assert_eq(rs_limits_unpack(text, &got), 0);
	cr_assert(rs_limits_equal(&l, &got));
	/* the largest of each fits */
	l = (rs_limits){ .memory_max = UINT64_MAX - 1, .memory_high = UINT64_MAX - 2,
			 .cpu_weight = RS_CPU_WEIGHT_MAX, .cpu_max = RS_CPU_MAX_PCT,
			 .pids_max = RS_PIDS_MAX };
	rs_limits_pack(&l, text, sizeof text);
	cr_assert_eq(rs_limits_unpack(text, &got), 0, "%s", text);
	cr_assert(rs_limits_equal(&l, &got));
	cr_assert_eq(rs_limits_unpack("", &got), 0);
	cr_assert(!rs_limits_any(&got));
	cr_assert_eq(rs_limits_unpack("memory-max=lots", &got), -EINVAL);
	cr_assert(!rs_limits_any(&got));
	cr_assert_eq(rs_limits_unpack("cpu-weight=99999", &got), -EINVAL);
	cr_assert_eq(rs_limits_unpack("swap=1", &got), -EINVAL);
}

/* an edit: 0 keeps, DROP removes, a value replaces */
Test(reslimits, merge, .timeout = 10)
{
	rs_limits dst = { .memory_max = 1u << 30, .cpu_max = 50, .pids_max = 9 };
	rs_limits ed = { .memory_max = 2u << 30, .cpu_max = RS_LIMIT_DROP32,
			 .cpu_weight = 300 };

	rs_limits_merge(&dst, &ed);
	cr_assert_eq(dst.memory_max, 2u << 30);
	cr_assert_eq(dst.cpu_max, 0);
	cr_assert_eq(dst.cpu_weight, 300);
	cr_assert_eq(dst.pids_max, 9);
	ed = (rs_limits){ .memory_max = RS_LIMIT_DROP64, .pids_max = 4 };
	rs_limits_undrop(&ed);
	cr_assert_eq(ed.memory_max, 0);
	cr_assert_eq(ed.pids_max, 4);
}
