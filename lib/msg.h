/*
 * msg.h - protocol messages as plain C data (see proto/rs.proto).
 *
 * Owns: rs_msg and its bodies. lib/wire.c converts them to and from bytes;
 * nothing else touches protobuf-c. Must not: include any library header.
 * Ownership: an rs_msg owns what its body points to; rs_msg_clear() frees it.
 */
#ifndef RS_MSG_H
#define RS_MSG_H

#include "model.h"

#define RS_PROTO_VERSION 1

typedef enum rs_msg_type {
	RS_MSG_NONE = 0,
	RS_MSG_HELLO,
	RS_MSG_BEAT,
	RS_MSG_EVENT,
	RS_MSG_WELCOME,
	RS_MSG_REHELLO,
	RS_MSG_START,
	RS_MSG_STOP,
	RS_MSG_BEAT_ACK,
	RS_MSG_REQUEST,
	RS_MSG_REPLY,
	RS_MSG_LOGS_GET,
	RS_MSG_LOGS_DATA,
	RS_MSG_ENROLL,
	RS_MSG_ENROLLED,
	RS_MSG_BATCH,            /* RS_FEAT_BATCH: several encoded messages */
	RS_MSG_SIGNAL,           /* RS_FEAT_SIGNAL: an order to signal an instance */
	RS_MSG__NR
} rs_msg_type;

typedef enum rs_event_kind {
	RS_EK_NONE = 0,
	RS_EK_STARTED,
	RS_EK_READY,
	RS_EK_STATUS,
	RS_EK_EXITED,
	RS_EK_BACKOFF,
	RS_EK_DOWN,
	RS_EK_FAILED,
	RS_EK_WATCHDOG,
	RS_EK_UPDATE_PREPARE,
	RS_EK_UPDATE_START,
	RS_EK_UPDATE_COMMIT,
	RS_EK_UPDATE_ROLLBACK,
	RS_EK_PROBE,             /* RS_FEAT_PROBES: a probe's verdict changed */
	RS_EK__NR
} rs_event_kind;

typedef enum rs_verb {
	RS_V_NONE = 0,
	RS_V_UP,
	RS_V_DOWN,
	RS_V_STATUS,
	RS_V_NODES,
	RS_V_LOOKUP,
	RS_V_EVENTS,
	RS_V_PING,
	RS_V_REFRESH,
	RS_V_RESTART,
	RS_V_SHUTDOWN,
	RS_V_EDIT,
	RS_V_CLONE,
	RS_V_UNCLONE,
	RS_V_LOGS,
	RS_V_APPLY,
	RS_V_DRAIN,
	RS_V_UNDRAIN,
	RS_V_UPDATE,
	RS_V_CRED_CREATE,
	RS_V_CRED_LIST,
	RS_V_CRED_REVOKE,
	RS_V_TOKEN_ROTATE,
	RS_V_UPGRADE_PLAN,
	RS_V_NODE_FORGET,
	RS_V_DESCRIBE,
	RS_V_DELETE,
	RS_V_EXPORT,
	/* (numbered: lib/msg.c's names may have gaps; a number without a
	 * name, rs_verb_to_string's "invalid", is no verb) */
	RS_V_RELOAD = 28,
	RS_V_KILL = 29,
	RS_V_HISTORY = 30,
	RS_V__NR
} rs_verb;

/* Request.revision: rsctl undo, resolved by rsd */
#define RS_REVISION_PREVIOUS UINT32_MAX

#define RS_HELLO_LABELS_MAX 64
#define RS_HELLO_INST_MAX   8192   /* bounds what one Hello can make us allocate */
#define RS_STATE_NAME_MAX   16     /* a state name filter, incl. NUL */
#define RS_CURSOR_MAX       128    /* a page cursor, incl. NUL */
#define RS_CGROUPS_MAX      160    /* Hello.cgroups, incl. NUL */

typedef struct rs_hello {
	char      node[RS_NODE_MAX];
	char      boot_id[64];
	char      agent_version[32];
	uint32_t  capacity;
	uint64_t  session;       /* random per agent process */
	uint64_t  events_from;   /* RS_FEAT_EVCHAIN: events up to this seq are
				  * acknowledged or given up (lib/evchain.h) */
	char      cgroups[RS_CGROUPS_MAX]; /* RS_FEAT_CGROUP: the node's cgroups */
	uint32_t  controllers;   /* RS_FEAT_LIMITS: RS_CTL_* bits it enforces */
	uint32_t  privs;         /* RS_FEAT_PROFILE: RS_PRIV_* it can apply */
	char    **labels;        /* nlabels strings + NULL, owned */
	size_t    nlabels;
	rs_iinfo *instances;     /* ninstances, owned */
	size_t    ninstances;
} rs_hello;

