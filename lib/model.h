/*
 * model.h - the plain data of the rproc table, shared by every module.
 *
 * Owns: the C types for services (spec), instances, nodes, events and
 * operations, their enums with _NR sentinels and to_string/from_string.
 * Must not: include protobuf-c, ZeroMQ, SQLite or libev headers.
 * Times: *_ms fields are milliseconds; wall clock unless named mono.
 */
#ifndef RS_MODEL_H
#define RS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listen.h"

#define RS_LABEL_MAX   64    /* incl. NUL; labels are [A-Za-z0-9._-]{1,63} */
#define RS_NODE_MAX    64
#define RS_STATUS_MAX  256
#define RS_DETAIL_MAX  512
#define RS_ARGV_MAX    256   /* max argv / env entries */
#define RS_ARG_MAX     4096  /* max length of one argv/env string */
#define RS_FRAME_MAX   (1u << 20) /* largest accepted wire frame */
#define RS_SPEC_BYTES_MAX (256u << 10) /* argv + env + cwd of one spec */

/* Defaults (documented in docs/design.md, "Defaults"). */
#define RS_DEF_READY_TIMEOUT_MS 10000
#define RS_DEF_STOP_TIMEOUT_MS  2000
#define RS_DEF_SETTLE_MS        1000
#define RS_DEF_BACKOFF_INITIAL  2000
#define RS_DEF_BACKOFF_FACTOR   2
#define RS_DEF_BACKOFF_MAX      30000
#define RS_DEF_BACKOFF_RESET    60000
#define RS_REPLICAS_MAX         64
#define RS_PLACEMENT_MAX        32    /* placement entries of one spec */
#define RS_USER_MAX             33    /* incl. NUL: a user name or a uid */
#define RS_NODE_LABELS_MAX      32    /* labels of one node */

typedef enum rs_istate {
	RS_IS_UNKNOWN = 0,
	RS_IS_PENDING,
	RS_IS_STARTING,
	RS_IS_RUNNING,
	RS_IS_STOPPING,
	RS_IS_EXITED,
	RS_IS_BACKOFF,
	RS_IS_DOWN,
	RS_IS_FAILED,
	RS_IS_LOST,
	RS_IS__NR
} rs_istate;

typedef enum rs_exit_reason {
	RS_ER_NONE = 0,
	RS_ER_EXITED,
	RS_ER_SIGNALED,
	RS_ER_NO_HEARTBEAT,
	RS_ER_READY_TIMEOUT,
	RS_ER_EXEC_FAILED,
	RS_ER_STOPPED,
	RS_ER_FENCED,     /* stopped by the agent: no word from rsd for its lease */
	RS_ER_PROBE_FAILED, /* killed by the agent: its liveness probe failed
			     * `failures` times in a row (0.3, RS_FEAT_PROBES) */
	RS_ER_OOM,        /* killed by the kernel's OOM killer in its cgroup
			   * (over its memory max; 0.3, RS_FEAT_LIMITS) */
	RS_ER__NR
} rs_exit_reason;

typedef enum rs_policy {
	RS_RP_ALWAYS = 0,
	RS_RP_ON_FAILURE,
	RS_RP_NEVER,
	RS_RP__NR
} rs_policy;

typedef enum rs_notify_type {
	RS_NT_AUTO = 0,
	RS_NT_NOTIFY,
	RS_NT_SIMPLE,
	RS_NT__NR
} rs_notify_type;

typedef enum rs_node_state {
	RS_NS_UNKNOWN = 0,
	RS_NS_UP,
	RS_NS_LOST,
	RS_NS_SUSPECT,    /* appended: the store keeps the names, and a 0.2.0 */
	RS_NS_FENCED,     /* rsd reads a name it does not know as unknown */
	RS_NS__NR
} rs_node_state;

