#include "model.h"
#include "reslimits.h"
#include "profile.h"
#include "probespec.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const istate_names[RS_IS__NR] = {
	"unknown", "pending", "starting", "running", "stopping",
	"exited", "backoff", "down", "failed", "lost",
};
static const char *const reason_names[RS_ER__NR] = {
	"", "exited", "signaled", "no-heartbeat", "ready-timeout",
	"exec-failed", "stopped", "fenced", "probe-failed", "oom",
};
static const char *const policy_names[RS_RP__NR] = {
	"always", "on-failure", "never",
};
static const char *const notify_names[RS_NT__NR] = {
	"auto", "notify", "simple",
};
static const char *const nstate_names[RS_NS__NR] = {
	"unknown", "up", "lost", "suspect", "fenced",
};
static const char *const fence_names[RS_FENCE__NR] = {
	"none", "stop",
};
static const char *const desired_names[RS_WANT__NR] = {
	"down", "up",
};

static const char *name_of(const char *const *names, int n, int v)
{
	return v >= 0 && v < n ? names[v] : "invalid";
}

static int name_find(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -EINVAL;
}

#define ENUM_STRINGS(type, prefix, names, nr)                          \
	const char *prefix##_to_string(type v)                         \
	{                                                              \
		return name_of(names, nr, (int)v);                     \
	}                                                              \
	int prefix##_from_string(const char *s)                        \
	{                                                              \
		return name_find(names, nr, s);                        \
	}
ENUM_STRINGS(rs_istate, rs_istate, istate_names, RS_IS__NR)
ENUM_STRINGS(rs_exit_reason, rs_exit_reason, reason_names, RS_ER__NR)
ENUM_STRINGS(rs_policy, rs_policy, policy_names, RS_RP__NR)
ENUM_STRINGS(rs_notify_type, rs_notify_type, notify_names, RS_NT__NR)
ENUM_STRINGS(rs_node_state, rs_node_state, nstate_names, RS_NS__NR)
ENUM_STRINGS(rs_fence, rs_fence, fence_names, RS_FENCE__NR)
ENUM_STRINGS(rs_desired, rs_desired, desired_names, RS_WANT__NR)

void *rs_grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c;

	if (n < *cap)
		return v;
	c = *cap ? *cap * 2 : first;
	if (c < *cap || c > SIZE_MAX / size)
		return NULL;
	if (!(v = realloc(v, c * size)))
		return NULL;
	*cap = c;
	return v;
}

int rs_strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = src ? strlen(src) : 0;

	if (n == 0)
		return -E2BIG;
	if (len >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = '\0';
		return -E2BIG;
	}
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

void rs_spec_init(rs_spec *s)
{
	memset(s, 0, sizeof *s);
	s->ready_timeout_ms = RS_DEF_READY_TIMEOUT_MS;
	s->stop_timeout_ms = RS_DEF_STOP_TIMEOUT_MS;
	s->stop_signal = SIGTERM;
	s->policy = RS_RP_ALWAYS;
	s->backoff.initial_ms = RS_DEF_BACKOFF_INITIAL;
	s->backoff.factor = RS_DEF_BACKOFF_FACTOR;
	s->backoff.max_ms = RS_DEF_BACKOFF_MAX;
	s->backoff.reset_ms = RS_DEF_BACKOFF_RESET;
	s->notify = RS_NT_AUTO;
	s->settle_ms = RS_DEF_SETTLE_MS;
	s->replicas = 1;
	for (int i = 0; i < RS_PROBE__NR; i++)
		rs_probe_init(&s->probes[i]);
}

void rs_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void rs_spec_clear(rs_spec *s)
{
	rs_strv_free(s->argv, s->argc);
	rs_strv_free(s->env, s->envc);
	rs_strv_free(s->deps, s->ndeps);
	rs_strv_free(s->listen, s->nlisten);
	rs_strv_free(s->placement, s->nplacement);
	free(s->cwd);
	free(s->script);
	for (int i = 0; i < RS_PROBE__NR; i++)
		rs_probe_clear(&s->probes[i]);
	rs_spec_init(s);
}

