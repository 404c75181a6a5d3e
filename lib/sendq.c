/*
 * sendq.c - a peer's messages of one turn in one frame (sendq.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sendq.h"
#include "wire.h"

bool sendq_fits(const sendq *q, size_t len)
{
	return q->n == 0 ||
	       (q->n < SENDQ_ITEMS && q->bytes + len <= SENDQ_BYTES);
}

bool sendq_full(const sendq *q)
{
	return q->n >= SENDQ_ITEMS || q->bytes >= SENDQ_BYTES;
}

int sendq_push(sendq *q, const uint8_t *buf, size_t len)
{
	uint8_t *copy;
	rs_bytes *v;

	if (!(v = rs_grow(q->v, &q->cap, q->n, sizeof *v, 16)))
		return -ENOMEM;
	q->v = v;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, buf, len);
	q->v[q->n].buf = copy;
	q->v[q->n].len = len;
	q->n++;
	q->bytes += len;
	return 0;
}

/* Frees the items (the array stays for the next turn). */
static void sendq_drop(sendq *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].buf);
	q->n = 0;
	q->bytes = 0;
}

int sendq_take(sendq *q, uint8_t **out, size_t *len)
{
	rs_msg m;
	size_t n = q->n;
	int r;

	*out = NULL;
	*len = 0;
	if (n == 0)
		return 0;
	if (n == 1) {   /* on its own: no Batch around it */
		*out = q->v[0].buf;
		*len = q->v[0].len;
		q->v[0].buf = NULL;
		sendq_drop(q);
		return 1;
	}
	/* the Batch borrows the items (m is not cleared: q owns them) */
	rs_msg_init(&m, RS_MSG_BATCH);
	m.u.batch.items = q->v;
	m.u.batch.nitems = n;
	r = wire_encode(&m, out, len);
	sendq_drop(q);
	return r < 0 ? r : (int)n;
}

void sendq_clear(sendq *q)
{
	sendq_drop(q);
	free(q->v);
	memset(q, 0, sizeof *q);
}
