/*
 * replay.c - when an agent replays its unacknowledged events (replay.h).
 */
#include "replay.h"

uint64_t replay_on_welcome(bool *due, uint64_t named, uint64_t last_hello)
{
	if (named && named != last_hello) {
		*due = true;
		return REPLAY_NONE;
	}
	*due = false;
	return named ? last_hello : REPLAY_ALL;
}

uint64_t replay_on_beat_ack(bool *due, uint64_t last_hello)
{
	if (!*due)
		return REPLAY_NONE;
	*due = false;
	return last_hello;
}
