/*
 * test_paged.c - status and nodes one page at a time (RS_FEAT_PAGED,
 * issue 12): real rsd, rs-agents and rsctl (tests/harness.c), pages of a
 * few rows over ~50 instances, the --node and --state filters, the
 * instance counts of nodes, and the answer an unpaged (0.2) request gets
 * when everything does not fit in one frame; status as rows
 * (RS_FEAT_ROWS): the same rows as the JSON answer, page for page, and
 * the same table from rsctl whichever rsd sends. Waits are on conditions.
 */
#include <criterion/criterion.h>
#include <ev.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "cred.h"
#include "harness.h"
#include "msg.h"
#include "net.h"
#include "version.h"
#include "wire.h"

#define T_TIMEOUT 90
#define NSVC      12     /* services s00..s11 */
#define NREP      4      /* replicas of each: 48 instances */
#define DOWNED    "s05"  /* taken down: its 4 instances are "down" */

static void setup2(void) { h_setup(2); }
static void setup1(void) { h_setup(1); }
static void teardown(void) { h_teardown(); }

/* One control request straight to rsd (what rsctl 0.2 or a script would
 * send); *rep is the decoded reply (clear it). Returns its code or <0. */
static int call(rs_verb verb, const char *after, uint32_t page_size,
		const char *node, const char *state, rs_msg *rep)
{
	rs_msg m;
	uint8_t *buf, *in = NULL;
	size_t len, inlen = 0;
	int r;

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.id = 1;
	m.u.request.verb = verb;
	m.u.request.page_size = page_size;
	snprintf(m.u.request.page_after, sizeof m.u.request.page_after, "%s", after);
	snprintf(m.u.request.node, sizeof m.u.request.node, "%s", node);
	snprintf(m.u.request.state, sizeof m.u.request.state, "%s", state);
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	rs_msg_clear(&m);
	r = net_call(h_control_ep(), h_curve(), buf, len, 5000, &in, &inlen);
	free(buf);
	if (r < 0)
		return r;
	r = wire_decode(in, inlen, rep);
	free(in);
	cr_assert_eq(r, 0, "rsd's reply does not decode: %d", r);
	cr_assert_eq(rep->type, RS_MSG_REPLY);
	return rep->u.reply.code;
}

