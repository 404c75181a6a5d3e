/*
 * harness.h - the integration-test harness: a temporary cluster of one rsd
 * and N rs-agents on 127.0.0.1, rsctl runs with captured output, JSON
 * helpers, waits on conditions, and a teardown that kills by pid every
 * process it started or saw.
 *
 * One cluster per process (Criterion runs each test in its own process):
 * the state is global. Everything the harness hands out (h_res, json_t)
 * is owned by the harness and freed at h_teardown(), so a failed
 * assertion leaks nothing.
 *
 * Binaries come from $RS_BIN_DIR: rsd/rsd, agent/rs-agent, ctl/rsctl,
 * tests/notifysvc.
 */
#ifndef RS_TESTS_HARNESS_H
#define RS_TESTS_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define H_MAX_AGENTS 8
#define H_MAX_PIDS   256
#define H_PATH_MAX   512

/* Default time limits, milliseconds. */
#define H_RSCTL_TIMEOUT_MS 25000   /* rsctl is killed after this */
#define H_START_TIMEOUT_MS 10000   /* rsd's ready line, nodes up */

/* Options of h_setup_opts(). */
typedef struct h_opts {
	int         agents;      /* number of agents n1..nN (0..H_MAX_AGENTS) */
	const char *node_ttl;    /* rsd --node-ttl value, NULL = default */
	int         alarm_s;     /* emergency kill-all after this, 0 = off */
	/* one more argument for agent i (e.g. "--label=ssd"), NULL = none */
	const char *agent_arg[H_MAX_AGENTS + 1];
	bool        insecure;    /* rsd, agents and rsctl --insecure */
	/* the folder of rsd's --db, where rsd also keeps its key files
	 * (admin.cred, join.token): NULL = the test's temporary folder. The
	 * test owns it (e.g. a tmpfs it mounts), the harness removes nothing
	 * in it. */
	const char *db_dir;
	/* more arguments for rsd (e.g. "--events-keep=50"), NULL = none */
	const char *rsd_arg[4];
} h_opts;

/* One rsctl run. */
typedef struct h_res {
	int   code;        /* exit code; -1 if killed by a signal/timeout */
	int   sig;         /* the signal that killed it, 0 if it exited */
	bool  timed_out;   /* the harness killed it */
	long  elapsed_ms;
	char *out;         /* stdout, NUL-terminated, never NULL */
	char *err;         /* stderr, NUL-terminated, never NULL */
	struct h_res *next_;
} h_res;

/* What `status LABEL --json` says about one instance. */
typedef struct h_inst {
	bool     found;            /* the service and an instance exist */
	char     svc_state[32];    /* the service's state */
	char     desired[16];
	int      ninstances;
	uint64_t id;
	char     node[64];
	pid_t    pid;
	char     state[32];
	int      restarts;
	char     status[256];
	int      exit_code;
	int      exit_signal;
	char     reason[32];
} h_inst;

/* ---- the cluster ------------------------------------------------------ */

/* Makes the temp dir, starts rsd and n agents and waits until every agent
 * is "up" in `rsctl nodes`. Fails the test (cr_assert) on error. */
void h_setup(int agents);
void h_setup_opts(const h_opts *o);
/* h_setup with name=value in the environment of the daemons it starts (a
 * test knob: RS_APPLY_SLICE, RS_TEST_DROP_ORDERS...); unset again once
 * they run, so a daemon the test starts later goes without it. */
void h_setup_env(int agents, const char *name, const char *value);
/* Kills (SIGKILL, by pid) every process started or seen, reaps the
 * children, dumps the logs if the test did not reach h_pass(), removes the
 * temp dir. Safe to call when h_setup failed half-way. */
void h_teardown(void);
/* Marks the test as passed (call it last in each test): teardown then does
 * not dump the daemons' logs. */
void h_pass(void);
/* Prints the last `lines` lines of every daemon log to stderr. */
void h_dump_logs(int lines);

const char *h_tmpdir(void);
const char *h_control_ep(void);
const char *h_agents_ep(void);
pid_t h_rsd_pid(void);
pid_t h_agent_pid(int i);           /* i = 1..N, like the node name */
/* The pid of agent i's keeper (the parent of its services), or 0. */
pid_t h_keeper_pid(int i);
/* Path of the test helper / a file in the temp dir (static buffer per
 * call site is not needed: the result is interned in the harness). */
const char *h_notifysvc(void);
const char *h_sockserv(void);           /* tests/helpers/sockserv.c */
const char *h_path(const char *name);
/* Writes text to NAME in the temp dir (mode 0600: credentials too);
 * returns its path. */
const char *h_save(const char *name, const char *text);
/* A whole file's bytes, NUL-terminated and malloc'ed ("" when it cannot
 * be read); *len its length when len is not NULL. */
