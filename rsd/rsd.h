/*
 * rsd.h - the control daemon's in-memory rproc table and its glue.
 *
 * Owns: the mirror of the store (services, instances, nodes), the pending
 * operations (a blocked rsctl waiting for ready/dead), the periodic check.
 * Every control decision is committed to the store before it is sent to an
 * agent. Must not: fork services (agents do that).
 */
#ifndef RS_RSD_H
#define RS_RSD_H

#include <ev.h>
#include <stdbool.h>

#include "codes.h"
#include "cred.h"
#include "dueq.h"
#include "evchain.h"
#include "nodesm.h"
#include "prom.h"
#include "msg.h"
#include "net.h"
#include "instsm.h"
#include "opsm.h"
#include "orders.h"
#include "sendq.h"
#include "store.h"
#include "table.h"
#include "rtguard.h"
#include "trim.h"
#include "wire.h"

struct MHD_Daemon;
struct json_t;

#define RSD_DEF_TTL_MS   5000   /* node lost after this long without a beat */
#define RSD_DEF_FENCE_MARGIN_MS 1000 /* delivery and scheduling slack on top
				      * of a fenced instance's lease */
#define RSD_BEAT_MS      1000   /* what agents are told to beat at */
#define RSD_PERIOD_S     1.0    /* the periodic check (MINIX do_period) */
#define RSD_TICK_S       0.25   /* the nodes' membership between periods */
#define RSD_TICK_SLICE_MS 2     /* ... ticking nodes for this long a turn */
/* event retention: rsd --events-keep and --events-max-age (0: no limit).
 * A period deletes chunks of the oldest events until its time budget is
 * spent or its cap reached (docs/design.md, "Event retention"). */
#define RSD_DEF_EVENTS_KEEP       100000
#define RSD_DEF_EVENTS_MAX_AGE_MS (7ull * 24 * 3600 * 1000)
#define RSD_EVENTS_PRUNE_CHUNK    100    /* one short write transaction */
#define RSD_EVENTS_PRUNE_MAX      5000   /* at most this many a period, one
					  * chunk a turn of the loop (3 ms of
					  * chunks at once was the longest part
					  * of a period) */
#define RSD_CONVERGE_BUDGET_NS (500 * 1000ull) /* a slice of converge: the
				 * first after a start looks at every service
				 * (150,000 instances: ~30 ms in one piece);
				 * the next slices go on at the loop's next
				 * turns (an idle watcher: after every ready
				 * socket), the period's in one piece had made
				 * 3-6 ms turns in a cold start */
#define RSD_SCRIPT_TIMEOUT_S 30 /* a recovery script is killed after this */
#define RSD_ORDER_RESEND_MS 1500 /* an order not acknowledged this long is resent */
/* Messages queued per agent connection before ZeroMQ stops reading it
 * (docs/design.md, "A busy rsd is not a lost one"). High on purpose:
 * libzmq 4.3.4 aborts the process when a connection whose input it
 * stopped at this mark breaks (stream_engine_base.cpp:331, `!_io_error`;
 * the bench's 1,000 agents hit it at 64), so rsd never lets it stop in
 * practice and keeps its queues short by reading fast and by the agents'
 * backoff instead. */
#define RSD_AGENT_RCVHWM 100000
#define RSD_IO_AGENTS    0      /* ZeroMQ I/O thread of the agents' socket */
#define RSD_AGENT_GAP_MS 4      /* the agents' socket is read at most this
				 * often while busy (net_sock_set_gap): at
				 * 5,000 agents a beat a wake-up cost each
				 * message a turn of the loop and a signal
				 * each way between ZeroMQ's threads */
#define RSD_WAKE_NS   2000000ull /* a wake-up's agents' messages, their rows
				 * written at its end (estimated) included: past
				 * it the socket yields (net_sock_yield); the
				 * rows alone doubled a cold start's turns, and
				 * a control request waits behind a turn */
#define RSD_ROW_NS_0  15000ull  /* the estimate before the first measure */
#define RSD_CTL_PEEK_NS 100000ull /* a wake-up of the agents' socket asks
				 * this often whether a control request waits,
				 * and yields to it (agents_budget) */
#define RSD_AGENT_ACCEPTS 16    /* connections the agents' socket accepts a
				 * turn of its I/O thread (net_router_new_ex):
				 * one a turn drained a wave of 5,000
				 * reconnecting agents at 150-180 a second */
#define RSD_IO_CONTROL   1      /* ... and of the control socket's */
#define RSD_AGENTS_IO_NICE 10   /* the agents' I/O thread's nice value: its
				 * bulk work (handshakes) yields to the loop
				 * and to the control socket's thread */
#define RSD_AGIDLE_SHARE_PCT 80 /* the agents' I/O thread back among the fair
				 * threads when it waited for a CPU more than
				 * this share of a window (rsd/main.c) */
#define RSD_DEF_CONTROL_RT 1    /* --control-rt: the control socket's thread
				 * at SCHED_RR 1 (lib/rtguard.h) */
#define RSD_WATCH_MS     5000   /* a placed instance its node says nothing of
				 * this long: rsd asks the node what it runs */
#define RSD_WATCH_SLICE_NS 500000 /* ... checked 0.5 ms a turn of the loop at
				 * most (a cold start's 150,000 come due at
				 * once: tens of ms in one piece) */
/* instances moved off lost nodes in one period at most (--max-moves):
 * 50,000 at once stood rsd's loop still for 21 s at 5,000 nodes (before
 * the placement index); a period of 1,000 moves now takes ~47 ms there,
 * so 5,000 (~250 ms) moves 100 lost nodes' 3,000 instances in one */
#define RSD_DEF_MAX_MOVES 5000
#define RSD_STALL_MS     2500   /* periods this far apart: rsd itself did not
				 * run (stopped, starved), its agents did */
#define RSD_CAUGHT_MS    250    /* after a stall: read within this of now
				 * (what waited is being read) ... */
#define RSD_CALM_MS      2000   /* ... for this long: forgive the stall */
#define RSD_BEHIND_LOG_MS 1000  /* rsd this far behind its agents' messages
				  * says so (once, then once caught up) */
#define RSD_MOVE_SLICE 256       /* moves off lost nodes in one turn, at most */
#define RSD_MOVE_SLICE_MS 2      /* ... and for this long (then the turn
				  * commits: ~1.5 ms more at 5,000 x 30) */
#define RSD_APPLY_SLICE_MS 2     /* an apply starts its services for this
				  * long a turn (then the rest next turn:
				  * 100 services x 60 at 5,000 nodes held
				  * the loop 150-235 ms in one) */
#define RSD_EXPORT_SLICE 200     /* an export of more services is made this
				  * many a turn (control.c export_cb): ~1.5 ms */
#define RSD_SETTLE_LATE_MS 120000 /* rsd's start not settled this long after
				    * its load says so (settle_check) */

struct rsd_script;

