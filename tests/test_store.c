/*
 * test_store.c - the SQLite store on real temporary files.
 *
 * Every test gets a fresh directory under /tmp (removed by its .fini). The
 * sqlite3 API is used directly only to inspect or damage files from the
 * outside (user_version, bad rows); everything else goes through store.h.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "probespec.h"
#include "reslimits.h"
#include "profile.h"
#include "store.h"

static char tmpdir[64];
static char dbpath[128];
static char mntdir[64];        /* tmpfs mount point of the ENOSPC test */
static bool mounted;

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	if (dir[0])
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/rs-test-store-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof dbpath, "%s/rs.db", tmpdir);
}

static void teardown(void)
{
	if (mounted) {
		umount2(mntdir, MNT_DETACH);
		mounted = false;
	}
	if (mntdir[0])
		rmdir(mntdir);
	rm_tree(tmpdir);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 20);

/* Opens the store at dbpath or fails the test. */
static store *open_ok(void)
{
	store *s = NULL;
	int r = store_open(dbpath, &s);

	cr_assert_eq(r, 0, "store_open: %s", strerror(-r));
	cr_assert_not_null(s);
	return s;
}

/* Runs sql on path with the raw sqlite3 API; returns the first column of
 * the first row as an integer (0 if no row). */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = 0;
	int rc;

	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
		     SQLITE_OK);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	cr_assert_eq(rc, SQLITE_OK, "%s: prepare failed", sql);
	return v;
}

/* Runs sql statements on path with the raw sqlite3 API. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	int rc;

	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
				     SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	sqlite3_close(db);
	if (rc != SQLITE_OK) {
		char msg[256];

		rs_strlcpy(msg, err ? err : "?", sizeof msg);
		sqlite3_free(err);
		cr_assert_fail("%s: %s", sql, msg);
	}
}

/* ---- services ---------------------------------------------------------- */

static void make_service(store_service *svc, const char *label)
{
	memset(svc, 0, sizeof *svc);
	rs_spec_init(&svc->spec);
	rs_strlcpy(svc->spec.label, label, sizeof svc->spec.label);
	cr_assert_eq(rs_spec_add_arg(&svc->spec, "/usr/bin/env"), 0);
	svc->desired = RS_WANT_UP;
	svc->generation = 1;
	svc->created_ms = 1000;
	svc->updated_ms = 1000;
}

/* A service with every field set away from its default. */
static void make_full_service(store_service *svc)
{
	rs_spec *sp = &svc->spec;

	make_service(svc, "web.front-1");
	cr_assert_eq(rs_spec_add_arg(sp, "--name=two words"), 0);
	cr_assert_eq(rs_spec_add_arg(sp, ""), 0);
	cr_assert_eq(rs_spec_add_arg(sp, "h\xc3\xa9llo w\xc3\xb6rld"
				     " \xe2\x9c\x93 \xf0\x9f\x9a\x80"), 0);
	cr_assert_eq(rs_spec_add_arg(sp, "a=b=c"), 0);
	cr_assert_eq(rs_spec_add_env(sp, "PATH=/bin:/usr/bin"), 0);
	cr_assert_eq(rs_spec_add_env(sp, "GREETING=hello there = yes"), 0);
	cr_assert_eq(rs_spec_add_env(sp, "UTF=\xe6\x97\xa5\xe6\x9c\xac"), 0);
	cr_assert_eq(rs_spec_add_env(sp, "EMPTY="), 0);
	sp->cwd = strdup("/srv/web front");
	cr_assert_not_null(sp->cwd);
	sp->period_ms = 1234;
	sp->ready_timeout_ms = 4321;
	sp->stop_timeout_ms = 777;
	sp->stop_signal = SIGINT;
	sp->policy = RS_RP_ON_FAILURE;
	sp->backoff.initial_ms = 11;
	sp->backoff.factor = 3;
	sp->backoff.max_ms = 99999;
	sp->backoff.reset_ms = 4242;
	sp->backoff.disabled = true;
	sp->notify = RS_NT_NOTIFY;
	sp->settle_ms = 55;
	rs_strlcpy(sp->node, "node-7", sizeof sp->node);
	sp->script = strdup("/etc/rs/recover web.sh");
	cr_assert_not_null(sp->script);
	sp->critical = true;
	sp->replicas = 3;
	cr_assert_eq(rs_spec_add_listen(sp, "http=tcp:0.0.0.0:8080"), 0);
	cr_assert_eq(rs_spec_add_listen(sp, "v6=tcp6:[::1]:8080"), 0);
	cr_assert_eq(rs_spec_add_listen(sp, "ctl=unix:/run/web front.sock"), 0);
	cr_assert_eq(rs_spec_add_placement(sp, "node=n1"), 0);
	cr_assert_eq(rs_spec_add_placement(sp, "node=n3"), 0);
	cr_assert_eq(rs_spec_add_placement(sp, "label=ssd"), 0);
	cr_assert_eq(rs_spec_add_dep(sp, "db"), 0);
	cr_assert_eq(rs_spec_add_dep(sp, "cache"), 0);
	rs_strlcpy(sp->user, "www-data", sizeof sp->user);
	sp->keep_caps = true;
	sp->fence = RS_FENCE_STOP;
	sp->reload_signal = SIGUSR2;
	sp->probes[RS_PROBE_LIVENESS].kind = RS_PK_HTTP;
	cr_assert_eq(rs_probe_set_target(&sp->probes[RS_PROBE_LIVENESS],
					 "http://127.0.0.1:8080/healthz"), 0);
	cr_assert_eq(rs_probe_add_header(&sp->probes[RS_PROBE_LIVENESS], "Host: a b"), 0);
	sp->probes[RS_PROBE_LIVENESS].failures = 5;
	rs_strlcpy(sp->node, "", sizeof sp->node);
	svc->desired = RS_WANT_UP;
	svc->generation = 0x123456789abcULL;
	svc->created_ms = 1700000000000ULL;
	svc->updated_ms = UINT64_MAX;   /* stored bit for bit */
}

static void assert_strv_eq(char **a, size_t an, char **b, size_t bn)
{
	cr_assert_eq(an, bn);
	for (size_t i = 0; i < an; i++)
		cr_assert_str_eq(a[i], b[i], "entry %zu", i);
	if (an)
		cr_assert_null(a[an]);
}

static void assert_service_eq(const store_service *a, const store_service *b)
{
	const rs_spec *x = &a->spec, *y = &b->spec;

	cr_assert_str_eq(x->label, y->label);
	assert_strv_eq(x->argv, x->argc, y->argv, y->argc);
	assert_strv_eq(x->env, x->envc, y->env, y->envc);
	if (y->cwd)
		cr_assert_str_eq(x->cwd, y->cwd);
	else
		cr_assert_null(x->cwd);
	cr_assert_eq(x->period_ms, y->period_ms);
	cr_assert_eq(x->ready_timeout_ms, y->ready_timeout_ms);
	cr_assert_eq(x->stop_timeout_ms, y->stop_timeout_ms);
	cr_assert_eq(x->stop_signal, y->stop_signal);
	cr_assert_eq(x->policy, y->policy);
	cr_assert_eq(x->backoff.initial_ms, y->backoff.initial_ms);
	cr_assert_eq(x->backoff.factor, y->backoff.factor);
	cr_assert_eq(x->backoff.max_ms, y->backoff.max_ms);
	cr_assert_eq(x->backoff.reset_ms, y->backoff.reset_ms);
	cr_assert_eq(x->backoff.disabled, y->backoff.disabled);
	cr_assert_eq(x->notify, y->notify);
	cr_assert_eq(x->settle_ms, y->settle_ms);
	cr_assert_str_eq(x->node, y->node);
	if (y->script)
		cr_assert_str_eq(x->script, y->script);
	else
		cr_assert_null(x->script);
	cr_assert_eq(x->critical, y->critical);
	cr_assert_eq(x->replicas, y->replicas);
	assert_strv_eq(x->listen, x->nlisten, y->listen, y->nlisten);
	assert_strv_eq(x->placement, x->nplacement, y->placement, y->nplacement);
	assert_strv_eq(x->deps, x->ndeps, y->deps, y->ndeps);
	cr_assert_str_eq(x->user, y->user);
	cr_assert_eq(x->keep_caps, y->keep_caps);
	cr_assert_eq(x->fence, y->fence);
	cr_assert_eq(x->reload_signal, y->reload_signal);
	for (int i = 0; i < RS_PROBE__NR; i++)
		cr_assert(rs_probe_equal(&x->probes[i], &y->probes[i]), "probe %d", i);
	cr_assert_eq(a->desired, b->desired);
	cr_assert_eq(a->generation, b->generation);
	cr_assert_eq(a->created_ms, b->created_ms);
	cr_assert_eq(a->updated_ms, b->updated_ms);
}

struct svc_list {
	int  n;
	char labels[8][RS_LABEL_MAX];
	int  stop_after;        /* return 7 after this many; 0 = never */
	store *s;               /* for re-entrancy checks */
	int  nested_rc;
	int  nested_inst;
};

static int collect_svc(const store_service *svc, void *arg)
{
	struct svc_list *l = arg;

	if (l->n < 8)
		rs_strlcpy(l->labels[l->n], svc->spec.label, RS_LABEL_MAX);
	l->n++;
	return l->stop_after && l->n >= l->stop_after ? 7 : 0;
}

Test(store, open_creates_schema)
{
	store *s = open_ok();
	struct stat st;

	store_close(&s);
	cr_assert_null(s);
	store_close(&s);        /* accepts NULL */
	store_close(NULL);

	cr_assert_eq(stat(dbpath, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"),
		     STORE_SCHEMA_VERSION);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master"
			     " WHERE type = 'table' AND name IN ('node',"
			     " 'service', 'instance', 'event', 'operation')"),
		     5);
	/* (no (label, seq) index of events since schema 12) */
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master"
			     " WHERE type = 'index' AND tbl_name IN"
			     " ('event', 'operation')"), 2);

	/* Reopening an up-to-date file applies nothing and works. */
	s = open_ok();
	store_close(&s);
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"),
		     STORE_SCHEMA_VERSION);
}

