/*
 * svc.c - the agent's instances: spawn, reap, signal, timers, and the
 * glue that carries out what rproc_step decides.
 *
 * Each service runs in its own session and process group (setsid) and,
 * where the keeper has cgroups, its instance's cgroup (kcgroup.h), with
 * stdin on /dev/null and stdout/stderr appended to
 * STATE_DIR/logs/LABEL.ID.log. The keeper (keeper.c) forks, execs, reaps
 * and signals; this file decides when, and builds what it runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "keeper.h"
#include "kproto.h"
#include "listen.h"
#include "log.h"
#include "probe.h"
#include "probespec.h"
#include "reslimits.h"
#include "profile.h"
#include "version.h"

extern char **environ;

uint64_t svc_public_id(const inst *in)
{
	return in->primary ? in->primary->id : in->id;
}

inst *svc_find(agent *ag, uint64_t id)
{
	for (inst *in = ag->insts; in; in = in->next)
		if (in->id == id)
			return in;
	return NULL;
}

inst *svc_find_pid(agent *ag, pid_t pid)
{
	for (inst *in = ag->insts; in; in = in->next)
		if (in->pid == pid)
			return in;
	return NULL;
}

void svc_fill_info(const inst *in, rs_iinfo *out)
{
	memset(out, 0, sizeof *out);
	out->id = in->id;
	rs_strlcpy(out->label, in->spec.label, sizeof out->label);
	out->generation = in->generation;
	out->pid = in->pid;
	out->state = in->rp.state;
	out->restarts = in->rp.restarts;
	out->last_exit = in->rp.exit;
	/* never a reason rsd does not know (it would drop the message) */
	if (out->last_exit.reason == RS_ER_PROBE_FAILED &&
	    !(in->ag->rsd_features_last & RS_FEAT_PROBES))
		out->last_exit.reason = RS_ER_NO_HEARTBEAT;
	if (out->last_exit.reason == RS_ER_OOM &&
	    !(in->ag->rsd_features_last & RS_FEAT_LIMITS))
		out->last_exit.reason = RS_ER_SIGNALED;   /* it was SIGKILL */
	out->unready = in->unready;
	rs_strlcpy(out->status, in->status, sizeof out->status);
	out->started_ms = in->started_wall;
	out->ready_ms = in->ready_wall;
	out->start_ticks = in->start_ticks;
}

/* Signals the whole instance: its process group and what it left
 * elsewhere in its cgroup (through the keeper, whose unreaped child it
 * is: no pid reuse can misdirect it). */
static void svc_signal(inst *in, int sig)
{
	if (in->pid <= 0)
		return;
	kc_kill(in->ag, in->id, sig);
}

static void svc_disarm(inst *in)
{
	struct ev_loop *loop = in->ag->loop;

	ev_timer_stop(loop, &in->ready_t);
	ev_timer_stop(loop, &in->settle_t);
	ev_timer_stop(loop, &in->wdog_t);
	ev_timer_stop(loop, &in->stop_t);
	ev_timer_stop(loop, &in->backoff_t);
}

static bool env_has_key(char **env, size_t n, const char *kv)
{
	size_t klen = strcspn(kv, "=");

	for (size_t i = 0; i < n; i++)
		if (strncmp(env[i], kv, klen) == 0 && env[i][klen] == '=')
			return true;
	return false;
}

static bool env_is_ours(const char *kv)
{
	static const char *const keys[] = {
		"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
		"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "RS_LABEL=",
		"RS_INSTANCE=", "RS_NODE=",
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strncmp(kv, keys[i], strlen(keys[i])) == 0)
			return true;
	return false;
}

/* The environment of a new process: rs's variables, the spec's, then the
 * agent's own minus what either overrides. Caller frees with env_free. */
/* The user a spec asks for, resolved (by the engine: the keeper's child
 * must not call into NSS between clone and exec). */
struct svc_user {
	bool   set;
	uid_t  uid;
	gid_t  gid;
	gid_t  groups[KEEPER_GROUPS_MAX];
	int    ngroups;
	char   name[RS_USER_MAX];
	char   home[PATH_MAX];
};

/* Resolves spec's user into u. -ESRCH: no such user; -EPERM: the agent
 * is not root and it is another user. */
static int svc_user(const rs_spec *spec, struct svc_user *u)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end;
	unsigned long id;
	int n;

	memset(u, 0, sizeof *u);
	if (!spec->user[0])
		return 0;
	id = strtoul(spec->user, &end, 10);
	if (*end == '\0')
		getpwuid_r((uid_t)id, &pw, buf, sizeof buf, &res);
	else
		getpwnam_r(spec->user, &pw, buf, sizeof buf, &res);
	if (!res && *end != '\0')
		return -ESRCH;
	u->set = true;
	u->uid = res ? pw.pw_uid : (uid_t)id;
	u->gid = res ? pw.pw_gid : (gid_t)id;
	rs_strlcpy(u->name, res ? pw.pw_name : spec->user, sizeof u->name);
	rs_strlcpy(u->home, res && pw.pw_dir ? pw.pw_dir : "/", sizeof u->home);
	n = KEEPER_GROUPS_MAX;
	if (res && getgrouplist(pw.pw_name, pw.pw_gid, u->groups, &n) >= 0)
		u->ngroups = n;
	else
		u->groups[0] = u->gid, u->ngroups = 1;
	if (geteuid() != 0 && u->uid != geteuid())
		return -EPERM;
	if (geteuid() != 0)
		u->set = false;   /* it is us: nothing to change (setgroups
				   * would need privileges we do not have) */
	return 0;
}

