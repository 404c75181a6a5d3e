/*
 * hogate.h - the steps of a live update (agent/handover.c): prepared or
 * not in time, then commit or roll back once its new process runs: a
 * pure state machine.
 *
 * hogate_step(g, event) moves the gate and returns the effects the agent
 * carries out (start the new process, arm the min-healthy timer, commit,
 * roll back). No I/O, no clock. The moves are a table (hogate_allowed),
 * the events each state takes another (hogate_accepts), both checked on
 * every step.
 *
 *   PREPARING -PREPARED-> WAIT -READY-> HEALTHY -DUE-> COMMITTED
 *   PREPARING -PREP_TIMEOUT|OLD_GONE-> ROLLED_BACK
 *   WAIT -NEW_GONE|OLD_GONE-> ROLLED_BACK
 *   HEALTHY -UNREADY|NEW_GONE|OLD_GONE-> ROLLED_BACK
 *   WAIT -UNREADY-> WAIT (not ready yet: its ready timeout decides)
 *
 * PREPARED: the old process said X_RS_PREPARED=1 (or no prepare step was
 * asked: the agent delivers it at once). PREP_TIMEOUT: maxtime passed
 * first. READY: the new process is ready (READY=1 or settled, and its
 * readiness probe passes, if it has one). UNREADY: its readiness probe
 * failed. DUE: min-healthy has passed since READY. NEW_GONE: the new
 * process died, was killed (not ready in time, a liveness probe) or could
 * not be started. OLD_GONE: the old one died. The two end states take
 * nothing.
 */
#ifndef RS_HOGATE_H
#define RS_HOGATE_H

#include <stdbool.h>

typedef enum hogate_state {
	HG_PREPARING = 0, /* the old process prepares (maxtime runs) */
	HG_WAIT,          /* the new process runs, not ready yet */
	HG_HEALTHY,       /* ready; min-healthy runs */
	HG_COMMITTED,
	HG_ROLLED_BACK,
	HG__NR
} hogate_state;

typedef enum hogate_event {
	HG_EV_PREPARED = 0,
	HG_EV_PREP_TIMEOUT,
	HG_EV_READY,
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
	HG_FX_START    = 1u << 3,   /* start the new process (maxtime ends) */
};

typedef struct hogate {
	hogate_state state;
} hogate;

/* PREPARING. */
void hogate_init(hogate *g);
/* Applies ev: 0 and *fx, or -EINVAL if this state does not take it
 * (g unchanged, *fx 0): a late timer, a second READY. */
int hogate_step(hogate *g, hogate_event ev, unsigned *fx);
bool hogate_allowed(hogate_state from, hogate_state to);
bool hogate_accepts(hogate_state s, hogate_event ev);
const char *hogate_state_to_string(hogate_state s);
const char *hogate_event_to_string(hogate_event ev);

#endif