Test(store, open_sets_wal_and_mode_0600)
{
	store *s;
	int fd = open(dbpath, O_CREAT | O_WRONLY, 0644);
	struct stat st;
	sqlite3 *db;
	sqlite3_stmt *q;

	cr_assert_geq(fd, 0);
	fchmod(fd, 0644);
	close(fd);
	s = open_ok();
	cr_assert_eq(stat(dbpath, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	store_close(&s);

	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q,
					NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);
}

Test(store, open_creates_missing_directory)
{
	store *s = NULL;

	snprintf(dbpath, sizeof dbpath, "%s/a/b/rs.db", tmpdir);
	cr_assert_eq(store_open(dbpath, &s), 0);
	store_close(&s);
	cr_assert_eq(access(dbpath, R_OK | W_OK), 0);
}

Test(store, open_bad_arguments)
{
	store *s = (store *)&s;

	cr_assert_eq(store_open(NULL, &s), -EINVAL);
	cr_assert_null(s);
	cr_assert_eq(store_open("", &s), -EINVAL);
	cr_assert_eq(store_open(dbpath, NULL), -EINVAL);
	cr_assert_not_null(store_errmsg(NULL));
}

Test(store, service_roundtrip_every_field)
{
	store *s = open_ok();
	store_service in, out;

	make_full_service(&in);
	cr_assert_eq(store_service_put(s, &in), 0);
	cr_assert_eq(store_service_get(s, in.spec.label, &out), 0);
	assert_service_eq(&out, &in);
	rs_spec_clear(&out.spec);

	/* The same after close + reopen. */
	store_close(&s);
	s = open_ok();
	cr_assert_eq(store_service_get(s, in.spec.label, &out), 0);
	assert_service_eq(&out, &in);
	rs_spec_clear(&out.spec);
	rs_spec_clear(&in.spec);
	store_close(&s);
}

Test(store, service_defaults_and_empty_lists)
{
	store *s = open_ok();
	store_service in, out;

	memset(&in, 0, sizeof in);
	rs_spec_init(&in.spec);
	rs_strlcpy(in.spec.label, "bare", sizeof in.spec.label);
	cr_assert_eq(store_service_put(s, &in), 0);
	cr_assert_eq(store_service_get(s, "bare", &out), 0);
	assert_service_eq(&out, &in);
	cr_assert_eq(out.spec.argc, 0);
	cr_assert_eq(out.spec.envc, 0);
	cr_assert_eq(out.spec.nlisten, 0);
	cr_assert_null(out.spec.cwd);
	rs_spec_clear(&out.spec);
	store_close(&s);
}

Test(store, service_replace_delete_and_order)
{
	store *s = open_ok();
	store_service a, got;
	struct svc_list l = { 0 };
	const char *labels[] = { "zeta", "alpha", "mid", "Beta" };

	for (size_t i = 0; i < 4; i++) {
		make_service(&a, labels[i]);
		cr_assert_eq(store_service_put(s, &a), 0);
		rs_spec_clear(&a.spec);
	}
	cr_assert_eq(store_service_each(s, collect_svc, &l), 0);
	cr_assert_eq(l.n, 4);
	/* label order: byte-wise (BINARY collation) */
	cr_assert_str_eq(l.labels[0], "Beta");
	cr_assert_str_eq(l.labels[1], "alpha");
	cr_assert_str_eq(l.labels[2], "mid");
	cr_assert_str_eq(l.labels[3], "zeta");

	/* Replace by label: one row, new content. */
	make_service(&a, "mid");
	cr_assert_eq(rs_spec_add_arg(&a.spec, "--new"), 0);
	a.desired = RS_WANT_DOWN;
	a.generation = 2;
	cr_assert_eq(store_service_put(s, &a), 0);
	cr_assert_eq(store_service_get(s, "mid", &got), 0);
	assert_service_eq(&got, &a);
	rs_spec_clear(&got.spec);
	rs_spec_clear(&a.spec);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_service_each(s, collect_svc, &l), 0);
	cr_assert_eq(l.n, 4);

	/* A non-zero callback return stops the walk and is returned. */
	memset(&l, 0, sizeof l);
	l.stop_after = 2;
	cr_assert_eq(store_service_each(s, collect_svc, &l), 7);
	cr_assert_eq(l.n, 2);

	/* Delete. */
	cr_assert_eq(store_service_del(s, "mid"), 0);
	cr_assert_eq(store_service_get(s, "mid", &got), -ENOENT);
	rs_spec_clear(&got.spec);       /* safe even on failure */
	cr_assert_eq(store_service_del(s, "mid"), -ENOENT);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_service_each(s, collect_svc, &l), 0);
	cr_assert_eq(l.n, 3);
	store_close(&s);
}

static int nested_walk(const store_instance *in, void *arg)
{
	struct svc_list *l = arg;

	(void)in;
	l->nested_inst++;
	return 0;
}

static int reenter_svc(const store_service *svc, void *arg)
{
	struct svc_list *l = arg;

	(void)svc;
	l->n++;
	l->nested_rc = store_service_each(l->s, collect_svc, l);
	cr_assert_eq(store_instance_each(l->s, nested_walk, l), 0);
	return 0;
}

Test(store, walk_reentry)
{
	store *s = open_ok();
	store_service a;
	store_instance in = { 0 };
	struct svc_list l = { 0 };

	make_service(&a, "one");
	cr_assert_eq(store_service_put(s, &a), 0);
	rs_spec_clear(&a.spec);
	in.info.id = 1;
	cr_assert_eq(store_instance_put(s, &in), 0);
	l.s = s;
	cr_assert_eq(store_service_each(s, reenter_svc, &l), 0);
	cr_assert_eq(l.n, 1);
	cr_assert_eq(l.nested_rc, -EBUSY);
	cr_assert_eq(l.nested_inst, 1);
	/* And the statement is usable again afterwards. */
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_service_each(s, collect_svc, &l), 0);
	cr_assert_eq(l.n, 1);
	store_close(&s);
}

/* ---- instances and nodes ------------------------------------------------ */

static void make_instance(store_instance *in, uint64_t id, const char *label)
{
	memset(in, 0, sizeof *in);
	in->info.id = id;
	rs_strlcpy(in->info.label, label, sizeof in->info.label);
	rs_strlcpy(in->node, "n1", sizeof in->node);
	in->info.generation = id * 10;
	in->info.pid = (int32_t)(1000 + id);
	in->info.state = RS_IS_RUNNING;
	in->info.restarts = 3;
	in->info.last_exit.code = -1;
	in->info.last_exit.signal = SIGKILL;
	in->info.last_exit.reason = RS_ER_READY_TIMEOUT;
	in->info.last_exit.time_ms = 123456789012ULL;
	snprintf(in->info.status, sizeof in->info.status,
		 "ready: %llu conns \xe2\x9c\x93", (unsigned long long)id);
	in->info.started_ms = 5;
	in->info.ready_ms = 6;
	in->info.start_ticks = 0xfedcba9876543210ULL;
}

static void assert_inst_eq(const store_instance *x, const store_instance *y)
{
	const rs_iinfo *a = &x->info, *b = &y->info;

	cr_assert_eq(a->id, b->id);
	cr_assert_str_eq(a->label, b->label);
	cr_assert_str_eq(x->node, y->node);
	cr_assert_eq(a->generation, b->generation);
	cr_assert_eq(a->pid, b->pid);
	cr_assert_eq(a->state, b->state);
	cr_assert_eq(a->restarts, b->restarts);
	cr_assert_eq(a->last_exit.code, b->last_exit.code);
	cr_assert_eq(a->last_exit.signal, b->last_exit.signal);
	cr_assert_eq(a->last_exit.reason, b->last_exit.reason);
	cr_assert_eq(a->last_exit.time_ms, b->last_exit.time_ms);
	cr_assert_str_eq(a->status, b->status);
	cr_assert_eq(a->started_ms, b->started_ms);
	cr_assert_eq(a->ready_ms, b->ready_ms);
	cr_assert_eq(a->start_ticks, b->start_ticks);
}

struct inst_list {
	int            n;
	store_instance v[8];
};

static int collect_inst(const store_instance *in, void *arg)
{
	struct inst_list *l = arg;

	if (l->n < 8)
		l->v[l->n] = *in;
	l->n++;
	return 0;
}

Test(store, instances)
{
	store *s = open_ok();
	store_instance a, b, c;
	struct inst_list l = { 0 };
	uint64_t max = 99;

	cr_assert_eq(store_instance_max_id(s, &max), 0);
	cr_assert_eq(max, 0);
	make_instance(&a, 30, "web");
	make_instance(&b, 10, "web");
	make_instance(&c, 20, "db");
	cr_assert_eq(store_instance_put(s, &a), 0);
	cr_assert_eq(store_instance_put(s, &b), 0);
	cr_assert_eq(store_instance_put(s, &c), 0);

	cr_assert_eq(store_instance_each(s, collect_inst, &l), 0);
	cr_assert_eq(l.n, 3);
	cr_assert_eq(l.v[0].info.id, 10);
	cr_assert_eq(l.v[1].info.id, 20);
	cr_assert_eq(l.v[2].info.id, 30);
	assert_inst_eq(&l.v[0], &b);
	assert_inst_eq(&l.v[1], &c);
	assert_inst_eq(&l.v[2], &a);

	/* Update by id; a new node moves the row: the walk is by node,
	 * then id, and the id stays unique. */
	a.info.state = RS_IS_EXITED;
	a.info.pid = 0;
	a.info.last_exit.reason = RS_ER_NONE;
	rs_strlcpy(a.node, "n0", sizeof a.node);
	cr_assert_eq(store_instance_put(s, &a), 0);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_instance_each(s, collect_inst, &l), 0);
	cr_assert_eq(l.n, 3);
	assert_inst_eq(&l.v[0], &a);
	cr_assert_eq(l.v[0].info.state, RS_IS_EXITED);
	cr_assert_eq(l.v[0].info.last_exit.reason, RS_ER_NONE);
	cr_assert_str_eq(l.v[0].node, "n0");
	cr_assert_eq(l.v[1].info.id, 10);
	cr_assert_eq(l.v[2].info.id, 20);
	rs_strlcpy(a.node, "n2", sizeof a.node);
	cr_assert_eq(store_instance_put(s, &a), 0);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_instance_each(s, collect_inst, &l), 0);
	cr_assert_eq(l.n, 3);
	cr_assert_eq(l.v[2].info.id, 30);
	cr_assert_str_eq(l.v[2].node, "n2");
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM instance"), 3);

	/* max_id never goes down, even when the newest row is deleted. */
	cr_assert_eq(store_instance_max_id(s, &max), 0);
	cr_assert_eq(max, 30);
	cr_assert_eq(store_instance_del(s, 30), 0);
	cr_assert_eq(store_instance_del(s, 30), -ENOENT);
	cr_assert_eq(store_instance_max_id(s, &max), 0);
	cr_assert_eq(max, 30);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_instance_each(s, collect_inst, &l), 0);
	cr_assert_eq(l.n, 2);
	store_close(&s);

	s = open_ok();
	cr_assert_eq(store_instance_max_id(s, &max), 0);
	cr_assert_eq(max, 30);
	store_close(&s);
}

struct node_list {
	int        n;
	store_node v[4];
};

static int collect_node(const store_node *n, void *arg)
{
	struct node_list *l = arg;

	if (l->n < 4)
		l->v[l->n] = *n;
	l->n++;
	return 0;
}

Test(store, nodes)
{
	store *s = open_ok();
	store_node a = { 0 }, b = { 0 };
	struct node_list l = { 0 };

	rs_strlcpy(a.name, "west", sizeof a.name);
	rs_strlcpy(a.address, "tcp://10.0.0.2:7000", sizeof a.address);
	rs_strlcpy(a.boot_id, "8d1e0c1f-0000-4a4a-9999-abcdefabcdef",
		   sizeof a.boot_id);
	rs_strlcpy(a.agent_version, "0.1.0", sizeof a.agent_version);
	rs_strlcpy(a.labels, "ssd,gpu,zone=a", sizeof a.labels);
	a.capacity = 64;
	a.state = RS_NS_UP;
	a.last_seen_ms = 1700000000123ULL;
	b = a;
	rs_strlcpy(b.name, "east", sizeof b.name);
	b.state = RS_NS_LOST;
	cr_assert_eq(store_node_put(s, &a), 0);
	cr_assert_eq(store_node_put(s, &b), 0);
	cr_assert_eq(store_node_each(s, collect_node, &l), 0);
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.v[0].name, "east");
	cr_assert_eq(l.v[0].state, RS_NS_LOST);
	cr_assert_eq(memcmp(&l.v[1], &a, sizeof a), 0);

	a.state = RS_NS_LOST;
	a.capacity = 1;
	cr_assert_eq(store_node_put(s, &a), 0);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_node_each(s, collect_node, &l), 0);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(l.v[1].state, RS_NS_LOST);
	cr_assert_eq(l.v[1].capacity, 1);
	store_close(&s);
}

/* ---- events ------------------------------------------------------------- */

struct ev_list {
	int      n;
	uint64_t seq[16];
	char     detail[16][8];
	int      stop_after;
};

static int collect_ev(const rs_event *ev, void *arg)
{
	struct ev_list *l = arg;

	if (l->n < 16) {
		l->seq[l->n] = ev->seq;
		rs_strlcpy(l->detail[l->n], ev->detail, 8);
	}
	l->n++;
	return l->stop_after && l->n >= l->stop_after ? 5 : 0;
}

/* Walks events (seq <= upto too, 0: no bound) and checks the details
 * seen, in order. */
static void expect_events_upto(store *s, const char *label, uint64_t after,
			       uint64_t upto, uint32_t limit, const char *want)
{
	struct ev_list l = { 0 };
	char got[128] = "";

	cr_assert_eq(upto ? store_event_each_upto(s, label, after, upto, limit,
						  collect_ev, &l) :
		     store_event_each(s, label, after, limit, collect_ev, &l), 0);
	for (int i = 0; i < l.n && i < 16; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, l.detail[i]);
		if (i)
			cr_assert_gt(l.seq[i], l.seq[i - 1]);
	}
	cr_assert_str_eq(got, want, "label %s after %llu upto %llu limit %u",
			 label ? label : "(all)", (unsigned long long)after,
			 (unsigned long long)upto, limit);
}

