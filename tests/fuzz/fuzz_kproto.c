/*
 * fuzz_kproto.c - libFuzzer target for kproto_spawn_unpack, the keeper's
 * parser of the engine's K_SPAWN record (agent/kproto.c).
 *
 * Whatever unpacks must be within the limits, hold no empty vector slot,
 * and pack back to exactly the input bytes (the format has one encoding).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kproto_spawn s;
	uint8_t *buf;
	size_t len = 0;
	int r;

	r = kproto_spawn_unpack(data, size, &s);
	if (r < 0) {
		if ((r != -EBADMSG && r != -EINVAL && r != -ENOMEM) || s.mem)
			abort();
		return 0;
	}
	if (s.argc < 1 || s.argc > RS_KEEPER_ARGV || s.envc > RS_KEEPER_ENV ||
	    s.ngroups > KEEPER_GROUPS_MAX || (s.flags & ~KSPAWN_FLAGS_ALL) ||
	    s.argv[s.argc] || s.env[s.envc] || s.logpath[0] != '/')
		abort();
	for (uint32_t i = 0; i < s.argc; i++)
		if (!s.argv[i])
			abort();
	for (uint32_t i = 0; i < s.envc; i++)
		if (!s.env[i])
			abort();
	buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	r = kproto_spawn_pack(&s, buf, size, &len);
	if (r < 0 || len != size || memcmp(buf, data, size))
		abort();
	free(buf);
	kproto_spawn_free(&s);
	return 0;
}
