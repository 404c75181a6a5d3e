/*
 * manifest.c - YAML manifests with libyaml's document API: the node tree
 * keeps every node's line, so each error names file, line and key.
 */
#include "manifest.h"
#include "deporder.h"
#include "reslimits.h"
#include "profile.h"
#include "probespec.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MF_FILE_MAX (4u << 20)

typedef struct mf_ctx {
	yaml_document_t *doc;
	const char *name;
	char       *err;
	size_t      errlen;
	char        path[128];   /* "services[2].backoff" */
} mf_ctx;

__attribute__((format(printf, 3, 4)))
static int mf_err(mf_ctx *c, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%lu: %s%s%s", c->name,
		 at ? (unsigned long)at->start_mark.line + 1 : 1ul, c->path,
		 c->path[0] ? ": " : "", msg);
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_str(mf_ctx *c, const yaml_node_t *n, const char **out)
{
	*out = scalar(n);
	if (!*out)
		return mf_err(c, n, "expected a string");
	return 0;
}

static int get_seconds(mf_ctx *c, const yaml_node_t *n, uint32_t *ms)
{
	const char *s = scalar(n);
	char *end;
	double d;

	if (!s || !*s)
		return mf_err(c, n, "expected a number of seconds");
	d = strtod(s, &end);
	/* the range rsctl's options take: any time rsd may hold (and no
	 * nan, which every comparison lets through) */
	if (*end || !(d >= 0 && d * 1000.0 + 0.5 < 4294967296.0))
		return mf_err(c, n, "expected a number of seconds, got '%s'", s);
	*ms = (uint32_t)(d * 1000.0 + 0.5);
	return 0;
}

static int get_uint(mf_ctx *c, const yaml_node_t *n, uint32_t min, uint32_t *v)
{
	const char *s = scalar(n);
	char *end;
	unsigned long long x;

	if (!s || !*s || *s == '-')
		return mf_err(c, n, "expected a whole number");
	x = strtoull(s, &end, 10);
	if (*end || x < min || x > UINT32_MAX)
		return mf_err(c, n, "expected a whole number >= %u, got '%s'", min, s);
	*v = (uint32_t)x;
	return 0;
}

static int get_bool(mf_ctx *c, const yaml_node_t *n, bool *b)
{
	const char *s = scalar(n);

	if (s && (!strcmp(s, "true") || !strcmp(s, "yes")))
		*b = true;
	else if (s && (!strcmp(s, "false") || !strcmp(s, "no")))
		*b = false;
	else
		return mf_err(c, n, "expected true or false");
	return 0;
}

/* A sequence of strings, each passed to add(). */
static int get_strv(mf_ctx *c, const yaml_node_t *n,
		    int (*add)(void *, const char *), void *arg)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return mf_err(c, n, "expected a list of strings");
	for (yaml_node_item_t *i = n->data.sequence.items.start;
	     i < n->data.sequence.items.top; i++) {
		const yaml_node_t *e = yaml_document_get_node(c->doc, *i);
		const char *s = scalar(e);
		int r;
		if (!s)
			return mf_err(c, e, "expected a string in the list");
		r = add(arg, s);
		if (r == -E2BIG)
			return mf_err(c, e, "too many entries, or one too long");
		if (r == -EDOM)
			return mf_err(c, e, "'%s' is not a valid name: use 1-63 of "
				      "[A-Za-z0-9._-]", s);
		if (r == -EEXIST)
			return mf_err(c, e, "'%s' is listed twice", s);
		if (r < 0)
			return mf_err(c, e, "%s", strerror(-r));
	}
	return 0;
}

static int add_arg(void *spec, const char *s) { return rs_spec_add_arg(spec, s); }

static int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof *nv);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

struct strv { char ***v; size_t *n; };

static int add_strv(void *arg, const char *s)
{
	struct strv *sv = arg;

	if (*sv->n >= RS_ARGV_MAX)
		return -E2BIG;
	return strv_push(sv->v, sv->n, s);
}

/* Walks a mapping: fn(c, key, value) for each pair. */
typedef int (*pair_fn)(mf_ctx *c, const char *key, const yaml_node_t *val,
		       void *arg);

static int each_pair(mf_ctx *c, const yaml_node_t *map, pair_fn fn, void *arg)
{
	size_t base = strlen(c->path);
	int r = 0;

	if (!map || map->type != YAML_MAPPING_NODE)
		return mf_err(c, map, "expected a mapping (key: value)");
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     r == 0 && p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key = scalar(k);
		if (!key)
			return mf_err(c, k, "keys must be strings");
		snprintf(c->path + base, sizeof c->path - base, "%s%s",
			 base ? "." : "", key);
		r = fn(c, key, v, arg);
		c->path[base] = '\0';
	}
	return r;
}

static int env_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	rs_spec *s = arg;
	const char *val = scalar(v);
	char *kv;
	int r;

	if (!val)
		return mf_err(c, v, "expected a string value");
	if (!*key || strchr(key, '='))
		return mf_err(c, v, "invalid variable name");
	if (asprintf(&kv, "%s=%s", key, val) < 0)
		return mf_err(c, v, "out of memory");
	r = rs_spec_add_env(s, kv);
	free(kv);
	return r < 0 ? mf_err(c, v, "too many variables, or one too long") : 0;
}

/* listen: {NAME: ADDR}; each entry is checked with the ones before it, so
 * an error names the line of the entry at fault. */
static int listen_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	rs_spec *s = arg;
	const char *addr = scalar(v);
	char *spec, err[512];
	int r;

	if (!addr)
		return mf_err(c, v, "expected an address (tcp:HOST:PORT, tcp6:[HOST]:PORT "
			      "or unix:PATH)");
	if (asprintf(&spec, "%s=%s", key, addr) < 0)
		return mf_err(c, v, "out of memory");
	r = rs_spec_add_listen(s, spec);
	free(spec);
	if (r == -E2BIG)
		return mf_err(c, v, "more than %d listening sockets, or one too long",
			      RS_LISTEN_MAX);
	if (r < 0)
		return mf_err(c, v, "%s", strerror(-r));
	if (rs_listen_validate_set(s->listen, s->nlisten, err, sizeof err) < 0)
		return mf_err(c, v, "%s", err);
	return 0;
}