static void expect_events(store *s, const char *label, uint64_t after,
			  uint32_t limit, const char *want)
{
	expect_events_upto(s, label, after, 0, limit, want);
}

Test(store, events)
{
	store *s = open_ok();
	uint64_t seq[10];
	rs_event ev;
	struct ev_list l = { 0 };

	expect_events(s, NULL, 0, 0, "");
	for (int i = 0; i < 10; i++) {
		memset(&ev, 0, sizeof ev);
		ev.time_ms = 1000 + (uint64_t)i;
		rs_strlcpy(ev.label, i % 2 ? "b" : "a", sizeof ev.label);
		ev.instance = (uint64_t)i;
		rs_strlcpy(ev.node, "n1", sizeof ev.node);
		rs_strlcpy(ev.kind, "state", sizeof ev.kind);
		snprintf(ev.detail, sizeof ev.detail, "e%d", i);
		cr_assert_eq(store_event_add(s, &ev), 0);
		seq[i] = ev.seq;
		if (i)
			cr_assert_gt(seq[i], seq[i - 1]);
	}
	expect_events(s, NULL, 0, 0, "e0 e1 e2 e3 e4 e5 e6 e7 e8 e9");
	expect_events(s, "a", 0, 0, "e0 e2 e4 e6 e8");
	expect_events(s, "b", 0, 0, "e1 e3 e5 e7 e9");
	expect_events(s, "nope", 0, 0, "");
	expect_events(s, NULL, 0, 3, "e7 e8 e9");
	expect_events(s, "b", 0, 2, "e7 e9");
	expect_events(s, NULL, seq[7], 0, "e8 e9");
	expect_events(s, NULL, seq[7], 1, "e9");
	expect_events(s, "a", seq[3], 0, "e4 e6 e8");
	expect_events(s, "a", seq[3], 1, "e8");
	expect_events(s, NULL, seq[9], 0, "");
	expect_events(s, NULL, UINT64_MAX, 0, "");
	expect_events(s, NULL, 0, 100, "e0 e1 e2 e3 e4 e5 e6 e7 e8 e9");
	/* a label's read from its newest known event down (rsd's
	 * rsd_label_events): the same rows at or above the true newest */
	expect_events_upto(s, "a", 0, seq[8], 2, "e6 e8");
	expect_events_upto(s, "a", 0, seq[9], 2, "e6 e8");
	expect_events_upto(s, "a", 0, UINT64_MAX, 0, "e0 e2 e4 e6 e8");
	expect_events_upto(s, "a", 0, seq[5], 2, "e2 e4");
	expect_events_upto(s, "a", seq[3], seq[6], 0, "e4 e6");
	expect_events_upto(s, "b", seq[9], seq[9], 0, "");
	l.stop_after = 2;
	cr_assert_eq(store_event_each(s, NULL, 0, 0, collect_ev, &l), 5);
	cr_assert_eq(l.n, 2);
	store_close(&s);
}

static int check_full_event(const rs_event *ev, void *arg)
{
	const rs_event *want = arg;

	cr_assert_eq(ev->seq, want->seq);
	cr_assert_eq(ev->time_ms, want->time_ms);
	cr_assert_str_eq(ev->label, want->label);
	cr_assert_eq(ev->instance, want->instance);
	cr_assert_str_eq(ev->node, want->node);
	cr_assert_str_eq(ev->kind, want->kind);
	cr_assert_str_eq(ev->detail, want->detail);
	return 1;
}

Test(store, event_all_fields_at_max_length)
{
	store *s = open_ok();
	rs_event ev;

	memset(&ev, 0, sizeof ev);
	ev.time_ms = UINT64_MAX - 1;
	memset(ev.label, 'L', sizeof ev.label - 1);
	ev.instance = 42;
	memset(ev.node, 'N', sizeof ev.node - 1);
	memset(ev.kind, 'K', sizeof ev.kind - 1);
	memset(ev.detail, 'D', sizeof ev.detail - 1);
	cr_assert_eq(store_event_add(s, &ev), 0);
	cr_assert_eq(store_event_each(s, NULL, 0, 0, check_full_event, &ev), 1);
	cr_assert_eq(store_event_each(s, ev.label, 0, 0, check_full_event,
				      &ev), 1);
	store_close(&s);
}

/* Adds an event of label with detail (the open transaction's, if any). */
static uint64_t add_lev(store *s, const char *label, const char *detail)
{
	rs_event ev = { 0 };

	rs_strlcpy(ev.label, label, sizeof ev.label);
	rs_strlcpy(ev.kind, "status", sizeof ev.kind);
	rs_strlcpy(ev.detail, detail, sizeof ev.detail);
	cr_assert_eq(store_event_add(s, &ev), 0);
	return ev.seq;
}

static int refuse_row(const rs_event *e, void *arg)
{
	(void)e;
	(void)arg;
	return -ENOMEM;
}

/* store_failed tells SQLite's own failures from a callback's: for the
 * latter SQLite's message would be "not an error" (rsctl events said
 * "cannot read events: not an error"). */
Test(store, failed_tells_sqlite_errors_from_others)
{
	store *s = open_ok();

	cr_assert(!store_failed(s));
	cr_assert(!store_failed(NULL));
	add_lev(s, "a", "a1");
	cr_assert_eq(store_event_each(s, NULL, 0, 0, refuse_row, NULL), -ENOMEM);
	cr_assert(!store_failed(s), "a callback's failure is not SQLite's");
	cr_assert_eq(store_begin(s), 0);
	cr_assert_lt(store_begin(s), 0, "a transaction within a transaction");
	cr_assert(store_failed(s));
	cr_assert_str_neq(store_errmsg(s), "not an error");
	store_rollback(s);
	store_close(&s);
}

/* A label's walk (a scan since schema 12): what a rolled-back
 * transaction added is not there, even when its seqs are taken again by
 * another label; the same after a reopen. */
Test(store, events_by_label_rollback)
{
	store *s = open_ok();
	uint64_t a1, b1, again;

	cr_assert_eq(store_begin(s), 0);
	a1 = add_lev(s, "a", "a1");
	b1 = add_lev(s, "b", "b1");
	cr_assert_eq(store_commit(s), 0);
	cr_assert_eq(store_begin(s), 0);
	add_lev(s, "a", "a2");
	add_lev(s, "c", "c1");
	add_lev(s, "a", "a3");
	store_rollback(s);
	again = add_lev(s, "b", "b2");   /* autocommit */
	cr_assert_eq(again, b1 + 1, "the rolled-back seqs are taken again");
	for (int pass = 0; pass < 2; pass++) {
		expect_events(s, "a", 0, 0, "a1");
		expect_events(s, "a", 0, 1, "a1");
		expect_events(s, "b", 0, 0, "b1 b2");
		expect_events(s, "b", a1, 1, "b2");
		expect_events(s, "c", 0, 0, "");
		expect_events(s, NULL, 0, 0, "a1 b1 b2");
		store_close(&s);
		s = open_ok();
	}
	/* the labels go on after the reopen */
	add_lev(s, "a", "a4");
	expect_events(s, "a", 0, 0, "a1 a4");
	store_close(&s);
}

/* A label's walk inside a transaction sees the transaction's own
 * events, queued or inserted; a rolled-back one's are gone after it. */
Test(store, events_by_label_inside_a_transaction)
{
	store *s = open_ok();

	add_lev(s, "a", "a1");
	cr_assert_eq(store_begin(s), 0);
	add_lev(s, "a", "a2");
	add_lev(s, "b", "b1");
	expect_events(s, "a", 0, 0, "a1 a2");
	cr_assert_eq(store_commit(s), 0);
	cr_assert_eq(store_begin(s), 0);
	add_lev(s, "a", "gone");
	expect_events(s, "a", 0, 1, "gone");
	store_rollback(s);
	expect_events(s, "a", 0, 0, "a1 a2");
	expect_events(s, "b", 0, 0, "b1");
	add_lev(s, "b", "b2");
	cr_assert_eq(store_begin(s), 0);
	add_lev(s, "a", "a3");
	expect_events(s, "a", 0, 1, "a3");
	cr_assert_eq(store_commit(s), 0);
	expect_events(s, "b", 0, 0, "b1 b2");
	expect_events(s, "a", 0, 0, "a1 a2 a3");
	store_close(&s);
}

/* Many labels, many events each, then a prune: each label's walk gives
 * its newest `limit` rows still kept, in order, before and after a
 * reopen; a label whose events are all pruned gives none. */
Test(store, events_by_label_many_and_pruned)
{
	store *s = open_ok();
	char label[16], detail[16];
	uint64_t del, seq0 = 0;

	cr_assert_eq(store_begin(s), 0);
	snprintf(detail, sizeof detail, "old");
	seq0 = add_lev(s, "gone", detail);
	for (int i = 0; i < 40; i++)
		for (int k = 0; k < 300; k++) {
			snprintf(label, sizeof label, "s%03d", k);
			snprintf(detail, sizeof detail, "%d", i);
			add_lev(s, label, detail);
		}
	cr_assert_eq(store_commit(s), 0);
	expect_events(s, "gone", 0, 0, "old");
	expect_events(s, "s007", 0, 3, "37 38 39");
	/* keep the newest 300 x 10 (the last 10 of every label) */
	do
		cr_assert_eq(store_event_prune(s, 300 * 10, 0, 1000, &del), 0);
	while (del);
	for (int pass = 0; pass < 2; pass++) {
		expect_events(s, "gone", 0, 0, "");
		expect_events(s, "s000", 0, 2, "38 39");
		expect_events(s, "s299", 0, 12, "30 31 32 33 34 35 36 37 38 39");
		expect_events(s, "s150", seq0 + 300 * 37, 0, "37 38 39");
		store_close(&s);
		s = open_ok();
	}
	/* inside a transaction the walk sees the prune */
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_event_prune(s, 300 * 2, 0, 5000, &del), 0);
	cr_assert_eq(del, 300 * 8);
	expect_events(s, "s042", 0, 5, "38 39");
	cr_assert_eq(store_commit(s), 0);
	expect_events(s, "s042", 0, 0, "38 39");
	store_close(&s);
}

/* ---- operations --------------------------------------------------------- */

/* What a version-9 file lacks (migration 10): fakes an older file. */
/* Adds n events stamped t0, t0 + 1, ... (ms) in one transaction. */
static void add_events(store *s, int n, uint64_t t0)
{
	rs_event ev;

	cr_assert_eq(store_begin(s), 0);
	for (int i = 0; i < n; i++) {
		memset(&ev, 0, sizeof ev);
		ev.time_ms = t0 + (uint64_t)i;
		rs_strlcpy(ev.kind, "state", sizeof ev.kind);
		snprintf(ev.detail, sizeof ev.detail, "t%llu",
			 (unsigned long long)ev.time_ms);
		cr_assert_eq(store_event_add(s, &ev), 0);
	}
	cr_assert_eq(store_commit(s), 0);
}

/* The span, and that it is the row count (no holes). */
static void expect_span(store *s, uint64_t first, uint64_t last)
{
	uint64_t f, l;

	cr_assert_eq(store_event_span(s, &f, &l), 0);
	cr_assert_eq(f, first, "first %llu, want %llu", (unsigned long long)f,
		     (unsigned long long)first);
	cr_assert_eq(l, last, "last %llu, want %llu", (unsigned long long)l,
		     (unsigned long long)last);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM event"),
		     last ? (long long)(last - first + 1) : 0);
}

/* Inside a transaction events are inserted 16 a statement: each gets its
 * seq at once, the same as AUTOINCREMENT would give, in order with the
 * events outside transactions; a read inside the transaction sees them
 * all; a rollback drops those not inserted yet too; after a prune of
 * every row the seqs go on (AUTOINCREMENT's). */
