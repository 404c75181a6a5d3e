/*
 * test_kproto.c - the keeper's K_SPAWN record (agent/kproto.c): round
 * trips with empty strings, and refusal of every record that does not
 * parse exactly (each truncation, a trailing byte, counts over the
 * limits, lengths past the end, an embedded NUL, unknown flags, a stop
 * signal out of range, a relative log path).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kproto.h"

#define BUF_MAX (1u << 20)

/* the limits that end a record (protocol 6): u64, u64, u32 x 3 */
#define LIM KPROTO_LIMITS_LEN
/* the profile after them (protocol 7), empty: u64 caps, u32 flags, u32
 * nice, an empty CPU list (u32 0) */
#define PROF (8 + 4 + 4 + 4)
/* what follows the cgroup name */
#define TAIL (LIM + PROF)

static char *test_argv[] = {
	"/bin/sh", "-c", "printf '[%s]' \"$@\"", "sh", "", "a", "", NULL,
};
static char *test_env[] = { "", "A=1", "", "RS_LABEL=r", NULL };

static struct kproto_spawn sample(void)
{
	struct kproto_spawn s = {
		.argv = test_argv, .argc = 7, .env = test_env, .envc = 4,
		.cwd = "", .logpath = "/var/lib/rs-agent/logs/r.1.log",
		.groups = { 0, 65534, 4242 }, .ngroups = 3,
		.flags = KSPAWN_KEEP_CAPS | KSPAWN_FENCED,
		.stop_signal = 15, .stop_ms = 2500, .log_max = 8u << 20,
	};
	return s;
}

/* Packs the sample into a fresh buffer (caller frees). */
static uint8_t *pack_sample(size_t *len)
{
	struct kproto_spawn s = sample();
	uint8_t *buf = malloc(BUF_MAX);

	cr_assert_not_null(buf);
	cr_assert_eq(kproto_spawn_pack(&s, buf, BUF_MAX, len), 0);
	return buf;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof v);
}

static void assert_strv(char **got, uint32_t n, char **want)
{
	for (uint32_t i = 0; i < n; i++) {
		cr_assert_not_null(want[i]);
		cr_assert_str_eq(got[i], want[i], "string %u", i);
	}
	cr_assert_null(want[n]);
	cr_assert_null(got[n]);
}

Test(kproto, round_trip_keeps_empty_strings, .timeout = 10)
{
	struct kproto_spawn s;
	size_t len;
	uint8_t *buf = pack_sample(&len);

	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), 0);
	cr_assert_eq(s.argc, 7);
	assert_strv(s.argv, s.argc, test_argv);
	cr_assert_eq(s.envc, 4);
	assert_strv(s.env, s.envc, test_env);
	cr_assert_str_eq(s.cwd, "");
	cr_assert_str_eq(s.logpath, "/var/lib/rs-agent/logs/r.1.log");
	cr_assert_eq(s.ngroups, 3);
	cr_assert_eq(s.groups[0], 0);
	cr_assert_eq(s.groups[1], 65534);
	cr_assert_eq(s.groups[2], 4242);
	cr_assert_eq(s.flags, KSPAWN_KEEP_CAPS | KSPAWN_FENCED);
	cr_assert_eq(s.stop_signal, 15);
	cr_assert_eq(s.stop_ms, 2500);
	cr_assert_eq(s.log_max, 8u << 20);
	kproto_spawn_free(&s);
	cr_assert_null(s.mem);
	kproto_spawn_free(NULL);
	free(buf);
}

Test(kproto, round_trip_minimal, .timeout = 10)
{
	char *argv[] = { "", NULL };
	struct kproto_spawn in = { .argv = argv, .argc = 1, .logpath = "/l",
				   .stop_signal = 9, .log_max = 4096 }, out;
	uint8_t buf[64 + TAIL];
	size_t len;

	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), 0);
	/* argc, one empty string, envc, cwd, log path, ngroups, flags, stop
	 * signal, stop timeout, log max, no cgroup, no limits */
	cr_assert_eq(len, 4 + 4 + 4 + 4 + 4 + 2 + 4 + 4 + 4 + 4 + 8 + 4 + TAIL);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), 0);
	cr_assert_eq(out.argc, 1);
	cr_assert_str_eq(out.argv[0], "");
	cr_assert_null(out.argv[1]);
	cr_assert_eq(out.envc, 0);
	cr_assert_null(out.env[0]);
	cr_assert_str_eq(out.cwd, "");
	cr_assert_str_eq(out.logpath, "/l");
	cr_assert_eq(out.ngroups, 0);
	cr_assert_eq(out.flags, 0);
	cr_assert_str_eq(out.cgroup, "");
	kproto_spawn_free(&out);
}

