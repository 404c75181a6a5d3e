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

/* rsd's answer to a beat: every combination of its inputs. */
Test(lease, beat_answered_every_other_when_the_lease_allows, .timeout = 10)
{
	for (int skipped = 0; skipped < 2; skipped++)
		for (int news = 0; news < 2; news++) {
			/* a lease under 4 beats: every beat */
			cr_assert(lease_answer_beat(3999, 1000, skipped, news));
			cr_assert(lease_answer_beat(0, 1000, skipped, news), "no lease");
			cr_assert(lease_answer_beat(5000, 0, skipped, news), "no beat length");
			/* 4 beats or more: a skip, then an answer; events always */
			cr_assert_eq(lease_answer_beat(4000, 1000, skipped, news),
				     skipped || news, "skipped %d news %d", skipped, news);
			cr_assert_eq(lease_answer_beat(5000, 1000, skipped, news),
				     skipped || news);
		}
}

/* An agent beating every second on a 5 s lease, rsd answering as
 * lease_answer_beat says, each answer 0-300 ms late: half the beats are
 * answered, never two skipped in a row, and the lease never ends. */
Test(lease, every_other_answer_keeps_the_lease, .timeout = 10)
{
	lease l = { 0 };
	bool skipped = false;
	unsigned answered = 0, beats = 1000;
	uint64_t last_answer = 0;

	lease_renew(&l, 5000, 0, 0);
	for (unsigned b = 1; b <= beats; b++) {
		uint64_t said = b * 1000ull, back = said + (b * 7919u) % 300;

		cr_assert_not(lease_expire(&l, said), "lease ended at beat %u", b);
		if (!lease_answer_beat(5000, 1000, skipped, false)) {
			skipped = true;
			continue;
		}
		skipped = false;
		answered++;
		cr_assert_leq(back - last_answer, 2300, "silent %llu ms before beat %u's answer",
			      (unsigned long long)(back - last_answer), b);
		last_answer = back;
		cr_assert_not(lease_expire(&l, back), "lease ended before beat %u's answer", b);
		lease_renew(&l, 5000, said, back);
		cr_assert_geq(l.at, back + 2000, "%llu ms of lease left after an answer",
			      (unsigned long long)(l.at - back));
	}
	cr_assert_eq(answered, beats / 2);
}
