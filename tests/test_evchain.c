/*
 * test_evchain.c - lib/evchain.c: every row of evchain.h's tables, and
 * the sequences that lost or doubled events with the single number rsd
 * kept before (new events overtaking a replay; a Welcome to an older
 * Hello; a replay at each of several Hellos; a ring that overflowed).
 */
#include <criterion/criterion.h>

#include "evchain.h"

TestSuite(evchain, .timeout = 10);

Test(evchain, a_link_that_is_no_link_is_bad)
{
	evchain c = { 0 };

	cr_assert_eq(evchain_take(&c, 0, 0), EVC_BAD);
	cr_assert_eq(evchain_take(&c, 5, 5), EVC_BAD);
	cr_assert_eq(evchain_take(&c, 5, 9), EVC_BAD);
	cr_assert_eq(c.through, 0);
	cr_assert_eq(c.n, 0);
}

Test(evchain, the_next_link_moves_through)
{
	evchain c = { 0 };

	cr_assert_eq(evchain_take(&c, 3, 0), EVC_NEW);
	cr_assert_eq(c.through, 3);
	/* seqs between events are other messages (beats, Hellos) */
	cr_assert_eq(evchain_take(&c, 9, 3), EVC_NEW);
	cr_assert_eq(c.through, 9);
	cr_assert_eq(c.n, 0);
	cr_assert_null(c.ahead);
}

Test(evchain, what_through_covers_is_a_duplicate)
{
	evchain c = { 0 };

	cr_assert_eq(evchain_take(&c, 3, 0), EVC_NEW);
	cr_assert_eq(evchain_take(&c, 3, 0), EVC_DUP);
	cr_assert_eq(evchain_take(&c, 2, 1), EVC_DUP);
	cr_assert_eq(c.through, 3);
}

Test(evchain, a_link_above_a_missing_one_waits_ahead_and_is_a_duplicate_there)
{
	evchain c = { 0 };

	cr_assert_eq(evchain_take(&c, 8, 5), EVC_NEW);
	cr_assert_eq(c.through, 0, "5 is missing: the agent must keep it");
	cr_assert_eq(c.n, 1);
	cr_assert_eq(evchain_take(&c, 8, 5), EVC_DUP);
	cr_assert_eq(c.n, 1);
	evchain_free(&c);
}

Test(evchain, the_missing_link_joins_what_waited)
{
	evchain c = { 0 };

	cr_assert_eq(evchain_take(&c, 12, 8), EVC_NEW);
	cr_assert_eq(evchain_take(&c, 8, 5), EVC_NEW);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(evchain_take(&c, 5, 0), EVC_NEW);
	cr_assert_eq(c.through, 12);
	cr_assert_eq(c.n, 0);
	cr_assert_null(c.ahead, "nothing held once joined");
}

Test(evchain, a_full_ahead_refuses_and_loses_nothing_it_took)
{
	evchain c = { 0 };
	uint64_t seq = 10;

	for (size_t i = 0; i < EVCHAIN_AHEAD_MAX; i++, seq++)
		cr_assert_eq(evchain_take(&c, seq + 1, seq), EVC_NEW);
	cr_assert_eq(evchain_take(&c, seq + 1, seq), EVC_FULL);
	cr_assert_eq(c.n, EVCHAIN_AHEAD_MAX);
	cr_assert_eq(evchain_take(&c, 11, 10), EVC_DUP);
	/* the missing link: all of it joins */
	cr_assert_eq(evchain_take(&c, 10, 0), EVC_NEW);
	cr_assert_eq(c.through, seq);
	cr_assert_eq(c.n, 0);
}

Test(evchain, hello_of_another_process_starts_a_new_chain)
{
	evchain c = { 0 };

	cr_assert_eq(evchain_take(&c, 50, 40), EVC_NEW);   /* ahead */
	cr_assert_eq(evchain_take(&c, 30, 0), EVC_NEW);
	cr_assert_not(evchain_hello(&c, false, 2));
	cr_assert_eq(c.through, 2, "a new process numbers from 1 again");
	cr_assert_eq(c.n, 0);
	cr_assert_eq(evchain_take(&c, 30, 2), EVC_NEW, "its 30 is another event");
}

