/*
 * probespec.c - health probes as data (see probespec.h).
 */
#include "probespec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[RS_PK__NR] = {
	"none", "http", "tcp", "exec",
};
static const char *const role_names[RS_PROBE__NR] = {
	"liveness", "readiness", "startup",
};

const char *rs_probe_kind_to_string(rs_probe_kind k)
{
	return (unsigned)k < RS_PK__NR ? kind_names[k] : "invalid";
}

int rs_probe_kind_from_string(const char *s)
{
	for (int i = 0; s && i < RS_PK__NR; i++)
		if (!strcmp(kind_names[i], s))
			return i;
	return -EINVAL;
}

const char *rs_probe_role_to_string(rs_probe_role r)
{
	return (unsigned)r < RS_PROBE__NR ? role_names[r] : "invalid";
}

int rs_probe_role_from_string(const char *s)
{
	for (int i = 0; s && i < RS_PROBE__NR; i++)
		if (!strcmp(role_names[i], s))
			return i;
	return -EINVAL;
}

void rs_probe_init(rs_probe *p)
{
	memset(p, 0, sizeof *p);
	p->period_ms = RS_DEF_PROBE_PERIOD_MS;
	p->timeout_ms = RS_DEF_PROBE_TIMEOUT_MS;
	p->failures = RS_DEF_PROBE_FAILURES;
	p->status_min = RS_DEF_PROBE_STATUS_MIN;
	p->status_max = RS_DEF_PROBE_STATUS_MAX;
}

void rs_probe_clear(rs_probe *p)
{
	free(p->target);
	rs_strv_free(p->argv, p->argc);
	rs_strv_free(p->headers, p->nheaders);
	rs_probe_init(p);
}

int rs_probe_set_target(rs_probe *p, const char *target)
{
	char *dup = NULL;

	if (target && strlen(target) >= RS_PROBE_TARGET_MAX)
		return -E2BIG;
	if (target && !(dup = strdup(target)))
		return -ENOMEM;
	free(p->target);
	p->target = dup;
	return 0;
}

int rs_probe_add_arg(rs_probe *p, const char *arg)
{
	return rs_strv_add(&p->argv, &p->argc, arg, RS_PROBE_ARGV_MAX, RS_ARG_MAX);
}

int rs_probe_add_header(rs_probe *p, const char *header)
{
	return rs_strv_add(&p->headers, &p->nheaders, header, RS_PROBE_HEADERS_MAX,
			 RS_PROBE_HEADER_MAX);
}

int rs_probe_copy(rs_probe *dst, const rs_probe *src)
{
	int r;

	rs_probe_clear(dst);
	dst->kind = src->kind;
	dst->period_ms = src->period_ms;
	dst->timeout_ms = src->timeout_ms;
	dst->failures = src->failures;
	dst->initial_delay_ms = src->initial_delay_ms;
	dst->status_min = src->status_min;
	dst->status_max = src->status_max;
	r = rs_probe_set_target(dst, src->target);
	for (size_t i = 0; r == 0 && i < src->argc; i++)
		r = rs_probe_add_arg(dst, src->argv[i]);
	for (size_t i = 0; r == 0 && i < src->nheaders; i++)
		r = rs_probe_add_header(dst, src->headers[i]);
	if (r < 0)
		rs_probe_clear(dst);
	return r;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

bool rs_probe_equal(const rs_probe *a, const rs_probe *b)
{
	if (a->kind == RS_PK_NONE || b->kind == RS_PK_NONE)
		return a->kind == b->kind;
	return a->kind == b->kind && str_eq(a->target, b->target) &&
	       strv_eq(a->argv, a->argc, b->argv, b->argc) &&
	       strv_eq(a->headers, a->nheaders, b->headers, b->nheaders) &&
	       a->period_ms == b->period_ms && a->timeout_ms == b->timeout_ms &&
	       a->failures == b->failures &&
	       a->initial_delay_ms == b->initial_delay_ms &&
	       a->status_min == b->status_min && a->status_max == b->status_max;
}

bool rs_spec_has_probes(const rs_spec *s)
{
	for (int i = 0; i < RS_PROBE__NR; i++)
		if (s->probes[i].kind != RS_PK_NONE)
			return true;
	return false;
}

/* Printable ASCII without spaces (what a URL or an address may hold). */
static bool word_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* "HOST:PORT" with a numeric address (IPv4, or IPv6 in brackets) or
 * "localhost": a TCP probe never waits for a name lookup. */
static bool hostport_ok(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	unsigned char addr[16];
	size_t hl;
	char *end;
	long port;

	if (!colon || colon == s)
		return false;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 1 || port > 65535)
		return false;
	hl = (size_t)(colon - s);
	if (hl >= sizeof host)
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (!strcmp(host, "localhost"))
		return true;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, addr) == 1;
	}
	return inet_pton(AF_INET, host, addr) == 1;
}

