/*
 * index.c - the by-label index: an open-addressing hash table keyed by
 * label (FNV-1a), filled from the service list, then the instance list in
 * two passes (count, then place) so each label's instances are one slice
 * of a single array.
 */
#include "index.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t label_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The slot of label: its entry, or the empty slot where it belongs. */
static rsd_label *slot_of(const rsd_index *ix, const char *label)
{
	size_t i = (size_t)label_hash(label) & (ix->cap - 1);

	while (ix->slot[i].label && strcmp(ix->slot[i].label, label) != 0)
		i = (i + 1) & (ix->cap - 1);
	return &ix->slot[i];
}

int rsd_svc_label_cmp(const void *a, const void *b)
{
	const rsd_svc *x = *(rsd_svc *const *)a, *y = *(rsd_svc *const *)b;

	return strcmp(x->s.spec.label, y->s.spec.label);
}

int rsd_index_build(rsd_index *ix, rsd *d)
{
	size_t nsvc = 0, ninst = 0, off = 0;

	memset(ix, 0, sizeof *ix);
	for (rsd_svc *s = d->svcs; s; s = s->next)
		nsvc++;
	for (rsd_inst *in = d->insts; in; in = in->next)
		ninst++;
	/* at most half full: every label is a service's or an instance's */
	for (ix->cap = 16; ix->cap < 2 * (nsvc + ninst); ix->cap <<= 1)
		;
	ix->slot = calloc(ix->cap, sizeof *ix->slot);
	ix->pool = calloc(ninst ? ninst : 1, sizeof *ix->pool);
	ix->svcs = calloc(nsvc ? nsvc : 1, sizeof *ix->svcs);
	if (!ix->slot || !ix->pool || !ix->svcs) {
		rsd_index_free(ix);
		return -ENOMEM;
	}
	for (rsd_svc *s = d->svcs; s; s = s->next) {
		rsd_label *l = slot_of(ix, s->s.spec.label);
		l->label = s->s.spec.label;
		l->svc = s;
		ix->svcs[ix->nsvcs++] = s;
	}
	qsort(ix->svcs, ix->nsvcs, sizeof *ix->svcs, rsd_svc_label_cmp);
	for (rsd_inst *in = d->insts; in; in = in->next) {
		rsd_label *l = slot_of(ix, in->si.info.label);
		l->label = in->si.info.label;
		l->ninsts++;
	}
	for (size_t i = 0; i < ix->cap; i++) {
		ix->slot[i].insts = ix->pool + off;
		off += ix->slot[i].ninsts;
		ix->slot[i].ninsts = 0;
	}
	for (rsd_inst *in = d->insts; in; in = in->next) {
		rsd_label *l = slot_of(ix, in->si.info.label);
		l->insts[l->ninsts++] = in;
	}
	return 0;
}

const rsd_label *rsd_index_get(const rsd_index *ix, const char *label)
{
	const rsd_label *l;

	if (!ix->cap)
		return NULL;
	l = slot_of(ix, label);
	return l->label ? l : NULL;
}

void rsd_index_free(rsd_index *ix)
{
	free(ix->slot);
	free(ix->pool);
	free(ix->svcs);
	memset(ix, 0, sizeof *ix);
}
