/*
 * output.c - rsctl's table builder and the renderings of reply payloads.
 * Payload keys that are missing or of the wrong type print as "-".
 */
#include "output.h"
#include "reslimits.h"
#include "usagesel.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_GAP 2	/* spaces between columns */

struct table {
	size_t    ncols;
	size_t    ncells;	/* stored cells, headers included */
	size_t    cap;
	uint32_t *off;		/* row-major, into text; row 0: the headers */
	char     *text;		/* every cell, each NUL-terminated */
	size_t    len, text_cap;
	size_t   *width;	/* each column's widest cell so far */
	bool      failed;	/* a cell could not be stored */
};

/* ---- table ------------------------------------------------------------ */

/* Display width of a UTF-8 string: its code points (no wide glyphs). */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

table *table_new(const char *const *headers, size_t ncols)
{
	table *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->ncols = ncols ? ncols : 1;
	t->width = calloc(t->ncols, sizeof *t->width);
	if (!t->width)
		t->failed = true;
	for (size_t i = 0; i < ncols; i++)
		table_cell(t, headers[i]);
	if (t->failed)
		table_destroy(&t);
	return t;
}

/* Makes room for n more bytes of text and one more cell. */
static bool table_room(table *t, size_t n)
{
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		uint32_t *no = realloc(t->off, cap * sizeof *no);

		if (!no)
			return false;
		t->off = no;
		t->cap = cap;
	}
	if (t->len + n > t->text_cap) {
		size_t cap = t->text_cap ? t->text_cap : 4096;
		char *nt;

		while (cap < t->len + n)
			cap *= 2;
		if (cap > UINT32_MAX || !(nt = realloc(t->text, cap)))
			return false;
		t->text = nt;
		t->text_cap = cap;
	}
	return true;
}

void table_cell(table *t, const char *s)
{
	size_t n, col;
	char *d;

	if (t->failed)
		return;
	if (!s || !*s)
		s = "-";
	n = strlen(s) + 1;
	if (!table_room(t, n)) {
		t->failed = true;
		return;
	}
	d = t->text + t->len;
	for (size_t i = 0; i < n - 1; i++)
		d[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	d[n - 1] = '\0';
	col = t->ncells % t->ncols;
	n = text_width(d);
	if (n > t->width[col])
		t->width[col] = n;
	t->off[t->ncells++] = (uint32_t)t->len;
	t->len += strlen(d) + 1;
}

/* Appends v as a decimal cell (what table_cellf would, without printf:
 * a status table has two a row). */
static void table_cell_u64(table *t, uint64_t v)
{
	char buf[24], *p = buf + sizeof buf - 1;

	*p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	table_cell(t, p);
}

void table_cellf(table *t, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	table_cell(t, buf);
}

static bool use_colour;

void output_set_colour(bool on)
{
	use_colour = on;
}

/* The ANSI colour of a state word (running green, failed/lost red,
 * transitional yellow), or NULL. Widths are computed on the plain text. */
static const char *state_colour(const char *s)
{
	static const struct { const char *word, *sgr; } map[] = {
		{ "running", "32" }, { "up", "32" }, { "ready", "32" },
		{ "failed", "31" }, { "lost", "31" }, { "critical", "1;31" },
		{ "fenced", "31" },
		{ "starting", "33" }, { "stopping", "33" }, { "backoff", "33" },
		{ "exited", "33" }, { "unknown", "33" }, { "suspect", "33" },
		{ "unready", "33" },
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		size_t n = strlen(map[i].word);
		if (!strncmp(s, map[i].word, n) && (s[n] == '\0' || s[n] == ' '))
			return map[i].sgr;
	}
	return NULL;
}

/* Writes n spaces. */
static void put_spaces(FILE *out, size_t n)
{
	static const char sp[] = "                                ";

	for (; n > sizeof sp - 1; n -= sizeof sp - 1)
		fwrite(sp, 1, sizeof sp - 1, out);
	fwrite(sp, 1, n, out);
}

/* Prints one row of up to ncols cells starting at cell index first. */
static void table_print_row(const table *t, size_t first, FILE *out)
{
	size_t n = t->ncells - first;

	if (n > t->ncols)
		n = t->ncols;
	for (size_t c = 0; c < n; c++) {
		const char *s = t->text + t->off[first + c];
		const char *sgr = use_colour && first ? state_colour(s) : NULL;

		if (sgr)
			fprintf(out, "\033[%sm%s\033[0m", sgr, s);
		else
			fputs(s, out);
		if (c + 1 < n)
			put_spaces(out, t->width[c] - text_width(s) + TABLE_GAP);
	}
	fputc('\n', out);
}

int table_print(const table *t, FILE *out)
{
	if (t->failed)
		return -ENOMEM;
	for (size_t i = 0; i < t->ncells; i += t->ncols)
		table_print_row(t, i, out);
	return 0;
}

void table_destroy(table **tp)
{
	table *t = tp ? *tp : NULL;

	if (!t)
		return;
	free(t->off);
	free(t->text);
	free(t->width);
	free(t);
	*tp = NULL;
}

/* ---- formatting ------------------------------------------------------- */

char *output_duration(uint64_t ms, int precise, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (precise && ms < 1000)
		snprintf(buf, len, "%" PRIu64 "ms", ms);
	else if (precise && ms < 10000)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "s", s,
			 ms % 1000 / 100);
	else if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60,
			 s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
			 s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d", s / 86400);
	return buf;
}

