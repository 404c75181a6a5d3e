/*
 * nodesm.h - node membership as rsd sees it, as a pure state machine.
 *
 * nodesm_step(n, event, now) moves one node and returns the effects rsd
 * must carry out (after it has committed them): store the node, record an
 * event, reconcile, welcome, ask for a Hello, move its instances. No I/O,
 * no clock reads; the allowed moves are a table (nodesm_allowed) checked
 * on every step, as in lib/rproc.c.
 *
 *   UNKNOWN (from the store, not yet heard by this rsd)
 *      -HELLO-> UP -silent suspect_ms-> SUSPECT -silent ttl_ms-> LOST
 *      -silent lease_ms + margin_ms-> FENCED
 *   any -HELLO-> UP (reconcile: stop what moved away meanwhile)
 *   UP/SUSPECT/UNKNOWN -REVOKE (its key)-> LOST
 *   UNKNOWN -RETURNS (another node not heard since rsd started said
 *      Hello)-> UNKNOWN, its silence counted from then (a wave of Hellos
 *      after rsd restarted is still coming in: this node is probably in
 *      it), for at most startup_ms after rsd started
 *   any -FORGIVE (rsd itself did not run: nodesm_forgive)-> the same
 *      state, its silence counted as if that span had not been
 *
 * LOST: instances that do not ask for fencing may run elsewhere (their
 * copies on the silent node may still run: a partition). FENCED: the
 * node's agent has surely stopped its fenced instances (it stops them
 * after lease_ms without rsd), so those may run elsewhere too: at most
 * one copy of a fenced instance serves at any instant.
 */
#ifndef RS_NODESM_H
#define RS_NODESM_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef enum nodesm_state {
	NM_UNKNOWN = 0,
	NM_UP,
	NM_SUSPECT,
	NM_LOST,
	NM_FENCED,
	NM__NR
} nodesm_state;

typedef enum nodesm_event {
	NM_EV_HELLO = 0,   /* an accepted Hello from the node's agent */
	NM_EV_MSG,         /* any other message from it (beat, event) */
	NM_EV_TICK,        /* the periodic check */
	NM_EV_REVOKE,      /* its key was revoked */
	NM_EV_RETURNS,     /* another node this rsd had not heard came back */
	NM_EV_FORGIVE,     /* rsd itself did not run: that time is no node's
			    * silence (nodesm_forgive) */
	NM_EV__NR
} nodesm_event;

/* Effects, as bits. */
enum {
	NM_FX_PERSIST    = 1u << 0,  /* store the node's new state */
	NM_FX_EVENT      = 1u << 1,  /* record a node-<state> event */
	NM_FX_RECONCILE  = 1u << 2,  /* compare its Hello with the table */
	NM_FX_WELCOME    = 1u << 3,  /* answer its Hello */
	NM_FX_REHELLO    = 1u << 4,  /* ask it who it is (a message from a
				      * node this rsd has not welcomed) */
	NM_FX_MOVE       = 1u << 5,  /* its unfenced instances may move */
	NM_FX_MOVE_FENCED = 1u << 6, /* its fenced instances may move */
};

/* Times, milliseconds. */
typedef struct nodesm_cfg {
	uint64_t suspect_ms;   /* silent this long: suspect (> 2 beats) */
	uint64_t ttl_ms;       /* silent this long: lost */
	uint64_t lease_ms;     /* the agent's lease: it stops fenced services
				* after this long without rsd */
	uint64_t margin_ms;    /* clock drift and delivery slack on top */
	uint64_t startup_ms;   /* RETURNS counts only this long after rsd
				* started: the longest a wave of Hellos may
				* hold back the loss of a node never heard */
} nodesm_cfg;

typedef struct nodesm {
	nodesm_state state;
	uint64_t     heard_ms;   /* its silence counts from here (monotonic):
				  * its last message, moved later by the
				  * stalls of rsd forgiven since (FORGIVE) */
	uint64_t     word_ms;    /* its last message, as read (what an
				  * operator is shown) */
	uint64_t     since_ms;   /* when it entered state */
	uint64_t     wave_ms;    /* UNKNOWN: the last RETURNS; its silence
				  * counts from the later of this and
				  * heard_ms */
} nodesm;

typedef struct nodesm_fx {
	unsigned     fx;
} nodesm_fx;

