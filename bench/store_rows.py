#!/usr/bin/env python3
"""What a node's instance rows cost to write: schema 12 against schema 13.

A cold start or an rsd restart at 5,000 nodes rewrites every node's ~30
instance rows about twice (starting, then running with the pid), each
node's Hello and acknowledgements in the group commit of the loop turn
that read them. This runs that write pattern on SQLite alone (Python's
sqlite3: the same libsqlite3 rsd links), with rsd's settings (WAL,
synchronous=NORMAL, a 64 MiB page cache) and rsd's statements:

  12        the table up to schema 12: keyed by id (the ids follow the
            services, so a node's 30 rows sit on 30 pages), an index on
            label, INSERT OR REPLACE (each write deletes and inserts the
            row and its index entry; the max-id trigger fires)
  13move    schema 13: WITHOUT ROWID keyed (node, id), a unique index on
            id, no label index, written by the UPDATE that moves a row
            (SET node = ?): setting a key column, even to its value,
            makes SQLite delete and insert the row and its index entry
  13        schema 13 written as rsd does: UPDATE ... WHERE node = ? AND
            id = ?, node not set (the move and the INSERT only when that
            changes nothing)

For each commit size (nodes per commit: 1, 20, 100) and layout it builds a
fresh file of N x 30 rows (ids by service, replicas spread over the
nodes as placement does), then writes every node's rows twice in commits
of that many nodes, nodes in a random (seeded) order, checkpointing when
the WAL passes 32 MiB as rsd does. It prints the process CPU time per
row write (Python's own per-statement cost, the same in every layout,
included), the WAL bytes written (frames x page size) and the ratio to
schema 12 in the same run. rsd is not involved: its share of a cold
start is in docs/bench.md.

Usage: bench/store_rows.py [--nodes 5000] [--per-node 30] [--replicas 60]
                           [--batches 1 20 100] [--runs 3] [--tmp DIR]
"""
import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time

COLS = ("id, label, node, generation, pid, state, restarts, exit_code,"
        " exit_signal, exit_reason, exit_time_ms, status, started_ms,"
        " ready_ms, start_ticks, standby")
INST = ("  label TEXT NOT NULL, node TEXT NOT NULL DEFAULT '',"
        " generation INTEGER NOT NULL, pid INTEGER NOT NULL,"
        " state TEXT NOT NULL, restarts INTEGER NOT NULL,"
        " exit_code INTEGER NOT NULL, exit_signal INTEGER NOT NULL,"
        " exit_reason TEXT NOT NULL, exit_time_ms INTEGER NOT NULL,"
        " status TEXT NOT NULL DEFAULT '', started_ms INTEGER NOT NULL,"
        " ready_ms INTEGER NOT NULL, start_ticks INTEGER NOT NULL,"
        " standby INTEGER NOT NULL DEFAULT 0")
META = ("CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
        "INSERT INTO meta VALUES ('instance_max_id', 0);"
        "CREATE TRIGGER instance_max_id AFTER INSERT ON instance BEGIN"
        " UPDATE meta SET value = max(value, NEW.id)"
        " WHERE key = 'instance_max_id'; END;")
SCHEMA = {
    "12": "CREATE TABLE instance (id INTEGER PRIMARY KEY," + INST + ");"
          "CREATE INDEX instance_label ON instance (label);" + META,
    "13": "CREATE TABLE instance (id INTEGER NOT NULL," + INST +
          ", PRIMARY KEY (node, id)) WITHOUT ROWID;"
          "CREATE UNIQUE INDEX instance_id ON instance (id);" + META,
}
INSERT = "INSERT INTO instance (%s) VALUES (%s)" % (COLS, ", ".join("?" * 16))
REPLACE = INSERT.replace("INSERT", "INSERT OR REPLACE", 1)
MOVE = ("UPDATE instance SET label = ?2, node = ?3, generation = ?4,"
        " pid = ?5, state = ?6, restarts = ?7, exit_code = ?8,"
        " exit_signal = ?9, exit_reason = ?10, exit_time_ms = ?11,"
        " status = ?12, started_ms = ?13, ready_ms = ?14,"
        " start_ticks = ?15, standby = ?16 WHERE id = ?1")
