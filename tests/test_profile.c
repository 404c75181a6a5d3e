/*
 * test_profile.c - privilege profiles as data (lib/profile.h): capability
 * names, CPU lists, validation, the store's text, an edit's merge, what
 * a profile needs of a node.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "profile.h"

Test(profile, cap_names, .timeout = 10)
{
	cr_assert_eq(rs_cap_parse("CAP_NET_BIND_SERVICE"), 10);
	cr_assert_eq(rs_cap_parse("net_bind_service"), 10);
	cr_assert_eq(rs_cap_parse("Cap_Chown"), 0);
	cr_assert_eq(rs_cap_parse("checkpoint_restore"), RS_CAP_LAST);
	cr_assert_lt(rs_cap_parse("CAP_"), 0);
	cr_assert_lt(rs_cap_parse("net bind service"), 0);
	cr_assert_lt(rs_cap_parse(""), 0);
	cr_assert_lt(rs_cap_parse(NULL), 0);
	cr_assert_str_eq(rs_cap_name(21), "CAP_SYS_ADMIN");
	cr_assert_null(rs_cap_name(RS_CAP_LAST + 1));
	cr_assert_null(rs_cap_name(-1));
}

Test(profile, cpu_lists, .timeout = 10)
{
	static const char *const bad[] = {
		"", ",", "0,", ",0", "1-", "-1", "3-1", "0--1", "a", "0 1", "1024",
		"0-1024", "0,,1", "99999999999999999999",
	};
	uint64_t m[RS_CPUS_WORDS];
	char buf[64];
	int hi = -1;

	cr_assert_eq(rs_cpus_parse("0-1,3", m, &hi), 0);
	cr_assert_eq(m[0], 0xbu);
	cr_assert_eq(hi, 3);
	cr_assert_eq(rs_cpus_parse("1023", m, &hi), 0);
	cr_assert_eq(m[15], 1ull << 63);
	cr_assert_eq(m[0], 0);
	cr_assert_eq(hi, 1023);
	cr_assert_eq(rs_cpus_parse("5,2-3,2", m, &hi), 0);
	cr_assert_eq(m[0], 0x2cu);
	cr_assert_eq(hi, 5);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_lt(rs_cpus_parse(bad[i], m, NULL), 0, "'%s'", bad[i]);
	cr_assert_eq(rs_cpus_parse("0-3,6,8-9,63-64", m, NULL), 0);
	rs_cpus_format(m, buf, sizeof buf);
	cr_assert_str_eq(buf, "0-3,6,8-9,63-64");
	memset(m, 0, sizeof m);
	rs_cpus_format(m, buf, sizeof buf);
	cr_assert_str_eq(buf, "");
}

Test(profile, validate, .timeout = 10)
{
	rs_profile p = { 0 };
	char err[256];

	cr_assert_eq(rs_profile_validate(&p, err, sizeof err), 0);
	cr_assert(!rs_profile_any(&p));
	p.nice = -21;
	cr_assert_eq(rs_profile_validate(&p, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "nice -21 is out of -20..19"), "%s", err);
	p.nice = 19;
	cr_assert_eq(rs_profile_validate(&p, err, sizeof err), 0);
	p.nnp = 3;
	cr_assert_eq(rs_profile_validate(&p, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "no_new_privileges"), "%s", err);
	p.nnp = RS_NNP_ON;
	p.caps = 1ull << 63;
	p.caps_set = true;
	cr_assert_eq(rs_profile_validate(&p, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "unknown"), "%s", err);
	p.caps = 1ull << 10;
	p.caps_set = false;
	cr_assert_eq(rs_profile_validate(&p, err, sizeof err), -EINVAL);
	p.caps_set = true;
	strcpy(p.cpus, "1-0");
	cr_assert_eq(rs_profile_validate(&p, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "cpus '1-0' is not a CPU list"), "%s", err);
	memset(p.cpus, 'x', sizeof p.cpus);
	cr_assert_eq(rs_profile_validate(&p, err, sizeof err), -EINVAL);
	strcpy(p.cpus, "0");
	cr_assert_eq(rs_profile_validate(&p, err, sizeof err), 0);
}

Test(profile, needs_and_restart, .timeout = 10)
{
	rs_profile a = { 0 }, b;

	cr_assert_eq(rs_profile_needs(&a), 0);
	a.nice = 5;
	cr_assert_eq(rs_profile_needs(&a), RS_PRIV_PROFILE);
	a.nice = -1;
	cr_assert_eq(rs_profile_needs(&a), RS_PRIV_PROFILE | RS_PRIV_NICE);
	a = (rs_profile){ .private_tmp = true, .caps_set = true };
	cr_assert_eq(rs_profile_needs(&a), RS_PRIV_PROFILE | RS_PRIV_MOUNT | RS_PRIV_CAPS);
	b = a;
	b.nice = 3;
	strcpy(b.cpus, "0");
	cr_assert(!rs_profile_restart(&a, &b));
	cr_assert(!rs_profile_equal(&a, &b));
	b.ro_root = true;
	cr_assert(rs_profile_restart(&a, &b));
}

Test(profile, pack_unpack, .timeout = 10)
{
	rs_profile p = { .caps = 1ull << 10 | 1ull << 0, .caps_set = true,
			 .nnp = RS_NNP_ON, .ro_root = true, .private_tmp = true,
			 .nice = -7, .cpus = "0-1,3" }, q;
	char buf[RS_PROFILE_TEXT_MAX];

	rs_profile_pack(&p, buf, sizeof buf);
	cr_assert_str_eq(buf, "caps=chown,net_bind_service nnp=on read-only-root "
			 "private-tmp nice=-7 cpus=0-1,3");
	cr_assert_eq(rs_profile_unpack(buf, &q), 0);
	cr_assert(rs_profile_equal(&p, &q));
	cr_assert_eq(q.caps, p.caps);
	/* every capability fits */
	p.caps = (2ull << RS_CAP_LAST) - 1;
	rs_profile_pack(&p, buf, sizeof buf);
	cr_assert_eq(rs_profile_unpack(buf, &q), 0);
	cr_assert_eq(q.caps, p.caps);
	/* none, and keep-none */
	rs_profile_pack(&(rs_profile){ 0 }, buf, sizeof buf);
	cr_assert_str_eq(buf, "");
	cr_assert_eq(rs_profile_unpack("", &q), 0);
	cr_assert(!rs_profile_any(&q));
	rs_profile_pack(&(rs_profile){ .caps_set = true }, buf, sizeof buf);
	cr_assert_str_eq(buf, "caps=");
	cr_assert_eq(rs_profile_unpack(buf, &q), 0);
	cr_assert(q.caps_set && !q.caps);
	/* what does not read is none */
	static const char *const bad[] = { "nice=20", "caps=nosuch", "cpus=x",
					   "nnp=maybe", "rootless", "nice=" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cr_assert_eq(rs_profile_unpack(bad[i], &q), -EINVAL, "%s", bad[i]);
		cr_assert(!rs_profile_any(&q), "%s", bad[i]);
	}
}

Test(profile, merge, .timeout = 10)
{
	rs_profile dst = { .caps = 1, .caps_set = true, .nnp = RS_NNP_ON, .nice = 5,
			   .cpus = "0" };
	rs_profile src = { .nice = 7, .fields = RS_PF_NICE };

	rs_profile_merge(&dst, &src);
	cr_assert_eq(dst.nice, 7);
	cr_assert(dst.caps_set && dst.caps == 1 && dst.nnp == RS_NNP_ON);
	cr_assert_str_eq(dst.cpus, "0");
	src = (rs_profile){ .fields = RS_PF_CPUS | RS_PF_CAPS | RS_PF_RO, .ro_root = true };
	rs_profile_merge(&dst, &src);
	cr_assert_str_eq(dst.cpus, "");
	cr_assert(!dst.caps_set && !dst.caps && dst.ro_root);
	cr_assert_eq(dst.fields, 0);
}

Test(profile, priv_names, .timeout = 10)
{
	char buf[64];

	rs_priv_format(RS_PRIV__ALL, buf, sizeof buf);
	cr_assert_str_eq(buf, "profile,mount,nice,caps");
	rs_priv_format(0, buf, sizeof buf);
	cr_assert_str_eq(buf, "none");
}
