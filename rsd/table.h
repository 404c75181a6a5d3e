/*
 * table.h - hash lookups into rsd's lists (instances by id, services by
 * label, nodes by name), kept in step with them: every element linked
 * into a list is added, every one unlinked is removed (issue 12: the
 * linear finds were most of rsd's time at 500 nodes).
 *
 * A table may also hold several elements under one key (instances by
 * node, by label): rsd_tab_first / rsd_tab_more walk them.
 *
 * Intrusive: each element carries the chain pointer at next_off. Owns
 * only the bucket array. Without it (out of memory) the caller's finds
 * fall back to walking the list: slower, never wrong.
 */
#ifndef RS_RSD_TABLE_H
#define RS_RSD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rsd_tab {
	void   **b;            /* buckets (cap, a power of two) */
	size_t   cap, n;
	size_t   next_off;     /* where an element keeps its chain pointer */
	uint64_t (*hash)(const void *elem);
	bool     broken;       /* an allocation failed: finds walk the list */
} rsd_tab;

void rsd_tab_init(rsd_tab *t, size_t next_off, uint64_t (*hash)(const void *elem));
/* Adds e (not already in t); grows t. On -ENOMEM t is broken. */
int rsd_tab_add(rsd_tab *t, void *e);
/* Removes e if it is in t. */
void rsd_tab_del(rsd_tab *t, void *e);
/* The chain that an element of hash h would be in (walk it with
 * rsd_tab_next), or NULL; callers check t->broken first. */
void *rsd_tab_chain(const rsd_tab *t, uint64_t h);
void *rsd_tab_next(const rsd_tab *t, const void *e);
/* Several elements under one key (a table hashed on a field they may
 * share): the first element eq() to key in the chain of hash h, and the
 * next one after e. To change the field an element is hashed on, delete
 * it, change it, add it again. */
typedef bool (*rsd_tab_eq)(const void *elem, const void *key);
void *rsd_tab_first(const rsd_tab *t, uint64_t h, rsd_tab_eq eq, const void *key);
void *rsd_tab_more(const rsd_tab *t, const void *e, rsd_tab_eq eq, const void *key);
void rsd_tab_free(rsd_tab *t);
/* FNV-1a of a string; a 64-bit mix of a number. */
uint64_t rsd_tab_hash_str(const char *s);
uint64_t rsd_tab_hash_u64(uint64_t v);

#endif