Test(store, events_queued_in_a_transaction)
{
	store *s = open_ok();
	char d[16], want[512] = "";
	uint64_t seq[40], first, last, del;
	struct ev_list l = { 0 };

	seq[0] = add_lev(s, "a", "0");   /* autocommit */
	cr_assert_eq(store_begin(s), 0);
	for (int i = 1; i < 40; i++) {
		snprintf(d, sizeof d, "%d", i);
		seq[i] = add_lev(s, i % 3 ? "a" : "b", d);
		cr_assert_eq(seq[i], seq[i - 1] + 1);
	}
	/* read inside: every one, with the seq it was given */
	cr_assert_eq(store_event_span(s, &first, &last), 0);
	cr_assert_eq(first, seq[0]);
	cr_assert_eq(last, seq[39]);
	cr_assert_eq(store_event_each(s, NULL, seq[30], 0, collect_ev, &l), 0);
	cr_assert_eq(l.n, 9);
	for (int i = 0; i < 9; i++)
		cr_assert_eq(l.seq[i], seq[31 + i]);
	add_lev(s, "b", "40");
	cr_assert_eq(store_commit(s), 0);
	for (int i = 3; i < 40; i += 3) {
		snprintf(d, sizeof d, "%s%d", *want ? " " : "", i);
		strcat(want, d);
	}
	strcat(want, " 40");
	expect_events(s, "b", 0, 0, want);
	expect_events(s, "a", 0, 2, "37 38");
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM event"), 41);
	cr_assert_eq(raw_int(dbpath, "SELECT max(seq) FROM event"), (long long)seq[39] + 1);

	/* rolled back, queued or inserted: gone, their seqs given again */
	cr_assert_eq(store_begin(s), 0);
	for (int i = 0; i < 20; i++)
		add_lev(s, "c", "x");
	store_rollback(s);
	cr_assert_eq(add_lev(s, "a", "41"), seq[39] + 2);
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(add_lev(s, "a", "42"), seq[39] + 3);
	store_rollback(s);
	expect_events(s, "c", 0, 0, "");
	expect_events(s, "a", 0, 1, "41");

	/* every row pruned: the next seq still follows the last */
	do
		cr_assert_eq(store_event_prune(s, 0, UINT64_MAX / 2, 1000, &del), 0);
	while (del);
	expect_span(s, 0, 0);
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(add_lev(s, "a", "43"), seq[39] + 3);
	cr_assert_eq(store_commit(s), 0);
	expect_events(s, "a", 0, 0, "43");
	store_close(&s);
}

Test(store, event_prune_by_count_in_batches)
{
	store *s = open_ok();
	uint64_t del;

	cr_assert_eq(store_event_prune(s, 10, 0, 100, &del), 0);
	cr_assert_eq(del, 0);
	expect_span(s, 0, 0);
	cr_assert_eq(store_event_prune(s, 10, 0, 0, &del), -EINVAL);
	add_events(s, 1000, 5000);
	expect_span(s, 1, 1000);
	/* no limit at all: nothing goes */
	cr_assert_eq(store_event_prune(s, 0, 0, 100, &del), 0);
	cr_assert_eq(del, 0);
	/* 990 too many: one batch at a time, oldest first */
	cr_assert_eq(store_event_prune(s, 10, 0, 400, &del), 0);
	cr_assert_eq(del, 400);
	expect_span(s, 401, 1000);
	cr_assert_eq(store_event_prune(s, 10, 0, 400, &del), 0);
	cr_assert_eq(del, 400);
	cr_assert_eq(store_event_prune(s, 10, 0, 400, &del), 0);
	cr_assert_eq(del, 190);
	expect_span(s, 991, 1000);
	expect_events(s, NULL, 0, 2, "t5998 t5999");
	cr_assert_eq(store_event_prune(s, 10, 0, 400, &del), 0);
	cr_assert_eq(del, 0);
	/* seqs go on after the pruned ones (AUTOINCREMENT) */
	add_events(s, 5, 9000);
	expect_span(s, 991, 1005);
	cr_assert_eq(store_event_prune(s, 10, 0, 3, &del), 0);
	cr_assert_eq(del, 3);
	cr_assert_eq(store_event_prune(s, 10, 0, 3, &del), 0);
	cr_assert_eq(del, 2);
	expect_span(s, 996, 1005);
	store_close(&s);
	/* across a reopen too */
	s = open_ok();
	add_events(s, 1, 9100);
	expect_span(s, 996, 1006);
	store_close(&s);
}

Test(store, event_prune_by_age_in_batches)
{
	store *s = open_ok();
	uint64_t del;

	add_events(s, 100, 1000);      /* seqs 1..100 at 1000..1099 ms */
	/* older than 1000: none */
	cr_assert_eq(store_event_prune(s, 0, 1000, 50, &del), 0);
	cr_assert_eq(del, 0);
	/* older than 1070: 70 rows, at most 30 a call */
	cr_assert_eq(store_event_prune(s, 0, 1070, 30, &del), 0);
	cr_assert_eq(del, 30);
	cr_assert_eq(store_event_prune(s, 0, 1070, 30, &del), 0);
	cr_assert_eq(del, 30);
	cr_assert_eq(store_event_prune(s, 0, 1070, 30, &del), 0);
	cr_assert_eq(del, 10);
	expect_span(s, 71, 100);
	expect_events(s, NULL, 0, 1, "t1099");
	cr_assert_eq(store_event_prune(s, 0, 1070, 30, &del), 0);
	cr_assert_eq(del, 0);
	/* both limits: the stricter one wins, still at most a batch */
	cr_assert_eq(store_event_prune(s, 25, 1072, 30, &del), 0);
	cr_assert_eq(del, 5);          /* the count: 30 rows, keep 25 */
	cr_assert_eq(store_event_prune(s, 20, 1090, 30, &del), 0);
	cr_assert_eq(del, 15);         /* the age: 76..90 are older than 1090 */
	expect_span(s, 91, 100);
	/* everything old: the table may empty, seqs still go on */
	cr_assert_eq(store_event_prune(s, 0, 5000, 30, &del), 0);
	cr_assert_eq(del, 10);
	expect_span(s, 0, 0);
	add_events(s, 1, 6000);
	expect_span(s, 101, 101);
	store_close(&s);
}

/* The count store_event_count gives, and that it is the table's. */
static void expect_count(store *s, uint64_t want)
{
	uint64_t n;

	cr_assert_eq(store_event_count(s, &n), 0);
	cr_assert_eq(n, want, "count %llu, want %llu", (unsigned long long)n,
		     (unsigned long long)want);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM event"), (long long)want);
}

/* rsctl delete drops a label's events: only inside a transaction; the
 * holes it leaves (in the middle and at the end) are counted, so the
 * count stays the table's and the count limit keeps `keep` rows, not
 * `keep` seqs; a rollback keeps rows and count; holes pruned away or a
 * table emptied count no more; the count survives a reopen. */
Test(store, events_deleted_by_label)
{
	store *s = open_ok();
	uint64_t del, first, last;

	for (int i = 0; i < 20; i++)   /* 1 b, 2 a, ..., 19 b, 20 a */
		add_lev(s, i % 2 ? "a" : "b", "x");
	expect_count(s, 20);
	cr_assert_eq(store_event_del_label(s, "a", &del), -EINVAL);
	expect_count(s, 20);
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_event_del_label(s, "a", &del), 0);
	cr_assert_eq(del, 10);
	cr_assert_eq(store_event_del_label(s, "none", &del), 0);
	cr_assert_eq(del, 0);
	cr_assert_eq(store_commit(s), 0);
	expect_count(s, 10);
	expect_events(s, "a", 0, 0, "");
	/* the next seq follows the deleted newest one (20) */
	cr_assert_eq(add_lev(s, "c", "c1"), 21);
	expect_count(s, 11);
	store_close(&s);
	s = open_ok();
	expect_count(s, 11);

	/* keep 5 of 11: the oldest 6 seqs hold 3 rows, then 2, then 1 */
	cr_assert_eq(store_event_prune(s, 5, 0, 100, &del), 0);
	cr_assert_eq(del, 3);
	expect_count(s, 8);
	cr_assert_eq(store_event_prune(s, 5, 0, 100, &del), 0);
	cr_assert_eq(del, 2);
	cr_assert_eq(store_event_prune(s, 5, 0, 100, &del), 0);
	cr_assert_eq(del, 1);
	cr_assert_eq(store_event_prune(s, 5, 0, 100, &del), 0);
	cr_assert_eq(del, 0);
	expect_count(s, 5);
	cr_assert_eq(store_event_span(s, &first, &last), 0);
	cr_assert(first == 13 && last == 21, "span %llu..%llu",
		  (unsigned long long)first, (unsigned long long)last);

	/* rolled back: the rows and their count stay */
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_event_del_label(s, "b", &del), 0);
	cr_assert_eq(del, 4);
	store_rollback(s);
	expect_count(s, 5);

	/* emptied: no holes left; seqs go on */
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_event_del_label(s, "b", &del), 0);
	cr_assert_eq(store_event_del_label(s, "c", &del), 0);
	cr_assert_eq(store_commit(s), 0);
	expect_count(s, 0);
	cr_assert_eq(raw_int(dbpath, "SELECT value FROM meta WHERE key = 'event_holes'"), 0);
	cr_assert_eq(add_lev(s, "d", "d1"), 22);
	expect_count(s, 1);
	expect_span(s, 22, 22);
	store_close(&s);
}

Test(store, event_prune_age_stops_at_a_newer_stamp)
{
	store *s = open_ok();
	uint64_t del;

	/* a clock that jumped: 1..10 old, 11 from the future, 12..20 old
	 * again. Age prunes the old prefix only (the count limit still
	 * bounds the rest); the seq order is the table's order. */
	add_events(s, 10, 1000);
	add_events(s, 1, 900000);
	add_events(s, 9, 2000);
	cr_assert_eq(store_event_prune(s, 0, 5000, 100, &del), 0);
	cr_assert_eq(del, 10);
	cr_assert_eq(store_event_prune(s, 0, 5000, 100, &del), 0);
	cr_assert_eq(del, 0);
	expect_span(s, 11, 20);
	cr_assert_eq(store_event_prune(s, 5, 5000, 100, &del), 0);
	cr_assert_eq(del, 5);
	expect_span(s, 16, 20);
	store_close(&s);
}

Test(store, event_prune_a_large_table_one_batch_at_a_time, .timeout = 60)
{
	store *s = open_ok();
	uint64_t del, total = 0;
	int calls = 0;

	add_events(s, 200000, 1);
	expect_span(s, 1, 200000);
	do {
		cr_assert_eq(store_event_prune(s, 1000, 0, 5000, &del), 0);
		cr_assert_leq(del, 5000);
		total += del;
		calls++;
	} while (del);
	cr_assert_eq(total, 199000);
	cr_assert_eq(calls, 41);       /* 39 full batches, 4,000, then none */
	expect_span(s, 199001, 200000);
	store_close(&s);
}

#define DROP_V18 "ALTER TABLE service DROP COLUMN profile;" \
		 "ALTER TABLE revision DROP COLUMN profile;"
#define DROP_V17 "ALTER TABLE service DROP COLUMN limits;" \
		 "ALTER TABLE revision DROP COLUMN limits;"
#define DROP_V16 "ALTER TABLE service DROP COLUMN probes;" \
		 "ALTER TABLE revision DROP COLUMN probes;"
