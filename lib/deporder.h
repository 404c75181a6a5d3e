/*
 * deporder.h - the order a set of services with dependencies start in:
 * an apply's (rsd/apply.c), a manifest's (lib/manifest.c).
 *
 * Owns: whether the set can be ordered (every label once, every
 * dependency in the set, no cycle) and the order: each service after
 * every service it depends on, and among those free to go, the one
 * listed first (Kahn's algorithm with the listing's order as the
 * priority). Must not: look anything up outside the set, allocate more
 * than O(services + dependencies), take more than
 * O((services + dependencies) log services).
 *
 * Why: rsd ordered an apply by rounds over every pair of labels, one
 * round per dependency link, in its loop: 1,024 services chained
 * last-first held it 5.8 s (docs/bench.md "An apply's order of
 * starts"); and a set with a cycle left the cycle's services out of the
 * order, unstarted and unsaid. tests/test_deporder.c checks it against
 * that rule on seeded random sets (DAGs, cycles, unknown labels, twice).
 */
#ifndef RS_DEPORDER_H
#define RS_DEPORDER_H

#include <stddef.h>

typedef struct deporder_item {
	const char   *label;
	char *const  *deps;    /* the labels it depends on */
	size_t        ndeps;
} deporder_item;

/* Fills order[n] with the items' indices in start order and returns 0;
 * or returns -EINVAL with err saying why ("L: twice in the set", "L
 * depends on 'D', which is not in the set", "dependency cycle: a -> b ->
 * a", where a depends on b) and *culprit (if not NULL) the index of the
 * item it is about (the second of a label twice, the dependent, the
 * cycle's first); or -ENOMEM. `set` names the set in the messages
 * ("apply", "manifest"). */
int deporder(const deporder_item *v, size_t n, const char *set, size_t *order,
	     size_t *culprit, char *err, size_t errlen);

#endif
