/*
 * agent.h - rs-agent: supervises the services of one node.
 *
 * Owns: its instances (processes, notify sockets, timers, log files), the
 * link to rsd. Must not: decide placement or touch the store.
 * The fast path is local: SIGCHLD -> rproc_step -> posix_spawn, then a
 * report to rsd; nothing waits on rsd.
 */
#ifndef RS_AGENT_H
#define RS_AGENT_H

#include <ev.h>
#include <sched.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "backoff.h"
#include "kcgroup.h"
#include "model.h"
#include "msg.h"
#include "net.h"
#include "lease.h"
#include "orders.h"
#include "prom.h"
#include "rproc.h"
#include "sendq.h"

#define AGENT_REPLAY_MAX 1024   /* unacknowledged events kept for rsd */
#define RS_FDSTORE_MAX   16     /* fds a service may store (FDSTORE=1) */

struct kmsg;
struct kproto_spawn;
struct probe_run;
struct probe_hub;

typedef struct agent agent;

/* The last words of one kind the agent said (beats by their time_ms,
 * Hellos by their seq) and when each left: an answer naming one renews
 * the lease from then. 32 Hellos cover a slow rsd's 3 s of knocks. */
#define AGENT_SAID_KEPT 32
typedef struct said_ring {
	struct {
		uint64_t key, mono;
	} w[AGENT_SAID_KEPT];
	unsigned n;
} said_ring;
typedef struct handover handover;

/* A live update's new process runs as a second instance whose id is the
 * old one's with this bit: its own keeper record and notify socket, the
 * old one's listening sockets and stored fds. */
#define HO_ID_BIT (1ull << 63)
#define HO_ID_SEQ_SHIFT 40         /* bits 40-62: which handover */
#define HO_ID_MASK ((1ull << HO_ID_SEQ_SHIFT) - 1)   /* rsd's instance id */
/* An exec probe's run is a keeper record of its own (its process, its
 * cgroup): HO_ID_BIT with handover sequence 0 (a handover's is never 0)
 * and a per-engine run number in the low bits (probe.c). */
#define PROBE_ID(seq) (HO_ID_BIT | ((seq) & HO_ID_MASK))
#define PROBE_ID_IS(id) (((id) & ~HO_ID_MASK) == HO_ID_BIT)

typedef struct inst {
	struct inst   *next;
	agent         *ag;
	uint64_t       id;
	uint64_t       generation;
	rs_spec        spec;
	rproc          rp;
	pid_t          pid;          /* 0 when no process */
	pid_t          last_pid;     /* the previous process, for reports */
	uint64_t       started_wall;
	uint64_t       ready_wall;
	uint64_t       start_ticks;
	char           status[RS_STATUS_MAX];
	bool           notify_spoke; /* sent something besides WATCHDOG=1 */
	bool           forget;       /* drop from the table once down */
	bool           refresh;      /* start again once down (refresh) */
	bool           stop_killed;  /* this stop ran out of its stop timeout:
				      * SIGKILL (the down event says so) */
	int            stuck;        /* processes of its last incarnation no
				      * SIGKILL ended (K_EXITED d >> 1): the
				      * events say so */
	int            notify_fd;
	ev_io          notify_io;
	char           notify_path[108];
	ev_timer       ready_t;      /* ready timeout */
	ev_timer       settle_t;     /* settle: ready without sd_notify */
	ev_timer       wdog_t;       /* 2 x period without WATCHDOG=1 */
	ev_timer       stop_t;       /* stop timeout -> SIGKILL */
	ev_timer       backoff_t;
	uint32_t       backoff_ms;   /* current backoff delay */
	uint64_t       exit_ns;      /* mono ns when the last death was seen */
	uint32_t       latency_us;   /* exit seen -> new pid, for the report */
	int64_t        death_log_end;/* log size when it died: its last lines
				      * end there, whatever the next one writes */
	char          *listen_held;  /* the listen set the keeper holds, as
				      * "NAME=ADDR\n..." (NULL: none) */
	handover      *ho;           /* a live update of this instance */
	struct inst   *primary;      /* set on an update's new process: the
				      * instance it may replace (not reported
				      * to rsd on its own) */
	/* health probes (probe.c): one run per role the spec has */
	struct probe_run *probes[RS_PROBE__NR];
	bool           startup_done; /* its startup probe passed (this pid) */
	bool           sd_ready;     /* READY=1 or settled (this pid): ready
				      * once its probes let it be too */
	bool           unready;      /* running, its readiness probe fails */
	char           probe_why[192]; /* a liveness kill: which probe, why */
	char           cgname[KCG_NAME_MAX]; /* its cgroup's name ("": none) */
	int            spawn_step;   /* the last failed start's KSTEP_* (0:
				      * none, or not in the child) */
	struct {                     /* usage (agent/usage.c): its cgroup's,
				      * sampled every USAGE_PERIOD_S */
		bool     ok;         /* sampled, for this process */
		uint64_t cpu_usec;   /* CPU time (user + system) */
		uint64_t mem;        /* memory now, bytes */
		uint64_t mem_peak;   /* the most seen (the kernel's peak where
				      * it keeps one) */
		uint32_t tasks;      /* processes and threads */
		uint64_t time_ms;    /* wall clock of the sample */
		pid_t    pid;        /* the process sampled */
	} use;
	rs_usage       use_sent;     /* the usage last sent to rsd (usage_beat) */
	uint64_t       use_sent_ms;  /* when (mono); 0: not since the Welcome */
} inst;