/* protocol 5: the instance's cgroup name, a path component of
 * [A-Za-z0-9._-] only (kcg_name_valid), or none */
Test(kproto, cgroup_name_round_trip_and_checked, .timeout = 10)
{
	char *argv[] = { "x", NULL };
	struct kproto_spawn in = { .argv = argv, .argc = 1, .logpath = "/l",
				   .stop_signal = 9, .log_max = 4096,
				   .cgroup = "web.42" }, out;
	static const char *const bad[] = { "..", ".x", "-x", "a/b", "a b", "x\n",
					   "cgroup.procs/.." };
	uint8_t buf[128];
	size_t len;

	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), 0);
	cr_assert_str_eq(out.cgroup, "web.42");
	kproto_spawn_free(&out);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		in.cgroup = (char *)bad[i];
		cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), -EINVAL,
			     "%s", bad[i]);
	}
	/* the same in a record: "web.42" made "web/42" */
	in.cgroup = "web.42";
	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), 0);
	buf[len - TAIL - 3] = '/';
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), -EINVAL);
	cr_assert_null(out.mem);
	buf[len - TAIL - 6] = '.';   /* ".eb.42": no leading dot */
	buf[len - TAIL - 3] = '.';
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), -EINVAL);
}

Test(kproto, every_truncation_refused, .timeout = 30)
{
	struct kproto_spawn s;
	size_t len;
	uint8_t *buf = pack_sample(&len);

	for (size_t n = 0; n < len; n++) {
		/* a copy of exactly n bytes, so ASan sees any read past it */
		uint8_t *cut = malloc(n ? n : 1);
		int r;

		cr_assert_not_null(cut);
		memcpy(cut, buf, n);
		r = kproto_spawn_unpack(cut, n, &s);
		cr_assert(r == -EBADMSG || r == -EINVAL,
			  "truncated to %zu of %zu bytes: %d", n, len, r);
		cr_assert_null(s.mem);
		cr_assert_null(s.argv);
		free(cut);
	}
	free(buf);
}

Test(kproto, trailing_byte_refused, .timeout = 10)
{
	struct kproto_spawn s;
	size_t len;
	uint8_t *buf = pack_sample(&len);

	buf[len] = 0;
	cr_assert_eq(kproto_spawn_unpack(buf, len + 1, &s), -EBADMSG);
	cr_assert_null(s.mem);
	free(buf);
}

Test(kproto, over_limit_counts_refused, .timeout = 10)
{
	struct kproto_spawn s;
	size_t len;
	uint8_t *buf = pack_sample(&len);
	char *big[RS_KEEPER_ENV + 2];
	struct kproto_spawn in = sample();

	/* argc: 0 and over the limit */
	put32(buf, 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EINVAL);
	put32(buf, RS_KEEPER_ARGV + 1);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EINVAL);
	put32(buf, UINT32_MAX);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EINVAL);
	free(buf);

	/* the packer refuses the same */
	for (size_t i = 0; i < RS_KEEPER_ENV + 1; i++)
		big[i] = "x";
	big[RS_KEEPER_ENV + 1] = NULL;
	buf = malloc(BUF_MAX);
	cr_assert_not_null(buf);
	in.argv = big;
	in.argc = RS_KEEPER_ARGV + 1;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), -EINVAL);
	in.argc = RS_KEEPER_ARGV;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), 0);
	cr_assert_eq(s.argc, RS_KEEPER_ARGV);
	kproto_spawn_free(&s);
	in.argc = 1;
	in.env = big;
	in.envc = RS_KEEPER_ENV + 1;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), -EINVAL);
	in.envc = RS_KEEPER_ENV;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), 0);
	cr_assert_eq(s.envc, RS_KEEPER_ENV);
	kproto_spawn_free(&s);
	/* envc over the limit in the record: argv is "x" (4 + 4 + 1) */
	put32(buf + 4 + 4 + 1, RS_KEEPER_ENV + 1);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EINVAL);
	in.envc = 0;
	in.ngroups = KEEPER_GROUPS_MAX + 1;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), -EINVAL);
	in.ngroups = KEEPER_GROUPS_MAX;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), 0);
	/* ngroups is just before the groups, the flags, the stop fields and
	 * the log max */
	put32(buf + len - TAIL - 24 - 4 * KEEPER_GROUPS_MAX - 4, KEEPER_GROUPS_MAX + 1);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EINVAL);
	free(buf);
}

