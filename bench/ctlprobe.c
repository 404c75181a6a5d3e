/*
 * ctlprobe.c - rs-ctlprobe: control round trips to one rsd while
 * bench/scale.py loads it (issue 12), `status LABEL` and `lookup LABEL` in
 * turn, timed in C so that the client's own floor stays under rsd's.
 *
 * Owns: one DEALER to rsd's control endpoint (CURVE with the keys of
 * --cred, as rsctl), the samples per phase, the control lines on stdin
 * and the JSON reports on stdout. Must not: send anything but read-only
 * requests, or read anything of rsd but its replies and its threads'
 * scheduler statistics.
 *
 * The requests are rsctl's (ctl/args.c): lib/msg.h's Request encoded by
 * lib/wire.c, a fresh id each, status as rows with rsctl's page size (what
 * `rsctl status LABEL` asks; --json asks for JSON); the reply is
 * decoded by lib/wire.c and must carry the request's id. Unlike rsctl the
 * connection is kept from one request to the next (the Python probe it
 * replaces did the same): a sample is CLOCK_MONOTONIC from just before the
 * send to the matching reply, not a connect or a handshake. The next
 * request goes --interval-ms after the answer. A request unanswered after
 * --timeout-ms is a timeout: the socket is closed, so that a late reply
 * is never taken for the next request, and a new one connects at once.
 * A request whose connection went away after it was sent (rsd killed)
 * can get no answer: it is counted apart ("dropped"), not as a timeout.
 * While rsd is away (no connection) a request waits for the next
 * handshake; its round trip starts when it goes out, and the requests
 * that waited 1 ms or more for a connection are counted apart with the
 * longest wait ("held", "held_max_ms"): that wait is rsd's restart, which
 * the benchmark times as such, not an answer's.
 *
 * On a shared machine the tail is mostly threads waiting for a CPU. Each
 * sample therefore also notes how long this process's threads and rsd's
 * (--rsd-pid, `rsd PID`) were runnable without one meanwhile
 * (/proc/PID/task/TID/schedstat, read outside the timed span); the
 * report gives the percentiles of the round trips less that too (and
 * --slow-ms's lines each CPU's stolen and interrupt ticks in a slow
 * one: the host's time and the kernel's, in no thread's schedstat). It
 * is an estimate: a wait unrelated to the request (rsd queued behind another
 * process while it served an agent) is taken out as well.
 *
 *   rs-ctlprobe --control EP (--cred FILE | --insecure) --labels FILE
 *               [--interval-ms 20] [--timeout-ms 2000] [--rsd-pid PID]
 *               [--slow-ms MS]
 *
 * Control lines (stdin): `phase NAME` (samples from now on are NAME's),
 * `phase` (pause), `rsd PID` (rsd's threads from now on; `rsd`: none),
 * `report` (one JSON line on stdout), `quit` (also EOF, SIGTERM,
 * SIGINT). Exit status: 0; 1 when it cannot start (credential, labels,
 * socket); 2 on a bad command line.
 */
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "cred.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "wire.h"

#define CP_PAGE_SIZE   5000    /* rsctl's status page as rows
				 * (CTL_ROWS_PAGE_SIZE) */
#define CP_PHASES_MAX  64
#define CP_NAME_MAX    64
#define CP_LINE_MAX    4096
#define CP_RETRY_S     0.002   /* a request not yet sent: tried again */
#define CP_TASKS_MAX   32      /* threads of a process (main + ZeroMQ's) */
#define CP_CPUS_MAX    64      /* CPUs whose stolen and interrupt time
				 * --slow-ms's lines show */
#define CP_WAITED_NS   1000000 /* a sample that waited this long for CPUs */

typedef struct cp_lat {        /* unsorted, ns */
	uint64_t *rtt;             /* round trips */
	uint64_t *less;            /* each less the run-queue waits in it */
	size_t    n, cap;
	uint64_t  waited;          /* samples that waited CP_WAITED_NS+ */
} cp_lat;

/* The threads of one process, by their /proc schedstat files. */
typedef struct cp_tasks {
	int      fd[CP_TASKS_MAX];
	size_t   n;
	int      main;             /* fd[main] is the main thread's, -1: none */
	int      ctlio;            /* fd[ctlio] is rsd's control socket's I/O
				    * thread's (ZMQbg/IO/1, RSD_IO_CONTROL), -1 */
	char     comm[CP_TASKS_MAX][40];   /* each thread's name */
	unsigned gen;              /* bumped by each tasks_open */
} cp_tasks;

