/*
 * curvemem.h - libzmq's CURVE handshake buffers, kept for reuse.
 *
 * libzmq (4.3.3 on) holds each CURVE handshake's plaintexts (short-term
 * keys, cookie, vouch, metadata) in libsodium's guarded memory: on the
 * server's side six sodium_allocarray() / sodium_free() pairs a
 * handshake, each an mmap, two mprotects, an mlock and a madvise, then
 * their undoing. On a Zen 3 host whose kernel returns through SRSO's
 * thunk a pair costs ~27 us, three quarters of one of the handshake's six
 * curve25519 multiplications (bench/curvemem.c), and in rsd its mm calls
 * contend with the main thread's page faults: 5,000 agents registered
 * ~2.5 s sooner on one core without them (docs/bench.md, "CURVE's
 * guarded buffers kept").
 *
 * rsd defines both functions (the executable exports them, so libzmq's
 * calls reach these first) and passes each request on to libsodium's,
 * except that a freed block is zeroed and kept, up to CURVEMEM_KEEP of
 * them, for the next request of exactly its size. A kept block is still
 * libsodium's: its guard pages, its lock and its canary stay; its canary
 * is checked when it is finally released. Sizes differ by the peer's
 * metadata, so a request no kept block fits goes to libsodium.
 *
 * Owns: the kept blocks and the table of blocks handed out. Thread-safe
 * (libzmq's I/O threads call it). Touches nothing else of libsodium's.
 */
#ifndef RS_CURVEMEM_H
#define RS_CURVEMEM_H

#include <stddef.h>
#include <stdint.h>

#define CURVEMEM_KEEP 32    /* freed blocks kept, at most */
#define CURVEMEM_OUT 256    /* blocks handed out that are tracked */

typedef struct curvemem_stats {
	uint64_t reused;     /* requests served with a kept block */
	uint64_t mapped;     /* requests passed to libsodium */
	uint64_t released;   /* blocks given back to libsodium */
	unsigned kept;       /* blocks kept now */
} curvemem_stats;

/* Copies the counters into *out. */
void curvemem_stats_get(curvemem_stats *out);

/* Releases every kept block to libsodium (tests; rsd keeps them). */
void curvemem_release_all(void);

#endif