#define DROP_V15 "DROP TABLE revision;"
#define DROP_V14 "ALTER TABLE service DROP COLUMN reload_signal;"
/* back to schema 12's instance table: keyed by id, indexed by label */
#define DROP_V13 \
	"CREATE TABLE instance_12 (id INTEGER PRIMARY KEY," \
	" label TEXT NOT NULL, node TEXT NOT NULL DEFAULT ''," \
	" generation INTEGER NOT NULL, pid INTEGER NOT NULL," \
	" state TEXT NOT NULL, restarts INTEGER NOT NULL," \
	" exit_code INTEGER NOT NULL, exit_signal INTEGER NOT NULL," \
	" exit_reason TEXT NOT NULL, exit_time_ms INTEGER NOT NULL," \
	" status TEXT NOT NULL DEFAULT '', started_ms INTEGER NOT NULL," \
	" ready_ms INTEGER NOT NULL, start_ticks INTEGER NOT NULL," \
	" standby INTEGER NOT NULL DEFAULT 0);" \
	"INSERT INTO instance_12 SELECT * FROM instance;" \
	"DROP TABLE instance;" \
	"ALTER TABLE instance_12 RENAME TO instance;" \
	"CREATE INDEX instance_label ON instance (label);" \
	"CREATE TRIGGER instance_max_id AFTER INSERT ON instance BEGIN" \
	" UPDATE meta SET value = max(value, NEW.id)" \
	" WHERE key = 'instance_max_id'; END;"
#define DROP_V12 "CREATE INDEX event_label_seq ON event (label, seq);"
#define DROP_V11 "ALTER TABLE service DROP COLUMN fence;"
#define DROP_V10 "DROP INDEX operation_req;" \
		 "ALTER TABLE operation DROP COLUMN req_id;" \
		 "ALTER TABLE operation DROP COLUMN code;"

struct op_list {
	int   n;
	rs_op v[8];
};

static int collect_op(const rs_op *op, void *arg)
{
	struct op_list *l = arg;

	if (l->n < 8)
		l->v[l->n] = *op;
	l->n++;
	return 0;
}

static void make_op(rs_op *op, const char *kind, const char *label)
{
	memset(op, 0, sizeof *op);
	rs_strlcpy(op->kind, kind, sizeof op->kind);
	rs_strlcpy(op->label, label, sizeof op->label);
	rs_strlcpy(op->state, "running", sizeof op->state);
	op->started_ms = 100;
	rs_strlcpy(op->caller, "uid=1000 pid=42", sizeof op->caller);
	rs_strlcpy(op->detail, "starting 3 instances", sizeof op->detail);
}

Test(store, operations)
{
	store *s = open_ok();
	rs_op a, b, c;
	struct op_list l = { 0 };

	make_op(&a, "up", "web");
	make_op(&b, "down", "db");
	make_op(&c, "up", "cache");
	cr_assert_eq(store_op_add(s, &a), 0);
	cr_assert_eq(store_op_add(s, &b), 0);
	cr_assert_eq(store_op_add(s, &c), 0);
	cr_assert_gt(a.id, 0);
	cr_assert_gt(b.id, a.id);
	cr_assert_gt(c.id, b.id);

	cr_assert_eq(store_op_each_open(s, collect_op, &l), 0);
	cr_assert_eq(l.n, 3);
	cr_assert_eq(memcmp(&l.v[0], &a, sizeof a), 0);
	cr_assert_eq(l.v[1].id, b.id);
	cr_assert_eq(l.v[2].id, c.id);

	rs_strlcpy(b.state, "done", sizeof b.state);
	b.finished_ms = 200;
	rs_strlcpy(b.detail, "stopped 1", sizeof b.detail);
	cr_assert_eq(store_op_update(s, &b), 0);
	rs_strlcpy(a.state, "failed", sizeof a.state);
	cr_assert_eq(store_op_update(s, &a), 0);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_op_each_open(s, collect_op, &l), 0);
	cr_assert_eq(l.n, 1);
	cr_assert_eq(l.v[0].id, c.id);

	/* Update touches only state/finished/detail. */
	b.id = 999;
	cr_assert_eq(store_op_update(s, &b), -ENOENT);
	rs_strlcpy(b.state, "running", sizeof b.state);
	b.id = a.id;
	rs_strlcpy(b.kind, "zzz", sizeof b.kind);
	cr_assert_eq(store_op_update(s, &b), 0);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_op_each_open(s, collect_op, &l), 0);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(l.v[0].id, a.id);
	cr_assert_str_eq(l.v[0].kind, "up");
	cr_assert_str_eq(l.v[0].label, "web");
	cr_assert_eq(l.v[0].finished_ms, 200);
	cr_assert_str_eq(l.v[0].detail, "stopped 1");
	store_close(&s);
}

/* An operation keeps the request it answers and its answer's code (NULL
 * until answered): rsd finds a resent request by caller and id. */
Test(store, operation_request_and_code)
{
	store *s = open_ok();
	rs_op a, b, got;

	make_op(&a, "up", "web");
	a.req_id = 0xfedcba9876543210ull;     /* above 2^63: stored as is */
	rs_strlcpy(a.caller, "operator:alice", sizeof a.caller);
	cr_assert_eq(store_op_add(s, &a), 0);
	make_op(&b, "down", "web");
	b.req_id = a.req_id;
	rs_strlcpy(b.caller, "operator:bob", sizeof b.caller);
	cr_assert_eq(store_op_add(s, &b), 0);

	cr_assert_eq(store_op_find_req(s, "operator:alice", a.req_id, &got), 0);
	cr_assert_eq(got.id, a.id);
	cr_assert_eq(got.req_id, a.req_id);
	cr_assert(!got.answered, "a new operation is not answered");
	cr_assert_eq(store_op_find_req(s, "operator:bob", a.req_id, &got), 0);
	cr_assert_eq(got.id, b.id, "another caller's request with the same id");
	cr_assert_eq(store_op_find_req(s, "operator:carol", a.req_id, &got), -ENOENT);
	cr_assert_eq(store_op_find_req(s, "operator:alice", 1, &got), -ENOENT);
	cr_assert_eq(store_op_find_req(s, "operator:alice", 0, &got), -EINVAL);

	rs_strlcpy(a.state, "done", sizeof a.state);
	a.answered = true;
	a.code = 7;
	cr_assert_eq(store_op_update(s, &a), 0);
	cr_assert_eq(store_op_find_req(s, "operator:alice", a.req_id, &got), 0);
	cr_assert(got.answered);
	cr_assert_eq(got.code, 7);
	cr_assert_str_eq(got.state, "done");
	a.answered = false;   /* re-opened (rsd resumed it): NULL again */
	cr_assert_eq(store_op_update(s, &a), 0);
	cr_assert_eq(store_op_find_req(s, "operator:alice", a.req_id, &got), 0);
	cr_assert(!got.answered);
	store_close(&s);
}

/* 9 -> 10: operations of a version-9 file have no request (0) and no
 * answer; new ones are found by their request. */
Test(store, migrates_version_9_operations)
{
	store *s = open_ok();
	rs_op op, got;

	make_op(&op, "up", "old");
	cr_assert_eq(store_op_add(s, &op), 0);
	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 DROP_V14 DROP_V13 DROP_V12 DROP_V11 DROP_V10 "PRAGMA user_version = 9;");
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM operation WHERE req_id = 0 "
			     "AND code IS NULL"), 1);
	make_op(&op, "down", "new");
	op.req_id = 42;
	cr_assert_eq(store_op_add(s, &op), 0);
	cr_assert_eq(store_op_find_req(s, op.caller, 42, &got), 0);
	cr_assert_str_eq(got.label, "new");
	store_close(&s);
}

/* ---- transactions and durability ---------------------------------------- */

static int count_svc(store *s)
{
	struct svc_list l = { 0 };

	cr_assert_eq(store_service_each(s, collect_svc, &l), 0);
	return l.n;
}

static int count_ev(store *s)
{
	struct ev_list l = { 0 };

	cr_assert_eq(store_event_each(s, NULL, 0, 0, collect_ev, &l), 0);
	return l.n;
}

static void put_svc(store *s, const char *label)
{
	store_service a;

	make_service(&a, label);
	cr_assert_eq(store_service_put(s, &a), 0);
	rs_spec_clear(&a.spec);
}

static void add_ev(store *s, const char *detail)
{
	rs_event ev = { 0 };

	rs_strlcpy(ev.kind, "test", sizeof ev.kind);
	rs_strlcpy(ev.detail, detail, sizeof ev.detail);
	cr_assert_eq(store_event_add(s, &ev), 0);
}

Test(store, transaction_rollback_and_commit)
{
	store *s = open_ok();
	store_instance in;
	rs_op op;
	struct op_list ol = { 0 };
	uint64_t max = 0;

	store_rollback(s);      /* no transaction: a no-op */
	cr_assert_eq(store_begin(s), 0);
	cr_assert_lt(store_begin(s), 0, "nesting is refused");
	put_svc(s, "gone");
	add_ev(s, "gone");
	make_instance(&in, 5, "gone");
	cr_assert_eq(store_instance_put(s, &in), 0);
	make_op(&op, "up", "gone");
	cr_assert_eq(store_op_add(s, &op), 0);
	cr_assert_eq(count_svc(s), 1, "visible inside the transaction");
	store_rollback(s);

	cr_assert_eq(count_svc(s), 0);
	cr_assert_eq(count_ev(s), 0);
	cr_assert_eq(store_instance_max_id(s, &max), 0);
	cr_assert_eq(max, 0);
	cr_assert_eq(store_op_each_open(s, collect_op, &ol), 0);
	cr_assert_eq(ol.n, 0);

	cr_assert_eq(store_begin(s), 0);
	put_svc(s, "kept");
	add_ev(s, "kept");
	cr_assert_eq(store_commit(s), 0);
	cr_assert_lt(store_commit(s), 0, "no transaction to commit");
	store_close(&s);

	s = open_ok();
	cr_assert_eq(count_svc(s), 1);
	cr_assert_eq(count_ev(s), 1);
	store_close(&s);
}

Test(store, close_with_open_transaction_rolls_back)
{
	store *s = open_ok();

	put_svc(s, "before");
	cr_assert_eq(store_begin(s), 0);
	put_svc(s, "during");
	store_close(&s);
	s = open_ok();
	cr_assert_eq(count_svc(s), 1);
	store_close(&s);
}

/* Child side of the crash tests: one committed row, one uncommitted
 * transaction, then dies without closing (by _exit or SIGKILL). */
static void crash_child(bool sigkill)
{
	store *s = NULL;

	if (store_open(dbpath, &s) < 0)
		_exit(2);
	if (store_begin(s) < 0)
		_exit(3);
	put_svc(s, "committed");
	add_ev(s, "committed");
	if (store_commit(s) < 0)
		_exit(4);
	if (store_begin(s) < 0)
		_exit(5);
	put_svc(s, "uncommitted");
	add_ev(s, "uncommitted");
	if (sigkill)
		kill(getpid(), SIGKILL);
	_exit(0);
}

static void crash_case(bool sigkill)
{
	store *s;
	store_service got;
	pid_t pid;
	int status;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		crash_child(sigkill);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (sigkill)
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			  "status %#x", status);
	else
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "status %#x", status);

	s = open_ok();
	cr_assert_eq(store_service_get(s, "committed", &got), 0);
	rs_spec_clear(&got.spec);
	cr_assert_eq(store_service_get(s, "uncommitted", &got), -ENOENT);
	cr_assert_eq(count_svc(s), 1);
	cr_assert_eq(count_ev(s), 1);
	/* And the file is writable again: the dead writer's lock is gone. */
	put_svc(s, "after");
	cr_assert_eq(count_svc(s), 2);
	store_close(&s);
}

Test(store, crash_exit_without_close)
{
	crash_case(false);
}

Test(store, crash_sigkill_mid_transaction)
{
	crash_case(true);
}

Test(store, data_survives_reopen)
{
	store *s = open_ok();
	store_instance in;
	store_node n = { 0 };
	struct node_list nl = { 0 };
	struct inst_list il = { 0 };

	put_svc(s, "svc");
	make_instance(&in, 7, "svc");
	cr_assert_eq(store_instance_put(s, &in), 0);
	rs_strlcpy(n.name, "n1", sizeof n.name);
	cr_assert_eq(store_node_put(s, &n), 0);
	add_ev(s, "hello");
	store_close(&s);

	s = open_ok();
	cr_assert_eq(count_svc(s), 1);
	cr_assert_eq(count_ev(s), 1);
	cr_assert_eq(store_instance_each(s, collect_inst, &il), 0);
	cr_assert_eq(il.n, 1);
	assert_inst_eq(&il.v[0], &in);
	cr_assert_eq(store_node_each(s, collect_node, &nl), 0);
	cr_assert_eq(nl.n, 1);
	store_close(&s);
}