/* One instance's usage, sampled from its cgroup (RS_FEAT_USAGE; proto
 * InstanceUsage). CPU and peak are of its current process. */
typedef struct rs_usage {
	uint64_t instance_id;
	uint64_t cpu_ms;         /* cumulative */
	uint64_t memory;         /* bytes now */
	uint64_t memory_peak;    /* bytes */
	uint32_t tasks;
	uint64_t time_ms;        /* wall clock of the sample */
} rs_usage;

#define RS_BEAT_USAGE_MAX 64     /* usage entries in one beat */

typedef struct rs_beat {
	uint64_t time_ms;
	uint32_t running;
	rs_usage *usage;         /* RS_FEAT_USAGE: nusage (<= RS_BEAT_USAGE_MAX),
				  * owned */
	size_t   nusage;
} rs_beat;

typedef struct rs_ievent {
	rs_event_kind kind;
	rs_iinfo      info;
	char         *detail;    /* owned, may be NULL */
	uint32_t      backoff_ms;
	uint32_t      latency_us;  /* STARTED after a death: exit -> new pid */
	uint64_t      prev_seq;    /* RS_FEAT_EVCHAIN: the previous event's seq */
} rs_ievent;

typedef struct rs_welcome {
	uint32_t beat_ms;
	uint32_t ttl_ms;
	uint64_t order_base;   /* orders: the next one is order_base + 1 */
	uint64_t session;      /* the Hello.session it answers (0: rsd 0.2) */
	uint64_t hello_seq;    /* the seq of the Hello it answers */
	uint32_t lease_ms;       /* 0: no lease (a 0.2.0 rsd): never fence */
} rs_welcome;

typedef struct rs_start {
	uint64_t instance_id;
	uint64_t generation;
	rs_spec  spec;           /* owned */
	bool     respec;         /* edit: new spec for a live instance */
	bool     update;         /* live update: hand over to spec */
	uint32_t maxtime_ms;     /* update: prepare time limit */
	uint32_t min_healthy_ms; /* update: new one up this long = commit */
	int32_t  prepare_signal; /* update: to the old main process, 0 none */
} rs_start;

typedef struct rs_stop {
	uint64_t instance_id;
	bool     forget;
	bool     restart;        /* refresh: start it again once dead */
} rs_stop;

/* A signal to a live instance (RS_FEAT_SIGNAL): reload, kill. */
typedef struct rs_signal {
	uint64_t instance_id;
	int32_t  signal;         /* 1..64 (wire.c checks both ways) */
	bool     group;          /* its whole process group, not only the main pid */
} rs_signal;

typedef struct rs_beat_ack {
	uint64_t time_ms;
} rs_beat_ack;

typedef struct rs_request {
	uint64_t id;
	rs_verb  verb;
	char     label[RS_LABEL_MAX];
	rs_spec  spec;           /* owned; meaningful for up */
	bool     no_block;
	bool     force;          /* down, delete of a critical service */
	bool     keep_events;    /* delete: keep the label's events */
	uint32_t timeout_ms;
	uint32_t limit;
	uint32_t edit_mask;      /* RS_EDIT_* bits: spec fields to change */
	uint64_t instance;       /* logs: instance id, 0 = the active one */
	uint64_t after;          /* events: after seq; logs: offset + 1 */
	rs_spec *specs;          /* apply: nspecs specs, owned */
	size_t   nspecs;
	bool     dry_run;        /* apply: only say what would change */
	/* update (live update as a coordinated handover): spec + edit_mask
	 * (RS_EDIT_ARGS / ARGS_TAIL / ENV) say what the new instance changes */
	uint32_t maxtime_ms;     /* wait this long for X_RS_PREPARED=1 */
	uint32_t min_healthy_ms; /* commit once READY=1 + this */
	int32_t  prepare_signal; /* sent to the old instance; 0 = none */
	bool     no_rollback;    /* keep a failed new instance's outcome */
	uint32_t max_unavailable;/* replicas in handover at once, >= 1 */
	bool     canary;         /* one instance first */
	uint64_t since_ms;       /* events: at or after this wall-clock ms */
	char   **batch;          /* more labels, in order; nbatch + NULL, owned */
	size_t   nbatch;
	char     role[16];       /* cred create */
	char     pattern[128];   /* cred create: label patterns */
	bool     node_key;       /* cred revoke: label is a node name */
	char     public_key[48]; /* cred create: Z85 */
	/* status, nodes (RS_FEAT_PAGED) */
	char     node[RS_NODE_MAX];       /* status: only instances on it */
	char     state[RS_STATE_NAME_MAX]; /* status: instance state; nodes:
					   * node state ("": any) */
	char     page_after[RS_CURSOR_MAX]; /* Reply.next_page of the last page */
	uint32_t page_size;      /* rows per page; 0: everything in one reply */
	bool     rows;           /* status: the page as rs_reply.rows (RS_FEAT_ROWS) */
	/* logs (RS_FEAT_LOGS); since_ms filters them too */
	bool     previous;       /* the process before the newest */
	int32_t  pid;            /* only this process's lines, 0: any */
	bool     stamped;        /* the stored lines, in pages */
	int32_t  signal;         /* kill: 1..64, 0 = SIGTERM */
	bool     main_only;      /* kill: the main process only, not its group */
	uint32_t revision;       /* update: back to this kept revision, 0 none,
				  * RS_REVISION_PREVIOUS the one before the newest */
} rs_request;

