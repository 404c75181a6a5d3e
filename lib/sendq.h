/*
 * sendq.h - what one side has for one peer in a turn of its loop, sent
 * as one frame (RS_FEAT_BATCH, docs/design.md "A turn's messages in one
 * frame"): a Batch of the encoded messages, or the one message itself.
 *
 * In a 5,000-node cold start rsd sends each node 30 Starts and reads 60
 * events back, each its own ZeroMQ message: its own CURVE box, its own
 * pipe wake-ups and system calls in both of rsd's threads. A queue per
 * peer, taken when the loop is about to wait, makes those one frame a
 * turn; the receiver handles the items in order, as if each had come
 * alone, so nothing above this layer changes. A peer that does not
 * announce RS_FEAT_BATCH gets every message on its own, as before.
 *
 * Owns: the queue and the bounds of one Batch (items, bytes).
 * Must not: send (its user does, with net_send), or know what the
 * messages say.
 */
#ifndef RS_SENDQ_H
#define RS_SENDQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define SENDQ_BYTES (64u * 1024)  /* a Batch's items at most, in bytes: a
				   * larger message goes on its own */
#define SENDQ_ITEMS 1024          /* items in one Batch at most (< RS_BATCH_MAX) */

typedef struct sendq {
	rs_bytes *v;
	size_t    n, cap;
	size_t    bytes;       /* the items' lengths, summed */
} sendq;

/* Whether a message of len bytes may join q, or q must be taken first
 * (it would pass a bound). An empty queue takes anything. */
bool sendq_fits(const sendq *q, size_t len);
/* Whether q is at a bound: take it now. */
bool sendq_full(const sendq *q);
/* Appends a copy of buf[len]. 0 or -ENOMEM (q unchanged). */
int sendq_push(sendq *q, const uint8_t *buf, size_t len);
/* The frame that carries q's messages in their order: the message itself
 * when there is one, else an encoded Batch of them; *out is the caller's
 * to free. q is empty afterwards, whatever the result (what could not be
 * framed is dropped, as a send that failed). Returns the number of
 * messages framed (0: q was empty, *out NULL) or -errno. */
int sendq_take(sendq *q, uint8_t **out, size_t *len);
/* Drops what q holds and frees it; q is a valid empty queue afterwards. */
void sendq_clear(sendq *q);

#endif