typedef struct cp_phase {
	char     name[CP_NAME_MAX];
	cp_lat   status, lookup;
	uint64_t timeouts, errors;
	uint64_t held;             /* requests sent only after waiting
				    * CP_WAITED_NS+ for a connection (rsd
				    * down or not yet back) */
	uint64_t held_max_ns;      /* the longest of those waits */
	uint64_t dropped;          /* sent, and the connection went away
				    * before the answer (rsd killed): an
				    * answer cannot come on another one */
} cp_phase;

typedef struct cp {
	struct ev_loop *loop;
	const char     *endpoint;
	net_curve       curve;
	bool            insecure;
	char          **labels;
	size_t          nlabels;
	double          interval_s;
	unsigned        timeout_ms;
	unsigned        slow_ms;    /* 0, or log samples at least this long */

	net_sock       *sock;
	cp_phase        phases[CP_PHASES_MAX];
	size_t          nphases;
	cp_phase       *cur;        /* NULL: paused */

	/* the request in flight */
	bool            busy, sent;
	uint64_t        rid;        /* its id; the next one is rid + 1 */
	rs_verb         verb;
	cp_phase       *ph;         /* the phase it counts for */
	uint8_t        *buf;        /* its encoding, until sent */
	size_t          len;
	uint64_t        made_ns;    /* when it was made */
	uint64_t        t0_ns;      /* when it went out on a connection */
	cp_tasks        self, rsd;  /* whose run-queue waits are taken out */
	uint64_t        w0_self, w0_rsd;   /* tasks_delay() just before t0 */
	uint64_t        w0_rsd_part[2];    /* its main and control I/O threads' */
	uint64_t        r0_rsd[CP_TASKS_MAX];   /* --slow-ms: rsd's threads'
						 * CPU time just before t0 */
	unsigned        gen0_rsd;   /* rsd.gen then */
	uint64_t        c0[CP_CPUS_MAX][3];   /* --slow-ms: each CPU's steal,
					       * irq, softirq ticks then */
	unsigned        turn;       /* even: status, odd: lookup */
	uint64_t        rng;

	uint64_t        reopens, stray, bad, refused;
	ev_timer        tick_t;     /* the next request */
	ev_timer        dead_t;     /* the timeout of the one in flight */
	ev_timer        retry_t;    /* sending it while no peer takes it */
	ev_io           ctl_io;
	char            line[CP_LINE_MAX];
	size_t          linelen;
	ev_signal       sigint_w, sigterm_w;
} cp;

/* ---- numbers ----------------------------------------------------------- */

/* One sample: its round trip and how long the threads of this process
 * and of rsd were runnable without a CPU meanwhile (wait). */
static void lat_add(cp_lat *l, uint64_t rtt, uint64_t wait)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		uint64_t *a = realloc(l->rtt, cap * sizeof *a);
		uint64_t *b = a ? realloc(l->less, cap * sizeof *b) : NULL;

		if (!a || !b)
			fatalx("out of memory");
		l->rtt = a;
		l->less = b;
		l->cap = cap;
	}
	l->rtt[l->n] = rtt;
	l->less[l->n++] = rtt - (wait < rtt ? wait : rtt);
	if (wait >= CP_WAITED_NS)
		l->waited++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sample at percentile p of v (n > 0, sorted) as scale.py's pct()
 * picks it: v[min(n-1, n*p/100)], in ms. */
static double pct_ms(const uint64_t *v, size_t n, unsigned p)
{
	size_t i = n * p / 100;

	return v[i < n ? i : n - 1] / 1e6;
}

/* Prints "NAME":{"n","p50_ms","p99_ms","max_ms","less_wait_p50_ms",
 * "less_wait_p99_ms","waited"} (nulls when empty); sorts l's arrays
 * (each on its own), keeps its samples. */