typedef struct replay_ent {
	uint64_t seq;
	uint64_t prev;       /* the seq of the event before it (lib/evchain.h) */
	uint8_t *buf;
	size_t   len;
} replay_ent;

struct agent {
	struct ev_loop *loop;
	char            node[RS_NODE_MAX];
	char            boot_id[64];
	char           *labels[RS_NODE_LABELS_MAX + 1];  /* --label, for placement */
	size_t          nlabels;
	uint32_t        capacity;     /* --capacity: most instances, 0 = any */
	const char     *state_dir;
	const char     *rsd_ep;
	net_sock       *link;
	inst           *insts;
	int             keeper_fd;    /* SOCK_SEQPACKET to the keeper */
	pid_t           keeper_pid;
	int64_t         keeper_proto; /* its KEEPER_PROTO (0: older than 2) */
	/* cgroups (docs/design.md, "A cgroup per instance"): cg_off says
	 * why the agent wants none (--cgroups=off, RS_TEST_NO_CGROUPS=1),
	 * NULL: it does; cg_on: the keeper has them and each spawn names its
	 * instance's cgroup */
	const char     *cg_off;
	bool            cg_on;
	bool            cg_kill;      /* cgroup.kill exists */
	char            cg_where[320];/* the node's subtree, or why none */
	unsigned        cg_ctl;       /* RS_CTL_* the keeper enforces limits
				       * with (keeper protocol 6; 0: none) */
	unsigned        cg_ctl_v1;    /* of which on a cgroup v1 hierarchy */
	uint32_t        privs;        /* RS_PRIV_* of a profile it can apply
				       * (keeper protocol 7, its capabilities;
				       * Hello field 11) */
	uint64_t        cap_perm;     /* its permitted capabilities (what a
				       * profile's caps may keep) */
	cpu_set_t       cpus;         /* the CPUs it may run on (what a
				       * profile's cpus may name) */
	char            cg_v1mem[PATH_MAX]; /* the node's v1 memory subtree
				       * ("": memory on v2, or none) */
	ev_timer        usage_t;      /* usage sampling (agent/usage.c) */
	ev_io           keeper_io;
	uint8_t        *kbuf;         /* KEEPER_MSG_MAX */
	ev_idle         kq_idle;
	struct kmsg    *kq;           /* grown as needed, never dropped */
	size_t          kq_len, kq_cap;
	ev_timer        beat_t;
	ev_signal       sigterm_w, sigint_w;
	uint32_t        beat_ms;
	uint64_t        sd_watchdog_ms;   /* systemd's WATCHDOG_USEC, ms */
	uint64_t        log_max;          /* rotate a log above this size */
	ev_timer        rotate_t;
	uint64_t        session;      /* random, tells rsd this process apart */
	pid_t           keeper_busy_pid; /* the engine a busy keeper serves */
	/* trust (enroll.c) */
	bool            insecure;     /* plaintext to an rsd --insecure */
	const char     *token_file;   /* --token-file: enrol with it */
	net_curve       curve;        /* this node's key, rsd's pinned key */
	char            refused[256]; /* rsd's last refusal, logged once */
	uint64_t        ho_seq;       /* handovers started (candidate ids) */
	uint64_t        probe_seq;    /* exec probe runs started (PROBE_ID) */
	uint64_t        seq;          /* last envelope seq sent */
	uint64_t        hello_seq;    /* seq of the last Hello sent */
	uint64_t        event_seq;    /* seq of the last event kept (each
				       * event names the one before it) */
	uint64_t        rsd_seen_ms;  /* mono time of rsd's last message */
	uint64_t        said_ms;      /* mono time of the last Hello or beat
				       * sent: the lease runs from it */
	said_ring       beats;        /* a BeatAck echoes a beat's time_ms */
	said_ring       hellos;       /* a Welcome names a Hello's seq */
	/* the lease (fence: stop instances): rsd's Welcome gives its length;
	 * each answer from rsd (Welcome, BeatAck) renews it */
	lease           lease;        /* lib/lease.h: length, deadline (the
				       * keeper has the same), fenced */
	char            fence_why[96];/* "fenced: no word from rsd for N ms" */
	ev_timer        lease_t;
	bool            welcomed;
	/* the knocks (Hellos until welcomed: lib/backoff.h) and what the
	 * link's monitor says (docs/design.md, "A busy rsd is not a lost
	 * one") */
	knock           kn;
	bool            monitored;    /* net_monitor reports the link */
	bool            link_alive;   /* a handshake completed, no disconnect since */
	bool            rsd_slow;     /* silent on a live link (logged once) */
	bool            held;         /* an event could not be sent: events
				       * wait in the replay ring until the next
				       * Welcome resends them in order */
	/* this turn's messages for rsd (lib/sendq.h), when the rsd that
	 * welcomed us on this connection speaks RS_FEAT_BATCH: sent as one
	 * frame before the loop waits */
	uint64_t        rsd_features; /* of that Welcome; 0 after a new connection */
	sendq           outq;
	bool            outq_events;  /* it holds an event (or a replayed one) */
	ev_prepare      out_w;
	orders_in       oin;          /* rsd's orders applied (lib/orders.h) */
	uint64_t        orders[ORD__NR]; /* orders seen, by verdict */
	uint64_t        drop_orders[8]; /* RS_TEST_DROP_ORDERS: lose the first */
	size_t          ndrop_orders;   /* copy of these order numbers */
	uint64_t        forget_orders[8]; /* RS_TEST_FORGET_ORDERS: take these */
	size_t          nforget_orders;   /* and do nothing (a lost action) */
	unsigned        test_knocks;      /* RS_TEST_KNOCKS: Hellos again */
	bool            exiting;
	struct probe_hub *probe_hub;  /* probe.c: libcurl on this loop */
	uint64_t        rsd_features_last; /* the last welcoming rsd's
				       * features (a Hello's words for it) */
	struct httpd   *http;         /* --metrics */
	char            metrics_ep[128];
	prom_hist       h_restart;    /* death seen -> new pid, seconds */
	replay_ent      replay[AGENT_REPLAY_MAX];
	size_t          replay_head, replay_len;
	bool            replay_due;   /* lib/replay.h: a stale Welcome came;
				       * the next BeatAck replays unless the
				       * latest Hello's Welcome does first */
};