typedef struct rsd_node {
	uint64_t         link_seq;    /* rsd_node_link's number: newer, higher */
	struct rsd_node *next;
	struct rsd_node *hnext;       /* its chain in d->tnodes */
	store_node       n;
	net_peer         peer;
	bool             connected;   /* said Hello to this rsd process */
	nodesm           sm;          /* membership (lib/nodesm.h): its state,
				       * when rsd last heard it (monotonic) */
	uint64_t         acked_seq;   /* last agent seq processed */
	uint64_t         told_seq;    /* the acked_seq last sent to it */
	bool             beat_skipped;/* its last beat went unanswered
				       * (lease_answer_beat) */
	uint64_t         hello_seq;   /* seq of its last Hello */
	uint64_t         session;     /* the agent process's Hello.session */
	uint64_t         replay_seen; /* last replayed (pre-Hello) seq taken
				       * (an agent without RS_FEAT_EVCHAIN) */
	evchain          ev;          /* its events taken (RS_FEAT_EVCHAIN) */
	uint64_t         dup_session; /* a refused second agent's session */
	uint64_t         skew_session;/* a refused out-of-policy agent's session */
	uint64_t         features;    /* RS_FEAT_* its agent announces */
	char             cgroups[RS_CGROUPS_MAX]; /* its Hello's (RS_FEAT_CGROUP;
				       * "" from an older agent) */
	uint32_t         controllers; /* RS_CTL_* its Hello says it enforces
				       * limits with (RS_FEAT_LIMITS; 0 before) */
	uint32_t         privs;       /* RS_PRIV_* its Hello says it can apply
				       * (RS_FEAT_PROFILE; 0 before) */
	char           **labels;      /* from its Hello (placement.labels) */
	size_t           nlabels;
	orders_out       out;         /* orders not yet acknowledged (RS_FEAT_ORDERS) */
	uint32_t         live;        /* live instances placed here, kept by
				       * rsd_inst_move, rsd_inst_set_node and
				       * the links (placement reads it) */
	uint32_t         lost;        /* lost ones, kept alike (a period's
				       * moves look only at nodes with some) */
	size_t           heap_i;      /* its place in d->nheap */
	bool             placeable;   /* connected, up and not drained, as of
				       * its last rsd_node_placeable: the
				       * first key of d->nheap */
	struct rsd_node *qprev, *qnext; /* d->quiet_*: by sm.heard_ms */
	uint64_t         mark;        /* placement's scratch: mark_n instances */
	uint32_t         mark_n;      /* of the label placed, if mark is current */
	/* coalescing Hellos (agents.c): its last Hello was reconciled on this
	 * connection, every message it sent since was taken (seq_next, no
	 * gap), rsd asked for no Hello and the store failed nothing since */
	bool             hello_fresh;
	uint64_t         seq_next;    /* the agent seq expected next */
	uint64_t         fresh_troubles; /* d->store_troubles at that Hello */
	uint64_t         fresh_epoch; /* the epoch that Hello's agent followed */
	/* what this turn has for it (RS_FEAT_BATCH, lib/sendq.h): sent as
	 * one frame when the loop is about to wait (rsd_agents_flush) */
	sendq            outq;
	bool             out_due;     /* in d->out_due */
	struct rsd_node *out_next;
} rsd_node;

typedef struct rsd_inst {
	struct rsd_inst *next;
	struct rsd_inst *prev;        /* d->insts is doubly linked: an unlink
				       * is O(1), not a walk of 150,000 */
	struct rsd_inst *hnext;       /* its chain in d->tinsts */
	struct rsd_inst *nnext;       /* its chain in d->tbynode */
	struct rsd_inst *lnext;       /* its chain in d->tbylabel */
	bool             linked;      /* in the list and the tables */
	uint64_t         row_tx;      /* the batch (d->tx_seq) that writes its
				       * row at its commit (rsd_batch_rows) */
	uint64_t         saved_tx;    /* the transaction (d->tx_seq) that saved
				       * it: rsd_tx_save once, not a walk */
	store_instance   si;
	char             detail[RS_DETAIL_MAX]; /* last agent event detail */
	rs_usage         use;         /* RS_FEAT_USAGE: its node's last report
				       * (memory only, never stored; time_ms
				       * 0: none since this rsd started or
				       * since its process changed) */
} rsd_inst;

typedef struct rsd_svc {
	struct rsd_svc *next;
	struct rsd_svc *hnext;        /* its chain in d->tsvcs */
	store_service   s;
	uint32_t        backoff_ms;   /* current restart delay (metrics) */
	/* converge's last look found every replica, with this desired
	 * state and count; an instance unlinked or made a standby clears
	 * it (rsd_converge_due): a period looks only at what changed */
	bool            conv_ok;
	rs_desired      conv_desired;
	uint32_t        conv_replicas;
	uint32_t        conv_round;   /* the period's converge that last
				       * looked at it (d->conv_round) */
	uint64_t        wait_since_ms;/* wall ms since converge found no
				       * node for some of its instances
				       * (0: it does not wait; describe) */
	uint32_t        wait_missing; /* ... how many */
	/* rsd_inst_superseded's cut-off: an instance of the label (not a
	 * standby) with an id below sup_cut is superseded, as of
	 * d->insts_gen == sup_gen and sup_want replicas */
	uint64_t        sup_cut;
	uint64_t        sup_gen;
	uint32_t        sup_want;
	/* the seq of its newest event as far as this rsd knows (0: not
	 * known yet; may be above a rolled-back one, never below): the
	 * events table has no index by label, a read of the label's events
	 * scans down from there rather than from the newest row */
	uint64_t        ev_newest;
	/* its newest events' seqs (rsd_label_events), made by the first
	 * read of its events: NULL until then */
	struct rsd_evring *ev_ring;
} rsd_svc;

/* events --since without -n: at most this many (one reply stays well
 * under the 1 MiB frame) */
#define RSD_EVENTS_SINCE_MAX 2000
/* A service's newest event seqs rsd keeps once they were read: the
 * newest 64 (`events LABEL` shows 50, describe 10) are then point
 * lookups instead of a scan past every other label's events */
#define RSD_EV_RING 64

/* A request whose reply waits for something (ready, dead). */
typedef struct rsd_pending {
	struct rsd_pending *next;
	net_peer  peer;
	uint64_t  req_id;
	rs_verb   verb;
	char      label[RS_LABEL_MAX];
	uint64_t  inst_id;        /* up/refresh/restart: the instance we wait on */
	int32_t   old_pid;        /* refresh: the pid that must be replaced */
	uint64_t  deadline_mono;
	rs_op     op;             /* the store's operation row */
	bool      reply;          /* false for --no-block (op only) */
	char    **apply;          /* apply: labels still to start, in order */
	size_t    napply;
	char     *apply_json;     /* apply: the plan, for the final reply */
	struct rsd_stop *stops;   /* apply: removed services, stopped once
				   * what depends on them is down */
	size_t    nstops;
	uint32_t  apply_turns;    /* apply: turns that started services ... */
	size_t    apply_started;  /* ... the services they started ... */
	uint64_t  apply_ns;       /* ... the time they took ... */
	uint64_t  apply_t0;       /* ... since the first (mono ns) */
	bool      boot;           /* the boot apply of rsd --manifest */
	struct rsd_update *upd;   /* update: its instances and specs */
	opsm_state st;            /* lib/opsm: new until recorded */
	bool      cancelled;      /* rsd_pending_done: a down cancelled it */
	bool      start_died;     /* up/restart/clone/apply: died before ready */
	char      died_label[RS_LABEL_MAX];  /* apply: which service */
	char      died_detail[RS_DETAIL_MAX];
	char      died_node[RS_NODE_MAX];
	bool      resumed;        /* accepted by an earlier rsd process: checked
				   * once the nodes have reported */
	bool      keep_events;    /* delete: --keep-events */
} rsd_pending;

