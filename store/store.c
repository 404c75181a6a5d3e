/*
 * store.c - the rproc table in one SQLite file.
 *
 * The only file of the project that includes sqlite3.h. Every statement is
 * prepared once in store_open() (SQLITE_PREPARE_PERSISTENT), reset and its
 * bindings cleared after each use, and finalized in store_close().
 *
 * Durability: the file runs in WAL mode with synchronous=NORMAL. A commit
 * is appended to the WAL with write(2) before COMMIT returns, so it
 * survives a crash of the process (rsd kill -9, OOM killer) at any point;
 * an uncommitted transaction is simply never seen again. Only the WAL is
 * not fsync()ed on every commit, so a power loss or kernel crash may lose
 * the last few commits, but the database is never corrupted: WAL frames
 * are checksummed and a torn tail is ignored on recovery. That is the
 * right trade for a supervisor, which re-learns live state from its agents.
 * Checkpoints (the WAL copied back, with the fsync) may run in a thread
 * of their own (store_checkpoint_start): its own connection, woken by the
 * WAL hook.
 *
 * Encodings: enums are stored as their to_string names (readable with the
 * sqlite3 shell, stable across enum reordering); argv, env and listen are BLOBs in
 * which every string is followed by one NUL byte, so an empty list is a
 * zero-length blob and an empty string is a lone NUL. Unsigned 64-bit
 * values are stored bit for bit in SQLite's signed INTEGER.
 */
#include "reslimits.h"
#include "profile.h"
#include "probespec.h"
#include "store.h"
#include "clock.h"

#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_CACHE_KIB 65536   /* SQLite's page cache, at most (64 MiB) */
#define STORE_CKPT_PAGES 1000   /* WAL frames that wake the checkpointer */
#define STORE_CKPT_BOUND 8000   /* ... past which the committer checkpoints
				 * (and the next write starts the WAL over):
				 * a WAL of ~32 MiB at most, plus one batch */
#define STORE_STR_(x) #x
#define STORE_STR(x) STORE_STR_(x)

/*
 * Migrations: migrations[v] takes a file from user_version v-1 to v. Each
 * step runs in its own transaction together with "PRAGMA user_version = v".
 * Never edit a released step; append a new one and bump
 * STORE_SCHEMA_VERSION in store.h.
 *
 * There are no foreign keys on purpose: instances and events outlive the
 * service or node rows they name (history, agents reporting before the
 * node row is written), and the rsd core owns those invariants.
 * foreign_keys=ON is still set so any future step can rely on it.
 */
static const char *const migrations[STORE_SCHEMA_VERSION + 1] = {
	[0] = NULL,
	[1] =
	"CREATE TABLE node ("
	"  name          TEXT PRIMARY KEY NOT NULL,"
	"  address       TEXT NOT NULL DEFAULT '',"
	"  boot_id       TEXT NOT NULL DEFAULT '',"
	"  agent_version TEXT NOT NULL DEFAULT '',"
	"  labels        TEXT NOT NULL DEFAULT '',"
	"  capacity      INTEGER NOT NULL DEFAULT 0,"
	"  state         TEXT NOT NULL DEFAULT 'unknown',"
	"  last_seen_ms  INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE service ("
	"  label              TEXT PRIMARY KEY NOT NULL,"
	"  argv               BLOB NOT NULL,"
	"  env                BLOB NOT NULL,"
	"  cwd                TEXT,"
	"  period_ms          INTEGER NOT NULL,"
	"  ready_timeout_ms   INTEGER NOT NULL,"
	"  stop_timeout_ms    INTEGER NOT NULL,"
	"  stop_signal        INTEGER NOT NULL,"
	"  policy             TEXT NOT NULL,"
	"  backoff_initial_ms INTEGER NOT NULL,"
	"  backoff_factor     INTEGER NOT NULL,"
	"  backoff_max_ms     INTEGER NOT NULL,"
	"  backoff_reset_ms   INTEGER NOT NULL,"
	"  backoff_disabled   INTEGER NOT NULL,"
	"  notify             TEXT NOT NULL,"
	"  settle_ms          INTEGER NOT NULL,"
	"  node               TEXT NOT NULL DEFAULT '',"
	"  desired            TEXT NOT NULL,"
	"  generation         INTEGER NOT NULL,"
	"  created_ms         INTEGER NOT NULL,"
	"  updated_ms         INTEGER NOT NULL"
	");"
	"CREATE TABLE instance ("
	"  id           INTEGER PRIMARY KEY,"
	"  label        TEXT NOT NULL,"
	"  node         TEXT NOT NULL DEFAULT '',"
	"  generation   INTEGER NOT NULL,"
	"  pid          INTEGER NOT NULL,"
	"  state        TEXT NOT NULL,"
	"  restarts     INTEGER NOT NULL,"
	"  exit_code    INTEGER NOT NULL,"
	"  exit_signal  INTEGER NOT NULL,"
	"  exit_reason  TEXT NOT NULL,"
	"  exit_time_ms INTEGER NOT NULL,"
	"  status       TEXT NOT NULL DEFAULT '',"
	"  started_ms   INTEGER NOT NULL,"
	"  ready_ms     INTEGER NOT NULL,"
	"  start_ticks  INTEGER NOT NULL"
	");"
	"CREATE INDEX instance_label ON instance (label);"
	/* High-water mark of instance ids, so a deleted id is never reused. */
	"CREATE TABLE meta ("
	"  key   TEXT PRIMARY KEY NOT NULL,"
	"  value INTEGER NOT NULL"
	");"
	"INSERT INTO meta (key, value) VALUES ('instance_max_id', 0);"
	"CREATE TRIGGER instance_max_id AFTER INSERT ON instance BEGIN"
	"  UPDATE meta SET value = max(value, NEW.id)"
	"    WHERE key = 'instance_max_id';"
	"END;"
	"CREATE TABLE event ("
	"  seq      INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time_ms  INTEGER NOT NULL,"
	"  label    TEXT NOT NULL DEFAULT '',"
	"  instance INTEGER NOT NULL DEFAULT 0,"
	"  node     TEXT NOT NULL DEFAULT '',"
	"  kind     TEXT NOT NULL DEFAULT '',"
	"  detail   TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX event_label_seq ON event (label, seq);"
	"CREATE TABLE operation ("
	"  id          INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind        TEXT NOT NULL DEFAULT '',"
	"  label       TEXT NOT NULL DEFAULT '',"
	"  state       TEXT NOT NULL DEFAULT '',"
	"  started_ms  INTEGER NOT NULL DEFAULT 0,"
	"  finished_ms INTEGER NOT NULL DEFAULT 0,"
	"  caller      TEXT NOT NULL DEFAULT '',"
	"  detail      TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX operation_state ON operation (state);",
	/* 2: recovery scripts and critical services (issue: MINIX requests) */
	[2] =
	"ALTER TABLE service ADD COLUMN script TEXT;"
	"ALTER TABLE service ADD COLUMN critical INTEGER NOT NULL DEFAULT 0;",
	/* 3: warm standby instances (clone) */
	[3] =
	"ALTER TABLE instance ADD COLUMN standby INTEGER NOT NULL DEFAULT 0;",
	/* 4: replicas */
	[4] =
	"ALTER TABLE service ADD COLUMN replicas INTEGER NOT NULL DEFAULT 1;",
	/* 5: drained nodes */
	[5] =
	"ALTER TABLE node ADD COLUMN drained INTEGER NOT NULL DEFAULT 0;",
	/* 6: listening sockets ("NAME=ADDR" strings, encoded like argv) */
	[6] =
	"ALTER TABLE service ADD COLUMN listen BLOB NOT NULL DEFAULT x'';",
	/* 7: placement constraints and depends_on (encoded like argv) */
	[7] =
	"ALTER TABLE service ADD COLUMN placement BLOB NOT NULL DEFAULT x'';"
	"ALTER TABLE service ADD COLUMN deps BLOB NOT NULL DEFAULT x'';"
	"ALTER TABLE service ADD COLUMN user TEXT NOT NULL DEFAULT '';",
	/* 8: keep_caps (a --user service keeps its capability bounding set) */
	[8] =
	"ALTER TABLE service ADD COLUMN keep_caps INTEGER NOT NULL DEFAULT 0;",
	/* 9: trust: the keys rsd admits (operators, nodes, join tokens) and
	 * who asked for each event */
	[9] =
	"CREATE TABLE principal ("
	"  kind       TEXT NOT NULL,"
	"  name       TEXT NOT NULL,"
	"  role       TEXT NOT NULL DEFAULT '',"
	"  labels     TEXT NOT NULL DEFAULT '',"
	"  pubkey     TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL DEFAULT 0,"
	"  revoked_ms INTEGER NOT NULL DEFAULT 0,"
	"  created_by TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (kind, name)"
	");"
	"CREATE INDEX principal_pubkey ON principal (pubkey);"
	"ALTER TABLE event ADD COLUMN actor TEXT NOT NULL DEFAULT '';",
	/* 10: the request each operation answers (rsd deduplicates a resent
	 * request by caller and id) and the code it was answered with (NULL:
	 * not answered, e.g. closed by an rsd restart) */
	[10] =
	"ALTER TABLE operation ADD COLUMN req_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE operation ADD COLUMN code INTEGER;"
	"CREATE INDEX operation_req ON operation (req_id);",
	/* 11: fence (what a partition from rsd does to a service), by name
	 * like policy; a row of an older rsd is 'none', as it behaved */
	[11] =
	"ALTER TABLE service ADD COLUMN fence TEXT NOT NULL DEFAULT 'none';",
	/* 12: a label's events are found by a scan of the table, which the
	 * retention bounds (ST_EV_EACH_LABEL): the index cost every event a
	 * page write in its label's part of it */
	[12] =
	"DROP INDEX event_label_seq;",
	/* 13: instance rows clustered by node (issue 12). Each Hello and its
	 * acknowledgements rewrite one node's rows; keyed by id they sat on
	 * as many pages as the node has instances (ids follow the
	 * services), each page written again to the WAL, and INSERT OR
	 * REPLACE rewrote their (label) index entries too (no query used
	 * that index). Keyed by (node, id) a node's rows share a page or
	 * two; the id stays unique through its own index. */
	[13] =
	"UPDATE meta SET value = max(value,"
	"  (SELECT coalesce(max(id), 0) FROM instance))"
	"  WHERE key = 'instance_max_id';"
	"CREATE TABLE instance_13 ("
	"  id           INTEGER NOT NULL,"
	"  label        TEXT NOT NULL,"
	"  node         TEXT NOT NULL DEFAULT '',"
	"  generation   INTEGER NOT NULL,"
	"  pid          INTEGER NOT NULL,"
	"  state        TEXT NOT NULL,"
	"  restarts     INTEGER NOT NULL,"
	"  exit_code    INTEGER NOT NULL,"
	"  exit_signal  INTEGER NOT NULL,"
	"  exit_reason  TEXT NOT NULL,"
	"  exit_time_ms INTEGER NOT NULL,"
	"  status       TEXT NOT NULL DEFAULT '',"
	"  started_ms   INTEGER NOT NULL,"
	"  ready_ms     INTEGER NOT NULL,"
	"  start_ticks  INTEGER NOT NULL,"
	"  standby      INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (node, id)"
	") WITHOUT ROWID;"
	"INSERT INTO instance_13 SELECT id, label, node, generation, pid,"
	"  state, restarts, exit_code, exit_signal, exit_reason, exit_time_ms,"
	"  status, started_ms, ready_ms, start_ticks, standby FROM instance;"
	"DROP TABLE instance;"   /* its index and trigger with it */
	"ALTER TABLE instance_13 RENAME TO instance;"
	"CREATE UNIQUE INDEX instance_id ON instance (id);"
	"CREATE TRIGGER instance_max_id AFTER INSERT ON instance BEGIN"
	"  UPDATE meta SET value = max(value, NEW.id)"
	"    WHERE key = 'instance_max_id';"
	"END;",
	/* 14: the signal rsctl reload sends (0: SIGHUP, as a row of an
	 * older rsd reloads) */
	[14] =
	"ALTER TABLE service ADD COLUMN reload_signal INTEGER NOT NULL DEFAULT 0;",
	/* 15: rsctl history: each committed spec of a service, numbered per
	 * label; the spec columns as in service (SVC_SPEC_COLS), so one
	 * reader serves both */
	[15] =
	"CREATE TABLE revision ("
	"  label              TEXT NOT NULL,"
	"  revision           INTEGER NOT NULL,"
	"  time_ms            INTEGER NOT NULL,"
	"  actor              TEXT NOT NULL DEFAULT '',"
	"  kind               TEXT NOT NULL,"
	"  argv               BLOB NOT NULL,"
	"  env                BLOB NOT NULL,"
	"  cwd                TEXT,"
	"  period_ms          INTEGER NOT NULL,"
	"  ready_timeout_ms   INTEGER NOT NULL,"
	"  stop_timeout_ms    INTEGER NOT NULL,"
	"  stop_signal        INTEGER NOT NULL,"
	"  policy             TEXT NOT NULL,"
	"  backoff_initial_ms INTEGER NOT NULL,"
	"  backoff_factor     INTEGER NOT NULL,"
	"  backoff_max_ms     INTEGER NOT NULL,"
	"  backoff_reset_ms   INTEGER NOT NULL,"
	"  backoff_disabled   INTEGER NOT NULL,"
	"  notify             TEXT NOT NULL,"
	"  settle_ms          INTEGER NOT NULL,"
	"  node               TEXT NOT NULL DEFAULT '',"
	"  desired            TEXT NOT NULL,"
	"  generation         INTEGER NOT NULL,"
	"  created_ms         INTEGER NOT NULL,"
	"  updated_ms         INTEGER NOT NULL,"
	"  script             TEXT,"
	"  critical           INTEGER NOT NULL DEFAULT 0,"
	"  replicas           INTEGER NOT NULL DEFAULT 1,"
	"  listen             BLOB,"
	"  placement          BLOB,"
	"  deps               BLOB,"
	"  user               TEXT NOT NULL DEFAULT '',"
	"  keep_caps          INTEGER NOT NULL DEFAULT 0,"
	"  fence              TEXT NOT NULL DEFAULT 'auto',"
	"  reload_signal      INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (label, revision)"
	") WITHOUT ROWID;",
	/* 16: health probes (0.3), in lib/probespec.h's text form ('':
	 * none), in both spec tables */
	[16] =
	"ALTER TABLE service ADD COLUMN probes TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE revision ADD COLUMN probes TEXT NOT NULL DEFAULT '';",
	/* 17: resource limits (0.3), in lib/limits.h's text form ('':
	 * none), in both spec tables */
	[17] =
	"ALTER TABLE service ADD COLUMN limits TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE revision ADD COLUMN limits TEXT NOT NULL DEFAULT '';",
	/* 18: privilege profiles (0.3), in lib/profile.h's text form ('':
	 * none), in both spec tables */
	[18] =
	"ALTER TABLE service ADD COLUMN profile TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE revision ADD COLUMN profile TEXT NOT NULL DEFAULT '';",
};

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SVC_PUT,
	ST_SVC_DEL,
	ST_SVC_GET,
	ST_SVC_EACH,
	ST_NODE_PUT,
	ST_NODE_DEL,
	ST_NODE_EACH,
	ST_INST_UPD,
	ST_INST_MOVE,
	ST_INST_PUT,
	ST_INST_DEL,
	ST_INST_EACH,
	ST_INST_MAX,
	ST_EPOCH_NEXT,
	ST_EV_ADD,
	ST_EV_ADD_1,             /* 1, 2, 4, 8, 16 rows: in this order */
	ST_EV_ADD_2,
	ST_EV_ADD_4,
	ST_EV_ADD_8,
	ST_EV_ADD_16,
	ST_EV_NEXT,
	ST_EV_EACH,
	ST_EV_EACH_LABEL,
	ST_EV_GET,
	ST_EV_SPAN,
	ST_EV_FIRST_KEPT,
	ST_EV_PRUNE,
	ST_EV_DEL_LABEL,
	ST_EV_HOLES_GET,
	ST_EV_HOLES_PUT,
	ST_OP_ADD,
	ST_OP_UPDATE,
	ST_OP_OPEN,
	ST_OP_FIND_REQ,
	ST_PR_PUT,
	ST_PR_EACH,
	ST_REV_ADD,
	ST_REV_PRUNE,
	ST_REV_EACH,
	ST_REV_GET,
	ST_REV_DEL_LABEL,
	ST__NR
};