/* `rsctl --json ARGS...` (NULL-terminated), asserting exit 0; its JSON. */
static json_t *ctl_json(const char *a1, ...)
{
	const char *args[16] = { "--json", a1 };
	const h_res *r;
	json_t *j;
	va_list ap;
	int n = 2;

	va_start(ap, a1);
	while (n < 15 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	r = h_rsctl_v(20000, args);
	assert_code(r, 0, a1);
	j = h_json(r);
	cr_assert_not_null(j, "%s --json printed no JSON: %s", a1, r->out);
	return j;
}

struct census { size_t svcs, insts, on_n1, live_n1, live_n2, down, running; };

/* Checks that the services are in strictly increasing label order and no
 * instance appears twice; counts what is there. */
static struct census census_of(const json_t *status)
{
	struct census c = { 0 };
	const json_t *svcs = json_object_get(status, "services"), *s, *in;
	const char *prev = "";
	uint64_t seen[256];
	size_t nseen = 0, i, k;

	cr_assert(json_is_array(svcs), "no services array");
	json_array_foreach(svcs, i, s) {
		const char *label = json_string_value(json_object_get(s, "label"));

		cr_assert_not_null(label);
		cr_assert_gt(strcmp(label, prev), 0, "'%s' after '%s': not in label "
			     "order or twice", label, prev);
		prev = label;
		c.svcs++;
		json_array_foreach(json_object_get(s, "instances"), k, in) {
			uint64_t id = (uint64_t)json_integer_value(json_object_get(in, "id"));
			const char *node = json_string_value(json_object_get(in, "node"));
			const char *st = json_string_value(json_object_get(in, "state"));
			bool live = !strcmp(st, "running") || !strcmp(st, "starting") ||
				    !strcmp(st, "stopping") || !strcmp(st, "pending") ||
				    !strcmp(st, "backoff");

			for (size_t j = 0; j < nseen; j++)
				cr_assert_neq(seen[j], id, "instance %llu twice",
					      (unsigned long long)id);
			cr_assert_lt(nseen, 256);
			seen[nseen++] = id;
			c.insts++;
			c.on_n1 += !strcmp(node, "n1");
			c.live_n1 += live && !strcmp(node, "n1");
			c.live_n2 += live && !strcmp(node, "n2");
			c.down += !strcmp(st, "down");
			c.running += !strcmp(st, "running");
		}
	}
	return c;
}

static bool settled_fn(void *arg)
{
	(void)arg;
	json_t *j = h_json(h_rsctl("--json", "status", DOWNED, NULL));
	const json_t *insts = json_object_get(json_array_get(json_object_get(j,
					      "services"), 0), "instances"), *in;
	size_t i, down = 0;

	json_array_foreach(insts, i, in)
		down += !strcmp(json_string_value(json_object_get(in, "state")), "down");
	return down == NREP;
}

/* The manifest's s00..s(NSVC-1), NREP replicas each, into yaml; its
 * length. */
static size_t yaml_services(char *yaml, size_t size)
{
	size_t off = (size_t)snprintf(yaml, size, "services:\n");

	for (int i = 0; i < NSVC && off < size; i++)
		off += (size_t)snprintf(yaml + off, size - off,
					"  - label: s%02d\n    command: [%s, --ready]\n"
					"    replicas: %d\n", i, h_notifysvc(), NREP);
	return off;
}

/* s00..s11 with 4 replicas each over n1 and n2, s05 then taken down. */
static void make_cluster(void)
{
	char yaml[4096];
	size_t off;
	const h_res *r;

	off = yaml_services(yaml, sizeof yaml);
	cr_assert_lt(off, sizeof yaml);
	r = h_rsctl_t(60000, "--timeout", "50", "apply", h_save("many.yaml", yaml),
		      NULL);
	assert_code(r, 0, "apply of 12 x 4 replicas");
	assert_code(h_rsctl("down", DOWNED, NULL), 0, "down " DOWNED);
	cr_assert(h_wait_until(settled_fn, NULL, 10000), DOWNED "'s instances are not down");
}

Test(paged, status_pages_filters_and_node_counts, .init = setup2,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	json_t *one, *paged, *j;
	struct census all, c;
	rs_msg rep;
	char after[RS_CURSOR_MAX] = "";
	size_t pages = 0, rows = 0;
	const h_res *r;

	make_cluster();

	/* the whole status in one page and in pages of 7: the same document */
	one = ctl_json("status", "--page-size", "1000", NULL);
	all = census_of(one);
	cr_assert_eq(all.svcs, NSVC);
	cr_assert_eq(all.insts, NSVC * NREP);
	cr_assert_eq(all.down, NREP);
	cr_assert_eq(all.running, (NSVC - 1) * NREP);
	paged = ctl_json("status", "--page-size", "7", NULL);
	cr_assert(json_equal(one, paged), "pages of 7 differ from one page:\n%s\n%s",
		  json_dumps(one, JSON_COMPACT), json_dumps(paged, JSON_COMPACT));

	/* and rsd really cut it: at most 7 rows (+ the rest of a service's
	 * replicas) a page, each label once, until next_page is empty */
	do {
		cr_assert_eq(call(RS_V_STATUS, after, 7, "", "", &rep), RS_OK);
		cr_assert_not_null(rep.u.reply.json);
		j = json_loads(rep.u.reply.json, 0, NULL);
		c = census_of(j);
		cr_assert_leq(c.insts, 7 + NREP - 1, "a page of %zu rows", c.insts);
		rows += c.insts;
		json_decref(j);
		cr_assert(!rep.u.reply.next_page[0] ||
			  strcmp(rep.u.reply.next_page, after) > 0, "the cursor went back");
		snprintf(after, sizeof after, "%s", rep.u.reply.next_page);
		rs_msg_clear(&rep);
		cr_assert_lt(++pages, 50, "paging does not end");
	} while (after[0]);
	cr_assert_eq(rows, NSVC * NREP);
	cr_assert_geq(pages, 6, "only %zu pages of 7 rows for %d", pages, NSVC * NREP);

	/* an rsctl without paging (0.2) still gets everything in one reply */
	cr_assert_eq(call(RS_V_STATUS, "", 0, "", "", &rep), RS_OK);
	j = json_loads(rep.u.reply.json, 0, NULL);
	cr_assert(json_equal(j, one), "the unpaged answer differs");
	cr_assert_str_empty(rep.u.reply.next_page);
	json_decref(j);
	rs_msg_clear(&rep);

	/* --node: only n1's instances, all of them */
	c = census_of(ctl_json("status", "--node", "n1", "--page-size", "5", NULL));
	cr_assert_eq(c.insts, all.on_n1);
	cr_assert_eq(c.on_n1, c.insts, "an instance of another node");
	cr_assert_gt(c.insts, 0);

	/* --state: the down ones, the running ones */
	j = ctl_json("status", "--state", "down", "--page-size", "3", NULL);
	c = census_of(j);
	cr_assert_eq(c.svcs, 1);
	cr_assert_eq(c.down, NREP);
	cr_assert_eq(c.insts, NREP);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(
		json_object_get(j, "services"), 0), "label")), DOWNED);
	c = census_of(ctl_json("status", "--state", "running", "--page-size", "7", NULL));
	cr_assert_eq(c.insts, (NSVC - 1) * NREP);
	cr_assert_eq(c.running, c.insts);
	cr_assert_eq(c.svcs, NSVC - 1);
	/* both, and LABELs (in label order whatever order they are given) */
	j = ctl_json("status", "s07", "s02", "--node", "n2", "--page-size", "1", NULL);
	c = census_of(j);
	cr_assert_eq(c.svcs, 2);
	cr_assert_eq(c.on_n1, 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(
		json_object_get(j, "services"), 0), "label")), "s02");

	/* the table: a header and one row per instance */
	r = h_rsctl("status", "--page-size", "7", NULL);
	assert_code(r, 0, "status table");
	{
		size_t lines = 0;
		for (const char *p = r->out; *p; p++)
			lines += *p == '\n';
		cr_assert_eq(lines, 1 + NSVC * NREP, "%zu lines:\n%s", lines, r->out);
	}

	/* nodes: name order, live instances counted per node */
	j = ctl_json("nodes", "--page-size", "1", NULL);
	{
		const json_t *nodes = json_object_get(j, "nodes");
		cr_assert_eq(json_array_size(nodes), 2);
		cr_assert_str_eq(json_string_value(json_object_get(json_array_get(nodes, 0), "name")), "n1");
		cr_assert_str_eq(json_string_value(json_object_get(json_array_get(nodes, 1), "name")), "n2");
		cr_assert_eq(json_integer_value(json_object_get(json_array_get(nodes, 0), "instances")),
			     (json_int_t)all.live_n1);
		cr_assert_eq(json_integer_value(json_object_get(json_array_get(nodes, 1), "instances")),
			     (json_int_t)all.live_n2);
		cr_assert_eq(all.live_n1 + all.live_n2, (NSVC - 1) * NREP);
		cr_assert_not_null(json_string_value(json_object_get(j, "rsd_version")));
	}
	j = ctl_json("nodes", "--state", "lost", NULL);
	cr_assert_eq(json_array_size(json_object_get(j, "nodes")), 0);
	j = ctl_json("nodes", "--state", "up", "--page-size", "1", NULL);
	cr_assert_eq(json_array_size(json_object_get(j, "nodes")), 2);

	/* an unknown state: rsctl says so (2), and so does rsd (9) */
	r = h_rsctl("status", "--state", "sleeping", NULL);
	assert_code(r, RS_E_USAGE, "status --state sleeping");
	cr_assert(strstr(r->err, "not an instance state"), "stderr: %s", r->err);
	r = h_rsctl("nodes", "--state", "running", NULL);
	assert_code(r, RS_E_USAGE, "nodes --state running");
	cr_assert(strstr(r->err, "not a node state"), "stderr: %s", r->err);
	cr_assert_eq(call(RS_V_STATUS, "", 7, "", "sleeping", &rep), RS_E_INVAL);
	cr_assert(strstr(rep.u.reply.message, "unknown instance state 'sleeping'"),
		  "%s", rep.u.reply.message);
	rs_msg_clear(&rep);
	net_shutdown();
	h_pass();
}