char *h_slurp(const char *path, size_t *len);
/* Whether the whole file at path holds what (false when unreadable). */
bool h_file_has(const char *path, const char *what);
/* Waits (h_wait_until) until the file at path holds what. */
bool h_wait_file_has(const char *path, const char *what, int timeout_ms);

/* Starts rsd again on the same endpoints and db (after it died or was
 * killed with h_kill_rsd). */
void h_restart_rsd(void);
/* Sends sig to rsd and reaps it (waits up to 5 s; fails the test if it
 * does not die). Returns its wait status. */
int h_kill_rsd(int sig);
/* Sends sig to agent i and reaps it (waits up to 10 s). Returns its wait
 * status. */
int h_kill_agent(int i, int sig);
/* Starts agent i (after h_kill_agent) again, same node name and state dir. */
void h_restart_agent(int i);
/* Agents started from now on (by the harness or a test's fork) act as
 * if on host `tag` of this cluster (RS_TEST_HOST: keeper names differ,
 * docs/design.md "One keeper per node"); NULL: the cluster's own host,
 * where h_setup starts them. Each cluster is a host of its own, so
 * clusters of tests running side by side never meet. */
void h_as_host(const char *tag);
/* Runs rs-agent as node n<i> (same rsd and token file as agent i) on
 * state dir dir instead of its own, and waits up to timeout_ms for it to
 * exit (then kills it: timed_out): for an agent that must refuse to
 * start. Teardown kills a keeper it left in dir. */
const h_res *h_run_agent_dir(int i, const char *dir, int timeout_ms);

/* rsd's keys: rsd.key, admin.cred and join.token are in h_tmpdir() (the
 * folder of its --db); every rsctl gets RS_CRED=admin.cred, every agent
 * --token-file join.token, unless the cluster is insecure. */
/* The admin credential's keys for a direct net_call (NULL if insecure). */
const struct net_curve *h_curve(void);

/* ---- rsctl ------------------------------------------------------------ */

/* Runs `rsctl -s CONTROL ARGS... (NULL-terminated)` with the default time
 * limit; never returns NULL. */
const h_res *h_rsctl(const char *arg, ...);
const h_res *h_rsctl_t(int timeout_ms, const char *arg, ...);
const h_res *h_rsctl_v(int timeout_ms, const char *const *argv);
/* Runs any program (argv[0] a path) the same way. */
const h_res *h_run(int timeout_ms, const char *const *argv);

/* rsctl in the background (output to files in the temp dir), for
 * requests that block while the test does something else. At most 16 per
 * test; teardown kills the ones still running. */
typedef struct h_job h_job;
h_job *h_rsctl_start(const char *arg, ...);
/* Whether the job has not exited yet (does not reap it). */
bool h_job_running(h_job *j);
/* Waits up to timeout_ms for the job (then kills it: timed_out). */
const h_res *h_job_wait(h_job *j, int timeout_ms);
/* The job's pid (to signal it), and the file its stdout goes to (to read
 * what it printed so far). */
pid_t h_job_pid(const h_job *j);
const char *h_job_out(const h_job *j);

/* Parses r->out as JSON; NULL if it is not JSON. Owned by the harness. */
json_t *h_json(const h_res *r);
/* o[key] as a string, "" when absent or not a string. */
const char *h_jstr(const json_t *o, const char *key);

/* Asserts that a command (rsctl, or another the harness ran) exited with
 * want, saying what it was and what it printed otherwise. */
#define assert_code(r, want, what)                                            \
	cr_assert_eq((r)->code, (want),                                       \
		     "%s: exited %d (signal %d%s, %ld ms), want %d\n"         \
		     "stdout: %s\nstderr: %s", (what), (r)->code, (r)->sig,   \
		     (r)->timed_out ? ", timed out" : "", (r)->elapsed_ms,    \
		     (want), (r)->out, (r)->err)

/* ---- queries ---------------------------------------------------------- */

/* `status LABEL --json`: the live instance (starting/running/stopping) with
 * the highest id, else the instance with the highest id. Records every
 * pid it sees for teardown. Returns inst->found. */
bool h_status_instance(const char *label, h_inst *inst);
/* `nodes --json`: the node's state into state (size n); false if absent. */
bool h_node_state(const char *node, char *state, size_t n);
/* Whether every agent n1..nN is "up". */
bool h_nodes_all_up(void);

/* ---- processes -------------------------------------------------------- */

/* Alive and not a zombie. */
bool h_pid_alive(pid_t pid);
/* Adds pid to the set teardown kills (also its process group if it leads
 * one). Ignores pid <= 1 and duplicates. */
void h_track_pid(pid_t pid);
/* Reads a pid file; 0 if absent or garbled. */
pid_t h_read_pidfile(const char *path);

/* ---- waiting ---------------------------------------------------------- */

/* Polls fn(arg) every 20 ms until it returns true (→ true) or timeout_ms
 * passed (→ false). */
bool h_wait_until(bool (*fn)(void *), void *arg, int timeout_ms);
int64_t h_now_ms(void);   /* monotonic */

#endif