/* What the agent does with an instance when rsd is silent for its lease. */
typedef enum rs_fence {
	RS_FENCE_NONE = 0,   /* keep it running (the default) */
	RS_FENCE_STOP,       /* stop it; rsd may run it elsewhere only once the
			      * lease and its stop timeout surely expired */
	RS_FENCE__NR
} rs_fence;

/* Health probes (lib/probespec.h, docs/design.md "Probes"): run by the
 * agent, never by rsd. The kind is which of target/argv is set. */
typedef enum rs_probe_kind {
	RS_PK_NONE = 0,
	RS_PK_HTTP,          /* GET target (a URL); success: a status in range */
	RS_PK_TCP,           /* connect to target ("HOST:PORT") */
	RS_PK_EXEC,          /* run argv; success: exit 0 */
	RS_PK__NR
} rs_probe_kind;

typedef enum rs_probe_role {
	RS_PROBE_LIVENESS = 0,  /* failures in a row kill it (probe-failed) */
	RS_PROBE_READINESS,     /* it is ready only while this one passes */
	RS_PROBE_STARTUP,       /* holds the others until it passed once */
	RS_PROBE__NR
} rs_probe_role;

typedef struct rs_probe {
	rs_probe_kind kind;
	char     *target;      /* http: URL; tcp: HOST:PORT; NULL otherwise */
	char    **argv;        /* exec: argc entries, NULL-terminated */
	size_t    argc;
	char    **headers;     /* http: "Name: value", NULL-terminated */
	size_t    nheaders;
	uint32_t  period_ms;   /* between the starts of two probes */
	uint32_t  timeout_ms;  /* one probe's limit: a failure after it */
	uint32_t  failures;    /* failures in a row that count (>= 1) */
	uint32_t  initial_delay_ms; /* after the process started */
	uint32_t  status_min;  /* http: a status in [min, max] passes */
	uint32_t  status_max;
} rs_probe;

/* Resource limits of one instance (lib/reslimits.h, docs/design.md
 * "Limits"): enforced by the keeper through cgroup controllers. 0 in a
 * field: no limit of that kind. */
typedef struct rs_limits {
	uint64_t memory_max;   /* bytes: over it, reclaim, then the OOM killer */
	uint64_t memory_high;  /* bytes: over it, throttled and reclaimed */
	uint32_t cpu_weight;   /* 1..10000 (cgroup v2 cpu.weight; 100 = normal) */
	uint32_t cpu_max;      /* percent of one CPU, 1..RS_CPU_MAX_PCT */
	uint32_t pids_max;     /* processes and threads, 1.. */
} rs_limits;

/* A privilege profile (lib/profile.h, docs/design.md "Profiles"):
 * applied by the keeper in the child before exec. All 0: none. */
#define RS_CPUS_TEXT_MAX 64
typedef struct rs_profile {
	uint64_t caps;         /* bit n: capability n is kept (caps_set) */
	bool     caps_set;     /* the bounding set is exactly caps (with
				* user: raised as ambient too) */
	uint8_t  nnp;          /* RS_NNP_DEFAULT/ON/OFF (no_new_privs) */
	bool     ro_root;      /* / read-only, a private mount namespace */
	bool     private_tmp;  /* a fresh tmpfs on /tmp and /var/tmp */
	int32_t  nice;         /* -20..19; 0: unchanged */
	char     cpus[RS_CPUS_TEXT_MAX]; /* affinity "0-1,3"; "": unchanged */
	uint32_t fields;       /* an edit's RS_PF_* it sets (0 in a spec) */
} rs_profile;

typedef enum rs_desired {
	RS_WANT_DOWN = 0,
	RS_WANT_UP,
	RS_WANT__NR
} rs_desired;

typedef struct rs_backoff {
	uint32_t initial_ms;   /* delay of the 2nd restart in a row */
	uint32_t factor;       /* multiplier per further restart */
	uint32_t max_ms;       /* cap */
	uint32_t reset_ms;     /* healthy run time that resets the sequence */
	bool     disabled;     /* restart at once, always (MINIX -b) */
} rs_backoff;

