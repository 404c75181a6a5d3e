/*
 * deporder.c - the order a set of services with dependencies start in;
 * see deporder.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deporder.h"

typedef struct dep_ctx {
	const deporder_item  *v;
	const deporder_item **by_label;   /* sorted, for the lookups */
	size_t                n;
	size_t               *indeg;      /* dependencies not yet ordered */
} dep_ctx;

static int by_label_cmp(const void *a, const void *b)
{
	return strcmp((*(const deporder_item *const *)a)->label,
		      (*(const deporder_item *const *)b)->label);
}

static int key_cmp(const void *key, const void *e)
{
	return strcmp(key, (*(const deporder_item *const *)e)->label);
}

/* The index of the item labelled label, or n. */
static size_t find(const dep_ctx *c, const char *label)
{
	const deporder_item **e = c->n ? bsearch(label, c->by_label, c->n,
						 sizeof *c->by_label, key_cmp) : NULL;

	return e ? (size_t)(*e - c->v) : c->n;
}

/* The next service of a cycle after i: a dependency of i not ordered
 * (every item left waits on another left). */
static size_t cycle_next(const dep_ctx *c, size_t i)
{
	for (size_t k = 0; k < c->v[i].ndeps; k++) {
		size_t j = find(c, c->v[i].deps[k]);

		if (c->indeg[j])
			return j;
	}
	return i;   /* (never) */
}

/* The heap of the items free to go, the least index on top. */
static void heap_push(size_t *h, size_t *len, size_t x)
{
	size_t i = (*len)++;

	for (; i && h[(i - 1) / 2] > x; i = (i - 1) / 2)
		h[i] = h[(i - 1) / 2];
	h[i] = x;
}

static size_t heap_pop(size_t *h, size_t *len)
{
	size_t top = h[0], x = h[--*len], i = 0;

	for (;;) {
		size_t k = 2 * i + 1;

		if (k >= *len)
			break;
		if (k + 1 < *len && h[k + 1] < h[k])
			k++;
		if (h[k] >= x)
			break;
		h[i] = h[k];
		i = k;
	}
	if (*len)
		h[i] = x;
	return top;
}

/* err: the cycle through the items left (c->indeg), from one on it. */
static size_t say_cycle(const dep_ctx *c, size_t *seen, char *err, size_t errlen)
{
	size_t at = 0, len;

	while (!c->indeg[at])
		at++;
	memset(seen, 0, c->n * sizeof *seen);
	for (; !seen[at]; at = cycle_next(c, at))   /* into the cycle */
		seen[at] = 1;
	len = (size_t)snprintf(err, errlen, "dependency cycle: %s", c->v[at].label);
	for (size_t v = cycle_next(c, at), k = 0; k < c->n; v = cycle_next(c, v), k++) {
		if (len < errlen)
			len += (size_t)snprintf(err + len, errlen - len, " -> %s",
						c->v[v].label);
		if (v == at)
			break;
	}
	return at;
}

int deporder(const deporder_item *v, size_t n, const char *set, size_t *order,
	     size_t *culprit, char *err, size_t errlen)
{
	dep_ctx c = { .v = v, .n = n };
	size_t ne = 0, nout = 0, hlen = 0, bad = 0;
	size_t *first = NULL, *pos = NULL, *edge = NULL, *heap = NULL;
	int r = -ENOMEM;

	c.by_label = calloc(n + 1, sizeof *c.by_label);
	c.indeg = calloc(n + 1, sizeof *c.indeg);
	first = calloc(n + 1, sizeof *first);
	pos = calloc(n + 1, sizeof *pos);
	heap = calloc(n + 1, sizeof *heap);
	if (!c.by_label || !c.indeg || !first || !pos || !heap)
		goto out;
	for (size_t i = 0; i < n; i++)
		c.by_label[i] = &v[i];
	if (n)
		qsort(c.by_label, n, sizeof *c.by_label, by_label_cmp);
	r = -EINVAL;
	for (size_t i = 1; i < n; i++)
		if (!strcmp(c.by_label[i - 1]->label, c.by_label[i]->label)) {
			/* the one listed later */
			bad = (size_t)(c.by_label[i] - v);
			if ((size_t)(c.by_label[i - 1] - v) > bad)
				bad = (size_t)(c.by_label[i - 1] - v);
			snprintf(err, errlen, "%s: twice in the %s", v[bad].label, set);
			goto out;
		}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].ndeps; k++, ne++) {
			size_t j = find(&c, v[i].deps[k]);

			if (j == n) {
				bad = i;
				snprintf(err, errlen, "%s depends on '%s', which is not in the %s",
					 v[i].label, v[i].deps[k], set);
				goto out;
			}
			first[j + 1]++;
			c.indeg[i]++;
		}
	r = -ENOMEM;
	if (!(edge = calloc(ne + 1, sizeof *edge)))
		goto out;
	/* edge[first[j] .. first[j + 1]): the items that depend on j, in
	 * the listing's order */
	for (size_t j = 0; j < n; j++)
		first[j + 1] += first[j];
	memcpy(pos, first, n * sizeof *pos);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].ndeps; k++)
			edge[pos[find(&c, v[i].deps[k])]++] = i;
	for (size_t i = 0; i < n; i++)
		if (!c.indeg[i])
			heap_push(heap, &hlen, i);
	while (hlen) {
		size_t j = heap_pop(heap, &hlen);

		order[nout++] = j;
		for (size_t e = first[j]; e < first[j + 1]; e++)
			if (!--c.indeg[edge[e]])
				heap_push(heap, &hlen, edge[e]);
	}
	if (nout < n) {
		bad = say_cycle(&c, pos, err, errlen);
		r = -EINVAL;
		goto out;
	}
	r = 0;
out:
	if (r == -EINVAL && culprit)
		*culprit = bad;
	free(c.by_label);
	free(c.indeg);
	free(first);
	free(pos);
	free(edge);
	free(heap);
	return r;
}
