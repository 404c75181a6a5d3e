/*
 * probe.c - the agent's health probes (see probe.h).
 *
 * HTTP: libcurl's multi interface on the agent's loop: curl says which
 * sockets to watch and when to wake it (socket_cb, timer_cb); libev says
 * when a socket is ready (sock_io_cb) or the time has come (hub_timer_cb);
 * curl_multi_socket_action does the rest; finished transfers are read in
 * hub_done. TCP: a non-blocking connect, an io watcher for its end and a
 * timer for its timeout. Exec: a process the keeper starts (exec_start:
 * K_SPAWN under a record of its own), its end the keeper's K_EXITED
 * (probe_exec_exited), the same timeout timer as TCP's (which kills it
 * whole). Each probe has one timer that fires after the
 * initial delay and then every period (lib/probesm.h decides whether a
 * probe runs, and what its result means).
 */
#include "probe.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "kcgroup.h"
#include "log.h"
#include "probesm.h"
#include "probespec.h"
#include "version.h"

/* Probe durations: 1 ms to 10 s. */
static const double dur_bounds[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

typedef struct probe_hub {
	agent    *ag;
	CURLM    *multi;
	ev_timer  timer;          /* curl's timeout */
	prom_hist h_dur;          /* rs_probe_duration_seconds */
	int       running;
} probe_hub;

/* A socket curl asked us to watch. */
typedef struct hub_sock {
	probe_hub *hub;
	ev_io      io;
} hub_sock;

typedef struct probe_run {
	inst          *in;
	rs_probe_role  role;
	const rs_probe *spec;     /* in->spec.probes[role] */
	probesm        sm;
	ev_timer       tick;      /* the initial delay, then every period */
	bool           spread;    /* the tick's phase was drawn (tick_cb) */
	ev_timer       tmo;       /* tcp, exec: the probe's timeout */
	ev_io          io;        /* tcp: the connect's end */
	int            fd;        /* tcp: -1 when none */
	uint64_t       xkey;      /* exec: its keeper record (PROBE_ID), kept
				   * across runs with its cgroup; 0: none */
	pid_t          xpid;      /* exec: the run in flight, -1 while its
				   * K_SPAWNED is awaited, 0 when none */
	CURL          *easy;      /* http: the transfer in flight */
	struct curl_slist *hdrs;
	char           errbuf[CURL_ERROR_SIZE];
	uint64_t       t0_ns;     /* when the probe in flight started */
	uint64_t       fails;     /* failed probes, ever (the counter) */
	char           why[160];  /* the last failure */
} probe_run;

/* ---- the hub: curl's multi handle on the loop ------------------------ */

static void hub_done(probe_hub *hub);

static void sock_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	hub_sock *hs = w->data;
	probe_hub *hub = hs->hub;
	int what = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
		   (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);

	/* hs may be freed by curl's socket_cb inside this call */
	curl_multi_socket_action(hub->multi, w->fd, what, &hub->running);
	hub_done(hub);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
		     void *socketp)
{
	probe_hub *hub = userp;
	hub_sock *hs = socketp;
	int ev = (what & CURL_POLL_IN ? EV_READ : 0) |
		 (what & CURL_POLL_OUT ? EV_WRITE : 0);

	if (what == CURL_POLL_REMOVE) {
		if (hs) {
			ev_io_stop(hub->ag->loop, &hs->io);
			free(hs);
			curl_multi_assign(hub->multi, s, NULL);
		}
		return 0;
	}
	if (!hs) {
		if (!(hs = calloc(1, sizeof *hs)))
			return -1;
		hs->hub = hub;
		ev_init(&hs->io, sock_io_cb);
		hs->io.data = hs;
		curl_multi_assign(hub->multi, s, hs);
	}
	ev_io_stop(hub->ag->loop, &hs->io);
	ev_io_set(&hs->io, s, ev);
	ev_io_start(hub->ag->loop, &hs->io);
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	probe_hub *hub = userp;

	ev_timer_stop(hub->ag->loop, &hub->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&hub->timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(hub->ag->loop, &hub->timer);
	}
	return 0;
}