/* Services whose status is ~100 KiB each (a big environment): 12 do not
 * fit in one frame. */
Test(paged, unpaged_answer_too_large_is_refused, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	static char vals[25][4000];
	const char *args[64];
	rs_msg rep;
	json_t *j;

	for (int i = 0; i < NSVC; i++) {
		char label[8];
		int n = 0;

		snprintf(label, sizeof label, "b%02d", i);
		args[n++] = "up";
		args[n++] = label;
		for (int k = 0; k < 25; k++) {
			memset(vals[k], 'v', sizeof vals[k] - 1);
			vals[k][sizeof vals[k] - 1] = '\0';
			memcpy(vals[k], "K", 1);
			vals[k][1] = (char)('a' + k);
			vals[k][2] = '=';
			args[n++] = "--env";
			args[n++] = vals[k];
		}
		args[n++] = "--";
		args[n++] = h_notifysvc();
		args[n++] = "--ready";
		args[n] = NULL;
		assert_code(h_rsctl_v(20000, args), 0, "up with a big environment");
	}
	/* a 0.2 rsctl: a clear error, not a frame it cannot take */
	cr_assert_eq(call(RS_V_STATUS, "", 0, "", "", &rep), RS_E_FAILED);
	cr_assert(strstr(rep.u.reply.message, "page by page"), "%s",
		  rep.u.reply.message);
	rs_msg_clear(&rep);
	/* this rsctl: pages cut by their size (far fewer than 1000 rows) */
	j = ctl_json("status", NULL);
	cr_assert_eq(json_array_size(json_object_get(j, "services")), NSVC);
	census_of(j);
	net_shutdown();
	h_pass();
}

