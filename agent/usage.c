/*
 * usage.c - what each running instance uses, read from its cgroup every
 * USAGE_PERIOD_S on the agent's loop (not per request: a scrape or a
 * status reads the last sample), and the rs_instance_* families of the
 * agent's /metrics.
 *
 * Sources, for the instance's cgroup v2 (its membership cgroup, which
 * has these files with or without controllers) and, where the memory
 * controller is on a v1 hierarchy, its v1 memory cgroup:
 *   CPU time   v2 cpu.stat usage_usec (kernel >= 4.15 has it without the
 *              cpu controller)
 *   memory     v2 memory.current / memory.peak (memory on v2); v1
 *              memory.usage_in_bytes / memory.max_usage_in_bytes (an
 *              instance with a memory limit there); else the sum of the
 *              resident sets of the processes in cgroup.procs, its peak
 *              the most sampled
 *   tasks      the lines of v2 cgroup.threads (every thread of every
 *              process: what pids.max counts)
 * What changed goes to rsd on the beats (usage_beat, RS_FEAT_USAGE), by
 * the rule of lib/usagesel.h.
 *
 * Owns: inst.use, inst.use_sent. Must not: block (cgroupfs reads do not), allocate per
 * sample, or touch an instance without a cgroup (use.ok stays false).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "reslimits.h"
#include "usagesel.h"

/* The whole small file dir/name into buf[n]: its length, or -1. */
static ssize_t read_file(const char *dir, const char *name, char *buf, size_t n)
{
	char path[PATH_MAX + KCG_NAME_MAX + 32];
	ssize_t r;
	int fd;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r >= 0)
		buf[r] = '\0';
	return r;
}

/* The number that starts dir/name into *v: whether there was one. */
static bool read_u64(const char *dir, const char *name, uint64_t *v)
{
	char buf[64];

	if (read_file(dir, name, buf, sizeof buf) <= 0 || buf[0] < '0' || buf[0] > '9')
		return false;
	*v = strtoull(buf, NULL, 10);
	return true;
}

/* The resident bytes of the processes listed in dir's cgroup.procs,
 * and the lines of its cgroup.threads into *tasks. */
