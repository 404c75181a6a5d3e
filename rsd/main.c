/*
 * rsd - the rs control daemon.
 *
 *   rsd [--db FILE] [--agents EP] [--control EP] [--metrics HOST:PORT]
 *       [--node-ttl SECONDS] [--events-keep N] [--events-max-age DURATION]
 *       [--max-moves N]
 *       [--ready-fd N] [--insecure] [-v]
 */
#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <inttypes.h>

#include "clock.h"
#include "httpd.h"
#include "log.h"
#include "manifest.h"
#include "rsd.h"
#include "sdnotify.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: rsd [--db FILE] [--agents EP] [--control EP] [OPTION...]\n"
"  -d, --db FILE           the rproc table (SQLite; default /var/lib/rsd/rs.db)\n"
"  -a, --agents EP         endpoint agents connect to (default\n"
"                          tcp://127.0.0.1:7701; tcp://ADDR:7701 or\n"
"                          tcp://*:7701 for a cluster)\n"
"  -c, --control EP        endpoint rsctl connects to (default\n"
"                          tcp://127.0.0.1:7700)\n"
"  -m, --metrics H:P       serve Prometheus /metrics and /healthz on HOST:PORT\n"
"                          (port 0: any), and the status page (/) to this\n"
"                          host\n"
"  -t, --node-ttl S        a node is lost after S seconds without a heartbeat\n"
"                          (default 5); also the agents' lease (fence: stop\n"
"                          services)\n"
"      --fence-margin S    slack added before a fence: stop service moves:\n"
"                          lease + its stop timeout + S (default 1)\n"
"      --events-keep N     keep at most the newest N events (default 100000;\n"
"                          0: no limit)\n"
"      --events-max-age D  drop events older than D: 90s, 10m, 2h, 7d\n"
"                          (default 7d; 0: no limit)\n"
"      --max-moves N       move at most N instances off lost nodes a second\n"
"                          (default 5000): the rest in the next periods, never\n"
"                          a long stall\n"
"  -r, --ready-fd N        write \"control=EP agents=EP\\n\" to fd N once serving\n"
"      --manifest FILE     boot: apply FILE (docs/manifest.md) once the nodes\n"
"                          report, starting services in dependency order\n"
"      --log-format F      text (default) or json: one JSON object per line\n"
"      --insecure          plaintext, no keys, everyone admin: loopback\n"
"                          endpoints only\n"
"      --control-rt P      the control socket's I/O thread at SCHED_RR\n"
"                          priority P when rsd may (CAP_SYS_NICE), back to\n"
"                          normal for a minute or more after it used a\n"
"                          quarter of a CPU (default 1; 0: never)\n"
"      --agents-io M       the agents' I/O thread: idle (default) runs it at\n"
"                          SCHED_IDLE when rsd may take it back (CAP_SYS_NICE),\n"
"                          among the normal threads for a minute or more\n"
"                          after it waited most of a window for a CPU; nice:\n"
"                          at nice 10 only\n"
"  -v                      debug logging\n"
"      --version           print rsd's version\n"
"  -h, --help              print this help\n");
}

/* Reads the boot manifest into d->boot (an apply request). A wrong file is
 * a clear error at start, before anything is touched. */
static int load_boot(rsd *d, const char *path)
{
	char err[768];
	manifest m;
	rs_request *rq;

	if (manifest_load(path, &m, err, sizeof err) < 0) {
		log_warnx("cannot boot from %s", err);
		return -EINVAL;
	}
	d->boot = calloc(1, sizeof *d->boot);
	if (!d->boot)
		fatalx("out of memory");
	rs_msg_init(d->boot, RS_MSG_REQUEST);
	rq = &d->boot->u.request;
	rq->verb = RS_V_APPLY;
	rq->no_block = true;
	rq->timeout_ms = 600000;
	rq->specs = calloc(m.n ? m.n : 1, sizeof *rq->specs);
	for (size_t i = 0; rq->specs && i < m.n; i++) {
		rs_spec_clear(&rq->specs[i]);
		if (manifest_spec(&m.svcs[i], &rq->specs[i]) < 0)
			fatalx("out of memory");
		rq->nspecs = i + 1;
	}
	manifest_free(&m);
	log_info("boot manifest %s: %zu services", path, rq->nspecs);
	return 0;
}