/* ---- status as rows (RS_FEAT_ROWS) ------------------------------------ */

/* One status request straight to rsd: rows or JSON, one page after
 * `after`, LABELs labels (NULL-terminated, may be NULL). */
static int call_status(bool rows, const char *after, uint32_t page_size,
		       const char *node, const char *state,
		       const char *const *labels, rs_msg *rep)
{
	rs_msg m;
	uint8_t *buf, *in = NULL;
	size_t len, inlen = 0, n = 0;
	int r;

	rs_msg_init(&m, RS_MSG_REQUEST);
	m.u.request.id = 2;
	m.u.request.verb = RS_V_STATUS;
	m.u.request.rows = rows;
	m.u.request.page_size = page_size;
	snprintf(m.u.request.page_after, sizeof m.u.request.page_after, "%s", after);
	snprintf(m.u.request.node, sizeof m.u.request.node, "%s", node);
	snprintf(m.u.request.state, sizeof m.u.request.state, "%s", state);
	if (labels && labels[0]) {
		snprintf(m.u.request.label, sizeof m.u.request.label, "%s", labels[0]);
		while (labels[n + 1])
			n++;
		m.u.request.batch = calloc(n + 1, sizeof *m.u.request.batch);
		cr_assert_not_null(m.u.request.batch);
		for (size_t i = 0; i < n; i++)
			m.u.request.batch[i] = strdup(labels[i + 1]);
		m.u.request.nbatch = n;
	}
	cr_assert_eq(wire_encode(&m, &buf, &len), 0);
	rs_msg_clear(&m);
	r = net_call(h_control_ep(), h_curve(), buf, len, 5000, &in, &inlen);
	free(buf);
	cr_assert_eq(r, 0, "status: %s", strerror(-r));
	r = wire_decode(in, inlen, rep);
	free(in);
	cr_assert_eq(r, 0, "rsd's reply does not decode: %d", r);
	cr_assert_eq(rep->type, RS_MSG_REPLY);
	cr_assert(rep->features & RS_FEAT_ROWS, "rsd does not announce RS_FEAT_ROWS");
	return rep->u.reply.code;
}

/* The rows a JSON status item stands for, as rsd's rows say them (their
 * strings borrowed from svc). */
static size_t rows_of_item(const json_t *svc, rs_status_row *out, size_t max)
{
	const json_t *insts = json_object_get(svc, "instances"), *in;
	const json_t *op = json_object_get(svc, "operation");
	size_t n = 0, i;

#define JS(o, k) json_string_value(json_object_get((o), (k)))
	json_array_foreach(insts, i, in) {
		const json_t *e = json_object_get(in, "last_exit");
		const char *reason = JS(e, "reason");
		rs_status_row *r = &out[n++];

		cr_assert_leq(n, max);
		memset(r, 0, sizeof *r);
		r->instance = (uint64_t)json_integer_value(json_object_get(in, "id"));
		r->state = JS(in, "state");
		r->standby = !strcmp(JS(in, "role"), "standby");
		r->node = JS(in, "node");
		r->pid = (int32_t)json_integer_value(json_object_get(in, "pid"));
		r->restarts = (uint32_t)json_integer_value(json_object_get(in, "restarts"));
		r->started_ms = (uint64_t)json_integer_value(json_object_get(in, "started_ms"));
		r->exit_reason = reason && strcmp(reason, "none") ? reason : "";
		r->exit_code = (int32_t)json_integer_value(json_object_get(e, "code"));
		r->exit_signal = (int32_t)json_integer_value(json_object_get(e, "signal"));
		r->status = JS(in, "status");
	}
	if (!n) {
		cr_assert_lt(n, max);
		memset(&out[0], 0, sizeof out[0]);
		out[0].state = JS(svc, "state");
		n = 1;
	}
	for (i = 0; i < n; i++)
		out[i].label = JS(svc, "label");
	if (json_is_object(op)) {
		out[0].op_kind = JS(op, "kind");
		out[0].op_progress = JS(op, "progress");
	}
#undef JS
	return n;
}