/* A request's answer, kept for its duplicates (requests.c). */
#define RSD_OUTCOMES_MAX    1024
#define RSD_OUTCOME_KEEP_MS (10 * 60 * 1000)
typedef struct rsd_outcome {
	char     actor[80];
	uint64_t id;              /* 0: a free slot */
	int32_t  code;
	char    *message, *json;
	uint64_t mono;            /* when it was answered */
} rsd_outcome;

/* A request that waits until the nodes rsd knew have reported. */
typedef struct rsd_export rsd_export;

typedef struct rsd_parked {
	struct rsd_parked *next;
	net_peer  peer;
	rs_msg    m;              /* the decoded request (owned) */
	char      actor[80];
	int       role;
	uint64_t  since_mono, deadline_mono;
} rsd_parked;

/* A counter keyed by kind ("restart", "watchdog"), label, node, reason. */
typedef struct rsd_counter {
	struct rsd_counter *next, *prev;
	struct rsd_counter *hnext;    /* its chain in d->tcounters */
	struct rsd_counter *lnext;    /* its chain in d->tcnt_label */
	char     kind[16];
	char     label[RS_LABEL_MAX];
	char     node[RS_NODE_MAX];
	char     reason[24];
	uint64_t n;
} rsd_counter;

/* A logs request waiting for its agent's LogsData. */
typedef struct rsd_logreq {
	struct rsd_logreq *next;
	uint64_t id;              /* our LogsGet req_id */
	net_peer peer;            /* the rsctl to answer */
	uint64_t req_id;          /* its request id */
	uint64_t inst;
	char     node[RS_NODE_MAX];
	uint64_t deadline_mono;
	bool     stamped;         /* a 0.3 rsctl: the answer's new keys too */
	bool     previous;        /* none found is "no such output" */
	char     label[RS_LABEL_MAX];
} rsd_logreq;

#define RSD_PATH_MAX 4096

/* The two endpoints, for the auth counters. */
enum { RSD_EP_AGENTS, RSD_EP_CONTROL, RSD_EP__NR };

/* Why a peer was refused (rs_auth_failures_total{reason}). */
typedef enum rsd_auth_reason {
	RSD_AUTH_UNKNOWN_KEY,
	RSD_AUTH_REVOKED,
	RSD_AUTH_NO_CURVE,        /* plaintext (or another mechanism) */
	RSD_AUTH_HANDSHAKE,       /* a broken handshake */
	RSD_AUTH_WRONG_ENDPOINT,  /* a node key on control, an operator on agents */
	RSD_AUTH_WRONG_NODE,      /* a node key speaking for another node */
	RSD_AUTH_ENROLL_REFUSED,
	RSD_AUTH__NR
} rsd_auth_reason;