/* A service's spec columns after its label, in the order bind_service
 * binds and read_service reads them: the service table's and each
 * revision's (schema 15), so that the names, the placeholders and the
 * count of both tables' statements come from this one list. A new
 * column goes here, in both functions and in a migration that adds it to
 * both tables (a statement naming a column a table lacks fails at open). */
#define SVC_SPEC_COLS(X) \
	X(argv) X(env) X(cwd) X(period_ms) X(ready_timeout_ms) \
	X(stop_timeout_ms) X(stop_signal) X(policy) X(backoff_initial_ms) \
	X(backoff_factor) X(backoff_max_ms) X(backoff_reset_ms) \
	X(backoff_disabled) X(notify) X(settle_ms) X(node) X(desired) \
	X(generation) X(created_ms) X(updated_ms) X(script) X(critical) \
	X(replicas) X(listen) X(placement) X(deps) X(user) X(keep_caps) \
	X(fence) X(reload_signal) X(probes) X(limits) X(profile)
#define SVC_COL_NAME(c)  ", " #c
#define SVC_COL_PARAM(c) ", ?"
#define SVC_COL_ONE(c)   + 1
#define SVC_COLS   "label" SVC_SPEC_COLS(SVC_COL_NAME)
#define SVC_PARAMS "?" SVC_SPEC_COLS(SVC_COL_PARAM)   /* ?1: the label */
enum { SVC_NCOLS = 1 SVC_SPEC_COLS(SVC_COL_ONE) };
#define NODE_COLS \
	"name, address, boot_id, agent_version, labels, capacity, state," \
	" last_seen_ms, drained"
#define INST_COLS \
	"id, label, node, generation, pid, state, restarts, exit_code," \
	" exit_signal, exit_reason, exit_time_ms, status, started_ms," \
	" ready_ms, start_ticks, standby"
#define EV_COLS "seq, time_ms, label, instance, node, kind, detail, actor"
#define PR_COLS \
	"kind, name, role, labels, pubkey, created_ms, revoked_ms, created_by"
#define OP_COLS \
	"id, kind, label, state, started_ms, finished_ms, caller, detail," \
	" req_id, code"
#define REV_COLS SVC_COLS ", revision, time_ms, actor, kind"
#define EV_ROW1 "(?, ?, ?, ?, ?, ?, ?, ?)"
#define EV_ROW2 EV_ROW1 ", " EV_ROW1
#define EV_ROW4 EV_ROW2 ", " EV_ROW2
#define EV_ROW8 EV_ROW4 ", " EV_ROW4
#define EV_ROW16 EV_ROW8 ", " EV_ROW8
#define EV_BATCH 16   /* rows of ST_EV_ADD_16 */
#define EV_ADD(rows) "INSERT INTO event (" EV_COLS ") VALUES " rows
#define EV_LIMITED(where) \
	"SELECT " EV_COLS " FROM (SELECT " EV_COLS " FROM event WHERE " where \
	" ORDER BY seq DESC LIMIT ?2) ORDER BY seq ASC"