static void hub_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	probe_hub *hub = w->data;

	curl_multi_socket_action(hub->multi, CURL_SOCKET_TIMEOUT, 0, &hub->running);
	hub_done(hub);
}

int probe_hub_init(agent *ag)
{
	probe_hub *hub;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	if (!(hub = calloc(1, sizeof *hub)))
		return -ENOMEM;
	hub->ag = ag;
	if (!(hub->multi = curl_multi_init())) {
		free(hub);
		return -ENOMEM;
	}
	ev_init(&hub->timer, hub_timer_cb);
	hub->timer.data = hub;
	prom_hist_init(&hub->h_dur, dur_bounds, sizeof dur_bounds / sizeof dur_bounds[0]);
	curl_multi_setopt(hub->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(hub->multi, CURLMOPT_SOCKETDATA, hub);
	curl_multi_setopt(hub->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(hub->multi, CURLMOPT_TIMERDATA, hub);
	ag->probe_hub = hub;
	return 0;
}

void probe_hub_fini(agent *ag)
{
	probe_hub *hub = ag->probe_hub;

	if (!hub)
		return;
	for (inst *in = ag->insts; in; in = in->next)
		probe_inst_stop(in);
	ev_timer_stop(ag->loop, &hub->timer);
	curl_multi_cleanup(hub->multi);
	free(hub);
	ag->probe_hub = NULL;
	curl_global_cleanup();
}

const prom_hist *probe_hub_durations(const agent *ag)
{
	return ag->probe_hub ? &ag->probe_hub->h_dur : NULL;
}

/* ---- one probe ------------------------------------------------------ */

static void run_step(probe_run *pr, probesm_event ev, const char *why);
static void probe_startup_passed(inst *in);

/* Ends the probe in flight, if any, without a result. */
static void run_cancel(probe_run *pr)
{
	struct ev_loop *loop = pr->in->ag->loop;

	if (pr->easy) {
		curl_multi_remove_handle(pr->in->ag->probe_hub->multi, pr->easy);
		curl_easy_cleanup(pr->easy);
		pr->easy = NULL;
	}
	curl_slist_free_all(pr->hdrs);
	pr->hdrs = NULL;
	ev_io_stop(loop, &pr->io);
	ev_timer_stop(loop, &pr->tmo);
	if (pr->xpid) {
		/* its whole cgroup (or group) dies; the keeper's K_EXITED
		 * for it then finds no run (probe_exec_exited) and the
		 * record, and its killed cgroup, go; the next run gets a
		 * record of its own */
		kc_kill(pr->in->ag, pr->xkey, SIGKILL);
		pr->xkey = 0;
		pr->xpid = 0;
	}
	if (pr->fd >= 0) {
		close(pr->fd);
		pr->fd = -1;
	}
}

/* The probe in flight ended: its duration, then its result. */
static void run_result(probe_run *pr, bool pass, const char *why)
{
	double s = (double)(clock_mono_ns() - pr->t0_ns) / 1e9;

	prom_hist_observe(&pr->in->ag->probe_hub->h_dur, s);
	if (!pass) {
		pr->fails++;
		snprintf(pr->why, sizeof pr->why, "%s", why);
	}
	run_step(pr, pass ? PS_EV_PASS : PS_EV_FAIL, why);
}

static size_t discard_cb(char *ptr, size_t size, size_t n, void *arg)
{
	return size * n;   /* the body does not matter, its status does */
}

static int http_start(probe_run *pr)
{
	const rs_probe *p = pr->spec;
	CURL *e = curl_easy_init();
	CURLMcode mc;

	if (!e)
		return -ENOMEM;
	pr->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, p->target);
	curl_easy_setopt(e, CURLOPT_PRIVATE, pr);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, pr->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);   /* no idle sockets */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a 3xx passes */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	/* as Kubernetes: an https probe does not check the certificate */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "rs-probe/" RS_VERSION);
	for (size_t i = 0; i < p->nheaders; i++) {
		struct curl_slist *l = curl_slist_append(pr->hdrs, p->headers[i]);
		if (!l) {
			curl_easy_cleanup(e);
			return -ENOMEM;
		}
		pr->hdrs = l;
	}
	if (pr->hdrs)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, pr->hdrs);
	pr->easy = e;
	mc = curl_multi_add_handle(pr->in->ag->probe_hub->multi, e);
	if (mc != CURLM_OK) {
		pr->easy = NULL;
		curl_easy_cleanup(e);
		return -EIO;
	}
	return 0;
}