static char **svc_env(inst *in, const struct svc_user *u)
{
	size_t n = 0, cap, inherited = 0;
	char **env;

	while (environ[inherited])
		inherited++;
	cap = inherited + in->spec.envc + 12;
	env = calloc(cap, sizeof *env);
	if (!env)
		return NULL;
#define ADD(...) do { if (asprintf(&env[n], __VA_ARGS__) < 0) goto fail; n++; } while (0)
	ADD("NOTIFY_SOCKET=%s", in->notify_path);
	ADD("RS_LABEL=%s", in->spec.label);
	ADD("RS_INSTANCE=%llu", (unsigned long long)svc_public_id(in));
	ADD("RS_NODE=%s", in->ag->node);
	if (in->spec.period_ms)
		ADD("WATCHDOG_USEC=%llu", (unsigned long long)in->spec.period_ms * 1000ull);
	for (size_t i = 0; i < in->spec.envc; i++)
		ADD("%s", in->spec.env[i]);
	/* another user: its own identity, unless the spec says otherwise */
	if (u->set && !env_has_key(in->spec.env, in->spec.envc, "USER="))
		ADD("USER=%s", u->name);
	if (u->set && !env_has_key(in->spec.env, in->spec.envc, "LOGNAME="))
		ADD("LOGNAME=%s", u->name);
	if (u->set && !env_has_key(in->spec.env, in->spec.envc, "HOME="))
		ADD("HOME=%s", u->home);
	for (size_t i = 0; i < inherited; i++)
		if (!env_is_ours(environ[i]) &&
		    !env_has_key(in->spec.env, in->spec.envc, environ[i]) &&
		    !(u->set && (env_has_key((char *[]){ "USER=", "LOGNAME=", "HOME=" }, 3,
					     environ[i]))))
			ADD("%s", environ[i]);
#undef ADD
	return env;
fail:
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(env);
	return NULL;
}

static void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* Whether this node cannot enforce in's limits (no cgroups, an older
 * keeper, a controller missing); then why into why[n] (n may be 0). */
static bool svc_limits_refused(const inst *in, char *why, size_t n)
{
	uint32_t need = rs_limits_needs(&in->spec.limits);
	const agent *ag = in->ag;
	char want[32], has[32];

	if (!need || (ag->cg_on && ag->keeper_proto >= 6 && (ag->cg_ctl & need) == need))
		return false;
	rs_ctl_format(need, want, sizeof want);
	rs_ctl_format(ag->cg_on && ag->keeper_proto >= 6 ? ag->cg_ctl : 0, has, sizeof has);
	if (n && snprintf(why, n, "cannot enforce the limits of %s on node %s: they need "
			 "the %s controllers, this node has %s (%s); not started "
			 "unbounded", in->spec.label, ag->node, want, has,
			 !ag->cg_on ? (ag->cg_off ? ag->cg_off : ag->cg_where) :
			 ag->keeper_proto < 6 ? "its keeper is an older rs-agent's" :
			 "the host enables no such controller for the node") >= (int)n)
		log_debug("%s: the reason limits are refused was cut", in->spec.label);
	return true;
}

/* Whether this node cannot apply in's profile (an older keeper, an
 * ability it lacks, a capability the agent does not hold, a CPU it may
 * not use); then why into why[n] (n may be 0). */
static bool svc_profile_refused(const inst *in, char *why, size_t n)
{
	const rs_profile *pf = &in->spec.profile;
	uint32_t need = rs_profile_needs(pf);
	const agent *ag = in->ag;
	uint64_t mask[RS_CPUS_WORDS];
	char want[64], has[64];

	if (!need)
		return false;
	if (ag->keeper_proto < 7 || (ag->privs & need) != need) {
		rs_priv_format(need, want, sizeof want);
		rs_priv_format(ag->privs, has, sizeof has);
		if (n && snprintf(why, n, "cannot apply the profile of %s on node %s: it "
				  "needs %s, this node can apply %s (%s); not started "
				  "unconfined", in->spec.label, ag->node, want, has,
				  ag->keeper_proto < 7 ? "its keeper is an older rs-agent's" :
				  !(ag->privs & RS_PRIV_MOUNT) && need & RS_PRIV_MOUNT ?
				  "mount namespaces need CAP_SYS_ADMIN: an agent as root" :
				  !(ag->privs & RS_PRIV_NICE) && need & RS_PRIV_NICE ?
				  "a nice below 0 needs CAP_SYS_NICE" :
				  "capabilities need CAP_SETPCAP") >= (int)n)
			log_debug("%s: the reason the profile is refused was cut",
				  in->spec.label);
		return true;
	}
	for (int i = 0; pf->caps_set && i <= RS_CAP_LAST; i++)
		if (pf->caps & (1ull << i) && !(ag->cap_perm & (1ull << i))) {
			if (n && snprintf(why, n, "cannot apply the profile of %s on node "
					  "%s: the agent does not hold %s, which it would "
					  "keep; not started", in->spec.label, ag->node,
					  rs_cap_name(i)) >= (int)n)
				log_debug("%s: the reason the profile is refused was cut",
					  in->spec.label);
			return true;
		}
	if (pf->cpus[0] && rs_cpus_parse(pf->cpus, mask, NULL) == 0)
		for (int i = 0; i < RS_CPUS_MAX && i < CPU_SETSIZE; i++)
			if (mask[i / 64] & (1ull << (i % 64)) && !CPU_ISSET(i, &ag->cpus)) {
				if (n && snprintf(why, n, "cannot apply the profile of %s "
						  "on node %s: cpus %s names CPU %d, which the "
						  "node does not offer (%d CPUs here); not "
						  "started", in->spec.label, ag->node, pf->cpus,
						  i, CPU_COUNT(&ag->cpus)) >= (int)n)
					log_debug("%s: the reason the profile is refused "
						  "was cut", in->spec.label);
				return true;
			}
	return false;
}