static const char *const stmt_sql[ST__NR] = {
	[ST_BEGIN]    = "BEGIN IMMEDIATE",
	[ST_COMMIT]   = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SVC_PUT]  = "INSERT OR REPLACE INTO service (" SVC_COLS ") VALUES"
			" (" SVC_PARAMS ")",
	[ST_SVC_DEL]  = "DELETE FROM service WHERE label = ?",
	[ST_SVC_GET]  = "SELECT " SVC_COLS " FROM service WHERE label = ?",
	[ST_SVC_EACH] = "SELECT " SVC_COLS " FROM service ORDER BY label",
	[ST_NODE_PUT] = "INSERT OR REPLACE INTO node (" NODE_COLS ") VALUES"
			" (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_NODE_DEL] = "DELETE FROM node WHERE name = ?",
	[ST_NODE_EACH] = "SELECT " NODE_COLS " FROM node ORDER BY name",
	/* an instance's row is updated in place on its node; else moved to
	 * a new node; else (the first time) inserted. INSERT OR REPLACE
	 * would delete and insert it and its id index entry, and so would
	 * an UPDATE that sets node (a key column), even to the same value:
	 * a page of the index per row (bench/store_rows.py) */
	[ST_INST_UPD] = "UPDATE instance SET label = ?2,"
			" generation = ?4, pid = ?5, state = ?6, restarts = ?7,"
			" exit_code = ?8, exit_signal = ?9, exit_reason = ?10,"
			" exit_time_ms = ?11, status = ?12, started_ms = ?13,"
			" ready_ms = ?14, start_ticks = ?15, standby = ?16"
			" WHERE node = ?3 AND id = ?1",
	[ST_INST_MOVE] = "UPDATE instance SET label = ?2, node = ?3,"
			 " generation = ?4, pid = ?5, state = ?6, restarts = ?7,"
			 " exit_code = ?8, exit_signal = ?9, exit_reason = ?10,"
			 " exit_time_ms = ?11, status = ?12, started_ms = ?13,"
			 " ready_ms = ?14, start_ticks = ?15, standby = ?16"
			 " WHERE id = ?1",
	[ST_INST_PUT] = "INSERT INTO instance (" INST_COLS ") VALUES"
			" (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_INST_DEL] = "DELETE FROM instance WHERE id = ?",
	/* the table's order: by node, then id */
	[ST_INST_EACH] = "SELECT " INST_COLS " FROM instance",
	[ST_INST_MAX] = "SELECT max(coalesce((SELECT value FROM meta"
			" WHERE key = 'instance_max_id'), 0),"
			" coalesce((SELECT max(id) FROM instance), 0))",
	/* ?1: the floor (wall clock ms): the epoch grows even if the file
	 * is restored from an older copy */
	[ST_EPOCH_NEXT] = "INSERT INTO meta (key, value) VALUES ('epoch', ?1)"
			  " ON CONFLICT(key) DO UPDATE SET value = max(value + 1, ?1)"
			  " RETURNING value",
	[ST_EV_ADD]   = "INSERT INTO event (time_ms, label, instance, node,"
			" kind, detail, actor) VALUES (?, ?, ?, ?, ?, ?, ?)",
	/* a transaction's events, their seqs given by the store */
	[ST_EV_ADD_1] = EV_ADD(EV_ROW1),
	[ST_EV_ADD_2] = EV_ADD(EV_ROW2),
	[ST_EV_ADD_4] = EV_ADD(EV_ROW4),
	[ST_EV_ADD_8] = EV_ADD(EV_ROW8),
	[ST_EV_ADD_16] = EV_ADD(EV_ROW16),
	/* what AUTOINCREMENT would give the next one */
	[ST_EV_NEXT] = "SELECT max(coalesce((SELECT seq FROM sqlite_sequence"
		       " WHERE name = 'event'), 0),"
		       " coalesce((SELECT max(seq) FROM event), 0)) + 1",
	/* ?1 after_seq, ?2 limit (-1 = all), ?3 label */
	[ST_EV_EACH]  = EV_LIMITED("seq > ?1"),
	/* no index since schema 12: the rowids newest first from ?4 (the
	 * label's newest known event, else all), until the limit is met
	 * (all the rows after ?1 for a quiet label) */
	[ST_EV_EACH_LABEL] = EV_LIMITED("label = ?3 AND seq > ?1 AND seq <= ?4"),
	[ST_EV_GET]   = "SELECT " EV_COLS " FROM event WHERE seq = ?1",
	/* two subqueries: min() and max() each walk one end of the rowid
	 * b-tree; together in one SELECT they would scan the table */
	[ST_EV_SPAN]  = "SELECT (SELECT min(seq) FROM event),"
			" (SELECT max(seq) FROM event)",
	/* ?1..?2: a range of seqs of at most a batch (a rowid range, no
	 * index needed); ?3: the age limit */
	[ST_EV_FIRST_KEPT] = "SELECT min(seq) FROM event"
			     " WHERE seq BETWEEN ?1 AND ?2 AND time_ms >= ?3",
	[ST_EV_PRUNE] = "DELETE FROM event WHERE seq <= ?",
	/* rsctl delete: a scan, as a label's walk is (no index) */
	[ST_EV_DEL_LABEL] = "DELETE FROM event WHERE label = ?",
	/* the seqs in [oldest, newest given] without a row: what deleting
	 * a label's events left (store_event_count); no row: none */
	[ST_EV_HOLES_GET] = "SELECT value FROM meta WHERE key = 'event_holes'",
	[ST_EV_HOLES_PUT] = "INSERT INTO meta (key, value) VALUES ('event_holes', ?1)"
			    " ON CONFLICT(key) DO UPDATE SET value = ?1",
	[ST_OP_ADD]   = "INSERT INTO operation (kind, label, state, started_ms,"
			" finished_ms, caller, detail, req_id, code)"
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_OP_UPDATE] = "UPDATE operation SET state = ?, finished_ms = ?,"
			 " detail = ?, code = ? WHERE id = ?",
	[ST_OP_OPEN]  = "SELECT " OP_COLS " FROM operation"
			" WHERE state = 'running' ORDER BY id",
	[ST_OP_FIND_REQ] = "SELECT " OP_COLS " FROM operation"
			   " WHERE req_id = ? AND caller = ? ORDER BY id DESC LIMIT 1",
	[ST_PR_PUT]   = "INSERT OR REPLACE INTO principal (" PR_COLS ") VALUES"
			" (?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_PR_EACH]  = "SELECT " PR_COLS " FROM principal ORDER BY kind, name",
	/* the spec's SVC_NCOLS columns (?1 the label), then the next
	 * number of the label (one past its newest, kept or not: pruning
	 * keeps the newest), time, actor, kind */
	[ST_REV_ADD]  = "INSERT INTO revision (" REV_COLS ") VALUES"
			" (" SVC_PARAMS ","
			" (SELECT coalesce(max(revision), 0) + 1 FROM revision"
			"  WHERE label = ?1), ?, ?, ?) RETURNING revision",
	[ST_REV_PRUNE] = "DELETE FROM revision WHERE label = ?1 AND revision <= ?2",
	/* ?1 label, ?2 limit (-1 = all): the newest, oldest first */
	[ST_REV_EACH] = "SELECT " REV_COLS " FROM (SELECT " REV_COLS
			" FROM revision WHERE label = ?1 ORDER BY revision DESC"
			" LIMIT ?2) ORDER BY revision ASC",
	[ST_REV_GET]  = "SELECT " REV_COLS " FROM revision"
			" WHERE label = ?1 AND revision = ?2",
	[ST_REV_DEL_LABEL] = "DELETE FROM revision WHERE label = ?",
};

/* The checkpointer (store_checkpoint_start): its own connection and
 * thread, woken by the main connection's WAL hook. */
struct store_ckpt {
	sqlite3         *db;
	pthread_t        thread;
	pthread_mutex_t  mu;
	pthread_cond_t   cv;
	pthread_mutex_t  run_mu;   /* held by whoever checkpoints */
	bool             due, stop;
	uint64_t         runs, failures, ns;   /* under mu */
	uint64_t         own_runs, own_ns;     /* the committer's (the bound) */
};

struct store {
	sqlite3      *db;
	sqlite3_stmt *st[ST__NR];
	struct store_ckpt *ckpt;   /* NULL: SQLite's own auto-checkpoint */
	rs_event      evq[EV_BATCH];   /* the transaction's events not inserted yet */
	size_t        nevq;
	uint64_t      ev_next;         /* the next event's seq; 0: read it */
	bool          ev_tx;           /* seqs given in the open transaction */
};

static void ev_settle(store *s);
static int ev_flush(store *s);

/* Binds consecutive parameters; the first failure sticks in rc. */
struct binder {
	sqlite3_stmt *st;
	int           i;
	int           rc;
};

/* Reads consecutive columns of the current row. */
struct reader {
	sqlite3_stmt *st;
	int           i;
};

/* SQLite's process-wide settings, before its first use: no count of its
 * memory (a global mutex around every allocation otherwise; rsd never
 * asks for the count). Too late if something used SQLite first: then
 * SQLite keeps its defaults, which only cost time. */
static pthread_once_t store_once = PTHREAD_ONCE_INIT;

static void store_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Maps an SQLite result code (primary or extended) to a negative errno. */
static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOTFOUND:
		return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* Resets st and drops its bindings (which may point at caller memory). */
static void finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Returns statement id, or NULL if it is mid-walk (re-entered from a
 * callback), which the caller reports as -EBUSY. */
static sqlite3_stmt *stmt(store *s, int id)
{
	sqlite3_stmt *st = s->st[id];

	return sqlite3_stmt_busy(st) ? NULL : st;
}

/* Steps a statement that returns no rows, then finishes it. Returns 0 or a
 * negative errno; bind_rc is a pending bind failure to report instead. */
static int step_done(sqlite3_stmt *st, int bind_rc)
{
	int rc = bind_rc;

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE || rc == SQLITE_ROW)
			rc = SQLITE_OK;
	}
	finish(st);
	return map_rc(rc);
}

/* Steps a walk statement: 1 for a row, 0 at the end, negative errno. */
static int step_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	rc = map_rc(rc);
	return rc ? rc : -EIO;
}

static void b_i64(struct binder *b, int64_t v)
{
	int i = b->i++;

	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_int64(b->st, i, v);
}

static void b_u64(struct binder *b, uint64_t v)
{
	b_i64(b, (int64_t)v);
}

/* Binds the string in buf[size] (need not be NUL-terminated); static. */
static void b_textn(struct binder *b, const char *buf, size_t size)
{
	int i = b->i++;
	int len = (int)strnlen(buf, size);

	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_text(b->st, i, buf, len, SQLITE_STATIC);
}

/* Binds a NUL-terminated string, or SQL NULL for NULL; static. */
static void b_text(struct binder *b, const char *str)
{
	int i = b->i++;

	if (b->rc != SQLITE_OK)
		return;
	if (str)
		b->rc = sqlite3_bind_text(b->st, i, str, -1, SQLITE_STATIC);
	else
		b->rc = sqlite3_bind_null(b->st, i);
}

/* Binds n bytes at p (n may be 0: an empty, non-NULL blob); static. */
static void b_blob(struct binder *b, const void *p, size_t n)
{
	int i = b->i++;

	if (b->rc != SQLITE_OK)
		return;
	if (n > INT_MAX)
		b->rc = SQLITE_TOOBIG;
	else if (n == 0)
		b->rc = sqlite3_bind_zeroblob(b->st, i, 0);
	else
		b->rc = sqlite3_bind_blob(b->st, i, p, (int)n, SQLITE_STATIC);
}

static int64_t c_i64(struct reader *r)
{
	return sqlite3_column_int64(r->st, r->i++);
}

static uint64_t c_u64(struct reader *r)
{
	return (uint64_t)c_i64(r);
}

static uint32_t c_u32(struct reader *r)
{
	return (uint32_t)c_i64(r);
}

static int32_t c_i32(struct reader *r)
{
	int64_t v = c_i64(r);

	return v < INT32_MIN || v > INT32_MAX ? 0 : (int32_t)v;
}

/* Returns the column as text, or NULL for SQL NULL. */
static const char *c_str(struct reader *r)
{
	return (const char *)sqlite3_column_text(r->st, r->i++);
}

/* Copies the column into dst[n], truncating; NULL reads as "". */
static void c_text(struct reader *r, char *dst, size_t n)
{
	rs_strlcpy(dst, c_str(r), n);
}

/* Maps a from_string result to the enum, unknown names to the 0 value. */
static int enum_or_zero(int v)
{
	return v < 0 ? 0 : v;
}

/* Encodes v[n] as a malloc'ed blob of NUL-terminated strings; *len gets
 * its size. Returns 0 or -ENOMEM. *out is NULL when len is 0. */
static int strv_encode(char *const *v, size_t n, char **out, size_t *len)
{
	size_t total = 0, off = 0;
	char *buf;

	*out = NULL;
	*len = 0;
	for (size_t i = 0; i < n; i++)
		total += strlen(v[i]) + 1;
	if (total == 0)
		return 0;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]) + 1;

		memcpy(buf + off, v[i], l);
		off += l;
	}
	*out = buf;
	*len = total;
	return 0;
}

/* Decodes a blob of NUL-terminated strings (a missing final NUL is
 * tolerated) with add(). Returns 0, -ENOMEM or -EBADMSG if over limits. */