char *output_time(uint64_t ms, char *buf, size_t len)
{
	time_t sec = (time_t)(ms / 1000);
	char day[32];
	struct tm tm;

	if (!gmtime_r(&sec, &tm) ||
	    !strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s.%03uZ", day, (unsigned)(ms % 1000));
	return buf;
}

/* ---- payload access --------------------------------------------------- */

/* o[key] as a string, or NULL when absent or not a string. */
static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Stores o[key] (an integer, or a real truncated) in *v. Returns 0, or
 * -ENOENT when absent or not a number (*v untouched). */
static int jint(const json_t *o, const char *key, int64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (json_is_integer(j))
		*v = (int64_t)json_integer_value(j);
	else if (json_is_real(j))
		*v = (int64_t)json_real_value(j);
	else
		return -ENOENT;
	return 0;
}

/* Appends o[key] as a string cell ("-" when absent). */
static void cell_str(table *t, const json_t *o, const char *key)
{
	table_cell(t, jstr(o, key));
}

/* Appends o[key] as a number cell; "-" when absent or below min. */
static void cell_int(table *t, const json_t *o, const char *key, int64_t min)
{
	int64_t v;

	if (jint(o, key, &v) == 0 && v >= min)
		table_cellf(t, "%" PRId64, v);
	else
		table_cell(t, NULL);
}

/* Appends the age now - o[key] (a wall-clock ms time) as a duration cell. */
static void cell_age(table *t, const json_t *o, const char *key,
		     uint64_t now_ms, int precise)
{
	char buf[32];
	int64_t at;

	if (jint(o, key, &at) != 0 || at <= 0) {
		table_cell(t, NULL);
		return;
	}
	table_cell(t, output_duration(now_ms > (uint64_t)at ?
				      now_ms - (uint64_t)at : 0,
				      precise, buf, sizeof buf));
}

/* Prints s on out like a table cell: "-" for NULL/"", no control chars. */
static void put_field(FILE *out, const char *s)
{
	if (!s || !*s)
		s = "-";
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

/* Prints the table and frees it; returns what table_print() returned. */
static int table_flush(table **tp, FILE *out)
{
	int r = table_print(*tp, out);

	table_destroy(tp);
	return r;
}

/* ---- status ----------------------------------------------------------- */

static const char *const status_cols[] = {
	"LABEL", "STATE", "NODE", "PID", "RESTARTS", "UPTIME", "LAST-EXIT",
	"STATUS",
};
/* -o wide: the instance's id after its label, when it started and its
 * last reported usage (RS_FEAT_USAGE; "-": none) at the end */
static const char *const status_wide_cols[] = {
	"LABEL", "INSTANCE", "STATE", "NODE", "PID", "RESTARTS", "UPTIME",
	"LAST-EXIT", "STATUS", "STARTED", "CPU", "MEM", "PEAK", "TASKS",
};
static bool status_wide;

void output_set_wide(bool on)
{
	status_wide = on;
}

/* The status table, as wide or not. */
static table *status_table(void)
{
	return status_wide ?
	       table_new(status_wide_cols, sizeof status_wide_cols / sizeof *status_wide_cols) :
	       table_new(status_cols, sizeof status_cols / sizeof *status_cols);
}

char *output_bytes(uint64_t n, char *buf, size_t len)
{
	static const char unit[] = "KMGTPE";
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, len, "%" PRIu64 "B", n);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.1f%ci" : "%.0f%ci", v, unit[u]);
	return buf;
}

/* Appends the usage cells of row r (-o wide, top): CPU time, memory now
 * and at peak, tasks; "-" each when none was reported. */
static void usage_cells(table *t, const rs_status_row *r)
{
	char buf[32];

	if (!r->usage_ms) {
		for (int i = 0; i < 4; i++)
			table_cell(t, NULL);
		return;
	}
	table_cell(t, output_duration(r->cpu_ms, 1, buf, sizeof buf));
	table_cell(t, output_bytes(r->memory, buf, sizeof buf));
	table_cell(t, output_bytes(r->memory_peak, buf, sizeof buf));
	table_cell_u64(t, r->tasks);
}

/* Writes a last exit as "exited 1", "signaled KILL", "no-heartbeat" or
 * "-". Returns buf. */
static char *fmt_exit(const char *reason, int64_t code, int64_t sig, char *buf,
		      size_t len)
{
	const char *name;

	if (!reason || !*reason || strcmp(reason, "none") == 0) {
		snprintf(buf, len, "-");
	} else if (strcmp(reason, "exited") == 0) {
		snprintf(buf, len, "exited %" PRId64, code);
	} else if (strcmp(reason, "signaled") == 0) {
		name = sig > 0 && sig < 1024 ? sigabbrev_np((int)sig) : NULL;
		if (name)
			snprintf(buf, len, "signaled %s", name);
		else
			snprintf(buf, len, "signaled %" PRId64, sig);
	} else {
		snprintf(buf, len, "%s", reason);
	}
	return buf;
}

/* True for instance states in which a process is alive, i.e. has uptime. */
static bool state_has_uptime(const char *state)
{
	return state && (strcmp(state, "starting") == 0 ||
			 strcmp(state, "running") == 0 ||
			 strcmp(state, "stopping") == 0);
}

/* Appends the cells of status row r: an instance's (inst), or the
 * service's own, which shows only its label and state. The JSON answer
 * and the rows answer print through here alike. */
static void status_row_cells(table *t, const rs_status_row *r, bool inst,
			     uint64_t now_ms)
{
	char buf[64];
	size_t ncols = status_wide ? sizeof status_wide_cols / sizeof *status_wide_cols :
			sizeof status_cols / sizeof *status_cols;

	table_cell(t, r->label);
	if (status_wide) {
		if (inst)
			table_cell_u64(t, r->instance);
		else
			table_cell(t, NULL);
	}
	if (!inst) {
		size_t at = status_wide ? 3 : 2;

		table_cell(t, r->state);
		/* NODE, PID, RESTARTS, UPTIME, LAST-EXIT empty; STATUS what
		 * rsd says of the service ("waiting for a node", 0.3) */
		for (size_t i = at; i < ncols; i++)
			table_cell(t, i == at + 5 ? r->status : NULL);
		return;
	}
	/* a clone's warm standby is marked, the active one is not */
	snprintf(buf, sizeof buf, "%s%s", r->state ? r->state : "",
		 r->standby ? " (standby)" : "");
	table_cell(t, buf);
	table_cell(t, r->node);
	if (r->pid >= 1)
		table_cell_u64(t, (uint64_t)r->pid);
	else
		table_cell(t, NULL);
	table_cell_u64(t, r->restarts);
	if (state_has_uptime(r->state) && r->started_ms > 0)
		table_cell(t, output_duration(now_ms > r->started_ms ?
					      now_ms - r->started_ms : 0, 0,
					      buf, sizeof buf));
	else
		table_cell(t, NULL);
	table_cell(t, fmt_exit(r->exit_reason, r->exit_code, r->exit_signal, buf,
			       sizeof buf));
	table_cell(t, r->status);
	if (status_wide) {
		table_cell(t, r->started_ms ? output_time(r->started_ms, buf, sizeof buf) :
			   NULL);
		usage_cells(t, r);
	}
}

/* The line under the table for a service's operation in progress. */
static void status_op_note(FILE *out, const char *label, const char *kind,
			   const char *done)
{
	fprintf(out, "%s: %s in progress%s%s\n", label, kind,
		done && *done ? ": " : "", done ? done : "");
}

/* Appends the rows of one status JSON item: one per instance, or the
 * service's own ("state", else "desired"). */
static void status_service_rows(table *t, const json_t *svc, uint64_t now_ms)
{
	const json_t *insts = json_object_get(svc, "instances"), *inst, *e;
	rs_status_row r;
	int64_t v;
	size_t i;

	memset(&r, 0, sizeof r);
	r.label = jstr(svc, "label");
	json_array_foreach(insts, i, inst) {
		r.instance = jint(inst, "id", &v) == 0 && v > 0 ? (uint64_t)v : 0;
		r.state = jstr(inst, "state");
		r.standby = jstr(inst, "role") && strcmp(jstr(inst, "role"), "standby") == 0;
		r.node = jstr(inst, "node");
		r.pid = jint(inst, "pid", &v) == 0 && v >= 1 && v <= INT32_MAX ? (int32_t)v : 0;
		r.restarts = jint(inst, "restarts", &v) == 0 && v >= 0 && v <= UINT32_MAX ?
			     (uint32_t)v : 0;
		r.started_ms = jint(inst, "started_ms", &v) == 0 && v > 0 ? (uint64_t)v : 0;
		e = json_object_get(inst, "last_exit");
		r.exit_reason = jstr(e, "reason");
		r.exit_code = jint(e, "code", &v) == 0 ? (int32_t)v : 0;
		r.exit_signal = jint(e, "signal", &v) == 0 ? (int32_t)v : 0;
		r.status = jstr(inst, "status");
		/* RS_FEAT_USAGE; an older rsd's answer has none: "-" */
		r.cpu_ms = jint(inst, "cpu_ms", &v) == 0 && v > 0 ? (uint64_t)v : 0;
		r.memory = jint(inst, "memory", &v) == 0 && v > 0 ? (uint64_t)v : 0;
		r.memory_peak = jint(inst, "memory_peak", &v) == 0 && v > 0 ? (uint64_t)v : 0;
		r.tasks = jint(inst, "tasks", &v) == 0 && v > 0 && v <= UINT32_MAX ?
			  (uint32_t)v : 0;
		r.usage_ms = jint(inst, "usage_ms", &v) == 0 && v > 0 ? (uint64_t)v : 0;
		status_row_cells(t, &r, true, now_ms);
	}
	if (json_array_size(insts) > 0)
		return;
	r.state = jstr(svc, "state") ? jstr(svc, "state") : jstr(svc, "desired");
	status_row_cells(t, &r, false, now_ms);
}

/* The line under the table for item svc's operation, if it has one. */
static void status_item_note(FILE *out, const json_t *svc)
{
	const json_t *op = json_object_get(svc, "operation");

	if (json_is_object(op))
		status_op_note(out, jstr(svc, "label"), jstr(op, "kind"),
			       jstr(op, "progress"));
}

/* Renders {"services":[...]}. */
static int render_status(const json_t *root, uint64_t now_ms, FILE *out)
{
	const json_t *svcs = json_object_get(root, "services"), *svc;
	table *t;
	size_t i;

	if (!json_is_array(svcs))
		return -ENOENT;
	t = status_table();
	if (!t)
		return -ENOMEM;
	json_array_foreach(svcs, i, svc)
		status_service_rows(t, svc, now_ms);
	if (table_flush(&t, out) < 0)
		return -EIO;
	/* an operation in progress, under the table */
	json_array_foreach(svcs, i, svc)
		status_item_note(out, svc);
	return 0;
}

/* ---- top -------------------------------------------------------------- */

static const char *const top_cols[] = {
	"LABEL", "INSTANCE", "NODE", "PID", "CPU%", "CPU", "MEM", "PEAK", "TASKS",
	"SAMPLED",
};

/* By instance id, for bsearch. */
static int top_by_id(const void *a, const void *b)
{
	uint64_t x = ((const output_top_row *)a)->row.instance;
	uint64_t y = ((const output_top_row *)b)->row.instance;

	return x < y ? -1 : x > y;
}

/* A report of row r as usagesel_cpu_pct takes it. */
static rs_usage top_use(const rs_status_row *r)
{
	return (rs_usage){ .instance_id = r->instance, .cpu_ms = r->cpu_ms,
			   .time_ms = r->usage_ms };
}

void output_top_rate(output_top_row *v, size_t n, const output_top_row *old,
		     size_t nold)
{
	qsort(v, n, sizeof *v, top_by_id);
	for (size_t i = 0; i < n; i++) {
		output_top_row *x = &v[i];
		const output_top_row *o = nold ? bsearch(x, old, nold, sizeof *old,
							 top_by_id) : NULL;
		rs_usage cur = top_use(&x->row);

		x->prev = (rs_usage){ 0 };
		if (o && o->row.pid == x->row.pid)
			/* the report before this one, of this process */
			x->prev = o->row.usage_ms != x->row.usage_ms ? top_use(&o->row) :
				  o->prev;
		if (x->prev.time_ms) {
			x->cpu_pct = usagesel_cpu_pct(&x->prev, &cur);
		} else {
			/* one report so far: its share since the process began */
			rs_usage start = { .time_ms = x->row.started_ms };

			x->cpu_pct = usagesel_cpu_pct(&start, &cur);
		}
	}
}

static int top_key;

/* Highest first by top_key, then by label and instance. */
static int top_cmp(const void *a, const void *b)
{
	const output_top_row *x = *(const output_top_row *const *)a;
	const output_top_row *y = *(const output_top_row *const *)b;
	double dx, dy;
	int c;

	switch (top_key) {
	case OUTPUT_TOP_MEM:
		dx = (double)x->row.memory, dy = (double)y->row.memory;
		break;
	case OUTPUT_TOP_TASKS:
		dx = x->row.tasks, dy = y->row.tasks;
		break;
	default:
		dx = x->cpu_pct, dy = y->cpu_pct;
		break;
	}
	if (dx != dy)
		return dx < dy ? 1 : -1;
	if ((c = strcmp(x->label, y->label)) != 0)
		return c;
	return x->row.instance < y->row.instance ? -1 : x->row.instance > y->row.instance;
}

int output_top_print(const output_top_row *v, size_t n, int key, size_t max,
		     uint64_t now_ms, FILE *out)
{
	const output_top_row **p = malloc((n ? n : 1) * sizeof *p);
	table *t = table_new(top_cols, sizeof top_cols / sizeof *top_cols);
	char buf[32];
	int r;

	if (!p || !t) {
		free(p);
		table_destroy(&t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		p[i] = &v[i];
	top_key = key;
	qsort(p, n, sizeof *p, top_cmp);
	for (size_t i = 0; i < n && (!max || i < max); i++) {
		const rs_status_row *x = &p[i]->row;

		table_cell(t, p[i]->label);
		table_cell_u64(t, x->instance);
		table_cell(t, p[i]->node);
		if (x->pid >= 1)
			table_cell_u64(t, (uint64_t)x->pid);
		else
			table_cell(t, NULL);
		if (p[i]->cpu_pct >= 0)
			table_cellf(t, "%.1f", p[i]->cpu_pct);
		else
			table_cell(t, NULL);
		usage_cells(t, x);
		table_cell(t, output_duration(now_ms > x->usage_ms ? now_ms - x->usage_ms : 0,
					      0, buf, sizeof buf));
	}
	r = table_flush(&t, out) < 0 ? -EIO : 0;
	free(p);
	return r;
}

/* ---- nodes ------------------------------------------------------------ */

static const char *const node_cols[] = {
	"NODE", "STATE", "INSTANCES", "HEARTBEAT-AGE", "VERSION", "LABELS", "CGROUPS",
	"LIMITS", "PRIVS",
};

/* Appends one node row; the age comes from heartbeat_age_ms, else from
 * last_seen_ms. */
static void node_row(table *t, const json_t *node, uint64_t now_ms)
{
	char buf[32];
	int64_t age;

	cell_str(t, node, "name");
	snprintf(buf, sizeof buf, "%s%s", jstr(node, "state"),
		 json_is_true(json_object_get(node, "drained")) ? " (drained)" : "");
	table_cell(t, buf);
	cell_int(t, node, "instances", 0);
	if (jint(node, "heartbeat_age_ms", &age) == 0 && age >= 0)
		table_cell(t, output_duration((uint64_t)age, 1, buf,
					      sizeof buf));
	else
		cell_age(t, node, "last_seen_ms", now_ms, 1);
	cell_str(t, node, "agent_version");
	{
		const json_t *labels = json_object_get(node, "labels"), *l;
		char lab[256] = "";
		size_t i, off = 0;
		int64_t cap;

		json_array_foreach(labels, i, l) {
			int w = snprintf(lab + off, sizeof lab - off, "%s%s", off ? "," : "",
					 json_string_value(l) ? json_string_value(l) : "");
			if (w > 0 && (size_t)w < sizeof lab - off)
				off += (size_t)w;
		}
		if (jint(node, "capacity", &cap) == 0 && cap > 0)
			snprintf(lab + off, sizeof lab - off, "%scapacity=%lld", off ? " " : "",
				 (long long)cap);
		table_cell(t, lab[0] ? lab : "-");
	}
	{
		/* "yes": a cgroup per instance; "no": process groups only;
		 * "-": an agent (or rsd) before RS_FEAT_CGROUP */
		const char *cg = jstr(node, "cgroups");
		table_cell(t, !cg || !cg[0] ? "-" : strncmp(cg, "none", 4) ? "yes" : "no");
	}
	{
		/* the controllers it enforces limits with, "none", or "-":
		 * an agent (or rsd) before RS_FEAT_LIMITS */
		const char *ctl = jstr(node, "controllers");
		table_cell(t, !ctl || !ctl[0] ? "-" : ctl);
	}
	{
		/* what of a profile it can apply (lib/profile.h RS_PRIV_*),
		 * "none", or "-": an agent (or rsd) before RS_FEAT_PROFILE */
		const char *pv = jstr(node, "privs");
		table_cell(t, !pv || !pv[0] ? "-" : pv);
	}
}

/* Renders {"nodes":[...]}. */
static int render_nodes(const json_t *root, uint64_t now_ms, FILE *out)
{
	const json_t *nodes = json_object_get(root, "nodes"), *node;
	table *t;
	size_t i;
	int r;

	if (!json_is_array(nodes))
		return -ENOENT;
	t = table_new(node_cols, sizeof node_cols / sizeof *node_cols);
	if (!t)
		return -ENOMEM;
	json_array_foreach(nodes, i, node)
		node_row(t, node, now_ms);
	r = table_flush(&t, out);
	if (r == 0 && jstr(root, "rsd_version"))
		fprintf(out, "rsd %s (rsctl upgrade-plan: the version-skew policy)\n",
			jstr(root, "rsd_version"));
	return r;
}

/* ---- paged status and nodes ------------------------------------------ */

struct output_pager {
	rs_verb     verb;
	const char *key;        /* "services" or "nodes" */
	bool        json;
	FILE       *out;
	char        node[RS_NODE_MAX];         /* filters applied here */
	char        state[RS_STATE_NAME_MAX];
	size_t      pages, items;
	json_t     *rest;       /* the first page's other members (rsd_version) */
	table      *t;          /* table mode: every page's rows */
	char       *notes;      /* table mode: "web: update in progress" lines */
	size_t      notes_len;
	FILE       *notes_f;
};

output_pager *output_pager_new(rs_verb verb, bool json, FILE *out)
{
	output_pager *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->verb = verb;
	p->key = verb == RS_V_STATUS ? "services" : "nodes";
	p->json = json;
	p->out = out;
	if (!json) {
		p->t = verb == RS_V_STATUS ? status_table() :
		       table_new(node_cols, sizeof node_cols / sizeof *node_cols);
		p->notes_f = open_memstream(&p->notes, &p->notes_len);
		if (!p->t || !p->notes_f)
			output_pager_destroy(&p);
	}
	return p;
}

void output_pager_filter(output_pager *p, const char *node, const char *state)
{
	snprintf(p->node, sizeof p->node, "%s", node ? node : "");
	snprintf(p->state, sizeof p->state, "%s", state ? state : "");
}

/* Whether the filter keeps status item svc, after dropping the instances
 * it does not keep (the rule rsd applies: a service without instances is
 * one "down" row without a node). */
static bool pager_keeps_svc(const output_pager *p, json_t *svc)
{
	json_t *insts = json_object_get(svc, "instances");
	bool had = json_array_size(insts) > 0;

	for (size_t i = json_array_size(insts); i-- > 0;) {
		const json_t *in = json_array_get(insts, i);
		if ((p->node[0] && strcmp(jstr(in, "node") ? jstr(in, "node") : "", p->node)) ||
		    (p->state[0] && strcmp(jstr(in, "state") ? jstr(in, "state") : "", p->state)))
			json_array_remove(insts, i);
	}
	if (had)
		return json_array_size(insts) > 0;
	return !p->node[0] && (!p->state[0] || !strcmp(p->state, "down"));
}

static bool pager_keeps(const output_pager *p, json_t *item)
{
	if (!p->node[0] && !p->state[0])
		return true;
	if (p->verb == RS_V_STATUS)
		return pager_keeps_svc(p, item);
	return !p->state[0] || !strcmp(jstr(item, "state") ? jstr(item, "state") : "",
				       p->state);
}

/* Emits one kept item: --json streams it, else its rows join the table. */
static int pager_item(output_pager *p, json_t *item, uint64_t now_ms)
{
	if (p->json) {
		if (p->items && fputc(',', p->out) == EOF)
			return -EIO;
		if (json_dumpf(item, p->out, JSON_COMPACT) < 0)
			return -ENOMEM;
	} else if (p->verb == RS_V_STATUS) {
		status_service_rows(p->t, item, now_ms);
		status_item_note(p->notes_f, item);
	} else {
		node_row(p->t, item, now_ms);
	}
	p->items++;
	return 0;
}

int output_pager_add(output_pager *p, const char *page_json, uint64_t now_ms)
{
	json_t *root = page_json ? json_loads(page_json, 0, NULL) : NULL;
	json_t *arr = json_object_get(root, p->key), *item;
	size_t i;
	int r = 0;

	if (!json_is_array(arr)) {
		json_decref(root);
		return -EINVAL;
	}
	if (!p->pages++) {
		p->rest = json_deep_copy(root);
		json_object_del(p->rest, p->key);
		if (p->json && fprintf(p->out, "{\"%s\":[", p->key) < 0)
			r = -EIO;
	}
	json_array_foreach(arr, i, item)
		if (r == 0 && pager_keeps(p, item))
			r = pager_item(p, item, now_ms);
	json_decref(root);
	return r;
}

int output_pager_add_rows(output_pager *p, const rs_status_row *rows,
			  size_t n, uint64_t now_ms)
{
	if (p->verb != RS_V_STATUS || p->json)
		return -EINVAL;
	p->pages++;
	for (size_t i = 0; i < n; i++) {
		const rs_status_row *r = &rows[i];

		status_row_cells(p->t, r, r->instance != 0, now_ms);
		if (r->op_kind && r->op_kind[0])
			status_op_note(p->notes_f, r->label, r->op_kind, r->op_progress);
	}
	p->items += n;
	return 0;
}

int output_pager_end(output_pager *p)
{
	const char *k;
	json_t *v;
	int r = 0;

	if (p->json) {
		if (!p->pages)
			fprintf(p->out, "{\"%s\":[", p->key);
		fputc(']', p->out);
		json_object_foreach(p->rest, k, v) {
			char *js = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			json_t *ks = json_string(k);
			char *kjs = ks ? json_dumps(ks, JSON_ENCODE_ANY) : NULL;

			if (js && kjs)
				fprintf(p->out, ",%s:%s", kjs, js);
			else
				r = -ENOMEM;
			free(js);
			free(kjs);
			json_decref(ks);
		}
		fputs("}\n", p->out);
		return r;
	}
	fflush(p->notes_f);
	if (table_print(p->t, p->out) < 0)
		return -ENOMEM;
	if (p->notes_len)
		fwrite(p->notes, 1, p->notes_len, p->out);
	if (p->verb == RS_V_NODES && jstr(p->rest, "rsd_version"))
		fprintf(p->out, "rsd %s (rsctl upgrade-plan: the version-skew policy)\n",
			jstr(p->rest, "rsd_version"));
	return 0;
}

void output_pager_destroy(output_pager **pp)
{
	output_pager *p = pp ? *pp : NULL;

	if (!p)
		return;
	table_destroy(&p->t);
	if (p->notes_f)
		fclose(p->notes_f);
	free(p->notes);
	json_decref(p->rest);
	free(p);
	*pp = NULL;
}

/* ---- lookup ----------------------------------------------------------- */

/* Renders {"label","node","pid","state"} as "web node n1 pid 123 (running)". */
static int render_lookup(const json_t *root, uint64_t now_ms, FILE *out)
{
	int64_t pid;

	if (!jstr(root, "label"))
		return -ENOENT;
	put_field(out, jstr(root, "label"));
	fputs(" node ", out);
	put_field(out, jstr(root, "node"));
	if (jint(root, "pid", &pid) == 0 && pid > 0)
		fprintf(out, " pid %" PRId64 " (", pid);
	else
		fputs(" pid - (", out);
	put_field(out, jstr(root, "state"));
	fputs(")\n", out);
	return 0;
}

/* ---- events ----------------------------------------------------------- */

static const char *const event_cols[] = {
	"TIME", "LABEL", "INSTANCE", "NODE", "KIND", "ACTOR", "DETAIL",
};
static const char *const event_cols_one[] = {   /* one label's */
	"TIME", "INSTANCE", "NODE", "KIND", "ACTOR", "DETAIL",
};

/* Appends one event row (with its label: not in describe's, all one's). */
static void event_row(table *t, const json_t *ev, bool label)
{
	char buf[48];
	int64_t at;

	if (jint(ev, "time_ms", &at) == 0 && at > 0)
		table_cell(t, output_time((uint64_t)at, buf, sizeof buf));
	else
		table_cell(t, NULL);
	if (label)
		cell_str(t, ev, "label");
	cell_int(t, ev, "instance", 1);
	cell_str(t, ev, "node");
	cell_str(t, ev, "kind");
	cell_str(t, ev, "actor");
	cell_str(t, ev, "detail");
}

/* Renders {"events":[...]}. */
static int render_events(const json_t *root, uint64_t now_ms, FILE *out)
{
	const json_t *evs = json_object_get(root, "events"), *ev;
	table *t;
	size_t i;

	if (!json_is_array(evs))
		return -ENOENT;
	t = table_new(event_cols, sizeof event_cols / sizeof *event_cols);
	if (!t)
		return -ENOMEM;
	json_array_foreach(evs, i, ev)
		event_row(t, ev, true);
	return table_flush(&t, out);
}

/* ---- history ---------------------------------------------------------- */

static const char *const history_cols[] = {
	"REV", "TIME", "ACTOR", "KIND", "COMMAND",
};

/* Renders history's {"label","revisions":[...]}, oldest first; the
 * command's words joined by spaces (table cells show what is odd). */
static int render_history(const json_t *root, uint64_t now_ms, FILE *out)
{
	const json_t *revs = json_object_get(root, "revisions"), *rev, *v;
	char cmd[1024], buf[48];
	table *t;
	size_t i, k, off;
	int64_t at;

	(void)now_ms;
	if (!json_is_array(revs))
		return -ENOENT;
	t = table_new(history_cols, sizeof history_cols / sizeof *history_cols);
	if (!t)
		return -ENOMEM;
	json_array_foreach(revs, i, rev) {
		cell_int(t, rev, "revision", 1);
		if (jint(rev, "time_ms", &at) == 0 && at > 0)
			table_cell(t, output_time((uint64_t)at, buf, sizeof buf));
		else
			table_cell(t, NULL);
		cell_str(t, rev, "actor");
		cell_str(t, rev, "kind");
		off = 0;
		cmd[0] = '\0';
		json_array_foreach(json_object_get(rev, "command"), k, v) {
			int w = snprintf(cmd + off, sizeof cmd - off, "%s%s", k ? " " : "",
					 json_string_value(v) ? json_string_value(v) : "");
			if (w < 0 || (size_t)w >= sizeof cmd - off)
				break;
			off += (size_t)w;
		}
		table_cell(t, cmd);
	}
	return table_flush(&t, out);
}

/* ---- describe --------------------------------------------------------- */

#define DESCRIBE_KEY_WIDTH 18   /* the keys' column: "Recovery script:" and room */

/* Prints table *tp indented by two spaces under a heading, and frees it.
 * Returns 0, -ENOMEM. */
static int table_flush_indented(table **tp, FILE *out)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int r;

	if (!mem) {
		table_destroy(tp);
		return -ENOMEM;
	}
	r = table_flush(tp, mem);
	if (fclose(mem) != 0 && r == 0)
		r = -ENOMEM;
	for (line = r == 0 && text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		fprintf(out, "  %s\n", line);
	free(text);
	return r;
}

/* Prints "  Key:   " padded to the value column. */
static void put_key(FILE *out, const char *key)
{
	size_t w = strlen(key) + 1;   /* "Key:" */

	fprintf(out, "  %s:", key);
	put_spaces(out, (w < DESCRIBE_KEY_WIDTH ? DESCRIBE_KEY_WIDTH - w : 0) + 1);
}

/* "  Key:   value" ("-" when empty). */
static void put_kv(FILE *out, const char *key, const char *value)
{
	put_key(out, key);
	put_field(out, value);
	fputc('\n', out);
}

/* "  Key:   value" from a printf format. */
__attribute__((format(printf, 3, 4)))
static void put_kvf(FILE *out, const char *key, const char *fmt, ...)
{
	char buf[RS_DETAIL_MAX + 256];   /* an operation's progress and more */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	put_kv(out, key, buf);
}

/* A list of strings, one a line under the first ("-" when empty). */
static void put_kv_list(FILE *out, const char *key, const json_t *arr)
{
	const json_t *v;
	size_t i;

	put_key(out, key);
	if (json_array_size(arr) == 0)
		fputs("-\n", out);
	json_array_foreach(arr, i, v) {
		if (i)
			put_spaces(out, 2 + DESCRIBE_KEY_WIDTH + 1);
		put_field(out, json_string_value(v));
		fputc('\n', out);
	}
}

/* Writes an argument as a shell reads it: quoted when empty or when it
 * holds a character the shell would split or expand on. */
static void put_arg(FILE *out, const char *a)
{
	if (*a && !a[strcspn(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!")]) {
		put_field(out, a);
		return;
	}
	fputc('\'', out);
	for (; *a; a++) {
		if (*a == '\'')
			fputs("'\\''", out);
		else
			fputc((unsigned char)*a < 0x20 || *a == 0x7f ? '?' : *a, out);
	}
	fputc('\'', out);
}

/* o[key], a duration in ms, as "10s", "500ms"; zero (if not NULL) for 0,
 * "-" when absent. */
static const char *fmt_ms(const json_t *o, const char *key, const char *zero,
			  char *buf, size_t len)
{
	int64_t ms;

	if (jint(o, key, &ms) != 0 || ms < 0)
		return "-";
	if (ms == 0 && zero)
		return zero;
	/* "2s" for whole seconds, "2.5s" or "500ms" otherwise */
	return output_duration((uint64_t)ms, ms % 1000 != 0, buf, len);
}

/* The signal number o[key] as "SIGTERM" (or its number). */
static const char *fmt_signal(const json_t *o, const char *key, char *buf,
			      size_t len)
{
	const char *name;
	int64_t sig;

	if (jint(o, key, &sig) != 0)
		return "-";
	name = sig > 0 && sig < 1024 ? sigabbrev_np((int)sig) : NULL;
	if (name)
		snprintf(buf, len, "SIG%s", name);
	else
		snprintf(buf, len, "%" PRId64, sig);
	return buf;
}


/* describe: each probe on one line, "Liveness probe  http http://...
 * every 1s, timeout 1s, 3 failures, delay 0s" (an rsd without probes
 * sends none: nothing printed). */
static void describe_probes(FILE *out, const json_t *probes)
{
	static const char *const roles[] = { "liveness", "readiness", "startup" };
	static const char *const keys[] = {
		"Liveness probe", "Readiness probe", "Startup probe",
	};
	char a[32], b[32], c[32], target[512];

	for (size_t r = 0; r < 3; r++) {
		const json_t *p = json_object_get(probes, roles[r]), *v;
		int64_t fails = 0, lo = 0, hi = 0;
		size_t i, len = 0;

		if (!json_is_object(p))
			continue;
		target[0] = '\0';
		if (json_object_get(p, "command")) {
			json_array_foreach(json_object_get(p, "command"), i, v)
				if (len < sizeof target)
					len += (size_t)snprintf(target + len, sizeof target - len,
							"%s%s", i ? " " : "",
							json_string_value(v) ? json_string_value(v) : "");
		} else {
			snprintf(target, sizeof target, "%s", jstr(p, "target") ? jstr(p, "target") : "");
		}
		jint(p, "failures", &fails);
		jint(p, "status_min", &lo);
		jint(p, "status_max", &hi);
		const char *kind = jstr(p, "kind") ? jstr(p, "kind") : "?";
		char status[48] = "";

		if (!strcmp(kind, "http"))
			snprintf(status, sizeof status, ", passes on %" PRId64 "-%" PRId64, lo, hi);
		put_kvf(out, keys[r], "%s %s every %s, timeout %s, %" PRId64 " failure%s "
			"in a row, delay %s%s", kind, target,
			fmt_ms(p, "period_ms", "0s", a, sizeof a),
			fmt_ms(p, "timeout_ms", "0s", b, sizeof b), fails,
			fails == 1 ? "" : "s", fmt_ms(p, "initial_delay_ms", "0s", c, sizeof c),
			status);
	}
}

/* The spec section. */
static void describe_spec(FILE *out, const json_t *sp)
{
	const json_t *cmd = json_object_get(sp, "command"), *v;
	const json_t *bo = json_object_get(sp, "backoff");
	char a[32], b[32], c[32];
	const char *node = jstr(sp, "node"), *user = jstr(sp, "user");
	int64_t n;
	size_t i;

	fputs("Spec:\n", out);
	put_key(out, "Command");
	json_array_foreach(cmd, i, v) {
		if (i)
			fputc(' ', out);
		put_arg(out, json_string_value(v) ? json_string_value(v) : "");
	}
	fputc('\n', out);
	put_kv_list(out, "Environment", json_object_get(sp, "env"));
	put_kv(out, "Working dir", jstr(sp, "cwd"));
	if (user && *user)
		put_kvf(out, "User", "%s%s", user,
			json_is_true(json_object_get(sp, "keep_caps")) ?
			" (capabilities kept)" : "");
	else
		put_kv(out, "User", "the agent's");
	put_kvf(out, "Replicas", "%" PRId64, jint(sp, "replicas", &n) == 0 ? n : 0);
	put_kv(out, "Node", node && *node ? node : "any");
	put_kv_list(out, "Placement", json_object_get(sp, "placement"));
	put_kv_list(out, "Listen", json_object_get(sp, "listen"));
	put_kv_list(out, "Depends on", json_object_get(sp, "depends_on"));
	put_kv(out, "Restart policy", jstr(sp, "restart_policy"));
	if (json_is_true(json_object_get(bo, "disabled")))
		put_kv(out, "Backoff", "none (restart at once)");
	else
		put_kvf(out, "Backoff", "%s, x%" PRId64 " each time, at most %s; "
			"reset after %s up", fmt_ms(bo, "initial_ms", NULL, a, sizeof a),
			jint(bo, "factor", &n) == 0 ? n : 0,
			fmt_ms(bo, "max_ms", NULL, b, sizeof b),
			fmt_ms(bo, "reset_ms", NULL, c, sizeof c));
	put_kv(out, "Watchdog period", fmt_ms(sp, "period_ms", "none", a, sizeof a));
	put_kv(out, "Ready timeout", fmt_ms(sp, "ready_timeout_ms", "none", a, sizeof a));
	put_kv(out, "Notify", jstr(sp, "notify"));
	put_kv(out, "Settle", fmt_ms(sp, "settle_ms", "0s", a, sizeof a));
	put_kvf(out, "Stop", "%s, then SIGKILL after %s",
		fmt_signal(sp, "stop_signal", b, sizeof b),
		fmt_ms(sp, "stop_timeout_ms", "0s", a, sizeof a));
	put_kv(out, "Reload signal", fmt_signal(sp, "reload_signal", b, sizeof b));
	put_kv(out, "Critical", json_is_true(json_object_get(sp, "critical")) ?
	       "yes" : "no");
	put_kv(out, "Recovery script", jstr(sp, "script"));
	put_kv(out, "Fence", jstr(sp, "fence"));
	describe_probes(out, json_object_get(sp, "probes"));
	{
		/* "memory max 256M, high 200M; cpu weight 100, max 50%;
		 * pids max 64", or none (an rsd before 0.3: no key) */
		const json_t *l = json_object_get(sp, "limits");
		static const char *const keys[] = { "memory_max", "memory_high",
						    "cpu_weight", "cpu_max", "pids_max" };
		static const char *const names[] = { "memory max", "memory high",
						     "cpu weight", "cpu max", "pids max" };
		char text[256] = "", lv[32];
		size_t off = 0;
		int64_t lim;

		for (int k = 0; json_is_object(l) && k < 5; k++) {
			if (jint(l, keys[k], &lim) != 0 || lim <= 0)
				continue;
			if (k < 2)
				rs_size_format((uint64_t)lim, lv, sizeof lv);
			else
				snprintf(lv, sizeof lv, "%lld%s", (long long)lim, k == 3 ? "%" : "");
			off += (size_t)snprintf(text + off, sizeof text - off, "%s%s %s",
						off ? ", " : "", names[k], lv);
			if (off >= sizeof text)
				break;
		}
		put_kv(out, "Limits", text[0] ? text : "none");
		/* the profile in the store's words, or none */
		put_kv(out, "Profile", jstr(sp, "profile_text") && jstr(sp, "profile_text")[0] ?
		       jstr(sp, "profile_text") : "none");
	}
}

static const char *const describe_inst_cols[] = {
	"ID", "NODE", "STATE", "PID", "RESTARTS", "STARTED", "LAST-EXIT",
	"EXITED", "STATUS",
};

/* One row of the instances section. */
static void describe_inst_row(table *t, const json_t *in)
{
	const json_t *e = json_object_get(in, "last_exit");
	const char *role = jstr(in, "role"), *ns = jstr(in, "node_state");
	bool odd = ns && *ns && strcmp(ns, "up") != 0;
	char buf[96], when[48];
	int64_t code = 0, sig = 0, at;

	cell_int(t, in, "id", 1);
	/* a node that is not up says so: its instance's state is old news */
	snprintf(buf, sizeof buf, "%s%s%s%s", jstr(in, "node") ? jstr(in, "node") : "",
		 odd ? " (" : "", odd ? ns : "", odd ? ")" : "");
	table_cell(t, buf);
	snprintf(buf, sizeof buf, "%s%s", jstr(in, "state") ? jstr(in, "state") : "",
		 role && !strcmp(role, "standby") ? " (standby)" : "");
	table_cell(t, buf);
	cell_int(t, in, "pid", 1);
	cell_int(t, in, "restarts", 0);
	if (jint(in, "started_ms", &at) == 0 && at > 0)
		table_cell(t, output_time((uint64_t)at, when, sizeof when));
	else
		table_cell(t, NULL);
	jint(e, "code", &code);
	jint(e, "signal", &sig);
	table_cell(t, fmt_exit(jstr(e, "reason"), code, sig, buf, sizeof buf));
	if (jint(e, "time_ms", &at) == 0 && at > 0 && strcmp(buf, "-"))
		table_cell(t, output_time((uint64_t)at, when, sizeof when));
	else
		table_cell(t, NULL);
	cell_str(t, in, "status");
}

/* Renders describe's answer: the service, its spec, its instances, the
 * operation in progress and its last events, a section each. */
static int render_describe(const json_t *root, uint64_t now_ms, FILE *out)
{
	const json_t *insts = json_object_get(root, "instances"), *in;
	const json_t *evs = json_object_get(root, "events"), *ev;
	const json_t *op = json_object_get(root, "operation");
	char buf[48];
	table *t;
	int64_t at;
	size_t i;
	int r;

	if (!jstr(root, "label") || !json_is_object(json_object_get(root, "spec")))
		return -ENOENT;
	fputs("Service:\n", out);
	put_kv(out, "Label", jstr(root, "label"));
	put_kvf(out, "State", "%s (desired %s)", jstr(root, "state") ? jstr(root, "state") : "-",
		jstr(root, "desired") ? jstr(root, "desired") : "-");
	put_kvf(out, "Generation", "%" PRId64, jint(root, "generation", &at) == 0 ? at : 0);
	put_kv(out, "Created", jint(root, "created_ms", &at) == 0 && at > 0 ?
	       output_time((uint64_t)at, buf, sizeof buf) : NULL);
	put_kv(out, "Updated", jint(root, "updated_ms", &at) == 0 && at > 0 ?
	       output_time((uint64_t)at, buf, sizeof buf) : NULL);
	if (json_is_object(op)) {
		const char *prog = jstr(op, "progress"), *caller = jstr(op, "caller");

		put_kvf(out, "Operation", "%s in progress since %s%s%s%s%s",
			jstr(op, "kind") ? jstr(op, "kind") : "-",
			jint(op, "started_ms", &at) == 0 && at > 0 ?
			output_time((uint64_t)at, buf, sizeof buf) : "-",
			caller && *caller ? " by " : "", caller ? caller : "",
			prog && *prog ? ": " : "", prog ? prog : "");
	} else {
		put_kv(out, "Operation", "none");
	}
	if (json_is_object(json_object_get(root, "waiting"))) {
		/* rsd found no node for some of its instances (0.3) */
		const json_t *w = json_object_get(root, "waiting");
		int64_t missing = 0;

		jint(w, "missing", &missing);
		put_kvf(out, "Waiting", "for a node to take %" PRId64 " instance%s, since %s "
			"(no node up, or none its placement allows; rsd tries every second)",
			missing, missing == 1 ? "" : "s",
			jint(w, "since_ms", &at) == 0 && at > 0 ?
			output_time((uint64_t)at, buf, sizeof buf) : "-");
	}
	fputc('\n', out);
	describe_spec(out, json_object_get(root, "spec"));

	fputs("\nInstances:\n", out);
	if (json_array_size(insts) == 0) {
		fputs("  none\n", out);
	} else {
		t = table_new(describe_inst_cols, sizeof describe_inst_cols /
			      sizeof *describe_inst_cols);
		if (!t)
			return -ENOMEM;
		json_array_foreach(insts, i, in)
			describe_inst_row(t, in);
		if ((r = table_flush_indented(&t, out)) < 0)
			return r;
	}

	fprintf(out, "\nEvents (the last %zu, newest last):\n", json_array_size(evs));
	if (json_array_size(evs) == 0) {
		fputs("  none\n", out);
		return 0;
	}
	t = table_new(event_cols_one, sizeof event_cols_one / sizeof *event_cols_one);
	if (!t)
		return -ENOMEM;
	json_array_foreach(evs, i, ev)
		event_row(t, ev, false);
	return table_flush_indented(&t, out);
}

/* ---- credentials ------------------------------------------------------ */

static const char *const cred_cols[] = {
	"KIND", "NAME", "ROLE", "LABELS", "KEY", "CREATED", "REVOKED", "BY",
};

/* Renders {"credentials":[...]}: the key shown by its first 8 characters. */
static int render_creds(const json_t *root, uint64_t now_ms, FILE *out)
{
	const json_t *arr = json_object_get(root, "credentials"), *cr;
	table *t;
	size_t i;

	if (!json_is_array(arr))
		return -ENOENT;
	t = table_new(cred_cols, sizeof cred_cols / sizeof *cred_cols);
	if (!t)
		return -ENOMEM;
	json_array_foreach(arr, i, cr) {
		char key[16], buf[48];
		const char *k = jstr(cr, "public_key");
		int64_t at;

		cell_str(t, cr, "kind");
		cell_str(t, cr, "name");
		cell_str(t, cr, "role");
		cell_str(t, cr, "labels");
		snprintf(key, sizeof key, "%.8s", k ? k : "");
		table_cell(t, key);
		for (int w = 0; w < 2; w++) {
			if (jint(cr, w ? "revoked_ms" : "created_ms", &at) == 0 && at > 0)
				table_cell(t, output_time((uint64_t)at, buf, sizeof buf));
			else
				table_cell(t, NULL);
		}
		cell_str(t, cr, "created_by");
	}
	return table_flush(&t, out);
}

/* ---- upgrade-plan ----------------------------------------------------- */

static const char *const plan_cols[] = { "NODE", "STATE", "VERSION", "SKEW", "ADVICE" };

/* Renders the plan: rsd's version, a row per node, the verdict. */
static int render_plan(const json_t *root, uint64_t now_ms, FILE *out)
{
	const json_t *nodes = json_object_get(root, "nodes"), *n;
	table *t;
	size_t i;
	int r;

	if (!json_is_array(nodes) || !jstr(root, "rsd_version"))
		return -ENOENT;
	fprintf(out, "rsd %s; policy: %s\n", jstr(root, "rsd_version"),
		jstr(root, "policy") ? jstr(root, "policy") : "");
	t = table_new(plan_cols, sizeof plan_cols / sizeof *plan_cols);
	if (!t)
		return -ENOMEM;
	json_array_foreach(nodes, i, n) {
		cell_str(t, n, "name");
		cell_str(t, n, "state");
		cell_str(t, n, "version");
		cell_str(t, n, "skew");
		cell_str(t, n, "advice");
	}
	r = table_flush(&t, out);
	fprintf(out, "%s; %s\n", json_is_true(json_object_get(root, "inside_policy")) ?
		"inside the policy" : "OUTSIDE the policy",
		jstr(root, "next") ? jstr(root, "next") : "");
	return r;
}

/* ---- entry points ----------------------------------------------------- */

typedef int (*render_fn)(const json_t *root, uint64_t now_ms, FILE *out);

/* Renders {"added":[..],"changed":[..],"removed":[..],"unchanged":[..]}. */
static int render_apply(const json_t *root, uint64_t now_ms, FILE *out)
{
	static const struct { const char *key, *mark; } parts[] = {
		{ "added", "+" }, { "changed", "~" }, { "removed", "-" },
		{ "unchanged", "=" },
	};
	const json_t *l;
	size_t i;

	for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++)
		json_array_foreach(json_object_get(root, parts[p].key), i, l)
			fprintf(out, "%s %s\n", parts[p].mark, json_string_value(l));
	return -ENOENT;   /* and the summary message */
}

/* Renders {"data": "..."}: the output as it was written. */
static int render_logs(const json_t *root, uint64_t now_ms, FILE *out)
{
	const json_t *data = json_object_get(root, "data");

	if (json_is_string(data))
		fwrite(json_string_value(data), 1, json_string_length(data), out);
	return 0;
}

static const render_fn renderers[RS_V__NR] = {
	[RS_V_LOGS]   = render_logs,
	[RS_V_APPLY]  = render_apply,
	[RS_V_STATUS] = render_status,
	[RS_V_NODES]  = render_nodes,
	[RS_V_LOOKUP] = render_lookup,
	[RS_V_EVENTS] = render_events,
	[RS_V_CRED_LIST] = render_creds,
	[RS_V_UPGRADE_PLAN] = render_plan,
	[RS_V_DESCRIBE] = render_describe,
	[RS_V_HISTORY] = render_history,
};

int output_human(rs_verb verb, const char *json, uint64_t now_ms, FILE *out)
{
	render_fn fn = (unsigned)verb < RS_V__NR ? renderers[verb] : NULL;
	json_t *root;
	int r;

	if (!fn || !json || !*json)
		return -ENOENT;
	root = json_loads(json, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return -ENOENT;
	}
	r = fn(root, now_ms, out);
	json_decref(root);
	return r;
}

int output_json(const char *json, FILE *out)
{
	json_t *root = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
	size_t len;

	if (!root)
		return -EINVAL;
	json_decref(root);
	len = strlen(json);
	while (len > 0 && strchr(" \t\r\n", json[len - 1]))
		len--;
	fwrite(json, 1, len, out);
	fputc('\n', out);
	return 0;
}

int output_json_message(int code, const char *message, FILE *out)
{
	json_t *o = json_pack("{s:i, s:s}", "code", code, "message",
			      message ? message : "");
	int r;

	if (!o)
		return -ENOMEM;
	r = json_dumpf(o, out, JSON_COMPACT);
	json_decref(o);
	if (r < 0)
		return -ENOMEM;
	fputc('\n', out);
	return 0;
}

/* ---- progress of long operations -------------------------------------- */

/* One instance as a status payload shows it. */
typedef struct pg_inst {
	char     label[RS_LABEL_MAX];
	uint64_t id;
	char     node[RS_NODE_MAX];
	char     state[16];
	int64_t  pid;
	bool     standby;
} pg_inst;

typedef struct pg_snap {
	pg_inst *v;
	size_t   n;
} pg_snap;

struct progress {
	pg_snap base;   /* before the operation */
	pg_snap last;   /* the latest status */
	const char *arrow;
};

static void pg_snap_free(pg_snap *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Fills s (empty) from a status payload. 0, -EINVAL (bad shape), -ENOMEM. */
static int pg_snap_parse(const char *json, pg_snap *s)
{
	json_t *root = json ? json_loads(json, 0, NULL) : NULL;
	json_t *svcs = json_object_get(root, "services"), *svc, *in;
	size_t i, k, n = 0;
	int r = 0;

	if (!json_is_array(svcs)) {
		json_decref(root);
		return -EINVAL;
	}
	json_array_foreach(svcs, i, svc)
		n += json_array_size(json_object_get(svc, "instances"));
	s->v = calloc(n ? n : 1, sizeof *s->v);
	if (!s->v)
		r = -ENOMEM;
	json_array_foreach(svcs, i, svc) {
		json_array_foreach(json_object_get(svc, "instances"), k, in) {
			pg_inst *p;
			int64_t id = 0;
			if (r < 0 || jint(in, "id", &id) != 0)
				continue;
			p = &s->v[s->n++];
			snprintf(p->label, sizeof p->label, "%s", jstr(svc, "label") ? jstr(svc, "label") : "?");
			p->id = (uint64_t)id;
			snprintf(p->node, sizeof p->node, "%s", jstr(in, "node") ? jstr(in, "node") : "-");
			snprintf(p->state, sizeof p->state, "%s", jstr(in, "state") ? jstr(in, "state") : "?");
			if (jint(in, "pid", &p->pid) != 0)
				p->pid = 0;
			p->standby = jstr(in, "role") && !strcmp(jstr(in, "role"), "standby");
		}
	}
	json_decref(root);
	return r;
}

static const pg_inst *pg_find(const pg_snap *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].id == id)
			return &s->v[i];
	return NULL;
}

static bool pg_live(const char *state)
{
	static const char *const live[] = { "pending", "starting", "running",
					    "stopping", "backoff" };

	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (!strcmp(state, live[i]))
			return true;
	return false;
}

/* A state an instance only passes through on its way somewhere. */
static bool pg_moving(const char *state)
{
	return !strcmp(state, "pending") || !strcmp(state, "starting") ||
	       !strcmp(state, "stopping");
}

progress *progress_new(const char *status_json, bool utf8)
{
	progress *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->arrow = utf8 ? "\u2192" : "->";
	if (pg_snap_parse(status_json, &p->base) < 0 ||
	    pg_snap_parse(status_json, &p->last) < 0)
		progress_destroy(&p);
	return p;
}

void progress_destroy(progress **pp)
{
	progress *p = pp ? *pp : NULL;

	if (!p)
		return;
	pg_snap_free(&p->base);
	pg_snap_free(&p->last);
	free(p);
	*pp = NULL;
}

/* "  web#3 on n2: " */
static void pg_head(FILE *out, const pg_inst *x)
{
	fputs("  ", out);
	put_field(out, x->label);
	fprintf(out, "#%" PRIu64 " on ", x->id);
	put_field(out, x->node);
	fputs(": ", out);
}

int progress_update(progress *p, const char *status_json, FILE *out)
{
	pg_snap now = { 0 };
	int r = pg_snap_parse(status_json, &now), lines = 0;

	if (r < 0) {
		pg_snap_free(&now);
		return r;
	}
	for (size_t i = 0; i < now.n; i++) {
		const pg_inst *x = &now.v[i], *was = pg_find(&p->last, x->id);
		if (was && !strcmp(was->state, x->state) && !strcmp(was->node, x->node))
			continue;
		pg_head(out, x);
		if (!was)
			fputs("new", out);
		else
			put_field(out, was->state);
		if (was && strcmp(was->node, x->node)) {
			fputs(" on ", out);
			put_field(out, was->node);
		}
		fprintf(out, " %s ", p->arrow);
		put_field(out, x->state);
		fputc('\n', out);
		lines++;
	}
	for (size_t i = 0; i < p->last.n; i++) {
		const pg_inst *was = &p->last.v[i];
		if (pg_find(&now, was->id))
			continue;
		pg_head(out, was);
		put_field(out, was->state);
		fprintf(out, " %s gone\n", p->arrow);
		lines++;
	}
	pg_snap_free(&p->last);
	p->last = now;
	return lines;
}

bool progress_settled(const progress *p)
{
	for (size_t i = 0; i < p->last.n; i++)
		if (pg_moving(p->last.v[i].state))
			return false;
	return true;
}

/* What changed from the first snapshot to the last, for the summary. */
typedef struct pg_counts {
	size_t started;   /* running now with another pid than before */
	size_t stopped;   /* live before, not now (or gone) */
	size_t moved;     /* on another node than before; moved_running of them run */
	size_t moved_running;
} pg_counts;

static pg_counts pg_count(const progress *p, const char *from_node)
{
	pg_counts c = { 0 };

	for (size_t i = 0; i < p->last.n; i++) {
		const pg_inst *x = &p->last.v[i], *was = pg_find(&p->base, x->id);
		bool running = !strcmp(x->state, "running");
		c.started += running && (!was || was->pid != x->pid);
		c.stopped += was && pg_live(was->state) && !pg_live(x->state);
		if (was && strcmp(was->node, x->node) &&
		    (!from_node || !strcmp(was->node, from_node))) {
			c.moved++;
			c.moved_running += running;
		}
	}
	for (size_t i = 0; i < p->base.n; i++)
		c.stopped += pg_live(p->base.v[i].state) && !pg_find(&p->last, p->base.v[i].id);
	return c;
}

/* Running (not standby) instances of label in the last snapshot. */
static size_t pg_running(const progress *p, const char *label)
{
	size_t n = 0;

	for (size_t i = 0; i < p->last.n; i++)
		n += !strcmp(p->last.v[i].label, label) && !p->last.v[i].standby &&
		     !strcmp(p->last.v[i].state, "running");
	return n;
}

void progress_summary(const progress *p, const rs_request *rq,
		      const char *reply_json, uint64_t elapsed_ms, FILE *out)
{
	pg_counts c = pg_count(p, rq->verb == RS_V_DRAIN ? rq->label : NULL);
	json_t *root = reply_json ? json_loads(reply_json, 0, NULL) : NULL;

	fputs(rs_verb_to_string(rq->verb), out);
	switch (rq->verb) {
	case RS_V_UP:
		fputc(' ', out);
		put_field(out, rq->label);
		fprintf(out, ": %zu/%u running", pg_running(p, rq->label),
			rq->spec.replicas);
		break;
	case RS_V_APPLY:
		fprintf(out, ": %zu started, %zu changed, %zu stopped, %zu unchanged",
			json_array_size(json_object_get(root, "added")),
			json_array_size(json_object_get(root, "changed")),
			json_array_size(json_object_get(root, "removed")),
			json_array_size(json_object_get(root, "unchanged")));
		break;
	case RS_V_DRAIN:
		fputc(' ', out);
		put_field(out, rq->label);
		fprintf(out, ": %zu moved, %zu/%zu running", c.moved,
			c.moved_running, c.moved);
		break;
	default:
		fprintf(out, ": %zu started, %zu stopped", c.started, c.stopped);
		break;
	}
	fprintf(out, " in %.1f s\n", elapsed_ms / 1000.0);
	json_decref(root);
}