/* The transfers curl finished: each probe's result. */
static void hub_done(probe_hub *hub)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(hub->multi, &left))) {
		probe_run *pr = NULL;
		long status = 0;
		char why[160];
		bool pass;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&pr);
		if (!pr || pr->easy != msg->easy_handle)
			continue;
		curl_easy_getinfo(pr->easy, CURLINFO_RESPONSE_CODE, &status);
		if (msg->data.result == CURLE_OPERATION_TIMEDOUT)
			snprintf(why, sizeof why, "timeout after %u ms", pr->spec->timeout_ms);
		else if (msg->data.result != CURLE_OK)
			snprintf(why, sizeof why, "%.150s", pr->errbuf[0] ? pr->errbuf :
				 curl_easy_strerror(msg->data.result));
		else
			snprintf(why, sizeof why, "HTTP %ld", status);
		pass = msg->data.result == CURLE_OK &&
		       status >= (long)pr->spec->status_min &&
		       status <= (long)pr->spec->status_max;
		run_cancel(pr);   /* the transfer is over: free it first */
		run_result(pr, pass, why);
	}
}

static void tcp_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	probe_run *pr = w->data;
	int err = 0;
	socklen_t len = sizeof err;
	char why[160];

	if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	snprintf(why, sizeof why, "%s", err ? strerror(err) : "connected");
	run_cancel(pr);
	run_result(pr, err == 0, why);
}

/* A TCP connect or an exec run took longer than the probe's timeout:
 * ended (an exec run killed whole) and counted a failure. */
static void tcp_tmo_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	probe_run *pr = w->data;
	char why[160];

	snprintf(why, sizeof why, "timeout after %u ms", pr->spec->timeout_ms);
	run_cancel(pr);
	run_result(pr, false, why);
}