UPDATE = ("UPDATE instance SET label = ?2, generation = ?4,"
          " pid = ?5, state = ?6, restarts = ?7, exit_code = ?8,"
          " exit_signal = ?9, exit_reason = ?10, exit_time_ms = ?11,"
          " status = ?12, started_ms = ?13, ready_ms = ?14,"
          " start_ticks = ?15, standby = ?16 WHERE node = ?3 AND id = ?1")
LAYOUTS = [("12", "12", REPLACE), ("13move", "13", MOVE), ("13", "13", UPDATE)]
WAL_BOUND = 32 << 20   # rsd's checkpointer bound (store.c STORE_CKPT_BOUND)


def row(a, i, pid, state):
    svc, node = (i - 1) // a.replicas, (i - 1) % a.nodes
    return (i, "svc-%05d" % svc, "node-%05d" % node, 1, pid, state, 0, 0, 0,
            "none", 0, "", 1733000000000 + pid, 0, 1234567 + pid, 0)


def one(a, tmp, schema, put, batch):
    path = os.path.join(tmp, "rows.db")
    for f in (path, path + "-wal", path + "-shm"):
        if os.path.exists(f):
            os.unlink(f)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-65536")
    db.execute("PRAGMA wal_autocheckpoint=0")   # rsd checkpoints itself
    page = db.execute("PRAGMA page_size").fetchone()[0]
    db.executescript(SCHEMA[schema])
    n = a.nodes * a.per_node
    db.execute("BEGIN")
    for i in range(1, n + 1):
        db.execute(INSERT, row(a, i, 0, "pending"))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    by_node = [[] for _ in range(a.nodes)]
    for i in range(1, n + 1):
        by_node[(i - 1) % a.nodes].append(i)
    order = list(range(a.nodes))
    random.Random(1).shuffle(order)
    wal = 0
    t = time.process_time()
    for state in ("starting", "running"):
        for b in range(0, a.nodes, batch):
            db.execute("BEGIN IMMEDIATE")
            for node in order[b:b + batch]:
                for i in by_node[node]:
                    db.execute(put, row(a, i, 1000 + i, state))
            before = os.path.getsize(path + "-wal")
            db.execute("COMMIT")
            after = os.path.getsize(path + "-wal")
            # the WAL grows by the commit's frames (it restarts only
            # after a checkpoint below)
            wal += max(0, after - before)
            if after > WAL_BOUND:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cpu = time.process_time() - t
    db.close()
    return cpu / (2 * n) * 1e6, wal / (page + 24) / (2 * n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--per-node", type=int, default=30)
    ap.add_argument("--replicas", type=int, default=60)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 20, 100])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    a = ap.parse_args()
    print("SQLite %s, %d nodes x %d rows (services of %d), medians of %d runs"
          % (sqlite3.sqlite_version, a.nodes, a.per_node, a.replicas, a.runs))
    with tempfile.TemporaryDirectory(prefix="rs-bench-rows-", dir=a.tmp) as tmp:
        for batch in a.batches:
            base = None
            for name, schema, put in LAYOUTS:
                us, frames = [], []
                for _ in range(a.runs):
                    u, f = one(a, tmp, schema, put, batch)
                    us.append(u)
                    frames.append(f)
                u, f = statistics.median(us), statistics.median(frames)
                base = base or (u, f)
                print("%3d nodes a commit, %-6s: %5.1f us CPU a row write (x%.2f),"
                      " %.2f WAL pages a row (x%.2f)"
                      % (batch, name, u, u / base[0], f, f / base[1]), flush=True)


if __name__ == "__main__":
    main()