/* "http://HOST..." or "https://HOST...", HOST not empty. */
static bool url_ok(const char *s)
{
	const char *rest = !strncmp(s, "http://", 7) ? s + 7 :
			   !strncmp(s, "https://", 8) ? s + 8 : NULL;

	return rest && *rest && *rest != '/' && *rest != ':' && word_ok(s);
}

/* "Name: value": a token name, no CR, LF or NUL anywhere. */
static bool header_ok(const char *h)
{
	const char *colon = strchr(h, ':');

	if (!colon || colon == h || strpbrk(h, "\r\n"))
		return false;
	for (const char *p = h; p < colon; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    strchr("()<>@,;\\\"/[]?={}", *p))
			return false;
	return true;
}

int rs_probe_validate(const rs_probe *p, rs_probe_role r, char *err,
		      size_t errlen)
{
	const char *role = rs_probe_role_to_string(r);

#define BAD(fmt, ...) do { snprintf(err, errlen, "%s probe: " fmt, role, \
				    __VA_ARGS__); return -EINVAL; } while (0)
	if ((unsigned)r >= RS_PROBE__NR) {
		snprintf(err, errlen, "probe role %d is invalid", (int)r);
		return -EINVAL;
	}
	if ((unsigned)p->kind >= RS_PK__NR)
		BAD("kind %d is invalid (http, tcp or exec)", (int)p->kind);
	if (p->kind == RS_PK_NONE)
		return 0;
	switch (p->kind) {
	case RS_PK_HTTP:
		if (!p->target || !url_ok(p->target))
			BAD("'%s' is not an http:// or https:// URL with a host",
			    p->target ? p->target : "");
		break;
	case RS_PK_TCP:
		if (!p->target || !hostport_ok(p->target))
			BAD("'%s' is not HOST:PORT with a numeric address (or localhost) "
			    "and a port 1-65535", p->target ? p->target : "");
		break;
	case RS_PK_EXEC:
		if (!p->argc || !p->argv || p->argv[0][0] != '/')
			BAD("%s", "exec needs a command whose program is an absolute path");
		break;
	default:
		break;
	}
	if (p->kind != RS_PK_HTTP && p->nheaders)
		BAD("%s", "headers are for http probes only");
	if (p->kind != RS_PK_EXEC && p->argc)
		BAD("%s", "a command is for exec probes only");
	if (p->kind == RS_PK_EXEC && p->target)
		BAD("%s", "an exec probe has no address");
	for (size_t i = 0; i < p->nheaders; i++)
		if (!header_ok(p->headers[i]))
			BAD("header '%s' is not 'Name: value'", p->headers[i]);
	if (p->period_ms < RS_PROBE_PERIOD_MIN_MS || p->period_ms > RS_PROBE_TIME_MAX_MS)
		BAD("period %u ms is outside %u ms to 1 h", p->period_ms,
		    RS_PROBE_PERIOD_MIN_MS);
	if (p->timeout_ms == 0 || p->timeout_ms > RS_PROBE_TIME_MAX_MS)
		BAD("timeout %u ms is outside 1 ms to 1 h", p->timeout_ms);
	if (p->failures < 1 || p->failures > RS_PROBE_FAILURES_MAX)
		BAD("failures %u is outside 1 to %d", p->failures, RS_PROBE_FAILURES_MAX);
	if (p->initial_delay_ms > RS_PROBE_DELAY_MAX_MS)
		BAD("initial delay %u ms is over a day", p->initial_delay_ms);
	if (p->status_min < 100 || p->status_max > 599 || p->status_min > p->status_max)
		BAD("status range %u-%u is not within 100-599", p->status_min,
		    p->status_max);
	return 0;
#undef BAD
}

/* "exec:/PROGRAM ARG...": the words split at blanks (no quoting: a
 * manifest's exec: list takes any argument), the program absolute. */