typedef struct rsd {
	struct ev_loop *loop;
	store          *st;
	net_sock       *agents;
	net_sock       *control;
	rsd_svc        *svcs;
	rsd_inst       *insts;
	rsd_node       *nodes;
	/* lookups by label, id, name, in step with the lists (table.h):
	 * link and unlink only through rsd_*_link / rsd_*_unlink */
	rsd_tab         tsvcs, tinsts, tnodes;
	/* instances by node and by label (several under one key): walk
	 * them with rsd_node_insts / rsd_label_insts */
	rsd_tab         tbynode, tbylabel;
	rsd_tab         tcounters;        /* d->counters by their four keys */
	rsd_tab         tcnt_label;       /* ... and by label (/metrics) */
	uint64_t        mark_gen;         /* placement's (rsd_node.mark) */
	/* every node, a binary min-heap by (not placeable, live, name):
	 * placement looks at the least loaded first and stops at the first
	 * that wins, instead of walking every node for every instance
	 * (5,000 nodes x 6,000 instances an apply step); nodes that take
	 * nothing (lost, not back yet, drained) come last, else every
	 * placement walked past them (100 lost nodes: 40-80 us a move) */
	rsd_node      **nheap;
	/* every node, the one heard longest ago first (rsd_node_heard): the
	 * period ticks from the head up to the first one heard within
	 * suspect_ms (nodesm_tick_idle), not all of them */
	rsd_node       *quiet_head, *quiet_tail;
	uint64_t        unknown_until_ms; /* until then an UNKNOWN node may
					   * not be idle: every node ticks,
					   * while the wave is not over */
	bool            unknown_again;    /* a node UNKNOWN again after its
					   * Hello's commit failed: every
					   * node ticks until then anyway */
	uint64_t        load_ms;          /* mono ms rsd loaded its store */
	size_t          wave_known;       /* nodes known at start, until all
					   * are back or lost (wave_check) */
	size_t          inst_nstate[RS_IS__NR]; /* linked instances by
					   * state (inst_tally) */
	bool            settle_wait;      /* from the load until no instance
					   * is on its way (settle_check) */
	bool            settle_late;      /* settle_check said it is late */
	uint64_t        settle_late_ms;   /* ... after this long: RSD_SETTLE_LATE_MS
					   * (RS_SETTLE_LATE_MS: tests) */
	uint64_t        settle_last_ms;   /* mono ms an instance last left
					   * a state on the way, while
					   * settle_wait */
	size_t          nheap_n, nheap_cap;
	bool            nheap_broken;     /* out of memory once: walk instead */
	uint64_t        svcs_gen;         /* bumped by every service linked */
	struct rsd_svc **svc_sorted;      /* rsd_svcs_sorted's, as of */
	size_t          nsvc_sorted;      /* svc_sorted_gen */
	uint64_t        svc_sorted_gen;
	bool            check_tables;     /* RS_CHECK_TABLES: each period */
	uint64_t        insts_gen;        /* bumped by every instance linked,
					   * unlinked or made (no longer) a
					   * standby: from 1 */
	bool            resched_paused;   /* most nodes not up (nodesm_mass_loss) */
	uint64_t        mass_seen_ms;     /* ... last seen so (nodesm_mass_wait) */
	ev_timer        move_t;           /* the period's next turn of moves */
	uint64_t        moves_t0;         /* the period's moves began (ns) */
	uint64_t        moves_ns;         /* ... took this long, turns only */
	uint64_t       *moves_ids;        /* the period's candidates, by id */
	size_t          moves_n, moves_cap;
	size_t          moves_i;          /* the next turn's first candidate */
	size_t          moves_done;       /* ... committed (the log line's) */
	size_t          moves_period;     /* committed this period (max_moves) */
	bool            moves_warned;     /* ... and said it left some */
	uint32_t        moves_turns;
	uint32_t        move_slice;       /* RS_MOVE_SLICE (tests), else
					   * RSD_MOVE_SLICE */
	ev_timer        apply_t;          /* an apply's next turn of starts */
	uint32_t        apply_slice;      /* RS_APPLY_SLICE (tests): services
					   * an apply starts a turn, at most */
	rsd_pending    *pending;
	struct rsd_script *scripts;   /* recovery scripts running */
	rsd_logreq     *logreqs;
	uint64_t        logreq_seq;
	ev_timer        period_t;
	ev_timer        tick_t;       /* membership between periods */
	ev_timer        member_t;     /* ... the rest of a walk cut short */
	uint32_t        member_turns; /* ... so far, and since */
	uint32_t        member_moved; /* ... nodes that changed state */
	uint64_t        member_until; /* the last walk's until (mono ms) */
	uint64_t        member_t0;
	bool            member_period;/* ... in a period (its moves' budget) */
	uint32_t        tick_nodes;   /* RS_TICK_NODES (tests): nodes moved by
				       * ticks a turn at most, 0: only
				       * RSD_TICK_SLICE_MS */
	ev_idle         converge_w;   /* converge's next slice (rsd_start_period) */
	uint32_t        conv_round;   /* the periods' converges so far: a
				       * slice skips what its round looked at */
	ev_signal       sigterm_w, sigint_w;
	uint32_t        ttl_ms;
	uint32_t        max_moves;        /* off lost nodes, a period (--max-moves) */
	nodesm_cfg      ncfg;             /* node membership times (ttl, lease) */
	uint64_t        next_inst_id;
	uint64_t        epoch;            /* this rsd process's (lib/orders.h) */
	/* instances placed (pending) and when their node must have said
	 * something of them: the period checks only these */
	dueq            watch;            /* instance ids, due RSD_WATCH_MS
					   * after their placement */
	uint64_t        watch_rehellos;   /* rs_reconcile_asks_total */
	uint64_t        agents_lag_ms;    /* rs_agents_backlog_seconds (period) */
	uint64_t        ckpt_failures;    /* the checkpointer's, as last logged */
	trim_rule       trim;             /* when to malloc_trim (lib/trim.h) */
	uint64_t        trims;            /* malloc_trims run, and their time */
	uint64_t        trim_ns;
	rtguard         ctlrt;            /* the control I/O thread's real-time
					   * priority (lib/rtguard.h) */
	int             ctlrt_prio;       /* --control-rt (0: off) */
	int             ctlrt_tid;        /* that thread */
	ev_timer        ctlrt_w;          /* its CPU time, looked at */
	bool            agidle_on;        /* --agents-io idle (the default) */
	rtguard         agidle;           /* the agents' I/O thread at
					   * SCHED_IDLE, watched by its time
					   * waiting for a CPU (lib/rtguard.h) */
	int             agidle_tid;       /* that thread */
	int             agidle_nice;      /* its nice value among the fair */
	ev_timer        agidle_w;
	uint64_t        nodes_returned_ms; /* the last Hello of a node this rsd
					    * had not heard (nodesm RETURNS) */
	nodesm_clock    sclock;           /* up to when silence counts, and
					   * rsd's own stalls forgiven */
	uint64_t        stalls;           /* rs_stalls_total */
	bool            agents_behind;    /* said so in the log */
	uint64_t        orders_resent;    /* rs_orders_resent_total */
	uint64_t        orders_refused_acks; /* acks beyond what was sent */
	uint64_t        hellos_coalesced; /* rs_agent_hellos_coalesced_total */
	uint64_t        ctl_yields;   /* rs_agent_wakeups_cut_total{why="control"} */
	uint64_t        ctl_peek_ns;  /* the agents' wake-up's next look */
	uint64_t        hellos_stale;     /* rs_agent_hellos_stale_total */
	uint64_t        events_given_up;  /* rs_agent_event_gaps_total{given-up} */
	uint64_t        events_refused;   /* rs_agent_event_gaps_total{refused} */
	uint64_t        agent_msgs[RS_MSG__NR]; /* rs_agent_messages_total{type} */
	rsd_node       *out_due;          /* nodes with an outq to send */
	ev_prepare      out_w;            /* sends them before the loop waits */
	uint64_t        out_frames;       /* rs_agent_frames_total{result} */
	uint64_t        out_msgs;         /* rs_agent_frame_messages_total */
	uint64_t        out_failed;       /* frames that could not be sent */
	/* event retention (--events-keep, --events-max-age; 0: no limit) */
	uint64_t        events_keep;
	uint64_t        events_max_age_ms;
	uint64_t        events_pruned;     /* rs_events_pruned_total */
	bool            prune_failing;     /* a failure was logged, not yet a success */
	uint64_t        prune_left;        /* rows the turns may still prune
					    * until the next period */
	/* metrics */
	struct httpd   *http;             /* --metrics (lib/httpd.c) */
	char            metrics_ep[128];
	rsd_counter    *counters;
	uint64_t        rejected[WIRE_E__NR];  /* undecodable, by reason */
	uint64_t        rejected_identity;     /* hello under another name */
	uint64_t        rejected_unexpected;   /* a type the peer must not send */
	uint64_t        usage_taken;           /* usage entries of beats kept */
	uint64_t        usage_ignored;         /* ... for an instance rsd does
						* not know on that node */
	uint64_t        version_refused[RSD_EP__NR];  /* outside the skew policy */
	uint64_t        ctl_requests[RS_V__NR][RS_E__NR];
	uint64_t        critical_failures;
	uint64_t        sd_watchdog_ms;    /* systemd's WATCHDOG_USEC, ms */
	rs_msg         *boot;             /* --manifest: the apply still to run */
	bool            boot_running;     /* its apply is in progress */
	bool            booted;           /* boot complete (manifest applied) */
	uint64_t        start_mono;
	prom_hist       h_ready;           /* start -> READY, seconds */
	prom_hist       h_restart;         /* exit seen -> new pid, seconds */
	prom_hist       h_commit;          /* store commit, seconds */
	prom_hist       h_period;          /* one period's work, seconds */
	prom_hist       h_page;            /* one status or nodes page, seconds */
	prom_hist       h_ctl[RS_V__NR];   /* one control request, by verb */
	prom_hist       h_turn;            /* one turn of the loop's work */
	/* the turn under way (rsd_turn_begin .. rsd_turn_end) */
	ev_check        turn_w;
	uint64_t        turn_t0, turn_cpu0, turn_msgs0, turn_ctl0, turn_commits0;
	double          turn_commit_s0;
	uint64_t        turn_period_ns;    /* the period ran in it: its work */
	uint64_t        period_part[8];    /* ... when each part began (ns) */
	uint64_t        turn_zap0, zap_requests; /* handshakes rsd_zap judged */
	uint32_t        slow_turn_ms;      /* RS_SLOW_TURN_MS: log longer turns */
	rs_verb         cur_verb;              /* verb being answered */
	/* trust (auth.c) */
	bool            insecure;          /* --insecure: plaintext, no checks */
	char            auth_dir[RSD_PATH_MAX];  /* the db's folder: key files */
	rs_cred         server;            /* rsd's own key pair */
	net_sock       *zap;               /* the ZAP handler */
	store_principal *principals;       /* the store's principal table */
	size_t          nprincipals, principals_cap;
	uint64_t        principals_gen;   /* counts auth_reload: a principal
					   * pointer taken before a change is
					   * looked up again */
	uint32_t       *bykey;             /* indexes into it, by public key */
	char            cur_actor[80];     /* who sent the request being handled */
	int             cur_role;          /* its rs_role (lib/auth.h) */
	uint64_t        auth_failures[RSD_EP__NR][RSD_AUTH__NR];
	/* the open decision (rsd_tx_*): orders held until it commits, the
	 * instances to restore if it does not */
	bool            tx_open;
	uint64_t        tx_seq;           /* transactions begun */
	uint64_t        node_links;       /* rsd_node_link: the last link_seq */
	bool            tx_batch;          /* the open one is agents' events'
					    * (group commit: rsd_batch_flush) */
	bool            batch_check;       /* pending requests to check after it */
	/* the batch's Hellos: each node as it was before, put back if the
	 * batch does not commit (agents.c) */
	struct rsd_batch_hello { struct rsd_node *n; nodesm was; } *batch_hellos;
	size_t          nbatch_hellos, batch_hellos_cap;
	/* the batch's instance rows to write at its commit, each once (a
	 * node's started and ready come in one frame: two writes of the
	 * same row were a quarter of a cold start's main thread) */
	struct rsd_inst **batch_rows;
	size_t          nbatch_rows, batch_rows_cap;
	uint64_t        batch_t0_ns;  /* the open batch began (clock_mono_ns) */
	uint64_t        row_ns;       /* a batch row's write, a moving mean */
	int             tx_err;            /* -ENOMEM while holding: abort */
	struct rsd_order *tx_orders;
	struct rsd_saved *tx_saved;
	bool            store_failing;     /* a failure was logged, not yet a success */
	uint64_t        store_troubles;    /* rsd_store_trouble calls, ever */
	/* requests (requests.c) */
	rsd_outcome    *outcomes;          /* RSD_OUTCOMES_MAX, a ring */
	size_t          outcome_next;
	rsd_parked     *parked;            /* first in, first out */
	struct rsd_export *exports;        /* being made, oldest first
					    * (control.c export_cb) */
	ev_timer        export_t;          /* their next slice */
	bool            in_request;        /* a handler runs */
	bool            cap_on;            /* the reply to cap_id is an outcome */
	uint64_t        cap_id;
} rsd;

