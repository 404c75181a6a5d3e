/*
 * probe.h - the agent runs its instances' health probes (never rsd).
 *
 * Owns: libcurl (the only user in rs), one multi handle driven by the
 * agent's libev loop (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION) for HTTP
 * probes, non-blocking connects for TCP probes, and each probe's timers.
 * Nothing here blocks: a hanging probe ends at its timeout and delays no
 * restart and no other probe. What a result means is lib/probesm.h's
 * decision; what a verdict does is svc.c's (svc_probe_verdict).
 * Exec probes: each run is a process the keeper starts (K_SPAWN under the
 * probe's own record, PROBE_ID, in its cgroup LABEL.ID.pSEQ when the
 * agent uses cgroups, else its own process group; record and cgroup are
 * kept across runs), as the service's user, in its cwd and environment;
 * its output goes to the service's log. At the timeout the run is
 * killed whole (K_KILL SIGKILL: its group and its cgroup) and counted a
 * failure at once; its exit (K_EXITED) then only lets that record go,
 * and the next run gets a new one.
 * Must not: fork (the keeper does), or decide restarts.
 */
#ifndef RS_AGENT_PROBE_H
#define RS_AGENT_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model.h"
#include "prom.h"

struct agent;
struct inst;

/* Sets up the agent's multi handle (ag->probe_hub). 0 or -errno. */
int probe_hub_init(struct agent *ag);
/* Cancels everything in flight and frees the hub. */
void probe_hub_fini(struct agent *ag);
/* The histogram of probe durations (rs_probe_duration_seconds), or NULL. */
const prom_hist *probe_hub_durations(const struct agent *ag);

/* The instance's process started (or was adopted): its probes start, a
 * startup probe first (the others once it passed). Probes it already ran
 * start over. 0, or -ENOMEM (logged; the instance runs unprobed). */
int probe_inst_start(struct inst *in);
/* No process to probe (stopping, dead): cancels its probes. */
void probe_inst_stop(struct inst *in);
/* Frees what the instance's probes hold (svc_free). */
void probe_inst_free(struct inst *in);
/* Whether its probes let it be ready: no startup probe or it passed, and
 * no readiness probe or it passes now. */
bool probe_inst_ready(const struct inst *in);
/* Failures of its probe of role r since the instance was made (counter). */
uint64_t probe_inst_failures(const struct inst *in, rs_probe_role r);
/* Why its probe of role r failed last ("" if it never did). */
const char *probe_inst_why(const struct inst *in, rs_probe_role r);
/* Whether the agent can run s's probes: 0 (every kind runs; kept for a
 * kind a later version adds), or -ENOTSUP with a message in err. */
int probe_spec_supported(const rs_spec *s, char *err, size_t n);
/* The keeper's K_EXITED for record key. 0: not an exec probe's
 * (PROBE_ID). 1: its result (exit 0 passes; a code or a signal fails)
 * went to its probe, which keeps the record (and its cgroup) for its next
 * run. 2: a run killed (timeout, stop) or a probe gone: the caller
 * forgets the record. */
int probe_exec_exited(struct agent *ag, uint64_t key, pid_t pid, int wstatus);
/* The keeper's K_SPAWNED for record key (kc_spawn_async): false if key is
 * not an exec probe's. The run's pid, or its failure to start (a probe
 * failure, "cannot start the probe: ..."); for a run cancelled meanwhile
 * nothing (its K_EXITED follows) or, if it did not start, the record
 * goes. */
bool probe_exec_spawned(struct agent *ag, uint64_t key, int64_t pid_or_err);

/* svc.c: the probe of role r of in changed its verdict (passed, or failed
 * `failures` times in a row, why says how the last one failed). */
void svc_probe_verdict(struct inst *in, rs_probe_role r, bool passed,
		       const char *why);

#endif