/* agent.c */
int agent_init(agent *ag, struct ev_loop *loop);
void agent_fini(agent *ag);
/* Reports an instance event to rsd (queued for replay until acked). */
void agent_report(agent *ag, inst *in, rs_event_kind kind,
		  const char *detail);
/* Called when the last instance is gone during shutdown. */
void agent_maybe_exit(agent *ag);
/* If the lease has ended (rsd silent for lease_ms), stops every fence:
 * stop instance (reason fenced) once; called by its timer and before an
 * exit or a backoff is handled (after a freeze those may come first). */
void agent_lease_check(agent *ag);

/* svc.c */
inst *svc_find(agent *ag, uint64_t id);
inst *svc_find_pid(agent *ag, pid_t pid);
/* Creates (or re-specs) instance id from a Start and starts it. */
int svc_start(agent *ag, const rs_start *st);
/* Stops instance id; forget drops it once dead, restart starts it again
 * (a refresh: a deliberate restart, not counted as a failure). */
int svc_stop(agent *ag, uint64_t id, bool forget, bool restart);
void svc_stop_all(agent *ag);
/* Sends sg's signal to its instance's main process or group (rsd's
 * Signal order). -ESRCH (logged) if it has no running process here. */
int svc_send_signal(agent *ag, const rs_signal *sg);
/* The keeper saw instance id's process pid die at mono time ns. false if
 * no instance has that process (any more). */
bool svc_child_exited(agent *ag, uint64_t id, pid_t pid, int wstatus, bool oom, int stuck,
		      uint64_t ns);
/* Rebuilds an instance a previous engine ran (from the keeper): live
 * process pid (or a dead one whose exit follows), started at wall ms. */