static int strv_decode(rs_spec *spec, const char *p, size_t len,
		       int (*add)(rs_spec *, const char *))
{
	char *tmp = NULL;
	size_t off = 0;
	int r = 0;

	while (r == 0 && off < len) {
		const char *nul = memchr(p + off, '\0', len - off);
		size_t l = nul ? (size_t)(nul - (p + off)) : len - off;

		free(tmp);
		tmp = malloc(l + 1);
		if (!tmp) {
			r = -ENOMEM;
			break;
		}
		memcpy(tmp, p + off, l);
		tmp[l] = '\0';
		r = add(spec, tmp);
		if (r == -E2BIG)
			r = -EBADMSG;
		off += l + 1;
	}
	free(tmp);
	return r;
}

/* Decodes the next column (a strv blob) into sp with add(). Calls
 * column_blob before column_bytes, as SQLite requires. */
static int c_strv(struct reader *r, rs_spec *sp,
		  int (*add)(rs_spec *, const char *))
{
	const char *p = sqlite3_column_blob(r->st, r->i);
	size_t len = (size_t)sqlite3_column_bytes(r->st, r->i);

	r->i++;
	return strv_decode(sp, p, len, add);
}

/* Reads one service row (SVC_COLS) into out, whose spec must be cleared
 * by the caller on success. Returns 0 or a negative errno. */
static int read_service(sqlite3_stmt *st, store_service *out)
{
	struct reader c = { st, 0 };
	rs_spec *sp = &out->spec;
	const char *cwd;
	int r;

	memset(out, 0, sizeof *out);
	rs_spec_init(sp);
	c_text(&c, sp->label, sizeof sp->label);
	r = c_strv(&c, sp, rs_spec_add_arg);
	if (r < 0)
		goto fail;
	r = c_strv(&c, sp, rs_spec_add_env);
	if (r < 0)
		goto fail;
	cwd = c_str(&c);
	if (cwd && !(sp->cwd = strdup(cwd))) {
		r = -ENOMEM;
		goto fail;
	}
	sp->period_ms = c_u32(&c);
	sp->ready_timeout_ms = c_u32(&c);
	sp->stop_timeout_ms = c_u32(&c);
	sp->stop_signal = c_i32(&c);
	sp->policy = enum_or_zero(rs_policy_from_string(c_str(&c)));
	sp->backoff.initial_ms = c_u32(&c);
	sp->backoff.factor = c_u32(&c);
	sp->backoff.max_ms = c_u32(&c);
	sp->backoff.reset_ms = c_u32(&c);
	sp->backoff.disabled = c_i64(&c) != 0;
	sp->notify = enum_or_zero(rs_notify_type_from_string(c_str(&c)));
	sp->settle_ms = c_u32(&c);
	c_text(&c, sp->node, sizeof sp->node);
	out->desired = enum_or_zero(rs_desired_from_string(c_str(&c)));
	out->generation = c_u64(&c);
	out->created_ms = c_u64(&c);
	out->updated_ms = c_u64(&c);
	cwd = c_str(&c);
	if (cwd && *cwd && !(sp->script = strdup(cwd))) {
		r = -ENOMEM;
		goto fail;
	}
	sp->critical = c_i64(&c) != 0;
	sp->replicas = c_u32(&c);
	if (sp->replicas < 1)
		sp->replicas = 1;
	r = c_strv(&c, sp, rs_spec_add_listen);
	if (r == 0)
		r = c_strv(&c, sp, rs_spec_add_placement);
	if (r == 0)
		r = c_strv(&c, sp, rs_spec_add_dep);
	if (r < 0)
		goto fail;
	cwd = c_str(&c);
	rs_strlcpy(sp->user, cwd ? cwd : "", sizeof sp->user);
	sp->keep_caps = c_i64(&c) != 0;
	sp->fence = enum_or_zero(rs_fence_from_string(c_str(&c)));
	sp->reload_signal = c_i32(&c);
	if (sp->reload_signal < 0 || sp->reload_signal >= NSIG)
		sp->reload_signal = 0;   /* a hand-edited row: the default */
	/* a hand-edited row that does not read: no probes (unpack left none) */
	if ((r = rs_probes_unpack(sp, c_str(&c))) == -ENOMEM)
		goto fail;
	/* nor limits (a row that does not read is no limits) */
	rs_limits_unpack(c_str(&c), &sp->limits);
	/* nor a profile (likewise none) */
	rs_profile_unpack(c_str(&c), &sp->profile);
	return 0;
fail:
	rs_spec_clear(sp);
	return r;
}

/* Reads one node row (NODE_COLS). */
static void read_node(sqlite3_stmt *st, store_node *n)
{
	struct reader c = { st, 0 };

	memset(n, 0, sizeof *n);
	c_text(&c, n->name, sizeof n->name);
	c_text(&c, n->address, sizeof n->address);
	c_text(&c, n->boot_id, sizeof n->boot_id);
	c_text(&c, n->agent_version, sizeof n->agent_version);
	c_text(&c, n->labels, sizeof n->labels);
	n->capacity = c_u32(&c);
	n->state = enum_or_zero(rs_node_state_from_string(c_str(&c)));
	n->last_seen_ms = c_u64(&c);
	n->drained = c_i64(&c) != 0;
}

/* Reads one instance row (INST_COLS). */
static void read_instance(sqlite3_stmt *st, store_instance *in)
{
	struct reader c = { st, 0 };
	rs_iinfo *i = &in->info;

	memset(in, 0, sizeof *in);
	i->id = c_u64(&c);
	c_text(&c, i->label, sizeof i->label);
	c_text(&c, in->node, sizeof in->node);
	i->generation = c_u64(&c);
	i->pid = c_i32(&c);
	i->state = enum_or_zero(rs_istate_from_string(c_str(&c)));
	i->restarts = c_u32(&c);
	i->last_exit.code = c_i32(&c);
	i->last_exit.signal = c_i32(&c);
	i->last_exit.reason =
		enum_or_zero(rs_exit_reason_from_string(c_str(&c)));
	i->last_exit.time_ms = c_u64(&c);
	c_text(&c, i->status, sizeof i->status);
	i->started_ms = c_u64(&c);
	i->ready_ms = c_u64(&c);
	i->start_ticks = c_u64(&c);
	in->standby = c_i64(&c) != 0;
}

/* Reads one event row (EV_COLS). */
static void read_event(sqlite3_stmt *st, rs_event *ev)
{
	struct reader c = { st, 0 };

	memset(ev, 0, sizeof *ev);
	ev->seq = c_u64(&c);
	ev->time_ms = c_u64(&c);
	c_text(&c, ev->label, sizeof ev->label);
	ev->instance = c_u64(&c);
	c_text(&c, ev->node, sizeof ev->node);
	c_text(&c, ev->kind, sizeof ev->kind);
	c_text(&c, ev->detail, sizeof ev->detail);
	c_text(&c, ev->actor, sizeof ev->actor);
}

/* Reads one operation row (OP_COLS). */
static void read_op(sqlite3_stmt *st, rs_op *op)
{
	struct reader c = { st, 0 };

	memset(op, 0, sizeof *op);
	op->id = c_u64(&c);
	c_text(&c, op->kind, sizeof op->kind);
	c_text(&c, op->label, sizeof op->label);
	c_text(&c, op->state, sizeof op->state);
	op->started_ms = c_u64(&c);
	op->finished_ms = c_u64(&c);
	c_text(&c, op->caller, sizeof op->caller);
	c_text(&c, op->detail, sizeof op->detail);
	op->req_id = c_u64(&c);
	op->answered = sqlite3_column_type(st, c.i) != SQLITE_NULL;
	op->code = c_i32(&c);
}

/* Binds op's code, or NULL when it was not answered. */
static void b_op_code(struct binder *b, const rs_op *op)
{
	int i = b->i++;

	if (b->rc != SQLITE_OK)
		return;
	b->rc = op->answered ? sqlite3_bind_int(b->st, i, op->code) :
		sqlite3_bind_null(b->st, i);
}

/* Runs one SQL string that returns at most one integer (a PRAGMA) and
 * stores it in *out if out is non-NULL. Returns 0 or a negative errno. */
static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (out)
			*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
out:
	sqlite3_finalize(st);
	return map_rc(rc);
}

/* Switches db to WAL and checks that it took. Returns 0 or -errno. */
static int enable_wal(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(st, 0);

		rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK
						      : SQLITE_CANTOPEN;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_CANTOPEN;
	}
out:
	r = map_rc(rc);
	sqlite3_finalize(st);
	return r;
}

/* Applies migration steps after the file's user_version, each in its own
 * IMMEDIATE transaction that re-reads the version (another process may
 * have migrated meanwhile). Returns 0, -EPROTO or a negative errno. */
static int migrate(sqlite3 *db)
{
	char sql[64];
	int64_t v;
	int r;

	for (;;) {
		r = map_rc(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
					NULL));
		if (r < 0)
			return r;
		r = pragma_int(db, "PRAGMA user_version", &v);
		if (r < 0)
			goto rollback;
		if (v > STORE_SCHEMA_VERSION || v < 0) {
			r = -EPROTO;
			goto rollback;
		}
		if (v == STORE_SCHEMA_VERSION)
			break;
		r = map_rc(sqlite3_exec(db, migrations[v + 1], NULL, NULL,
					NULL));
		if (r < 0)
			goto rollback;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d",
			 (int)v + 1);
		r = map_rc(sqlite3_exec(db, sql, NULL, NULL, NULL));
		if (r < 0)
			goto rollback;
		r = map_rc(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
		if (r < 0)
			goto rollback;
	}
	return map_rc(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
rollback:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* Creates the parent directories of path (mode 0700) if missing. */
static int make_parents(const char *path)
{
	char dir[PATH_MAX];
	int r = 0;

	if (rs_strlcpy(dir, path, sizeof dir) < 0)
		return -ENAMETOOLONG;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			r = -errno;
		*p = '/';
		if (r < 0)
			return r;
	}
	return 0;
}

/* Creates the database file (and its directory) if missing and forces
 * its mode to 0600; SQLite gives the -wal and -shm files the same mode. */
static int create_file(const char *path)
{
	int fd, r = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0 && errno == ENOENT) {
		r = make_parents(path);
		if (r < 0)
			return r;
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	}
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0)
		r = -errno;
	close(fd);
	return r;
}

void store_backup_path(const char *path, int64_t version, char *out, size_t n)
{
	snprintf(out, n, "%s.v%lld.bak", path, (long long)version);
}

/* Copies the database (schema version v) to PATH.vV.bak with VACUUM INTO,
 * unless an earlier start made it already. 0 or -errno. */
