/*
 * test_table.c - rsd/table: lookups kept in step with a list through
 * adds, removals and growth; a chain holds only what hashes there.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Several elements under one key (instances by node): each walk finds
 * exactly the elements with that key, through growth, removals and
 * elements moved to another key (delete, change, add). */
struct placed {
	struct placed *nnext;
	char node[16];
};

static uint64_t hash_placed(const void *e)
{
	return rsd_tab_hash_str(((const struct placed *)e)->node);
}

static bool on_node(const void *e, const void *key)
{
	return strcmp(((const struct placed *)e)->node, key) == 0;
}

static size_t walk(const rsd_tab *t, const char *node, const struct placed *base,
		   size_t n, bool *seen)
{
	size_t k = 0;

	memset(seen, 0, n);
	for (struct placed *p = rsd_tab_first(t, rsd_tab_hash_str(node), on_node, node);
	     p; p = rsd_tab_more(t, p, on_node, node)) {
		cr_assert_str_eq(p->node, node);
		cr_assert_not(seen[p - base], "element %td walked twice", p - base);
		seen[p - base] = true;
		k++;
	}
	return k;
}

Test(table, several_under_one_key, .timeout = 10)
{
	enum { NODES = 300, PER = 30, N = NODES * PER };
	struct placed *e = calloc(N, sizeof *e);
	bool *seen = calloc(N, 1);
	char name[16];
	rsd_tab t;

	cr_assert(e && seen);
	rsd_tab_init(&t, offsetof(struct placed, nnext), hash_placed);
	for (int i = 0; i < N; i++) {
		snprintf(e[i].node, sizeof e[i].node, "n%d", i % NODES);
		cr_assert_eq(rsd_tab_add(&t, &e[i]), 0);
	}
	for (int k = 0; k < NODES; k++) {
		snprintf(name, sizeof name, "n%d", k);
		cr_assert_eq(walk(&t, name, e, N, seen), PER, "node %s", name);
		for (int i = k; i < N; i += NODES)
			cr_assert(seen[i], "element %d on %s walked", i, name);
	}
	cr_assert_eq(walk(&t, "n-none", e, N, seen), 0, "a key no element has");
	/* n0's instances move to n1 (rescheduling), n2's go (removed) */
	for (int i = 0; i < N; i += NODES) {
		rsd_tab_del(&t, &e[i]);
		strcpy(e[i].node, "n1");
		cr_assert_eq(rsd_tab_add(&t, &e[i]), 0);
		rsd_tab_del(&t, &e[i + 2]);
	}
	cr_assert_eq(t.n, N - PER);
	cr_assert_eq(walk(&t, "n0", e, N, seen), 0, "n0 emptied");
	cr_assert_eq(walk(&t, "n2", e, N, seen), 0, "n2's removed");
	cr_assert_eq(walk(&t, "n1", e, N, seen), 2 * PER, "n1 has both");
	for (int i = 0; i < N; i += NODES)
		cr_assert(seen[i] && seen[i + 1], "moved and stayed on n1: %d", i);
	cr_assert_eq(walk(&t, "n3", e, N, seen), PER, "the others as they were");
	rsd_tab_free(&t);
	free(seen);
	free(e);
}