/* ---- hostile files ------------------------------------------------------ */

Test(store, newer_schema_refused)
{
	store *s = (store *)&s;

	raw_exec(dbpath, "CREATE TABLE future (x); PRAGMA user_version = 99;");
	cr_assert_eq(store_open(dbpath, &s), -EPROTO);
	cr_assert_null(s);
	/* The file was left alone. */
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), 99);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master"), 1);
	{
		int64_t v = 0;
		cr_assert_eq(store_file_version(dbpath, &v), 0);
		cr_assert_eq(v, 99);
	}
}

/* Before migrating an older file, the store keeps a copy of it as it was
 * (PATH.vV.bak, mode 0600): the way back if the new rsd is rolled back.
 * Made once; a current file makes none. */
Test(store, backup_before_migration)
{
	store *s = open_ok();
	store_service svc;
	char bak[600];
	struct stat st;

	make_service(&svc, "kept");
	cr_assert_eq(store_service_put(s, &svc), 0);
	rs_spec_clear(&svc.spec);
	store_close(&s);
	store_backup_path(dbpath, STORE_SCHEMA_VERSION, bak, sizeof bak);
	cr_assert_neq(access(bak, F_OK), 0, "a current file was backed up");
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 DROP_V14 DROP_V13
		 "DROP TABLE principal;"
		 "ALTER TABLE event DROP COLUMN actor;"
		 DROP_V12 DROP_V11 DROP_V10
		 "PRAGMA user_version = 8;");
	s = open_ok();
	store_close(&s);
	store_backup_path(dbpath, 8, bak, sizeof bak);
	cr_assert_eq(stat(bak, &st), 0, "no backup %s", bak);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(raw_int(bak, "PRAGMA user_version"), 8);
	cr_assert_eq(raw_int(bak, "SELECT count(*) FROM service WHERE label = 'kept'"), 1);
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

Test(store, junk_file_refused)
{
	store *s = (store *)&s;
	char junk[8192];
	FILE *f;
	int r;

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 7 + 3);
	memcpy(junk, "this is not a database, honest", 30);
	f = fopen(dbpath, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
	fclose(f);

	r = store_open(dbpath, &s);
	cr_assert_lt(r, 0);
	cr_assert_eq(r, -EBADMSG, "got %d (%s)", r, strerror(-r));
	cr_assert_null(s);
}

Test(store, unknown_values_read_back_safely)
{
	store *s = open_ok();
	store_service got;
	store_instance in;
	store_node n = { 0 };
	struct inst_list il = { 0 };
	struct node_list nl = { 0 };
	struct ev_list el = { 0 };

	put_svc(s, "svc");
	make_instance(&in, 1, "svc");
	cr_assert_eq(store_instance_put(s, &in), 0);
	rs_strlcpy(n.name, "n1", sizeof n.name);
	n.state = RS_NS_UP;
	cr_assert_eq(store_node_put(s, &n), 0);
	add_ev(s, "x");
	store_close(&s);

	/* Damage the rows from outside: unknown names, over-long strings,
	 * out-of-range numbers, an argv blob without its final NUL. */
	raw_exec(dbpath,
		 "UPDATE service SET policy = 'sometimes', notify = 'yelling',"
		 " desired = 'maybe', node = printf('%.200c', 'n'),"
		 " argv = X'2F62696E2F7368002D63', stop_signal = 1e12,"
		 " cwd = NULL;"
		 "UPDATE instance SET state = 'zombie', exit_reason = 'cosmic',"
		 " status = printf('%.1000c', 's'), pid = 'abc';"
		 "UPDATE node SET state = '', name = 'n1';"
		 "UPDATE event SET detail = printf('%.5000c', 'd'),"
		 " kind = printf('%.100c', 'k'), label = X'00';");

	s = open_ok();
	cr_assert_eq(store_service_get(s, "svc", &got), 0);
	cr_assert_eq(got.spec.policy, 0);
	cr_assert_eq(got.spec.notify, 0);
	cr_assert_eq(got.desired, 0);
	cr_assert_eq(strlen(got.spec.node), RS_NODE_MAX - 1);
	cr_assert_eq(got.spec.argc, 2);
	cr_assert_str_eq(got.spec.argv[0], "/bin/sh");
	cr_assert_str_eq(got.spec.argv[1], "-c");
	cr_assert_eq(got.spec.stop_signal, 0);
	rs_spec_clear(&got.spec);

	cr_assert_eq(store_instance_each(s, collect_inst, &il), 0);
	cr_assert_eq(il.n, 1);
	cr_assert_eq(il.v[0].info.state, 0);
	cr_assert_eq(il.v[0].info.last_exit.reason, 0);
	cr_assert_eq(strlen(il.v[0].info.status), RS_STATUS_MAX - 1);
	cr_assert_eq(il.v[0].info.pid, 0);
	cr_assert_eq(store_node_each(s, collect_node, &nl), 0);
	cr_assert_eq(nl.v[0].state, 0);
	cr_assert_eq(store_event_each(s, NULL, 0, 0, collect_ev, &el), 0);
	cr_assert_eq(el.n, 1);
	store_close(&s);
}

/* ---- full disk ---------------------------------------------------------- */

/* 64k is too small even for the schema: the db (~15 pages of 4k), its WAL
 * copy during the first migration and the 32k -shm must all fit. 256k
 * was enough until schema 16: its WAL after the first open is a page or
 * two longer, the events that fit in it before the disk is full are
 * checkpointed into the db at the reopen, and the filler's space no
 * longer held the next write. */
#define TINY_FS_SIZE "size=320k"

/* A tmpfs of TINY_FS_SIZE at mntdir, the db in it, filler the file that
 * will take its free bytes. false: no mount here (not root): skip. */
static bool tiny_fs(char *filler, size_t n)
{
	snprintf(mntdir, sizeof mntdir, "/tmp/rs-test-mnt-XXXXXX");
	cr_assert_not_null(mkdtemp(mntdir));
	if (mount("tmpfs", mntdir, "tmpfs", MS_NOSUID | MS_NODEV,
		  TINY_FS_SIZE ",mode=0700") < 0)
		return false;
	mounted = true;
	snprintf(dbpath, sizeof dbpath, "%s/rs.db", mntdir);
	snprintf(filler, n, "%s/filler", mntdir);
	return true;
}

/* Takes every free byte of the tiny fs. */
static void fill_disk(const char *filler)
{
	char chunk[4096];
	int fd = open(filler, O_CREAT | O_WRONLY, 0600);

	cr_assert_geq(fd, 0);
	memset(chunk, 'f', sizeof chunk);
	while (write(fd, chunk, sizeof chunk) > 0)
		;
	close(fd);
}

/* A commit that fails (a full disk) leaves none of its events to a
 * label's walk: their seqs go to the next events, of other labels. */
Test(store, events_by_label_commit_fails)
{
	char filler[128], detail[200];
	store *s;
	int r;

	if (!tiny_fs(filler, sizeof filler)) {
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
		return;
	}
	s = open_ok();
	add_lev(s, "a", "a1");
	cr_assert_eq(store_begin(s), 0);
	memset(detail, 'x', sizeof detail - 1);
	detail[sizeof detail - 1] = '\0';
	for (int i = 0; i < 300; i++)
		add_lev(s, i % 2 ? "a" : "c", detail);
	fill_disk(filler);
	r = store_commit(s);
	cr_assert_eq(r, -ENOSPC, "got %d: %s", r, store_errmsg(s));
	cr_assert_eq(unlink(filler), 0);
	add_lev(s, "b", "b1");
	for (int pass = 0; pass < 2; pass++) {
		expect_events(s, "a", 0, 1, "a1");
		expect_events(s, "c", 0, 0, "");
		expect_events(s, "b", 0, 0, "b1");
		expect_events(s, NULL, 0, 0, "a1 b1");
		store_close(&s);
		s = open_ok();
	}
	store_close(&s);
}

Test(store, full_disk_enospc)
{
	store *s, *s2;
	store_service got;
	rs_event ev = { 0 };
	int r = 0;
	char filler[128];

	if (!tiny_fs(filler, sizeof filler)) {
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
		return;
	}

	s = open_ok();
	put_svc(s, "precious");
	add_ev(s, "precious");

	fill_disk(filler);   /* every free byte */

	/* A new store cannot even be created now, and says so cleanly. */
	snprintf(dbpath, sizeof dbpath, "%s/other.db", mntdir);
	s2 = (store *)&s2;
	r = store_open(dbpath, &s2);
	cr_assert_lt(r, 0);
	cr_assert_null(s2);
	snprintf(dbpath, sizeof dbpath, "%s/rs.db", mntdir);
	r = 0;

	memset(ev.detail, 'D', sizeof ev.detail - 1);
	rs_strlcpy(ev.kind, "fill", sizeof ev.kind);
	for (int i = 0; i < 10000 && r == 0; i++)
		r = store_event_add(s, &ev);
	cr_assert_lt(r, 0, "the store never filled up");
	cr_assert_eq(r, -ENOSPC, "got %d (%s): %s", r, strerror(-r),
		     store_errmsg(s));
	cr_assert_not_null(strstr(store_errmsg(s), "full"), "errmsg: %s",
			   store_errmsg(s));
	/* Reads still work on the live handle. */
	cr_assert_eq(store_service_get(s, "precious", &got), 0);
	rs_spec_clear(&got.spec);
	store_close(&s);

	/* Free the space, reopen: the earlier data is intact. */
	cr_assert_eq(unlink(filler), 0);
	s = open_ok();
	cr_assert_eq(store_service_get(s, "precious", &got), 0);
	rs_spec_clear(&got.spec);
	cr_assert_geq(count_ev(s), 1);
	put_svc(s, "after");
	store_close(&s);
}

/* A version-1 file (before scripts, critical, standby, replicas, drained
 * nodes and listen) is migrated to the current schema on open and keeps
 * its rows; new columns get defaults. */
Test(store, migrates_version_1)
{
	store *s = open_ok();
	store_service svc, got;

	make_service(&svc, "old");
	cr_assert_eq(store_service_put(s, &svc), 0);
	rs_spec_clear(&svc.spec);
	store_close(&s);
	/* turn it back into a version-1 file, as an older rsd left it */
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 DROP_V14 DROP_V13
		 "ALTER TABLE service DROP COLUMN script;"
		 "ALTER TABLE service DROP COLUMN critical;"
		 "ALTER TABLE instance DROP COLUMN standby;"
		 "ALTER TABLE service DROP COLUMN replicas;"
		 "ALTER TABLE node DROP COLUMN drained;"
		 "ALTER TABLE service DROP COLUMN listen;"
		 "ALTER TABLE service DROP COLUMN placement;"
		 "ALTER TABLE service DROP COLUMN deps;"
		 "ALTER TABLE service DROP COLUMN user;"
		 "ALTER TABLE service DROP COLUMN keep_caps;"
		 "DROP TABLE principal;"
		 "ALTER TABLE event DROP COLUMN actor;"
		 DROP_V12 DROP_V11 DROP_V10
		 "PRAGMA user_version = 1;");
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), 1);
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(store_service_get(s, "old", &got), 0);
	cr_assert_null(got.spec.script);
	cr_assert_eq(got.spec.critical, false);
	cr_assert_eq(got.spec.argc, 1);
	cr_assert_str_eq(got.spec.argv[0], "/usr/bin/env");
	cr_assert_eq(got.spec.nlisten, 0);
	cr_assert_null(got.spec.listen);
	cr_assert_eq(got.spec.nplacement, 0);
	cr_assert_eq(got.spec.ndeps, 0);
	cr_assert_str_eq(got.spec.user, "");
	cr_assert_eq(got.spec.keep_caps, false);
	cr_assert_eq(got.spec.fence, RS_FENCE_NONE);
	cr_assert_eq(got.spec.replicas, 1);
	rs_spec_clear(&got.spec);

	/* the migrated file takes the new columns */
	make_service(&svc, "new");
	cr_assert_eq(rs_spec_add_listen(&svc.spec, "http=tcp:127.0.0.1:8080"), 0);
	cr_assert_eq(store_service_put(s, &svc), 0);
	cr_assert_eq(store_service_get(s, "new", &got), 0);
	assert_service_eq(&got, &svc);
	rs_spec_clear(&got.spec);
	rs_spec_clear(&svc.spec);
	store_close(&s);
}

