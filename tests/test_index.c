/*
 * test_index.c - rsd's by-label index (rsd/index.c): every service and
 * instance is found under its label, instances keep table order, services
 * come sorted, labels only instances carry (a forgotten service) are
 * indexed too, a missing label is NULL, and a table big enough to grow the
 * hash (thousands of labels, colliding prefixes) loses nothing.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

static rsd_svc *svc(rsd *d, const char *label)
{
	rsd_svc *s = calloc(1, sizeof *s);

	cr_assert(s);
	snprintf(s->s.spec.label, sizeof s->s.spec.label, "%s", label);
	s->next = d->svcs;
	d->svcs = s;
	return s;
}

static rsd_inst *inst(rsd *d, const char *label, uint64_t id)
{
	rsd_inst *in = calloc(1, sizeof *in);

	cr_assert(in);
	snprintf(in->si.info.label, sizeof in->si.info.label, "%s", label);
	in->si.info.id = id;
	in->next = d->insts;
	d->insts = in;
	return in;
}

static void table_free(rsd *d)
{
	while (d->svcs) {
		rsd_svc *s = d->svcs;
		d->svcs = s->next;
		free(s);
	}
	while (d->insts) {
		rsd_inst *in = d->insts;
		d->insts = in->next;
		free(in);
	}
}

Test(index, labels_instances_and_order, .timeout = 10)
{
	rsd d = { 0 };
	rsd_index ix;
	const rsd_label *l;

	svc(&d, "web");
	svc(&d, "api");
	svc(&d, "db");
	inst(&d, "web", 1);
	inst(&d, "db", 2);
	inst(&d, "web", 3);
	inst(&d, "gone", 4);   /* its service was forgotten */
	cr_assert_eq(rsd_index_build(&ix, &d), 0);

	l = rsd_index_get(&ix, "web");
	cr_assert(l && l->svc && !strcmp(l->svc->s.spec.label, "web"));
	cr_assert_eq(l->ninsts, 2);
	/* table order: the list is newest first */
	cr_assert_eq(l->insts[0]->si.info.id, 3);
	cr_assert_eq(l->insts[1]->si.info.id, 1);
	l = rsd_index_get(&ix, "api");
	cr_assert(l && l->svc && l->ninsts == 0);
	l = rsd_index_get(&ix, "gone");
	cr_assert(l && !l->svc && l->ninsts == 1 && l->insts[0]->si.info.id == 4);
	cr_assert_null(rsd_index_get(&ix, "nope"));
	cr_assert_null(rsd_index_get(&ix, ""));

	cr_assert_eq(ix.nsvcs, 3);
	cr_assert_str_eq(ix.svcs[0]->s.spec.label, "api");
	cr_assert_str_eq(ix.svcs[1]->s.spec.label, "db");
	cr_assert_str_eq(ix.svcs[2]->s.spec.label, "web");
	rsd_index_free(&ix);
	rsd_index_free(&ix);   /* twice is harmless */
	table_free(&d);
}

Test(index, empty_table, .timeout = 10)
{
	rsd d = { 0 };
	rsd_index ix;

	cr_assert_eq(rsd_index_build(&ix, &d), 0);
	cr_assert_eq(ix.nsvcs, 0);
	cr_assert_null(rsd_index_get(&ix, "web"));
	rsd_index_free(&ix);
	cr_assert_null(rsd_index_get(&ix, "web"));   /* a freed index is empty */
}

Test(index, thousands_of_labels, .timeout = 20)
{
	enum { N = 3000 };
	rsd d = { 0 };
	rsd_index ix;
	char label[RS_LABEL_MAX];

	for (int i = 0; i < N; i++) {
		snprintf(label, sizeof label, "svc%05d", i);
		svc(&d, label);
		inst(&d, label, (uint64_t)i * 2 + 1);
		if (i % 3 == 0)
			inst(&d, label, (uint64_t)i * 2 + 2);
	}
	cr_assert_eq(rsd_index_build(&ix, &d), 0);
	cr_assert_eq(ix.nsvcs, N);
	for (int i = 0; i < N; i++) {
		const rsd_label *l;
		snprintf(label, sizeof label, "svc%05d", i);
		l = rsd_index_get(&ix, label);
		cr_assert(l && l->svc, "%s missing", label);
		cr_assert_str_eq(l->svc->s.spec.label, label);
		cr_assert_eq(l->ninsts, i % 3 == 0 ? 2u : 1u, "%s", label);
		for (size_t k = 0; k < l->ninsts; k++)
			cr_assert_str_eq(l->insts[k]->si.info.label, label);
		if (i > 0)
			cr_assert(strcmp(ix.svcs[i - 1]->s.spec.label,
					 ix.svcs[i]->s.spec.label) < 0);
	}
	rsd_index_free(&ix);
	table_free(&d);
}
