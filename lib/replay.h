/*
 * replay.h - when an agent replays the events rsd has not acknowledged
 * (docs/design.md "One replay per Hello"). Pure: no I/O, no clock reads.
 * rs-agent and rs-loadgen both follow it.
 *
 * An agent keeps each event until rsd acknowledges it and replays them
 * once per Hello it says: at the Welcome that answers its latest Hello,
 * and only those sent before that Hello (the later ones follow the Hello
 * on the same connection; a broken connection makes a new Hello). A
 * Welcome to an older Hello (knocks that crossed a busy rsd, each of
 * which rsd answers) replays nothing and leaves the replay due, for the
 * next BeatAck in case the latest Welcome never comes. rsd 0.2 names no
 * Hello in its Welcome (0): each of its Welcomes replays everything.
 *
 *   what comes               names               replays (below: seq)
 *   Welcome ................ 0 (rsd 0.2) ....... everything; not due
 *   Welcome ................ the latest Hello .. below the Hello; not due
 *   Welcome ................ an older Hello .... nothing; due
 *   BeatAck, due ........... ................... below the latest Hello; not due
 *   BeatAck, not due ....... ................... nothing
 */
#ifndef RS_REPLAY_H
#define RS_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_NONE 0            /* replay nothing now */
#define REPLAY_ALL  UINT64_MAX   /* replay every event kept */

/* A Welcome naming the Hello of seq named came; last_hello is the seq of
 * the agent's latest Hello. Returns the seq below which to replay (the
 * events kept with a smaller seq), REPLAY_ALL or REPLAY_NONE. */
uint64_t replay_on_welcome(bool *due, uint64_t named, uint64_t last_hello);
/* A BeatAck came: the same, for a replay left due. */
uint64_t replay_on_beat_ack(bool *due, uint64_t last_hello);

#endif