/* 8 -> 9: the principal table and the event actor. Events of a version-8
 * file read back with no actor; principals are stored and revoked. */
Test(store, migrates_version_8_principals)
{
	store *s = open_ok();
	store_principal p;
	rs_event ev;

	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 DROP_V14 DROP_V13
		 "DROP TABLE principal;"
		 "ALTER TABLE event DROP COLUMN actor;"
		 DROP_V12 DROP_V10
		 "INSERT INTO event (time_ms, label, kind) VALUES (1, 'old', 'up');"
		 "ALTER TABLE service DROP COLUMN fence;"
		 "PRAGMA user_version = 8;");
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	memset(&p, 0, sizeof p);
	strcpy(p.kind, "operator");
	strcpy(p.name, "alice");
	strcpy(p.role, "viewer");
	strcpy(p.pubkey, "k1");
	cr_assert_eq(store_principal_put(s, &p), 0);
	p.revoked_ms = 5;
	cr_assert_eq(store_principal_put(s, &p), 0);   /* same key: replaced */
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM principal"), 1);
	cr_assert_eq(raw_int(dbpath, "SELECT revoked_ms FROM principal"), 5);
	memset(&ev, 0, sizeof ev);
	strcpy(ev.label, "new");
	strcpy(ev.kind, "up");
	strcpy(ev.actor, "operator:alice");
	cr_assert_eq(store_event_add(s, &ev), 0);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM event WHERE actor = "
			     "'operator:alice'"), 1);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM event WHERE actor = ''"), 1);
	store_close(&s);
}

/* A version-7 file (before keep_caps) is migrated: its --user service
 * keeps its user and gets keep_caps off, the hardened default. */
Test(store, migrates_version_7)
{
	store *s = open_ok();
	store_service svc, got;

	make_service(&svc, "asuser");
	rs_strlcpy(svc.spec.user, "nobody", sizeof svc.spec.user);
	cr_assert_eq(store_service_put(s, &svc), 0);
	rs_spec_clear(&svc.spec);
	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 DROP_V14 DROP_V13
		 "ALTER TABLE service DROP COLUMN keep_caps;"
		 "DROP TABLE principal;"
		 "ALTER TABLE event DROP COLUMN actor;"
		 DROP_V12 DROP_V11 DROP_V10
		 "PRAGMA user_version = 7;");
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), 7);
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(store_service_get(s, "asuser", &got), 0);
	cr_assert_str_eq(got.spec.user, "nobody");
	cr_assert_eq(got.spec.keep_caps, false);
	rs_spec_clear(&got.spec);

	make_service(&svc, "keeps");
	rs_strlcpy(svc.spec.user, "nobody", sizeof svc.spec.user);
	svc.spec.keep_caps = true;
	cr_assert_eq(store_service_put(s, &svc), 0);
	cr_assert_eq(store_service_get(s, "keeps", &got), 0);
	assert_service_eq(&got, &svc);
	cr_assert_eq(got.spec.keep_caps, true);
	rs_spec_clear(&got.spec);
	rs_spec_clear(&svc.spec);
	store_close(&s);
}

/* rsd's epoch: grows with every start, never below the clock it is given,
 * and keeps growing on a file restored from an older copy. */
Test(store, epoch_grows)
{
	store *s = open_ok();
	uint64_t e1 = 0, e2 = 0, e3 = 0;

	cr_assert_eq(store_epoch_next(s, 1000, &e1), 0);
	cr_assert_eq(e1, 1000, "the first epoch is the clock");
	cr_assert_eq(store_epoch_next(s, 1000, &e2), 0);
	cr_assert_eq(e2, 1001, "the same clock: one more");
	cr_assert_eq(store_epoch_next(s, 500, &e3), 0);
	cr_assert_eq(e3, 1002, "a clock set back: still one more");
	store_close(&s);
	s = open_ok();
	cr_assert_eq(store_epoch_next(s, 0, &e3), 0);
	cr_assert_eq(e3, 1003, "kept across a reopen");
	store_close(&s);
	/* restored from an older copy (the epoch row as it was): the clock
	 * carries it past what agents saw */
	cr_assert_eq(raw_int(dbpath, "UPDATE meta SET value = 10 WHERE key = 'epoch' "
			     "RETURNING value"), 10);
	s = open_ok();
	cr_assert_eq(store_epoch_next(s, 5000, &e3), 0);
	cr_assert_eq(e3, 5000);
	store_close(&s);
}

/* 10 -> 11: fence. A version-10 file's services read back with fence none
 * (how they behaved); node states suspect and fenced are stored by name,
 * so an older reader finds a name it does not know (read as unknown). */
Test(store, migrates_version_10_fence)
{
	store *s = open_ok();
	store_service svc, got;
	store_node n;

	make_service(&svc, "old");
	svc.spec.fence = RS_FENCE_NONE;
	cr_assert_eq(store_service_put(s, &svc), 0);
	rs_spec_clear(&svc.spec);
	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 DROP_V14 DROP_V13 DROP_V12 DROP_V11 "PRAGMA user_version = 10;");
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(store_service_get(s, "old", &got), 0);
	cr_assert_eq(got.spec.fence, RS_FENCE_NONE);
	rs_spec_clear(&got.spec);
	make_service(&svc, "writer");
	svc.spec.fence = RS_FENCE_STOP;
	cr_assert_eq(store_service_put(s, &svc), 0);
	cr_assert_eq(store_service_get(s, "writer", &got), 0);
	assert_service_eq(&got, &svc);
	rs_spec_clear(&got.spec);
	rs_spec_clear(&svc.spec);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM service WHERE fence = 'stop'"), 1);

	memset(&n, 0, sizeof n);
	strcpy(n.name, "n1");
	n.state = RS_NS_FENCED;
	cr_assert_eq(store_node_put(s, &n), 0);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM node WHERE state = 'fenced'"), 1);
	store_close(&s);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The WAL header's checkpoint sequence number: it grows each time a
 * writer starts the WAL over (SQLite's file format, "WAL File Format"). */
static uint32_t wal_seq(const char *wal)
{
	unsigned char h[16] = { 0 };
	int fd = open(wal, O_RDONLY);

	if (fd >= 0) {
		cr_assert_eq(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
		close(fd);
	}
	return (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
}

static void commit_event(store *s, int i)
{
	rs_event ev;

	memset(&ev, 0, sizeof ev);
	ev.time_ms = 1000 + (uint64_t)i;
	rs_strlcpy(ev.kind, "state", sizeof ev.kind);
	snprintf(ev.detail, sizeof ev.detail, "commit %d", i);
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_event_add(s, &ev), 0);
	cr_assert_eq(store_commit(s), 0);
}

/* The thread copies the WAL back by itself: a WAL past 1,000 frames (but
 * far from the committer's own bound) is copied, and a later write starts
 * it over, with no checkpoint by the committing connection. */
Test(store, checkpointer_copies_the_wal_back)
{
	char wal[160];
	store *s = NULL;
	store_ckpt_stats cs;
	uint32_t seq0;
	int i;

	snprintf(wal, sizeof wal, "%s-wal", dbpath);
	cr_assert_eq(store_open(dbpath, &s), 0);
	cr_assert_eq(store_checkpoint_start(s, dbpath), 0);
	cr_assert_eq(store_checkpoint_start(s, dbpath), 0, "a second start is a no-op");
	for (i = 0; i < 1500; i++)   /* ~3 frames a commit */
		commit_event(s, i);
	seq0 = wal_seq(wal);
	for (int k = 0; k < 1000 && wal_seq(wal) == seq0; k++, i++) {
		usleep(10 * 1000);
		commit_event(s, i);   /* starts the WAL over once it was copied */
	}
	cr_assert_neq(wal_seq(wal), seq0, "the WAL was never started over");
	store_checkpoint_stats(s, &cs);
	cr_assert_geq(cs.runs, 1);
	cr_assert_eq(cs.own_runs, 0, "the committer checkpointed %llu times",
		     (unsigned long long)cs.own_runs);
	cr_assert_eq(cs.failures, 0);
	store_close(&s);
}

/* A writer that never pauses: the thread never catches up, so the
 * committer checkpoints past its bound (8,000 frames) and the WAL stays
 * bounded (20,000 commits without any checkpoint: ~250 MB). */
Test(store, checkpointer_keeps_the_wal_bounded)
{
	char wal[160];
	store *s = NULL;
	store_ckpt_stats cs;
	off_t most = 0;

	snprintf(wal, sizeof wal, "%s-wal", dbpath);
	cr_assert_eq(store_open(dbpath, &s), 0);
	cr_assert_eq(store_checkpoint_start(s, dbpath), 0);
	for (int i = 0; i < 20000; i++) {
		commit_event(s, i);
		if (file_size(wal) > most)
			most = file_size(wal);
	}
	store_checkpoint_stats(s, &cs);
	cr_assert_geq(cs.runs, 1, "the checkpointer never ran");
	cr_assert_eq(cs.failures, 0);
	cr_assert_lt(most, 40 << 20, "the WAL grew to %lld bytes", (long long)most);
	store_close(&s);
	cr_assert_null(s);
	/* everything committed is there, read by a new connection */
	cr_assert_eq(store_open(dbpath, &s), 0);
	{
		uint64_t first = 0, last = 0;
		cr_assert_eq(store_event_span(s, &first, &last), 0);
		cr_assert_eq(last - first + 1, 20000);
	}
	store_close(&s);
}

/* 11 -> 12: the (label, seq) index of events leaves the file; a
 * version-11 file's events are still found by label. */
Test(store, migrates_version_11_event_index)
{
	store *s = open_ok();

	add_lev(s, "a", "a1");
	add_lev(s, "b", "b1");
	add_lev(s, "a", "a2");
	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 DROP_V14 DROP_V13 DROP_V12 "PRAGMA user_version = 11;");
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master"
			     " WHERE name = 'event_label_seq'"), 1);
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master"
			     " WHERE name = 'event_label_seq'"), 0);
	expect_events(s, "a", 0, 0, "a1 a2");
	expect_events(s, "b", 0, 0, "b1");
	add_lev(s, "b", "b2");
	expect_events(s, "b", 0, 1, "b2");
	store_close(&s);
}

/* 12 -> 13: the instance rows keyed by (node, id), without the label
 * index; every row, field and the high-water mark of ids survive, and the
 * migrated table takes updates, moves and new rows. */
