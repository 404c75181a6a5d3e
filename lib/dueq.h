/*
 * dueq.h - a queue of ids in due order, for deadlines that all come the
 * same delay after they are set (rsd's watch on placed instances: each
 * due RSD_WATCH_MS after its placement, on a monotonic clock). Pushed at
 * the tail, taken from the head once due: each costs O(1), a check that
 * finds nothing due costs O(1), and a backlog can be taken a slice at a
 * time. Pure: no I/O, no clock reads.
 */
#ifndef RS_DUEQ_H
#define RS_DUEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dueq_item {
	uint64_t id, due;
} dueq_item;

typedef struct dueq {
	dueq_item *v;        /* [head, n) queued; grown by doubling from 64 */
	size_t     head, n, cap;
} dueq;

/* Queues id, due at due (not before the last one pushed: -EINVAL). 0,
 * -ENOMEM (nothing changed). */
int dueq_push(dueq *q, uint64_t id, uint64_t due);
/* Takes the head into *id if it is due by now. */
bool dueq_pop_due(dueq *q, uint64_t now, uint64_t *id);
size_t dueq_len(const dueq *q);
void dueq_free(dueq *q);

#endif
