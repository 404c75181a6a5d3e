/*
 * dueq.c - a queue of ids in due order (dueq.h).
 */
#include "dueq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int dueq_push(dueq *q, uint64_t id, uint64_t due)
{
	dueq_item *v;

	if (q->n > q->head && due < q->v[q->n - 1].due)
		return -EINVAL;
	if (q->n == q->cap && q->head) {
		/* what was taken goes: room at the end again */
		memmove(q->v, q->v + q->head, (q->n - q->head) * sizeof *q->v);
		q->n -= q->head;
		q->head = 0;
	}
	if (!(v = rs_grow(q->v, &q->cap, q->n, sizeof *v, 64)))
		return -ENOMEM;
	q->v = v;
	q->v[q->n++] = (dueq_item){ .id = id, .due = due };
	return 0;
}

bool dueq_pop_due(dueq *q, uint64_t now, uint64_t *id)
{
	if (q->head == q->n || q->v[q->head].due > now)
		return false;
	*id = q->v[q->head++].id;
	if (q->head == q->n) {
		q->head = q->n = 0;
		if (q->cap > 4096) {
			/* a wave is over (150,000 placements after a cold
			 * start: 2.4 MB): give it back */
			free(q->v);
			q->v = NULL;
			q->cap = 0;
		}
	}
	return true;
}

size_t dueq_len(const dueq *q)
{
	return q->n - q->head;
}

void dueq_free(dueq *q)
{
	free(q->v);
	*q = (dueq){ 0 };
}