/* The store is newer than this rsd: say so, and how to get back, and
 * exit. The file is untouched (store_open checks before changing it). */
_Noreturn static void refuse_newer_store(const char *db)
{
	char bak[4096];
	int64_t v = -1;

	store_file_version(db, &v);
	store_backup_path(db, STORE_SCHEMA_VERSION, bak, sizeof bak);
	fatalx("the store %s has schema version %lld, newer than rsd %s knows (%d): "
	       "a newer rsd migrated it. Run that rsd again, or, to go back to this "
	       "one, stop rsd and copy %s (the file as it was before that migration; "
	       "changes made since are lost) over %s, removing %s-wal and %s-shm. "
	       "The file was not changed.", db, (long long)v, rs_version(),
	       STORE_SCHEMA_VERSION, access(bak, F_OK) == 0 ? bak : "the backup taken "
	       "before the upgrade", db, db, db);
}

/* Whether a ZeroMQ endpoint can only be reached from this host. */
static bool endpoint_local(const char *ep)
{
	static const char *const ok[] = {
		"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://",
	};

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strncmp(ep, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

/* sched_setattr's argument (linux/sched/types.h, SCHED_ATTR_SIZE_VER0). */
struct rsd_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t  nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

/* Asks for a time slice of us microseconds for thread tid under the fair
 * scheduler (Linux >= 6.12, EEVDF: a shorter slice is an earlier
 * deadline, so the thread is picked sooner when it wakes and yields
 * sooner), keeping its nice value. 0 or -errno (EINVAL before 6.12). */
static int thread_slice(int tid, int nice, unsigned us)
{
	struct rsd_sched_attr a = { .size = sizeof a, .policy = 0 /* SCHED_OTHER */,
				    .nice = nice, .runtime = (uint64_t)us * 1000 };

	return syscall(SYS_sched_setattr, tid, &a, 0) < 0 ? -errno : 0;
}

/* RS_BENCH_SLICE_US=MAIN,CONTROL,AGENTS: the slices (µs, 0: the
 * kernel's) of rsd's loop, its control socket's I/O thread and the
 * agents' I/O thread, for bench/scale.py's comparisons. */
static void bench_slices(int agents_nice)
{
	const char *env = getenv("RS_BENCH_SLICE_US");
	unsigned s[3] = { 0, 0, 0 };
	int tid[3] = { (int)getpid(), net_io_thread_tid(RSD_IO_CONTROL),
		       net_io_thread_tid(RSD_IO_AGENTS) };
	int nice[3] = { 0, 0, agents_nice }, r;

	if (!env || sscanf(env, "%u,%u,%u", &s[0], &s[1], &s[2]) < 1)
		return;
	for (int i = 0; i < 3; i++)
		if (s[i] && tid[i] > 0 && (r = thread_slice(tid[i], nice[i], s[i])) < 0)
			log_warnx("RS_BENCH_SLICE_US: thread %d: %s", tid[i], strerror(-r));
}

/* The control socket's ZeroMQ I/O thread at SCHED_RR (--control-rt),
 * watched by lib/rtguard.h: back among the fair threads for a while when
 * it used more than its share of a CPU (a flood of handshakes). */
#define RSD_CTLRT_TICK_S 0.25   /* a look at its CPU time this often */

/* A CPU-time clock, in ns (0 when it cannot be read). */
static uint64_t cpu_clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A thread's CPU time (a thread of this process: the kernel's clock id
 * for another thread of the group, as pthread_getcpuclockid makes). */
static uint64_t thread_cpu_ns(int tid)
{
	return cpu_clock_ns((clockid_t)((~(unsigned)tid << 3) | 6));   /* per thread, sched */
}

static void ctlrt_effect(rsd *d, rtg_effect fx, uint64_t now);

static void ctlrt_event(rsd *d, rtg_event ev, uint64_t now)
{
	rtg_effect fx;

	if (rtguard_step(&d->ctlrt, ev, thread_cpu_ns(d->ctlrt_tid), now, &fx) == 0)
		ctlrt_effect(d, fx, now);
}

static void ctlrt_effect(rsd *d, rtg_effect fx, uint64_t now)
{
	struct sched_param sp = { .sched_priority = d->ctlrt_prio };
	bool again = d->ctlrt.lowered > 0;

	switch (fx) {
	case RTG_FX_NONE:
		break;
	case RTG_FX_RAISE:
		if (sched_setscheduler(d->ctlrt_tid, SCHED_RR, &sp) < 0) {
			log_info("the control socket's I/O thread stays at the normal "
				 "priority: %s (--control-rt needs CAP_SYS_NICE)", strerror(errno));
			ctlrt_event(d, RTG_EV_REFUSED, now);
			ev_timer_stop(d->loop, &d->ctlrt_w);
			break;
		}
		if (again)
			log_info("the control socket's I/O thread is at SCHED_RR %d again",
				 d->ctlrt_prio);
		ctlrt_event(d, RTG_EV_RAISED, now);
		break;
	case RTG_FX_LOWER:
		sp.sched_priority = 0;
		if (sched_setscheduler(d->ctlrt_tid, SCHED_OTHER, &sp) < 0)
			log_warnx("the control socket's I/O thread used %u%% of a CPU "
				  "over %u ms, and cannot be lowered: %s", d->ctlrt.last_pct,
				  d->ctlrt.last_ms, strerror(errno));
		else
			log_warnx("the control socket's I/O thread used %u%% of a CPU "
				  "over %u ms (a flood of control connections?): at the "
				  "normal priority for %llu s", d->ctlrt.last_pct,
				  d->ctlrt.last_ms,
				  (unsigned long long)d->ctlrt.cur_hold_ms / 1000);
		break;
	}
}

static void ctlrt_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	rsd *d = w->data;

	(void)loop;
	(void)revents;
	ctlrt_event(d, RTG_EV_TICK, clock_mono_ms());
}