/* Starts the process. Returns 0 or a negative errno (exec failure too). */
static int svc_spawn(inst *in)
{
	char logpath[PATH_MAX], cgname[KCG_NAME_MAX] = "";
	struct kproto_spawn sp;
	struct svc_user u;
	char **env;
	pid_t pid;
	uint64_t ticks = 0;
	int r;

	snprintf(logpath, sizeof logpath, "%s/logs/%s.%llu.log",
		 in->ag->state_dir, in->spec.label,
		 (unsigned long long)svc_public_id(in));
	/* its cgroup: LABEL.ID, a live update's new process LABEL.ID.uSEQ */
	if (in->ag->cg_on && !(in->id & HO_ID_BIT))
		snprintf(cgname, sizeof cgname, "%s.%llu", in->spec.label,
			 (unsigned long long)in->id);
	else if (in->ag->cg_on)
		snprintf(cgname, sizeof cgname, "%s.%llu.u%llu", in->spec.label,
			 (unsigned long long)svc_public_id(in),
			 (unsigned long long)((in->id & ~HO_ID_BIT) >> HO_ID_SEQ_SHIFT));
	memcpy(in->cgname, cgname, sizeof in->cgname);
	in->use.ok = false;   /* a new process: sampled anew */
	in->spawn_step = 0;
	if ((r = svc_user(&in->spec, &u)) < 0)
		return r;
	if (svc_limits_refused(in, NULL, 0))
		return -EOPNOTSUPP;
	if (svc_profile_refused(in, NULL, 0))
		return -EOPNOTSUPP;
	env = svc_env(in, &u);
	if (!env)
		return -ENOMEM;
	sp = (struct kproto_spawn){ .argv = in->spec.argv,
				    .argc = (uint32_t)in->spec.argc, .env = env,
				    .cwd = in->spec.cwd ? in->spec.cwd : "/",
				    .logpath = logpath,
				    .flags = (in->spec.keep_caps ? KSPAWN_KEEP_CAPS : 0) |
					     (in->spec.fence == RS_FENCE_STOP ?
					      KSPAWN_FENCED : 0),
				    .stop_signal = (uint32_t)in->spec.stop_signal,
				    .stop_ms = in->spec.stop_timeout_ms,
				    .log_max = in->ag->log_max,
				    .cgroup = cgname,
				    .limits = {
					    .mem_max = in->spec.limits.memory_max,
					    .mem_high = in->spec.limits.memory_high,
					    .cpu_weight = in->spec.limits.cpu_weight,
					    .cpu_max = in->spec.limits.cpu_max,
					    .pids_max = in->spec.limits.pids_max,
				    },
				    .prof = {
					    .caps = in->spec.profile.caps,
					    .flags = (in->spec.profile.caps_set ? KPROF_CAPS : 0) |
						     (in->spec.profile.nnp == RS_NNP_ON ? KPROF_NNP_ON : 0) |
						     (in->spec.profile.nnp == RS_NNP_OFF ? KPROF_NNP_OFF : 0) |
						     (in->spec.profile.ro_root ? KPROF_RO_ROOT : 0) |
						     (in->spec.profile.private_tmp ? KPROF_PRIVATE_TMP : 0),
					    .nice = in->spec.profile.nice,
					    .cpus = in->spec.profile.cpus,
				    } };
	while (env[sp.envc])
		sp.envc++;
	if (u.set) {
		sp.ngroups = (uint32_t)u.ngroups;
		memcpy(sp.groups, u.groups, (size_t)u.ngroups * sizeof *u.groups);
	}
	r = kc_spawn(in->ag, in->id, in->primary ? in->primary->id : 0,
		     in->rp.restarts, &sp, u.set ? &u.uid : NULL, u.gid, &pid,
		     &ticks, &in->spawn_step);
	env_free(env);
	if (r < 0)
		return r;
	in->pid = pid;
	in->start_ticks = ticks;
	in->started_wall = clock_wall_ms();
	in->ready_wall = 0;
	in->notify_spoke = false;
	in->sd_ready = false;
	in->startup_done = false;
	in->unready = false;
	in->status[0] = '\0';
	return 0;
}

int svc_spawn_probe(inst *in, uint64_t key, char **argv, size_t argc,
		    const char *cgname)
{
	char logpath[PATH_MAX];
	struct kproto_spawn sp;
	struct svc_user u;
	char **env;
	int r;

	/* its output: the service's log, its lines stamped with its pid */
	snprintf(logpath, sizeof logpath, "%s/logs/%s.%llu.log",
		 in->ag->state_dir, in->spec.label,
		 (unsigned long long)svc_public_id(in));
	if ((r = svc_user(&in->spec, &u)) < 0)
		return r;
	if (!(env = svc_env(in, &u)))
		return -ENOMEM;
	sp = (struct kproto_spawn){ .argv = argv, .argc = (uint32_t)argc,
				    .env = env,
				    .cwd = in->spec.cwd ? in->spec.cwd : "/",
				    .logpath = logpath,
				    .flags = in->spec.keep_caps ? KSPAWN_KEEP_CAPS : 0,
				    .stop_signal = SIGKILL, .stop_ms = 0,
				    .log_max = in->ag->log_max,
				    .cgroup = (char *)(cgname ? cgname : "") };
	while (env[sp.envc])
		sp.envc++;
	if (u.set) {
		sp.ngroups = (uint32_t)u.ngroups;
		memcpy(sp.groups, u.groups, (size_t)u.ngroups * sizeof *u.groups);
	}
	/* no wait for the keeper's answer: the engine's loop (a restart,
	 * another probe) never waits for a probe's fork and exec */
	r = kc_spawn_async(in->ag, key, &sp, u.set ? &u.uid : NULL, u.gid);
	env_free(env);
	return r;
}

static void svc_arm_ready(inst *in)
{
	struct ev_loop *loop = in->ag->loop;

	ev_timer_set(&in->ready_t, in->spec.ready_timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &in->ready_t);
	if (in->spec.notify != RS_NT_NOTIFY) {
		ev_timer_set(&in->settle_t, in->spec.settle_ms / 1000.0, 0.);
		ev_timer_start(loop, &in->settle_t);
	}
}

/* Appends to buf (n bytes) what no SIGKILL of the last incarnation
 * ended, if anything. */
static void stuck_note(const inst *in, char *buf, size_t n)
{
	size_t l = strlen(buf);

	if (in->stuck && l < n)
		snprintf(buf + l, n - l, "; %d process%s of it survived SIGKILL "
			 "(uninterruptible sleep?) and %s set aside", in->stuck,
			 in->stuck == 1 ? "" : "es", in->stuck == 1 ? "was" : "were");
}