static int backup_before_migration(sqlite3 *db, const char *path, int64_t v)
{
	char bak[4096];
	sqlite3_stmt *st = NULL;
	int r;

	store_backup_path(path, v, bak, sizeof bak);
	if (access(bak, F_OK) == 0)
		return 0;
	r = map_rc(sqlite3_prepare_v2(db, "VACUUM INTO ?", -1, &st, NULL));
	if (r == 0)
		r = map_rc(sqlite3_bind_text(st, 1, bak, -1, SQLITE_STATIC));
	if (r == 0) {
		int rc = sqlite3_step(st);
		r = rc == SQLITE_DONE ? 0 : map_rc(rc);
	}
	sqlite3_finalize(st);
	if (r == 0 && chmod(bak, 0600) < 0)
		r = -errno;
	if (r < 0)
		unlink(bak);
	return r;
}

int store_file_version(const char *path, int64_t *v)
{
	sqlite3 *db = NULL;
	int r;

	r = map_rc(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL));
	if (r == 0)
		r = pragma_int(db, "PRAGMA user_version", v);
	sqlite3_close(db);
	return r;
}

/* Opens, configures, migrates and prepares the store at path. */
int store_open(const char *path, store **out)
{
	store *s;
	int64_t v = 0;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path || !*path)
		return -EINVAL;
	r = create_file(path);
	if (r < 0)
		return r;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	pthread_once(&store_once, store_configure);
	/* one thread uses this connection (rsd's loop; the checkpointer has
	 * its own): no mutex around each call */
	r = map_rc(sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
				   SQLITE_OPEN_NOMUTEX, NULL));
	if (r < 0)
		goto fail;
	sqlite3_extended_result_codes(s->db, 1);
	r = map_rc(sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS));
	if (r < 0)
		goto fail;
	/* Check the version before changing anything in a foreign file. */
	r = pragma_int(s->db, "PRAGMA user_version", &v);
	if (r < 0)
		goto fail;
	if (v > STORE_SCHEMA_VERSION || v < 0) {
		r = -EPROTO;
		goto fail;
	}
	/* a copy of the file as it was before the migration: the way back
	 * if the new rsd has to be rolled back (it refuses a newer file) */
	if (v > 0 && v < STORE_SCHEMA_VERSION) {
		r = backup_before_migration(s->db, path, v);
		if (r < 0)
			goto fail;
	}
	r = enable_wal(s->db);
	if (r < 0)
		goto fail;
	/* See the top of this file for why NORMAL is enough under WAL. */
	r = pragma_int(s->db, "PRAGMA synchronous = NORMAL", NULL);
	if (r < 0)
		goto fail;
	r = pragma_int(s->db, "PRAGMA foreign_keys = ON", NULL);
	if (r < 0)
		goto fail;
	/* a page cache that holds a big batch (STORE_CACHE_KIB): with
	 * SQLite's 2 MiB a cold start of 1,000 nodes spilled pages in the
	 * middle of its transactions and read them back (issue 12) */
	r = pragma_int(s->db, "PRAGMA cache_size = -" STORE_STR(STORE_CACHE_KIB), NULL);
	if (r < 0)
		goto fail;
	r = migrate(s->db);
	if (r < 0)
		goto fail;
	for (int i = 0; i < ST__NR; i++) {
		r = map_rc(sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
					      SQLITE_PREPARE_PERSISTENT,
					      &s->st[i], NULL));
		if (r < 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	store_close(&s);
	return r;
}

/* ---- checkpoints off the caller's thread ------------------------------ */

/* The main connection's commit hook: wakes the checkpointer once the WAL
 * has STORE_CKPT_PAGES frames (SQLite's own auto-checkpoint threshold);
 * past STORE_CKPT_BOUND checkpoints here, as SQLite's own hook would. */
static int ckpt_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store_ckpt *c = arg;

	if (frames >= STORE_CKPT_BOUND) {
		/* after the thread's checkpoint, if one runs (SQLite would
		 * answer SQLITE_BUSY, and the WAL would grow on) */
		uint64_t t0 = clock_mono_ns();
		int rc;

		pthread_mutex_lock(&c->run_mu);
		rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_unlock(&c->run_mu);

		pthread_mutex_lock(&c->mu);
		c->own_runs++;
		c->own_ns += clock_mono_ns() - t0;
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			c->failures++;
		pthread_mutex_unlock(&c->mu);
		return SQLITE_OK;
	}
	if (frames >= STORE_CKPT_PAGES) {
		pthread_mutex_lock(&c->mu);
		if (!c->due) {
			c->due = true;
			pthread_cond_signal(&c->cv);
		}
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

/* Copies the WAL's frames into the file, PASSIVE: never waits for the
 * writer or a reader, copies what it can; the writer starts the WAL over
 * once all of it was copied. A failure (a full disk) is counted and
 * tried again at the next wake-up; the WAL grows meanwhile. */
static void *ckpt_main(void *arg)
{
	struct store_ckpt *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->due && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->due = false;
		pthread_mutex_unlock(&c->mu);

		pthread_mutex_lock(&c->run_mu);
		uint64_t t0 = clock_mono_ns();
		int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
						   NULL, NULL);
		uint64_t dt = clock_mono_ns() - t0;
		pthread_mutex_unlock(&c->run_mu);

		pthread_mutex_lock(&c->mu);
		c->runs++;
		c->ns += dt;
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			c->failures++;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void ckpt_free(struct store_ckpt *c)
{
	if (!c)
		return;
	sqlite3_close(c->db);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->run_mu);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int store_checkpoint_start(store *s, const char *path)
{
	struct store_ckpt *c;
	int r;

	if (s->ckpt)
		return 0;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->run_mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	r = map_rc(sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
				   SQLITE_OPEN_FULLMUTEX, NULL));
	if (r == 0)
		r = map_rc(sqlite3_busy_timeout(c->db, STORE_BUSY_TIMEOUT_MS));
	/* a connection that never read the file does not know it is in WAL
	 * mode: its checkpoints would do nothing (and say SQLITE_OK) */
	if (r == 0)
		r = enable_wal(c->db);
	if (r == 0 && (r = pthread_create(&c->thread, NULL, ckpt_main, c)) > 0)
		r = -r;
	if (r < 0) {
		ckpt_free(c);
		return r;
	}
	/* from now on the checkpointer copies the WAL back; the committing
	 * connection only when a burst outruns it (STORE_CKPT_BOUND frames):
	 * its PASSIVE checkpoint then finds most frames already copied, and
	 * it is the one that lets the next write start the WAL over (a
	 * checkpoint that never catches up with a busy writer never does) */
	sqlite3_wal_hook(s->db, ckpt_wal_hook, c);   /* (SQLite's own hook goes) */
	s->ckpt = c;
	return 0;
}

void store_checkpoint_stats(store *s, store_ckpt_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!s->ckpt)
		return;
	pthread_mutex_lock(&s->ckpt->mu);
	out->runs = s->ckpt->runs;
	out->failures = s->ckpt->failures;
	out->seconds = (double)s->ckpt->ns / 1e9;
	out->own_runs = s->ckpt->own_runs;
	out->own_seconds = (double)s->ckpt->own_ns / 1e9;
	pthread_mutex_unlock(&s->ckpt->mu);
}

/* Stops and joins the checkpointer; the main connection checkpoints by
 * itself again (and at its close). */
static void ckpt_stop(store *s)
{
	struct store_ckpt *c = s->ckpt;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	sqlite3_wal_autocheckpoint(s->db, STORE_CKPT_PAGES);   /* (its hook again) */
	ckpt_free(c);
	s->ckpt = NULL;
}

/* Finalizes every statement and closes the file; an open transaction is
 * rolled back. Accepts NULL and *s == NULL. */
void store_close(store **s)
{
	if (!s || !*s)
		return;
	ckpt_stop(*s);
	for (int i = 0; i < ST__NR; i++)
		sqlite3_finalize((*s)->st[i]);
	sqlite3_close((*s)->db);
	free(*s);
	*s = NULL;
}

/* SQLite's message for the last failed call on s. */
const char *store_errmsg(store *s)
{
	return s ? sqlite3_errmsg(s->db) : "no store";
}

bool store_failed(store *s)
{
	return s && sqlite3_errcode(s->db) != SQLITE_OK;
}

/* Starts a write transaction, taking the write lock now. */
int store_begin(store *s)
{
	sqlite3_stmt *st = stmt(s, ST_BEGIN);

	if (st)
		ev_settle(s);
	return st ? step_done(st, SQLITE_OK) : -EBUSY;
}

/* Commits; on failure the transaction is rolled back, so the caller never
 * holds a half-open one. */
int store_commit(store *s)
{
	sqlite3_stmt *st = stmt(s, ST_COMMIT);
	int r;

	if (!st)
		return -EBUSY;
	r = ev_flush(s);
	if (r == 0)
		r = step_done(st, SQLITE_OK);
	if (r < 0)
		store_rollback(s);
	else
		s->ev_tx = false;   /* the seqs given are the file's */
	return r;
}

/* Rolls back the open transaction; a no-op if there is none. */
void store_rollback(store *s)
{
	sqlite3_stmt *st;

	if (!s)
		return;
	/* (also when SQLite ended it already) */
	s->nevq = 0;
	s->ev_next = 0;
	s->ev_tx = false;
	if (sqlite3_get_autocommit(s->db))
		return;
	st = stmt(s, ST_ROLLBACK);
	if (st)
		step_done(st, SQLITE_OK);
}

/* A spec's lists as the blobs of its row, owned until svc_blobs_free. */
struct svc_blobs {
	char  *argv, *env, *listen, *place, *deps;
	char  *probes;          /* text */
	char   limits[RS_LIMITS_TEXT_MAX];
	char   profile[RS_PROFILE_TEXT_MAX];
	size_t argv_len, env_len, listen_len, place_len, deps_len;
};

static void svc_blobs_free(struct svc_blobs *bl)
{
	free(bl->argv);
	free(bl->env);
	free(bl->listen);
	free(bl->place);
	free(bl->deps);
	free(bl->probes);
}

/* Binds svc as the SVC_COLS of a row from b's next parameter on; the
 * blobs (encoded into *bl, freed by the caller) must outlive the step. */
static int bind_service(struct binder *b, const store_service *svc,
			struct svc_blobs *bl)
{
	const rs_spec *sp = &svc->spec;
	int r;

