/*
 * hogate.h - when a live update (agent/handover.c) commits or rolls back,
 * once its new process runs: a pure state machine.
 *
 * hogate_step(g, event) moves the gate and returns the effects the agent
 * carries out (arm the min-healthy timer, commit, roll back). No I/O, no
 * clock. The moves are a table (hogate_allowed), the events each state
 * takes another (hogate_accepts), both checked on every step.
 *
 *   WAIT -READY-> HEALTHY -DUE-> COMMITTED
 *   WAIT -NEW_GONE|OLD_GONE-> ROLLED_BACK
 *   HEALTHY -UNREADY|NEW_GONE|OLD_GONE-> ROLLED_BACK
 *   WAIT -UNREADY-> WAIT (not ready yet: its ready timeout decides)
 *
 * READY: the new process is ready (READY=1 or settled, and its readiness
 * probe passes, if it has one). UNREADY: its readiness probe failed.
 * DUE: min-healthy has passed since READY. NEW_GONE: the new process
 * died, or was killed (not ready in time, a liveness probe). OLD_GONE:
 * the old one died. The two end states take nothing.
 */
#ifndef RS_HOGATE_H
#define RS_HOGATE_H

#include <stdbool.h>

typedef enum hogate_state {
	HG_WAIT = 0,      /* the new process runs, not ready yet */
	HG_HEALTHY,       /* ready; min-healthy runs */
	HG_COMMITTED,
	HG_ROLLED_BACK,
	HG__NR
} hogate_state;

typedef enum hogate_event {
	HG_EV_READY = 0,
	HG_EV_UNREADY,
	HG_EV_DUE,
	HG_EV_NEW_GONE,
	HG_EV_OLD_GONE,
	HG_EV__NR
} hogate_event;

/* Effects, as bits. */
enum {
	HG_FX_ARM      = 1u << 0,   /* arm the min-healthy timer */
	HG_FX_COMMIT   = 1u << 1,
	HG_FX_ROLLBACK = 1u << 2,
};

typedef struct hogate {
	hogate_state state;
} hogate;

/* WAIT. */
void hogate_init(hogate *g);
/* Applies ev: 0 and *fx, or -EINVAL if this state does not take it
 * (g unchanged, *fx 0): a late timer, a second READY. */
int hogate_step(hogate *g, hogate_event ev, unsigned *fx);
bool hogate_allowed(hogate_state from, hogate_state to);
bool hogate_accepts(hogate_state s, hogate_event ev);
const char *hogate_state_to_string(hogate_state s);
const char *hogate_event_to_string(hogate_event ev);

#endif
