/*
 * test_paged.c - status and nodes one page at a time (RS_FEAT_PAGED,
 * issue 12): real rsd, rs-agents and rsctl (tests/harness.c), pages of a
 * few rows over ~50 instances, the --node and --state filters, the
 * instance counts of nodes, and the answer an unpaged (0.2) request gets
 * when everything does not fit in one frame. Waits are on conditions.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "harness.h"
#include "msg.h"
#include "net.h"
#include "wire.h"

#define T_TIMEOUT 90
#define NSVC      12     /* services s00..s11 */
#define NREP      4      /* replicas of each: 48 instances */
#define DOWNED    "s05"  /* taken down: its 4 instances are "down" */

static void setup2(void) { h_setup(2); }
static void setup1(void) { h_setup(1); }
static void teardown(void) { h_teardown(); }

#define assert_code(r, want, what)                                            \
	cr_assert_eq((r)->code, (want),                                       \
		     "%s: rsctl exited %d (%ld ms), want %d\nstdout: %s\n"    \
		     "stderr: %s", (what), (r)->code, (r)->elapsed_ms,        \
		     (want), (r)->out, (r)->err)

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

static const char *write_file(const char *name, const char *text)
{
	const char *path = h_path(name);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
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

/* s00..s11 with 4 replicas each over n1 and n2, s05 then taken down. */
static void make_cluster(void)
{
	char yaml[4096];
	size_t off = 0;
	const h_res *r;

	off += (size_t)snprintf(yaml + off, sizeof yaml - off, "services:\n");
	for (int i = 0; i < NSVC; i++)
		off += (size_t)snprintf(yaml + off, sizeof yaml - off,
					"  - label: s%02d\n    command: [%s, --ready]\n"
					"    replicas: %d\n", i, h_notifysvc(), NREP);
	cr_assert_lt(off, sizeof yaml);
	r = h_rsctl_t(60000, "--timeout", "50", "apply", write_file("many.yaml", yaml),
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
