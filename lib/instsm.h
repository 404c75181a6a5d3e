/*
 * instsm.h - an instance as rsd sees it, as a pure state machine.
 *
 * The agent owns an instance's life (lib/rproc.c); rsd owns where it runs
 * and whether it should. rsd's view is the state the agent last reported,
 * plus two of its own: PENDING (rsd ordered a Start on the instance's
 * node, no report yet) and LOST (its node is lost: where it runs, if it
 * does, is unknown). instsm_step(state, event, in) moves one instance and
 * returns what rsd must do once the decision is committed: store it,
 * order a Start or a Stop, record an event, switch a clone over, fail a
 * start that a request waits for. No I/O, no clock; the allowed moves are
 * a table (instsm_allowed) and the events each state takes another
 * (instsm_accepts), both checked on every step.
 *
 * The rule that keeps one copy: rsd orders a Start (PLACE, MOVE) only of
 * an instance that is not live, or (MOVE off a live node: a drain) with
 * a Stop of the old copy in the same decision. A LOST instance moves only
 * when the caller says its old copy is surely gone or may run twice
 * (lib/nodesm.h: lost, or fenced for a fenced service).
 *
 *   (new) -PLACE-> PENDING -REPORT-> STARTING/RUNNING/... (the agent's word)
 *   live -NODE_LOST-> LOST -MOVE-> PENDING (on another node)
 *   live -MOVE-> PENDING (elsewhere; the old copy stopped)
 *   live/LOST/stopped-by-its-agent -ABSENT (wanted)-> PENDING (started again)
 *   live/LOST/EXITED -ABSENT (not wanted)-> DOWN
 *   DOWN/FAILED/EXITED -PLACE-> PENDING
 *
 * rsd_inst_move (rsd/rsd.c) is the one writer of an instance's state in
 * rsd; its callers carry out the effects, after their commit.
 */
#ifndef RS_INSTSM_H
#define RS_INSTSM_H

#include <stdbool.h>

#include "model.h"

typedef enum instsm_event {
	IM_EV_PLACE = 0,   /* start it on its node (up, clone, converge, restart) */
	IM_EV_REPORT,      /* its agent reports state in->reported */
	IM_EV_ABSENT,      /* its node's Hello does not list it */
	IM_EV_NODE_LOST,   /* its node is lost */
	IM_EV_MOVE,        /* to another node (a lost node's, a drained node's) */
	IM_EV_STOP,        /* rsd wants it stopped (down, not wanted) */
	IM_EV_RESTART,     /* rsd wants a new process (refresh, restart) */
	IM_EV__NR
} instsm_event;

/* Effects, as bits. */
enum {
	IM_FX_PERSIST  = 1u << 0,  /* store the instance's row */
	IM_FX_START    = 1u << 1,  /* order a Start on its (new) node */
	IM_FX_STOP     = 1u << 2,  /* order a Stop on its node */
	IM_FX_RESTART  = 1u << 3,  /* order a Stop that starts it again */
	IM_FX_STOP_OLD = 1u << 4,  /* MOVE off a live node: stop the old copy */
	IM_FX_SWITCH   = 1u << 5,  /* it no longer serves: a clone switches over */
	IM_FX_EVENT    = 1u << 6,  /* record an event, kind fx.event */
	IM_FX_DIED     = 1u << 7,  /* died before it was ready: a request that
				    * waits for its start fails at once */
	IM_FX_CLEAR    = 1u << 8,  /* no process: pid 0 */
};

/* What a decision depends on besides the state. */
typedef struct instsm_in {
	rs_istate reported;        /* IM_EV_REPORT: what the agent says */
	bool      death;           /* IM_EV_REPORT: of a death (an exit, a
				    * backoff, a failure, a missed watchdog) */
	bool      wanted;          /* its service is wanted up */
	bool      stopped;         /* its last exit was a deliberate stop
				    * (its agent shut down, or fenced it) */
} instsm_in;

typedef struct instsm_fx {
	unsigned    fx;
	const char *event;         /* IM_FX_EVENT: the event kind */
} instsm_fx;

/* Applies ev to *state. 0 and *fx, or -EINVAL: not accepted in this state
 * (or a report of a state agents do not report); *state unchanged, fx
 * empty. */
int instsm_step(rs_istate *state, instsm_event ev, const instsm_in *in,
		instsm_fx *fx);
/* Whether a move from -> to is declared legal. */
bool instsm_allowed(rs_istate from, rs_istate to);
/* Whether ev is accepted in state s. */
bool instsm_accepts(rs_istate s, instsm_event ev);
/* Whether the agent may run a process for it (rsd_istate_live). */
bool instsm_live(rs_istate s);
const char *instsm_event_to_string(instsm_event ev);

#endif