/* rsd.c */
/* store_commit, timed for rs_store_commit_seconds. */
int rsd_commit(rsd *d);
/* Commit, then act. rsd_tx_begin opens a decision's transaction; until it
 * ends, orders to agents (rsd_send_agent and all rsd_send_*) are held, not
 * sent, and instances passed to rsd_tx_save are kept as they were.
 * rsd_tx_commit commits, then sends the held orders; if the commit (or
 * holding an order) fails it rolls back, restores the saved instances and
 * drops the orders: nothing changed anywhere. 0 or -errno. Not nested. */
int rsd_tx_begin(rsd *d);
int rsd_tx_commit(rsd *d);
/* Rolls back, restores the saved instances, drops the held orders. */
void rsd_tx_abort(rsd *d);
/* Group commit: agents' Hellos and events of one wake-up share one transaction
 * (rsd_tx_batch), committed by rsd_batch_flush when the wake-up's
 * messages are handled, or earlier by anything that needs the store
 * otherwise (rsd_tx_begin flushes it first). Until then their orders
 * (and answers) are held like any transaction's. rsd_tx_batch: 0 with
 * the batch's transaction open (opened if needed), or -errno. */
int rsd_tx_batch(rsd *d);
/* Commits the batch's transaction if one is open (its held messages
 * go out), then checks the pending requests if an event asked to. */
void rsd_batch_flush(rsd *d);
/* Keeps in's row as it is now (once per transaction), to restore it if
 * the transaction fails. in must not be freed before the transaction ends. */
void rsd_tx_save(rsd *d, rsd_inst *in);
/* Why the store refused (r from it): "database or disk full", ... */
const char *rsd_store_why(rsd *d, int r);
/* An agent's message or a periodic decision could not be recorded: logs
 * it once (", ignoring") until the store takes a write again. */
void rsd_store_trouble(rsd *d, const char *what, int r);
int rsd_load(rsd *d);
void rsd_free(rsd *d);
void rsd_start_period(rsd *d);
/* Sets up the lookup tables (before anything is linked). */
void rsd_tables_init(rsd *d);
/* Links x at the head of its list and into its lookup table; unlink
 * takes it out of both (pp: where the list points at it). */
void rsd_svc_link(rsd *d, rsd_svc *s);
/* Takes s out of the list and its table, and frees it (rsctl delete:
 * its instances are unlinked first). */
void rsd_svc_forget(rsd *d, rsd_svc *s);
/* The next period's converge looks at label's service again (one of its
 * instances went away or became a standby). */
void rsd_converge_due(rsd *d, const char *label);
void rsd_inst_link(rsd *d, rsd_inst *in);
/* Takes in out of the list and the tables (O(1) and its chains); a walk
 * that unlinks takes the next element first. */
void rsd_inst_unlink(rsd *d, rsd_inst *in);
void rsd_node_link(rsd *d, rsd_node *n);
/* The hash of a counter's keys (d->tcounters; rsd_count). */
uint64_t rsd_counter_hash(const char *kind, const char *label, const char *node,
			  const char *reason);
/* A counter added (rsd_count) or about to be freed: its tables. */
void rsd_counter_link(rsd *d, rsd_counter *c);
void rsd_counter_unlink(rsd *d, rsd_counter *c);
/* label's counters (any kind, any node), or NULL; the next one after c. */
rsd_counter *rsd_label_counters(rsd *d, const char *label);
rsd_counter *rsd_label_counters_next(rsd *d, const rsd_counter *c);
/* n's sm.heard_ms changed (a message, a Hello, or one undone): its place
 * in d->quiet_*. O(1) when it was heard now. */
void rsd_node_heard(rsd *d, rsd_node *n);
/* n's connected, n.state or n.drained changed (or may have): its place
 * in d->nheap, where the nodes that take nothing come last. Call it after
 * each such change (RS_CHECK_TABLES checks that it was). */
void rsd_node_placeable(rsd *d, rsd_node *n);
/* Takes n out of the lists, the tables and the heap, and frees it. */
void rsd_node_forget(rsd *d, rsd_node *n);
rsd_svc *rsd_svc_find(rsd *d, const char *label);
/* Every service in label order (*n of them), kept until a service is
 * linked (status pages: sorted once, not once per page). NULL without
 * memory. Borrowed: valid until the next service is linked. */