/* A service's specification. argv/env/cwd/script/deps/listen are owned
 * (heap) and freed by rs_spec_clear(); label and node are inline. */
typedef struct rs_spec {
	char           label[RS_LABEL_MAX];
	char         **argv;     /* argc entries, NULL-terminated */
	size_t         argc;
	char         **env;      /* envc entries "K=V", NULL-terminated */
	size_t         envc;
	char          *cwd;      /* NULL = "/" */
	uint32_t       period_ms;
	uint32_t       ready_timeout_ms;
	uint32_t       stop_timeout_ms;
	int32_t        stop_signal;
	rs_policy      policy;
	rs_backoff     backoff;
	rs_notify_type notify;
	uint32_t       settle_ms;
	char           node[RS_NODE_MAX];  /* requested node; "" = any */
	char           user[RS_USER_MAX];  /* run as this user; "" = the agent's */
	bool           keep_caps; /* with user: no PR_SET_NO_NEW_PRIVS, the
				   * capability bounding set kept */
	rs_fence       fence;    /* what a partition from rsd does to it */
	int32_t        reload_signal; /* rsctl reload, to the main process;
				       * 0 = SIGHUP */
	char          *script;   /* recovery script (absolute path) or NULL */
	bool           critical; /* a core service (MINIX): see docs */
	uint32_t       replicas; /* instances, spread over nodes (>= 1) */
	char         **deps;     /* depends_on labels (apply), NULL-terminated */
	size_t         ndeps;
	char         **listen;   /* "NAME=ADDR" (lib/listen.h), NULL-terminated */
	size_t         nlisten;  /* at most RS_LISTEN_MAX */
	char         **placement;/* "node=NAME" / "label=NAME", NULL-terminated */
	size_t         nplacement;/* at most RS_PLACEMENT_MAX */
	rs_probe       probes[RS_PROBE__NR]; /* kind NONE: not probed */
	rs_limits      limits;   /* all 0: none (0.3, RS_FEAT_LIMITS) */
	rs_profile     profile;  /* all 0: none (0.3, RS_FEAT_PROFILE) */
} rs_spec;

typedef struct rs_exit {
	int32_t        code;
	int32_t        signal;
	rs_exit_reason reason;
	uint64_t       time_ms;
} rs_exit;

/* What an agent knows of one instance (the protocol's InstanceInfo). */
typedef struct rs_iinfo {
	uint64_t  id;
	char      label[RS_LABEL_MAX];
	uint64_t  generation;
	int32_t   pid;
	rs_istate state;
	uint32_t  restarts;
	rs_exit   last_exit;
	char      status[RS_STATUS_MAX];
	uint64_t  started_ms;
	uint64_t  ready_ms;
	uint64_t  start_ticks;
	bool      unready;   /* RS_FEAT_PROBES: running, its readiness probe
			      * fails (after it passed once) */
} rs_iinfo;

typedef struct rs_event {
	uint64_t seq;            /* assigned by the store */
	uint64_t time_ms;
	char     label[RS_LABEL_MAX];
	uint64_t instance;
	char     node[RS_NODE_MAX];
	char     kind[32];
	char     detail[RS_DETAIL_MAX];
	char     actor[80];      /* who asked ("operator:NAME"), "" = rsd itself */
} rs_event;

typedef struct rs_op {
	uint64_t id;             /* assigned by the store */
	char     kind[16];       /* "up", "down", ... */
	char     label[RS_LABEL_MAX];
	char     state[16];      /* "running", "done", "failed" */
	uint64_t started_ms;
	uint64_t finished_ms;
	char     caller[64];
	char     detail[RS_DETAIL_MAX];
	uint64_t req_id;         /* the rsctl request's id (0: none) */
	bool     answered;       /* its caller got code (a finished outcome) */
	int32_t  code;           /* the answer's exit code, if answered */
} rs_op;