static void assert_row_eq(const rs_status_row *a, const rs_status_row *b,
			  const char *what, size_t k)
{
#define S0(s) ((s) ? (s) : "")
#define ROW_STR(f) cr_assert_str_eq(S0(a->f), b->f, "%s, row %zu (%s): " #f " '%s' " \
				    "from JSON, '%s' in rows", what, k, a->label,    \
				    S0(a->f), b->f)
#define ROW_NUM(f) cr_assert_eq(a->f, b->f, "%s, row %zu (%s): " #f " %lld from " \
				"JSON, %lld in rows", what, k, a->label,          \
				(long long)a->f, (long long)b->f)
	ROW_STR(label);
	ROW_NUM(instance);
	ROW_STR(state);
	ROW_NUM(standby);
	ROW_STR(node);
	ROW_NUM(pid);
	ROW_NUM(restarts);
	ROW_NUM(started_ms);
	ROW_STR(exit_reason);
	ROW_NUM(exit_code);
	ROW_NUM(exit_signal);
	ROW_STR(status);
	ROW_STR(op_kind);
	ROW_STR(op_progress);
#undef ROW_STR
#undef ROW_NUM
#undef S0
}

/* Pages through status both ways with the same filters: every page has
 * the same rows in the same order and the same cursor. Returns the rows
 * and counts the pages and the services' own rows. */
static size_t rows_vs_json(const char *what, uint32_t page_size, const char *node,
			   const char *state, const char *const *labels,
			   size_t *pages, size_t *own)
{
	static rs_status_row want[4096];
	char after[RS_CURSOR_MAX] = "";
	size_t total = 0;

	*pages = *own = 0;
	do {
		rs_msg js, rw;
		json_t *j, *item;
		size_t n = 0, i;

		cr_assert_eq(call_status(false, after, page_size, node, state, labels, &js),
			     RS_OK, "%s: %s", what, js.u.reply.message);
		cr_assert_eq(call_status(true, after, page_size, node, state, labels, &rw),
			     RS_OK, "%s (rows): %s", what, rw.u.reply.message);
		cr_assert_null(rw.u.reply.json, "%s: rows come without JSON", what);
		j = json_loads(js.u.reply.json, 0, NULL);
		cr_assert_not_null(j);
		json_array_foreach(json_object_get(j, "services"), i, item)
			n += rows_of_item(item, want + n, sizeof want / sizeof want[0] - n);
		cr_assert_eq(rw.u.reply.nrows, n, "%s, page after '%s': %zu rows, JSON "
			     "has %zu", what, after, rw.u.reply.nrows, n);
		for (i = 0; i < n; i++) {
			assert_row_eq(&want[i], &rw.u.reply.rows[i], what, total + i);
			*own += rw.u.reply.rows[i].instance == 0;
		}
		json_decref(j);
		cr_assert_str_eq(rw.u.reply.next_page, js.u.reply.next_page,
				 "%s: the pages end at other labels", what);
		cr_assert(!js.u.reply.next_page[0] || strcmp(js.u.reply.next_page, after) > 0);
		snprintf(after, sizeof after, "%s", js.u.reply.next_page);
		total += n;
		rs_msg_clear(&js);
		rs_msg_clear(&rw);
		cr_assert_lt(++*pages, 100, "paging does not end");
	} while (after[0]);
	return total;
}

/* An rsd that does not know Request.rows (0.2.0, 0.3.0 before rows): a
 * plaintext proxy in front of the real rsd that clears the field, so
 * rsd answers JSON. Runs on a loop of its own thread. */
typedef struct proxy {
	struct ev_loop *loop;
	ev_async        stop;
	pthread_t       th;
	net_sock       *router;
	int             rows_asked, errors;
} proxy;