/* A node known from the store, not heard yet, at now (rsd's start: the
 * node's since_ms, which RETURNS measures startup_ms from). */
void nodesm_init(nodesm *n, uint64_t now_ms);
/* Whether cfg is consistent: suspect < ttl <= lease + margin. */
bool nodesm_cfg_valid(const nodesm_cfg *c);
/* Applies ev at now. 0 and *fx, or -EINVAL (not accepted in this state,
 * or now before the last message: n unchanged, fx empty). */
int nodesm_step(nodesm *n, const nodesm_cfg *c, nodesm_event ev,
		uint64_t now_ms, nodesm_fx *fx);
/* A FORGIVE step: rsd did not run from from_ms to now_ms (stopped,
 * starved, a VM paused) nor read its agents' messages, which waited
 * meanwhile: that span is no node's silence. A node last heard before
 * from_ms has its silence count later by the span (so its silence is
 * what it was at from_ms, plus the time since now_ms); one heard within
 * it counts from now_ms (rsd knows a stall only as a span between two
 * periods: a word read after the first may still be before the stall).
 * The order of nodes by heard_ms stays. Its state does not change:
 * silence moves a node on the next TICK only. Later, never sooner: the
 * safe direction for fencing. nodesm_step's FORGIVE is an empty span
 * (now_ms to now_ms). */
int nodesm_forgive(nodesm *n, const nodesm_cfg *c, uint64_t from_ms,
		   uint64_t now_ms, nodesm_fx *fx);
/* Whether an instance placed on n may run elsewhere at now (pure): one
 * without fencing once n is lost or fenced; a fenced one (fenced true)
 * only once n is fenced and has been silent for lease_ms + stop_ms (its
 * stop timeout: the agent's, then the keeper's SIGKILL) + margin_ms, so
 * its copy there is surely dead. */
bool nodesm_releases(const nodesm *n, const nodesm_cfg *c, bool fenced,
		     uint64_t stop_ms, uint64_t now_ms);
/* Whether moving instances off lost nodes should wait because too many
 * nodes are not up at once: in a cluster of at least NODESM_MASS_MIN
 * nodes, NODESM_MASS_PCT % or more of them not up is rsd's own trouble
 * (a restart whose Hellos it has not all handled yet) or a partition,
 * not that many machines dying; moving their instances would pile them
 * on the few nodes left (issue 12: 5,000 nodes after an rsd restart).
 * known: the nodes rsd counts; up: those up. As Kubernetes stops
 * evicting in a zone that is mostly unready. */
#define NODESM_MASS_MIN 10
#define NODESM_MASS_PCT 55
bool nodesm_mass_loss(size_t known, size_t up);
/* Whether n counts as up for nodesm_mass_loss at now (pure): UP and
 * heard within half its TTL. Nodes that fell silent together go lost one
 * by one as each one's TTL since its own last word runs out; counted by
 * their state alone, the first to go lost (its last beat a little
 * earlier, a beat late) found most of the others still up for up to
 * ttl - suspect_ms and its instances moved onto them (tests/loadgen.sh
 * under load, once rsd checked every 0.25 s). Half the TTL of silence
 * tolerates last words that far apart. */
bool nodesm_counts_up(const nodesm *n, const nodesm_cfg *c, uint64_t now_ms);
/* Whether moves off lost nodes wait at now (pure but for *seen_ms): a
 * mass loss now (mass: nodesm_mass_loss), or one seen within hold_ms
 * before (*seen_ms, updated; 0: never). A partition that heals brings
 * its nodes back over a second or more: checked every 0.25 s, the guard
 * found most back and moved the last ones' instances while they were
 * returning (tests/loadgen.sh). rsd holds for the nodes' TTL. */
bool nodesm_mass_wait(bool mass, uint64_t *seen_ms, uint64_t now_ms, uint64_t hold_ms);
/* startup_ms for a cluster of nodes known at rsd's start: 12 TTLs, or
 * NODESM_RETURN_MS for each node if longer (a wave of 5,000 nodes took
 * 45 s on 2 cores: at a minute, the bound came close). */
#define NODESM_RETURN_MS 20
uint64_t nodesm_startup_ms(uint64_t ttl_ms, size_t nodes);
/* Tells n, before its TICK, of the last return of a node not heard
 * since rsd started (returned_ms, 0: none yet): a RETURNS step when n is
 * UNKNOWN and the return is news to it (not before its own last word,
 * not one it was told). rsd's period and the simulation both use it. */