/* A guard with its limits from the environment variable name
 * (PCT,WINDOW_MS,HOLD_MS[,OWN_PCT]; tests: PCT 0 counts any use, OWN_PCT
 * 0 takes no lowering for rsd's own work), else the share
 * def_pct (0: rtguard's) and rtguard's window and hold. */
static void guard_init(rtguard *g, const char *name, unsigned def_pct)
{
	const char *env = getenv(name);
	unsigned pct = 0, win = 0, hold = 0, own = 0;
	int n = env ? sscanf(env, "%u,%u,%u,%u", &pct, &win, &hold, &own) : 0;
	bool given = n >= 3;

	if (env && !given) {
		log_warnx("%s wants PCT,WINDOW_MS,HOLD_MS[,OWN_PCT]: ignored", name);
		win = hold = 0;
	}
	rtguard_init(g, given ? pct : def_pct, win, hold);   /* 0: the defaults ... */
	if (given)
		g->share_pct = pct;                          /* ... but a share given as 0 */
	if (n == 4)
		g->own_pct = own;                            /* 0: no lowering is rsd's own */
}

/* RS_CONTROL_RT_GUARD: the guard's limits (guard_init). tid: the control
 * socket's I/O thread, or -errno: not found. */
static void control_rt_start(rsd *d, int tid)
{
	guard_init(&d->ctlrt, "RS_CONTROL_RT_GUARD", 0);
	if (!d->ctlrt_prio || tid <= 0) {
		if (d->ctlrt_prio)
			log_warnx("cannot find the control socket's I/O thread: %s; it "
				  "stays at the normal priority", strerror(-tid));
		d->ctlrt.st = RTG_OFF;
		return;
	}
	d->ctlrt_tid = tid;
	ev_timer_init(&d->ctlrt_w, ctlrt_cb, RSD_CTLRT_TICK_S, RSD_CTLRT_TICK_S);
	d->ctlrt_w.data = d;
	ev_timer_start(d->loop, &d->ctlrt_w);
	ctlrt_event(d, RTG_EV_START, clock_mono_ms());
	if (d->ctlrt.st == RTG_RAISED)
		log_info("the control socket's I/O thread is at SCHED_RR %d", d->ctlrt_prio);
}