	memset(bl, 0, sizeof *bl);
	r = strv_encode(sp->argv, sp->argv ? sp->argc : 0, &bl->argv, &bl->argv_len);
	if (r == 0)
		r = strv_encode(sp->env, sp->env ? sp->envc : 0, &bl->env, &bl->env_len);
	if (r == 0)
		r = strv_encode(sp->listen, sp->listen ? sp->nlisten : 0,
				&bl->listen, &bl->listen_len);
	if (r == 0)
		r = strv_encode(sp->placement, sp->placement ? sp->nplacement : 0,
				&bl->place, &bl->place_len);
	if (r == 0)
		r = strv_encode(sp->deps, sp->deps ? sp->ndeps : 0,
				&bl->deps, &bl->deps_len);
	if (r == 0 && !(bl->probes = rs_probes_pack(sp)))
		r = -ENOMEM;
	rs_limits_pack(&sp->limits, bl->limits, sizeof bl->limits);
	rs_profile_pack(&sp->profile, bl->profile, sizeof bl->profile);
	if (r < 0)
		return r;
	b_textn(b, sp->label, sizeof sp->label);
	b_blob(b, bl->argv, bl->argv_len);
	b_blob(b, bl->env, bl->env_len);
	b_text(b, sp->cwd);
	b_i64(b, sp->period_ms);
	b_i64(b, sp->ready_timeout_ms);
	b_i64(b, sp->stop_timeout_ms);
	b_i64(b, sp->stop_signal);
	b_text(b, rs_policy_to_string(sp->policy));
	b_i64(b, sp->backoff.initial_ms);
	b_i64(b, sp->backoff.factor);
	b_i64(b, sp->backoff.max_ms);
	b_i64(b, sp->backoff.reset_ms);
	b_i64(b, sp->backoff.disabled ? 1 : 0);
	b_text(b, rs_notify_type_to_string(sp->notify));
	b_i64(b, sp->settle_ms);
	b_textn(b, sp->node, sizeof sp->node);
	b_text(b, rs_desired_to_string(svc->desired));
	b_u64(b, svc->generation);
	b_u64(b, svc->created_ms);
	b_u64(b, svc->updated_ms);
	b_text(b, sp->script);
	b_i64(b, sp->critical ? 1 : 0);
	b_i64(b, sp->replicas);
	b_blob(b, bl->listen, bl->listen_len);
	b_blob(b, bl->place, bl->place_len);
	b_blob(b, bl->deps, bl->deps_len);
	b_textn(b, sp->user, sizeof sp->user);
	b_i64(b, sp->keep_caps ? 1 : 0);
	b_text(b, rs_fence_to_string(sp->fence));
	b_i64(b, sp->reload_signal);
	b_text(b, bl->probes);
	b_text(b, bl->limits);
	b_text(b, bl->profile);
	return 0;
}

/* Inserts or replaces the service row keyed by svc->spec.label. */
int store_service_put(store *s, const store_service *svc)
{
	sqlite3_stmt *st = stmt(s, ST_SVC_PUT);
	struct binder b = { st, 1, SQLITE_OK };
	struct svc_blobs bl;
	int r;

	if (!st)
		return -EBUSY;
	r = bind_service(&b, svc, &bl);
	if (r == 0)
		r = step_done(st, b.rc);
	else
		finish(st);
	svc_blobs_free(&bl);
	return r;
}

/* Deletes the service row; -ENOENT if there was none. */
int store_service_del(store *s, const char *label)
{
	sqlite3_stmt *st = stmt(s, ST_SVC_DEL);
	struct binder b = { st, 1, SQLITE_OK };
	int r;

	if (!st)
		return -EBUSY;
	b_text(&b, label);
	r = step_done(st, b.rc);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

/* Fills *out from the row keyed by label; -ENOENT if none. On success the
 * caller owns out->spec and must rs_spec_clear() it. */
int store_service_get(store *s, const char *label, store_service *out)
{
	sqlite3_stmt *st = stmt(s, ST_SVC_GET);
	struct binder b = { st, 1, SQLITE_OK };
	int r;

	memset(out, 0, sizeof *out);
	rs_spec_init(&out->spec);       /* rs_spec_clear() is always safe */
	if (!st)
		return -EBUSY;
	b_text(&b, label);
	if (b.rc != SQLITE_OK) {
		r = map_rc(b.rc);
		goto out;
	}
	r = step_row(st);
	if (r == 0)
		r = -ENOENT;
	if (r < 0)
		goto out;
	r = read_service(st, out);
out:
	finish(st);
	return r;
}

/* Calls fn for each service in label order; stops on non-zero. */
int store_service_each(store *s, store_service_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, ST_SVC_EACH);
	store_service svc;
	int r;

	if (!st)
		return -EBUSY;
	while ((r = step_row(st)) > 0) {
		r = read_service(st, &svc);
		if (r < 0)
			break;
		r = fn(&svc, arg);
		rs_spec_clear(&svc.spec);
		if (r)
			break;
	}
	finish(st);
	return r;
}

/* Deletes the node row (rsctl node forget); -ENOENT if there was none. */
int store_node_del(store *s, const char *name)
{
	sqlite3_stmt *st = stmt(s, ST_NODE_DEL);
	struct binder b = { st, 1, SQLITE_OK };
	int r;

	if (!st)
		return -EBUSY;
	b_text(&b, name);
	r = step_done(st, b.rc);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

/* Inserts or replaces the node row keyed by n->name. */
int store_node_put(store *s, const store_node *n)
{
	sqlite3_stmt *st = stmt(s, ST_NODE_PUT);
	struct binder b = { st, 1, SQLITE_OK };

	if (!st)
		return -EBUSY;
	b_textn(&b, n->name, sizeof n->name);
	b_textn(&b, n->address, sizeof n->address);
	b_textn(&b, n->boot_id, sizeof n->boot_id);
	b_textn(&b, n->agent_version, sizeof n->agent_version);
	b_textn(&b, n->labels, sizeof n->labels);
	b_i64(&b, n->capacity);
	b_text(&b, rs_node_state_to_string(n->state));
	b_u64(&b, n->last_seen_ms);
	b_i64(&b, n->drained ? 1 : 0);
	return step_done(st, b.rc);
}

/* Calls fn for each node in name order; stops on non-zero. */
int store_node_each(store *s, store_node_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, ST_NODE_EACH);
	store_node n;
	int r;

	if (!st)
		return -EBUSY;
	while ((r = step_row(st)) > 0) {
		read_node(st, &n);
		r = fn(&n, arg);
		if (r)
			break;
	}
	finish(st);
	return r;
}

/* Binds the instance's columns in INST_COLS order. */
static int bind_instance(sqlite3_stmt *st, const store_instance *in)
{
	struct binder b = { st, 1, SQLITE_OK };
	const rs_iinfo *i = &in->info;

	b_u64(&b, i->id);
	b_textn(&b, i->label, sizeof i->label);
	b_textn(&b, in->node, sizeof in->node);
	b_u64(&b, i->generation);
	b_i64(&b, i->pid);
	b_text(&b, rs_istate_to_string(i->state));
	b_i64(&b, i->restarts);
	b_i64(&b, i->last_exit.code);
	b_i64(&b, i->last_exit.signal);
	b_text(&b, rs_exit_reason_to_string(i->last_exit.reason));
	b_u64(&b, i->last_exit.time_ms);
	b_textn(&b, i->status, sizeof i->status);
	b_u64(&b, i->started_ms);
	b_u64(&b, i->ready_ms);
	b_u64(&b, i->start_ticks);
	b_i64(&b, in->standby ? 1 : 0);
	return b.rc;
}

/* Writes the instance row keyed by in->info.id: updated in place if it
 * is on in->node, moved if it is elsewhere, inserted if there is none. */
int store_instance_put(store *s, const store_instance *in)
{
	static const int way[] = { ST_INST_UPD, ST_INST_MOVE, ST_INST_PUT };
	int r = 0;

	for (size_t i = 0; i < sizeof way / sizeof way[0]; i++) {
		sqlite3_stmt *st = stmt(s, way[i]);

		if (!st)
			return -EBUSY;
		r = step_done(st, bind_instance(st, in));
		if (r < 0 || sqlite3_changes(s->db) > 0)
			break;
	}
	return r;
}

/* Deletes the instance row; -ENOENT if there was none. */
int store_instance_del(store *s, uint64_t id)
{
	sqlite3_stmt *st = stmt(s, ST_INST_DEL);
	struct binder b = { st, 1, SQLITE_OK };
	int r;

	if (!st)
		return -EBUSY;
	b_u64(&b, id);
	r = step_done(st, b.rc);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

/* Calls fn for each instance in the table's order (by node, then id);
 * stops on non-zero. */
int store_instance_each(store *s, store_instance_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, ST_INST_EACH);
	store_instance in;
	int r;

	if (!st)
		return -EBUSY;
	while ((r = step_row(st)) > 0) {
		read_instance(st, &in);
		r = fn(&in, arg);
		if (r)
			break;
	}
	finish(st);
	return r;
}

/* Sets *out to the largest instance id ever stored (kept by a trigger, so
 * deleting the newest instance does not lower it), 0 if none. */
int store_instance_max_id(store *s, uint64_t *out)
{
	sqlite3_stmt *st = stmt(s, ST_INST_MAX);
	int r;

	if (!st)
		return -EBUSY;
	r = step_row(st);
	if (r > 0) {
		*out = (uint64_t)sqlite3_column_int64(st, 0);
		r = 0;
	} else if (r == 0) {
		*out = 0;
	}
	finish(st);
	return r;
}

int store_epoch_next(store *s, uint64_t floor, uint64_t *out)
{
	sqlite3_stmt *st = stmt(s, ST_EPOCH_NEXT);
	int r;

	if (!st)
		return -EBUSY;
	r = sqlite3_bind_int64(st, 1, (int64_t)floor) == SQLITE_OK ? step_row(st) : -EINVAL;
	if (r > 0)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	/* the statement (and, outside a transaction, its commit) ends at
	 * the reset: a full disk shows there */
	if (r >= 0) {
		int rc = map_rc(sqlite3_reset(st));
		r = rc < 0 ? rc : r > 0 ? 0 : -EIO;
	}
	finish(st);
	return r;
}

/* ---- a transaction's events, up to 16 rows a statement ------------------
 *
 * Each INSERT into event also reads and writes AUTOINCREMENT's row of
 * sqlite_sequence and runs its statement's setup; 16 rows a statement do
 * that once (SQLite alone: 1.1 instead of 1.8 µs a row; through this API
 * in transactions of 256 events: 1.4 instead of 3.2 µs). So inside a
 * transaction store_event_add gives the event its seq (what
 * AUTOINCREMENT would: ST_EV_NEXT once, then counted) and queues it; the
 * queue is inserted when it holds 16, before anything reads events and
 * before the commit (what is left by statements of 8, 4, 2 and 1 rows);
 * a rollback drops it, and so does a transaction SQLite ended by itself
 * (seen at the next call). Outside a transaction an event is inserted at
 * once, as it always was (it is committed when store_event_add returns).
 */

/* The transaction that gave seqs ended without store_commit or
 * store_rollback (SQLite rolled it back after an error: a full disk,
 * say): its queue goes, and the next seq is read again. */
static void ev_settle(store *s)
{
	if ((s->nevq || s->ev_tx) && sqlite3_get_autocommit(s->db)) {
		s->nevq = 0;
		s->ev_next = 0;
		s->ev_tx = false;
	}
}

static void b_event(struct binder *b, const rs_event *ev)
{
	b_u64(b, ev->seq);
	b_u64(b, ev->time_ms);
	b_textn(b, ev->label, sizeof ev->label);
	b_u64(b, ev->instance);
	b_textn(b, ev->node, sizeof ev->node);
	b_textn(b, ev->kind, sizeof ev->kind);
	b_textn(b, ev->detail, sizeof ev->detail);
	b_textn(b, ev->actor, sizeof ev->actor);
}

