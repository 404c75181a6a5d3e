/*
 * test_deporder.c - lib/deporder: the order of a few sets by hand (ties
 * in the listing's order, a chain listed last-first, nothing to order),
 * each error with the item it names, and seeded random sets (RS_SEED to
 * replay) checked against the rule itself: a random DAG's order is a
 * permutation, each item after its dependencies and, at each step, the
 * least index free to go (a naive O(n^2) replay); the same set with an
 * edge that closes a cycle is refused with a path whose every step is a
 * dependency and which ends where it starts; an unknown dependency and
 * a label twice are refused naming them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deporder.h"

#define MAXN 64
#define MAXD 6

/* A set of items "s<i>" with deps by index. */
typedef struct set {
	size_t        n;
	char          label[MAXN][16];
	char         *deps[MAXN][MAXD + 1];
	size_t        ndeps[MAXN];
	deporder_item v[MAXN];
} set;

static void set_init(set *s, size_t n)
{
	memset(s, 0, sizeof *s);
	s->n = n;
	for (size_t i = 0; i < n; i++)
		snprintf(s->label[i], sizeof s->label[i], "s%u", (unsigned)(i % MAXN));
}

static void set_dep(set *s, size_t i, size_t j)
{
	cr_assert_lt(s->ndeps[i], MAXD);
	s->deps[i][s->ndeps[i]++] = s->label[j];
}

static int run(set *s, size_t *order, size_t *culprit, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->n; i++)
		s->v[i] = (deporder_item){ .label = s->label[i], .deps = s->deps[i],
					   .ndeps = s->ndeps[i] };
	return deporder(s->v, s->n, "apply", order, culprit, err, errlen);
}

static size_t index_of(const set *s, const char *label)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->label[i], label))
			return i;
	cr_assert_fail("no item %s", label);
	return 0;
}

static bool depends(const set *s, size_t i, size_t j)
{
	for (size_t k = 0; k < s->ndeps[i]; k++)
		if (s->deps[i][k] == s->label[j])
			return true;
	return false;
}

/* The rule, replayed naively: at each step the least index whose
 * dependencies are all placed. */
static void check_order(const set *s, const size_t *order, unsigned seed)
{
	bool placed[MAXN] = { false };

	for (size_t step = 0; step < s->n; step++) {
		size_t want = s->n;

		for (size_t i = 0; i < s->n && want == s->n; i++) {
			bool ready = !placed[i];

			for (size_t k = 0; ready && k < s->ndeps[i]; k++)
				ready = placed[index_of(s, s->deps[i][k])];
			if (ready)
				want = i;
		}
		cr_assert_lt(want, s->n, "seed %u: nothing free at step %zu", seed, step);
		cr_assert_eq(order[step], want, "seed %u step %zu: %zu, the rule says %zu",
			     seed, step, order[step], want);
		placed[want] = true;
	}
}

Test(deporder, ties_in_the_listings_order)
{
	set s;
	size_t o[4];
	char err[128];

	/* c on b, a, b on a, d: a b c d (d is free from the start, but c
	 * comes first once b is placed: listed earlier) */
	set_init(&s, 4);
	set_dep(&s, 0, 2);
	set_dep(&s, 2, 1);
	cr_assert_eq(run(&s, o, NULL, err, sizeof err), 0);
	cr_assert_eq(o[0], 1);
	cr_assert_eq(o[1], 2);
	cr_assert_eq(o[2], 0);
	cr_assert_eq(o[3], 3);
	check_order(&s, o, 0);
}

Test(deporder, a_chain_listed_last_first)
{
	set s;
	size_t o[MAXN];
	char err[128];

	set_init(&s, MAXN);
	for (size_t i = 0; i + 1 < MAXN; i++)
		set_dep(&s, i, i + 1);   /* s0 on s1 on ... on s63 */
	cr_assert_eq(run(&s, o, NULL, err, sizeof err), 0);
	for (size_t i = 0; i < MAXN; i++)
		cr_assert_eq(o[i], MAXN - 1 - i);
}

Test(deporder, nothing_to_order)
{
	deporder_item none[1] = { { 0 } };
	size_t o[1];
	char err[16];

	cr_assert_eq(deporder(none, 0, "apply", o, NULL, err, sizeof err), 0);
}

Test(deporder, errors_name_the_item)
{
	set s;
	size_t o[8], culprit = 99;
	char err[256];

	/* twice: the later one */
	set_init(&s, 3);
	strcpy(s.label[2], "s0");
	cr_assert_eq(run(&s, o, &culprit, err, sizeof err), -EINVAL);
	cr_assert_str_eq(err, "s0: twice in the apply");
	cr_assert_eq(culprit, 2);

	/* a dependency not in the set: the dependent */
	set_init(&s, 3);
	s.deps[1][0] = "zz";
	s.ndeps[1] = 1;
	cr_assert_eq(run(&s, o, &culprit, err, sizeof err), -EINVAL);
	cr_assert_str_eq(err, "s1 depends on 'zz', which is not in the apply");
	cr_assert_eq(culprit, 1);

	/* a cycle reached from an item outside it: the path is the cycle's */
	set_init(&s, 5);
	set_dep(&s, 0, 1);   /* s0 on s1, s1 on s2, s2 on s3, s3 on s1 */
	set_dep(&s, 1, 2);
	set_dep(&s, 2, 3);
	set_dep(&s, 3, 1);
	cr_assert_eq(run(&s, o, &culprit, err, sizeof err), -EINVAL);
	cr_assert_str_eq(err, "dependency cycle: s1 -> s2 -> s3 -> s1");
	cr_assert_eq(culprit, 1);

	/* on itself */
	set_init(&s, 2);
	set_dep(&s, 1, 1);
	cr_assert_eq(run(&s, o, &culprit, err, sizeof err), -EINVAL);
	cr_assert_str_eq(err, "dependency cycle: s1 -> s1");

	/* a message cut to err's size is still a string */
	set_init(&s, 3);
	set_dep(&s, 0, 1);
	set_dep(&s, 1, 2);
	set_dep(&s, 2, 0);
	cr_assert_eq(run(&s, o, &culprit, err, 24), -EINVAL);
	cr_assert_eq(strlen(err), 23);
}

