/*
 * test_lease.c - lib/lease: renewals, the lease/4 rule for the keeper,
 * expiry once, the fence lifted by an answer, length 0.
 */
#include <criterion/criterion.h>

#include "lease.h"

Test(lease, none_until_rsd_gives_one, .timeout = 10)
{
	lease l = { 0 };

	cr_assert_not(lease_expire(&l, 1000000), "no lease: never fenced");
	cr_assert_eq(lease_due(&l), 0);
	cr_assert_eq(lease_renew(&l, 0, 10, 10), 0, "length 0 and none held: nothing");
}

Test(lease, renewed_keeper_told_every_quarter, .timeout = 10)
{
	lease l = { 0 };

	cr_assert_eq(lease_renew(&l, 1000, 100, 100), LEASE_FX_KEEPER);
	cr_assert(l.at == 1100 && l.ms == 1000 && lease_due(&l) == 1100);
	cr_assert_eq(lease_renew(&l, 1000, 300, 300), 0, "moves by 200 < 250: kept");
	cr_assert_eq(l.at, 1100, "the engine keeps the deadline the keeper has");
	cr_assert_eq(lease_renew(&l, 1000, 350, 350), LEASE_FX_KEEPER, "moves by 250");
	cr_assert_eq(l.at, 1350);
	cr_assert_eq(lease_renew(&l, 2000, 360, 360), LEASE_FX_KEEPER, "a new length");
	cr_assert(l.at == 2360 && l.ms == 2000);
}

Test(lease, expires_once_lifted_by_an_answer, .timeout = 10)
{
	lease l = { 0 };

	lease_renew(&l, 1000, 0, 0);
	cr_assert_not(lease_expire(&l, 999));
	cr_assert(lease_expire(&l, 1000), "at the deadline");
	cr_assert(l.fenced);
	cr_assert_not(lease_expire(&l, 5000), "once");
	cr_assert_eq(lease_due(&l), 0, "no timer while fenced");
	cr_assert_eq(lease_renew(&l, 1000, 6000, 6000), LEASE_FX_HELLO | LEASE_FX_KEEPER,
		     "rsd speaks again: hello, a new deadline");
	cr_assert(!l.fenced && l.at == 7000);
	cr_assert(lease_expire(&l, 7000), "a new lease ends again");
}

Test(lease, length_zero_drops_it, .timeout = 10)
{
	lease l = { 0 };

	lease_renew(&l, 1000, 0, 0);
	lease_expire(&l, 2000);
	cr_assert_eq(lease_renew(&l, 0, 2100, 2100), LEASE_FX_KEEPER,
		     "the keeper drops its deadline too");
	cr_assert(!l.fenced && l.at == 0 && l.ms == 0);
	cr_assert_not(lease_expire(&l, 1u << 30));
}

Test(lease, no_fenced_start_after_it_ended, .timeout = 10)
{
	lease l = { 0 };

	cr_assert(lease_holds(&l, 5), "no lease: nothing is fenced");
	lease_renew(&l, 1000, 0, 0);
	cr_assert(lease_holds(&l, 999));
	cr_assert_not(lease_holds(&l, 1000),
		      "ended, even before lease_expire ran (an order that waited "
		      "in a frozen agent's socket)");
	lease_expire(&l, 1000);
	cr_assert_not(lease_holds(&l, 1000));
	lease_renew(&l, 1000, 1500, 1500);
	cr_assert(lease_holds(&l, 1500), "rsd speaks again");
}

Test(lease, runs_from_the_word_rsd_answered, .timeout = 10)
{
	lease l = { 0 };

	cr_assert_eq(lease_renew(&l, 1000, 100, 130), LEASE_FX_KEEPER);
	cr_assert_eq(l.at, 1100, "from the beat (sent at 100), not the answer (130)");
	/* a frozen agent: its last beat at 1000, the BeatAck waited in its
	 * socket until it thawed at 2500, after its lease ended */
	lease_renew(&l, 1000, 1000, 1010);
	cr_assert(lease_expire(&l, 2010));
	cr_assert_eq(lease_renew(&l, 1000, 1000, 2500), 0,
		     "a stale answer neither renews nor lifts the fence");
	cr_assert(l.fenced && !lease_holds(&l, 2500));
	cr_assert_eq(lease_renew(&l, 1000, 2510, 2520), LEASE_FX_HELLO | LEASE_FX_KEEPER,
		     "an answer to a word said after the thaw does");
	cr_assert(!l.fenced && l.at == 3510);
}