static int parse_exec(rs_probe *p, const char *s, char *err, size_t errlen)
{
	char **argv = NULL, word[RS_ARG_MAX];
	size_t argc = 0;
	const char *w = s + 5;

	for (;;) {
		size_t n;

		w += strspn(w, " \t");
		if (!*w)
			break;
		n = strcspn(w, " \t");
		if (n < sizeof word) {
			memcpy(word, w, n);
			word[n] = '\0';
		}
		if (n >= sizeof word ||
		    rs_strv_add(&argv, &argc, word, RS_PROBE_ARGV_MAX, RS_ARG_MAX) < 0) {
			rs_strv_free(argv, argc);
			snprintf(err, errlen, "'%.64s': more than %d words, or one too long",
				 s, RS_PROBE_ARGV_MAX);
			return -EINVAL;
		}
		w += n;
	}
	if (!argc || argv[0][0] != '/') {
		rs_strv_free(argv, argc);
		snprintf(err, errlen, "'%s' is not exec:/PROGRAM [ARG...] (the program an "
			 "absolute path)", s);
		return -EINVAL;
	}
	rs_strv_free(p->argv, p->argc);
	free(p->target);
	p->target = NULL;
	p->argv = argv;
	p->argc = argc;
	p->kind = RS_PK_EXEC;
	return 0;
}

int rs_probe_parse_target(rs_probe *p, const char *s, char *err, size_t errlen)
{
	rs_probe_kind k;
	const char *target = s;

	if (!strcmp(s, "none")) {
		k = RS_PK_NONE;
		target = NULL;
	} else if (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8)) {
		k = RS_PK_HTTP;
		if (!url_ok(s)) {
			snprintf(err, errlen, "'%s' is not a URL with a host", s);
			return -EINVAL;
		}
	} else if (!strncmp(s, "tcp:", 4)) {
		k = RS_PK_TCP;
		target = s + 4;
		if (!hostport_ok(target)) {
			snprintf(err, errlen, "'%s' is not tcp:HOST:PORT with a numeric "
				 "address (or localhost)", s);
			return -EINVAL;
		}
	} else if (!strncmp(s, "exec:", 5)) {
		return parse_exec(p, s, err, errlen);
	} else {
		snprintf(err, errlen, "'%s' is not http://HOST[:PORT]/PATH, "
			 "https://..., tcp:HOST:PORT, exec:/PROGRAM [ARG...] or none", s);
		return -EINVAL;
	}
	if (rs_probe_set_target(p, target) < 0) {
		snprintf(err, errlen, "'%.64s...' is too long", s);
		return -EINVAL;
	}
	rs_strv_free(p->argv, p->argc);   /* an exec probe's, replaced */
	p->argv = NULL;
	p->argc = 0;
	p->kind = k;
	return 0;
}

void rs_probe_format_target(const rs_probe *p, char *buf, size_t n)
{
	size_t len;

	switch (p->kind) {
	case RS_PK_HTTP:
		snprintf(buf, n, "%s", p->target ? p->target : "");
		break;
	case RS_PK_TCP:
		snprintf(buf, n, "tcp:%s", p->target ? p->target : "");
		break;
	case RS_PK_EXEC:
		snprintf(buf, n, "exec:");
		for (size_t i = 0; i < p->argc; i++) {
			len = strlen(buf);
			if (len + 1 < n)
				snprintf(buf + len, n - len, "%s%s", i ? " " : "", p->argv[i]);
		}
		break;
	default:
		snprintf(buf, n, "none");
		break;
	}
}

/* ---- the store's form ------------------------------------------------ */

typedef struct sbuf {
	char  *p;
	size_t len, cap;
	bool   oom;
	bool   mid;    /* inside a line: the next word needs a space */
} sbuf;