typedef struct rs_enroll {
	char node[RS_NODE_MAX];
	char public_key[48];     /* Z85, 40 characters */
} rs_enroll;

typedef struct rs_enrolled {
	int32_t code;
	char   *message;         /* owned, may be NULL */
} rs_enrolled;

/* A Batch (RS_FEAT_BATCH, lib/sendq.h): encoded Envelopes, each handled
 * as if it had come alone; none is itself a Batch. */
#define RS_BATCH_MAX 4096        /* items in one Batch */
typedef struct rs_bytes {
	uint8_t *buf;
	size_t   len;
} rs_bytes;

typedef struct rs_batch {
	rs_bytes *items;         /* owned (each buf too) */
	size_t    nitems;
} rs_batch;

#define RS_APPLY_MAX 1024        /* services in one apply */

/* update bounds (checked by wire.c both ways) and rsctl's defaults */
#define RS_UPDATE_TIME_MAX_MS         3600000u  /* maxtime, min-healthy: 1 h */
#define RS_UPDATE_BATCH_MAX           RS_APPLY_MAX
#define RS_DEF_UPDATE_MAXTIME_MS      2000
#define RS_DEF_UPDATE_MIN_HEALTHY_MS  1000
#define RS_DEF_UPDATE_MAX_UNAVAILABLE 1

#define RS_LOGS_MAX (64u << 10)  /* most output bytes in one LogsData */

typedef struct rs_logs_get {
	uint64_t req_id;
	uint64_t instance_id;
	char     label[RS_LABEL_MAX];
	uint32_t lines;
	uint64_t after;          /* 0: tail; else an answer's next */
	/* RS_FEAT_LOGS (proto/rs.proto LogsGet) */
	bool     stamped;        /* stored lines, a long tail in pages */
	uint64_t since_ms;       /* lines read at or after, 0: any */
	bool     previous;       /* the process before the newest */
	int32_t  pid;            /* only its lines, 0: any */
} rs_logs_get;

typedef struct rs_logs_data {
	uint64_t req_id;
	bool     found;
	uint8_t *data;           /* owned, len bytes (not NUL-terminated) */
	size_t   len;
	uint64_t next;
	/* RS_FEAT_LOGS */
	int32_t  pid;            /* the instance's process now, 0: none */
	int32_t  prev_pid;       /* previous: whose lines; 0: none found */
	bool     more;           /* stopped at the size: more from next */
	bool     stamped;        /* data is stored lines, filtered */
} rs_logs_data;

/* Spec fields an edit request changes (rs_request.edit_mask). */
enum {
	RS_EDIT_PERIOD        = 1u << 0,
	RS_EDIT_READY_TIMEOUT = 1u << 1,
	RS_EDIT_ENV           = 1u << 2,   /* merge: set these K=V */
	RS_EDIT_CWD           = 1u << 3,
	RS_EDIT_POLICY        = 1u << 4,
	RS_EDIT_BO_INITIAL    = 1u << 5,
	RS_EDIT_BO_FACTOR     = 1u << 6,
	RS_EDIT_BO_MAX        = 1u << 7,
	RS_EDIT_BO_RESET      = 1u << 8,
	RS_EDIT_BO_DISABLED   = 1u << 9,
	RS_EDIT_STOP_SIGNAL   = 1u << 10,
	RS_EDIT_STOP_TIMEOUT  = 1u << 11,
	RS_EDIT_NOTIFY        = 1u << 12,
	RS_EDIT_SETTLE        = 1u << 13,
	RS_EDIT_ARGS          = 1u << 14,  /* replace the command */
	RS_EDIT_NODE          = 1u << 15,  /* refused: placement is not edited */
	RS_EDIT_SCRIPT        = 1u << 16,  /* "" removes it */
	RS_EDIT_CRITICAL      = 1u << 17,
	RS_EDIT_ARGS_TAIL     = 1u << 18,  /* replace the arguments, keep the program */
	RS_EDIT_LISTEN        = 1u << 19,  /* replace the whole listen list */
	RS_EDIT_USER          = 1u << 20,
	RS_EDIT_KEEP_CAPS     = 1u << 21,
	RS_EDIT_FENCE         = 1u << 22,
	RS_EDIT_RELOAD_SIGNAL = 1u << 23,
	RS_EDIT_LIVENESS      = 1u << 24,  /* replace the liveness probe (0.3) */
	RS_EDIT_READINESS     = 1u << 25,  /* ... the readiness probe */
	RS_EDIT_STARTUP       = 1u << 26,  /* ... the startup probe */
	RS_EDIT_LIMITS        = 1u << 27,  /* replace the limits, written into
					    * the running cgroups (0.3) */
	RS_EDIT_PROFILE       = 1u << 28,  /* the profile's fields it names
					    * (rs_profile.fields); nice and
					    * cpus on the running processes,
					    * the rest at the next start (0.3) */
	RS_EDIT__ALL          = (1u << 29) - 1,
	/* what needs a new process to take effect */
	RS_EDIT_NEXT_START    = RS_EDIT_ENV | RS_EDIT_CWD | RS_EDIT_ARGS |
				RS_EDIT_ARGS_TAIL | RS_EDIT_LISTEN | RS_EDIT_USER |
				RS_EDIT_KEEP_CAPS,
};