static void proxy_recv(net_sock *s, const net_peer *peer, const uint8_t *buf,
		       size_t len, void *arg)
{
	proxy *px = arg;
	uint8_t *out = NULL, *rep = NULL;
	size_t outlen = 0, replen = 0;
	rs_msg m;

	if (wire_decode(buf, len, &m) < 0) {
		px->errors++;
		return;
	}
	if (m.type == RS_MSG_REQUEST) {
		px->rows_asked += m.u.request.rows;
		m.u.request.rows = false;
	}
	if (wire_encode(&m, &out, &outlen) < 0 ||
	    net_call(h_control_ep(), h_curve(), out, outlen, 10000, &rep, &replen) < 0 ||
	    net_send(s, peer, rep, replen) < 0)
		px->errors++;
	rs_msg_clear(&m);
	free(out);
	free(rep);
}

static void proxy_stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w, (void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *proxy_thread(void *arg)
{
	ev_run(((proxy *)arg)->loop, 0);
	return NULL;
}

/* The proxy speaks CURVE with rsd's own key pair (rsd.key), so rsctl
 * reaches it on the authenticated path, with the admin credential that
 * pins rsd's key. */
static void proxy_start(proxy *px)
{
	char path[512], err[512];
	net_curve server = { .domain = "control" };
	rs_cred key;

	memset(px, 0, sizeof *px);
	snprintf(path, sizeof path, "%s/rsd.key", h_tmpdir());
	cr_assert_eq(cred_read(path, &key, err, sizeof err), 0, "rsd.key: %s", err);
	memcpy(server.sec, key.sec, sizeof server.sec);
	px->loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_router_new(px->loop, "tcp://127.0.0.1:*", 0, &server, proxy_recv,
				    px, &px->router), 0);
	ev_async_init(&px->stop, proxy_stop_cb);
	ev_async_start(px->loop, &px->stop);
	cr_assert_eq(pthread_create(&px->th, NULL, proxy_thread, px), 0);
}

static void proxy_stop(proxy *px)
{
	ev_async_send(px->loop, &px->stop);
	pthread_join(px->th, NULL);
	net_destroy(&px->router);
	ev_loop_destroy(px->loop);
}

/* The table without its UPTIME column (the two runs are seconds apart):
 * the columns before it are as wide in both; malloc'ed. */
static char *without_uptime(const char *table)
{
	const char *nl = strchr(table, '\n'), *u = strstr(table, "UPTIME");
	const char *x = strstr(table, "LAST-EXIT");
	size_t a, b, off = 0;
	char *out = calloc(1, strlen(table) + 1);

	cr_assert(nl && u && x && u < nl && x < nl, "no table header: %s", table);
	cr_assert_not_null(out);
	a = (size_t)(u - table);
	b = (size_t)(x - table);
	for (const char *line = table; *line;) {
		size_t len = strcspn(line, "\n");

		if (len > b && line[0] != ' ') {
			memcpy(out + off, line, a);
			memcpy(out + off + a, line + b, len - b);
			off += a + len - b;
		} else {   /* the lines under the table */
			memcpy(out + off, line, len);
			off += len;
		}
		out[off++] = '\n';
		line += len + (line[len] == '\n');
	}
	return out;
}

/* `rsctl status ARGS` against rsd (rows) and against the proxy (JSON):
 * the same table. Returns its lines. */
static size_t same_table(proxy *px, const char *a1, ...)
{
	const char *direct[16], *via[20] = { "-s", net_endpoint(px->router) };
	const h_res *r1, *r2;
	char *t1, *t2;
	size_t n = 0, lines = 0;
	int asked = px->rows_asked;
	va_list ap;

	va_start(ap, a1);
	for (const char *a = a1; a && n < 15; a = va_arg(ap, const char *))
		direct[n++] = a;
	va_end(ap);
	direct[n] = NULL;
	for (size_t i = 0; i <= n; i++)
		via[2 + i] = direct[i];
	r1 = h_rsctl_v(20000, direct);
	assert_code(r1, 0, "status (rows)");
	r2 = h_rsctl_v(20000, via);
	assert_code(r2, 0, "status (JSON, via the proxy)");
	cr_assert_gt(px->rows_asked, asked, "rsctl did not ask for rows");
	t1 = without_uptime(r1->out);
	t2 = without_uptime(r2->out);
	cr_assert_str_eq(t1, t2, "rsctl %s %s...: the table from rows differs from "
			 "the one from JSON:\n%s\n---\n%s", a1, n > 1 ? direct[1] : "",
			 r1->out, r2->out);
	for (const char *p = r1->out; *p; p++)
		lines += *p == '\n';
	free(t1);
	free(t2);
	return lines;
}

