/*
 * store.h - the rproc table in one SQLite file.
 *
 * Owns: the schema (node, service, instance, event, operation, revision),
 * migrations keyed by PRAGMA user_version, WAL mode, prepared statements,
 * transactions.
 * The only module that includes sqlite3.h.
 * Must not: know about sockets, processes or the protocol.
 * Errors: 0 success, negative errno on failure: -ENOSPC disk full,
 * -EBUSY locked (or a walk re-entered), -ENOENT row missing (get, del,
 * op_update), -EBADMSG not a database / corrupt, -EPROTO schema newer than
 * this build, -ENOMEM, -EINVAL bad argument, -EIO any other SQLite error;
 * store_errmsg() gives SQLite's last message. A failed commit rolls back.
 * Ids and seqs stay below 2^63 (stored as SQLite integers). Borrowed
 * pointers passed to callbacks are
 * valid only during the call.
 */
#ifndef RS_STORE_H
#define RS_STORE_H

#include "model.h"

#define STORE_SCHEMA_VERSION 18

typedef struct store store;

typedef struct store_service {
	rs_spec    spec;         /* owned by the struct when returned */
	rs_desired desired;
	uint64_t   generation;
	uint64_t   created_ms;
	uint64_t   updated_ms;
} store_service;

typedef struct store_node {
	char          name[RS_NODE_MAX];
	char          address[128];
	char          boot_id[64];
	char          agent_version[32];
	char          labels[256];      /* comma separated */
	uint32_t      capacity;
	rs_node_state state;
	uint64_t      last_seen_ms;
	bool          drained;          /* rsctl drain: no new instances here */
} store_node;

typedef struct store_instance {
	rs_iinfo info;
	char     node[RS_NODE_MAX];
	bool     standby;        /* a clone's warm standby, not the active one */
} store_instance;

/* Opens (creating if needed) the database at path, applies migrations up to
 * STORE_SCHEMA_VERSION, enables WAL and foreign keys. A file with a newer
 * user_version than this build knows is refused with -EPROTO, untouched.
 * Before migrating a file of an older version V it copies it to
 * store_backup_path(path, V) (once): the way back after a rollback. */
int store_open(const char *path, store **out);
/* The schema version (user_version) of the file at path, read-only. */
int store_file_version(const char *path, int64_t *v);
/* "PATH.vV.bak": where store_open keeps a version-V file before migrating. */
void store_backup_path(const char *path, int64_t version, char *out, size_t n);
/* Moves the WAL checkpoints (copying committed pages back into the file,
 * with its fsync) off the caller's thread: a second connection to path
 * in a thread of its own, woken when the WAL passes 1,000 frames; the
 * caller's commits then only append to the WAL, unless a burst outruns
 * the thread to 8,000 frames: then the commit checkpoints what is left,
 * which lets the next write start the WAL over (a WAL is only started
 * over by a writer that finds all of it copied, which a busy writer
 * never does while another thread copies). store_close stops it.
 * Returns 0 or a negative errno (then SQLite checkpoints in the caller's
 * commits, as before). */
int store_checkpoint_start(store *s, const char *path);
typedef struct store_ckpt_stats {
	uint64_t runs;       /* checkpoints run */
	uint64_t failures;   /* of them, failed (not merely cut short) */
	double   seconds;    /* their time, summed */
	uint64_t own_runs;   /* checkpoints the committing connection ran: a
			      * burst outran the thread (8,000 frames) */
	double   own_seconds;
} store_ckpt_stats;
void store_checkpoint_stats(store *s, store_ckpt_stats *out);
/* Closes and NULLs *s. Accepts NULL. */
void store_close(store **s);
const char *store_errmsg(store *s);
/* Whether SQLite's last call on s failed (store_errmsg says why); false:
 * a failure came from elsewhere (a callback's, memory), and SQLite's
 * message would be "not an error". */
bool store_failed(store *s);

/* One write transaction (BEGIN IMMEDIATE). Nesting is not supported. */
int store_begin(store *s);
int store_commit(store *s);
void store_rollback(store *s);

/* Services: put inserts or replaces by label. */
int store_service_put(store *s, const store_service *svc);
int store_service_del(store *s, const char *label);
/* Fills *out (caller calls rs_spec_clear(&out->spec), also after an
 * error: out->spec is always initialised); -ENOENT if none. */
int store_service_get(store *s, const char *label, store_service *out);
typedef int (*store_service_fn)(const store_service *svc, void *arg);
/* Calls fn for each service in label order; a non-zero return stops the
 * walk and is returned. */
int store_service_each(store *s, store_service_fn fn, void *arg);

int store_node_put(store *s, const store_node *n);
int store_node_del(store *s, const char *name);
typedef int (*store_node_fn)(const store_node *n, void *arg);
int store_node_each(store *s, store_node_fn fn, void *arg);

/* Instances: put inserts or updates by id (ids are chosen by the caller);
 * each walks them by node, then id. */
int store_instance_put(store *s, const store_instance *in);
int store_instance_del(store *s, uint64_t id);
typedef int (*store_instance_fn)(const store_instance *in, void *arg);
int store_instance_each(store *s, store_instance_fn fn, void *arg);
/* Largest instance id ever stored (0 if none), so ids are never reused. */
int store_instance_max_id(store *s, uint64_t *out);
/* rsd's epoch (lib/orders.h): stores and returns max(previous + 1, floor).
 * Its own write (outside a transaction). */