/* The agents' ZeroMQ I/O thread at SCHED_IDLE (--agents-io idle, the
 * default). At nice 10 it yielded to rsd's loop over time, but a loop
 * that woke for a control request still waited for the end of its time
 * slice (~3 ms in a cold start of 5,000 agents: the rest of the control
 * p99). The kernel preempts a SCHED_IDLE thread as soon as a normal one
 * of its core wakes; it runs the agents' bulk work (handshakes, their
 * messages) while the loop waits. It gets almost nothing while another
 * thread of its core is busy, and the agents' beats wait in the kernel
 * then, where rsd does not see them: so its time waiting for a CPU is
 * watched (lib/rtguard.h, "raised" = at SCHED_IDLE): more than
 * RSD_AGIDLE_SHARE_PCT of a window and it goes back to the fair
 * scheduler (SCHED_OTHER at its nice value) for the hold. */
#define RSD_AGIDLE_TICK_S 0.25

/* The time thread tid of this process has waited for a CPU, in *ns
 * (/proc/self/task/TID/schedstat: time on a CPU, time waiting, slices).
 * 0, or -1 when the kernel does not say. */
static int thread_wait(int tid, uint64_t *ns)
{
	char path[64];
	unsigned long long run, wait;
	FILE *f;
	int r = -1;

	snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
	if (!(f = fopen(path, "re")))
		return -1;
	if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
		*ns = wait;
		r = 0;
	}
	fclose(f);
	return r;
}

static uint64_t thread_wait_ns(int tid)
{
	uint64_t ns = 0;

	thread_wait(tid, &ns);
	return ns;
}

static void agidle_effect(rsd *d, rtg_effect fx);

/* own: the CPU time of rsd's threads but the agents' I/O thread (its
 * loop, the store's checkpointer, the control socket's I/O thread): the
 * one at SCHED_IDLE waits behind each. */
static void agidle_event(rsd *d, rtg_event ev)
{
	uint64_t all = cpu_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	uint64_t io = thread_cpu_ns(d->agidle_tid);
	rtg_effect fx;

	if (rtguard_step_own(&d->agidle, ev, thread_wait_ns(d->agidle_tid),
			     all > io ? all - io : 0, clock_mono_ms(), &fx) == 0)
		agidle_effect(d, fx);
}

static void agidle_effect(rsd *d, rtg_effect fx)
{
	struct sched_param sp = { .sched_priority = 0 };
	bool again = d->agidle.lowered > 0 && !d->agidle.last_own;

	switch (fx) {
	case RTG_FX_NONE:
		break;
	case RTG_FX_RAISE:   /* to SCHED_IDLE */
		if (sched_setscheduler(d->agidle_tid, SCHED_IDLE, &sp) < 0) {
			log_info("the agents' I/O thread stays at nice %d: %s",
				 d->agidle_nice, strerror(errno));
			agidle_event(d, RTG_EV_REFUSED);
			ev_timer_stop(d->loop, &d->agidle_w);
			break;
		}
		if (again)
			log_info("the agents' I/O thread is at SCHED_IDLE again");
		agidle_event(d, RTG_EV_RAISED);
		break;
	case RTG_FX_LOWER:   /* back among the fair threads */
		if (sched_setscheduler(d->agidle_tid, SCHED_OTHER, &sp) < 0)
			log_warnx("the agents' I/O thread waited for a CPU %u%% of %u ms, "
				  "and cannot leave SCHED_IDLE: %s", d->agidle.last_pct,
				  d->agidle.last_ms, strerror(errno));
		else if (d->agidle.last_own)   /* rsd's loop: it ends its work */
			log_info("the agents' I/O thread waited for a CPU %u%% of %u ms "
				 "while rsd's other threads ran %u%% of it: at nice %d for %.1f s",
				 d->agidle.last_pct, d->agidle.last_ms,
				 d->agidle.last_own_pct, d->agidle_nice,
				 d->agidle.own_hold_ms / 1000.0);
		else
			log_warnx("the agents' I/O thread waited for a CPU %u%% of %u ms "
				  "while rsd's other threads ran %u%% of it (another busy "
				  "thread on rsd's core?): at nice %d for %llu s",
				  d->agidle.last_pct, d->agidle.last_ms,
				  d->agidle.last_own_pct, d->agidle_nice,
				  (unsigned long long)d->agidle.cur_hold_ms / 1000);
		break;
	}
}

static void agidle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	agidle_event(w->data, RTG_EV_TICK);
}

/* Whether this process may take a thread of its own out of SCHED_IDLE
 * again: the kernel allows it when the thread's nice value is one it could
 * lower the thread to (RLIMIT_NICE, or CAP_SYS_NICE). Tried as that: the
 * nice value one lower, and back. */
