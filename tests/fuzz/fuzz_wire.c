/*
 * fuzz_wire.c - libFuzzer target for wire_decode/wire_encode.
 *
 * Whatever decodes must re-encode and decode again; a Batch's items are
 * decoded too. A re-encoding may be a
 * little larger than its input (absent specs become explicit defaults, short
 * negative varints become 10 bytes), so -E2BIG is only tolerated for inputs
 * that are already large.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_msg m, m2;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = wire_decode(data, size, &m);
	if (r < 0) {
		if (r <= -WIRE_E__NR)
			abort();
		return 0;
	}
	if (m.type <= RS_MSG_NONE || m.type >= RS_MSG__NR)
		abort();
	/* a Batch's items, as rsd and the agent read them */
	for (size_t i = 0; m.type == RS_MSG_BATCH && i < m.u.batch.nitems; i++) {
		r = wire_decode(m.u.batch.items[i].buf, m.u.batch.items[i].len, &m2);
		if (r <= -WIRE_E__NR)
			abort();
		if (r == 0)
			rs_msg_clear(&m2);
	}

	r = wire_encode(&m, &buf, &len);
	if (r == -E2BIG && size > RS_FRAME_MAX / 4)
		goto out;
	if (r < 0 || !buf || len > RS_FRAME_MAX)
		abort();

	r = wire_decode(buf, len, &m2);
	if (r < 0 || m2.type != m.type || m2.seq != m.seq || m2.ack != m.ack)
		abort();
	rs_msg_clear(&m2);
out:
	free(buf);
	rs_msg_clear(&m);
	return 0;
}