static void lat_print(FILE *f, const char *name, cp_lat *l)
{
	if (!l->n) {
		fprintf(f, "\"%s\":{\"n\":0,\"p50_ms\":null,\"p99_ms\":null,"
			"\"max_ms\":null,\"less_wait_p50_ms\":null,"
			"\"less_wait_p99_ms\":null,\"waited\":0}", name);
		return;
	}
	qsort(l->rtt, l->n, sizeof *l->rtt, cmp_u64);
	qsort(l->less, l->n, sizeof *l->less, cmp_u64);
	fprintf(f, "\"%s\":{\"n\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
		"\"max_ms\":%.3f,\"less_wait_p50_ms\":%.3f,"
		"\"less_wait_p99_ms\":%.3f,\"waited\":%" PRIu64 "}", name, l->n,
		pct_ms(l->rtt, l->n, 50), pct_ms(l->rtt, l->n, 99),
		l->rtt[l->n - 1] / 1e6, pct_ms(l->less, l->n, 50),
		pct_ms(l->less, l->n, 99), l->waited);
}

/* Prints s as a JSON string (phase names are the caller's words). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* One line: {"type":"report","mono_ms",...,"phases":{NAME:{"status",
 * "lookup","timeouts","errors","held","held_max_ms","dropped"},...}},
 * every phase since the start. */
static void report(cp *p)
{
	printf("{\"type\":\"report\",\"mono_ms\":%llu,\"client\":\"rs-ctlprobe\","
	       "\"reopens\":%llu,\"stray\":%llu,\"bad\":%llu,\"refused\":%llu,"
	       "\"phases\":{", (unsigned long long)clock_mono_ms(),
	       (unsigned long long)p->reopens, (unsigned long long)p->stray,
	       (unsigned long long)p->bad, (unsigned long long)p->refused);
	for (size_t i = 0; i < p->nphases; i++) {
		cp_phase *ph = &p->phases[i];

		if (i)
			putchar(',');
		json_str(stdout, ph->name);
		putchar(':');
		putchar('{');
		lat_print(stdout, "status", &ph->status);
		putchar(',');
		lat_print(stdout, "lookup", &ph->lookup);
		printf(",\"timeouts\":%llu,\"errors\":%llu,\"held\":%llu,"
		       "\"held_max_ms\":%.3f,\"dropped\":%llu}",
		       (unsigned long long)ph->timeouts,
		       (unsigned long long)ph->errors,
		       (unsigned long long)ph->held, ph->held_max_ns / 1e6,
		       (unsigned long long)ph->dropped);
	}
	puts("}}");
	fflush(stdout);
}

static void tasks_close(cp_tasks *t)
{
	for (size_t i = 0; i < t->n; i++)
		close(t->fd[i]);
	t->n = 0;
}

/* Opens the schedstat of each thread of process pid ("self", or a
 * number), instead of those t had. For this process, call it once its
 * socket exists (ZeroMQ's threads come with the first one). 0, or -1
 * when /proc shows no thread of it. */
static int tasks_open(cp_tasks *t, const char *pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int fd;

	tasks_close(t);
	t->gen++;
	t->main = t->ctlio = -1;
	snprintf(path, sizeof path, "/proc/%.16s/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d)) && t->n < CP_TASKS_MAX) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%.16s/task/%.16s/schedstat", pid,
			 e->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			char comm[32] = "";
			FILE *f;

			if (!strcmp(e->d_name, pid))
				t->main = (int)t->n;
			snprintf(path, sizeof path, "/proc/%.16s/task/%.16s/comm", pid,
				 e->d_name);
			if ((f = fopen(path, "re"))) {
				if (!fgets(comm, sizeof comm, f))
					comm[0] = '\0';
				fclose(f);
			}
			if (!strcmp(comm, "ZMQbg/IO/1\n"))
				t->ctlio = (int)t->n;
			comm[strcspn(comm, "\n")] = '\0';
			snprintf(t->comm[t->n], sizeof t->comm[t->n], "%s%s", comm,
				 (int)t->n == t->main ? "(main)" : "");
			t->fd[t->n++] = fd;
		}
	}
	if (d)
		closedir(d);
	return t->n ? 0 : -1;
}

/* How long t's threads have waited on a run queue so far, all together
 * (schedstat's second field, ns; a thread gone counts no more); the main
 * thread's and the control I/O thread's shares of it in part[0] and
 * part[1] when part is not NULL; each thread's time on a CPU so far
 * (the first field) in run[] when run is not NULL (--slow-ms's line). */