rsd_svc **rsd_svcs_sorted(rsd *d, size_t *n);
rsd_node *rsd_node_find(rsd *d, const char *name);
rsd_inst *rsd_inst_find(rsd *d, uint64_t id);
/* The instances placed on node, and those of label, in no particular
 * order: the first, then the next with the same node (label) as in.
 * Costs what is walked, not the whole table. Moving the instance walked
 * to another node (rsd_inst_set_node) ends its node's walk: take the
 * next one first. */
rsd_inst *rsd_node_insts(rsd *d, const char *node);
rsd_inst *rsd_node_insts_next(rsd *d, const rsd_inst *in);
/* node's instances newest first, in *out (the caller frees it; NULL
 * when none) and *n: for a walk that moves them off the node, which the
 * chain above cannot follow. 0 or -ENOMEM. */
int rsd_node_insts_newest(rsd *d, const char *node, rsd_inst ***out, size_t *n);
rsd_inst *rsd_label_insts(rsd *d, const char *label);
rsd_inst *rsd_label_insts_next(rsd *d, const rsd_inst *in);
/* Places in on node: its row's node, the by-node table and the nodes'
 * live counts. (A new instance not yet linked may be set directly.)
 * Inside a transaction, save in first (rsd_tx_save) if the move must be
 * undone with it. */
void rsd_inst_set_node(rsd *d, rsd_inst *in, const char *node);
/* Whether the lookups agree with the list: every instance found by its
 * id, node and label, the tables' sizes, each node's live count, no lost
 * instance on a node that is up. 0, or
 * -EINVAL with why. O(nodes x instances): for tests (RS_CHECK_TABLES=1
 * makes every period check it and abort on a mismatch). */
int rsd_tables_check(rsd *d, char *why, size_t len);
rsd_pending *rsd_pending_for(rsd *d, const char *label);
/* label's service has an event seq (its newest known, rsd_svc.ev_newest). */
void rsd_event_seen(rsd *d, const char *label, uint64_t seq);
/* ... rsd wrote it now (also its ring of newest seqs, if it has one). */
void rsd_event_written(rsd *d, const char *label, uint64_t seq);
/* store_event_each for one label, scanning down from its newest known
 * event; the newest `limit` (after 0) from the service's ring of newest
 * seqs when it has them (RSD_EV_RING), each row read by its seq and
 * checked. The caller's fn should tell rsd_event_seen the seqs it gets
 * (the first read after a start finds the newest). */
int rsd_label_events(rsd *d, const char *label, uint64_t after, uint32_t limit,
		     store_event_fn fn, void *arg);
