/*
 * test_sendq.c - lib/sendq.c and the Batch on the wire (RS_FEAT_BATCH):
 * a turn's messages come out as one frame whose items decode, in order,
 * to the messages put in; one message goes without a Batch around it;
 * the bounds split a turn into several frames; a decoder refuses an
 * empty Batch, one past RS_BATCH_MAX, and the caller sees a Batch inside
 * a Batch for what it is.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sendq.h"
#include "version.h"
#include "wire.h"

TestSuite(sendq, .timeout = 10);

/* An encoded event whose detail says i (seq i). */
static uint8_t *event_bytes(unsigned i, size_t *len)
{
	rs_msg m;
	uint8_t *buf;
	char detail[32];

	rs_msg_init(&m, RS_MSG_EVENT);
	m.seq = i;
	m.u.event.kind = RS_EK_STARTED;
	m.u.event.info.id = 1000 + i;
	snprintf(detail, sizeof detail, "event %u", i);
	m.u.event.detail = strdup(detail);
	cr_assert_eq(wire_encode(&m, &buf, len), 0);
	rs_msg_clear(&m);
	return buf;
}

static void push_event(sendq *q, unsigned i)
{
	size_t len;
	uint8_t *buf = event_bytes(i, &len);

	cr_assert(sendq_fits(q, len));
	cr_assert_eq(sendq_push(q, buf, len), 0);
	free(buf);
}

/* Decodes frame and checks it carries events first..first+n-1 in order;
 * n == 1: the event itself, not a Batch. */
static void check_frame(const uint8_t *buf, size_t len, unsigned first, size_t n)
{
	rs_msg m, item;

	cr_assert_eq(wire_decode(buf, len, &m), 0);
	if (n == 1) {
		cr_assert_eq(m.type, RS_MSG_EVENT, "one message goes alone");
		cr_assert_eq(m.seq, first);
		rs_msg_clear(&m);
		return;
	}
	cr_assert_eq(m.type, RS_MSG_BATCH);
	cr_assert(m.features & RS_FEAT_BATCH, "the Batch says who sent it");
	cr_assert_eq(m.u.batch.nitems, n);
	for (size_t i = 0; i < n; i++) {
		char want[32];

		cr_assert_eq(wire_decode(m.u.batch.items[i].buf, m.u.batch.items[i].len,
					 &item), 0);
		cr_assert_eq(item.type, RS_MSG_EVENT);
		cr_assert_eq(item.seq, first + i, "item %zu out of order", i);
		cr_assert_eq(item.u.event.info.id, 1000 + first + i);
		snprintf(want, sizeof want, "event %u", (unsigned)(first + i));
		cr_assert_str_eq(item.u.event.detail, want);
		rs_msg_clear(&item);
	}
	rs_msg_clear(&m);
}

Test(sendq, an_empty_queue_gives_nothing)
{
	sendq q = { 0 };
	uint8_t *buf = (uint8_t *)&q;
	size_t len = 7;

	cr_assert_eq(sendq_take(&q, &buf, &len), 0);
	cr_assert_null(buf);
	cr_assert_eq(len, 0);
	sendq_clear(&q);
}

Test(sendq, one_message_goes_alone)
{
	sendq q = { 0 };
	uint8_t *buf;
	size_t len, want;
	uint8_t *orig = event_bytes(5, &want);

	push_event(&q, 5);
	cr_assert_eq(sendq_take(&q, &buf, &len), 1);
	cr_assert_eq(len, want);
	cr_assert_eq(memcmp(buf, orig, len), 0, "the bytes, unwrapped");
	check_frame(buf, len, 5, 1);
	cr_assert_eq(q.n, 0);
	cr_assert_eq(q.bytes, 0);
	free(buf);
	free(orig);
	sendq_clear(&q);
}

Test(sendq, a_turn_is_one_batch_in_order_and_the_queue_is_reused)
{
	sendq q = { 0 };
	uint8_t *buf;
	size_t len;

	for (unsigned i = 1; i <= 60; i++)
		push_event(&q, i);
	cr_assert_not(sendq_full(&q));
	cr_assert_eq(sendq_take(&q, &buf, &len), 60);
	check_frame(buf, len, 1, 60);
	free(buf);
	cr_assert_eq(q.n, 0);
	cr_assert_eq(q.bytes, 0);
	/* the next turn */
	push_event(&q, 61);
	push_event(&q, 62);
	cr_assert_eq(sendq_take(&q, &buf, &len), 2);
	check_frame(buf, len, 61, 2);
	free(buf);
	sendq_clear(&q);
	cr_assert_null(q.v);
}