Test(kproto, length_past_the_end_refused, .timeout = 10)
{
	struct kproto_spawn s;
	size_t len;
	uint8_t *buf = pack_sample(&len);

	/* argv[0]'s length */
	put32(buf + 4, (uint32_t)len);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EBADMSG);
	put32(buf + 4, UINT32_MAX);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EBADMSG);
	/* one byte longer: the record no longer lines up */
	put32(buf + 4, 8);
	cr_assert_lt(kproto_spawn_unpack(buf, len, &s), 0);
	cr_assert_null(s.mem);
	free(buf);
}

Test(kproto, embedded_nul_refused, .timeout = 10)
{
	struct kproto_spawn s;
	size_t len;
	uint8_t *buf = pack_sample(&len);

	/* "/bin/sh" -> "/bi\0/sh" */
	buf[4 + 4 + 3] = '\0';
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EBADMSG);
	cr_assert_null(s.mem);
	free(buf);
}

Test(kproto, flags_and_log_path_checked, .timeout = 10)
{
	struct kproto_spawn s, in = sample();
	size_t len;
	uint8_t *buf = pack_sample(&len);

	put32(buf + len - TAIL - 24, 0x80);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EINVAL);
	put32(buf + len - TAIL - 24, 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), 0);
	kproto_spawn_free(&s);
	/* the log's bound: at least KSPAWN_LOG_MAX_MIN */
	put32(buf + len - TAIL - 12, KSPAWN_LOG_MAX_MIN - 1);
	put32(buf + len - TAIL - 8, 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EINVAL);
	put32(buf + len - TAIL - 12, KSPAWN_LOG_MAX_MIN);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), 0);
	kproto_spawn_free(&s);
	in.log_max = KSPAWN_LOG_MAX_MIN - 1;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), -EINVAL);
	in.log_max = KSPAWN_LOG_MAX_MIN;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), 0);
	/* the stop signal of a fenced child: 1..64 */
	put32(buf + len - TAIL - 20, 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EINVAL);
	put32(buf + len - TAIL - 20, 65);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &s), -EINVAL);
	in.stop_signal = 0;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), -EINVAL);
	in.stop_signal = 15;
	in.flags = 0x80;
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), -EINVAL);
	in.flags = 0;
	in.logpath = "RS_LABEL=r";
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), -EINVAL);
	in.logpath = "";
	cr_assert_eq(kproto_spawn_pack(&in, buf, BUF_MAX, &len), -EINVAL);
	free(buf);

	/* a relative log path in a record is refused too */
	{
		char *argv[] = { "x", NULL };
		uint8_t rec[] = {
			1, 0, 0, 0, 1, 0, 0, 0, 'x',   /* argv */
			0, 0, 0, 0,                    /* env */
			0, 0, 0, 0,                    /* cwd */
			1, 0, 0, 0, 'l',               /* log path "l" */
			0, 0, 0, 0, 0, 0, 0, 0,        /* groups, flags */
			15, 0, 0, 0, 0, 0, 0, 0,       /* stop signal, timeout */
			0, 16, 0, 0, 0, 0, 0, 0,       /* log max 4096 */
			0, 0, 0, 0,                    /* no cgroup */
			0, 0, 0, 0, 0, 0, 0, 0,        /* no limits: memory max, */
			0, 0, 0, 0, 0, 0, 0, 0,        /* high, */
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* cpu, pids */
			0, 0, 0, 0, 0, 0, 0, 0,        /* no profile: caps, */
			0, 0, 0, 0, 0, 0, 0, 0,        /* flags, nice, */
			0, 0, 0, 0,                    /* cpus "" */
		};
		struct kproto_spawn ok = { .argv = argv, .argc = 1, .logpath = "/",
					   .stop_signal = 15, .log_max = 4096 };
		uint8_t good[sizeof rec], first;
		uint32_t one = 1;
		size_t glen;

		memcpy(&first, &one, 1);
		if (first != 1)
			cr_skip_test("the literal record is little-endian");
		cr_assert_eq(kproto_spawn_unpack(rec, sizeof rec, &s), -EINVAL);
		cr_assert_eq(kproto_spawn_pack(&ok, good, sizeof good, &glen), 0);
		cr_assert_eq(glen, sizeof rec);
		rec[21] = '/';
		cr_assert_eq(memcmp(rec, good, sizeof rec), 0);
		cr_assert_eq(kproto_spawn_unpack(rec, sizeof rec, &s), 0);
		kproto_spawn_free(&s);
	}
}

