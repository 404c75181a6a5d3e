/*
 * opsm.h - an operation (a request that changes something and whose
 * answer waits: up, down, refresh, restart, clone, update, apply, ...) as
 * a pure state machine, and which requests each one lets through
 * meanwhile.
 *
 *   NEW -RECORDED-> RUNNING -SUCCEED-> DONE
 *   RUNNING -FAIL-> FAILED, -TIMEOUT-> TIMED_OUT, -CANCEL (a down)->
 *           CANCELLED, -ROLLBACK (update)-> ROLLED_BACK
 *   RUNNING -RSD_RESTART-> FAILED (its caller is gone; an update ->
 *           ROLLED_BACK: its instances are handed back)
 *
 * A request that is not recorded (a full disk) never becomes an
 * operation; one that waits for the nodes after an rsd restart waits
 * before it is recorded (rsd/requests.c), so it is not one yet either. The terminal states take nothing. opsm_admit says what a
 * new request on the same label meets while one runs: admitted (it reads
 * only), busy (exit 4), or it cancels the running one (a down cancels a
 * start that waits for ready, as systemctl stop does a start job).
 * No I/O, no clock; tested for every state x event and verb x verb.
 */
#ifndef RS_OPSM_H
#define RS_OPSM_H

#include <stdbool.h>

#include "msg.h"

typedef enum opsm_state {
	OP_NEW = 0,
	OP_RUNNING,
	OP_DONE,
	OP_FAILED,
	OP_TIMED_OUT,
	OP_CANCELLED,
	OP_ROLLED_BACK,
	OP__NR
} opsm_state;

typedef enum opsm_event {
	OP_EV_RECORDED = 0,  /* its decision committed: it runs */
	OP_EV_SUCCEED,
	OP_EV_FAIL,
	OP_EV_TIMEOUT,
	OP_EV_CANCEL,        /* a down cancels it */
	OP_EV_ROLLBACK,      /* an update handed its instances back */
	OP_EV_RSD_RESTART,   /* a new rsd finds it open */
	OP_EV__NR
} opsm_event;

typedef enum opsm_verdict {
	OPSM_ADMIT = 0,      /* no conflict */
	OPSM_BUSY,           /* refused, exit 4 */
	OPSM_CANCELS,        /* admitted; the running one is cancelled */
} opsm_verdict;

/* Applies ev; update: the operation is an update (a restart rolls it
 * back). 0, or -EINVAL (not accepted: *s unchanged). */
int opsm_step(opsm_state *s, opsm_event ev, bool update);
bool opsm_accepts(opsm_state s, opsm_event ev);
bool opsm_allowed(opsm_state from, opsm_state to);
/* Whether the operation is still open (its caller waits). */
bool opsm_open(opsm_state s);
/* What a request of verb `incoming` on a label meets while an operation
 * of verb `running` works on that label. */
opsm_verdict opsm_admit(rs_verb running, rs_verb incoming);
/* Whether verb changes a service (and so is checked against a running
 * operation on its label). */
bool opsm_mutates(rs_verb v);
/* The state's name in the store's operation table and `rsctl events`
 * ("running", "done", "committed" for a successful update, ...). */
const char *opsm_state_to_string(opsm_state s, bool update);
const char *opsm_event_to_string(opsm_event ev);

#endif