Test(store, migrates_version_12_instances_by_node)
{
	store *s = open_ok();
	store_instance in[4];
	struct inst_list l = { 0 };
	const char *nodes[] = { "n2", "n1", "n2", "n1" };
	uint64_t max = 0;

	for (int i = 0; i < 4; i++) {
		make_instance(&in[i], (uint64_t)(i + 1) * 10, i % 2 ? "db" : "web");
		rs_strlcpy(in[i].node, nodes[i], sizeof in[i].node);
		in[i].standby = i == 3;
		cr_assert_eq(store_instance_put(s, &in[i]), 0);
	}
	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 DROP_V14 DROP_V13 "PRAGMA user_version = 12;");
	/* as a version-12 rsd left it: the newest id deleted, its mark kept */
	raw_exec(dbpath, "DELETE FROM instance WHERE id = 40;"
		 "INSERT INTO instance (id, label, node, generation, pid, state,"
		 " restarts, exit_code, exit_signal, exit_reason, exit_time_ms,"
		 " started_ms, ready_ms, start_ticks)"
		 " VALUES (50, 'gone', 'n1', 1, 0, 'exited', 0, 0, 0, 'exit', 0,"
		 " 0, 0, 0);"
		 "DELETE FROM instance WHERE id = 50;");
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master"
			     " WHERE name = 'instance_label'"), 1);
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master"
			     " WHERE name = 'instance_label'"), 0);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master"
			     " WHERE name = 'instance_id'"), 1);
	cr_assert_eq(raw_int(dbpath, "SELECT count(*) FROM sqlite_master"
			     " WHERE name = 'instance' AND sql LIKE '%WITHOUT ROWID%'"), 1);
	cr_assert_eq(store_instance_max_id(s, &max), 0);
	cr_assert_eq(max, 50);

	/* n1's rows, then n2's */
	cr_assert_eq(store_instance_each(s, collect_inst, &l), 0);
	cr_assert_eq(l.n, 3);
	assert_inst_eq(&l.v[0], &in[1]);
	assert_inst_eq(&l.v[1], &in[0]);
	assert_inst_eq(&l.v[2], &in[2]);
	cr_assert_eq(l.v[0].standby, false);

	/* a move, an update, a new row (the mark follows it), a delete */
	rs_strlcpy(in[0].node, "n1", sizeof in[0].node);
	cr_assert_eq(store_instance_put(s, &in[0]), 0);
	in[2].info.pid = 4242;
	cr_assert_eq(store_instance_put(s, &in[2]), 0);
	make_instance(&in[3], 60, "new");
	in[3].standby = true;
	cr_assert_eq(store_instance_put(s, &in[3]), 0);
	cr_assert_eq(store_instance_del(s, 20), 0);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_instance_each(s, collect_inst, &l), 0);
	cr_assert_eq(l.n, 3);
	assert_inst_eq(&l.v[0], &in[0]);
	assert_inst_eq(&l.v[1], &in[3]);
	cr_assert_eq(l.v[1].standby, true);
	assert_inst_eq(&l.v[2], &in[2]);
	cr_assert_eq(l.v[2].info.pid, 4242);
	cr_assert_eq(store_instance_max_id(s, &max), 0);
	cr_assert_eq(max, 60);
	store_close(&s);
}

/* 13 -> 14: reload_signal. A version-13 file's services read back with 0
 * (SIGHUP, as an older rsd would have reloaded them: it could not), and
 * the column takes a new value. */
Test(store, migrates_version_13_reload_signal)
{
	store *s = open_ok();
	store_service svc, got;

	make_service(&svc, "web");
	cr_assert_eq(store_service_put(s, &svc), 0);
	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 DROP_V14 "PRAGMA user_version = 13;");
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert_eq(got.spec.reload_signal, 0);
	rs_spec_clear(&got.spec);
	svc.spec.reload_signal = SIGUSR1;
	cr_assert_eq(store_service_put(s, &svc), 0);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert_eq(got.spec.reload_signal, SIGUSR1);
	rs_spec_clear(&got.spec);
	rs_spec_clear(&svc.spec);
	store_close(&s);
}

/* 15 -> 16: probes. A version-15 file's services read back without
 * probes; the column takes them (and a revision keeps them); a value
 * that does not read (hand-edited) is no probes, not a failure. */
Test(store, migrates_version_15_probes)
{
	store *s = open_ok();
	store_service svc, got;
	uint32_t n = 0;

	make_service(&svc, "web");
	cr_assert_eq(store_service_put(s, &svc), 0);
	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 "PRAGMA user_version = 15;");
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert(!rs_spec_has_probes(&got.spec));
	rs_spec_clear(&got.spec);
	cr_assert_eq(store_service_put(s, &svc), 0);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	assert_service_eq(&got, &svc);
	rs_spec_clear(&got.spec);
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_revision_add(s, &svc, 1000, "operator:alice", "edit", &n), 0);
	cr_assert_eq(store_commit(s), 0);
	store_close(&s);
	raw_exec(dbpath, "UPDATE service SET probes = 'liveness http x';");
	s = open_ok();
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert(!rs_spec_has_probes(&got.spec));
	rs_spec_clear(&got.spec);
	rs_spec_clear(&svc.spec);
	store_close(&s);
}

/* 16 -> 17: limits. A version-16 file's services read back without
 * limits; the column keeps them; a value that does not read is none. */
Test(store, migrates_version_16_limits)
{
	store *s = open_ok();
	store_service svc, got;

	make_service(&svc, "web");
	cr_assert_eq(store_service_put(s, &svc), 0);
	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 "PRAGMA user_version = 16;");
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert(!rs_limits_any(&got.spec.limits));
	rs_spec_clear(&got.spec);
	svc.spec.limits = (rs_limits){ .memory_max = 256u << 20, .memory_high = 200u << 20,
				       .cpu_weight = 50, .cpu_max = 150, .pids_max = 64 };
	cr_assert_eq(store_service_put(s, &svc), 0);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert(rs_limits_equal(&got.spec.limits, &svc.spec.limits));
	rs_spec_clear(&got.spec);
	store_close(&s);
	raw_exec(dbpath, "UPDATE service SET limits = 'memory-max=lots';");
	s = open_ok();
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert(!rs_limits_any(&got.spec.limits));
	rs_spec_clear(&got.spec);
	rs_spec_clear(&svc.spec);
	store_close(&s);
}

/* 17 -> 18: profiles. A version-17 file's services read back without
 * one; the column keeps it; a value that does not read is none. */
Test(store, migrates_version_17_profile)
{
	store *s = open_ok();
	store_service svc, got;

	make_service(&svc, "web");
	cr_assert_eq(store_service_put(s, &svc), 0);
	store_close(&s);
	raw_exec(dbpath, DROP_V18 "PRAGMA user_version = 17;");
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert(!rs_profile_any(&got.spec.profile));
	rs_spec_clear(&got.spec);
	svc.spec.profile = (rs_profile){ .caps = 1ull << 10 | 1ull << 0, .caps_set = true,
					 .nnp = RS_NNP_OFF, .ro_root = true,
					 .private_tmp = true, .nice = -3, .cpus = "0-1,3" };
	cr_assert_eq(store_service_put(s, &svc), 0);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert(rs_profile_equal(&got.spec.profile, &svc.spec.profile));
	cr_assert_eq(got.spec.profile.caps, svc.spec.profile.caps);
	rs_spec_clear(&got.spec);
	/* an empty caps list is kept as one (keep none), not as none given */
	svc.spec.profile = (rs_profile){ .caps_set = true };
	cr_assert_eq(store_service_put(s, &svc), 0);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert(got.spec.profile.caps_set);
	cr_assert_eq(got.spec.profile.caps, 0);
	rs_spec_clear(&got.spec);
	store_close(&s);
	raw_exec(dbpath, "UPDATE service SET profile = 'nice=99';");
	s = open_ok();
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	cr_assert(!rs_profile_any(&got.spec.profile));
	rs_spec_clear(&got.spec);
	rs_spec_clear(&svc.spec);
	store_close(&s);
}

struct revs {
	uint32_t n[16];
	char     kind[16][16];
	char     arg[16][32];
	size_t   count;
};

static int collect_rev(const store_revision *rev, void *arg)
{
	struct revs *l = arg;

	cr_assert_lt(l->count, 16);
	l->n[l->count] = rev->revision;
	rs_strlcpy(l->kind[l->count], rev->kind, sizeof l->kind[0]);
	rs_strlcpy(l->arg[l->count], rev->svc.spec.argc > 1 ? rev->svc.spec.argv[1] : "",
		   sizeof l->arg[0]);
	l->count++;
	return 0;
}

static void add_rev(store *s, store_service *svc, const char *arg,
		    const char *kind, uint32_t want)
{
	uint32_t n = 0;

	free(svc->spec.argv[1]);
	svc->spec.argv[1] = strdup(arg);
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_revision_add(s, svc, 1000 + want, "operator:alice",
					kind, &n), 0);
	cr_assert_eq(store_commit(s), 0);
	cr_assert_eq(n, want);
}

/* Revisions number per label from 1, come back oldest first with the
 * spec as added, only the newest STORE_REVISION_KEEP are kept, and
 * adding one needs the caller's transaction. */
Test(store, revisions_numbered_pruned_and_read_back)
{
	store *s = open_ok();
	store_service svc, other;
	store_revision got;
	struct revs l = { 0 };
	char arg[16];

	make_service(&svc, "web");
	make_service(&other, "db");
	cr_assert_eq(rs_spec_add_arg(&svc.spec, "v0"), 0);
	cr_assert_eq(rs_spec_add_arg(&other.spec, "d0"), 0);
	cr_assert_eq(store_revision_add(s, &svc, 1, "", "up", NULL), -EINVAL);
	add_rev(s, &svc, "v1", "up", 1);
	add_rev(s, &other, "d1", "up", 1);
	add_rev(s, &svc, "v2", "edit", 2);
	cr_assert_eq(store_revision_each(s, "web", 0, collect_rev, &l), 0);
	cr_assert_eq(l.count, 2);
	cr_assert_eq(l.n[0], 1);
	cr_assert_str_eq(l.kind[0], "up");
	cr_assert_str_eq(l.arg[0], "v1");
	cr_assert_eq(l.n[1], 2);
	cr_assert_str_eq(l.kind[1], "edit");

	cr_assert_eq(store_revision_get(s, "web", 1, &got), 0);
	cr_assert_eq(got.revision, 1);
	cr_assert_eq(got.time_ms, 1001);
	cr_assert_str_eq(got.actor, "operator:alice");
	cr_assert_str_eq(got.svc.spec.label, "web");
	cr_assert_str_eq(got.svc.spec.argv[1], "v1");
	cr_assert_eq(got.svc.spec.envc, svc.spec.envc);
	rs_spec_clear(&got.svc.spec);
	cr_assert_eq(store_revision_get(s, "web", 9, &got), -ENOENT);
	rs_spec_clear(&got.svc.spec);

	for (uint32_t i = 3; i <= 12; i++) {
		snprintf(arg, sizeof arg, "v%u", i);
		add_rev(s, &svc, arg, "update", i);
	}
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_revision_each(s, "web", 0, collect_rev, &l), 0);
	cr_assert_eq(l.count, STORE_REVISION_KEEP);
	cr_assert_eq(l.n[0], 3);
	cr_assert_eq(l.n[STORE_REVISION_KEEP - 1], 12);
	cr_assert_str_eq(l.arg[STORE_REVISION_KEEP - 1], "v12");
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_revision_each(s, "web", 2, collect_rev, &l), 0);
	cr_assert_eq(l.count, 2);
	cr_assert_eq(l.n[0], 11);
	cr_assert_eq(l.n[1], 12);

	/* deleting the label drops its revisions only; a new one starts at 1 */
	cr_assert_eq(store_begin(s), 0);
	cr_assert_eq(store_revision_del_label(s, "web"), 0);
	cr_assert_eq(store_commit(s), 0);
	memset(&l, 0, sizeof l);
	cr_assert_eq(store_revision_each(s, "web", 0, collect_rev, &l), 0);
	cr_assert_eq(l.count, 0);
	cr_assert_eq(store_revision_each(s, "db", 0, collect_rev, &l), 0);
	cr_assert_eq(l.count, 1);
	add_rev(s, &svc, "again", "up", 1);
	rs_spec_clear(&svc.spec);
	rs_spec_clear(&other.spec);
	store_close(&s);
}

/* 14 -> 15: the revision table. A version-14 file's services keep their
 * rows and have no history until their next change. */
Test(store, migrates_version_14_revisions)
{
	store *s = open_ok();
	store_service svc, got;
	struct revs l = { 0 };

	make_service(&svc, "web");
	cr_assert_eq(rs_spec_add_arg(&svc.spec, "v0"), 0);
	cr_assert_eq(store_service_put(s, &svc), 0);
	store_close(&s);
	raw_exec(dbpath, DROP_V18 DROP_V17 DROP_V16 DROP_V15 "PRAGMA user_version = 14;");
	s = open_ok();
	cr_assert_eq(raw_int(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(store_service_get(s, "web", &got), 0);
	rs_spec_clear(&got.spec);
	cr_assert_eq(store_revision_each(s, "web", 0, collect_rev, &l), 0);
	cr_assert_eq(l.count, 0);
	add_rev(s, &svc, "v1", "edit", 1);
	rs_spec_clear(&svc.spec);
	store_close(&s);
}