static int backoff_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	rs_backoff *b = arg;

	if (!strcmp(key, "initial"))
		return get_seconds(c, v, &b->initial_ms);
	if (!strcmp(key, "factor"))
		return get_uint(c, v, 1, &b->factor);
	if (!strcmp(key, "max"))
		return get_seconds(c, v, &b->max_ms);
	if (!strcmp(key, "reset"))
		return get_seconds(c, v, &b->reset_ms);
	if (!strcmp(key, "disabled"))
		return get_bool(c, v, &b->disabled);
	return mf_err(c, v, "unknown key (known: initial, factor, max, reset, disabled)");
}

/* A node name or node label: [A-Za-z0-9._-], like labels. */
static int add_name(void *arg, const char *s)
{
	struct strv *sv = arg;

	if (!rs_label_valid(s))
		return -EDOM;
	if (*sv->n >= RS_PLACEMENT_MAX)
		return -E2BIG;
	for (size_t i = 0; i < *sv->n; i++)
		if (!strcmp((*sv->v)[i], s))
			return -EEXIST;
	return strv_push(sv->v, sv->n, s);
}

static int placement_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	mf_service *s = arg;
	struct strv nodes = { &s->nodes, &s->nnodes };
	struct strv labels = { &s->labels, &s->nlabels };

	if (!strcmp(key, "nodes"))
		return get_strv(c, v, add_name, &nodes);
	if (!strcmp(key, "labels"))
		return get_strv(c, v, add_name, &labels);
	return mf_err(c, v, "unknown key (known: nodes, labels)");
}

int manifest_spec(const mf_service *s, rs_spec *out)
{
	char buf[RS_LABEL_MAX + 8];
	int r;

	rs_spec_init(out);
	r = rs_spec_copy(out, &s->spec);
	for (size_t k = 0; r == 0 && k < s->ndeps; k++)
		r = rs_spec_add_dep(out, s->deps[k]);
	if (r == 0 && s->nnodes == 1)
		rs_strlcpy(out->node, s->nodes[0], sizeof out->node);
	for (size_t k = 0; r == 0 && s->nnodes > 1 && k < s->nnodes; k++) {
		snprintf(buf, sizeof buf, "node=%s", s->nodes[k]);
		r = rs_spec_add_placement(out, buf);
	}
	for (size_t k = 0; r == 0 && k < s->nlabels; k++) {
		snprintf(buf, sizeof buf, "label=%s", s->labels[k]);
		r = rs_spec_add_placement(out, buf);
	}
	if (r == 0)
		out->replicas = s->replicas;
	if (r < 0)
		rs_spec_clear(out);
	return r;
}

static int parse_signal(const char *s, int32_t *sig)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s && !*end) {
		*sig = (int32_t)n;
		return n > 0 && n < NSIG ? 0 : -EINVAL;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);
		if (name && !strcasecmp(name, s)) {
			*sig = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* A probe being read: which of its kinds were given. */
struct probe_ctx {
	rs_probe *p;
	int       kinds;      /* of http, tcp, exec: how many were given */
};

static int add_probe_arg(void *p, const char *s) { return rs_probe_add_arg(p, s); }

static int header_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	rs_probe *p = arg;
	const char *val = scalar(v);
	char h[RS_PROBE_HEADER_MAX];
	int r;

	if (!val)
		return mf_err(c, v, "expected a string value");
	if ((size_t)snprintf(h, sizeof h, "%s: %s", key, val) >= sizeof h)
		return mf_err(c, v, "too long");
	r = rs_probe_add_header(p, h);
	if (r == -E2BIG)
		return mf_err(c, v, "more than %d headers", RS_PROBE_HEADERS_MAX);
	return r < 0 ? mf_err(c, v, "%s", strerror(-r)) : 0;
}

/* "200", "200-299": the statuses an http probe passes on. */
static int get_status(mf_ctx *c, const yaml_node_t *v, rs_probe *p)
{
	const char *s = scalar(v);
	unsigned lo, hi;
	int n, end = 0;

	if (!s)
		return mf_err(c, v, "expected a status (200) or a range (200-299)");
	n = sscanf(s, "%u%n-%u%n", &lo, &end, &hi, &end);
	if (n == 1)
		hi = lo;
	if (n < 1 || s[end] || lo < 100 || hi > 599 || lo > hi)
		return mf_err(c, v, "'%s' is not a status or range within 100-599 "
			      "(200, 200-299)", s);
	p->status_min = lo;
	p->status_max = hi;
	return 0;
}

static int probe_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	struct probe_ctx *pc = arg;
	rs_probe *p = pc->p;
	const char *str;
	char err[256];
	int r;

	if (!strcmp(key, "http") || !strcmp(key, "tcp")) {
		char buf[RS_PROBE_TARGET_MAX + 8];
		bool http = key[0] == 'h';

		if ((r = get_str(c, v, &str)) < 0)
			return r;
		pc->kinds++;
		snprintf(buf, sizeof buf, "%s%s", http ? "" : "tcp:", str);
		if ((http && strncmp(str, "http://", 7) && strncmp(str, "https://", 8)) ||
		    rs_probe_parse_target(p, buf, err, sizeof err) < 0)
			return mf_err(c, v, "%s", http ? "expected an http:// or https:// URL "
				      "with a host" : err);
		return 0;
	}
	if (!strcmp(key, "exec")) {
		pc->kinds++;
		p->kind = RS_PK_EXEC;
		if (scalar(v))
			r = rs_probe_add_arg(p, scalar(v)) < 0 ? mf_err(c, v, "too long") : 0;
		else
			r = get_strv(c, v, add_probe_arg, p);
		if (r == 0 && (!p->argc || p->argv[0][0] != '/'))
			return mf_err(c, v, "the program must be an absolute path");
		return r;
	}
	if (!strcmp(key, "period"))
		return get_seconds(c, v, &p->period_ms);
	if (!strcmp(key, "timeout"))
		return get_seconds(c, v, &p->timeout_ms);
	if (!strcmp(key, "initial_delay"))
		return get_seconds(c, v, &p->initial_delay_ms);
	if (!strcmp(key, "failures"))
		return get_uint(c, v, 1, &p->failures);
	if (!strcmp(key, "status"))
		return get_status(c, v, p);
	if (!strcmp(key, "headers")) {
		if (v && v->type == YAML_MAPPING_NODE)
			return each_pair(c, v, header_pair, p);
		return mf_err(c, v, "expected a mapping (Name: value)");
	}
	return mf_err(c, v, "unknown key (known: http, tcp, exec, period, timeout, "
		      "failures, initial_delay, status, headers)");
}