/* "pid 12 exited with code 3", "pid 12 killed by signal 9 (KILL)", ... */
static void exit_describe(const inst *in, char *buf, size_t n)
{
	const rs_exit *x = &in->rp.exit;
	const char *sig = x->signal ? sigabbrev_np(x->signal) : NULL;

	switch (x->reason) {
	case RS_ER_EXITED:
		snprintf(buf, n, "pid %d exited with code %d", (int)in->last_pid,
			 (int)x->code);
		break;
	case RS_ER_SIGNALED:
		snprintf(buf, n, "pid %d killed by signal %d (%s)", (int)in->last_pid,
			 (int)x->signal, sig ? sig : "?");
		break;
	case RS_ER_PROBE_FAILED:
		snprintf(buf, n, "pid %d killed: %s", (int)in->last_pid,
			 in->probe_why[0] ? in->probe_why : "probe-failed");
		break;
	case RS_ER_OOM:
		snprintf(buf, n, "pid %d killed by the OOM killer: over its memory max "
			 "of %llu bytes", (int)in->last_pid,
			 (unsigned long long)in->spec.limits.memory_max);
		break;
	default:
		snprintf(buf, n, "pid %d killed: %s", (int)in->last_pid,
			 rs_exit_reason_to_string(x->reason));
		break;
	}
	stuck_note(in, buf, n);
}

/* Ready once the process says so (READY=1, or settled) and its probes
 * let it be (a readiness probe passes, a startup probe passed). */
static void svc_ready_check(inst *in)
{
	if (in->rp.state == RS_IS_STARTING && in->sd_ready && probe_inst_ready(in))
		svc_apply(in, RP_EV_READY);
}

/* Reports a probe's verdict to an rsd that knows the event (an older one
 * would drop the message); always in the agent's log. */
static void probe_report(inst *in, const char *detail)
{
	if (in->ag->rsd_features_last & RS_FEAT_PROBES)
		agent_report(in->ag, in, RS_EK_PROBE, detail);
	else
		log_info("%s/%llu probe: %s", in->spec.label,
			 (unsigned long long)in->id, detail);
}

void svc_probe_verdict(inst *in, rs_probe_role r, bool passed, const char *why)
{
	const rs_probe *p = &in->spec.probes[r];
	const char *role = rs_probe_role_to_string(r);
	char detail[256];

	if (passed) {
		if (r == RS_PROBE_READINESS && in->unready) {
			in->unready = false;
			snprintf(detail, sizeof detail, "readiness probe passes again: ready");
			probe_report(in, detail);
		}
		svc_ready_check(in);
		return;
	}
	snprintf(detail, sizeof detail, "%s probe failed %u time%s in a row: %s", role,
		 p->failures, p->failures == 1 ? "" : "s", why);
	if (r == RS_PROBE_READINESS) {
		/* before its first ready it simply is not ready yet (its
		 * ready timeout decides); after, it is running but unready */
		if (in->rp.state == RS_IS_RUNNING && !in->unready) {
			in->unready = true;
			/* a live update's new process: no commit (handover.c) */
			if (in->primary) {
				ho_cand_unready(in, detail);
				return;
			}
			strncat(detail, ": not ready", sizeof detail - strlen(detail) - 1);
			probe_report(in, detail);
		}
		return;
	}
	rs_strlcpy(in->probe_why, detail, sizeof in->probe_why);
	strncat(detail, ", killed", sizeof detail - strlen(detail) - 1);
	probe_report(in, detail);
	svc_apply(in, RP_EV_PROBE_FAILED);
}

