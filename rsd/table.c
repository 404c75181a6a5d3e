/*
 * table.c - hash lookups kept in step with rsd's lists (see table.h).
 */
#include "table.h"

#include <errno.h>
#include <stdlib.h>

#define NEXT(t, e) (*(void **)((char *)(e) + (t)->next_off))

void rsd_tab_init(rsd_tab *t, size_t next_off, uint64_t (*hash)(const void *elem))
{
	*t = (rsd_tab){ .next_off = next_off, .hash = hash };
}

uint64_t rsd_tab_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

uint64_t rsd_tab_hash_u64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return v;
}

static int grow(rsd_tab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	void **b = calloc(cap, sizeof *b);

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		for (void *e = t->b[i], *next; e; e = next) {
			size_t k = t->hash(e) & (cap - 1);

			next = NEXT(t, e);
			NEXT(t, e) = b[k];
			b[k] = e;
		}
	free(t->b);
	t->b = b;
	t->cap = cap;
	return 0;
}

int rsd_tab_add(rsd_tab *t, void *e)
{
	size_t k;

	if (t->broken)
		return -ENOMEM;
	if (t->n >= t->cap && grow(t) < 0 && !t->cap) {
		t->broken = true;
		return -ENOMEM;
	}
	k = t->hash(e) & (t->cap - 1);
	NEXT(t, e) = t->b[k];
	t->b[k] = e;
	t->n++;
	return 0;
}

void rsd_tab_del(rsd_tab *t, void *e)
{
	void **pp;

	if (!t->cap)
		return;
	for (pp = &t->b[t->hash(e) & (t->cap - 1)]; *pp; pp = &NEXT(t, *pp))
		if (*pp == e) {
			*pp = NEXT(t, e);
			NEXT(t, e) = NULL;
			t->n--;
			return;
		}
}

void *rsd_tab_chain(const rsd_tab *t, uint64_t h)
{
	return t->cap ? t->b[h & (t->cap - 1)] : NULL;
}

void *rsd_tab_next(const rsd_tab *t, const void *e)
{
	return *(void *const *)((const char *)e + t->next_off);
}

void *rsd_tab_more(const rsd_tab *t, const void *e, rsd_tab_eq eq, const void *key)
{
	for (e = rsd_tab_next(t, e); e && !eq(e, key); e = rsd_tab_next(t, e))
		;
	return (void *)e;
}

void *rsd_tab_first(const rsd_tab *t, uint64_t h, rsd_tab_eq eq, const void *key)
{
	void *e = rsd_tab_chain(t, h);

	return !e || eq(e, key) ? e : rsd_tab_more(t, e, eq, key);
}

void rsd_tab_free(rsd_tab *t)
{
	free(t->b);
	rsd_tab_init(t, t->next_off, t->hash);
}