static int probes_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	rs_spec *sp = arg;
	int role = rs_probe_role_from_string(key), r;
	struct probe_ctx pc;
	char err[256];

	if (role < 0)
		return mf_err(c, v, "unknown probe (known: liveness, readiness, startup)");
	pc = (struct probe_ctx){ .p = &sp->probes[role] };
	rs_probe_clear(pc.p);
	if ((r = each_pair(c, v, probe_pair, &pc)) < 0)
		return r;
	if (pc.kinds != 1)
		return mf_err(c, v, "give one of http, tcp, exec (%s)",
			      pc.kinds ? "not several" : "none given");
	if (pc.p->nheaders && pc.p->kind != RS_PK_HTTP)
		return mf_err(c, v, "headers are for http probes only");
	if (rs_probe_validate(pc.p, (rs_probe_role)role, err, sizeof err) < 0)
		return mf_err(c, v, "%s", err);
	return 0;
}

/* limits: memory: {max: SIZE, high: SIZE}, cpu: {weight: N, max: P%},
 * pids: {max: N} (lib/reslimits.h's forms). A size of at least
 * RS_MEM_MIN into *out, or an error at v. */
static int get_size(mf_ctx *c, const yaml_node_t *v, uint64_t *out)
{
	const char *s = scalar(v);

	if (!s || rs_size_parse(s, out) < 0 || *out < RS_MEM_MIN)
		return mf_err(c, v, "expected a size of at least 4K (bytes, or with "
			      "K, M, G, T: 256M), got '%s'", s ? s : "a non-scalar");
	return 0;
}

/* limits.memory's keys into the rs_limits arg. */
static int memory_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	rs_limits *l = arg;

	if (!strcmp(key, "max"))
		return get_size(c, v, &l->memory_max);
	if (!strcmp(key, "high"))
		return get_size(c, v, &l->memory_high);
	return mf_err(c, v, "unknown key (known: max, high)");
}

/* limits.cpu's keys into the rs_limits arg. */
static int cpu_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	rs_limits *l = arg;
	const char *s = scalar(v);
	int r;

	if (!strcmp(key, "weight")) {
		if ((r = get_uint(c, v, 1, &l->cpu_weight)) < 0)
			return r;
		if (l->cpu_weight > RS_CPU_WEIGHT_MAX)
			return mf_err(c, v, "expected a weight from 1 to %u, got '%s'",
				      RS_CPU_WEIGHT_MAX, s);
		return 0;
	}
	if (!strcmp(key, "max")) {
		if (!s || rs_cpu_max_parse(s, &l->cpu_max) < 0)
			return mf_err(c, v, "expected a percent of one CPU, 1%% to %u%% "
				      "(50%%; 200%% = two CPUs), got '%s'", RS_CPU_MAX_PCT,
				      s ? s : "a non-scalar");
		return 0;
	}
	return mf_err(c, v, "unknown key (known: weight, max)");
}

/* limits.pids' key into the rs_limits arg. */
static int pids_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	rs_limits *l = arg;
	int r;

	if (strcmp(key, "max") != 0)
		return mf_err(c, v, "unknown key (known: max)");
	if ((r = get_uint(c, v, 1, &l->pids_max)) < 0)
		return r;
	if (l->pids_max > RS_PIDS_MAX)
		return mf_err(c, v, "expected at most %u, got '%s'", RS_PIDS_MAX, scalar(v));
	return 0;
}

/* One controller's mapping under limits. */
static int limits_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	if (!strcmp(key, "memory"))
		return each_pair(c, v, memory_pair, arg);
	if (!strcmp(key, "cpu"))
		return each_pair(c, v, cpu_pair, arg);
	if (!strcmp(key, "pids"))
		return each_pair(c, v, pids_pair, arg);
	return mf_err(c, v, "unknown key (known: memory, cpu, pids)");
}

/* One capability name into the rs_profile arg's caps. */
static int add_cap(void *arg, const char *name)
{
	rs_profile *p = arg;
	int k = rs_cap_parse(name);

	if (k < 0)
		return -ENOENT;
	if (p->caps & (1ull << k))
		return -EEXIST;
	p->caps |= 1ull << k;
	return 0;
}

/* profile: {caps: [NAME...], no_new_privileges: BOOL, read_only_root:
 * BOOL, private_tmp: BOOL, nice: N, cpus: LIST} (lib/profile.h). */
static int profile_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	rs_profile *p = arg;
	const char *s = scalar(v);
	bool b = false;
	int r;

	if (!strcmp(key, "caps")) {
		if (v && v->type == YAML_SEQUENCE_NODE)
			for (yaml_node_item_t *i = v->data.sequence.items.start;
			     i < v->data.sequence.items.top; i++) {
				const char *n = scalar(yaml_document_get_node(c->doc, *i));
				if (n && rs_cap_parse(n) < 0)
					return mf_err(c, yaml_document_get_node(c->doc, *i),
						      "'%s' is not a capability (CAP_NET_BIND_SERVICE, "
						      "net_bind_service; capabilities(7))", n);
			}
		p->caps_set = true;
		p->caps = 0;
		return get_strv(c, v, add_cap, p);
	}
	if (!strcmp(key, "no_new_privileges")) {
		if ((r = get_bool(c, v, &b)) < 0)
			return r;
		p->nnp = b ? RS_NNP_ON : RS_NNP_OFF;
		return 0;
	}
	if (!strcmp(key, "read_only_root"))
		return get_bool(c, v, &p->ro_root);
	if (!strcmp(key, "private_tmp"))
		return get_bool(c, v, &p->private_tmp);
	if (!strcmp(key, "nice")) {
		char *end;
		long n = s ? strtol(s, &end, 10) : 0;
		if (!s || !*s || *end || n < RS_NICE_MIN || n > RS_NICE_MAX)
			return mf_err(c, v, "expected a nice value from %d to %d, got '%s'",
				      RS_NICE_MIN, RS_NICE_MAX, s ? s : "a non-scalar");
		p->nice = (int32_t)n;
		return 0;
	}
	if (!strcmp(key, "cpus")) {
		uint64_t mask[RS_CPUS_WORDS];
		if (!s || strlen(s) >= sizeof p->cpus || rs_cpus_parse(s, mask, NULL) < 0)
			return mf_err(c, v, "expected a CPU list (0-1,3: CPUs 0 to %d), "
				      "got '%s'", RS_CPUS_MAX - 1, s ? s : "a non-scalar");
		memcpy(p->cpus, s, strlen(s) + 1);
		return 0;
	}
	return mf_err(c, v, "unknown key (known: caps, no_new_privileges, "
		      "read_only_root, private_tmp, nice, cpus)");
}