const char *rs_istate_to_string(rs_istate s);
int rs_istate_from_string(const char *s);            /* -EINVAL if unknown */
const char *rs_exit_reason_to_string(rs_exit_reason r);
int rs_exit_reason_from_string(const char *s);
const char *rs_policy_to_string(rs_policy p);
int rs_policy_from_string(const char *s);
const char *rs_notify_type_to_string(rs_notify_type t);
int rs_notify_type_from_string(const char *s);
const char *rs_node_state_to_string(rs_node_state s);
int rs_node_state_from_string(const char *s);
const char *rs_fence_to_string(rs_fence f);
int rs_fence_from_string(const char *s);
const char *rs_desired_to_string(rs_desired d);
int rs_desired_from_string(const char *s);

/* Sets every field to its default; argv/env empty. */
void rs_spec_init(rs_spec *s);
/* Frees owned members and re-initialises. Accepts an initialised spec. */
void rs_spec_clear(rs_spec *s);
/* Deep copy into an uninitialised dst. Returns 0 or -ENOMEM. */
int rs_spec_copy(rs_spec *dst, const rs_spec *src);
/* Appends one argv / env string (copied). 0, -E2BIG, -ENOMEM. */
int rs_spec_add_arg(rs_spec *s, const char *arg);
int rs_spec_add_env(rs_spec *s, const char *kv);
int rs_spec_add_dep(rs_spec *s, const char *label);
/* Appends one "NAME=ADDR" (not checked here; rs_spec_validate does).
 * 0, -E2BIG (over RS_LISTEN_MAX entries or RS_LISTEN_STR_MAX), -ENOMEM. */
int rs_spec_add_listen(rs_spec *s, const char *spec);
/* Replaces s's listen list with a copy of v[n]. 0 or -E2BIG/-ENOMEM
 * (s keeps its old list then). */
int rs_spec_set_listen(rs_spec *s, char *const *v, size_t n);
/* Adds a placement constraint, "node=NAME" (the instance may run on any
 * node so named) or "label=NAME" (only on nodes with every such label).
 * 0, -EINVAL (not one of those, or NAME invalid), -E2BIG, -ENOMEM. */
int rs_spec_add_placement(rs_spec *s, const char *c);
/* Whether c is "node=NAME" or "label=NAME" with a valid NAME. */
bool rs_placement_valid(const char *c);
/* Whether s is a user name ([A-Za-z_][A-Za-z0-9_.-]*, optionally ending
 * in $, at most 32) or a numeric uid. */
bool rs_user_valid(const char *s);
/* Whether a node named name with labels[n] is allowed by s (its node and
 * placement). */
bool rs_spec_allows(const rs_spec *s, const char *name, char *const *labels,
		    size_t n);
/* Checks label syntax, argv non-empty, limits, enums, listen specs. On
 * error writes a human message naming the field into err and returns
 * -EINVAL. */
int rs_spec_validate(const rs_spec *s, char *err, size_t errlen);
bool rs_label_valid(const char *label);

/* A NULL-ended vector of n strings, owned: frees each and v. */
void rs_strv_free(char **v, size_t n);
/* Appends a copy of str to v[n] (kept NULL-ended) unless that makes more
 * than max entries or str is len bytes or longer. 0, -E2BIG or -ENOMEM
 * (v as it was). */
int rs_strv_add(char ***v, size_t *n, const char *str, size_t max, size_t len);
/* Copies src into dst[n] always NUL-terminated; returns -E2BIG if cut. */
int rs_strlcpy(char *dst, const char *src, size_t n);
/* Room for one more in array v of *cap elements of size bytes, n of
 * them used: v itself while n < *cap, else v grown by doubling (from
 * first) with *cap updated, or NULL without memory (v and *cap as they
 * were, v still owned by the caller). */
void *rs_grow(void *v, size_t *cap, size_t n, size_t size, size_t first);

#endif