static void sb_putc(sbuf *b, char c)
{
	if (b->oom)
		return;
	if (b->len + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

/* One word: bytes that are no space, no % and printable as they are, the
 * rest %XX; "" (or NULL) as a lone "-", and "-" itself as %2D. */
static void sb_word(sbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (b->mid)
		sb_putc(b, ' ');
	b->mid = true;
	if (!s || !*s) {
		sb_putc(b, '-');
		return;
	}
	if (!strcmp(s, "-")) {
		sb_putc(b, '%'), sb_putc(b, '2'), sb_putc(b, 'D');
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '%' || c >= 0x7f) {
			sb_putc(b, '%');
			sb_putc(b, hex[c >> 4]);
			sb_putc(b, hex[c & 15]);
		} else {
			sb_putc(b, (char)c);
		}
	}
}

static void sb_uint(sbuf *b, unsigned long long v)
{
	char num[24];

	snprintf(num, sizeof num, "%llu", v);
	sb_word(b, num);
}

char *rs_probes_pack(const rs_spec *s)
{
	sbuf b = { 0 };

	for (int i = 0; i < RS_PROBE__NR; i++) {
		const rs_probe *p = &s->probes[i];

		if (p->kind == RS_PK_NONE)
			continue;
		sb_word(&b, role_names[i]);
		sb_word(&b, rs_probe_kind_to_string(p->kind));
		sb_uint(&b, p->period_ms);
		sb_uint(&b, p->timeout_ms);
		sb_uint(&b, p->failures);
		sb_uint(&b, p->initial_delay_ms);
		sb_uint(&b, p->status_min);
		sb_uint(&b, p->status_max);
		sb_word(&b, p->target);
		sb_uint(&b, p->nheaders);
		for (size_t k = 0; k < p->nheaders; k++)
			sb_word(&b, p->headers[k]);
		sb_uint(&b, p->argc);
		for (size_t k = 0; k < p->argc; k++)
			sb_word(&b, p->argv[k]);
		sb_putc(&b, '\n');
		b.mid = false;
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p ? b.p : strdup("");
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes the next word of *pp (up to a space or the line's end) into
 * out[n]; "-" gives "". 0, or -EINVAL at the end of the line or on a bad
 * escape. */
static int next_word(const char **pp, char *out, size_t n)
{
	const char *p = *pp;
	size_t len = 0;

	while (*p == ' ')
		p++;
	if (!*p || *p == '\n')
		return -EINVAL;
	if (*p == '-' && (p[1] == ' ' || p[1] == '\n' || !p[1])) {
		*out = '\0';
		*pp = p + 1;
		return 0;
	}
	while (*p && *p != ' ' && *p != '\n') {
		int c = (unsigned char)*p;
		if (c == '%') {
			int h = unhex(p[1]), l = h < 0 ? -1 : unhex(p[2]);
			if (l < 0 || (h == 0 && l == 0))
				return -EINVAL;
			c = h << 4 | l;
			p += 2;
		}
		if (len + 1 >= n)
			return -EINVAL;
		out[len++] = (char)c;
		p++;
	}
	out[len] = '\0';
	*pp = p;
	return 0;
}

static int next_uint(const char **pp, uint32_t max, uint32_t *v)
{
	char w[24], *end;
	unsigned long long x;

	if (next_word(pp, w, sizeof w) < 0 || !w[0])
		return -EINVAL;
	x = strtoull(w, &end, 10);
	if (*end || x > max)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

/* One line of the store's form into the probe it names. */
static int unpack_line(rs_spec *s, const char **pp)
{
	char *w = malloc(RS_ARG_MAX + 1);
	rs_probe *p;
	uint32_t n;
	int role, kind, r = -EINVAL;

	if (!w)
		return -ENOMEM;
	if (next_word(pp, w, RS_ARG_MAX) < 0 || (role = rs_probe_role_from_string(w)) < 0)
		goto out;
	p = &s->probes[role];
	rs_probe_clear(p);
	if (next_word(pp, w, RS_ARG_MAX) < 0 || (kind = rs_probe_kind_from_string(w)) < 0)
		goto out;
	p->kind = (rs_probe_kind)kind;
	if (next_uint(pp, UINT32_MAX, &p->period_ms) < 0 ||
	    next_uint(pp, UINT32_MAX, &p->timeout_ms) < 0 ||
	    next_uint(pp, UINT32_MAX, &p->failures) < 0 ||
	    next_uint(pp, UINT32_MAX, &p->initial_delay_ms) < 0 ||
	    next_uint(pp, 999, &p->status_min) < 0 ||
	    next_uint(pp, 999, &p->status_max) < 0 ||
	    next_word(pp, w, RS_ARG_MAX) < 0)
		goto out;
	if (w[0] && (r = rs_probe_set_target(p, w)) < 0)
		goto out;
	r = -EINVAL;
	if (next_uint(pp, RS_PROBE_HEADERS_MAX, &n) < 0)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		if (next_word(pp, w, RS_ARG_MAX) < 0 || rs_probe_add_header(p, w) < 0)
			goto out;
	if (next_uint(pp, RS_PROBE_ARGV_MAX, &n) < 0)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		if (next_word(pp, w, RS_ARG_MAX) < 0 || rs_probe_add_arg(p, w) < 0)
			goto out;
	while (**pp == ' ')
		(*pp)++;
	if (**pp != '\n' && **pp)
		goto out;
	if (**pp == '\n')
		(*pp)++;
	/* only what rsd could send: a probe that does not check is none */
	r = rs_probe_validate(p, (rs_probe_role)role, w, RS_ARG_MAX);
out:
	free(w);
	return r;
}

int rs_probes_unpack(rs_spec *s, const char *text)
{
	const char *p = text ? text : "";
	int r = 0;

	for (int i = 0; i < RS_PROBE__NR; i++)
		rs_probe_clear(&s->probes[i]);
	while (r == 0 && *p)
		r = unpack_line(s, &p);
	if (r < 0)
		for (int i = 0; i < RS_PROBE__NR; i++)
			rs_probe_clear(&s->probes[i]);
	return r;
}