static bool may_leave_idle(int tid, int nice)
{
	if (setpriority(PRIO_PROCESS, (id_t)tid, nice - 1) < 0)
		return false;
	return setpriority(PRIO_PROCESS, (id_t)tid, nice) == 0;
}

/* RS_AGENTS_IO_GUARD: the guard's limits (guard_init; PCT 0 puts the
 * thread back after any wait). tid: the agents' I/O thread, or -errno:
 * not found. */
static void agents_idle_start(rsd *d, int tid, int nice)
{
	guard_init(&d->agidle, "RS_AGENTS_IO_GUARD", RSD_AGIDLE_SHARE_PCT);
	d->agidle_nice = nice;
	if (!d->agidle_on || tid <= 0) {
		d->agidle.st = RTG_OFF;
		return;
	}
	if (thread_wait(tid, &(uint64_t){ 0 }) < 0) {
		log_info("the agents' I/O thread stays at nice %d: the kernel does not "
			 "say how long a thread waits for a CPU", nice);
		d->agidle.st = RTG_OFF;
		return;
	}
	if (!may_leave_idle(tid, nice)) {
		log_info("the agents' I/O thread stays at nice %d: rsd could not take it "
			 "out of SCHED_IDLE again (--agents-io idle needs CAP_SYS_NICE "
			 "or RLIMIT_NICE)", nice);
		d->agidle.st = RTG_OFF;
		return;
	}
	d->agidle_tid = tid;
	ev_timer_init(&d->agidle_w, agidle_cb, RSD_AGIDLE_TICK_S, RSD_AGIDLE_TICK_S);
	d->agidle_w.data = d;
	ev_timer_start(d->loop, &d->agidle_w);
	agidle_event(d, RTG_EV_START);
	if (d->agidle.st == RTG_RAISED)
		log_info("the agents' I/O thread is at SCHED_IDLE");
}

/* The agents' ZeroMQ I/O thread yields the CPU to rsd's loop and to the
 * control socket's thread: at nice RSD_AGENTS_IO_NICE among the fair
 * threads, and at SCHED_IDLE (above) unless --agents-io nice: on a core
 * rsd shares, control requests waited behind a cold start's CURVE
 * handshakes. RS_BENCH_AGENTS_IO_NICE=N sets another nice value (0: as
 * the rest), for bench/scale.py's comparisons. The control socket's
 * thread goes to SCHED_RR (--control-rt). libzmq names its threads as
 * they start: each is looked for every 10 ms until found (up to a
 * second). */
static void io_threads_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	const char *env = getenv("RS_BENCH_AGENTS_IO_NICE");
	int nice = env ? atoi(env) : RSD_AGENTS_IO_NICE;
	static unsigned tries;
	static bool agents_done, control_done;
	bool last = ++tries == 100;
	rsd *d = w->data;
	int r;

	(void)revents;
	if (!agents_done) {
		r = nice ? net_io_thread_nice(RSD_IO_AGENTS, nice) : 0;
		if (r != -ESRCH || last) {
			agents_done = true;
			if (r < 0)
				log_warnx("cannot lower the priority of the agents' I/O "
					  "thread: %s, ignoring", strerror(-r));
			agents_idle_start(d, r < 0 ? r : net_io_thread_tid(RSD_IO_AGENTS),
					  nice);
		}
	}
	if (!control_done) {
		r = net_io_thread_tid(RSD_IO_CONTROL);
		if (r != -ESRCH || last) {
			control_done = true;
			control_rt_start(d, r);
		}
	}
	if (agents_done && control_done) {
		ev_timer_stop(loop, w);
		bench_slices(nice);
	}
}

static void io_threads(rsd *d)
{
	static ev_timer t;

	ev_timer_init(&t, io_threads_cb, 0., 0.01);
	t.data = d;
	ev_timer_start(d->loop, &t);
}

/* Binds both endpoints: CURVE servers behind the ZAP handler, or, with
 * --insecure, plaintext on loopback. */