static uint64_t procs_rss(const char *dir, uint32_t *tasks)
{
	static long page;
	char buf[8192], path[64], st[128];
	uint64_t sum = 0;
	ssize_t n;

	if (!page)
		page = sysconf(_SC_PAGESIZE);
	*tasks = 0;
	if ((n = read_file(dir, "cgroup.threads", buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++)
			*tasks += buf[i] == '\n';
	if ((n = read_file(dir, "cgroup.procs", buf, sizeof buf)) <= 0)
		return 0;
	for (char *p = buf, *save = NULL, *w = strtok_r(p, "\n", &save); w;
	     w = strtok_r(NULL, "\n", &save)) {
		unsigned long long size, res;
		snprintf(path, sizeof path, "/proc/%s", w);
		if (read_file(path, "statm", st, sizeof st) > 0 &&
		    sscanf(st, "%llu %llu", &size, &res) == 2)
			sum += (uint64_t)res * (uint64_t)page;
	}
	return sum;
}

/* Samples in's cgroup into in->use. */
static void sample_one(agent *ag, inst *in)
{
	char dir[PATH_MAX + KCG_NAME_MAX + 2], v1[PATH_MAX + KCG_NAME_MAX + 2];
	char buf[1024], *p;
	uint64_t mem = 0, peak = 0;
	uint32_t tasks = 0;

	/* adopted from the keeper (no spawn by this engine): the name
	 * svc_spawn gives */
	if (!in->cgname[0] && ag->cg_on && !(in->id & HO_ID_BIT))
		snprintf(in->cgname, sizeof in->cgname, "%s.%llu", in->spec.label,
			 (unsigned long long)in->id);
	if (in->pid <= 0 || !in->cgname[0] || !ag->cg_on) {
		in->use.ok = false;
		return;
	}
	snprintf(dir, sizeof dir, "%s/%s", ag->cg_where, in->cgname);
	if (read_file(dir, "cpu.stat", buf, sizeof buf) <= 0 ||
	    !(p = strstr(buf, "usage_usec "))) {
		in->use.ok = false;
		return;
	}
	if (!in->use.ok || in->use.pid != in->pid) {
		/* a new process: its own peak, sent at once */
		in->use.mem_peak = 0;
		in->use.pid = in->pid;
		in->use_sent_ms = 0;
	}
	in->use.cpu_usec = strtoull(p + 11, NULL, 10);
	if (ag->cg_ctl_v1 & RS_CTL_MEMORY && ag->cg_v1mem[0] &&
	    (snprintf(v1, sizeof v1, "%s/%s", ag->cg_v1mem, in->cgname),
	     read_u64(v1, "memory.usage_in_bytes", &mem))) {
		read_u64(v1, "memory.max_usage_in_bytes", &peak);
		procs_rss(dir, &tasks);
	} else if (read_u64(dir, "memory.current", &mem)) {
		read_u64(dir, "memory.peak", &peak);
		procs_rss(dir, &tasks);   /* tasks only; cheap next to a scrape */
	} else {
		mem = procs_rss(dir, &tasks);
	}
	in->use.mem = mem;
	in->use.mem_peak = peak > in->use.mem_peak ? peak : in->use.mem_peak;
	if (mem > in->use.mem_peak)
		in->use.mem_peak = mem;
	in->use.tasks = tasks;
	in->use.time_ms = clock_wall_ms();
	in->use.ok = true;
}

void usage_sample(agent *ag)
{
	for (inst *in = ag->insts; in; in = in->next)
		sample_one(ag, in);
}

int usage_beat(agent *ag, rs_beat *b, uint64_t now_ms)
{
	rs_usage cur;

	b->usage = NULL;
	b->nusage = 0;
	for (inst *in = ag->insts; in && b->nusage < RS_BEAT_USAGE_MAX; in = in->next) {
		/* (a sample of the process before a restart not yet
		 * sampled again is not this one's) */
		if (in->primary || !in->use.ok || in->use.pid != in->pid || !in->id)
			continue;
		cur = (rs_usage){ .instance_id = in->id,
			.cpu_ms = in->use.cpu_usec / 1000, .memory = in->use.mem,
			.memory_peak = in->use.mem_peak, .tasks = in->use.tasks,
			.time_ms = in->use.time_ms };
		if (!usagesel_due(&in->use_sent, in->use_sent_ms, &cur, now_ms))
			continue;
		if (!b->usage && !(b->usage = malloc(RS_BEAT_USAGE_MAX * sizeof *b->usage)))
			return -ENOMEM;
		b->usage[b->nusage++] = cur;
		in->use_sent = cur;
		in->use_sent_ms = now_ms ? now_ms : 1;
	}
	return 0;
}

void usage_resend_all(agent *ag)
{
	for (inst *in = ag->insts; in; in = in->next)
		in->use_sent_ms = 0;
}

/* The sampling timer: every instance, every USAGE_PERIOD_S. */
static void usage_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	usage_sample(w->data);
}

void usage_start(agent *ag)
{
	ag->cg_v1mem[0] = '\0';
	if (ag->cg_on && ag->cg_ctl_v1 & RS_CTL_MEMORY &&
	    kcg_v1_subtree(ag->cg_where, "memory", ag->cg_v1mem, sizeof ag->cg_v1mem) < 0)
		ag->cg_v1mem[0] = '\0';
	ev_timer_init(&ag->usage_t, usage_cb, 0.5, USAGE_PERIOD_S);
	ag->usage_t.data = ag;
	ev_timer_start(ag->loop, &ag->usage_t);
}

void usage_metrics(agent *ag, prom_buf *b)
{
	static const struct { const char *name, *type, *help; } fam[] = {
		{ "rs_instance_cpu_seconds_total", "counter",
		  "CPU time of the instance's processes (its cgroup), sampled every 5 s." },
		{ "rs_instance_memory_bytes", "gauge",
		  "Memory of the instance's cgroup now (kind=current) and at most "
		  "(kind=peak, this process), sampled every 5 s." },
		{ "rs_instance_tasks", "gauge",
		  "Processes and threads in the instance's cgroup, sampled every 5 s." },
	};
	char id[32];

	for (int f = 0; f < 3; f++) {
		prom_family(b, fam[f].name, fam[f].type, fam[f].help);
		for (inst *in = ag->insts; in; in = in->next) {
			if (in->primary || !in->use.ok)
				continue;
			snprintf(id, sizeof id, "%llu", (unsigned long long)in->id);
			if (f == 0)
				prom_sample(b, fam[f].name, (double)in->use.cpu_usec / 1e6,
					    "label", in->spec.label, "id", id, NULL);
			else if (f == 1) {
				prom_sample(b, fam[f].name, (double)in->use.mem, "label",
					    in->spec.label, "id", id, "kind", "current", NULL);
				prom_sample(b, fam[f].name, (double)in->use.mem_peak, "label",
					    in->spec.label, "id", id, "kind", "peak", NULL);
			} else
				prom_sample(b, fam[f].name, in->use.tasks, "label",
					    in->spec.label, "id", id, NULL);
		}
	}
}