static int svc_pair(mf_ctx *c, const char *key, const yaml_node_t *v, void *arg)
{
	mf_service *s = arg;
	rs_spec *sp = &s->spec;
	const char *str;
	int r;

	if (!strcmp(key, "label")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if (!rs_label_valid(str))
			return mf_err(c, v, "'%s' is not a valid label: use 1-63 of [A-Za-z0-9._-]", str);
		rs_strlcpy(sp->label, str, sizeof sp->label);
		return 0;
	}
	if (!strcmp(key, "command")) {
		if (sp->argc)
			return mf_err(c, v, "given twice");
		if (scalar(v))   /* a single program without arguments */
			return rs_spec_add_arg(sp, scalar(v)) < 0 ? mf_err(c, v, "too long") : 0;
		return get_strv(c, v, add_arg, sp);
	}
	if (!strcmp(key, "env"))
		return each_pair(c, v, env_pair, sp);
	if (!strcmp(key, "listen"))
		return each_pair(c, v, listen_pair, sp);
	if (!strcmp(key, "cwd")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if (str[0] != '/')
			return mf_err(c, v, "must be an absolute path");
		free(sp->cwd);
		return (sp->cwd = strdup(str)) ? 0 : mf_err(c, v, "out of memory");
	}
	if (!strcmp(key, "replicas"))
		return get_uint(c, v, 1, &s->replicas);
	if (!strcmp(key, "node")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if (!rs_label_valid(str))
			return mf_err(c, v, "'%s' is not a valid node name", str);
		rs_strlcpy(sp->node, str, sizeof sp->node);
		return 0;
	}
	if (!strcmp(key, "placement"))
		return each_pair(c, v, placement_pair, s);
	if (!strcmp(key, "restart")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if ((r = rs_policy_from_string(str)) < 0)
			return mf_err(c, v, "'%s' is not one of always, on-failure, never", str);
		sp->policy = (rs_policy)r;
		return 0;
	}
	if (!strcmp(key, "backoff"))
		return each_pair(c, v, backoff_pair, &sp->backoff);
	if (!strcmp(key, "probes"))
		return each_pair(c, v, probes_pair, sp);
	if (!strcmp(key, "limits")) {
		char err[256];
		memset(&sp->limits, 0, sizeof sp->limits);
		if ((r = each_pair(c, v, limits_pair, &sp->limits)) < 0)
			return r;
		if (rs_limits_validate(&sp->limits, err, sizeof err) < 0)
			return mf_err(c, v, "%s", err);
		return 0;
	}
	if (!strcmp(key, "profile")) {
		char err[256];
		memset(&sp->profile, 0, sizeof sp->profile);
		if ((r = each_pair(c, v, profile_pair, &sp->profile)) < 0)
			return r;
		if (rs_profile_validate(&sp->profile, err, sizeof err) < 0)
			return mf_err(c, v, "%s", err);
		return 0;
	}
	if (!strcmp(key, "period"))
		return get_seconds(c, v, &sp->period_ms);
	if (!strcmp(key, "ready_timeout"))
		return get_seconds(c, v, &sp->ready_timeout_ms);
	if (!strcmp(key, "stop_timeout"))
		return get_seconds(c, v, &sp->stop_timeout_ms);
	if (!strcmp(key, "settle"))
		return get_seconds(c, v, &sp->settle_ms);
	if (!strcmp(key, "stop_signal")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if (parse_signal(str, &sp->stop_signal) < 0)
			return mf_err(c, v, "'%s' is not a signal", str);
		return 0;
	}
	if (!strcmp(key, "reload_signal")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if (parse_signal(str, &sp->reload_signal) < 0)
			return mf_err(c, v, "'%s' is not a signal", str);
		return 0;
	}
	if (!strcmp(key, "notify")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if ((r = rs_notify_type_from_string(str)) < 0)
			return mf_err(c, v, "'%s' is not one of auto, notify, simple", str);
		sp->notify = (rs_notify_type)r;
		return 0;
	}
	if (!strcmp(key, "fence")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if ((r = rs_fence_from_string(str)) < 0)
			return mf_err(c, v, "'%s' is not one of none, stop", str);
		sp->fence = (rs_fence)r;
		return 0;
	}
	if (!strcmp(key, "depends_on")) {
		struct strv sv = { &s->deps, &s->ndeps };
		return get_strv(c, v, add_strv, &sv);
	}
	if (!strcmp(key, "critical"))
		return get_bool(c, v, &sp->critical);
	if (!strcmp(key, "keep_caps"))
		return get_bool(c, v, &sp->keep_caps);
	if (!strcmp(key, "script")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if (str[0] != '/')
			return mf_err(c, v, "must be an absolute path");
		free(sp->script);
		return (sp->script = strdup(str)) ? 0 : mf_err(c, v, "out of memory");
	}
	if (!strcmp(key, "user")) {
		if ((r = get_str(c, v, &str)) < 0)
			return r;
		if (!rs_user_valid(str))
			return mf_err(c, v, "'%s' is not a user name or a uid", str);
		rs_strlcpy(sp->user, str, sizeof sp->user);
		return 0;
	}
	return mf_err(c, v, "unknown key");
}