static bool running_fn(void *arg)
{
	json_t *j = h_json(h_rsctl("--json", "status", "--state", "running", NULL));
	size_t n = 0, i;
	const json_t *s;

	json_array_foreach(json_object_get(j, "services"), i, s)
		n += json_array_size(json_object_get(s, "instances"));
	return n == *(size_t *)arg;
}

/* The cluster of make_cluster, and: gate (waits for READY=1 that never
 * comes: starting, with a status text), w0 and w1 that depend on it (no
 * instance), solo with a warm standby, and opsvc whose up is in
 * progress. */
static void make_rows_cluster(void)
{
	char yaml[4096];
	size_t off = 0, want = (NSVC - 1) * NREP + 2;
	const h_res *r;

	off = yaml_services(yaml, sizeof yaml);
	off += (size_t)snprintf(yaml + off, sizeof yaml - off,
				"  - label: gate\n    command: [%s, --status, not yet]\n"
				"    notify: notify\n    ready_timeout: 600\n"
				"  - label: w0\n    command: [%s, --ready]\n"
				"    depends_on: [gate]\n"
				"  - label: w1\n    command: [%s, --ready]\n"
				"    depends_on: [gate]\n"
				"  - label: solo\n    command: [%s, --ready]\n",
				h_notifysvc(), h_notifysvc(), h_notifysvc(), h_notifysvc());
	cr_assert_lt(off, sizeof yaml);
	/* the apply waits for gate to its timeout: it goes on in rsd */
	r = h_rsctl_t(60000, "--timeout", "300", "apply", "--no-block",
		      h_save("rows.yaml", yaml), NULL);
	assert_code(r, 0, "apply of 12 x 4 replicas, gate, w0, w1");
	want = NSVC * NREP + 1;
	cr_assert(h_wait_until(running_fn, &want, 30000), "not every replica runs");
	assert_code(h_rsctl("down", DOWNED, NULL), 0, "down " DOWNED);
	cr_assert(h_wait_until(settled_fn, NULL, 10000), DOWNED "'s instances are not down");
	r = h_rsctl_t(30000, "clone", "solo", NULL);
	assert_code(r, 0, "clone solo");
	r = h_rsctl("up", "opsvc", "--no-block", "--notify", "notify", "--ready-timeout",
		    "600", "--", h_notifysvc(), "--status", "warming up", NULL);
	assert_code(r, 0, "up opsvc --no-block");
	want = (NSVC - 1) * NREP + 2;   /* solo and its standby */
	cr_assert(h_wait_until(running_fn, &want, 10000), "the standby does not run");
}

Test(paged, rows_are_the_json_rows, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	static const char *const named[] = { "w1", "s07", "gate", "s02", "opsvc", NULL };
	size_t pages, own, n, all, lines;
	proxy px;

	make_rows_cluster();
	/* everything, in pages of 5 rows and in one page */
	all = rows_vs_json("status", 5, "", "", NULL, &pages, &own);
	cr_assert_eq(all, NSVC * NREP + 1 + 2 + 2 + 1, "%zu rows", all);
	cr_assert_geq(pages, 6, "%zu pages", pages);
	cr_assert_eq(own, 2, "w0 and w1 have a row of their own");
	cr_assert_eq(rows_vs_json("status, one page", 10000, "", "", NULL, &pages, &own), all);
	cr_assert_eq(pages, 1);
	/* filters, LABELs, both */
	n = rows_vs_json("--node n1", 3, "n1", "", NULL, &pages, &own);
	cr_assert(n > 0 && n < all && own == 0, "--node n1: %zu rows", n);
	n = rows_vs_json("--state down", 2, "", "down", NULL, &pages, &own);
	cr_assert_eq(n, NREP + 2, "--state down: %zu rows", n);
	cr_assert_eq(own, 2);
	n = rows_vs_json("--state starting", 1, "", "starting", NULL, &pages, &own);
	cr_assert_eq(n, 2, "--state starting: gate and opsvc, %zu rows", n);
	n = rows_vs_json("LABELs", 2, "", "", named, &pages, &own);
	cr_assert_eq(n, 1 + NREP + 1 + NREP + 1, "LABELs: %zu rows", n);
	cr_assert_geq(pages, 3);
	cr_assert_eq(own, 1, "w1 has a row of its own");
	/* with a filter, a named service that keeps none is left out */
	n = rows_vs_json("LABELs --node n2 --state running", 1, "n2", "running", named,
			 &pages, &own);
	cr_assert(n > 0 && n <= 2 * NREP && own == 0, "%zu rows, %zu own", n, own);

	/* rsctl: the same table from rows as from JSON (an rsd without rows) */
	proxy_start(&px);
	lines = same_table(&px, "status", "--page-size", "5", NULL);
	cr_assert_eq(lines, 1 + all + 1, "%zu lines: the table and opsvc's up", lines);
	same_table(&px, "status", NULL);
	same_table(&px, "status", "--node", "n2", "--page-size", "4", NULL);
	same_table(&px, "status", "--state", "down", "--page-size", "1", NULL);
	same_table(&px, "status", "w1", "s07", "gate", "s02", "opsvc", "--page-size", "2",
		   NULL);
	same_table(&px, "status", "w1", "s07", "--node", "n2", NULL);
	proxy_stop(&px);
	cr_assert_eq(px.errors, 0);
	net_shutdown();
	h_pass();
}