void nodesm_tell_return(nodesm *n, const nodesm_cfg *c, uint64_t returned_ms);
/* Whether a TICK at now_ms, and any RETURNS told before it, would leave n
 * as it is, with no effect (pure): n was heard less than suspect_ms
 * before now (silence moves nothing before that, in any state), or n is
 * FENCED (the last state silence reaches); never an UNKNOWN node within
 * startup_ms of its since_ms, whose waves RETURNS still records. rsd's
 * period ticks only the nodes for which this is false: the ones heard
 * longest ago, so a period costs the silent nodes, not the cluster
 * (issue 12). */
bool nodesm_tick_idle(const nodesm *n, const nodesm_cfg *c, uint64_t now_ms);
/*
 * rsd's clock of silence: up to when a period may count its nodes'
 * silence, and when to forgive a stall of rsd itself. Fed a PERIOD at
 * each of rsd's membership checks (its 1 s period and the 0.25 s ticks
 * between: any cadence well under stall_ms) with the time and what rsd
 * has read of its agents' messages up to (read_ms: now, or when it last
 * found none waiting).
 *
 *   RUNNING -period, lagging or not-> RUNNING, silence up to read_ms
 *   RUNNING -period stall_ms or more after the last-> STALLED
 *      (rsd did not run: silence up to the last period only)
 *   STALLED -period, read within lag_ms of it, for calm_ms or more->
 *      RUNNING, FORGIVE the span from the last period before the stall
 *      to now (the messages that waited are read by then: the kernel's
 *      buffers too, which rsd's read_ms cannot see; a first period that
 *      finds nothing waiting may come before its ZeroMQ thread even read
 *      them)
 *   STALLED -period hold_ms after the stall was seen-> RUNNING, FORGIVE
 *      (hold_ms: the stall's length, at least ttl_ms: rsd that never
 *      catches up still loses the dead nodes)
 *   STALLED -another stall-> STALLED, held from the first stall's start
 */
typedef enum nodesm_clock_state {
	NC_RUNNING = 0,
	NC_STALLED,
	NC__NR
} nodesm_clock_state;

typedef struct nodesm_clock_cfg {
	uint64_t stall_ms;   /* periods this far apart: rsd did not run */
	uint64_t lag_ms;     /* read within this of now: caught up */
	uint64_t calm_ms;    /* caught up this long: the stall is read */
	uint64_t ttl_ms;     /* the shortest hold (the nodes' TTL) */
} nodesm_clock_cfg;

typedef struct nodesm_clock {
	nodesm_clock_state state;
	uint64_t last_ms;    /* the last period (0: none yet) */
	uint64_t from_ms;    /* STALLED: the last period before the stall */
	uint64_t seen_ms;    /* STALLED: when the last stall was seen */
	uint64_t hold_ms;    /* STALLED: forgiven by seen_ms + this at the latest */
	bool     calm;       /* STALLED: caught up at every period since ... */
	uint64_t calm_ms;    /* ... this one */
} nodesm_clock;

typedef struct nodesm_clock_fx {
	uint64_t until_ms;     /* count the nodes' silence up to here */
	uint64_t stall_ms;     /* a stall seen now, this long (0: none) */
	bool     forgive;      /* FORGIVE every node from forgive_from to now */
	uint64_t forgive_from;
} nodesm_clock_fx;

/* Applies a PERIOD at now_ms. 0 and *fx, or -EINVAL (now before the last
 * period, or read_ms after now: k unchanged, fx empty). */
int nodesm_clock_period(nodesm_clock *k, const nodesm_clock_cfg *c,
			uint64_t now_ms, uint64_t read_ms, nodesm_clock_fx *fx);
bool nodesm_clock_allowed(nodesm_clock_state from, nodesm_clock_state to);
const char *nodesm_clock_state_to_string(nodesm_clock_state s);
bool nodesm_allowed(nodesm_state from, nodesm_state to);
bool nodesm_accepts(nodesm_state s, nodesm_event ev);
const char *nodesm_state_to_string(nodesm_state s);
const char *nodesm_event_to_string(nodesm_event ev);

#endif