static void svc_free(mf_service *s)
{
	rs_spec_clear(&s->spec);
	for (size_t i = 0; i < s->nnodes; i++)
		free(s->nodes[i]);
	free(s->nodes);
	for (size_t i = 0; i < s->nlabels; i++)
		free(s->labels[i]);
	free(s->labels);
	for (size_t i = 0; i < s->ndeps; i++)
		free(s->deps[i]);
	free(s->deps);
}

void manifest_free(manifest *m)
{
	for (size_t i = 0; m && i < m->n; i++)
		svc_free(&m->svcs[i]);
	if (m) {
		free(m->svcs);
		m->svcs = NULL;
		m->n = 0;
	}
}

int manifest_find(const manifest *m, const char *label)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->svcs[i].spec.label, label))
			return (int)i;
	return -1;
}

/* Depth-first cycle search from i; state 1 = on the path, 2 = done. */
static int find_cycle(const manifest *m, size_t i, char *state, char *path,
		      size_t plen)
{
	const mf_service *s = &m->svcs[i];
	size_t len = strlen(path);

	snprintf(path + len, plen - len, "%s%s", len ? " -> " : "", s->spec.label);
	if (state[i] == 1)
		return 1;
	if (state[i] == 2) {
		path[len] = '\0';
		return 0;
	}
	state[i] = 1;
	for (size_t d = 0; d < s->ndeps; d++)
		if (find_cycle(m, (size_t)manifest_find(m, s->deps[d]), state, path, plen))
			return 1;
	state[i] = 2;
	path[len] = '\0';
	return 0;
}

/* Cross-entry checks: required keys, spec validity, duplicates, deps. */
static int check_all(mf_ctx *c, manifest *m, const yaml_node_t *const *nodes)
{
	char err[512], path[1024];
	char *state;

	for (size_t i = 0; i < m->n; i++) {
		mf_service *s = &m->svcs[i];
		snprintf(c->path, sizeof c->path, "services[%zu]", i);
		if (!s->spec.label[0])
			return mf_err(c, nodes[i], "missing key 'label'");
		snprintf(c->path, sizeof c->path, "services[%zu] (%s)", i, s->spec.label);
		if (!s->spec.argc)
			return mf_err(c, nodes[i], "missing key 'command'");
		{
			rs_spec full;
			int bad;

			if (manifest_spec(s, &full) < 0)
				return mf_err(c, nodes[i], "out of memory");
			bad = rs_spec_validate(&full, err, sizeof err) < 0;
			rs_spec_clear(&full);
			if (bad)
				return mf_err(c, nodes[i], "%s", err);
		}
		if (s->spec.node[0] && s->nnodes)
			return mf_err(c, nodes[i], "give either node or placement.nodes, not both");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->svcs[j].spec.label, s->spec.label))
				return mf_err(c, nodes[i], "duplicate label '%s' (first at line %d)",
					      s->spec.label, m->svcs[j].line);
	}
	for (size_t i = 0; i < m->n; i++) {
		mf_service *s = &m->svcs[i];
		snprintf(c->path, sizeof c->path, "services[%zu] (%s).depends_on", i,
			 s->spec.label);
		for (size_t d = 0; d < s->ndeps; d++) {
			if (manifest_find(m, s->deps[d]) < 0)
				return mf_err(c, nodes[i], "unknown service '%s'", s->deps[d]);
			if (!strcmp(s->deps[d], s->spec.label))
				return mf_err(c, nodes[i], "a service cannot depend on itself");
		}
	}
	state = calloc(m->n ? m->n : 1, 1);
	if (!state)
		return mf_err(c, NULL, "out of memory");
	for (size_t i = 0; i < m->n; i++) {
		path[0] = '\0';
		if (find_cycle(m, i, state, path, sizeof path)) {
			free(state);
			snprintf(c->path, sizeof c->path, "services[%zu] (%s).depends_on", i,
				 m->svcs[i].spec.label);
			return mf_err(c, nodes[i], "dependency cycle: %s", path);
		}
	}
	free(state);
	c->path[0] = '\0';
	return 0;
}

static int parse_doc(mf_ctx *c, manifest *m)
{
	yaml_node_t *root = yaml_document_get_root_node(c->doc), *list = NULL;
	const yaml_node_t **nodes = NULL;
	int r = 0;

	if (!root)
		return mf_err(c, NULL, "the file is empty");
	if (root->type != YAML_MAPPING_NODE)
		return mf_err(c, root, "expected a mapping with a 'services' list");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		const char *key = scalar(k);
		if (key && !strcmp(key, "services"))
			list = yaml_document_get_node(c->doc, p->value);
		else {
			snprintf(c->path, sizeof c->path, "%s", key ? key : "?");
			return mf_err(c, k, "unknown key (the top level has only 'services')");
		}
	}
	strcpy(c->path, "services");
	if (!list || list->type != YAML_SEQUENCE_NODE)
		return mf_err(c, list ? list : root, "expected a list of services");
	m->n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	m->svcs = calloc(m->n ? m->n : 1, sizeof *m->svcs);
	nodes = calloc(m->n ? m->n : 1, sizeof *nodes);
	if (!m->svcs || !nodes) {
		free(nodes);
		return mf_err(c, list, "out of memory");
	}
	for (size_t i = 0; i < m->n; i++) {
		mf_service *s = &m->svcs[i];
		rs_spec_init(&s->spec);
		s->replicas = 1;
	}
	for (size_t i = 0; r == 0 && i < m->n; i++) {
		mf_service *s = &m->svcs[i];
		nodes[i] = yaml_document_get_node(c->doc, list->data.sequence.items.start[i]);
		s->line = (int)nodes[i]->start_mark.line + 1;
		snprintf(c->path, sizeof c->path, "services[%zu]", i);
		r = each_pair(c, nodes[i], svc_pair, s);
	}
	if (r == 0)
		r = check_all(c, m, nodes);
	free(nodes);
	return r;
}

int manifest_parse(const char *name, const char *text, size_t len,
		   manifest *m, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	mf_ctx c = { .doc = &doc, .name = name, .err = err, .errlen = errlen };
	int r;

	memset(m, 0, sizeof *m);
	if (!yaml_parser_initialize(&parser))
		return mf_err(&c, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%lu: YAML error: %s%s%s", name,
			 (unsigned long)parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "malformed",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	r = parse_doc(&c, m);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r < 0)
		manifest_free(m);
	return r;
}