static uint64_t tasks_delay_ex(const cp_tasks *t, uint64_t part[2],
			       uint64_t run[CP_TASKS_MAX])
{
	uint64_t sum = 0;
	char buf[128];

	if (part)
		part[0] = part[1] = 0;
	for (size_t i = 0; i < t->n; i++) {
		ssize_t n = pread(t->fd[i], buf, sizeof buf - 1, 0);
		unsigned long long ran, wait;

		if (run)
			run[i] = 0;
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (sscanf(buf, "%llu %llu", &ran, &wait) == 2) {
			sum += wait;
			if (part && (int)i == t->main)
				part[0] = wait;
			if (part && (int)i == t->ctlio)
				part[1] = wait;
			if (run)
				run[i] = ran;
		}
	}
	return sum;
}

static uint64_t tasks_delay(const cp_tasks *t)
{
	return tasks_delay_ex(t, NULL, NULL);
}

/* What the threads of both processes waited for a CPU since req_start:
 * rsd's only if its threads are still those (no `rsd PID` between). The
 * parts in w[] when w is not NULL: this process, rsd's main thread,
 * rsd's control I/O thread, rsd's other threads (off the request's
 * path: the agents' I/O thread). rsd's threads' time on a CPU so far in
 * run[] when run is not NULL and they are still those. */
static uint64_t req_waited(const cp *p, uint64_t w[4], uint64_t run[CP_TASKS_MAX])
{
	uint64_t self = tasks_delay(&p->self), rsd = 0, part[2] = { 0, 0 };

	self = self > p->w0_self ? self - p->w0_self : 0;
	if (p->rsd.gen == p->gen0_rsd) {
		rsd = tasks_delay_ex(&p->rsd, part, run);
		rsd = rsd > p->w0_rsd ? rsd - p->w0_rsd : 0;
		for (int i = 0; i < 2; i++)
			part[i] = part[i] > p->w0_rsd_part[i] ? part[i] - p->w0_rsd_part[i] : 0;
	}
	if (w) {
		w[0] = self;
		w[1] = part[0];
		w[2] = part[1];
		w[3] = rsd > part[0] + part[1] ? rsd - part[0] - part[1] : 0;
	}
	return self + rsd;
}

/* Each CPU's steal, irq and softirq ticks so far (/proc/stat, USER_HZ)
 * into c[] (zeros for CPUs it does not list): the time the host ran
 * something else while the CPU had work, and the kernel's interrupt
 * work, which no thread's schedstat shows. */