/* "HOST:PORT" (checked by rs_probe_validate) into ss. */
static int tcp_addr(const char *target, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(target, ':');
	size_t hl = colon ? (size_t)(colon - target) : 0;
	int port = colon ? atoi(colon + 1) : 0;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	if (!colon || hl >= sizeof host || port < 1 || port > 65535)
		return -EINVAL;
	memcpy(host, target, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof *ss);
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (host[0] == '[' && hl > 2) {
		host[hl - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof *s6;
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof *s4;
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -EINVAL;
}

/* Starts a connect; 0 (its end comes to tcp_io_cb or tcp_tmo_cb), 1 (it
 * ended at once: *pass, why), or -errno. */
static int tcp_start(probe_run *pr, bool *pass, char *why, size_t n)
{
	struct ev_loop *loop = pr->in->ag->loop;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int fd;

	if (tcp_addr(pr->spec->target, &ss, &len) < 0)
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		*pass = true;
		snprintf(why, n, "connected");
		close(fd);
		return 1;
	}
	if (errno != EINPROGRESS) {
		*pass = false;
		snprintf(why, n, "%s", strerror(errno));
		close(fd);
		return 1;
	}
	pr->fd = fd;
	ev_io_set(&pr->io, fd, EV_WRITE);
	ev_io_start(loop, &pr->io);
	ev_timer_set(&pr->tmo, pr->spec->timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &pr->tmo);
	return 0;
}

/* Lets the probe's keeper record go: a run in flight is killed (its
 * K_EXITED then forgets it), an idle record is forgotten (its cgroup
 * removed). */
static void exec_release(probe_run *pr)
{
	if (pr->xpid)
		run_cancel(pr);
	if (pr->xkey)
		kc_forget(pr->in->ag, pr->xkey);
	pr->xkey = 0;
}

/* Starts one exec run through the keeper under the probe's own record
 * (made at its first run, or after a run was killed), in the record's
 * cgroup (LABEL.ID.pSEQ) when the agent uses cgroups: the keeper makes
 * it at the first spawn and keeps it across runs, so a run costs no
 * mkdir/rmdir (each takes the kernel's cgroup locks, and a restart's
 * spawn waits for them). 0 (its end comes to probe_exec_exited or
 * tcp_tmo_cb), or -errno. */
static int exec_start(probe_run *pr)
{
	agent *ag = pr->in->ag;
	char cgname[KCG_NAME_MAX] = "";
	uint64_t seq;
	int r;

	if (ag->keeper_fd < 0)
		return -ENOTCONN;
	if (!pr->xkey) {
		ag->probe_seq = ag->probe_seq % HO_ID_MASK + 1;   /* never 0 */
		pr->xkey = PROBE_ID(ag->probe_seq);
	}
	seq = pr->xkey & HO_ID_MASK;
	if (ag->cg_on)
		snprintf(cgname, sizeof cgname, "%s.%llu.p%llu", pr->in->spec.label,
			 (unsigned long long)svc_public_id(pr->in),
			 (unsigned long long)seq);
	r = svc_spawn_probe(pr->in, pr->xkey, pr->spec->argv, pr->spec->argc,
			    cgname);
	if (r < 0) {
		exec_release(pr);
		return r;
	}
	pr->xpid = -1;   /* its pid comes in K_SPAWNED */
	ev_timer_set(&pr->tmo, pr->spec->timeout_ms / 1000.0, 0.);
	ev_timer_start(pr->in->ag->loop, &pr->tmo);
	return 0;
}

/* The probe whose run in flight is keeper record key, or NULL. */
static probe_run *exec_find(agent *ag, uint64_t key)
{
	for (inst *in = ag->insts; in; in = in->next)
		for (int i = 0; i < RS_PROBE__NR; i++)
			if (in->probes[i] && in->probes[i]->xkey == key &&
			    in->probes[i]->xpid)
				return in->probes[i];
	return NULL;
}

bool probe_exec_spawned(agent *ag, uint64_t key, int64_t pid_or_err)
{
	probe_run *pr;
	char why[160];

	if (!PROBE_ID_IS(key))
		return false;
	pr = exec_find(ag, key);
	if (pr && pr->xpid == -1 && pid_or_err > 0) {
		pr->xpid = (pid_t)pid_or_err;
	} else if (pr && pr->xpid == -1) {
		snprintf(why, sizeof why, "cannot start the probe: %s",
			 strerror((int)-pid_or_err));
		pr->xpid = 0;
		exec_release(pr);   /* the record the keeper made for it */
		run_cancel(pr);
		run_result(pr, false, why);
	} else if (pid_or_err > 0) {
		/* its run was cancelled meanwhile (a K_KILL followed the
		 * spawn, so it dies): its K_EXITED lets the record go */
	} else {
		kc_forget(ag, key);   /* nothing started: the record goes */
	}
	return true;
}

int probe_exec_exited(agent *ag, uint64_t key, pid_t pid, int wstatus)
{
	char why[160];
	bool pass = false;

	if (!PROBE_ID_IS(key))
		return 0;
	for (inst *in = ag->insts; in; in = in->next)
		for (int i = 0; i < RS_PROBE__NR; i++) {
			probe_run *pr = in->probes[i];

			if (!pr || pr->xkey != key || pr->xpid != pid)
				continue;
			if (WIFEXITED(wstatus)) {
				pass = WEXITSTATUS(wstatus) == 0;
				snprintf(why, sizeof why, "exit code %d", WEXITSTATUS(wstatus));
			} else if (WIFSIGNALED(wstatus)) {
				const char *nm = sigabbrev_np(WTERMSIG(wstatus));
				snprintf(why, sizeof why, "killed by signal %d (%s)",
					 WTERMSIG(wstatus), nm ? nm : "?");
			} else {
				snprintf(why, sizeof why, "wait status %#x", wstatus);
			}
			pr->xpid = 0;   /* over: nothing to kill; the record stays */
			run_cancel(pr);
			run_result(pr, pass, why);
			return 1;
		}
	return 2;   /* a run killed (timeout, stop) or a probe gone: its record goes */
}

/* Runs one probe now. */
static void run_probe(probe_run *pr)
{
	char why[160];
	bool pass = false;
	int r;

	pr->t0_ns = clock_mono_ns();
	errno = 0;
	if (pr->spec->kind == RS_PK_HTTP) {
		r = http_start(pr);
	} else if (pr->spec->kind == RS_PK_TCP) {
		r = tcp_start(pr, &pass, why, sizeof why);
		if (r == 1) {
			run_result(pr, pass, why);
			return;
		}
	} else if (pr->spec->kind == RS_PK_EXEC) {
		r = exec_start(pr);
	} else {
		r = -ENOTSUP;
	}
	if (r < 0) {
		snprintf(why, sizeof why, "cannot start the probe: %s", strerror(-r));
		run_result(pr, false, why);
	}
}

/* A number in [0, 1) from a per-engine xorshift (no libc state). */
static double spread_draw(void)
{
	static uint64_t x;

	if (!x)
		x = clock_mono_ns() | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (double)(x >> 11) / 9007199254740992.0;   /* 2^53 */
}

/* The initial delay ended, or a period. The first probe runs at once
 * (a readiness or startup verdict is not delayed); the second comes a
 * random part of the period later, then every period: probes of
 * services started together (an apply, an agent's start) do not all
 * fire in the same instant, every period, in a burst that a restart
 * would wait behind (docs/bench.md). */
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	probe_run *pr = w->data;

	if (!pr->spread) {
		double p = pr->spec->period_ms / 1000.0;

		pr->spread = true;
		ev_timer_stop(loop, &pr->tick);
		ev_timer_set(&pr->tick, p * (0.05 + 0.95 * spread_draw()), p);
		ev_timer_start(loop, &pr->tick);
	}
	run_step(pr, PS_EV_DUE, NULL);
}