/* Inserts the queued events into the open transaction: 16 at once, or
 * what is left by the binary digits of its count (13: 8, 4, 1). A queue
 * that cannot be inserted is lost, as a failed commit's events are. */
static int ev_flush(store *s)
{
	size_t n, i = 0;
	int r = 0;

	ev_settle(s);
	n = s->nevq;
	s->nevq = 0;
	for (int bit = 4; bit >= 0 && r == 0; bit--) {
		size_t k = (size_t)1 << bit;
		sqlite3_stmt *st;
		struct binder b;

		if (!(n & k))
			continue;
		st = stmt(s, ST_EV_ADD_1 + bit);
		if (!st) {
			r = -EBUSY;
			break;
		}
		b = (struct binder){ st, 1, SQLITE_OK };
		for (size_t j = 0; j < k; j++)
			b_event(&b, &s->evq[i + j]);
		r = step_done(st, b.rc);
		i += k;
	}
	if (r < 0)
		s->ev_next = 0;   /* read again */
	return r;
}

/* Reads the seq AUTOINCREMENT would give the next event. */
static int ev_next_read(store *s)
{
	sqlite3_stmt *st = stmt(s, ST_EV_NEXT);
	int r;

	if (!st)
		return -EBUSY;
	r = step_row(st);
	if (r > 0) {
		s->ev_next = (uint64_t)sqlite3_column_int64(st, 0);
		r = 0;
	} else if (r == 0) {
		r = -EIO;
	}
	finish(st);
	return r;
}

/* Appends ev and sets ev->seq to its new sequence number; inside a
 * transaction the row may be inserted later (above). */
int store_event_add(store *s, rs_event *ev)
{
	sqlite3_stmt *st;
	struct binder b;
	int r;

	ev_settle(s);
	if (!sqlite3_get_autocommit(s->db)) {
		if (!s->ev_next && (r = ev_next_read(s)) < 0)
			return r;
		ev->seq = s->ev_next++;
		s->ev_tx = true;
		s->evq[s->nevq++] = *ev;
		return s->nevq == EV_BATCH ? ev_flush(s) : 0;
	}
	st = stmt(s, ST_EV_ADD);
	if (!st)
		return -EBUSY;
	b = (struct binder){ st, 1, SQLITE_OK };
	b_u64(&b, ev->time_ms);
	b_textn(&b, ev->label, sizeof ev->label);
	b_u64(&b, ev->instance);
	b_textn(&b, ev->node, sizeof ev->node);
	b_textn(&b, ev->kind, sizeof ev->kind);
	b_textn(&b, ev->detail, sizeof ev->detail);
	b_textn(&b, ev->actor, sizeof ev->actor);
	r = step_done(st, b.rc);
	if (r == 0) {
		ev->seq = (uint64_t)sqlite3_last_insert_rowid(s->db);
		s->ev_next = ev->seq + 1;
	}
	return r;
}

/* Calls fn for the newest `limit` events (all if 0) with seq > after_seq
 * and the given label (any if NULL), oldest first; stops on non-zero. */
int store_event_each(store *s, const char *label, uint64_t after_seq,
		     uint32_t limit, store_event_fn fn, void *arg)
{
	return store_event_each_upto(s, label, after_seq, 0, limit, fn, arg);
}

int store_event_each_upto(store *s, const char *label, uint64_t after_seq,
			  uint64_t upto_seq, uint32_t limit, store_event_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, label ? ST_EV_EACH_LABEL : ST_EV_EACH);
	rs_event ev;
	int r;

	if (!st)
		return -EBUSY;
	if ((r = ev_flush(s)) < 0)
		return r;
	if (after_seq > INT64_MAX)
		return 0;       /* no row can have a larger seq */
	r = sqlite3_bind_int64(st, 1, (int64_t)after_seq);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
	if (r == SQLITE_OK && label)
		r = sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
	if (r == SQLITE_OK && label)
		r = sqlite3_bind_int64(st, 4, upto_seq && upto_seq <= INT64_MAX ?
				       (int64_t)upto_seq : INT64_MAX);
	if (r != SQLITE_OK) {
		r = map_rc(r);
		goto out;
	}
	while ((r = step_row(st)) > 0) {
		read_event(st, &ev);
		r = fn(&ev, arg);
		if (r)
			break;
	}
out:
	finish(st);
	return r;
}

int store_event_get(store *s, uint64_t seq, rs_event *ev)
{
	sqlite3_stmt *st = stmt(s, ST_EV_GET);
	int r;

	if (!st)
		return -EBUSY;
	if ((r = ev_flush(s)) < 0)
		return r;
	if (seq > INT64_MAX)
		return -ENOENT;
	r = map_rc(sqlite3_bind_int64(st, 1, (int64_t)seq));
	if (r == 0) {
		r = step_row(st);
		if (r > 0) {
			read_event(st, ev);
			r = 0;
		} else if (r == 0) {
			r = -ENOENT;
		}
	}
	finish(st);
	return r;
}

int store_event_span(store *s, uint64_t *first, uint64_t *last)
{
	sqlite3_stmt *st = stmt(s, ST_EV_SPAN);
	int r;

	if (!st)
		return -EBUSY;
	*first = *last = 0;
	if ((r = ev_flush(s)) < 0)
		return r;
	r = step_row(st);
	if (r > 0) {
		*first = (uint64_t)sqlite3_column_int64(st, 0);
		*last = (uint64_t)sqlite3_column_int64(st, 1);
		r = 0;
	}
	finish(st);
	return r;
}

/* The seq before the first event in [lo, hi] stamped at or after
 * before_ms: the last of the old prefix of that range (hi if all of it is
 * old, lo - 1 if none). */
static int old_prefix_end(store *s, uint64_t lo, uint64_t hi,
			  uint64_t before_ms, uint64_t *end)
{
	sqlite3_stmt *st = stmt(s, ST_EV_FIRST_KEPT);
	struct binder b = { st, 1, SQLITE_OK };
	int r;

	if (!st)
		return -EBUSY;
	b_u64(&b, lo);
	b_u64(&b, hi);
	b_i64(&b, before_ms > INT64_MAX ? INT64_MAX : (int64_t)before_ms);
	if (b.rc != SQLITE_OK) {
		finish(st);
		return map_rc(b.rc);
	}
	r = step_row(st);
	if (r > 0) {
		*end = sqlite3_column_type(st, 0) == SQLITE_NULL ? hi :
			(uint64_t)sqlite3_column_int64(st, 0) - 1;
		r = 0;
	}
	finish(st);
	return r;
}

/*
 * Holes. Seqs are the rowid, given by AUTOINCREMENT one after the other,
 * and a rolled back insert rolls its AUTOINCREMENT back too. Pruning
 * deletes a prefix; only store_event_del_label (rsctl delete) deletes
 * rows in the middle, or at the end. So the table is the range [oldest
 * seq, top] (top: the last seq given, ST_EV_NEXT - 1) less the holes
 * those deletions left, whose number meta keeps ('event_holes', 0 when
 * there is no row): the count is arithmetic on two rowid look-ups and
 * that number, never a count(*). Every step below is a rowid look-up or
 * a range of at most `batch` rows, plus one scan for a deleted label.
 */

static int ev_holes_get(store *s, uint64_t *holes)
{
	sqlite3_stmt *st = stmt(s, ST_EV_HOLES_GET);
	int r;

	if (!st)
		return -EBUSY;
	*holes = 0;
	r = step_row(st);
	if (r > 0) {
		sqlite3_int64 v = sqlite3_column_int64(st, 0);
		*holes = v > 0 ? (uint64_t)v : 0;
		r = 0;
	}
	finish(st);
	return r;
}

static int ev_holes_put(store *s, uint64_t holes)
{
	sqlite3_stmt *st = stmt(s, ST_EV_HOLES_PUT);
	struct binder b = { st, 1, SQLITE_OK };

	if (!st)
		return -EBUSY;
	b_u64(&b, holes);
	return step_done(st, b.rc);
}

/* The last seq given (0: none ever), the queue inserted first. */
static int ev_top(store *s, uint64_t *top)
{
	sqlite3_stmt *st = stmt(s, ST_EV_NEXT);
	int r;

	if (!st)
		return -EBUSY;
	r = step_row(st);
	if (r > 0) {
		*top = (uint64_t)sqlite3_column_int64(st, 0) - 1;
		r = 0;
	} else if (r == 0) {
		r = -EIO;
	}
	finish(st);
	return r;
}

/* The table's shape: its oldest and newest seq (0, 0: empty), its rows,
 * the last seq given and the holes. */
typedef struct ev_shape {
	uint64_t first, last, rows, top, holes;
} ev_shape;

static int ev_shape_read(store *s, ev_shape *sh)
{
	uint64_t span;
	int r;

	memset(sh, 0, sizeof *sh);
	if ((r = store_event_span(s, &sh->first, &sh->last)) < 0 || !sh->last)
		return r;   /* (the queue inserted) */
	if ((r = ev_holes_get(s, &sh->holes)) < 0 || (r = ev_top(s, &sh->top)) < 0)
		return r;
	if (sh->top < sh->last)
		sh->top = sh->last;
	span = sh->last - sh->first + 1;
	/* a count meta cannot explain (a file written by an rsd that does
	 * not keep it): at most the span, at least one row */
	sh->rows = sh->holes < sh->top - sh->first + 1 ?
		   sh->top - sh->first + 1 - sh->holes : 1;
	if (sh->rows > span)
		sh->rows = span;
	return 0;
}

/* After `deleted` rows of sh went: the holes the table has now. Inside
 * the caller's transaction. */
static int ev_holes_after(store *s, const ev_shape *sh, uint64_t deleted)
{
	uint64_t first, last, rows = sh->rows > deleted ? sh->rows - deleted : 0;
	int r = store_event_span(s, &first, &last);

	if (r < 0)
		return r;
	if (!last || !rows)
		return sh->holes ? ev_holes_put(s, 0) : 0;
	return ev_holes_put(s, sh->top - first + 1 > rows ? sh->top - first + 1 - rows : 0);
}

int store_event_count(store *s, uint64_t *rows)
{
	ev_shape sh;
	int r = ev_shape_read(s, &sh);

	*rows = r == 0 ? sh.rows : 0;
	return r;
}

int store_event_del_label(store *s, const char *label, uint64_t *deleted)
{
	sqlite3_stmt *st;
	struct binder b;
	ev_shape sh;
	int r;

	*deleted = 0;
	if (sqlite3_get_autocommit(s->db))
		return -EINVAL;   /* the count and the rows go together */
	if ((r = ev_shape_read(s, &sh)) < 0 || !sh.last)
		return r;
	if (!(st = stmt(s, ST_EV_DEL_LABEL)))
		return -EBUSY;
	b = (struct binder){ st, 1, SQLITE_OK };
	b_text(&b, label);
	if ((r = step_done(st, b.rc)) < 0)
		return r;
	*deleted = (uint64_t)sqlite3_changes(s->db);
	return *deleted ? ev_holes_after(s, &sh, *deleted) : 0;
}