static void cpu_ticks(uint64_t c[CP_CPUS_MAX][3])
{
	char line[512];
	FILE *f = fopen("/proc/stat", "re");

	memset(c, 0, sizeof(uint64_t[CP_CPUS_MAX][3]));
	while (f && fgets(line, sizeof line, f)) {
		unsigned cpu;
		unsigned long long v[8];

		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		if (sscanf(line + 3, "%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 9 &&
		    cpu < CP_CPUS_MAX) {
			c[cpu][0] = v[7];
			c[cpu][1] = v[5];
			c[cpu][2] = v[6];
		}
	}
	if (f)
		fclose(f);
}

/* xorshift64*: which label next (no need for more). */
static size_t pick(cp *p, size_t n)
{
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return (size_t)((p->rng * 0x2545F4914F6CDD1Dull) >> 11) % n;
}

/* ---- the connection ----------------------------------------------------- */

static void sock_recv(net_sock *s, const net_peer *peer, const uint8_t *buf,
		      size_t len, void *arg);
static void sock_event(net_sock *s, net_event ev, uint32_t value, void *arg);

/* Connects a new DEALER (the handshake follows in the background).
 * 0, or -errno after saying why. */
static int sock_open(cp *p)
{
	int r = net_dealer_new_mon(p->loop, p->endpoint, NULL,
				   p->insecure ? NULL : &p->curve, sock_recv, p,
				   sock_event, p, &p->sock);

	if (r < 0) {
		log_warnx("cannot connect to %s: %s", p->endpoint, strerror(-r));
		return r;
	}
	return 0;
}

/* The request in flight is over: its encoding and timers go, the next
 * one is due in --interval-ms. */
static void req_done(cp *p)
{
	p->busy = p->sent = false;
	free(p->buf);
	p->buf = NULL;
	ev_timer_stop(p->loop, &p->dead_t);
	ev_timer_stop(p->loop, &p->retry_t);
	ev_timer_set(&p->tick_t, p->interval_s, 0);
	ev_timer_start(p->loop, &p->tick_t);
}

/* Hands the request to the socket. Without a connected peer (the DEALER
 * queues nothing then) it stays unsent and is tried again at the next
 * handshake or retry tick. Its round trip starts when it goes out: the
 * time it waited for a connection (rsd down, or a new one not yet
 * handshaken) is rsd's downtime, not an answer's, and is counted apart
 * (cp_phase.held). */
static void req_send(cp *p)
{
	int r;

	if (!p->sock && sock_open(p) < 0)
		return;
	p->w0_self = tasks_delay(&p->self);
	p->w0_rsd = tasks_delay_ex(&p->rsd, p->w0_rsd_part, p->slow_ms ? p->r0_rsd : NULL);
	if (p->slow_ms)
		cpu_ticks(p->c0);
	p->gen0_rsd = p->rsd.gen;
	p->t0_ns = clock_mono_ns();
	r = net_send(p->sock, NULL, p->buf, p->len);
	if (r == 0) {
		p->sent = true;
		free(p->buf);
		p->buf = NULL;
		ev_timer_stop(p->loop, &p->retry_t);
		if (p->t0_ns - p->made_ns >= CP_WAITED_NS) {
			p->ph->held++;
			if (p->t0_ns - p->made_ns > p->ph->held_max_ns)
				p->ph->held_max_ns = p->t0_ns - p->made_ns;
		}
		return;
	}
	if (r != -EAGAIN)
		log_warnx("cannot send to %s: %s", p->endpoint, strerror(-r));
	if (!ev_is_active(&p->retry_t)) {
		ev_timer_set(&p->retry_t, CP_RETRY_S, CP_RETRY_S);
		ev_timer_start(p->loop, &p->retry_t);
	}
}

/* A new request to the current phase: status and lookup in turn, a
 * random label. */
static void req_start(cp *p)
{
	rs_msg m;
	rs_request *rq;
	int r;

	rs_msg_init(&m, RS_MSG_REQUEST);
	rq = &m.u.request;
	rq->id = ++p->rid;
	rq->verb = p->turn++ % 2 ? RS_V_LOOKUP : RS_V_STATUS;
	rq->timeout_ms = p->timeout_ms;
	if (rq->verb == RS_V_STATUS) {
		/* as `rsctl status LABEL` asks (ctl/args.c: rows unless
		 * --json) */
		rq->rows = true;
		rq->page_size = CP_PAGE_SIZE;
	}
	snprintf(rq->label, sizeof rq->label, "%s", p->labels[pick(p, p->nlabels)]);
	r = wire_encode(&m, &p->buf, &p->len);
	p->verb = rq->verb;
	rs_msg_clear(&m);
	if (r < 0)
		fatalx("cannot encode a request: %s", strerror(-r));
	p->busy = true;
	p->sent = false;
	p->ph = p->cur;
	ev_now_update(p->loop);   /* the deadline from now, not the wake-up */
	ev_timer_set(&p->dead_t, p->timeout_ms / 1e3, 0);
	ev_timer_start(p->loop, &p->dead_t);
	p->made_ns = clock_mono_ns();
	req_send(p);
}

static void sock_recv(net_sock *s, const net_peer *peer, const uint8_t *buf,
		      size_t len, void *arg)
{
	cp *p = arg;
	uint64_t t1 = clock_mono_ns(), wait, w[4], run[CP_TASKS_MAX];
	rs_msg m;

	(void)s;
	(void)peer;
	if (wire_decode(buf, len, &m) < 0) {
		p->bad++;
		return;
	}
	if (m.type != RS_MSG_REPLY || !p->busy || m.u.reply.id != p->rid) {
		p->stray++;
		rs_msg_clear(&m);
		return;
	}
	wait = req_waited(p, w, p->slow_ms ? run : NULL);
	if (m.u.reply.code != 0)
		p->ph->errors++;
	else
		lat_add(p->verb == RS_V_STATUS ? &p->ph->status : &p->ph->lookup,
			t1 - p->t0_ns, wait);
	if (p->slow_ms && t1 - p->t0_ns >= p->slow_ms * 1000000ull)
		fprintf(stderr, "slow %s sent %llu.%09llu took %.3f ms, this "
			"process and rsd waited for a CPU %.3f ms of it (this "
			"process %.3f, rsd's main thread %.3f, control I/O "
			"thread %.3f, others %.3f)\n",
			rs_verb_to_string(p->verb),
			(unsigned long long)(p->t0_ns / 1000000000u),
			(unsigned long long)(p->t0_ns % 1000000000u),
			(t1 - p->t0_ns) / 1e6, wait / 1e6, w[0] / 1e6, w[1] / 1e6,
			w[2] / 1e6, w[3] / 1e6);
	if (p->slow_ms && t1 - p->t0_ns >= p->slow_ms * 1000000ull &&
	    p->rsd.gen == p->gen0_rsd) {
		/* who had rsd's CPU meanwhile (run: req_waited's) */
		fprintf(stderr, "  ran:");
		for (size_t i = 0; i < p->rsd.n; i++)
			if (run[i] > p->r0_rsd[i])
				fprintf(stderr, " %s %.3f", p->rsd.comm[i],
					(run[i] - p->r0_rsd[i]) / 1e6);
		fprintf(stderr, " ms\n");
	}
	if (p->slow_ms && t1 - p->t0_ns >= p->slow_ms * 1000000ull) {
		/* the host's and the kernel's share, per CPU (coarse: ticks) */
		uint64_t c1[CP_CPUS_MAX][3];
		long tick = sysconf(_SC_CLK_TCK);
		double ms = 1000.0 / (tick > 0 ? tick : 100);

		bool any = false;

		cpu_ticks(c1);
		fprintf(stderr, "  ticks:");
		for (int i = 0; i < CP_CPUS_MAX; i++)
			if (c1[i][0] + c1[i][1] + c1[i][2] > p->c0[i][0] + p->c0[i][1] + p->c0[i][2]) {
				fprintf(stderr, " cpu%d steal %.0f irq %.0f softirq %.0f", i,
					(c1[i][0] - p->c0[i][0]) * ms,
					(c1[i][1] - p->c0[i][1]) * ms,
					(c1[i][2] - p->c0[i][2]) * ms);
				any = true;
			}
		/* (a tick is 1000 / CLK_TCK ms: a short answer often sees none) */
		fprintf(stderr, any ? " ms\n" : " none on any CPU\n");
	}
	rs_msg_clear(&m);
	req_done(p);
}

static void sock_event(net_sock *s, net_event ev, uint32_t value, void *arg)
{
	cp *p = arg;

	(void)s;
	(void)value;
	if (ev == NET_EV_HANDSHAKE_OK && p->busy && !p->sent) {
		req_send(p);
	} else if (ev == NET_EV_DISCONNECTED && p->busy && p->sent) {
		/* its answer could only come on that connection: not a
		 * timeout of rsd's, counted apart; the next request waits
		 * for the new connection (held) */
		p->ph->dropped++;
		req_done(p);
	} else if (ev == NET_EV_HANDSHAKE_AUTH || ev == NET_EV_HANDSHAKE_PROTOCOL) {
		if (!p->refused++)
			log_warnx("rsd at %s refused the credential's key (or is not "
				  "the rsd it pins)", p->endpoint);
	}
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	cp *p = w->data;

	(void)revents;
	if (p->busy)
		return;
	if (!p->cur) {   /* paused: look again in an interval */
		ev_timer_set(w, p->interval_s, 0);
		ev_timer_start(loop, w);
		return;
	}
	req_start(p);
}

/* No answer in time: a timeout, and a new connection (net_destroy drops
 * whatever the old one would still receive). */
static void dead_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	cp *p = w->data;

	(void)loop;
	(void)revents;
	p->ph->timeouts++;
	net_destroy(&p->sock);
	p->reopens++;
	sock_open(p);
	req_done(p);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	cp *p = w->data;

	(void)revents;
	if (p->busy && !p->sent)
		req_send(p);
	else
		ev_timer_stop(loop, w);
}