int manifest_load(const char *path, manifest *m, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int r;

	memset(m, 0, sizeof *m);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	buf = malloc(MF_FILE_MAX + 1);
	n = buf ? fread(buf, 1, MF_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!buf || n > MF_FILE_MAX) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path, buf ? "larger than 4 MiB" : "out of memory");
		return buf ? -EFBIG : -ENOMEM;
	}
	r = manifest_parse(path, buf, n, m, err, errlen);
	free(buf);
	return r;
}

void manifest_order(const manifest *m, size_t *order)
{
	deporder_item *v = calloc(m->n + 1, sizeof *v);
	char err[8];   /* (m is valid: no error to say) */

	for (size_t i = 0; v && i < m->n; i++)
		v[i] = (deporder_item){ .label = m->svcs[i].spec.label,
					.deps = m->svcs[i].deps,
					.ndeps = m->svcs[i].ndeps };
	if (!v || deporder(v, m->n, "manifest", order, NULL, err, sizeof err) < 0)
		for (size_t i = 0; i < m->n; i++)   /* out of memory: file order */
			order[i] = i;
	free(v);
}

/* ---- writing a manifest (rsctl export) -------------------------------- */

/* Where the emitter writes: a growing buffer. */
typedef struct mf_buf {
	char  *s;
	size_t len, cap;
	bool   failed;
} mf_buf;

static int buf_write(void *arg, unsigned char *data, size_t n)
{
	mf_buf *b = arg;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *s;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(s = realloc(b->s, cap))) {
			b->failed = true;
			return 0;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 1;
}

/* What emitting one manifest carries between its steps. */
typedef struct mf_out {
	yaml_emitter_t e;
	mf_buf         buf;
	bool           failed;   /* an event was refused: e.problem says why */
} mf_out;

/* Emits ev (ok: its initialisation worked), which the emitter frees
 * even when it refuses it; after a failure only frees it. */
static void emit(mf_out *o, yaml_event_t *ev, int ok)
{
	if (!ok)
		o->failed = true;
	else if (o->failed)
		yaml_event_delete(ev);
	else if (!yaml_emitter_emit(&o->e, ev))
		o->failed = true;
}

/* Whether a YAML tool would read s, unquoted, as something other than a
 * string: empty, a null, a YAML 1.1 boolean, a number, a date or a time.
 * Such strings are written quoted (the parser here takes every scalar
 * as a string, but an operator's other tools may not). */
static bool looks_typed(const char *s)
{
	static const char *const words[] = {
		"~", "null", "true", "false", "yes", "no", "on", "off", "y", "n",
	};
	char *end;

	if (!*s)
		return true;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (!strcasecmp(s, words[i]))
			return true;
	(void)strtod(s, &end);
	if (!*end)
		return true;
	(void)strtoll(s, &end, 0);
	if (!*end)
		return true;
	/* 2026-12-06, 12:30:00, 1_000 */
	return (*s >= '0' && *s <= '9') && strspn(s, "0123456789-:._") == strlen(s);
}

static void scalar_out(mf_out *o, const char *s)
{
	yaml_event_t ev;

	emit(o, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
		(int)strlen(s), 1, 1, looks_typed(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE :
		YAML_ANY_SCALAR_STYLE));
}

/* A value YAML reads as a number or a boolean, written as one. */
static void plain_out(mf_out *o, const char *s)
{
	yaml_event_t ev;

	emit(o, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
		(int)strlen(s), 1, 1, YAML_PLAIN_SCALAR_STYLE));
}