Test(evchain, hello_of_the_same_process_keeps_the_chain)
{
	evchain c = { 0 };

	cr_assert_eq(evchain_take(&c, 7, 0), EVC_NEW);
	cr_assert_not(evchain_hello(&c, true, 0));
	cr_assert_not(evchain_hello(&c, true, 7));
	cr_assert_eq(c.through, 7);
	cr_assert_eq(evchain_take(&c, 7, 0), EVC_DUP, "a replay after it");
}

Test(evchain, hello_past_through_says_events_were_given_up_and_joins)
{
	evchain c = { 0 };

	cr_assert_eq(evchain_take(&c, 3, 0), EVC_NEW);
	cr_assert_eq(evchain_take(&c, 40, 30), EVC_NEW);   /* ahead */
	cr_assert_eq(evchain_take(&c, 20, 9), EVC_NEW);    /* ahead */
	/* the agent's ring overflowed: everything up to 30 acknowledged or
	 * given up */
	cr_assert(evchain_hello(&c, true, 30));
	cr_assert_eq(c.through, 40, "20 is dropped, 40 links to 30");
	cr_assert_eq(c.n, 0);
}

/* Hello H=10 (the replay is 4 and 6, below it); new events 12 and 15
 * overtake the replay: rsd acknowledges none of them until the replay
 * came, then all. The single number acknowledged 15 at once, and an
 * agent that had not replayed yet (its latest Hello was newer) let 4
 * and 6 go. */
Test(evchain, new_events_overtaking_a_replay_are_not_acknowledged_past_it)
{
	evchain c = { 0 };

	cr_assert_eq(evchain_take(&c, 2, 0), EVC_NEW);
	cr_assert_not(evchain_hello(&c, true, 2));
	cr_assert_eq(evchain_take(&c, 12, 6), EVC_NEW);
	cr_assert_eq(evchain_take(&c, 15, 12), EVC_NEW);
	cr_assert_eq(c.through, 2);
	cr_assert_eq(evchain_take(&c, 4, 2), EVC_NEW);
	cr_assert_eq(c.through, 4);
	cr_assert_eq(evchain_take(&c, 6, 4), EVC_NEW);
	cr_assert_eq(c.through, 15);
	/* the same replay again, at a later Hello: nothing recorded twice */
	cr_assert_not(evchain_hello(&c, true, 2));
	cr_assert_eq(evchain_take(&c, 4, 2), EVC_DUP);
	cr_assert_eq(evchain_take(&c, 6, 4), EVC_DUP);
	cr_assert_eq(evchain_take(&c, 12, 6), EVC_DUP);
}

/* Seeded: an agent's events, each delivered once or twice, in an order
 * that keeps the chain's own (a replay) or not (overtaking), with Hellos
 * of the same process between: every event is NEW exactly once, and
 * through never passes an event not taken. */
Test(evchain, random_deliveries_take_each_event_once_and_acknowledge_none_untaken)
{
	for (uint64_t seed = 1; seed <= 200; seed++) {
		evchain c = { 0 };
		uint64_t r = seed * 0x9e3779b97f4a7c15ull;
		uint64_t seqs[64], prevs[64];
		int news[64] = { 0 };
		bool taken[64] = { false };
		uint64_t seq = 0, prev = 0;

		for (int i = 0; i < 64; i++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			seq += 1 + r % 3;
			seqs[i] = seq;
			prevs[i] = prev;
			prev = seq;
		}
		for (int step = 0; step < 400; step++) {
			int i;

			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			i = (int)(r % 64);
			if (r % 11 == 0) {
				evchain_hello(&c, true, 0);
				continue;
			}
			switch (evchain_take(&c, seqs[i], prevs[i])) {
			case EVC_NEW:
				news[i]++;
				taken[i] = true;
				break;
			case EVC_DUP:
				cr_assert(taken[i], "seed %llu: %llu untaken is a duplicate",
					  (unsigned long long)seed, (unsigned long long)seqs[i]);
				break;
			default:
				cr_assert_fail("seed %llu: %llu refused",
					       (unsigned long long)seed,
					       (unsigned long long)seqs[i]);
			}
			for (int j = 0; j < 64 && seqs[j] <= c.through; j++)
				cr_assert(taken[j], "seed %llu: through %llu passes %llu",
					  (unsigned long long)seed,
					  (unsigned long long)c.through,
					  (unsigned long long)seqs[j]);
		}
		for (int i = 0; i < 64; i++)
			cr_assert_leq(news[i], 1);
		evchain_free(&c);
	}
}