#define RS_ROW_WORD_MAX 32          /* a row's state, exit reason, op kind, incl. NUL */
#define RS_ROWS_MAX     16384       /* rows in one reply (a page of 10,000
				     * and a service's replicas) */

/* One line of rsctl's status table (RS_FEAT_ROWS; proto StatusRow). Its
 * strings are borrowed: in a decoded reply from rs_reply.rows_text (none
 * is NULL), in one to send from whatever the sender keeps until
 * wire_encode returns (NULL sends ""). Lengths as model.h's: a label, a
 * node name, a status text, RS_ROW_WORD_MAX for the words, RS_DETAIL_MAX
 * for op_progress. */
typedef struct rs_status_row {
	const char *label;
	uint64_t    instance;        /* 0: the service's own row */
	const char *state;           /* "running", "down", ... */
	bool        standby;
	const char *node;
	int32_t     pid;
	uint32_t    restarts;
	uint64_t    started_ms;
	const char *exit_reason;     /* "": none */
	int32_t     exit_code;
	int32_t     exit_signal;
	const char *status;
	const char *op_kind;         /* "": no operation in progress */
	const char *op_progress;
	/* RS_FEAT_USAGE: the last reported usage; usage_ms 0: none */
	uint64_t    cpu_ms;
	uint64_t    memory;
	uint64_t    memory_peak;
	uint32_t    tasks;
	uint64_t    usage_ms;
} rs_status_row;

typedef struct rs_reply {
	uint64_t id;
	int32_t  code;
	char    *message;        /* owned, may be NULL */
	char    *json;           /* owned, may be NULL */
	char     next_page[RS_CURSOR_MAX]; /* paged: the next page's
					    * page_after; "": the last page */
	rs_status_row *rows;     /* status with rs_request.rows: nrows, owned */
	size_t   nrows;
	char    *rows_text;      /* decoded: every row's strings, owned */
} rs_reply;

typedef struct rs_msg {
	rs_msg_type type;
	uint32_t    version;
	uint64_t    seq;
	uint64_t    ack;
	char        sender_version[24];  /* decoded: the peer's rs version */
	uint64_t    features;            /* decoded: the peer's RS_FEAT_* */
	uint64_t    epoch;               /* orders (lib/orders.h) */
	uint64_t    order;
	uint64_t    order_ack;
	uint64_t    order_base;
	union {
		rs_hello    hello;
		rs_beat     beat;
		rs_ievent   event;
		rs_welcome  welcome;
		rs_start    start;
		rs_stop     stop;
		rs_signal   signal;
		rs_beat_ack beat_ack;
		rs_request  request;
		rs_reply    reply;
		rs_logs_get logs_get;
		rs_logs_data logs_data;
		rs_enroll   enroll;
		rs_enrolled enrolled;
		rs_batch    batch;
	} u;
} rs_msg;

/* Zeroes m and sets its type; bodies with a spec get rs_spec_init(). */
void rs_msg_init(rs_msg *m, rs_msg_type type);
/* Frees everything m owns and zeroes it. Accepts a zeroed msg. */
void rs_msg_clear(rs_msg *m);

const char *rs_msg_type_to_string(rs_msg_type t);
const char *rs_event_kind_to_string(rs_event_kind k);
const char *rs_verb_to_string(rs_verb v);
int rs_verb_from_string(const char *s);
/* Whether v is a verb of this build (the numbering has gaps). */
bool rs_verb_known(int v);

#endif
