/*
 * test_replay.c - lib/replay.c: every row of replay.h's table, and the
 * sequences a busy rsd makes (stale Welcomes, then the latest one; the
 * latest one lost, a BeatAck instead).
 */
#include <criterion/criterion.h>

#include "replay.h"

TestSuite(replay, .timeout = 10);

Test(replay, welcome_of_rsd_0_2_replays_everything)
{
	bool due = true;

	cr_assert_eq(replay_on_welcome(&due, 0, 7), REPLAY_ALL);
	cr_assert_not(due);
}

Test(replay, welcome_of_the_latest_hello_replays_below_it)
{
	bool due = true;

	cr_assert_eq(replay_on_welcome(&due, 7, 7), 7);
	cr_assert_not(due);
	due = false;
	cr_assert_eq(replay_on_welcome(&due, 7, 7), 7);
	cr_assert_not(due);
}

Test(replay, welcome_of_an_older_hello_replays_nothing_and_leaves_it_due)
{
	bool due = false;

	cr_assert_eq(replay_on_welcome(&due, 3, 7), REPLAY_NONE);
	cr_assert(due);
}

Test(replay, beat_ack_replays_only_what_is_due)
{
	bool due = false;

	cr_assert_eq(replay_on_beat_ack(&due, 7), REPLAY_NONE);
	cr_assert_not(due);
	due = true;
	cr_assert_eq(replay_on_beat_ack(&due, 7), 7);
	cr_assert_not(due);
	cr_assert_eq(replay_on_beat_ack(&due, 7), REPLAY_NONE);
}

/* Knocks H1..H4 crossed a busy rsd: four Welcomes, one replay. */
Test(replay, knocks_then_welcomes_replay_once)
{
	bool due = false;
	int replays = 0;

	for (uint64_t h = 1; h <= 4; h++)
		replays += replay_on_welcome(&due, h, 4) != REPLAY_NONE;
	cr_assert_eq(replays, 1);
	cr_assert_not(due);
	cr_assert_eq(replay_on_beat_ack(&due, 4), REPLAY_NONE);
}

/* The latest Welcome lost: the next BeatAck replays, once. */
Test(replay, latest_welcome_lost_beat_ack_replays)
{
	bool due = false;

	cr_assert_eq(replay_on_welcome(&due, 1, 2), REPLAY_NONE);
	cr_assert_eq(replay_on_beat_ack(&due, 2), 2);
	cr_assert_eq(replay_on_beat_ack(&due, 2), REPLAY_NONE);
}