/* Moves pr's state machine and carries out what it decided. */
static void run_step(probe_run *pr, probesm_event ev, const char *why)
{
	struct ev_loop *loop = pr->in->ag->loop;
	unsigned fx;

	if (probesm_step(&pr->sm, ev, clock_mono_ms(), &fx) < 0)
		return;   /* a result of a probe already cancelled */
	if (fx & PS_FX_CANCEL) {
		run_cancel(pr);
		ev_timer_stop(loop, &pr->tick);
	}
	if (ev == PS_EV_STOP)
		exec_release(pr);   /* no process to probe: its record goes */
	if (fx & PS_FX_ARM_DELAY) {
		pr->spread = false;
		ev_timer_stop(loop, &pr->tick);
		ev_timer_set(&pr->tick, pr->spec->initial_delay_ms / 1000.0,
			     pr->spec->period_ms / 1000.0);
		ev_timer_start(loop, &pr->tick);
	}
	if (fx & PS_FX_RUN)
		run_probe(pr);
	if (!(fx & (PS_FX_PASSED | PS_FX_FAILED)))
		return;
	if (pr->role == RS_PROBE_STARTUP && (fx & PS_FX_PASSED))
		probe_startup_passed(pr->in);   /* before: ready needs it */
	svc_probe_verdict(pr->in, pr->role, (fx & PS_FX_PASSED) != 0, why ? why : "");
}

/* ---- an instance's probes ------------------------------------------- */

static probe_run *run_new(inst *in, rs_probe_role role)
{
	probe_run *pr = calloc(1, sizeof *pr);

	if (!pr)
		return NULL;
	pr->in = in;
	pr->role = role;
	pr->fd = -1;
	ev_init(&pr->tick, tick_cb);
	ev_init(&pr->tmo, tcp_tmo_cb);
	ev_init(&pr->io, tcp_io_cb);
	pr->tick.data = pr->tmo.data = pr->io.data = pr;
	return pr;
}