/* A random DAG: item i depends on items listed anywhere, but only ones
 * earlier in a random rank (so no cycle). */
static void random_dag(set *s, size_t n, size_t *rank)
{
	set_init(s, n);
	for (size_t i = 0; i < n; i++)
		rank[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rand() % i, t = rank[i - 1];

		rank[i - 1] = rank[j];
		rank[j] = t;
	}
	for (size_t i = 0; i < n; i++) {
		size_t want = (size_t)rand() % (MAXD - 1);

		for (size_t tries = 0; tries < 4 * MAXD && s->ndeps[i] < want; tries++) {
			size_t j = (size_t)rand() % n;

			if (rank[j] < rank[i] && !depends(s, i, j))
				set_dep(s, i, j);
		}
	}
}

Test(deporder, random_sets_follow_the_rule, .timeout = 30)
{
	const char *env = getenv("RS_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 0) : 20261207u;
	size_t cycles = 0;

	srand(seed);
	for (int round = 0; round < 3000; round++) {
		set s;
		size_t n = 1 + (size_t)rand() % MAXN, rank[MAXN], o[MAXN], culprit;
		char err[2048];
		bool seen[MAXN] = { false };

		random_dag(&s, n, rank);
		cr_assert_eq(run(&s, o, NULL, err, sizeof err), 0, "seed %u round %d: %s",
			     seed, round, err);
		for (size_t i = 0; i < n; i++) {
			cr_assert_lt(o[i], n);
			cr_assert(!seen[o[i]], "seed %u round %d: %zu twice", seed, round, o[i]);
			seen[o[i]] = true;
		}
		check_order(&s, o, seed);

		/* close a cycle: an item on one ranked at or after it, with a
		 * path back (j on ... on i exists when j reaches i; the
		 * simplest such: an item on one that depends on it, or on
		 * itself) */
		size_t i = (size_t)rand() % n;

		if (s.ndeps[i] == MAXD)
			continue;
		if (s.ndeps[i] && rand() % 2) {
			size_t j = index_of(&s, s.deps[i][0]);

			if (s.ndeps[j] == MAXD)
				continue;
			set_dep(&s, j, i);   /* i on j, j on i */
		} else {
			set_dep(&s, i, i);
		}
		cr_assert_eq(run(&s, o, &culprit, err, sizeof err), -EINVAL,
			     "seed %u round %d: a cycle was ordered", seed, round);
		cycles++;
		/* "dependency cycle: a -> b -> ... -> a", each step a dependency */
		cr_assert(!strncmp(err, "dependency cycle: ", 18), "%s", err);
		{
			char *p = err + 18, *arrow;
			size_t first, prev;

			arrow = strstr(p, " -> ");
			cr_assert_not_null(arrow, "%s", err);
			*arrow = '\0';
			first = prev = index_of(&s, p);
			cr_assert_eq(culprit, first, "seed %u round %d", seed, round);
			for (p = arrow + 4;; p = arrow + 4) {
				size_t next;

				arrow = strstr(p, " -> ");
				if (arrow)
					*arrow = '\0';
				next = index_of(&s, p);
				cr_assert(depends(&s, prev, next), "seed %u round %d: %s is not on %s",
					  seed, round, s.label[prev], s.label[next]);
				prev = next;
				if (!arrow)
					break;
			}
			cr_assert_eq(prev, first, "seed %u round %d: the path does not close",
				     seed, round);
		}
	}
	cr_assert_gt(cycles, 1000, "only %zu cycles tried", cycles);
}

Test(deporder, random_unknown_and_twice_are_refused, .timeout = 30)
{
	const char *env = getenv("RS_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 0) : 20261207u;

	srand(seed ^ 0x5eed);
	for (int round = 0; round < 1000; round++) {
		set s;
		size_t n = 2 + (size_t)rand() % (MAXN - 1), rank[MAXN], o[MAXN], culprit;
		size_t i = (size_t)rand() % n, j = (size_t)rand() % n;
		char err[256], want[256];

		random_dag(&s, n, rank);
		if (round % 2) {
			if (s.ndeps[i] == MAXD)
				continue;
			s.deps[i][s.ndeps[i]++] = "nowhere";
			snprintf(want, sizeof want, "%s depends on 'nowhere', which is not "
				 "in the apply", s.label[i]);
			cr_assert_eq(run(&s, o, &culprit, err, sizeof err), -EINVAL);
			cr_assert_str_eq(err, want, "seed %u round %d", seed, round);
			cr_assert_eq(culprit, i);
		} else {
			if (i == j)
				j = (i + 1) % n;
			memcpy(s.label[j], s.label[i], sizeof s.label[j]);
			cr_assert_eq(run(&s, o, &culprit, err, sizeof err), -EINVAL);
			snprintf(want, sizeof want, "%s: twice in the apply", s.label[i]);
			cr_assert_str_eq(err, want, "seed %u round %d", seed, round);
			cr_assert_eq(culprit, i > j ? i : j);
		}
	}
}