/* Carries out what rproc_step decided and reports the move to rsd. */
void svc_apply(inst *in, rproc_event ev)
{
	agent *ag = in->ag;
	rs_istate from = in->rp.state;
	char detail[256] = "";
	rproc_fx fx;

	if (rproc_step(&in->rp, ev, clock_mono_ms(), &fx) < 0) {
		log_debug("%s/%llu: %s ignored in state %s", in->spec.label,
			  (unsigned long long)in->id, rproc_event_to_string(ev),
			  rs_istate_to_string(from));
		return;
	}
	if (fx.fx & RP_FX_DISARM)
		svc_disarm(in);
	if (in->rp.state != RS_IS_STARTING && in->rp.state != RS_IS_RUNNING)
		probe_inst_stop(in);   /* nothing to probe, or being stopped */
	if (fx.fx & RP_FX_KILL) {
		svc_signal(in, SIGKILL);
		if (ev == RP_EV_STOP_TIMEOUT) {
			in->stop_killed = true;
			log_warnx("%s/%llu: pid %d still running %u ms after signal %d: SIGKILL",
				  in->spec.label, (unsigned long long)in->id, (int)in->pid,
				  in->spec.stop_timeout_ms, in->spec.stop_signal);
		}
	}
	if (fx.fx & RP_FX_STOP_SIGNAL) {
		in->stop_killed = false;
		if (in->pid > 0)
			kc_stop(ag, in->id, in->spec.stop_signal);
		svc_signal(in, SIGCONT);
		ev_timer_set(&in->stop_t, in->spec.stop_timeout_ms / 1000.0, 0.);
		ev_timer_start(ag->loop, &in->stop_t);
	}
	if (ev == RP_EV_WATCHDOG_MISS)
		agent_report(ag, in, RS_EK_WATCHDOG, "no WATCHDOG=1 for 2 x period, killed");
	if (fx.fx & RP_FX_SPAWN) {
		int r = svc_spawn(in);
		if (r < 0) {
			if (r == -ESRCH && in->spec.user[0])
				snprintf(detail, sizeof detail, "cannot run %s as user '%s': "
					 "no such user", in->spec.argv[0], in->spec.user);
			else if (r == -EPERM && in->spec.user[0])
				snprintf(detail, sizeof detail, "cannot run %s as user '%s': "
					 "the agent is not root", in->spec.argv[0], in->spec.user);
			else if (r == -EOPNOTSUPP && svc_limits_refused(in, detail, sizeof detail)) {
				/* detail says which controllers are missing */
			} else if (r == -EOPNOTSUPP &&
				   svc_profile_refused(in, detail, sizeof detail)) {
				/* detail says what of the profile cannot be */
			} else if (in->spawn_step)
				snprintf(detail, sizeof detail, "cannot start %s: %s failed: %s",
					 in->spec.argv[0], kproto_step_name(in->spawn_step),
					 strerror(-r));
			else
				snprintf(detail, sizeof detail, "cannot execute %s: %s",
					 in->spec.argv[0], strerror(-r));
			log_warnx("%s: %s", in->spec.label, detail);
			in->rp.exit.time_ms = clock_wall_ms();
			rproc_step(&in->rp, RP_EV_SPAWN_FAILED, clock_mono_ms(), &fx);
			svc_disarm(in);
			probe_inst_stop(in);   /* the last process's, if any */
			agent_report(ag, in, RS_EK_FAILED, detail);
			rs_strlcpy(in->status, detail, sizeof in->status);
			goto settled;
		}
		svc_arm_ready(in);
		probe_inst_start(in);
		if (in->exit_ns) {
			uint64_t us = (clock_mono_ns() - in->exit_ns) / 1000;
			in->latency_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
			in->exit_ns = 0;
			prom_hist_observe(&ag->h_restart, (double)us / 1e6);
		}
	}
	if (ev == RP_EV_EXIT && in->rp.state != RS_IS_DOWN) {
		char tail[200];
		exit_describe(in, detail, sizeof detail);
		if (fx.fx & RP_FX_RESTARTED)
			strncat(detail, ", restarting", sizeof detail - strlen(detail) - 1);
		/* the crash event carries what it said last */
		logs_tail_text(ag, in, tail, sizeof tail);
		if (tail[0]) {
			strncat(detail, "; last output: ", sizeof detail - strlen(detail) - 1);
			strncat(detail, tail, sizeof detail - strlen(detail) - 1);
		}
		agent_report(ag, in, RS_EK_EXITED, detail);
	}
	if (fx.fx & RP_FX_ARM_BACKOFF) {
		in->backoff_ms = fx.delay_ms;
		ev_timer_set(&in->backoff_t, fx.delay_ms / 1000.0, 0.);
		ev_timer_start(ag->loop, &in->backoff_t);
		snprintf(detail, sizeof detail, "restart in %u ms", fx.delay_ms);
		agent_report(ag, in, RS_EK_BACKOFF, detail);
	}
	if (fx.fx & RP_FX_SPAWN) {
		snprintf(detail, sizeof detail, "pid %d", (int)in->pid);
		agent_report(ag, in, RS_EK_STARTED, detail);
		in->latency_us = 0;
	}
	if (fx.fx & RP_FX_ARM_WDOG && in->spec.period_ms) {
		double t = 2.0 * in->spec.period_ms / 1000.0;
		ev_timer_set(&in->wdog_t, t, t);
		ev_timer_start(ag->loop, &in->wdog_t);
	}
	if (from != RS_IS_RUNNING && in->rp.state == RS_IS_RUNNING) {
		in->ready_wall = clock_wall_ms();
		agent_report(ag, in, RS_EK_READY, in->notify_spoke ? "READY=1" : "settled");
	}
	if (from != in->rp.state && in->rp.state == RS_IS_DOWN) {
		if (in->rp.exit.reason == RS_ER_FENCED) {
			snprintf(detail, sizeof detail, "%s", ag->fence_why);
		} else if (in->rp.stop_requested && in->stop_killed) {
			/* rsd's answer to down counts these (rsd_pending);
			 * not "ignored": postgres heeds TERM, and waits for
			 * its clients to leave */
			snprintf(detail, sizeof detail, "%s with SIGKILL after %.3g s "
				 "(signal %d did not stop it)",
				 in->refresh ? "stopped for refresh" : "stopped",
				 in->spec.stop_timeout_ms / 1000.0, in->spec.stop_signal);
		} else if (in->rp.stop_requested) {
			snprintf(detail, sizeof detail, "%s",
				 in->refresh ? "stopped for refresh" : "stopped");
		}
		if (in->rp.exit.reason == RS_ER_FENCED || in->rp.stop_requested) {
			stuck_note(in, detail, sizeof detail);
		} else {
			exit_describe(in, detail, sizeof detail);
			if (!in->rp.ever_ready)
				strncat(detail, " before it was ready",
					sizeof detail - strlen(detail) - 1);
		}
		agent_report(ag, in, RS_EK_DOWN, detail);
		if (in->refresh && !ag->exiting) {
			in->refresh = false;
			svc_apply(in, RP_EV_START);
			return;
		}
	}
	if (from != in->rp.state && in->rp.state == RS_IS_FAILED) {
		exit_describe(in, detail, sizeof detail);
		if (!in->rp.ever_ready)
			strncat(detail, " before it was ready", sizeof detail - strlen(detail) - 1);
		agent_report(ag, in, RS_EK_FAILED, detail);
	}
settled:
	if (in->primary && from != in->rp.state)
		ho_cand_moved(in, from);   /* may set forget */
	if ((in->rp.state == RS_IS_DOWN || in->rp.state == RS_IS_FAILED) &&
	    in->pid == 0 && (in->forget || ag->exiting)) {
		inst **pp = &ag->insts;
		while (*pp != in)
			pp = &(*pp)->next;
		*pp = in->next;
		svc_free(in);
		agent_maybe_exit(ag);
	}
}

static void ready_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	svc_apply(w->data, RP_EV_READY_TIMEOUT);
}

static void settle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	inst *in = w->data;

	if (in->spec.notify == RS_NT_SIMPLE || !in->notify_spoke) {
		in->sd_ready = true;
		svc_ready_check(in);
	}
}

static void wdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	svc_apply(w->data, RP_EV_WATCHDOG_MISS);
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	svc_apply(w->data, RP_EV_STOP_TIMEOUT);
}

static void backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	inst *in = w->data;

	agent_lease_check(in->ag);   /* may have stopped it: then refused */
	svc_apply(in, RP_EV_BACKOFF_DONE);
}