int rs_strv_add(char ***v, size_t *n, const char *str, size_t max, size_t len)
{
	char **nv, *dup;

	if (*n >= max || strlen(str) >= len)
		return -E2BIG;
	dup = strdup(str);
	if (!dup)
		return -ENOMEM;
	nv = realloc(*v, (*n + 2) * sizeof *nv);
	if (!nv) {
		free(dup);
		return -ENOMEM;
	}
	nv[(*n)++] = dup;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

static int strv_add(char ***v, size_t *n, const char *str)
{
	return rs_strv_add(v, n, str, RS_ARGV_MAX, RS_ARG_MAX);
}

int rs_spec_add_arg(rs_spec *s, const char *arg)
{
	return strv_add(&s->argv, &s->argc, arg);
}

int rs_spec_add_env(rs_spec *s, const char *kv)
{
	return strv_add(&s->env, &s->envc, kv);
}

int rs_spec_add_dep(rs_spec *s, const char *label)
{
	return strv_add(&s->deps, &s->ndeps, label);
}

int rs_spec_add_listen(rs_spec *s, const char *spec)
{
	return rs_strv_add(&s->listen, &s->nlisten, spec, RS_LISTEN_MAX,
			    RS_LISTEN_STR_MAX);
}

/* "node=NAME" / "label=NAME" with a valid NAME: the NAME, else NULL. */
static const char *placement_name(const char *c, bool *is_node)
{
	const char *name = NULL;

	if (!strncmp(c, "node=", 5))
		name = c + 5, *is_node = true;
	else if (!strncmp(c, "label=", 6))
		name = c + 6, *is_node = false;
	return name && rs_label_valid(name) ? name : NULL;
}

bool rs_user_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	bool digits = n > 0;

	if (n == 0 || n >= RS_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		digits = digits && s[i] >= '0' && s[i] <= '9';
	if (digits)
		return true;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
		    (c == '$' && i == n - 1))
			continue;
		return false;
	}
	return true;
}

bool rs_placement_valid(const char *c)
{
	bool is_node;

	return c && placement_name(c, &is_node);
}

int rs_spec_add_placement(rs_spec *s, const char *c)
{
	if (!rs_placement_valid(c))
		return -EINVAL;
	return rs_strv_add(&s->placement, &s->nplacement, c, RS_PLACEMENT_MAX,
			    RS_LABEL_MAX + 8);
}

bool rs_spec_allows(const rs_spec *s, const char *name, char *const *labels,
		    size_t n)
{
	bool any_node = false, node_ok = false, is_node;

	if (s->node[0] && strcmp(s->node, name) != 0)
		return false;
	for (size_t i = 0; i < s->nplacement; i++) {
		const char *want = placement_name(s->placement[i], &is_node);
		bool has = false;

		if (!want)
			return false;
		if (is_node) {
			any_node = true;
			node_ok = node_ok || !strcmp(want, name);
			continue;
		}
		for (size_t k = 0; k < n && !has; k++)
			has = !strcmp(labels[k], want);
		if (!has)
			return false;
	}
	return !any_node || node_ok;
}

int rs_spec_set_listen(rs_spec *s, char *const *v, size_t n)
{
	char **nv = NULL;
	size_t nn = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++)
		r = rs_strv_add(&nv, &nn, v[i], RS_LISTEN_MAX, RS_LISTEN_STR_MAX);
	if (r < 0) {
		rs_strv_free(nv, nn);
		return r;
	}
	rs_strv_free(s->listen, s->nlisten);
	s->listen = nv;
	s->nlisten = nn;
	return 0;
}

int rs_spec_copy(rs_spec *dst, const rs_spec *src)
{
	int r = 0;

	*dst = *src;
	dst->argv = NULL;
	dst->argc = 0;
	dst->env = NULL;
	dst->envc = 0;
	dst->cwd = NULL;
	dst->script = NULL;
	dst->deps = NULL;
	dst->ndeps = 0;
	dst->listen = NULL;
	dst->nlisten = 0;
	dst->placement = NULL;
	dst->nplacement = 0;
	for (int i = 0; i < RS_PROBE__NR; i++)
		rs_probe_init(&dst->probes[i]);
	for (int i = 0; r == 0 && i < RS_PROBE__NR; i++)
		r = rs_probe_copy(&dst->probes[i], &src->probes[i]);
	for (size_t i = 0; r == 0 && i < src->nplacement; i++)
		r = rs_spec_add_placement(dst, src->placement[i]);
	for (size_t i = 0; r == 0 && i < src->ndeps; i++)
		r = rs_spec_add_dep(dst, src->deps[i]);
	for (size_t i = 0; r == 0 && i < src->argc; i++)
		r = rs_spec_add_arg(dst, src->argv[i]);
	for (size_t i = 0; r == 0 && i < src->envc; i++)
		r = rs_spec_add_env(dst, src->env[i]);
	for (size_t i = 0; r == 0 && i < src->nlisten; i++)
		r = rs_spec_add_listen(dst, src->listen[i]);
	if (r == 0 && src->cwd && !(dst->cwd = strdup(src->cwd)))
		r = -ENOMEM;
	if (r == 0 && src->script && !(dst->script = strdup(src->script)))
		r = -ENOMEM;
	if (r < 0)
		rs_spec_clear(dst);
	return r;
}

