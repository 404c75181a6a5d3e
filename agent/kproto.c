/*
 * kproto.c - pack and unpack the keeper's K_SPAWN record (kproto.h).
 *
 * Unpacking walks the record twice with one function: first to check it
 * and size what it holds, then to copy it into a single allocation, so
 * nothing is allocated for a record that is refused and the two passes
 * cannot disagree about the layout.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kproto.h"

struct cur {
	const uint8_t *p;
	size_t         left;
};

/* The next n bytes of the record into v: a number in the host's order
 * (the keeper is the agent's own child). */
static int get_bytes(struct cur *c, void *v, size_t n)
{
	if (c->left < n)
		return -EBADMSG;
	memcpy(v, c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

static int get_u32(struct cur *c, uint32_t *v)
{
	return get_bytes(c, v, sizeof *v);
}

static int get_u64(struct cur *c, uint64_t *v)
{
	return get_bytes(c, v, sizeof *v);
}

/* One counted string. Adds its size (with a NUL) to *need; when *arena is
 * set, copies it there, NUL-terminated, as *out. *raw, *rawlen: its bytes
 * in the record. */
static int get_str(struct cur *c, char **arena, size_t *need, char **out,
		   const uint8_t **raw, uint32_t *rawlen)
{
	uint32_t n;
	int r = get_u32(c, &n);

	if (r < 0)
		return r;
	if (n > c->left || memchr(c->p, '\0', n))
		return -EBADMSG;
	*need += (size_t)n + 1;
	if (*arena) {
		memcpy(*arena, c->p, n);
		(*arena)[n] = '\0';
		*out = *arena;
		*arena += (size_t)n + 1;
	}
	if (raw) {
		*raw = c->p;
		*rawlen = n;
	}
	c->p += n;
	c->left -= n;
	return 0;
}

/* A vector of at most max counted strings into *v (when arena is set). */
static int get_strv(struct cur *c, uint32_t min, uint32_t max, uint32_t *count,
		    char **v, char **arena, size_t *need)
{
	int r = get_u32(c, count);

	if (r < 0)
		return r;
	if (*count < min || *count > max)
		return -EINVAL;
	for (uint32_t i = 0; i < *count; i++) {
		char *dummy;
		if ((r = get_str(c, arena, need, v ? &v[i] : &dummy, NULL, NULL)) < 0)
			return r;
	}
	if (v)
		v[*count] = NULL;
	return 0;
}

/* Checks the record; with arena set, also fills s (its vectors must have
 * room). *need: the bytes the strings take. */
static int walk(const uint8_t *p, size_t len, struct kproto_spawn *s,
		char *arena, size_t *need)
{
	struct cur c = { p, len };
	const uint8_t *lp = NULL, *cgp = NULL;
	uint32_t lplen = 0, cglen = 0, v;
	int r;

	*need = 0;
	if ((r = get_strv(&c, 1, RS_KEEPER_ARGV, &s->argc, arena ? s->argv : NULL,
			  &arena, need)) < 0 ||
	    (r = get_strv(&c, 0, RS_KEEPER_ENV, &s->envc, arena ? s->env : NULL,
			  &arena, need)) < 0 ||
	    (r = get_str(&c, &arena, need, &s->cwd, NULL, NULL)) < 0 ||
	    (r = get_str(&c, &arena, need, &s->logpath, &lp, &lplen)) < 0 ||
	    (r = get_u32(&c, &s->ngroups)) < 0)
		return r;
	if (lplen == 0 || lp[0] != '/')
		return -EINVAL;
	if (s->ngroups > KEEPER_GROUPS_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < s->ngroups; i++) {
		if ((r = get_u32(&c, &v)) < 0)
			return r;
		s->groups[i] = (gid_t)v;
	}
	if ((r = get_u32(&c, &s->flags)) < 0)
		return r;
	if (s->flags & ~KSPAWN_FLAGS_ALL)
		return -EINVAL;
	if ((r = get_u32(&c, &s->stop_signal)) < 0 ||
	    (r = get_u32(&c, &s->stop_ms)) < 0)
		return r;
	if (s->stop_signal < 1 || s->stop_signal > 64)
		return -EINVAL;
	if ((r = get_u64(&c, &s->log_max)) < 0)
		return r;
	if (s->log_max < KSPAWN_LOG_MAX_MIN)
		return -EINVAL;
	if ((r = get_str(&c, &arena, need, &s->cgroup, &cgp, &cglen)) < 0)
		return r;
	if (cglen && !kcg_name_valid((const char *)cgp, cglen))
		return -EINVAL;
	if ((r = get_u64(&c, &s->limits.mem_max)) < 0 ||
	    (r = get_u64(&c, &s->limits.mem_high)) < 0 ||
	    (r = get_u32(&c, &s->limits.cpu_weight)) < 0 ||
	    (r = get_u32(&c, &s->limits.cpu_max)) < 0 ||
	    (r = get_u32(&c, &s->limits.pids_max)) < 0)
		return r;
	if (!cglen && kcg_limits_needs(&s->limits))
		return -EINVAL;   /* limits need a cgroup */
	if ((r = get_u64(&c, &s->prof.caps)) < 0 ||
	    (r = get_u32(&c, &s->prof.flags)) < 0 ||
	    (r = get_u32(&c, &v)) < 0 ||
	    (r = get_str(&c, &arena, need, &s->prof.cpus, &cgp, &cglen)) < 0)
		return r;
	s->prof.nice = (int32_t)v;
	if ((s->prof.flags & ~KPROF_ALL) || s->prof.nice < -20 || s->prof.nice > 19 ||
	    (s->prof.flags & KPROF_NNP_ON && s->prof.flags & KPROF_NNP_OFF) ||
	    (!(s->prof.flags & KPROF_CAPS) && s->prof.caps) ||
	    cglen >= KPROF_CPUS_MAX)
		return -EINVAL;
	return c.left ? -EBADMSG : 0;
}

int kproto_spawn_unpack(const uint8_t *p, size_t len, struct kproto_spawn *s)
{
	size_t need, vecs;
	char *mem;
	int r;

	memset(s, 0, sizeof *s);
	if ((r = walk(p, len, s, NULL, &need)) < 0) {
		memset(s, 0, sizeof *s);
		return r;
	}
	vecs = ((size_t)s->argc + 1 + s->envc + 1) * sizeof(char *);
	mem = malloc(vecs + need);
	if (!mem) {
		memset(s, 0, sizeof *s);
		return -ENOMEM;
	}
	s->mem = mem;
	s->argv = (char **)(void *)mem;
	s->env = s->argv + s->argc + 1;
	/* the same bytes walked again: cannot fail now */
	r = walk(p, len, s, mem + vecs, &need);
	if (r < 0) {
		kproto_spawn_free(s);
		return r;
	}
	return 0;
}

void kproto_spawn_free(struct kproto_spawn *s)
{
	if (!s)
		return;
	free(s->mem);
	memset(s, 0, sizeof *s);
}

/* n bytes of v at *p, before end: get_bytes' counterpart. */
static int put_bytes(uint8_t **p, const uint8_t *end, const void *v, size_t n)
{
	if ((size_t)(end - *p) < n)
		return -E2BIG;
	memcpy(*p, v, n);
	*p += n;
	return 0;
}

static int put_u32(uint8_t **p, const uint8_t *end, uint32_t v)
{
	return put_bytes(p, end, &v, sizeof v);
}

static int put_u64(uint8_t **p, const uint8_t *end, uint64_t v)
{
	return put_bytes(p, end, &v, sizeof v);
}

static int put_str(uint8_t **p, const uint8_t *end, const char *str)
{
	size_t n;
	int r;

	if (!str)
		return -EINVAL;
	n = strlen(str);
	if (n > UINT32_MAX)
		return -E2BIG;
	if ((r = put_u32(p, end, (uint32_t)n)) < 0)
		return r;
	return put_bytes(p, end, str, n);
}

int kproto_spawn_pack(const struct kproto_spawn *s, uint8_t *buf, size_t cap,
		      size_t *len)
{
	return kproto_spawn_pack_for(s, KEEPER_PROTO, buf, cap, len);
}

int kproto_profile_any(const struct kproto_profile *pf)
{
	return pf->flags || pf->caps || pf->nice || (pf->cpus && pf->cpus[0]);
}

int kproto_spawn_pack_for(const struct kproto_spawn *s, int proto, uint8_t *buf,
			  size_t cap, size_t *len)
{
	uint8_t *p = buf;
	const uint8_t *end = buf + cap;
	int r = 0;

	if (proto < KEEPER_PROTO_MIN || proto > KEEPER_PROTO)
		return -EINVAL;
	if (kcg_limits_needs(&s->limits) && proto < 6)
		return -EPROTONOSUPPORT;
	if (kcg_limits_needs(&s->limits) && (!s->cgroup || !s->cgroup[0]))
		return -EINVAL;
	if (kproto_profile_any(&s->prof) && proto < 7)
		return -EPROTONOSUPPORT;
	if ((s->prof.flags & ~KPROF_ALL) || s->prof.nice < -20 || s->prof.nice > 19 ||
	    (s->prof.flags & KPROF_NNP_ON && s->prof.flags & KPROF_NNP_OFF) ||
	    (!(s->prof.flags & KPROF_CAPS) && s->prof.caps) ||
	    (s->prof.cpus && strlen(s->prof.cpus) >= KPROF_CPUS_MAX))
		return -EINVAL;
	if (s->argc < 1 || s->argc > RS_KEEPER_ARGV || s->envc > RS_KEEPER_ENV ||
	    s->ngroups > KEEPER_GROUPS_MAX || (s->flags & ~KSPAWN_FLAGS_ALL) ||
	    s->stop_signal < 1 || s->stop_signal > 64 ||
	    !s->argv || (s->envc && !s->env) || !s->logpath || s->logpath[0] != '/' ||
	    (proto >= 4 && s->log_max < KSPAWN_LOG_MAX_MIN) ||
	    (proto >= 5 && s->cgroup && s->cgroup[0] &&
	     !kcg_name_valid(s->cgroup, strlen(s->cgroup))))
		return -EINVAL;
	r = put_u32(&p, end, s->argc);
	for (uint32_t i = 0; r == 0 && i < s->argc; i++)
		r = put_str(&p, end, s->argv[i]);
	if (r == 0)
		r = put_u32(&p, end, s->envc);
	for (uint32_t i = 0; r == 0 && i < s->envc; i++)
		r = put_str(&p, end, s->env[i]);
	if (r == 0)
		r = put_str(&p, end, s->cwd ? s->cwd : "");
	if (r == 0)
		r = put_str(&p, end, s->logpath);
	if (r == 0)
		r = put_u32(&p, end, s->ngroups);
	for (uint32_t i = 0; r == 0 && i < s->ngroups; i++)
		r = put_u32(&p, end, (uint32_t)s->groups[i]);
	if (r == 0)   /* protocol 2 ends at the flags, and knows no fence */
		r = put_u32(&p, end, proto >= 3 ? s->flags : s->flags & ~KSPAWN_FENCED);
	if (r == 0 && proto >= 3)
		r = put_u32(&p, end, s->stop_signal);
	if (r == 0 && proto >= 3)
		r = put_u32(&p, end, s->stop_ms);
	if (r == 0 && proto >= 4)
		r = put_u64(&p, end, s->log_max);
	if (r == 0 && proto >= 5)
		r = put_str(&p, end, s->cgroup ? s->cgroup : "");
	if (r == 0 && proto >= 6)
		r = put_u64(&p, end, s->limits.mem_max);
	if (r == 0 && proto >= 6)
		r = put_u64(&p, end, s->limits.mem_high);
	if (r == 0 && proto >= 6)
		r = put_u32(&p, end, s->limits.cpu_weight);
	if (r == 0 && proto >= 6)
		r = put_u32(&p, end, s->limits.cpu_max);
	if (r == 0 && proto >= 6)
		r = put_u32(&p, end, s->limits.pids_max);
	if (r == 0 && proto >= 7)
		r = put_u64(&p, end, s->prof.caps);
	if (r == 0 && proto >= 7)
		r = put_u32(&p, end, s->prof.flags);
	if (r == 0 && proto >= 7)
		r = put_u32(&p, end, (uint32_t)s->prof.nice);
	if (r == 0 && proto >= 7)
		r = put_str(&p, end, s->prof.cpus ? s->prof.cpus : "");
	if (r < 0)
		return r;
	*len = (size_t)(p - buf);
	return 0;
}

void kproto_limits_pack(const struct kcg_limits *l, uint8_t *buf)
{
	uint8_t *p = buf;
	const uint8_t *end = buf + KPROTO_LIMITS_LEN;

	put_u64(&p, end, l->mem_max);
	put_u64(&p, end, l->mem_high);
	put_u32(&p, end, l->cpu_weight);
	put_u32(&p, end, l->cpu_max);
	put_u32(&p, end, l->pids_max);
}

int kproto_limits_unpack(const uint8_t *p, size_t len, struct kcg_limits *l)
{
	struct cur c = { p, len };

	if (len != KPROTO_LIMITS_LEN)
		return -EBADMSG;
	get_u64(&c, &l->mem_max);
	get_u64(&c, &l->mem_high);
	get_u32(&c, &l->cpu_weight);
	get_u32(&c, &l->cpu_max);
	get_u32(&c, &l->pids_max);
	return 0;
}

const char *kproto_step_name(int step)
{
	static const char *const names[KSTEP__NR] = {
		[KSTEP_NONE] = "",
		[KSTEP_CGROUP] = "entering its cgroup",
		[KSTEP_FDS] = "setting up its file descriptors",
		[KSTEP_MOUNTNS] = "making a private mount namespace",
		[KSTEP_RO_ROOT] = "remounting / read-only",
		[KSTEP_TMP] = "mounting a private /tmp",
		[KSTEP_NICE] = "setting its nice value",
		[KSTEP_CPUS] = "setting its CPU affinity",
		[KSTEP_BOUNDING] = "dropping capabilities from its bounding set",
		[KSTEP_USER] = "becoming its user",
		[KSTEP_CAPS] = "setting its kept capabilities",
		[KSTEP_AMBIENT] = "raising its ambient capabilities",
		[KSTEP_NNP] = "setting no_new_privs",
		[KSTEP_CWD] = "changing to its working directory",
		[KSTEP_EXEC] = "executing it",
	};

	return step > 0 && step < KSTEP__NR ? names[step] : "";
}