/* Called by notify.c for each believed message line. */
void svc_notify(inst *in, const char *key, const char *val);
void svc_notify(inst *in, const char *key, const char *val)
{
	if (strcmp(key, "WATCHDOG") == 0) {
		if (strcmp(val, "1") == 0) {
			if (ev_is_active(&in->wdog_t))
				ev_timer_again(in->ag->loop, &in->wdog_t);
		} else if (strcmp(val, "trigger") == 0) {
			svc_apply(in, RP_EV_WATCHDOG_MISS);
		}
		return;
	}
	in->notify_spoke = true;
	if (strcmp(key, "X_RS_PREPARED") == 0 && strcmp(val, "1") == 0) {
		ho_prepared(in);
	} else if (strcmp(key, "READY") == 0 && strcmp(val, "1") == 0) {
		in->sd_ready = true;
		svc_ready_check(in);
	} else if (strcmp(key, "STATUS") == 0) {
		rs_strlcpy(in->status, val, sizeof in->status);
		agent_report(in->ag, in, RS_EK_STATUS, in->status);
	}
}

/* Frees the dead (down/failed, no process) instances of label: a new
 * instance replaces them. */
static void svc_drop_dead(agent *ag, const char *label)
{
	for (inst **pp = &ag->insts; *pp;) {
		inst *in = *pp;
		if (in->pid == 0 && strcmp(in->spec.label, label) == 0 &&
		    (in->rp.state == RS_IS_DOWN || in->rp.state == RS_IS_FAILED)) {
			*pp = in->next;
			svc_free(in);
		} else {
			pp = &in->next;
		}
	}
}

/* edit: takes a new spec for a live instance without restarting it; the
 * command, env and cwd are used at its next spawn. */
static int svc_respec(inst *in, const rs_start *st)
{
	rs_spec spec;
	uint32_t old_period = in->spec.period_ms;
	bool probes_same = true;
	rs_limits old_limits = in->spec.limits;
	rs_profile old_prof = in->spec.profile;

	if (rs_spec_copy(&spec, &st->spec) < 0)
		return -ENOMEM;
	for (int i = 0; i < RS_PROBE__NR; i++)
		probes_same = probes_same && rs_probe_equal(&spec.probes[i], &in->spec.probes[i]);
	rs_spec_clear(&in->spec);
	in->spec = spec;
	in->generation = st->generation;
	in->rp.policy = spec.policy;
	in->rp.backoff = spec.backoff;
	in->rp.hold = spec.script != NULL;
	if (in->rp.state == RS_IS_RUNNING && spec.period_ms != old_period) {
		ev_timer_stop(in->ag->loop, &in->wdog_t);
		if (spec.period_ms) {
			double t = 2.0 * spec.period_ms / 1000.0;
			ev_timer_set(&in->wdog_t, t, t);
			ev_timer_start(in->ag->loop, &in->wdog_t);
		}
	}
	if (!rs_limits_equal(&old_limits, &spec.limits) && in->pid > 0 && in->ag->cg_on &&
	    in->ag->keeper_proto >= 6) {
		/* into its running cgroups: no restart */
		char why[300] = "";
		int r = kc_limits(in->ag, in->id, &spec.limits, why, sizeof why);
		if (r < 0)
			log_warnx("%s/%llu: cannot change its limits on the running "
				  "process: %s (they apply at its next start)", spec.label,
				  (unsigned long long)in->id, why[0] ? why : strerror(-r));
		else
			log_info("%s/%llu: limits changed on the running process",
				 spec.label, (unsigned long long)in->id);
	}
	if ((old_prof.nice != spec.profile.nice || strcmp(old_prof.cpus, spec.profile.cpus)) &&
	    in->pid > 0 && in->ag->keeper_proto >= 7) {
		/* nice and affinity on every thread of the running process:
		 * no restart. Back to "unchanged" (0, ""): nice 0 and every
		 * CPU the node offers */
		char why[300] = "", all[RS_CPUS_TEXT_MAX] = "";
		const char *cpus = spec.profile.cpus;
		int r;
		if (!cpus[0] && old_prof.cpus[0]) {
			uint64_t mask[RS_CPUS_WORDS] = { 0 };
			for (int i = 0; i < RS_CPUS_MAX && i < CPU_SETSIZE; i++)
				if (CPU_ISSET(i, &in->ag->cpus))
					mask[i / 64] |= 1ull << (i % 64);
			rs_cpus_format(mask, all, sizeof all);
			cpus = all;
		}
		r = kc_renice(in->ag, in->id, old_prof.nice != spec.profile.nice,
			      spec.profile.nice, cpus, why, sizeof why);
		if (r < 0)
			log_warnx("%s/%llu: cannot change its nice/cpus on the running "
				  "process: %s (they apply at its next start)", spec.label,
				  (unsigned long long)in->id, why[0] ? why : strerror(-r));
		else
			log_info("%s/%llu: nice %d, cpus %s on the running process",
				 spec.label, (unsigned long long)in->id, (int)spec.profile.nice,
				 cpus[0] ? cpus : "unchanged");
	}
	if (!probes_same && in->pid > 0 &&
	    (in->rp.state == RS_IS_RUNNING || in->rp.state == RS_IS_STARTING)) {
		/* new probes start over on the running process; it stays
		 * ready (an unready mark waits for the new verdict) */
		in->startup_done = in->startup_done || in->rp.state == RS_IS_RUNNING;
		probe_inst_start(in);
	}
	log_info("%s/%llu: new settings (generation %llu)", spec.label,
		 (unsigned long long)in->id, (unsigned long long)in->generation);
	return 0;
}

/* The listen set of a spec as one string ("" for none). */
static char *listen_join(const rs_spec *s)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < s->nlisten; i++)
		len += strlen(s->listen[i]) + 1;
	out = calloc(1, len);
	for (size_t i = 0; out && i < s->nlisten; i++) {
		strcat(out, s->listen[i]);
		strcat(out, "\n");
	}
	return out;
}

/* Makes the keeper hold the spec's listening sockets (opened here, so a
 * bad address or a port in use fails the start before anything runs).
 * Kept as they are while the set is unchanged: across crash restarts,
 * refreshes and updates the sockets, and their backlogs, stay open. */
