/*
 * probesm.h - one health probe's verdict as a pure state machine.
 *
 * The agent runs each probe of an instance (agent/probe.c); this decides
 * what a result means: after the initial delay a probe runs every period;
 * `failures` failures in a row make it FAILED, one pass makes it PASSED.
 * probesm_step(sm, event, now) moves one probe and returns the effects the
 * agent carries out (arm the delay, run a probe, cancel, and the verdict
 * changes, which become events only when they change). No I/O, no clock:
 * now is passed in. The moves are a table (probesm_allowed), the events
 * each state takes another (probesm_accepts), both checked on every step.
 *
 *   OFF -START-> WAIT -DUE-> UNKNOWN -PASS-> PASSED -FAIL x failures-> FAILED
 *   UNKNOWN -FAIL x failures-> FAILED -PASS-> PASSED
 *   any -STOP-> OFF;  WAIT/UNKNOWN/PASSED/FAILED -START-> WAIT (a new process)
 *
 * What a verdict does depends on the probe's role, in the agent: a
 * liveness or startup probe that FAILED kills the instance (probe-failed);
 * a readiness probe holds "ready" until it PASSED; a startup probe that
 * PASSED starts the other two and stops.
 */
#ifndef RS_PROBESM_H
#define RS_PROBESM_H

#include <stdbool.h>
#include <stdint.h>

typedef enum probesm_state {
	PS_OFF = 0,      /* no process, or held (by a startup probe) */
	PS_WAIT,         /* the initial delay runs */
	PS_UNKNOWN,      /* probing, no verdict yet */
	PS_PASSED,       /* the last verdict: it passes */
	PS_FAILED,       /* `failures` failures in a row */
	PS__NR
} probesm_state;

typedef enum probesm_event {
	PS_EV_START = 0, /* a process to probe started */
	PS_EV_DUE,       /* the delay or the period ended: time to probe */
	PS_EV_PASS,      /* the probe in flight passed */
	PS_EV_FAIL,      /* the probe in flight failed (or timed out) */
	PS_EV_STOP,      /* the process is gone (or is being stopped) */
	PS_EV__NR
} probesm_event;

/* Effects, as bits. */
enum {
	PS_FX_ARM_DELAY = 1u << 0,  /* arm the timer for the initial delay */
	PS_FX_RUN       = 1u << 1,  /* run one probe now, arm the period */
	PS_FX_CANCEL    = 1u << 2,  /* cancel the probe in flight, the timers */
	PS_FX_PASSED    = 1u << 3,  /* the verdict became "passes" */
	PS_FX_FAILED    = 1u << 4,  /* the verdict became "fails" */
};

typedef struct probesm {
	probesm_state state;
	uint32_t      failures;   /* the threshold (>= 1) */
	uint32_t      streak;     /* failures in a row */
	bool          inflight;   /* a probe runs: a DUE now runs none */
	bool          ever_passed;/* since the last START */
	uint64_t      since_ms;   /* now at the last verdict change */
} probesm;

/* OFF, with the threshold (0 counts as 1). */
void probesm_init(probesm *sm, uint32_t failures);
/* Applies ev at now_ms: 0 and *fx, or -EINVAL if not accepted in this
 * state (sm unchanged, *fx 0): a result for a probe already cancelled. */
int probesm_step(probesm *sm, probesm_event ev, uint64_t now_ms, unsigned *fx);
bool probesm_allowed(probesm_state from, probesm_state to);
bool probesm_accepts(probesm_state s, probesm_event ev);
const char *probesm_state_to_string(probesm_state s);
const char *probesm_event_to_string(probesm_event ev);

#endif