int svc_adopt(agent *ag, const rs_start *st, pid_t pid, uint64_t ticks,
	      uint64_t started_wall, uint32_t restarts, int notify_fd);
void svc_fill_info(const inst *in, rs_iinfo *out);
/* Asks the keeper to start one run of an exec probe of in as keeper
 * record key, without waiting: argv[argc] as the service's user, in its
 * cwd and env, its output appended to the service's log, in cgroup
 * cgname ("" or NULL: none; its process group only). The keeper's
 * K_SPAWNED (pid or -errno) comes to probe_exec_spawned. 0, or -errno (a
 * user that does not resolve, a keeper that cannot be reached). */
int svc_spawn_probe(inst *in, uint64_t key, char **argv, size_t argc,
		    const char *cgname);
void svc_free(inst *in);

/* handover.c: live update (rsctl update) of one instance */
/* Starts handing instance st->instance_id over to st->spec. */
int ho_begin(agent *ag, const rs_start *st);
/* X_RS_PREPARED=1 from the old instance. */
void ho_prepared(inst *in);
/* The new process (cand) moved from state `from`. */
void ho_cand_moved(inst *cand, rs_istate from);
/* The old instance's process died during its update. */
void ho_primary_exited(inst *in);
/* A candidate's readiness probe failed after it was ready, within
 * min-healthy: the update rolls back (detail: the probe's words). */
void ho_cand_unready(inst *cand, const char *detail);
void ho_free(inst *in);
/* The instance as rsd knows it: an update's new process is its old one's. */
uint64_t svc_public_id(const inst *in);
/* svc.c internals handover.c uses */
inst *svc_new(agent *ag, uint64_t id);
void svc_apply(inst *in, rproc_event ev);

/* metrics.c: --metrics HOST:PORT */
int agent_metrics_start(agent *ag, const char *hostport);
void agent_metrics_stop(agent *ag);

/* logs.c */
/* Answers rsd's LogsGet with a LogsData. */
void logs_get(agent *ag, const rs_msg *req);
/* The size of the instance's log now, or -1. */
int64_t logs_size(agent *ag, const inst *in);
/* The last (up to 3) lines the instance's last process (last_pid) wrote
 * (an unstamped log: before death_log_end), on one line, into out. */
void logs_tail_text(agent *ag, const inst *in, char *out, size_t n);
/* With a keeper older than protocol 4 (whose services write their logs
 * themselves): rotates every instance log over ag->log_max (copy to .1,
 * truncate). A newer keeper rotates by itself: nothing to do. */
void logs_rotate_all(agent *ag);

/* notify.c */
/* Creates the instance's notify socket under the state dir (or takes
 * fd, the one the keeper kept) and hands a copy to the keeper. */
int notify_open(inst *in, int fd);
/* Closes it; unlinks the socket file only if unlink_path (a live service
 * outliving this engine keeps it). */
void notify_close(inst *in, bool unlink_path);

/* kclient.c: the keeper link (keeper.h) */
/* rs-agent's exit status when its node has a keeper of another state
 * dir (docs/design.md, "One keeper per node"). */
#define RS_AGENT_EXIT_OTHER_KEEPER 3
/* Whether this node's keeper (found by its host-wide name) is the one of
 * ag->state_dir: 0 if so or if the node has none (or a 0.2.0 one, which
 * is not named); -EEXIST after logging who holds it otherwise; -errno.
 * retire: one of another state dir that keeps nothing (no engine, no
 * service, no unreported exit) is told to exit first, and 0 follows. */
int kc_node_check(const agent *ag, bool retire);
/* Connects to the state dir's keeper, starting one if there is none:
 * -EEXIST (logged) when a keeper of another state dir took the node's
 * name first. Call before anything else opens fds or threads (it may
 * fork). */
int kc_start(agent *ag);
/* Says hello and adopts what the keeper runs; then watches the link. */
int kc_attach(agent *ag);
/* Starts the process sp describes (borrowed) as instance id and waits
 * for its pid. fdsrc: the instance whose listening/stored fds it gets (0:
 * its own). uid: run as this uid, gid and sp's groups; NULL: as the
 * keeper. 0, -EPROTO (the keeper is of an older build) or -errno. */
/* Sends a K_SPAWN without waiting for its K_SPAWNED (an exec probe's run:
 * probe_exec_spawned takes the answer). 0 or -errno. */
int kc_spawn_async(agent *ag, uint64_t id, const struct kproto_spawn *sp,
		   const uid_t *uid, gid_t gid);