Test(kproto, pack_refuses_what_does_not_fit, .timeout = 10)
{
	struct kproto_spawn in = sample();
	uint8_t buf[256];
	size_t len, need;

	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &need), 0);
	for (size_t cap = 0; cap < need; cap++)
		cr_assert_eq(kproto_spawn_pack(&in, buf, cap, &len), -E2BIG,
			     "cap %zu", cap);
}

/* An agent upgraded in place drives the previous keeper (protocol 2): its
 * records end at the flags and carry no fence, so that keeper parses
 * them; a keeper 3 gets no log max; protocols outside
 * KEEPER_PROTO_MIN..KEEPER_PROTO are refused. */
Test(kproto, pack_for_an_older_keeper, .timeout = 10)
{
	char *argv[] = { "x", NULL };
	struct kproto_spawn in = { .argv = argv, .argc = 1, .logpath = "/l",
				   .flags = KSPAWN_FENCED | KSPAWN_KEEP_CAPS,
				   .stop_signal = 15, .stop_ms = 100, .log_max = 1u << 20 };
	uint8_t v2[64], v3[128], v4[64], v5[64], v6[128];
	size_t l2, l3, l4, l5, l6;
	uint32_t flags;

	in.cgroup = "x.1";
	cr_assert_eq(kproto_spawn_pack_for(&in, 2, v2, sizeof v2, &l2), 0);
	cr_assert_eq(kproto_spawn_pack_for(&in, 3, v4, sizeof v4, &l4), 0);
	cr_assert_eq(kproto_spawn_pack_for(&in, 4, v5, sizeof v5, &l5), 0);
	cr_assert_eq(kproto_spawn_pack_for(&in, KEEPER_PROTO, v3, sizeof v3, &l3), 0);
	cr_assert_eq(kproto_spawn_pack_for(&in, 5, v6, sizeof v6, &l6), 0);
	cr_assert_eq(l6 + LIM + PROF, l3, "protocol 5 has no limits (nor a profile)");
	cr_assert_eq(memcmp(v6, v3, l6), 0, "protocol 5: the same record up to them");
	cr_assert_eq(l5 + 4 + 3, l6, "protocol 4 has no cgroup name");
	cr_assert_eq(memcmp(v5, v3, l5), 0, "protocol 4: the same record up to it");
	cr_assert_eq(l4 + 8, l5, "protocol 3 has no log max");
	cr_assert_eq(memcmp(v4, v3, l4), 0, "protocol 3: the same record up to it");
	cr_assert_eq(l2 + 8 + 8, l5, "protocol 2 has no stop signal and timeout");
	memcpy(&flags, v2 + l2 - 4, sizeof flags);
	cr_assert_eq(flags, KSPAWN_KEEP_CAPS, "a keeper 2 refuses the fence flag");
	cr_assert_eq(memcmp(v2, v3, l2 - 4), 0, "the same record up to the flags");
	cr_assert_eq(kproto_spawn_pack_for(&in, KEEPER_PROTO_MIN - 1, v2, sizeof v2, &l2),
		     -EINVAL);
	/* limits only to a keeper that applies them (6): never run unbounded */
	in.limits.mem_max = 64u << 20;
	for (int p = KEEPER_PROTO_MIN; p < 6; p++)
		cr_assert_eq(kproto_spawn_pack_for(&in, p, v3, sizeof v3, &l3),
			     -EPROTONOSUPPORT, "protocol %d", p);
	cr_assert_eq(kproto_spawn_pack_for(&in, 6, v3, sizeof v3, &l3), 0);
	cr_assert_eq(kproto_spawn_pack_for(&in, KEEPER_PROTO + 1, v2, sizeof v2, &l2),
		     -EINVAL);
}

/* protocol 6: the limits round-trip; limits without a cgroup are refused
 * (packing and in a record); K_LIMITS' payload */