static void map_start(mf_out *o, bool flow)
{
	yaml_event_t ev;

	emit(o, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
		flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}

static void map_end(mf_out *o)
{
	yaml_event_t ev;

	emit(o, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void seq_start(mf_out *o, bool flow)
{
	yaml_event_t ev;

	emit(o, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

static void seq_end(mf_out *o)
{
	yaml_event_t ev;

	emit(o, &ev, yaml_sequence_end_event_initialize(&ev));
}

/* key: [v[0], v[1], ...] (only the entries after skip characters whose
 * first skip characters are prefix, if prefix) */
static void strv_out(mf_out *o, const char *key, char *const *v, size_t n,
		     const char *prefix)
{
	size_t skip = prefix ? strlen(prefix) : 0;

	scalar_out(o, key);
	seq_start(o, true);
	for (size_t i = 0; i < n; i++)
		if (!prefix || !strncmp(v[i], prefix, skip))
			scalar_out(o, v[i] + skip);
	seq_end(o);
}

/* ms as seconds the parser reads back to the same ms: "2", "0.25". */
static void seconds_out(mf_out *o, const char *key, uint32_t ms)
{
	char s[32];
	size_t n;

	snprintf(s, sizeof s, "%u.%03u", ms / 1000, ms % 1000);
	n = strlen(s);
	while (s[n - 1] == '0')
		s[--n] = '\0';
	if (s[n - 1] == '.')
		s[--n] = '\0';
	scalar_out(o, key);
	plain_out(o, s);
}

static void uint_out(mf_out *o, const char *key, uint32_t v)
{
	char s[16];

	snprintf(s, sizeof s, "%u", v);
	scalar_out(o, key);
	plain_out(o, s);
}

static void bool_out(mf_out *o, const char *key, bool v)
{
	scalar_out(o, key);
	plain_out(o, v ? "true" : "false");
}

static void str_out(mf_out *o, const char *key, const char *v)
{
	scalar_out(o, key);
	scalar_out(o, v);
}

/* KEY=VALUE entries as a mapping KEY: VALUE. */
static void kv_out(mf_out *o, const char *key, char *const *v, size_t n)
{
	scalar_out(o, key);
	map_start(o, false);
	for (size_t i = 0; i < n && !o->failed; i++) {
		const char *eq = strchr(v[i], '=');
		char *k = strndup(v[i], eq ? (size_t)(eq - v[i]) : strlen(v[i]));

		if (!k) {
			o->buf.failed = o->failed = true;
			break;
		}
		scalar_out(o, k);
		scalar_out(o, eq ? eq + 1 : "");
		free(k);
	}
	map_end(o);
}

static void backoff_out(mf_out *o, const rs_backoff *b)
{
	if (b->initial_ms == RS_DEF_BACKOFF_INITIAL && b->factor == RS_DEF_BACKOFF_FACTOR &&
	    b->max_ms == RS_DEF_BACKOFF_MAX && b->reset_ms == RS_DEF_BACKOFF_RESET &&
	    !b->disabled)
		return;
	scalar_out(o, "backoff");
	map_start(o, true);
	if (b->initial_ms != RS_DEF_BACKOFF_INITIAL)
		seconds_out(o, "initial", b->initial_ms);
	if (b->factor != RS_DEF_BACKOFF_FACTOR)
		uint_out(o, "factor", b->factor);
	if (b->max_ms != RS_DEF_BACKOFF_MAX)
		seconds_out(o, "max", b->max_ms);
	if (b->reset_ms != RS_DEF_BACKOFF_RESET)
		seconds_out(o, "reset", b->reset_ms);
	if (b->disabled)
		bool_out(o, "disabled", true);
	map_end(o);
}

static void placement_out(mf_out *o, const rs_spec *sp)
{
	size_t nodes = 0, labels = 0;

	for (size_t i = 0; i < sp->nplacement; i++) {
		nodes += !strncmp(sp->placement[i], "node=", 5);
		labels += !strncmp(sp->placement[i], "label=", 6);
	}
	if (!nodes && !labels)
		return;
	scalar_out(o, "placement");
	map_start(o, true);
	if (nodes)
		strv_out(o, "nodes", sp->placement, sp->nplacement, "node=");
	if (labels)
		strv_out(o, "labels", sp->placement, sp->nplacement, "label=");
	map_end(o);
}

/* The stop signal by name (INT), a number if it has none. */
static void signal_out(mf_out *o, int32_t sig)
{
	const char *name = sig > 0 && sig < NSIG ? sigabbrev_np(sig) : NULL;
	char num[16];

	snprintf(num, sizeof num, "%d", (int)sig);
	scalar_out(o, "stop_signal");
	if (name)
		scalar_out(o, name);
	else
		plain_out(o, num);
}

/* A probe's keys, defaults left out. */
static void probe_out(mf_out *o, rs_probe_role role, const rs_probe *p)
{
	char status[16];

	scalar_out(o, rs_probe_role_to_string(role));
	map_start(o, true);
	if (p->kind == RS_PK_HTTP)
		str_out(o, "http", p->target);
	else if (p->kind == RS_PK_TCP)
		str_out(o, "tcp", p->target);
	else
		strv_out(o, "exec", p->argv, p->argc, NULL);
	if (p->period_ms != RS_DEF_PROBE_PERIOD_MS)
		seconds_out(o, "period", p->period_ms);
	if (p->timeout_ms != RS_DEF_PROBE_TIMEOUT_MS)
		seconds_out(o, "timeout", p->timeout_ms);
	if (p->failures != RS_DEF_PROBE_FAILURES)
		uint_out(o, "failures", p->failures);
	if (p->initial_delay_ms)
		seconds_out(o, "initial_delay", p->initial_delay_ms);
	if (p->status_min != RS_DEF_PROBE_STATUS_MIN ||
	    p->status_max != RS_DEF_PROBE_STATUS_MAX) {
		if (p->status_min == p->status_max)
			snprintf(status, sizeof status, "%u", p->status_min);
		else
			snprintf(status, sizeof status, "%u-%u", p->status_min, p->status_max);
		str_out(o, "status", status);
	}
	if (p->nheaders) {
		scalar_out(o, "headers");
		map_start(o, true);
		for (size_t i = 0; i < p->nheaders; i++) {
			const char *colon = strchr(p->headers[i], ':');
			char name[RS_PROBE_HEADER_MAX];
			const char *val = colon ? colon + 1 : "";
			size_t n = colon ? (size_t)(colon - p->headers[i]) : strlen(p->headers[i]);

			snprintf(name, sizeof name, "%.*s", (int)n, p->headers[i]);
			while (*val == ' ')
				val++;
			str_out(o, name, val);
		}
		map_end(o);
	}
	map_end(o);
}

static void probes_out(mf_out *o, const rs_spec *sp)
{
	if (!rs_spec_has_probes(sp))
		return;
	scalar_out(o, "probes");
	map_start(o, false);
	for (int i = 0; i < RS_PROBE__NR; i++)
		if (sp->probes[i].kind != RS_PK_NONE)
			probe_out(o, (rs_probe_role)i, &sp->probes[i]);
	map_end(o);
}

/* limits: in the form limits_pair reads, only what is set. */
static void limits_out(mf_out *o, const rs_limits *l)
{
	char v[32];

	if (!rs_limits_any(l))
		return;
	scalar_out(o, "limits");
	map_start(o, false);
	if (l->memory_max || l->memory_high) {
		scalar_out(o, "memory");
		map_start(o, true);
		if (l->memory_max) {
			rs_size_format(l->memory_max, v, sizeof v);
			str_out(o, "max", v);
		}
		if (l->memory_high) {
			rs_size_format(l->memory_high, v, sizeof v);
			str_out(o, "high", v);
		}
		map_end(o);
	}
	if (l->cpu_weight || l->cpu_max) {
		scalar_out(o, "cpu");
		map_start(o, true);
		if (l->cpu_weight)
			uint_out(o, "weight", l->cpu_weight);
		if (l->cpu_max) {
			snprintf(v, sizeof v, "%u%%", l->cpu_max);
			str_out(o, "max", v);
		}
		map_end(o);
	}
	if (l->pids_max) {
		scalar_out(o, "pids");
		map_start(o, true);
		uint_out(o, "max", l->pids_max);
		map_end(o);
	}
	map_end(o);
}

/* profile: in the form profile_pair reads, only what is set. */
static void profile_out(mf_out *o, const rs_profile *p)
{
	char v[32];

	if (!rs_profile_any(p))
		return;
	scalar_out(o, "profile");
	map_start(o, false);
	if (p->caps_set) {
		scalar_out(o, "caps");
		seq_start(o, true);
		for (int i = 0; i <= RS_CAP_LAST; i++)
			if (p->caps & (1ull << i))
				scalar_out(o, rs_cap_name(i));
		seq_end(o);
	}
	if (p->nnp)
		bool_out(o, "no_new_privileges", p->nnp == RS_NNP_ON);
	if (p->ro_root)
		bool_out(o, "read_only_root", true);
	if (p->private_tmp)
		bool_out(o, "private_tmp", true);
	if (p->nice) {
		snprintf(v, sizeof v, "%d", (int)p->nice);
		scalar_out(o, "nice");
		plain_out(o, v);
	}
	if (p->cpus[0])
		str_out(o, "cpus", p->cpus);
	map_end(o);
}

/* One service: its keys in docs/manifest.md's order, defaults left out. */
static void svc_out(mf_out *o, const rs_spec *sp)
{
	rs_spec def;

	rs_spec_init(&def);
	map_start(o, false);
	str_out(o, "label", sp->label);
	strv_out(o, "command", sp->argv, sp->argc, NULL);
	if (sp->node[0])
		str_out(o, "node", sp->node);
	if (sp->envc)
		kv_out(o, "env", sp->env, sp->envc);
	if (sp->cwd)
		str_out(o, "cwd", sp->cwd);
	if (sp->replicas != def.replicas)
		uint_out(o, "replicas", sp->replicas);
	placement_out(o, sp);
	if (sp->policy != def.policy)
		str_out(o, "restart", rs_policy_to_string(sp->policy));
	backoff_out(o, &sp->backoff);
	if (sp->period_ms != def.period_ms)
		seconds_out(o, "period", sp->period_ms);
	if (sp->ready_timeout_ms != def.ready_timeout_ms)
		seconds_out(o, "ready_timeout", sp->ready_timeout_ms);
	if (sp->stop_signal != def.stop_signal)
		signal_out(o, sp->stop_signal);
	if (sp->stop_timeout_ms != def.stop_timeout_ms)
		seconds_out(o, "stop_timeout", sp->stop_timeout_ms);
	if (sp->notify != def.notify)
		str_out(o, "notify", rs_notify_type_to_string(sp->notify));
	if (sp->settle_ms != def.settle_ms)
		seconds_out(o, "settle", sp->settle_ms);
	if (sp->ndeps)
		strv_out(o, "depends_on", sp->deps, sp->ndeps, NULL);
	if (sp->critical)
		bool_out(o, "critical", true);
	if (sp->script)
		str_out(o, "script", sp->script);
	if (sp->user[0])
		str_out(o, "user", sp->user);
	if (sp->keep_caps)
		bool_out(o, "keep_caps", true);
	if (sp->fence != def.fence)
		str_out(o, "fence", rs_fence_to_string(sp->fence));
	if (sp->nlisten)
		kv_out(o, "listen", sp->listen, sp->nlisten);
	probes_out(o, sp);
	limits_out(o, &sp->limits);
	profile_out(o, &sp->profile);
	map_end(o);
}

struct manifest_emitter {
	mf_out o;
};

/* err: "LABEL: " (label, if any) and why o failed; -ENOMEM or -EINVAL. */
static int emit_failed(const mf_out *o, const char *label, char *err, size_t errlen)
{
	int r = o->buf.failed || o->e.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;

	snprintf(err, errlen, "%s%s%s", label, label[0] ? ": " : "", r == -ENOMEM ?
		 "out of memory" : o->e.problem ? o->e.problem : "cannot be written as YAML");
	return r;
}

int manifest_emit_begin(manifest_emitter **em)
{
	manifest_emitter *m = calloc(1, sizeof *m);
	yaml_event_t ev;

	*em = NULL;
	if (!m)
		return -ENOMEM;
	if (!yaml_emitter_initialize(&m->o.e)) {
		free(m);
		return -ENOMEM;
	}
	yaml_emitter_set_output(&m->o.e, buf_write, &m->o.buf);
	yaml_emitter_set_unicode(&m->o.e, 1);   /* é as it is, not "\xe9" */
	yaml_emitter_set_width(&m->o.e, -1);    /* a long command on one line */
	yaml_emitter_set_indent(&m->o.e, 2);
	emit(&m->o, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit(&m->o, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	map_start(&m->o, false);
	scalar_out(&m->o, "services");
	seq_start(&m->o, false);
	*em = m;
	return 0;
}

int manifest_emit_add(manifest_emitter *m, const rs_spec *sp, char *err, size_t errlen)
{
	if (sp->cwd && sp->cwd[0] != '/') {
		snprintf(err, errlen, "%s: cwd '%s' is not an absolute path, which "
			 "a manifest needs", sp->label, sp->cwd);
		return -EINVAL;
	}
	if (m->o.failed || m->o.buf.failed)
		return emit_failed(&m->o, "", err, errlen);
	svc_out(&m->o, sp);
	return m->o.failed || m->o.buf.failed ? emit_failed(&m->o, sp->label, err, errlen) : 0;
}

int manifest_emit_end(manifest_emitter *m, char **out, size_t *len, char *err,
		      size_t errlen)
{
	yaml_event_t ev;
	int r = 0;

	*out = NULL;
	*len = 0;
	seq_end(&m->o);
	map_end(&m->o);
	emit(&m->o, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit(&m->o, &ev, yaml_stream_end_event_initialize(&ev));
	if (m->o.failed || m->o.buf.failed) {
		r = emit_failed(&m->o, "", err, errlen);
	} else {
		*out = m->o.buf.s;
		*len = m->o.buf.len;
		m->o.buf.s = NULL;
	}
	manifest_emit_free(m);
	return r;
}

void manifest_emit_free(manifest_emitter *m)
{
	if (!m)
		return;
	free(m->o.buf.s);
	yaml_emitter_delete(&m->o.e);
	free(m);
}

int manifest_emit(const rs_spec *specs, size_t n, char **out, size_t *len,
		  char *err, size_t errlen)
{
	manifest_emitter *m;
	int r;

	*out = NULL;
	*len = 0;
	if ((r = manifest_emit_begin(&m)) < 0) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = manifest_emit_add(m, &specs[i], err, errlen)) < 0) {
			manifest_emit_free(m);
			return r;
		}
	}
	return manifest_emit_end(m, out, len, err, errlen);
}