bool rs_label_valid(const char *label)
{
	size_t n = 0;

	for (const char *p = label; *p; p++, n++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return n > 0 && n < RS_LABEL_MAX && label[0] != '.' && label[0] != '-';
}

int rs_spec_validate(const rs_spec *s, char *err, size_t errlen)
{
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)
	if (!rs_label_valid(s->label))
		BAD("label '%s' is invalid: use 1-63 of [A-Za-z0-9._-], not starting with '.' or '-'",
		    s->label);
	if (s->argc == 0 || !s->argv || !s->argv[0] || !s->argv[0][0])
		BAD("no command given for '%s'", s->label);
	size_t bytes = s->cwd ? strlen(s->cwd) : 0;
	for (size_t i = 0; i < s->argc; i++)
		bytes += strlen(s->argv[i]) + 1;
	for (size_t i = 0; i < s->envc; i++) {
		if (!strchr(s->env[i], '=') || s->env[i][0] == '=')
			BAD("environment entry '%s' is not KEY=VALUE", s->env[i]);
		bytes += strlen(s->env[i]) + 1;
	}
	if (bytes > RS_SPEC_BYTES_MAX)
		BAD("command, environment and cwd take %zu bytes, more than the %u allowed",
		    bytes, RS_SPEC_BYTES_MAX);
	if (s->stop_signal <= 0 || s->stop_signal >= NSIG)
		BAD("stop signal %d is not a valid signal", (int)s->stop_signal);
	if (s->reload_signal < 0 || s->reload_signal >= NSIG)
		BAD("reload signal %d is not a valid signal", (int)s->reload_signal);
	if ((unsigned)s->policy >= RS_RP__NR)
		BAD("restart policy %d is invalid", (int)s->policy);
	if ((unsigned)s->notify >= RS_NT__NR)
		BAD("notify type %d is invalid", (int)s->notify);
	if ((unsigned)s->fence >= RS_FENCE__NR)
		BAD("fence %d is invalid (none or stop)", (int)s->fence);
	if (s->ready_timeout_ms == 0)
		BAD("ready timeout must be > 0");
	if (s->backoff.factor == 0)
		BAD("backoff factor must be >= 1");
	if (s->backoff.max_ms < s->backoff.initial_ms)
		BAD("backoff cap %u ms is below its initial %u ms",
		    s->backoff.max_ms, s->backoff.initial_ms);
	if (s->replicas < 1 || s->replicas > RS_REPLICAS_MAX)
		BAD("replicas must be 1 to %d", RS_REPLICAS_MAX);
	if (s->replicas > 1 && s->node[0])
		BAD("%u replicas cannot all run on node %s: leave the node out to spread them",
		    s->replicas, s->node);
	if (s->script && (s->script[0] != '/' || strlen(s->script) >= RS_ARG_MAX))
		BAD("recovery script '%s' must be an absolute path", s->script);
	if (s->node[0] && !rs_label_valid(s->node))
		BAD("node name '%s' is invalid", s->node);
	if (s->user[0] && !rs_user_valid(s->user))
		BAD("user '%s' is not a user name or a uid", s->user);
	if (rs_listen_validate_set(s->listen, s->nlisten, err, errlen) < 0)
		return -EINVAL;
	for (size_t i = 0; i < s->nplacement; i++) {
		bool is_node;
		if (!placement_name(s->placement[i], &is_node))
			BAD("placement '%s' is not node=NAME or label=NAME", s->placement[i]);
		if (is_node && s->node[0])
			BAD("give either a node or placement nodes, not both");
	}
	for (int i = 0; i < RS_PROBE__NR; i++)
		if (rs_probe_validate(&s->probes[i], (rs_probe_role)i, err, errlen) < 0)
			return -EINVAL;
	if (rs_limits_validate(&s->limits, err, errlen) < 0)
		return -EINVAL;
	if (rs_profile_validate(&s->profile, err, errlen) < 0)
		return -EINVAL;
	return 0;
#undef BAD
}