/* Starts the probe of role r, if the spec has one. */
static int probe_start_role(inst *in, rs_probe_role r)
{
	probe_run *pr = in->probes[r];
	const rs_probe *p = &in->spec.probes[r];

	if (p->kind == RS_PK_NONE) {
		if (pr)
			run_step(pr, PS_EV_STOP, NULL);
		return 0;
	}
	if (!pr && !(pr = in->probes[r] = run_new(in, r)))
		return -ENOMEM;
	if (pr->sm.state != PS_OFF)
		run_step(pr, PS_EV_STOP, NULL);
	pr->spec = p;   /* the spec may be new (edit) */
	probesm_init(&pr->sm, p->failures);
	run_step(pr, PS_EV_START, NULL);
	return 0;
}

/* Starts in's liveness and readiness probes (the startup one has passed,
 * or there is none); says so if one cannot start. */
static int start_after_startup(inst *in)
{
	int r = 0;

	for (int i = 0; r == 0 && i < RS_PROBE__NR; i++)
		if (i != RS_PROBE_STARTUP)
			r = probe_start_role(in, (rs_probe_role)i);
	if (r < 0)
		log_warnx("%s/%llu: cannot start its probes: %s, ignoring",
			  in->spec.label, (unsigned long long)in->id, strerror(-r));
	return r;
}

int probe_inst_start(inst *in)
{
	int r;

	if (!in->ag->probe_hub)
		return 0;
	if (in->spec.probes[RS_PROBE_STARTUP].kind == RS_PK_NONE || in->startup_done) {
		if (in->probes[RS_PROBE_STARTUP])
			run_step(in->probes[RS_PROBE_STARTUP], PS_EV_STOP, NULL);
		return start_after_startup(in);
	}
	for (int i = 0; i < RS_PROBE__NR; i++)
		if (i != RS_PROBE_STARTUP && in->probes[i])
			run_step(in->probes[i], PS_EV_STOP, NULL);
	r = probe_start_role(in, RS_PROBE_STARTUP);
	if (r < 0)
		log_warnx("%s/%llu: cannot start its startup probe: %s, ignoring",
			  in->spec.label, (unsigned long long)in->id, strerror(-r));
	return r;
}

/* A startup probe passed: it stops, and the other two start. */
static void probe_startup_passed(inst *in)
{
	run_step(in->probes[RS_PROBE_STARTUP], PS_EV_STOP, NULL);
	in->startup_done = true;
	(void)start_after_startup(in);
}

void probe_inst_stop(inst *in)
{
	for (int i = 0; i < RS_PROBE__NR; i++)
		if (in->probes[i])
			run_step(in->probes[i], PS_EV_STOP, NULL);
}

void probe_inst_free(inst *in)
{
	for (int i = 0; i < RS_PROBE__NR; i++) {
		probe_run *pr = in->probes[i];

		if (!pr)
			continue;
		run_cancel(pr);
		exec_release(pr);
		ev_timer_stop(in->ag->loop, &pr->tick);
		free(pr);
		in->probes[i] = NULL;
	}
}

bool probe_inst_ready(const inst *in)
{
	const probe_run *ready = in->probes[RS_PROBE_READINESS];

	if (in->spec.probes[RS_PROBE_STARTUP].kind != RS_PK_NONE && !in->startup_done)
		return false;
	if (in->spec.probes[RS_PROBE_READINESS].kind == RS_PK_NONE)
		return true;
	return ready && ready->sm.state == PS_PASSED;
}

uint64_t probe_inst_failures(const inst *in, rs_probe_role r)
{
	return (unsigned)r < RS_PROBE__NR && in->probes[r] ? in->probes[r]->fails : 0;
}

const char *probe_inst_why(const inst *in, rs_probe_role r)
{
	return (unsigned)r < RS_PROBE__NR && in->probes[r] ? in->probes[r]->why : "";
}

int probe_spec_supported(const rs_spec *s, char *err, size_t n)
{
	/* every kind runs here (exec through the keeper) */
	(void)s, (void)err, (void)n;
	return 0;
}