/* ---- control lines ------------------------------------------------------ */

/* The phase named name, made if new; NULL when the table is full. */
static cp_phase *phase_get(cp *p, const char *name)
{
	for (size_t i = 0; i < p->nphases; i++)
		if (strcmp(p->phases[i].name, name) == 0)
			return &p->phases[i];
	if (p->nphases == CP_PHASES_MAX)
		return NULL;
	snprintf(p->phases[p->nphases].name, CP_NAME_MAX, "%s", name);
	return &p->phases[p->nphases++];
}

/* Takes rsd's run-queue waits out of the samples from now on: those of
 * pid's threads, or none (NULL). 0, or -1 when pid is no live process. */
static int rsd_watch(cp *p, const char *pid)
{
	if (!pid) {
		tasks_close(&p->rsd);
		p->rsd.gen++;
		return 0;
	}
	if (!*pid || pid[strspn(pid, "0123456789")] != '\0' ||
	    tasks_open(&p->rsd, pid) < 0)
		return -1;
	return 0;
}

static void command(cp *p, char *line)
{
	char *arg = line + strcspn(line, " \t");

	if (*arg)
		*arg++ = '\0';
	arg += strspn(arg, " \t");
	arg[strcspn(arg, " \t\r")] = '\0';
	if (strcmp(line, "phase") == 0) {
		p->cur = *arg ? phase_get(p, arg) : NULL;
		if (*arg && !p->cur)
			printf("{\"type\":\"error\",\"what\":\"more than %d phases\"}\n",
			       CP_PHASES_MAX);
	} else if (strcmp(line, "rsd") == 0) {
		if (rsd_watch(p, *arg ? arg : NULL) < 0)
			printf("{\"type\":\"error\",\"what\":\"no such pid\"}\n");
	} else if (strcmp(line, "report") == 0) {
		report(p);
	} else if (strcmp(line, "quit") == 0) {
		ev_break(p->loop, EVBREAK_ALL);
	} else if (*line) {
		printf("{\"type\":\"error\",\"what\":\"unknown command\"}\n");
	}
}