Test(sendq, the_bounds_split_a_turn)
{
	sendq q = { 0 };
	uint8_t *big = calloc(1, SENDQ_BYTES);
	size_t len;

	cr_assert_not_null(big);
	/* items: full at SENDQ_ITEMS, and then nothing more fits */
	for (unsigned i = 0; i < SENDQ_ITEMS; i++) {
		cr_assert_not(sendq_full(&q));
		cr_assert(sendq_fits(&q, 1));
		cr_assert_eq(sendq_push(&q, big, 1), 0);
	}
	cr_assert(sendq_full(&q));
	cr_assert_not(sendq_fits(&q, 1));
	sendq_clear(&q);
	/* bytes: what would pass SENDQ_BYTES waits for the next frame... */
	cr_assert_eq(sendq_push(&q, big, SENDQ_BYTES - 10), 0);
	cr_assert(sendq_fits(&q, 10));
	cr_assert_not(sendq_fits(&q, 11));
	sendq_clear(&q);
	/* ...and a message larger than a frame's budget goes alone */
	cr_assert(sendq_fits(&q, SENDQ_BYTES * 4));
	cr_assert_eq(sendq_push(&q, big, SENDQ_BYTES), 0);
	cr_assert(sendq_full(&q));
	sendq_clear(&q);
	free(big);
	(void)len;
}

Test(sendq, a_full_queue_still_frames_within_the_wire_limits)
{
	sendq q = { 0 };
	uint8_t *buf;
	size_t len;
	unsigned n = 0;

	while (!sendq_full(&q))
		push_event(&q, ++n);
	cr_assert_eq(sendq_take(&q, &buf, &len), (int)n);
	cr_assert_leq(len, RS_FRAME_MAX);
	check_frame(buf, len, 1, n);
	free(buf);
	sendq_clear(&q);
}

/* ---- the Batch on the wire ------------------------------------------- */

static int encode_batch(size_t n, uint8_t **buf, size_t *len)
{
	static uint8_t one[] = { 0x08, 0x01 };   /* Envelope.version = 1 */
	rs_msg m;
	rs_bytes *items = calloc(n ? n : 1, sizeof *items);
	int r;

	cr_assert_not_null(items);
	for (size_t i = 0; i < n; i++)
		items[i] = (rs_bytes){ one, sizeof one };
	rs_msg_init(&m, RS_MSG_BATCH);
	m.u.batch.items = items;
	m.u.batch.nitems = n;
	r = wire_encode(&m, buf, len);
	free(items);
	return r;
}

Test(sendq, the_wire_refuses_an_empty_or_overlong_batch)
{
	uint8_t *buf;
	size_t len;
	rs_msg m;

	cr_assert_eq(encode_batch(0, &buf, &len), -EINVAL);
	cr_assert_eq(encode_batch(RS_BATCH_MAX + 1, &buf, &len), -EINVAL);
	cr_assert_eq(encode_batch(RS_BATCH_MAX, &buf, &len), 0);
	cr_assert_eq(wire_decode(buf, len, &m), 0);
	cr_assert_eq(m.type, RS_MSG_BATCH);
	cr_assert_eq(m.u.batch.nitems, RS_BATCH_MAX);
	rs_msg_clear(&m);
	free(buf);
}

Test(sendq, a_batch_inside_a_batch_is_seen_for_what_it_is)
{
	uint8_t *inner, *outer;
	size_t ilen, olen;
	rs_msg m, item;
	rs_bytes it;

	cr_assert_eq(encode_batch(2, &inner, &ilen), 0);
	it = (rs_bytes){ inner, ilen };
	rs_msg_init(&m, RS_MSG_BATCH);
	m.u.batch.items = &it;
	m.u.batch.nitems = 1;
	cr_assert_eq(wire_encode(&m, &outer, &olen), 0);
	cr_assert_eq(wire_decode(outer, olen, &m), 0);
	cr_assert_eq(m.type, RS_MSG_BATCH);
	cr_assert_eq(wire_decode(m.u.batch.items[0].buf, m.u.batch.items[0].len, &item), 0);
	cr_assert_eq(item.type, RS_MSG_BATCH, "the receiver refuses it (rsd, agent)");
	rs_msg_clear(&item);
	rs_msg_clear(&m);
	free(inner);
	free(outer);
}

Test(sendq, a_truncated_batch_is_garbage_and_leaks_nothing)
{
	sendq q = { 0 };
	uint8_t *buf;
	size_t len;
	rs_msg m;

	for (unsigned i = 1; i <= 5; i++)
		push_event(&q, i);
	cr_assert_eq(sendq_take(&q, &buf, &len), 5);
	for (size_t cut = 1; cut < len; cut += 7) {
		int r = wire_decode(buf, len - cut, &m);

		if (r == 0) {   /* a cut between items: fewer items, each whole */
			cr_assert_eq(m.type, RS_MSG_BATCH);
			cr_assert_lt(m.u.batch.nitems, 5);
			rs_msg_clear(&m);
		} else {
			cr_assert_eq(m.type, RS_MSG_NONE, "m is left zeroed");
		}
	}
	free(buf);
	sendq_clear(&q);
}
