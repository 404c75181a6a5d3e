/*
 * rproc.h - the instance life cycle as a pure state machine.
 *
 * rproc_step(rp, event, now) moves one instance and returns the effects the
 * caller (the agent) must carry out: spawn, signal, arm or disarm timers.
 * No I/O, no clock reads: `now` is passed in, so tests drive time.
 * Allowed moves are declared as a table (rproc_allowed) and every step is
 * checked against it.
 *
 *  PENDING -START-> STARTING -READY-> RUNNING -STOP-> STOPPING -EXIT-> DOWN
 *  STARTING/RUNNING -EXIT/kill-> BACKOFF or STARTING (restart) or FAILED/DOWN
 *  BACKOFF -BACKOFF_DONE-> STARTING
 *  a death before the first ready (or the ready timeout) follows the
 *  restart policy too: a failed init is retried with the backoff
 *  with hold (recovery script): death after ready -> EXITED, which waits
 *  for START (rsctl restart) or STOP (rsctl down); before ready: FAILED
 */
#ifndef RS_RPROC_H
#define RS_RPROC_H

#include "model.h"

typedef enum rproc_event {
	RP_EV_START = 0,       /* operator/rsd wants it running */
	RP_EV_SPAWN_FAILED,    /* fork/exec failed */
	RP_EV_READY,           /* READY=1, or settled */
	RP_EV_READY_TIMEOUT,   /* ready timer fired */
	RP_EV_WATCHDOG_MISS,   /* no WATCHDOG=1 for 2 x period */
	RP_EV_EXIT,            /* the main process died (see rproc.exit) */
	RP_EV_STOP,            /* operator wants it down */
	RP_EV_STOP_TIMEOUT,    /* stop timer fired: escalate to SIGKILL */
	RP_EV_BACKOFF_DONE,    /* backoff timer fired */
	RP_EV_PROBE_FAILED,    /* its liveness (or startup) probe failed
				* `failures` times in a row (lib/probesm.h) */
	RP_EV__NR
} rproc_event;

/* Effects, as bits. */
enum {
	RP_FX_SPAWN       = 1u << 0,  /* start a new process */
	RP_FX_STOP_SIGNAL = 1u << 1,  /* send the stop signal, arm stop timer */
	RP_FX_KILL        = 1u << 2,  /* SIGKILL the process group */
	RP_FX_ARM_READY   = 1u << 3,  /* arm the ready timer (+ settle) */
	RP_FX_ARM_WDOG    = 1u << 4,  /* arm the watchdog (if period) */
	RP_FX_ARM_BACKOFF = 1u << 5,  /* arm the backoff timer, delay_ms */
	RP_FX_DISARM      = 1u << 6,  /* stop every timer of the instance */
	RP_FX_RESTARTED   = 1u << 7,  /* a restart was decided (count it) */
};

typedef struct rproc {
	rs_istate  state;
	rs_policy  policy;
	rs_backoff backoff;
	uint32_t   streak;         /* failures in a row, for backoff */
	uint32_t   restarts;       /* restarts since `up` */
	uint64_t   started_ms;     /* now() at the current spawn */
	bool       ever_ready;     /* READY seen since the last START */
	bool       stop_requested;
	bool       hold;           /* a recovery script decides: no restart,
				    * wait in EXITED for START or STOP */
	rs_exit_reason kill_reason;/* why we killed it (no-heartbeat, ...) */
	bool       fenced;         /* set by the caller before STOP: the stop is
				    * the lease's (no word from rsd), reported
				    * as RS_ER_FENCED; cleared by START */
	rs_exit    exit;           /* filled by the caller before RP_EV_EXIT */
} rproc;

typedef struct rproc_fx {
	unsigned   fx;
	uint32_t   delay_ms;       /* for RP_FX_ARM_BACKOFF */
	rs_exit_reason reason;     /* why it died (for reporting), or NONE */
} rproc_fx;

/* Initialises rp in PENDING with the given policy. */
void rproc_init(rproc *rp, rs_policy policy, const rs_backoff *b);
/* Applies event at time now_ms. Returns 0 and fills *fx, or -EINVAL if the
 * event is not allowed in the current state (rp unchanged, fx empty). */
int rproc_step(rproc *rp, rproc_event ev, uint64_t now_ms, rproc_fx *fx);
/* Whether a move from -> to is declared legal. */
bool rproc_allowed(rs_istate from, rs_istate to);
/* Whether ev is accepted in state s (used by tests and the table). */
bool rproc_accepts(rs_istate s, rproc_event ev);
const char *rproc_event_to_string(rproc_event ev);
/* Classifies a wait status into an rs_exit (reason exited/signaled). */
void rproc_classify(int wstatus, rs_exit *out);

#endif