int store_epoch_next(store *s, uint64_t floor, uint64_t *out);

/* Events: appends ev, sets ev->seq. Inside a transaction the row may be
 * inserted only when events are read or at the commit (16 rows a
 * statement), whose failure then says so. */
int store_event_add(store *s, rs_event *ev);
typedef int (*store_event_fn)(const rs_event *ev, void *arg);
/* The newest `limit` events (all if 0), oldest first; label NULL = all;
 * only events with seq > after_seq. */
int store_event_each(store *s, const char *label, uint64_t after_seq,
		     uint32_t limit, store_event_fn fn, void *arg);
/* The same, only events with seq <= upto_seq too (0: no bound). The
 * table has no index by label (schema 12): a label's newest events are
 * found by a scan down from the newest row, which upto_seq (the label's
 * newest event, when the caller knows it) starts at that event instead. */
int store_event_each_upto(store *s, const char *label, uint64_t after_seq,
			  uint64_t upto_seq, uint32_t limit, store_event_fn fn, void *arg);

/* The event numbered seq (a rowid lookup): 0, -ENOENT (none: pruned,
 * deleted, or its transaction rolled back), or another -errno. */
int store_event_get(store *s, uint64_t seq, rs_event *ev);

/* The seqs of the oldest and the newest event (0 and 0 if none). Cheap
 * (two rowid lookups). */
int store_event_span(store *s, uint64_t *first, uint64_t *last);
/* How many events there are: the span less the holes store_event_del_label
 * left (kept in meta), not a count(*). For a gauge and the retention. */
int store_event_count(store *s, uint64_t *rows);
/* Deletes every event of label (rsctl delete) inside the caller's open
 * transaction (-EINVAL outside one), with the count of holes it leaves;
 * *deleted gets how many. A scan of the table (no index on label). */
int store_event_del_label(store *s, const char *label, uint64_t *deleted);

/* Retention: deletes the oldest events, at most `batch` (> 0), while more
 * than `keep` remain (0: no count limit) and while the oldest was stamped
 * before before_ms (0: no age limit); *deleted gets how many. Cost is
 * bounded by batch, not by the table's size. Outside a transaction it is
 * its own short write transaction. With holes among the oldest rows it
 * may delete fewer than it could; the next call goes on. */
int store_event_prune(store *s, uint64_t keep, uint64_t before_ms,
		      uint32_t batch, uint64_t *deleted);

/* Operations: add sets op->id; update rewrites state, finished, detail,
 * answered and code. */
int store_op_add(store *s, rs_op *op);
int store_op_update(store *s, const rs_op *op);
typedef int (*store_op_fn)(const rs_op *op, void *arg);
/* Operations whose state is "running", oldest first. */
int store_op_each_open(store *s, store_op_fn fn, void *arg);
/* The newest operation of request req_id (non-zero) from caller into
 * *out; -ENOENT if none. */
int store_op_find_req(store *s, const char *caller, uint64_t req_id, rs_op *out);

/* A key rsd admits: an operator credential, a node's key, a join token. */
typedef struct store_principal {
	char     kind[16];        /* "operator", "node", "join" */
	char     name[64];
	char     role[16];        /* operators: viewer, operator, admin */
	char     labels[128];     /* operators: label patterns, "" = all */
	char     pubkey[48];      /* Z85 */
	uint64_t created_ms;
	uint64_t revoked_ms;      /* 0 = valid */
	char     created_by[80];
} store_principal;

int store_principal_put(store *s, const store_principal *p);
typedef int (*store_principal_fn)(const store_principal *p, void *arg);
int store_principal_each(store *s, store_principal_fn fn, void *arg);

/* Revisions (rsctl history): each committed spec of a service, numbered
 * per label from 1 up (deleting the label starts it over); only the
 * newest STORE_REVISION_KEEP of a label are kept, pruned as one is added. */
#define STORE_REVISION_KEEP 10
typedef struct store_revision {
	store_service svc;        /* the spec as committed; owned when returned */
	uint32_t      revision;
	uint64_t      time_ms;
	char          actor[80];  /* as rs_event.actor */
	char          kind[16];   /* "up", "edit", "update", "apply", "undo" */
} store_revision;

/* Adds svc's spec as its label's next revision inside the caller's open
 * transaction (-EINVAL outside one); *revision (may be NULL) gets its
 * number. */
int store_revision_add(store *s, const store_service *svc, uint64_t time_ms,
		       const char *actor, const char *kind, uint32_t *revision);
typedef int (*store_revision_fn)(const store_revision *rev, void *arg);
/* The newest `limit` revisions of label (all if 0), oldest first; a
 * non-zero return of fn stops the walk and is returned. */
int store_revision_each(store *s, const char *label, uint32_t limit,
			store_revision_fn fn, void *arg);
/* Revision n of label into *out (the caller always rs_spec_clear()s
 * out->svc.spec); -ENOENT if it is not kept. */
int store_revision_get(store *s, const char *label, uint32_t n,
		       store_revision *out);
/* Deletes every revision of label (rsctl delete). */
int store_revision_del_label(store *s, const char *label);

#endif
