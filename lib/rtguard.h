/*
 * rtguard.h - whether rsd's control socket's ZeroMQ I/O thread runs at a
 * real-time priority, as a pure state machine.
 *
 * Owns: when to raise that thread to SCHED_RR and when to put it back
 * among the fair scheduler's threads. Must not: read a clock, read the
 * thread's CPU time, make a system call (the caller says the time and the
 * thread's CPU time, and carries out the effect).
 *
 * Why: on a core rsd shares, an operator's request waited up to a time
 * slice for that thread to be scheduled, behind rsd's busy loop, twice
 * (the request in, the answer out): in cold starts of 5,000 agents the
 * control p99's medians went from 5.0 / 4.9 ms to 4.0 / 3.1 ms (status /
 * lookup) with the thread at SCHED_RR (docs/bench.md, session 17). The thread moves only operators' messages,
 * little CPU; but it also does every CURVE handshake on the control
 * endpoint, and a flood of those at a real-time priority would take the
 * core from rsd's loop (the kernel leaves other threads 5 % of it). So
 * the thread's CPU share is watched: above share_pct over a window of
 * window_ms it goes back to the fair scheduler for a hold (below), then
 * up again.
 *
 *   INIT -start-> RAISING (effect RAISE)
 *   RAISING -raised-> RAISED; -refused-> OFF (no CAP_SYS_NICE, or the
 *       cgroup gives no real-time time: the thread stays as it is)
 *   RAISED -tick(share > share_pct over window_ms)-> HELD (effect LOWER)
 *   HELD -tick(its hold over)-> RAISING (effect RAISE)
 *   OFF: every event is ignored
 * Any other pair is no move.
 *
 * The hold is hold_ms, twice the last one when the thread is lowered
 * again within that last hold of being raised (a flood or a busy core
 * that lasts: fewer episodes, fewer warnings), at most
 * RTGUARD_HOLD_GROWTH times hold_ms; back to hold_ms when it stayed
 * raised longer.
 *
 * The same machine guards the agents' I/O thread at SCHED_IDLE (rsd
 * --agents-io idle, rsd/main.c): there "raised" is "at SCHED_IDLE",
 * LOWER puts it back at SCHED_OTHER, and the time it is fed is the
 * thread's time waiting for a CPU, not its time on one (a thread at
 * SCHED_IDLE starves while another of its core is busy). There the
 * caller also says how long the process's other threads ran (rsd's loop,
 * its checkpointer, its control thread: rtguard_step_own): a window the
 * watched thread spent waiting while they ran at least own_pct of it is
 * the process's own busy work more than another's, and lowers it for
 * own_hold_ms only (no growth, counted in lowered_own, not lowered): the
 * loop ends its work, and it stays safe (a starved reader is back among
 * the fair threads within a window, for own_hold_ms, again and again if
 * need be). The long holds are for a hog that stays: a minute or more of
 * them after rsd's own busy second (a cold start's, an apply's) kept the
 * thread among the fair threads, where it held rsd's core from the loop
 * for a tick at a time (the control p99 of the bench's burst and drain,
 * 5-20 ms, docs/bench.md session 23). The growth looks at the raise
 * after the last hold of the long kind, not after an own one.
 */
#ifndef RS_RTGUARD_H
#define RS_RTGUARD_H

#include <stdbool.h>
#include <stdint.h>

#define RTGUARD_SHARE_PCT 25      /* of one CPU over a window, at most */
#define RTGUARD_WINDOW_MS 500
#define RTGUARD_HOLD_MS   60000   /* at the fair scheduler after a flood */
#define RTGUARD_HOLD_GROWTH 16    /* a hold at most this many hold_ms */
#define RTGUARD_OWN_PCT   50      /* the own threads' share of a window that
				   * makes a lowering its own */
#define RTGUARD_OWN_HOLD_MS 2000  /* an own lowering's hold */

typedef enum rtg_state {
	RTG_INIT,
	RTG_RAISING,   /* RAISE asked, its outcome not yet told */
	RTG_RAISED,
	RTG_HELD,      /* lowered after using too much, until held_until */
	RTG_OFF,       /* refused, or not wanted: never raised */
	RTG__NSTATES
} rtg_state;

typedef enum rtg_event {
	RTG_EV_START,    /* the thread exists */
	RTG_EV_RAISED,   /* the RAISE effect succeeded */
	RTG_EV_REFUSED,  /* ... or failed */
	RTG_EV_TICK,     /* a look at the thread's CPU time */
	RTG__NEVENTS
} rtg_event;

typedef enum rtg_effect {
	RTG_FX_NONE,
	RTG_FX_RAISE,   /* to SCHED_RR; tell RAISED or REFUSED */
	RTG_FX_LOWER,   /* back to SCHED_OTHER (a flood: log it) */
} rtg_effect;

typedef struct rtguard {
	rtg_state st;
	unsigned  share_pct, window_ms, hold_ms;
	uint64_t  win_ms;       /* the window's start ... */
	uint64_t  win_cpu_ns;   /* ... and the thread's CPU time then */
	uint64_t  win_own_ns;   /* ... and the own thread's (step_own) */
	unsigned  own_pct;      /* 0: no lowering is the process's own */
	unsigned  own_hold_ms;
	uint64_t  held_until;   /* HELD: until this time */
	uint64_t  cur_hold_ms;  /* the last LOWER's hold (0: none yet) */
	uint64_t  raised_ms;    /* when it was last raised after a hold
				 * not its own (or first) */
	uint64_t  lowered;      /* LOWER effects so far, but ... */
	uint64_t  lowered_own;  /* ... these, the process's own */
	bool      last_own;     /* the last LOWER was the process's own */
	unsigned  last_pct;     /* the share that caused the last LOWER ... */
	unsigned  last_own_pct; /* ... the own thread's share of it ... */
	unsigned  last_ms;      /* ... over this long */
} rtguard;

/* A guard in INIT with the given limits (0: the defaults above). */
void rtguard_init(rtguard *g, unsigned share_pct, unsigned window_ms, unsigned hold_ms);
/* One event at now_ms; cpu_ns: the thread's CPU time then (TICK, RAISED;
 * ignored for the others). 0 and the effect to carry out in *fx (a TICK
 * whose condition does not hold: RTG_FX_NONE, nothing changes but the
 * window), or -EINVAL: not a move of that state (nothing changes). */
int rtguard_step(rtguard *g, rtg_event ev, uint64_t cpu_ns, uint64_t now_ms,
		 rtg_effect *fx);
/* The same, own_ns: the CPU time so far of the process's own busy thread
 * (TICK, RAISED; ignored for the others). rtguard_step is this with 0. */
int rtguard_step_own(rtguard *g, rtg_event ev, uint64_t cpu_ns, uint64_t own_ns,
		     uint64_t now_ms, rtg_effect *fx);
const char *rtguard_state_name(rtg_state st);

#endif
