/*
 * test_dueq.c - lib/dueq.c: ids come out in due order, only once due;
 * what is taken makes room before the array grows; a wave's memory is
 * given back; a push out of order is refused.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "dueq.h"

TestSuite(dueq, .timeout = 10);

Test(dueq, only_what_is_due_comes_out_in_order)
{
	dueq q = { 0 };
	uint64_t id;

	cr_assert_not(dueq_pop_due(&q, 100, &id), "empty");
	cr_assert_eq(dueq_push(&q, 1, 10), 0);
	cr_assert_eq(dueq_push(&q, 2, 10), 0);
	cr_assert_eq(dueq_push(&q, 3, 20), 0);
	cr_assert_not(dueq_pop_due(&q, 9, &id));
	cr_assert(dueq_pop_due(&q, 10, &id));
	cr_assert_eq(id, 1);
	cr_assert(dueq_pop_due(&q, 15, &id));
	cr_assert_eq(id, 2);
	cr_assert_not(dueq_pop_due(&q, 15, &id), "3 is due at 20");
	cr_assert_eq(dueq_len(&q), 1);
	cr_assert(dueq_pop_due(&q, 20, &id));
	cr_assert_eq(id, 3);
	cr_assert_eq(dueq_len(&q), 0);
	dueq_free(&q);
}

Test(dueq, a_push_before_the_last_due_is_refused)
{
	dueq q = { 0 };

	cr_assert_eq(dueq_push(&q, 1, 50), 0);
	cr_assert_eq(dueq_push(&q, 2, 49), -EINVAL);
	cr_assert_eq(dueq_len(&q), 1);
	dueq_free(&q);
}

/* A steady trickle (push one, take one) never grows the array past its
 * first size: what was taken makes room. */
Test(dueq, taken_items_make_room_before_it_grows)
{
	dueq q = { 0 };
	uint64_t id, want = 0;

	for (uint64_t t = 0; t < 10000; t++) {
		cr_assert_eq(dueq_push(&q, t, t), 0);
		if (t >= 10) {
			cr_assert(dueq_pop_due(&q, t, &id));
			cr_assert_eq(id, want++);
		}
	}
	cr_assert_eq(q.cap, 64, "cap %zu", q.cap);
	cr_assert_eq(dueq_len(&q), 10);
	dueq_free(&q);
}

/* A wave (a cold start's placements) comes out whole, in order, a slice
 * at a time, and its memory goes back once it is over. */
Test(dueq, a_wave_comes_out_whole_and_gives_its_memory_back)
{
	dueq q = { 0 };
	uint64_t id, want = 0, later = 0, got_later = 0;

	for (uint64_t i = 0; i < 150000; i++)
		cr_assert_eq(dueq_push(&q, i, 5000 + i / 1000), 0);
	cr_assert_geq(q.cap, 150000);
	while (want < 150000) {
		for (int k = 0; k < 4096 && dueq_pop_due(&q, 1000000, &id); k++)
			cr_assert_eq(id, want++);
		/* placed meanwhile: due later, behind the wave */
		cr_assert_eq(dueq_push(&q, 1000000 + later++, 2000000), 0);
	}
	cr_assert_eq(dueq_len(&q), later);
	while (dueq_pop_due(&q, 2000000, &id))
		cr_assert_eq(id, 1000000 + got_later++);
	cr_assert_eq(got_later, later);
	cr_assert_null(q.v, "given back");
	cr_assert_eq(q.cap, 0);
}