/* Appends an event row (inside the caller's transaction, if any). */
void rsd_event(rsd *d, const char *label, uint64_t inst, const char *node,
	       const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Sends m to a node's agent; -ENOTCONN if it is not connected. Start and
 * Stop are orders: numbered and kept until acknowledged if the agent
 * speaks RS_FEAT_ORDERS. Inside a transaction m is taken (left empty)
 * and sent when it commits. */
int rsd_send_agent(rsd *d, rsd_node *n, rs_msg *m);
/* Orders of n not acknowledged: resent now (inside a transaction: held,
 * ahead of any order decided after this call). */
void rsd_orders_resend(rsd *d, rsd_node *n);
/* Whether an order about instance id (a Start only, if start_only) is
 * still on its way to n (kept, not acknowledged). */
bool rsd_order_pending(const rsd_node *n, uint64_t id, bool start_only);
/* Resends every node's orders unacknowledged for RSD_ORDER_RESEND_MS
 * (backing off, lib/orders.h) as of heard_ms: the time up to which rsd
 * has read its agents' messages (an acknowledgement waiting in rsd's own
 * queue is not late). */
void rsd_orders_due(rsd *d, uint64_t heard_ms);
/* Desired against observed, incrementally: an instance placed (pending)
 * whose node has said nothing of it for RSD_WATCH_MS, with no order
 * about it on its way, makes rsd ask that node for a Hello (its
 * reconciliation starts what is missing). Only placed instances are
 * watched. Checks the ones due by now_ms, in due order, for at most
 * budget_ns (0: all; each turn of the loop gives RSD_WATCH_SLICE_NS). */
void rsd_watch_check(rsd *d, uint64_t now_ms, uint64_t budget_ns);
/* A turn of the loop: from libev's poll returning to the last thing
 * before it polls again (rs_loop_turn_seconds; RS_SLOW_TURN_MS=N logs
 * each turn of N ms or more with what it did). rsd_turn_watch starts
 * the watcher that begins one; the agents' prepare watcher ends it. */
void rsd_turn_watch(rsd *d);
/* Retention: the oldest events past --events-keep or --events-max-age,
 * one chunk (its own short write) at a time: the period's call (period
 * true) allows RSD_EVENTS_PRUNE_MAX rows and takes a chunk, each turn of
 * the loop takes one more until a chunk comes back short or the
 * allowance is spent. Not while a transaction is open. */
void rsd_events_prune(rsd *d, bool period);
void rsd_turn_end(rsd *d);
int rsd_send_start(rsd *d, rsd_inst *in);
/* The service's current spec for a live instance, applied without restart. */
int rsd_send_respec(rsd *d, rsd_inst *in);
/* Stop; forget: the agent drops it once dead; restart: starts it again. */
int rsd_send_stop(rsd *d, rsd_inst *in, bool forget, bool restart);
/* A recorded operation starts (lib/opsm: recorded -> running): queued,
 * its caller waits. */
void rsd_pending_add(rsd *d, rsd_pending *p);
/* Finishes a pending request: reply (if wanted), close its op (its state
 * from lib/opsm by code: 0 done, RS_E_ROLLED_BACK rolled back,
 * RS_E_TIMEOUT timed out, p->cancelled cancelled, else failed), free it. */
void rsd_pending_done(rsd *d, rsd_pending *p, int code, const char *json,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Re-checks pending requests against the table (after any change). */
void rsd_pending_check(rsd *d);
bool rsd_istate_live(rs_istate s);
/* Whether in is no longer one its service wants even if the service is
 * wanted up: as many newer instances (not standbys) as its replicas were
 * made since (an up after a down that had not finished stopping it). */
bool rsd_inst_superseded(rsd *d, const rsd_inst *in);
/* Live instances placed on node (its kept count if rsd knows the node). */
int rsd_node_instances(rsd *d, const char *node);
/* The node for an instance of label: `want` if given (and up), else the
 * connected node its service's placement allows with the fewest instances
 * of label, then the fewest live instances; `avoid` only if there is no
 * other. */
rsd_node *rsd_place_label(rsd *d, const char *want, const char *avoid,
			  const char *label);
/* The same for spec (its label, placement; NULL: any node). A node at its
 * capacity (Hello.capacity instances, 0 = no limit) takes no more. */
rsd_node *rsd_place_spec(rsd *d, const rs_spec *spec, const char *want,
			 const char *avoid);
/* Whether n's agent announces every feature spec needs (RS_FEAT_*). */
bool rsd_node_speaks(const rsd_node *n, const rs_spec *spec);
/* Replaces a node's labels (copies). */
void rsd_node_set_labels(rsd_node *n, char *const *labels, size_t nl);
/* Creates, stores (own transaction) and starts one more instance of s on
 * the best node for it. -ENODEV: no node. */
int rsd_start_instance(rsd *d, rsd_svc *s);
/* want of them in one transaction: 0 (all), -ENODEV (no node for the
 * rest; the ones placed run), -EIO (none); *started (or NULL): how many. */
int rsd_start_instances(rsd *d, rsd_svc *s, uint32_t want, uint32_t *started);
/* Moves lost instances of wanted services to another node (node loss):
 * up to RSD_MOVE_SLICE (or RSD_MOVE_SLICE_MS) a turn, each turn its own
 * transaction, the next after the loop's other work, --max-moves in all
 * from one period's call (period true) to the next; a call between them
 * (a tick, a revoke) moves what is left of that. */
void rsd_reschedule_lost(rsd *d, bool period);
/* Drops the period's moves not yet made and frees their list (rsd's
 * exit). */
void rsd_reschedule_stop(rsd *d);
/* The one writer of an instance's state (lib/instsm.c): steps in by ev
 * (x may be NULL: nothing wanted, no report), saves it first inside an
 * open transaction (rsd_tx_save) unless ev is a fact (a report, a node's
 * loss), sets the new state and, for
 * IM_FX_CLEAR, pid 0. The caller carries out fx (its row, orders,
 * events) after or inside its own transaction. -EINVAL: the table refuses
 * the move; in unchanged, logged (a bug in the caller). */
int rsd_inst_move(rsd *d, rsd_inst *in, instsm_event ev, const instsm_in *x,
		  instsm_fx *fx);
/* If in is the active instance of a clone and no longer serves, makes the
 * running standby active (and in the standby). Inside an rsd_tx_begin
 * transaction: a failed commit switches back. */
void rsd_switch_over(rsd *d, rsd_inst *in);

/* agents.c */
/* The agents socket's wake-up is over: its batch is committed. */
void rsd_agents_batch_end(net_sock *s, void *arg);
/* The batch's transaction ended (committed or not): its Hellos' nodes
 * stay up, or are put back as they were. */
void rsd_batch_hellos_end(rsd *d, bool committed);
/* Writes the rows the batch's events changed (each once, as it is now),
 * inside the batch's transaction, before it commits; drop: forgets them
 * (the batch aborts: the rows are not written, the instances restored). */
void rsd_batch_rows(rsd *d, bool drop);
/* Asks node n's agent for a Hello (Rehello). */
void rsd_ask_hello(rsd *d, rsd_node *n);
/* Sends buf to node n's agent: queued for the frame of this turn when it
 * speaks RS_FEAT_BATCH (sent by rsd_agents_flush), else now. 0 or -errno
 * (a queued message's own failure comes later: counted and logged). */
int rsd_agent_out(rsd *d, rsd_node *n, const uint8_t *buf, size_t len);
/* Sends node n's queue now (its peer is about to change, say). */
void rsd_agent_flush(rsd *d, rsd_node *n);
/* Sends every queue (the loop is about to wait; a node is forgotten). */
void rsd_agents_flush(rsd *d);
/* Starts (on) or stops the watcher that flushes before each wait. */
void rsd_agents_out_watch(rsd *d, bool on);
void rsd_agents_recv(net_sock *s, const net_peer *peer, const uint8_t *buf,
		     size_t len, void *arg);
/* Delivers ev (now) to n's membership machine and carries out what it
 * decides, each decision after its transaction commits; peer: where a
 * message came from (for a Rehello), or NULL. Hello is on_hello's. The
 * moves off a node lost (a tick, a revoke) are the caller's, after:
 * rsd_reschedule_lost (the period calls it once every node ticked). */
void rsd_node_event(rsd *d, rsd_node *n, nodesm_event ev, const net_peer *peer);
/* The period's tick of n, at until: the time up to which rsd has read
 * every agent message (net_sock_heard_until): a node whose beat waits in
 * rsd's own backlog is not silent. Nothing if n was heard after until.
 * What it records joins the open batch (rsd_tx_batch): the caller
 * commits it (rsd_batch_flush) and checks the pending requests. */
void rsd_node_tick(rsd *d, rsd_node *n, uint64_t until);
/* The store's name for a membership state. */
rs_node_state rsd_node_state_of(nodesm_state s);
/* The membership times for a node TTL and fence margin (ms). */
void rsd_node_cfg(nodesm_cfg *c, uint32_t ttl_ms, uint32_t margin_ms);

/* metrics.c */
/* Serves /metrics and /healthz on HOST:PORT from d's loop. */
int rsd_metrics_start(rsd *d, const char *hostport);
/* page.c: the status page (GET / and /status.json on the metrics
 * endpoint; httpd_page_fn). */
unsigned rsd_page(void *arg, const char *url, bool local, prom_buf *b,
		  const char **type);
void rsd_metrics_stop(rsd *d);
void rsd_count(rsd *d, const char *kind, const char *label, const char *node,
	       const char *reason);

/* script.c */
/* The REASON word a recovery script gets for an exit reason. */
const char *script_reason(rs_exit_reason r);
/* Runs `script label reason incarnation` for a dead instance. */
int rsd_script_run(rsd *d, const char *script, const char *label,
		   uint64_t inst, rs_exit_reason reason, uint32_t incarnation);
void rsd_scripts_kill(rsd *d);

/* control.c, for the other operations */
/* Answers rq, whose decision could not be recorded (r from the store),
 * with RS_E_INTERNAL: "cannot record 'VERB LABEL': WHY; nothing was
 * changed", and logs it. The caller changed nothing (or rsd_tx_commit
 * undid it) and sent nothing. */
void rsd_reply_unrecorded(rsd *d, const net_peer *peer, const rs_request *rq,
			  int r);
/* Replies code with a formatted message and no payload. */
void rsd_reply_err(rsd *d, const net_peer *peer, uint64_t id, int code,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
rsd_pending *rsd_op_new(rsd *d, const net_peer *peer, const rs_request *rq,
			uint32_t default_ms);
/* Stores svc and si (if given), the op and an event in one transaction,
 * then queues p; on failure replies (rsd_reply_unrecorded) and frees p
 * (-EIO). Orders sent after it returns 0 follow the commit. */
int rsd_op_commit(rsd *d, const net_peer *peer, const rs_request *rq,
		  const store_service *svc, const store_instance *si,
		  rsd_pending *p, const char *what);
/* The service rq names, or NULL after replying unknown/busy. */
rsd_svc *rsd_svc_for_op(rsd *d, const net_peer *peer, const rs_request *rq);
/* Copies the fields mask (RS_EDIT_*) names from src into dst. 0, -ENOMEM,
 * or -E2BIG: the command or the environment would pass RS_ARGV_MAX. */
int rsd_spec_merge(rs_spec *dst, const rs_spec *src, uint32_t mask);
/* Whether two specs are the same in every field (apply.c). */
bool rsd_spec_eq(const rs_spec *a, const rs_spec *b);
/* Adds svc's spec as its label's next revision (rsctl history), by
 * d->cur_actor, inside the open transaction. Returns 0 or -errno. */
int rsd_revision_add(rsd *d, const store_service *svc, const char *kind);
/* Replies to a failed rsd_spec_merge of label's spec (r < 0): -E2BIG is
 * the request's fault (RS_E_INVAL, the limit), anything else internal. */
void rsd_reply_merge_err(rsd *d, const net_peer *peer, uint64_t id,
			 const char *label, int r);

/* signal.c: rsctl reload, rsctl kill (RS_V_RELOAD, RS_V_KILL) */
void rsd_signal(rsd *d, const net_peer *peer, const rs_request *rq);

/* update.c: rsctl update (live update across instances and services) */
void rsd_update(rsd *d, const net_peer *peer, const rs_request *rq);
/* An update-* event of instance in from its agent. */
void rsd_update_event(rsd *d, rsd_inst *in, rs_event_kind kind,
		      const char *detail);
void rsd_update_free(struct rsd_update *u);
/* Whether label is one of the update's services (its --batch too). */
bool rsd_update_has_label(const struct rsd_update *u, const char *label);
/* The update's deadline passed: fail what is in flight and hand back
 * what committed (true), or nothing more to try (false: time it out). */
bool rsd_update_expired(rsd *d, rsd_pending *p);
/* "instance 2 (2 of 3) on n2: new process started" for status. */
void rsd_update_progress(const rsd_pending *p, const char *label, char *out,
			 size_t n);
/* in runs a spec rsd never stored (an update that committed on its node
 * while rsd was down): hand it back to the stored spec. */
void rsd_update_hand_back(rsd *d, rsd_inst *in);

/* auth.c: keys, ZAP, credentials, enrolment */
#define RSD_SCRIPT_CRED "rsd-script"   /* the operator recovery scripts act as */
const char *rsd_auth_reason_to_string(rsd_auth_reason r);
/* Loads the principal table; unless insecure, loads or makes rsd's key
 * pair and, on the first start, admin.cred and join.token in the folder of
 * db_path. 0 or -errno (logged). */
int rsd_auth_init(rsd *d, const char *db_path, bool insecure);
void rsd_auth_free(rsd *d);
/* The CURVE server settings of an endpoint (RSD_EP_*). */
void rsd_auth_curve(const rsd *d, int endpoint, net_curve *out);
/* The ZAP handler (net_zap_fn). */
int rsd_zap(const net_zap_req *rq, char *user, size_t usersz, void *arg);
/* The valid principal a message comes from, or NULL (counted, logged):
 * drop the message. Insecure: a stand-in admin. */
const store_principal *rsd_auth_peer(rsd *d, int endpoint, const net_peer *peer);
store_principal *rsd_principal_find(rsd *d, const char *kind, const char *name);
/* Handshake failures from the endpoints' monitors (net_event_fn). */
void rsd_auth_event(net_sock *s, net_event ev, uint32_t value, void *arg);
void rsd_auth_count(rsd *d, int endpoint, rsd_auth_reason why);
/* cred-create, cred-list, cred-revoke, token-rotate. */
void rsd_auth_request(rsd *d, const net_peer *peer, const rs_request *rq);
/* An Enroll from a join token's connection. */
void rsd_enroll(rsd *d, const net_peer *peer, const store_principal *token,
		const rs_enroll *e);
/* Tells an agent why it is refused (an Enrolled with an error code). */
void rsd_auth_refuse_agent(rsd *d, const net_peer *peer, int code,
			   const char *msg);

/* Whether a peer's version (m->sender_version) is inside the skew
 * policy; if not, counts it, logs it (once per what/version) and puts the
 * message in why. */
bool rsd_version_ok(rsd *d, int endpoint, const rs_msg *m, char *why, size_t n);

/* requests.c: duplicates of resent requests, requests waiting for nodes */
/* Whether a node rsd loaded from its store has neither said hello to
 * this process nor passed its TTL. */
bool rsd_nodes_settling(rsd *d);
/* Verbs that change nothing (never deduplicated, never parked behind
 * others). */
bool rsd_verb_read_only(rs_verb v);
/* Remembers the answer to actor's request id (copies). */
void rsd_outcome_add(rsd *d, const char *actor, uint64_t id, int code,
		     const char *json, const char *message);
/* If rq (from d->cur_actor) is a duplicate of a request rsd knows, answers
 * it (or attaches peer to the one in progress, or resumes an operation an
 * earlier rsd accepted) and returns true; false: a new request. */
bool rsd_request_dup(rsd *d, const net_peer *peer, const rs_request *rq);
/* Parks m (taken on true: the caller must not clear it) if it needs the
 * nodes and they have not all reported, or others wait before it. */
bool rsd_request_park(rsd *d, const net_peer *peer, rs_msg *m);
/* Handles the parked requests once the nodes have reported, answers
 * those past their deadline. Not from inside a handler. */
void rsd_parked_run(rsd *d);
void rsd_requests_free(rsd *d);

/* delete.c: rsctl delete */
void rsd_delete(rsd *d, const net_peer *peer, const rs_request *rq);
/* A delete that waits for its instances to stop: once none runs, deletes
 * the service and answers. */
void rsd_delete_check(rsd *d, rsd_pending *p);

/* apply.c */
/* A resumed apply (requests.c): waits for every wanted service to run and
 * every unwanted one to be down. 0 or -ENOMEM. */
int rsd_apply_resume(rsd *d, rsd_pending *p);
void rsd_apply(rsd *d, const net_peer *peer, const rs_request *rq);
/* rsd --manifest: starts the boot apply once the nodes have reported. */
void rsd_boot_check(rsd *d);
/* Starts what an apply may start now, stops what it may stop now
 * (dependents first); finishes it when every start runs and every stop
 * is down. */
void rsd_apply_check(rsd *d, rsd_pending *p);
/* Stops the timer of an apply's next turn of starts (at exit). */
void rsd_apply_stop(rsd *d);
/* The apply's deadline passed: answers RS_E_TIMEOUT naming what is still
 * stopping and starting. */
void rsd_apply_expired(rsd *d, rsd_pending *p);
void rsd_pending_free(rsd_pending *p);

/* control.c */
/* Handles one admitted request (d->cur_actor, cur_role set): its reply is
 * remembered for duplicates. */
void rsd_control_handle(rsd *d, const net_peer *peer, const rs_request *rq);
/* Drops the exports being made (rsd's exit). */
void rsd_exports_free(rsd *d);
void rsd_control_recv(net_sock *s, const net_peer *peer, const uint8_t *buf,
		      size_t len, void *arg);
void rsd_reply(rsd *d, const net_peer *peer, uint64_t id, int code,
	       const char *json, const char *message);
/* Replies 0 with o (consumed) as the JSON payload and msg (may be NULL);
 * internal error if o cannot be serialised. */
void rsd_reply_json(rsd *d, const net_peer *peer, uint64_t id, struct json_t *o,
		    const char *msg);
/* An agent's answer to a logs request. */
void rsd_logs_data(rsd *d, rsd_node *n, const rs_logs_data *ld);
/* Answers logs requests past their deadline with a timeout. */
void rsd_logs_expire(rsd *d, uint64_t now_mono);

#endif