static int svc_listen(inst *in, char *err, size_t n)
{
	int fds[RS_LISTEN_MAX], nfd = 0, r = 0;
	rs_listen l[RS_LISTEN_MAX];
	char *want = listen_join(&in->spec);

	if (!want)
		return -ENOMEM;
	if (in->listen_held && strcmp(in->listen_held, want) == 0) {
		free(want);
		return 0;
	}
	if (in->listen_held) {
		/* a new set: free the old addresses before binding again */
		kc_fd_del(in->ag, in->id, KFD_LISTEN, "");
		if ((r = kc_sync(in->ag)) < 0) {
			snprintf(err, n, "the keeper does not answer: %s", strerror(-r));
			goto out;
		}
		free(in->listen_held);
		in->listen_held = NULL;
	}
	for (size_t i = 0; i < in->spec.nlisten && i < RS_LISTEN_MAX; i++) {
		if ((r = rs_listen_parse(in->spec.listen[i], &l[i], err, n)) < 0)
			goto out;
		if ((r = rs_listen_open(&l[i], err, n)) < 0)
			goto out;
		fds[nfd++] = r;
	}
	for (int i = 0; i < nfd; i++)
		if ((r = kc_fd_add(in->ag, in->id, KFD_LISTEN, l[i].name, fds[i])) < 0) {
			snprintf(err, n, "cannot hand listen \"%.64s\" to the keeper: %s",
				 l[i].name, strerror(-r));
			goto out;
		}
	in->listen_held = want;
	want = NULL;
	r = 0;
out:
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	if (r < 0 && nfd)
		kc_fd_del(in->ag, in->id, KFD_LISTEN, "");
	free(want);
	return r;
}

/* A new, empty instance at the head of the table. */
inst *svc_new(agent *ag, uint64_t id)
{
	inst *in = calloc(1, sizeof *in);

	if (!in)
		return NULL;
	in->ag = ag;
	in->id = id;
	in->notify_fd = -1;
	ev_init(&in->ready_t, ready_cb);
	ev_init(&in->settle_t, settle_cb);
	ev_init(&in->wdog_t, wdog_cb);
	ev_init(&in->stop_t, stop_cb);
	ev_init(&in->backoff_t, backoff_cb);
	in->ready_t.data = in->settle_t.data = in->wdog_t.data = in;
	in->stop_t.data = in->backoff_t.data = in;
	rs_spec_init(&in->spec);
	in->next = ag->insts;
	ag->insts = in;
	return in;
}

int svc_start(agent *ag, const rs_start *st)
{
	inst *in = svc_find(ag, st->instance_id);
	rproc prev = { .state = RS_IS_UNKNOWN };
	int r;

	char err[256];

	/* rsd validated it, but the agent trusts nothing from the network */
	if (st->instance_id == 0 || st->instance_id > HO_ID_MASK) {
		log_warnx("start of instance %llu refused: ids are 1..%llu",
			  (unsigned long long)st->instance_id,
			  (unsigned long long)HO_ID_MASK);
		return -EINVAL;
	}
	if (rs_spec_validate(&st->spec, err, sizeof err) < 0) {
		log_warnx("start of instance %llu refused: %s",
			  (unsigned long long)st->instance_id, err);
		return -EINVAL;
	}
	if (probe_spec_supported(&st->spec, err, sizeof err) < 0) {
		/* said to rsd as a failed start below, with this reason */
		log_warnx("%s/%llu: start refused: %s", st->spec.label,
			  (unsigned long long)st->instance_id, err);
		if (st->update || st->respec)
			return -ENOTSUP;
	}
	if (st->update)
		return ho_begin(ag, st);
	if (st->respec) {
		if (!in)
			return -ENOENT;
		r = svc_respec(in, st);
		if (r == 0)
			kc_meta(ag, in);
		return r;
	}
	if (in) {
		if (in->rp.state == RS_IS_STOPPING && !ag->exiting) {
			/* rsd wants it again while it stops (it moved the
			 * instance back here while this copy was being
			 * stopped): start it again once it is down, as a
			 * refresh, rather than let the stop end it for good
			 * (found by tests/test_sim.c) */
			in->refresh = true;
			in->forget = false;
			agent_report(ag, in, RS_EK_STARTED, "stopping; starts again once down");
			return 0;
		}
		if (in->rp.state == RS_IS_STARTING || in->rp.state == RS_IS_RUNNING ||
		    in->rp.state == RS_IS_BACKOFF) {
			/* already live: say so again (rsd may have missed it) */
			agent_report(ag, in, in->rp.state == RS_IS_RUNNING ?
				     RS_EK_READY : RS_EK_STARTED, "already running");
			return 0;
		}
		rs_spec_clear(&in->spec);
	} else {
		svc_drop_dead(ag, st->spec.label);
		in = svc_new(ag, st->instance_id);
		if (!in)
			return -ENOMEM;
	}
	in->generation = st->generation;
	in->forget = false;
	r = rs_spec_copy(&in->spec, &st->spec);
	if (r == 0 && in->notify_fd < 0)
		r = notify_open(in, -1);
	if (r < 0)
		snprintf(in->status, sizeof in->status, "cannot set up: %s", strerror(-r));
	else if ((r = probe_spec_supported(&in->spec, err, sizeof err)) < 0)
		rs_strlcpy(in->status, err, sizeof in->status);
	else if ((r = svc_listen(in, err, sizeof err)) < 0)
		rs_strlcpy(in->status, err, sizeof in->status);
	if (r < 0) {
		rproc_init(&in->rp, st->spec.policy, &st->spec.backoff);
		in->rp.state = RS_IS_FAILED;
		agent_report(ag, in, RS_EK_FAILED, in->status);
		return r;
	}
	kc_meta(ag, in);
	prev = in->rp;
	rproc_init(&in->rp, in->spec.policy, &in->spec.backoff);
	in->rp.hold = in->spec.script != NULL;
	if (prev.state == RS_IS_EXITED) {
		/* a recovery script's restart: the same incarnation line */
		in->rp.state = RS_IS_EXITED;
		in->rp.restarts = prev.restarts;
		in->rp.exit = prev.exit;
	}
	svc_apply(in, RP_EV_START);
	return 0;
}

