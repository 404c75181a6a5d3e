/*
 * test_version.c - versions and the skew policy (lib/version.c), every
 * case of the decision, and what the envelope carries (lib/wire.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"
#include "wire.h"

Test(version, parse)
{
	rs_semver v;

	cr_assert_eq(rs_semver_parse("0.2.0", &v), 0);
	cr_assert(v.major == 0 && v.minor == 2 && v.patch == 0);
	cr_assert_eq(rs_semver_parse("12.345.6789", &v), 0);
	cr_assert(v.major == 12 && v.minor == 345 && v.patch == 6789);
	static const char *const bad[] = {
		"", "1", "1.2", "1.2.", ".1.2", "1..2", "a.b.c", "1.2.3.4", "1.2.3-rc1",
		" 1.2.3", "1.2.3 ", "-1.2.3", "1234567.0.0",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_eq(rs_semver_parse(bad[i], &v), -EINVAL, "'%s' parsed", bad[i]);
	cr_assert_eq(rs_semver_parse(NULL, &v), -EINVAL);
	cr_assert_eq(rs_semver_parse(rs_version(), &v), 0, "RS_VERSION '%s'", rs_version());
}

/* rsd 1.5.x against peers around it: one minor either way talks. */
Test(version, skew_every_case)
{
	static const struct { const char *peer; rs_skew want; } cases[] = {
		{ "1.5.0", RS_SKEW_OK }, { "1.5.9", RS_SKEW_OK },
		{ "1.4.0", RS_SKEW_OK }, { "1.6.3", RS_SKEW_OK },
		{ "1.3.9", RS_SKEW_PEER_OLD }, { "1.0.0", RS_SKEW_PEER_OLD },
		{ "0.5.0", RS_SKEW_PEER_OLD }, { "0.9.0", RS_SKEW_PEER_OLD },
		{ "1.7.0", RS_SKEW_PEER_NEW }, { "1.99.0", RS_SKEW_PEER_NEW },
		{ "2.5.0", RS_SKEW_PEER_NEW }, { "2.0.0", RS_SKEW_PEER_NEW },
		{ "", RS_SKEW_UNKNOWN }, { "junk", RS_SKEW_UNKNOWN },
	};
	char why[300];

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		why[0] = '\0';
		cr_assert_eq(rs_skew_check("1.5.2", cases[i].peer, "rs-agent", why,
					   sizeof why), cases[i].want, "peer %s", cases[i].peer);
		if (cases[i].want != RS_SKEW_OK)
			cr_assert(why[0], "no message for %s", cases[i].peer);
	}
	cr_assert_eq(rs_skew_check("1.5.2", NULL, "rsctl", why, sizeof why), RS_SKEW_UNKNOWN);
	cr_assert_eq(rs_skew_check("bad", "1.5.0", "rsctl", why, sizeof why), RS_SKEW_UNKNOWN);
	/* minor 0 has no older neighbour in the same major */
	cr_assert_eq(rs_skew_check("2.0.0", "1.9.0", "rs-agent", why, sizeof why),
		     RS_SKEW_PEER_OLD);
}

/* The messages name both versions and what to upgrade first. */
Test(version, messages)
{
	char why[300];

	rs_skew_check("0.2.0", "0.4.0", "rs-agent", why, sizeof why);
	cr_assert(strstr(why, "rs-agent 0.4.0 is too new for rsd 0.2.0"), "%s", why);
	cr_assert(strstr(why, "upgrade rsd first"), "%s", why);
	rs_skew_check("0.4.0", "0.2.1", "rsctl", why, sizeof why);
	cr_assert(strstr(why, "rsctl 0.2.1 is too old for rsd 0.4.0"), "%s", why);
	cr_assert(strstr(why, "upgrade rsctl to 0.4"), "%s", why);
	rs_skew_check("0.2.0", "", "rs-agent", why, sizeof why);
	cr_assert(strstr(why, "announces no version"), "%s", why);
}

/* Every envelope carries this build's version and features; a decoder
 * reads them, and tolerates a peer that sends neither. */
Test(version, envelope_carries_version_and_features)
{
	rs_msg m, d;
	uint8_t *buf;
	size_t len;

	rs_msg_init(&m, RS_MSG_BEAT);
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	cr_assert_eq(wire_decode(buf, len, &d), 0);
	cr_assert_str_eq(d.sender_version, rs_version());
	cr_assert_eq(d.features, (uint64_t)RS_FEATURES);
	cr_assert(d.features & RS_FEAT_SKEW);
	free(buf);
	rs_msg_clear(&d);
	rs_msg_clear(&m);
	/* a bare envelope (version 1, a beat, no sender fields) */
	{
		static const uint8_t bare[] = { 0x08, 0x01, 0x5a, 0x00 };   /* version=1, beat{} */
		cr_assert_eq(wire_decode(bare, sizeof bare, &d), 0);
		cr_assert_str_eq(d.sender_version, "");
		cr_assert_eq(d.features, 0);
		rs_msg_clear(&d);
	}
}