static void ctl_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	cp *p = w->data;
	ssize_t n = read(w->fd, p->line + p->linelen, sizeof p->line - 1 - p->linelen);
	char *nl;

	(void)revents;
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {   /* the driver is gone */
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	p->linelen += (size_t)n;
	p->line[p->linelen] = '\0';
	while ((nl = strchr(p->line, '\n'))) {
		*nl = '\0';
		command(p, p->line);
		p->linelen -= (size_t)(nl + 1 - p->line);
		memmove(p->line, nl + 1, p->linelen + 1);
	}
	if (p->linelen == sizeof p->line - 1)
		p->linelen = 0;   /* a line too long: dropped */
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* ---- setup -------------------------------------------------------------- */

/* Reads the labels of path, one a line (blank lines skipped). 0, or -1
 * after saying why. */
static int labels_read(cp *p, const char *path)
{
	FILE *f = fopen(path, "re");
	char buf[256];
	size_t cap = 0;

	if (!f) {
		fprintf(stderr, "rs-ctlprobe: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof buf, f)) {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (!buf[0])
			continue;
		if (!rs_label_valid(buf)) {
			fprintf(stderr, "rs-ctlprobe: %s: '%s' is no label\n", path, buf);
			fclose(f);
			return -1;
		}
		if (p->nlabels == cap) {
			char **v = realloc(p->labels, (cap = cap ? cap * 2 : 256) * sizeof *v);

			if (!v)
				fatalx("out of memory");
			p->labels = v;
		}
		if (!(p->labels[p->nlabels++] = strdup(buf)))
			fatalx("out of memory");
	}
	fclose(f);
	if (!p->nlabels) {
		fprintf(stderr, "rs-ctlprobe: %s: no label\n", path);
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: rs-ctlprobe --control EP (--cred FILE | --insecure) --labels FILE\n"
"                   [--interval-ms 20] [--timeout-ms 2000] [--rsd-pid PID]\n"
"                   [--slow-ms MS]\n"
"  --control EP       rsd's control endpoint\n"
"  --cred FILE        an operator credential (rsd's admin.cred)\n"
"  --insecure         plaintext (an rsd run --insecure)\n"
"  --labels FILE      the services to ask about, one label a line\n"
"  --interval-ms MS   from an answer to the next request (default 20)\n"
"  --timeout-ms MS    a request unanswered this long is a timeout (default 2000)\n"
"  --rsd-pid PID      take the run-queue waits of rsd's threads out too\n"
"  --slow-ms MS       a line on stderr for each answer that took MS or more:\n"
"                     its verb, send time (CLOCK_MONOTONIC s), round trip, waits,\n"
"                     and each of rsd's threads' time on a CPU meanwhile\n"
"control lines on stdin: phase NAME | phase | rsd PID | rsd | report | quit\n");
}

static unsigned parse_uint(const char *opt, const char *s, unsigned min,
			   unsigned max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v < min || v > max) {
		fprintf(stderr, "rs-ctlprobe: %s wants a number from %u to %u\n",
			opt, min, max);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "cred", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "labels", required_argument, NULL, 'l' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "slow-ms", required_argument, NULL, 's' },
		{ "rsd-pid", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static cp p;
	const char *cred_path = NULL, *labels_path = NULL, *rsd_pid = NULL;
	unsigned interval_ms = 20;
	char err[256];
	int c;

	p.timeout_ms = 2000;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': p.endpoint = optarg; break;
		case 'C': cred_path = optarg; break;
		case 'I': p.insecure = true; break;
		case 'l': labels_path = optarg; break;
		case 'i': interval_ms = parse_uint("--interval-ms", optarg, 0, 3600000); break;
		case 't': p.timeout_ms = parse_uint("--timeout-ms", optarg, 1, 3600000); break;
		case 'p': rsd_pid = optarg; break;
		case 's': p.slow_ms = parse_uint("--slow-ms", optarg, 0, 3600000); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!p.endpoint || !labels_path || !cred_path == !p.insecure || optind != argc) {
		usage(stderr);
		return 2;
	}
	p.interval_s = interval_ms / 1e3;
	log_init("rs-ctlprobe", LOG_LVL_WARN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (cred_path) {
		rs_cred cr;

		if (cred_read(cred_path, &cr, err, sizeof err) < 0) {
			fprintf(stderr, "rs-ctlprobe: %s: %s\n", cred_path, err);
			return 1;
		}
		cred_curve(&cr, &p.curve);
		memset(&cr, 0, sizeof cr);
	}
	if (labels_read(&p, labels_path) < 0)
		return 1;
	if (getrandom(&p.rid, sizeof p.rid, 0) != sizeof p.rid)
		p.rid = clock_mono_ns() ^ ((uint64_t)getpid() << 32);
	p.rid >>= 1;   /* ids stay far from wrapping */
	p.rng = p.rid | 1;
	p.loop = ev_default_loop(EVBACKEND_EPOLL);
	if (!p.loop)
		fatalx("cannot initialise libev");
	/* connect now: the handshake is over before the first phase */
	if (sock_open(&p) < 0)
		return 1;
	if (tasks_open(&p.self, "self") < 0)
		log_warnx("no /proc/self/task/*/schedstat: less_wait_* do not "
			  "take this process's waits out, ignoring");
	if (rsd_pid && rsd_watch(&p, rsd_pid) < 0)
		log_warnx("--rsd-pid %s: no such process, ignoring", rsd_pid);
	ev_timer_init(&p.tick_t, tick_cb, p.interval_s, 0);
	ev_timer_init(&p.dead_t, dead_cb, 0, 0);
	ev_timer_init(&p.retry_t, retry_cb, CP_RETRY_S, CP_RETRY_S);
	p.tick_t.data = p.dead_t.data = p.retry_t.data = &p;
	ev_timer_start(p.loop, &p.tick_t);
	ev_io_init(&p.ctl_io, ctl_cb, 0, EV_READ);
	p.ctl_io.data = &p;
	ev_io_start(p.loop, &p.ctl_io);
	ev_signal_init(&p.sigint_w, signal_cb, SIGINT);
	ev_signal_init(&p.sigterm_w, signal_cb, SIGTERM);
	ev_signal_start(p.loop, &p.sigint_w);
	ev_signal_start(p.loop, &p.sigterm_w);
	ev_run(p.loop, 0);
	net_destroy(&p.sock);
	net_shutdown();
	free(p.buf);
	for (size_t i = 0; i < p.nphases; i++) {
		free(p.phases[i].status.rtt);
		free(p.phases[i].status.less);
		free(p.phases[i].lookup.rtt);
		free(p.phases[i].lookup.less);
	}
	tasks_close(&p.self);
	tasks_close(&p.rsd);
	for (size_t i = 0; i < p.nlabels; i++)
		free(p.labels[i]);
	free(p.labels);
	return 0;
}