int svc_adopt(agent *ag, const rs_start *st, pid_t pid, uint64_t ticks,
	      uint64_t started_wall, uint32_t restarts, int notify_fd)
{
	char err[256];
	inst *in;
	int r;

	if (rs_spec_validate(&st->spec, err, sizeof err) < 0 || pid <= 0 ||
	    svc_find(ag, st->instance_id))
		return -EINVAL;
	in = svc_new(ag, st->instance_id);
	if (!in)
		return -ENOMEM;
	in->generation = st->generation;
	r = rs_spec_copy(&in->spec, &st->spec);
	if (r == 0)
		r = notify_open(in, notify_fd);
	notify_fd = -1;
	if (r < 0) {
		/* keep the record so the exit still finds it; no notify */
		log_warnx("%s/%llu: adopted without a notify socket: %s",
			  in->spec.label, (unsigned long long)in->id, strerror(-r));
	}
	/* it ran under the previous engine: take it as running (a service
	 * that was still starting then is believed ready now) */
	rproc_init(&in->rp, in->spec.policy, &in->spec.backoff);
	in->rp.hold = in->spec.script != NULL;
	in->rp.state = RS_IS_RUNNING;
	in->rp.ever_ready = true;
	in->rp.restarts = restarts;
	in->rp.started_ms = clock_mono_ms();
	in->pid = pid;
	in->start_ticks = ticks;
	in->started_wall = started_wall;
	in->ready_wall = started_wall;
	in->listen_held = listen_join(&in->spec);   /* the keeper holds them */
	if (in->spec.period_ms) {
		double t = 2.0 * in->spec.period_ms / 1000.0;
		ev_timer_set(&in->wdog_t, t, t);
		ev_timer_start(ag->loop, &in->wdog_t);
	}
	/* believed ready: its startup probe is behind it */
	in->sd_ready = in->startup_done = true;
	probe_inst_start(in);
	log_info("%s/%llu: adopted pid %d from the keeper", in->spec.label,
		 (unsigned long long)in->id, (int)pid);
	return 0;
}

int svc_stop(agent *ag, uint64_t id, bool forget, bool restart)
{
	inst *in = svc_find(ag, id);

	if (!in)
		return -ENOENT;
	in->forget = forget && !restart;
	in->refresh = restart;
	svc_apply(in, RP_EV_STOP);
	return 0;
}

int svc_send_signal(agent *ag, const rs_signal *sg)
{
	inst *in = svc_find(ag, sg->instance_id);
	const char *name = sigabbrev_np(sg->signal);

	if (!in || in->pid <= 0 || (in->rp.state != RS_IS_RUNNING &&
				    in->rp.state != RS_IS_STARTING)) {
		log_info("instance %llu: SIG%s not sent: %s, ignoring",
			 (unsigned long long)sg->instance_id, name ? name : "?",
			 !in ? "not known here" :
			 rs_istate_to_string(in->rp.state));
		return -ESRCH;
	}
	/* through the keeper, whose unreaped child it is (svc_signal) */
	if (sg->group)
		kc_kill(ag, in->id, sg->signal);
	else
		kc_kill_main(ag, in->id, sg->signal);
	log_info("%s/%llu: SIG%s to %s %d (rsd's order)", in->spec.label,
		 (unsigned long long)sg->instance_id, name ? name : "?",
		 sg->group ? "the group of pid" : "pid", (int)in->pid);
	return 0;
}

void svc_stop_all(agent *ag)
{
	inst *in = ag->insts, *next;

	for (; in; in = next) {
		next = in->next;   /* svc_apply may free in */
		in->forget = true;
		in->refresh = false;
		svc_apply(in, RP_EV_STOP);
	}
}

bool svc_child_exited(agent *ag, uint64_t id, pid_t pid, int wstatus, bool oom,
		      int stuck, uint64_t ns)
{
	inst *in = svc_find(ag, id);

	/* a live update may have moved the process to its paired instance
	 * while this exit was on its way: the pid tells (an unreaped pid is
	 * unique, and this one was reaped just now) */
	if (!in || in->pid != pid)
		in = svc_find_pid(ag, pid);
	if (!in || pid <= 0) {
		log_debug("exit of pid %d (instance %llu) is no longer ours",
			  (int)pid, (unsigned long long)id);
		return false;
	}
	/* after a freeze the keeper's exit can come before the lease timer:
	 * a fenced instance must go down, not restart by policy */
	agent_lease_check(ag);
	if (in->ho)
		ho_primary_exited(in);
	/* the keeper has killed what the main process left in its group
	 * and, with cgroups, waited until its cgroup was empty */
	in->exit_ns = ns;
	in->death_log_end = logs_size(ag, in);   /* one stat(): cheap */
	in->last_pid = pid;
	in->pid = 0;
	in->stuck = stuck;
	if (stuck)
		log_warnx("%s/%llu: %d process(es) of pid %d's incarnation survived "
			  "SIGKILL (uninterruptible sleep?); set aside in their cgroup, "
			  "the next start goes ahead", in->spec.label,
			  (unsigned long long)in->id, stuck, (int)pid);
	rproc_classify(wstatus, &in->rp.exit);
	/* the kernel's OOM killer, in its memory cgroup (the keeper saw
	 * the count rise): a SIGKILL with a reason */
	if (oom && in->rp.exit.reason == RS_ER_SIGNALED && in->rp.exit.signal == SIGKILL)
		in->rp.exit.reason = RS_ER_OOM;
	in->rp.exit.time_ms = clock_wall_ms();
	svc_apply(in, RP_EV_EXIT);
	return true;
}

void svc_free(inst *in)
{
	if (!in)
		return;
	svc_disarm(in);
	probe_inst_free(in);
	ho_free(in);
	/* a live process outlives this engine: its notify socket stays */
	notify_close(in, in->pid == 0);
	if (in->pid == 0)
		kc_forget(in->ag, in->id);
	rs_spec_clear(&in->spec);
	free(in->listen_held);
	free(in);
}