/* A failed start's *step (may be NULL): the KSTEP_* the child failed at
 * (keeper protocol 7; else 0). */
int kc_spawn(agent *ag, uint64_t id, uint64_t fdsrc, uint32_t restarts,
	     const struct kproto_spawn *sp, const uid_t *uid, gid_t gid,
	     pid_t *pid, uint64_t *ticks, int *step);
/* A running instance's nice (set) and affinity (cpus, "": leave it) on
 * every thread of it (K_RENICE): 0, or -errno with why in err[n]. */
int kc_renice(agent *ag, uint64_t id, bool set, int nice, const char *cpus,
	      char *err, size_t n);
/* sig to every process of the instance: its group and its cgroup. */
void kc_kill(agent *ag, uint64_t id, int sig);
/* The stop signal: to the main process's group; what outlives the main
 * process gets it then, and the rest of the instance's stop timeout to
 * end before cgroup.kill. */
void kc_stop(agent *ag, uint64_t id, int sig);
/* sig to the main process only. */
void kc_kill_main(agent *ag, uint64_t id, int sig);
/* Swaps two instances' processes and notify sockets in the keeper, if
 * they still run apid and bpid: 0, or -ESRCH when one has died. */
int kc_swap(agent *ag, uint64_t a, pid_t apid, uint64_t b, pid_t bpid);
void kc_forget(agent *ag, uint64_t id);
/* Tells the keeper the lease deadline (mono ms) and length (K_LEASE). */
void kc_lease(agent *ag, uint64_t deadline_ms, uint32_t lease_ms);
void kc_meta(agent *ag, const inst *in);
int kc_fd_add(agent *ag, uint64_t id, int kind, const char *name, int fd);
void kc_fd_del(agent *ag, uint64_t id, int kind, const char *name);
/* Hands a service's FDSTORE=1 fd to the keeper; replace: drop what name
 * held first. The keeper keeps at most RS_FDSTORE_MAX. */
int kc_fd_store(agent *ag, uint64_t id, const char *name, int fd, bool replace);
/* Waits until the keeper has done everything sent before. */
int kc_sync(agent *ag);
/* usage.c: samples every running instance's usage from its cgroup (CPU
 * time, memory now and peak, tasks) every USAGE_PERIOD_S on the loop;
 * usage_start after the keeper's attach. */
#define USAGE_PERIOD_S 5.0
void usage_start(agent *ag);
void usage_sample(agent *ag);
/* RS_FEAT_USAGE: fills b->usage (allocated, at most RS_BEAT_USAGE_MAX)
 * with the instances whose usage is due (lib/usagesel.h) at mono now_ms,
 * and notes them sent. The ones a full beat leaves out go in the next
 * beats (one just sent waits USAGE_RESEND_MS: all get their turn on a
 * node of fewer than 10 x RS_BEAT_USAGE_MAX instances). 0 or -ENOMEM. */
int usage_beat(agent *ag, rs_beat *b, uint64_t now_ms);
/* A new Welcome: the rsd may know none of it (a restart), send all. */
void usage_resend_all(agent *ag);
/* Writes the rs_instance_* usage families of /metrics. */
void usage_metrics(agent *ag, prom_buf *b);

/* Writes new limits into running instance id's cgroups (what changed)
 * and waits for the keeper's answer: 0, or -errno with why in err[n]. */
int kc_limits(agent *ag, uint64_t id, const rs_limits *l, char *err, size_t n);
/* Tells the keeper to exit (every service is down) and waits for it. */
void kc_quit(agent *ag);

/* A (re)connection to rsd completed: say hello at once. */
void agent_link_up(agent *ag);
/* Sends buf to rsd: into this turn's frame when rsd takes batches, else
 * now. event: an event (a failed frame holds the events, as a failed
 * send of one). 0 or -errno. */
int agent_out(agent *ag, const uint8_t *buf, size_t len, bool event);
/* Sends this turn's frame now. */
void agent_flush(agent *ag);
/* The connection to rsd dropped (a ZMTP heartbeat timeout, a reset). */
void agent_link_down(agent *ag);

/* enroll.c */
/* Loads the node's key from STATE/agent.key, or enrols with the token
 * file first (blocking; retries while rsd cannot be reached). Fills
 * ag->curve. Insecure: nothing. 0, or -errno after logging why. */
int agent_keys(agent *ag);
/* The link's events (net_event_fn): logs handshake failures; a completed
 * handshake (a new connection) makes the agent say hello at once. */
void agent_link_event(net_sock *s, net_event ev, uint32_t value, void *arg);

#endif