/* The count limit cuts the oldest rows - keep seqs: no more than rows -
 * keep rows (fewer if holes are among them; the next call takes more).
 * A table with holes is pruned in a transaction of its own (if the
 * caller has none) so that the rows and their count go together. */
int store_event_prune(store *s, uint64_t keep, uint64_t before_ms,
		      uint32_t batch, uint64_t *deleted)
{
	uint64_t cut = 0, age_end = 0;
	sqlite3_stmt *st;
	bool own = false;
	ev_shape sh;
	int r;

	*deleted = 0;
	if (!batch)
		return -EINVAL;
	r = ev_shape_read(s, &sh);   /* (inserts the queue) */
	if (r < 0 || !sh.last || (!keep && !before_ms))
		return r;
	if (keep && sh.rows > keep)
		cut = sh.first + (sh.rows - keep) - 1;
	if (before_ms) {
		r = old_prefix_end(s, sh.first, sh.first + batch - 1, before_ms, &age_end);
		if (r < 0)
			return r;
		if (age_end > cut)
			cut = age_end;
	}
	if (cut > sh.first + batch - 1)
		cut = sh.first + batch - 1;
	if (cut < sh.first)
		return 0;
	st = stmt(s, ST_EV_PRUNE);
	if (!st)
		return -EBUSY;
	if (sh.holes && sqlite3_get_autocommit(s->db)) {
		if ((r = store_begin(s)) < 0)
			return r;
		own = true;
	}
	r = sqlite3_bind_int64(st, 1, (int64_t)cut);
	r = step_done(st, r);
	if (r == 0)
		*deleted = (uint64_t)sqlite3_changes(s->db);
	if (r == 0 && sh.holes)
		r = ev_holes_after(s, &sh, *deleted);
	if (own && r == 0)
		r = store_commit(s);
	else if (own)
		store_rollback(s);
	if (r < 0)
		*deleted = 0;
	return r;
}

/* Inserts op and sets op->id to its new id. */
int store_op_add(store *s, rs_op *op)
{
	sqlite3_stmt *st = stmt(s, ST_OP_ADD);
	struct binder b = { st, 1, SQLITE_OK };
	int r;

	if (!st)
		return -EBUSY;
	b_textn(&b, op->kind, sizeof op->kind);
	b_textn(&b, op->label, sizeof op->label);
	b_textn(&b, op->state, sizeof op->state);
	b_u64(&b, op->started_ms);
	b_u64(&b, op->finished_ms);
	b_textn(&b, op->caller, sizeof op->caller);
	b_textn(&b, op->detail, sizeof op->detail);
	b_u64(&b, op->req_id);
	b_op_code(&b, op);
	r = step_done(st, b.rc);
	if (r == 0)
		op->id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	return r;
}

/* Rewrites state, finished_ms, detail and code of operation op->id;
 * -ENOENT if there is no such operation. */
int store_op_update(store *s, const rs_op *op)
{
	sqlite3_stmt *st = stmt(s, ST_OP_UPDATE);
	struct binder b = { st, 1, SQLITE_OK };
	int r;

	if (!st)
		return -EBUSY;
	b_textn(&b, op->state, sizeof op->state);
	b_u64(&b, op->finished_ms);
	b_textn(&b, op->detail, sizeof op->detail);
	b_op_code(&b, op);
	b_u64(&b, op->id);
	r = step_done(st, b.rc);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

/* Calls fn for each operation in state "running", oldest first; stops on
 * non-zero. */
int store_op_each_open(store *s, store_op_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, ST_OP_OPEN);
	rs_op op;
	int r;

	if (!st)
		return -EBUSY;
	while ((r = step_row(st)) > 0) {
		read_op(st, &op);
		r = fn(&op, arg);
		if (r)
			break;
	}
	finish(st);
	return r;
}

int store_op_find_req(store *s, const char *caller, uint64_t req_id, rs_op *out)
{
	sqlite3_stmt *st = stmt(s, ST_OP_FIND_REQ);
	struct binder b = { st, 1, SQLITE_OK };
	int r;

	if (!st)
		return -EBUSY;
	if (!req_id || !caller) {
		finish(st);
		return -EINVAL;
	}
	b_u64(&b, req_id);
	b_text(&b, caller);
	if (b.rc != SQLITE_OK) {
		finish(st);
		return map_rc(b.rc);
	}
	r = step_row(st);
	if (r > 0) {
		read_op(st, out);
		r = 0;
	} else if (r == 0) {
		r = -ENOENT;
	}
	finish(st);
	return r;
}

/* Inserts or replaces the principal keyed by (kind, name). */
int store_principal_put(store *s, const store_principal *p)
{
	sqlite3_stmt *st = stmt(s, ST_PR_PUT);
	struct binder b = { st, 1, SQLITE_OK };

	if (!st)
		return -EBUSY;
	b_textn(&b, p->kind, sizeof p->kind);
	b_textn(&b, p->name, sizeof p->name);
	b_textn(&b, p->role, sizeof p->role);
	b_textn(&b, p->labels, sizeof p->labels);
	b_textn(&b, p->pubkey, sizeof p->pubkey);
	b_u64(&b, p->created_ms);
	b_u64(&b, p->revoked_ms);
	b_textn(&b, p->created_by, sizeof p->created_by);
	return step_done(st, b.rc);
}

/* Calls fn for each principal (revoked ones too); stops on non-zero. */
int store_principal_each(store *s, store_principal_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, ST_PR_EACH);
	store_principal p;
	int r;

	if (!st)
		return -EBUSY;
	while ((r = step_row(st)) > 0) {
		struct reader c = { st, 0 };

		memset(&p, 0, sizeof p);
		c_text(&c, p.kind, sizeof p.kind);
		c_text(&c, p.name, sizeof p.name);
		c_text(&c, p.role, sizeof p.role);
		c_text(&c, p.labels, sizeof p.labels);
		c_text(&c, p.pubkey, sizeof p.pubkey);
		p.created_ms = c_u64(&c);
		p.revoked_ms = c_u64(&c);
		c_text(&c, p.created_by, sizeof p.created_by);
		r = fn(&p, arg);
		if (r)
			break;
	}
	finish(st);
	return r;
}

/* Adds svc as the next revision of its label and prunes the label's
 * revisions to the newest STORE_REVISION_KEEP; *revision (may be NULL)
 * gets its number. Inside the caller's transaction (-EINVAL outside one),
 * so the revision is committed with the spec it records. */
int store_revision_add(store *s, const store_service *svc, uint64_t time_ms,
		       const char *actor, const char *kind, uint32_t *revision)
{
	sqlite3_stmt *st;
	struct binder b;
	struct svc_blobs bl;
	int64_t n = 0;
	int r;

	if (sqlite3_get_autocommit(s->db) || !kind)
		return -EINVAL;
	st = stmt(s, ST_REV_ADD);
	if (!st)
		return -EBUSY;
	b = (struct binder){ st, 1, SQLITE_OK };
	r = bind_service(&b, svc, &bl);
	if (r < 0) {
		finish(st);
		goto out;
	}
	b.i = SVC_NCOLS + 1;   /* after ?1 (the label) again: time, actor, kind */
	b_u64(&b, time_ms);
	b_text(&b, actor ? actor : "");
	b_text(&b, kind);
	if (b.rc != SQLITE_OK) {
		r = map_rc(b.rc);
		finish(st);
		goto out;
	}
	r = step_row(st);
	if (r > 0)
		n = sqlite3_column_int64(st, 0);
	finish(st);
	if (r == 0)
		r = -EIO;
	if (r < 0)
		goto out;
	r = 0;
	if (n > STORE_REVISION_KEEP) {
		st = stmt(s, ST_REV_PRUNE);
		if (!st) {
			r = -EBUSY;
			goto out;
		}
		b = (struct binder){ st, 1, SQLITE_OK };
		b_textn(&b, svc->spec.label, sizeof svc->spec.label);
		b_i64(&b, n - STORE_REVISION_KEEP);
		r = step_done(st, b.rc);
		if (r < 0)
			goto out;
	}
	if (revision)
		*revision = (uint32_t)n;
out:
	svc_blobs_free(&bl);
	return r;
}

/* Reads one revision row (REV_COLS); the caller clears out->svc.spec on
 * success. */
static int read_revision(sqlite3_stmt *st, store_revision *out)
{
	struct reader c = { st, SVC_NCOLS };
	store_service svc;
	int r;

	r = read_service(st, &svc);
	if (r < 0)
		return r;
	memset(out, 0, sizeof *out);
	out->svc = svc;
	out->revision = c_u32(&c);
	out->time_ms = c_u64(&c);
	c_text(&c, out->actor, sizeof out->actor);
	c_text(&c, out->kind, sizeof out->kind);
	return 0;
}

/* Calls fn for the newest `limit` revisions of label (all if 0), oldest
 * first; a non-zero return stops the walk and is returned. */
int store_revision_each(store *s, const char *label, uint32_t limit,
			store_revision_fn fn, void *arg)
{
	sqlite3_stmt *st = stmt(s, ST_REV_EACH);
	struct binder b = { st, 1, SQLITE_OK };
	store_revision rev;
	int r;

	if (!st)
		return -EBUSY;
	b_text(&b, label);
	b_i64(&b, limit ? (int64_t)limit : -1);
	if (b.rc != SQLITE_OK) {
		finish(st);
		return map_rc(b.rc);
	}
	while ((r = step_row(st)) > 0) {
		r = read_revision(st, &rev);
		if (r < 0)
			break;
		r = fn(&rev, arg);
		rs_spec_clear(&rev.svc.spec);
		if (r)
			break;
	}
	finish(st);
	return r;
}

/* Fills *out with revision n of label; -ENOENT if it is not kept. The
 * caller always clears out->svc.spec. */
int store_revision_get(store *s, const char *label, uint32_t n,
		       store_revision *out)
{
	sqlite3_stmt *st = stmt(s, ST_REV_GET);
	struct binder b = { st, 1, SQLITE_OK };
	int r;

	memset(out, 0, sizeof *out);
	rs_spec_init(&out->svc.spec);
	if (!st)
		return -EBUSY;
	b_text(&b, label);
	b_i64(&b, n);
	if (b.rc != SQLITE_OK) {
		r = map_rc(b.rc);
		goto out;
	}
	r = step_row(st);
	if (r == 0)
		r = -ENOENT;
	if (r < 0)
		goto out;
	r = read_revision(st, out);
	if (r < 0)
		rs_spec_init(&out->svc.spec);
out:
	finish(st);
	return r;
}

/* Deletes every revision of label (rsctl delete). */
int store_revision_del_label(store *s, const char *label)
{
	sqlite3_stmt *st = stmt(s, ST_REV_DEL_LABEL);
	struct binder b = { st, 1, SQLITE_OK };

	if (!st)
		return -EBUSY;
	b_text(&b, label);
	return step_done(st, b.rc);
}
