/*
 * test_table.c - rsd/table: lookups kept in step with a list through
 * adds, removals and growth; a chain holds only what hashes there.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>

#include "table.h"

struct elem {
	struct elem *hnext;
	uint64_t     id;
};

static uint64_t hash_elem(const void *e)
{
	return rsd_tab_hash_u64(((const struct elem *)e)->id);
}

static struct elem *find(const rsd_tab *t, uint64_t id)
{
	for (struct elem *e = rsd_tab_chain(t, rsd_tab_hash_u64(id)); e;
	     e = rsd_tab_next(t, e))
		if (e->id == id)
			return e;
	return NULL;
}

Test(table, adds_removes_and_grows, .timeout = 10)
{
	enum { N = 5000 };
	struct elem *e = calloc(N, sizeof *e);
	rsd_tab t;

	cr_assert(e);
	rsd_tab_init(&t, offsetof(struct elem, hnext), hash_elem);
	cr_assert_null(find(&t, 1), "an empty table");
	for (int i = 0; i < N; i++) {
		e[i].id = (uint64_t)i * 7919 + 1;
		cr_assert_eq(rsd_tab_add(&t, &e[i]), 0);
	}
	cr_assert_eq(t.n, N);
	cr_assert_geq(t.cap, N, "it grew with what it holds");
	for (int i = 0; i < N; i++)
		cr_assert_eq(find(&t, e[i].id), &e[i], "element %d", i);
	cr_assert_null(find(&t, 2), "nothing that was not added");
	for (int i = 0; i < N; i += 2)
		rsd_tab_del(&t, &e[i]);
	rsd_tab_del(&t, &e[0]);   /* twice: nothing */
	cr_assert_eq(t.n, N / 2);
	for (int i = 0; i < N; i++)
		cr_assert_eq(find(&t, e[i].id), i % 2 ? &e[i] : NULL, "element %d", i);
	rsd_tab_free(&t);
	cr_assert_null(find(&t, e[1].id));
	cr_assert_eq(rsd_tab_hash_str("n1"), rsd_tab_hash_str("n1"));
	cr_assert_neq(rsd_tab_hash_str("n1"), rsd_tab_hash_str("n2"));
	free(e);
}