static void bind_endpoints(rsd *d, const char *agents_ep, const char *control_ep)
{
	net_curve ca, cc;
	int r;

	/* two ZeroMQ I/O threads, one for the agents' connections and one
	 * for the operators': a cold start's thousands of CURVE handshakes
	 * (about 0.5 ms of that thread apiece) held a control request
	 * behind them for 100-300 ms at 1,000 agents */
	if ((r = net_configure(2, 0)) < 0)
		log_warnx("cannot size ZeroMQ's I/O threads: %s", strerror(-r));
	if (!d->insecure) {
		r = net_zap_start(d->loop, rsd_zap, d, &d->zap);
		if (r < 0)
			fatalx("cannot start the ZAP handler: %s", strerror(-r));
		rsd_auth_curve(d, RSD_EP_AGENTS, &ca);
		rsd_auth_curve(d, RSD_EP_CONTROL, &cc);
	}
	r = net_router_new_ex(d->loop, agents_ep, 1, RSD_AGENT_RCVHWM, RSD_IO_AGENTS,
			      RSD_AGENT_ACCEPTS,
			      d->insecure ? NULL : &ca, rsd_agents_recv, d, &d->agents);
	if (r < 0)
		fatalx("cannot bind agent endpoint %s: %s", agents_ep, strerror(-r));
	net_sock_on_batch_end(d->agents, rsd_agents_batch_end);
	rsd_agents_out_watch(d, true);
	rsd_turn_watch(d);
	net_sock_set_gap(d->agents, RSD_AGENT_GAP_MS / 1000.);
	r = net_router_new_ex(d->loop, control_ep, 0, 0, RSD_IO_CONTROL, 1,
			      d->insecure ? NULL : &cc, rsd_control_recv, d, &d->control);
	if (r < 0)
		fatalx("cannot bind control endpoint %s: %s", control_ep, strerror(-r));
	/* an operator's request before the next batch of agents' messages
	 * (a wake-up of those is at most 256 messages or 2 ms) */
	net_sock_set_priority(d->control, 1);
	io_threads(d);
	if (!d->insecure && (net_monitor(d->agents, rsd_auth_event, d) < 0 ||
			     net_monitor(d->control, rsd_auth_event, d) < 0))
		log_warnx("cannot monitor handshakes; failures go uncounted");
	memset(&ca, 0, sizeof ca);
	memset(&cc, 0, sizeof cc);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("signal %d: exiting (services keep running on their nodes)", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "agents", required_argument, NULL, 'a' },
		{ "control", required_argument, NULL, 'c' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "node-ttl", required_argument, NULL, 't' },
		{ "fence-margin", required_argument, NULL, 'g' },
		{ "events-keep", required_argument, NULL, 'k' },
		{ "events-max-age", required_argument, NULL, 'A' },
		{ "max-moves", required_argument, NULL, 'X' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "manifest", required_argument, NULL, 'M' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "control-rt", required_argument, NULL, 'R' },
		{ "agents-io", required_argument, NULL, 'G' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = "/var/lib/rsd/rs.db", *agents_ep = "tcp://127.0.0.1:7701";
	const char *control_ep = "tcp://127.0.0.1:7700", *metrics = NULL;
	const char *manifest_path = NULL;
	static rsd d;
	int c, r, ready_fd = -1, verbose = 0, insecure = 0;
	double ttl = RSD_DEF_TTL_MS / 1000.0;
	double margin = RSD_DEF_FENCE_MARGIN_MS / 1000.0;
	uint64_t events_keep = RSD_DEF_EVENTS_KEEP;
	uint64_t events_age_ms = RSD_DEF_EVENTS_MAX_AGE_MS;
	uint64_t max_moves = RSD_DEF_MAX_MOVES;
	char *end;

	d.ctlrt_prio = RSD_DEF_CONTROL_RT;
	d.agidle_on = true;
	/* tests: the lookups checked against the list every period */
	d.check_tables = getenv("RS_CHECK_TABLES") && *getenv("RS_CHECK_TABLES") == '1';
	while ((c = getopt_long(argc, argv, "d:a:c:m:t:r:hv", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'a': agents_ep = optarg; break;
		case 'c': control_ep = optarg; break;
		case 'm': metrics = optarg; break;
		case 't':
			ttl = strtod(optarg, &end);
			if (*end || ttl < 0.1 || ttl > 3600) {
				fprintf(stderr, "rsd: --node-ttl wants seconds in 0.1..3600\n");
				return 2;
			}
			break;
		case 'g':
			margin = strtod(optarg, &end);
			if (*end || margin < 0 || margin > 3600) {
				fprintf(stderr, "rsd: --fence-margin wants seconds in 0..3600\n");
				return 2;
			}
			break;
		case 'k':
			errno = 0;
			events_keep = strtoull(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || *end || errno) {
				fprintf(stderr, "rsd: --events-keep wants a count (0: no limit)\n");
				return 2;
			}
			break;
		case 'A':
			if (clock_parse_duration(optarg, &events_age_ms) < 0) {
				fprintf(stderr, "rsd: --events-max-age wants a duration: "
					"90s, 10m, 2h, 7d (0: no limit)\n");
				return 2;
			}
			break;
		case 'X':
			errno = 0;
			max_moves = strtoull(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || *end || errno || !max_moves ||
			    max_moves > 1000000) {
				fprintf(stderr, "rsd: --max-moves wants a count in 1..1000000\n");
				return 2;
			}
			break;
		case 'R':
			errno = 0;
			d.ctlrt_prio = (int)strtol(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || *end || errno ||
			    d.ctlrt_prio > 99) {
				fprintf(stderr, "rsd: --control-rt wants a SCHED_RR priority "
					"in 1..99, or 0: off\n");
				return 2;
			}
			break;
		case 'G':
			if (strcmp(optarg, "idle") && strcmp(optarg, "nice")) {
				fprintf(stderr, "rsd: --agents-io wants idle or nice\n");
				return 2;
			}
			d.agidle_on = !strcmp(optarg, "idle");
			break;
		case 'r': ready_fd = atoi(optarg); break;
		case 'M': manifest_path = optarg; break;
		case 'v': verbose = 1; break;
		case 'I': insecure = 1; break;
		case 'V': printf("rsd %s\n", rs_version()); return 0;
		case 'F':
			if (log_set_format(optarg) < 0) {
				fprintf(stderr, "--log-format wants text or json\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_init("rsd", verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	signal(SIGPIPE, SIG_IGN);
	d.ttl_ms = (uint32_t)(ttl * 1000);
	d.max_moves = (uint32_t)max_moves;
	d.events_keep = events_keep;
	d.events_max_age_ms = events_age_ms;
	rsd_node_cfg(&d.ncfg, d.ttl_ms, (uint32_t)(margin * 1000));
	if (!nodesm_cfg_valid(&d.ncfg))
		fatalx("node membership times are inconsistent (ttl %u ms)", d.ttl_ms);
	d.start_mono = clock_mono_ms();
	if (manifest_path && load_boot(&d, manifest_path) < 0)
		return 1;
	prom_hist_init(&d.h_ready, prom_latency_bounds, prom_latency_nbounds);
	prom_hist_init(&d.h_restart, prom_latency_bounds, prom_latency_nbounds);
	prom_hist_init(&d.h_commit, prom_latency_bounds, prom_latency_nbounds);
	prom_hist_init(&d.h_period, prom_latency_bounds, prom_latency_nbounds);
	prom_hist_init(&d.h_page, prom_latency_bounds, prom_latency_nbounds);
	for (int v = 0; v < RS_V__NR; v++)
		prom_hist_init(&d.h_ctl[v], prom_latency_bounds, prom_latency_nbounds);
	prom_hist_init(&d.h_turn, prom_latency_bounds, prom_latency_nbounds);
	d.row_ns = RSD_ROW_NS_0;
	/* tests: when rsd says its start has not settled (settle_check) */
	d.settle_late_ms = getenv("RS_SETTLE_LATE_MS") ?
		strtoull(getenv("RS_SETTLE_LATE_MS"), NULL, 10) : RSD_SETTLE_LATE_MS;
	/* tests: the nodes' ticks in turns of this many */
	if (getenv("RS_TICK_NODES"))
		d.tick_nodes = (uint32_t)strtoul(getenv("RS_TICK_NODES"), NULL, 10);
	/* tests: the moves off lost nodes in turns of this many */
	if (getenv("RS_MOVE_SLICE"))
		d.move_slice = (uint32_t)strtoul(getenv("RS_MOVE_SLICE"), NULL, 10);
	if (getenv("RS_APPLY_SLICE"))
		d.apply_slice = (uint32_t)strtoul(getenv("RS_APPLY_SLICE"), NULL, 10);
	if (getenv("RS_SLOW_TURN_MS"))
		d.slow_turn_ms = (uint32_t)strtoul(getenv("RS_SLOW_TURN_MS"), NULL, 10);
	d.loop = ev_default_loop(EVFLAG_AUTO);
	if (!d.loop)
		fatalx("cannot initialise libev");
	r = store_open(db, &d.st);
	if (r == -EPROTO)
		refuse_newer_store(db);
	if (r < 0)
		fatalx("cannot open the store %s: %s", db, strerror(-r));
	/* checkpoints (and their fsync) in a thread: a commit never waits
	 * for one on the loop */
	if ((r = store_checkpoint_start(d.st, db)) < 0)
		log_warnx("checkpoints stay in rsd's loop: cannot start the "
			  "checkpointer: %s", strerror(-r));
	r = rsd_load(&d);
	if (r < 0)
		fatalx("cannot load the store %s: %s (%s)", db, strerror(-r),
		       store_errmsg(d.st));
	if (insecure && (!endpoint_local(agents_ep) || !endpoint_local(control_ep)))
		fatalx("--insecure serves only loopback endpoints (tcp://127.0.0.1:...); "
		       "%s is not one: drop --insecure to use keys",
		       endpoint_local(agents_ep) ? control_ep : agents_ep);
	if (insecure)
		log_warnx("INSECURE: --insecure given: no keys, no roles, anyone who "
			  "reaches %s or %s is admin", control_ep, agents_ep);
	r = rsd_auth_init(&d, db, insecure);
	if (r < 0)
		fatalx("cannot set up keys next to %s: %s", db, strerror(-r));
	bind_endpoints(&d, agents_ep, control_ep);
	if (metrics && (r = rsd_metrics_start(&d, metrics)) < 0)
		fatalx("cannot serve metrics on %s: %s", metrics, httpd_strerror(r));
	rsd_start_period(&d);
	ev_signal_init(&d.sigterm_w, signal_cb, SIGTERM);
	ev_signal_init(&d.sigint_w, signal_cb, SIGINT);
	ev_signal_start(d.loop, &d.sigterm_w);
	ev_signal_start(d.loop, &d.sigint_w);
	log_info("rsd %s serving: control %s, agents %s, metrics %s, db %s, node ttl %u ms, %s",
		 rs_version(), net_endpoint(d.control), net_endpoint(d.agents),
		 d.http ? d.metrics_ep : "off", db, d.ttl_ms,
		 d.insecure ? "INSECURE (plaintext)" : "CURVE");
	log_info("events kept: the newest %" PRIu64 "%s, for %" PRIu64 " s%s",
		 d.events_keep, d.events_keep ? "" : " (no limit)",
		 d.events_max_age_ms / 1000, d.events_max_age_ms ? "" : " (no limit)");
	if (ready_fd >= 0) {
		dprintf(ready_fd, "control=%s agents=%s%s%s\n", net_endpoint(d.control),
			net_endpoint(d.agents), d.http ? " metrics=" : "",
			d.http ? d.metrics_ep : "");
		close(ready_fd);
	}
	d.sd_watchdog_ms = sdnotify_watchdog_ms();
	if (d.sd_watchdog_ms && d.sd_watchdog_ms < 2000)
		log_warnx("WatchdogSec below 2 s is shorter than rsd's 1 s period allows");
	{
		char st[400];
		snprintf(st, sizeof st, "READY=1\nSTATUS=serving control %s, agents %s",
			 net_endpoint(d.control), net_endpoint(d.agents));
		sdnotify_send(st);
	}
	ev_run(d.loop, 0);
	sdnotify_send("STOPPING=1");
	ev_timer_stop(d.loop, &d.period_t);
	ev_timer_stop(d.loop, &d.tick_t);
	ev_timer_stop(d.loop, &d.member_t);
	ev_idle_stop(d.loop, &d.converge_w);
	rsd_exports_free(&d);
	rsd_reschedule_stop(&d);
	rsd_apply_stop(&d);
	rsd_agents_out_watch(&d, false);
	rsd_metrics_stop(&d);
	rsd_scripts_kill(&d);
	net_destroy(&d.agents);
	net_destroy(&d.control);
	net_destroy(&d.zap);
	net_shutdown();
	rsd_auth_free(&d);
	rsd_free(&d);
	store_close(&d.st);
	return 0;
}