/* A filter that keeps one row past many services: rsd looks at a bounded
 * number of services a page (RSD_PAGE_SVCS_MAX, 64), so the first page
 * comes back with no row and a cursor, the next has the row; rsctl
 * prints the one row either way. */
#define MANY 70

static bool m69_down_fn(void *arg)
{
	json_t *j = h_json(h_rsctl("--json", "status", "m69", NULL));
	const json_t *in = json_array_get(json_object_get(json_array_get(
		json_object_get(j, "services"), 0), "instances"), 0);

	(void)arg;
	return in && !strcmp(json_string_value(json_object_get(in, "state")), "down");
}

Test(paged, a_sparse_filter_pages_through_empty_pages, .init = setup1,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	static char yaml[MANY * 200];
	size_t off = (size_t)snprintf(yaml, sizeof yaml, "services:\n"), want = MANY, rows;
	char after[RS_CURSOR_MAX] = "";
	int pages = 0, with_row = 0, empty = 0;
	json_t *j;

	for (int i = 0; i < MANY; i++)
		off += (size_t)snprintf(yaml + off, sizeof yaml - off,
					"  - label: m%02d\n    command: [%s, --ready]\n", i,
					h_notifysvc());
	cr_assert_lt(off, sizeof yaml);
	assert_code(h_rsctl_t(120000, "--timeout", "100", "apply", h_save("many.yaml", yaml),
			      NULL), 0, "apply of 70 services");
	cr_assert(h_wait_until(running_fn, &want, 60000), "not every service runs");
	assert_code(h_rsctl("down", "m69", NULL), 0, "down m69");
	cr_assert(h_wait_until(m69_down_fn, NULL, 10000), "m69's instance is not down");
	/* straight to rsd, rows and JSON: pages until the cursor ends */
	for (int rows_mode = 0; rows_mode < 2; rows_mode++) {
		after[0] = '\0';
		pages = with_row = empty = 0;
		do {
			rs_msg rep;

			cr_assert_eq(call_status(rows_mode, after, 1000, "", "down", NULL, &rep),
				     RS_OK, "%s", rep.u.reply.message);
			if (rows_mode) {
				rows = rep.u.reply.nrows;
			} else {
				j = json_loads(rep.u.reply.json, 0, NULL);
				cr_assert_not_null(j);
				rows = json_array_size(json_object_get(j, "services"));
				json_decref(j);
			}
			with_row += rows > 0;
			empty += rows == 0;
			snprintf(after, sizeof after, "%s", rep.u.reply.next_page);
			rs_msg_clear(&rep);
			cr_assert_lt(++pages, 10, "paging does not end");
		} while (after[0]);
		cr_assert_eq(pages, 2, "%s: %d pages for %d services", rows_mode ? "rows" : "JSON",
			     pages, MANY);
		cr_assert_eq(empty, 1, "the first page looked at 64 services and kept none");
		cr_assert_eq(with_row, 1);
	}
	/* rsctl: the one service, in the table and in JSON */
	j = ctl_json("status", "--state", "down", NULL);
	cr_assert_eq(json_array_size(json_object_get(j, "services")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(
		json_object_get(j, "services"), 0), "label")), "m69");
	json_decref(j);
	{
		const h_res *r = h_rsctl("status", "--state", "down", NULL);

		assert_code(r, 0, "status --state down");
		cr_assert(strstr(r->out, "m69"), "%s", r->out);
	}
	net_shutdown();
	h_pass();
}
