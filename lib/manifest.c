/*
 * manifest.c - YAML manifests with libyaml's document API: the node tree
 * keeps every node's line, so each error names file, line and key.
 */
#include "manifest.h"

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
	if (*end || d < 0 || d * 1000.0 >= 4294967295.0)
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
	char *done = calloc(m->n ? m->n : 1, 1);
	size_t k = 0;

	/* repeatedly take, in file order, the first entry whose deps are all
	 * taken; valid manifests have no cycles, so each round takes one */
	while (done && k < m->n) {
		size_t before = k;
		for (size_t i = 0; i < m->n; i++) {
			bool ready = !done[i];
			for (size_t d = 0; ready && d < m->svcs[i].ndeps; d++)
				ready = done[manifest_find(m, m->svcs[i].deps[d])];
			if (ready) {
				done[i] = 1;
				order[k++] = i;
				break;
			}
		}
		if (k == before)
			break;
	}
	free(done);
}