Test(kproto, limits_round_trip_and_checked, .timeout = 10)
{
	char *argv[] = { "x", NULL };
	struct kproto_spawn in = { .argv = argv, .argc = 1, .logpath = "/l",
				   .stop_signal = 9, .log_max = 4096, .cgroup = "w.1",
				   .limits = { .mem_max = 1ull << 33, .mem_high = 3u << 20,
					       .cpu_weight = 250, .cpu_max = 150,
					       .pids_max = 64 } }, out;
	struct kcg_limits l;
	uint8_t buf[128], lb[KPROTO_LIMITS_LEN];
	size_t len;

	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), 0);
	cr_assert_eq(memcmp(&out.limits, &in.limits, sizeof in.limits), 0);
	kproto_spawn_free(&out);
	/* the cgroup name emptied in the record: "w.1" -> "" */
	in.cgroup = "";
	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), -EINVAL);
	in.limits = (struct kcg_limits){ 0 };
	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), 0);
	put32(buf + len - PROF - 4, 7);   /* pids max 7, no cgroup */
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), -EINVAL);
	cr_assert_null(out.mem);
	kproto_limits_pack(&(struct kcg_limits){ .mem_max = 5, .pids_max = 9 }, lb);
	cr_assert_eq(kproto_limits_unpack(lb, sizeof lb, &l), 0);
	cr_assert_eq(l.mem_max, 5);
	cr_assert_eq(l.pids_max, 9);
	cr_assert_eq(kproto_limits_unpack(lb, sizeof lb - 1, &l), -EBADMSG);
}

/* protocol 7: the profile round-trips; what a keeper would refuse is
 * refused packing and in a record; an older keeper never gets one (it
 * would run the service unconfined); the steps have names */
Test(kproto, profile_round_trip_and_checked, .timeout = 10)
{
	char *argv[] = { "x", NULL };
	struct kproto_spawn in = { .argv = argv, .argc = 1, .logpath = "/l",
				   .stop_signal = 9, .log_max = 4096,
				   .prof = { .caps = 1ull << 10, .nice = -20,
					     .flags = KPROF_CAPS | KPROF_NNP_ON |
						      KPROF_RO_ROOT | KPROF_PRIVATE_TMP,
					     .cpus = "0-1,3" } }, out;
	uint8_t buf[256];
	size_t len;

	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), 0);
	cr_assert_eq(out.prof.caps, in.prof.caps);
	cr_assert_eq(out.prof.flags, in.prof.flags);
	cr_assert_eq(out.prof.nice, -20);
	cr_assert_str_eq(out.prof.cpus, "0-1,3");
	kproto_spawn_free(&out);
	for (int p = KEEPER_PROTO_MIN; p < 7; p++)
		cr_assert_eq(kproto_spawn_pack_for(&in, p, buf, sizeof buf, &len),
			     -EPROTONOSUPPORT, "protocol %d", p);
	/* nice alone is a profile too */
	in.prof = (struct kproto_profile){ .nice = 1 };
	cr_assert_eq(kproto_spawn_pack_for(&in, 6, buf, sizeof buf, &len), -EPROTONOSUPPORT);
	/* refused: unknown flags, both no_new_privs, caps without the flag,
	 * nice out of range, a CPU list too long */
	in.prof = (struct kproto_profile){ .flags = 0x40 };
	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), -EINVAL);
	in.prof = (struct kproto_profile){ .flags = KPROF_NNP_ON | KPROF_NNP_OFF };
	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), -EINVAL);
	in.prof = (struct kproto_profile){ .caps = 1 };
	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), -EINVAL);
	in.prof = (struct kproto_profile){ .nice = 20 };
	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), -EINVAL);
	in.prof = (struct kproto_profile){ .cpus = "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,"
						   "16,17,18,19,20,21,22,23,24" };
	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), -EINVAL);
	/* in a record: nice 20, unknown flags */
	in.prof = (struct kproto_profile){ .nice = 3 };
	cr_assert_eq(kproto_spawn_pack(&in, buf, sizeof buf, &len), 0);
	put32(buf + len - 8, 20);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), -EINVAL);
	put32(buf + len - 8, 3);
	put32(buf + len - 12, 0x100);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), -EINVAL);
	cr_assert_null(out.mem);
	put32(buf + len - 12, 0);
	cr_assert_eq(kproto_spawn_unpack(buf, len, &out), 0);
	cr_assert_eq(out.prof.nice, 3);
	kproto_spawn_free(&out);
	cr_assert_str_eq(kproto_step_name(KSTEP_RO_ROOT), "remounting / read-only");
	cr_assert_str_eq(kproto_step_name(0), "");
	cr_assert_str_eq(kproto_step_name(KSTEP__NR), "");
}
