/*
 * sim_net.h - the fake network's delivery order, shared by the seeded
 * simulations (test_orders.c, test_sim.c): what is due goes earliest
 * first, ties in the order queued (so without faults it is FIFO, as a
 * TCP connection is).
 */
#ifndef RS_SIM_NET_H
#define RS_SIM_NET_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The index of the message to deliver at now among n messages of stride
 * bytes whose delivery time and queue number (uint64_t) are at at_off and
 * id_off, or n when none is due. */
static inline size_t sim_net_due(const void *net, size_t n, size_t stride,
				 size_t at_off, size_t id_off, uint64_t now)
{
	size_t best = n;
	uint64_t best_at = 0, best_id = 0;

	for (size_t i = 0; i < n; i++) {
		const char *m = (const char *)net + i * stride;
		uint64_t at, id;

		memcpy(&at, m + at_off, sizeof at);
		memcpy(&id, m + id_off, sizeof id);
		if (at <= now && (best == n || at < best_at ||
				  (at == best_at && id < best_id))) {
			best = i;
			best_at = at;
			best_id = id;
		}
	}
	return best;
}

#endif
