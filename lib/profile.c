/*
 * profile.c - privilege profiles as data (profile.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profile.h"

static const char *const cap_names[RS_CAP_LAST + 1] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

int rs_cap_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	if (strncasecmp(name, "CAP_", 4) == 0)
		name += 4;
	for (int i = 0; i <= RS_CAP_LAST; i++)
		if (strcasecmp(name, cap_names[i] + 4) == 0)
			return i;
	return -EINVAL;
}

const char *rs_cap_name(int n)
{
	return n >= 0 && n <= RS_CAP_LAST ? cap_names[n] : NULL;
}

/* One CPU number at *s (digits only), advancing *s: 0 or -EINVAL. */
static int cpu_num(const char **s, int *out)
{
	long v = 0;

	if (**s < '0' || **s > '9')
		return -EINVAL;
	while (**s >= '0' && **s <= '9') {
		v = v * 10 + (**s - '0');
		if (v >= RS_CPUS_MAX)
			return -EINVAL;
		(*s)++;
	}
	*out = (int)v;
	return 0;
}

int rs_cpus_parse(const char *s, uint64_t *mask, int *highest)
{
	int lo, hi, top = -1;

	memset(mask, 0, RS_CPUS_WORDS * sizeof *mask);
	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		if (cpu_num(&s, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (*s == '-') {
			s++;
			if (cpu_num(&s, &hi) < 0 || hi < lo)
				return -EINVAL;
		}
		for (int c = lo; c <= hi; c++)
			mask[c / 64] |= 1ull << (c % 64);
		if (hi > top)
			top = hi;
		if (!*s)
			break;
		if (*s++ != ',')
			return -EINVAL;
	}
	if (highest)
		*highest = top;
	return 0;
}

void rs_cpus_format(const uint64_t *mask, char *buf, size_t n)
{
	size_t off = 0;

	if (n)
		buf[0] = '\0';
	for (int c = 0; c < RS_CPUS_MAX; c++) {
		int e = c, w;
		if (!(mask[c / 64] & (1ull << (c % 64))))
			continue;
		while (e + 1 < RS_CPUS_MAX && mask[(e + 1) / 64] & (1ull << ((e + 1) % 64)))
			e++;
		w = e > c ? snprintf(buf + off, n - off, "%s%d-%d", off ? "," : "", c, e) :
			    snprintf(buf + off, n - off, "%s%d", off ? "," : "", c);
		if (w < 0 || (size_t)w >= n - off) {
			if (n)
				buf[0] = '\0';
			return;
		}
		off += (size_t)w;
		c = e;
	}
}

bool rs_profile_any(const rs_profile *p)
{
	return p->caps_set || p->nnp || p->ro_root || p->private_tmp || p->nice ||
	       p->cpus[0];
}

bool rs_profile_restart(const rs_profile *a, const rs_profile *b)
{
	return a->caps_set != b->caps_set || (a->caps_set && a->caps != b->caps) ||
	       a->nnp != b->nnp || a->ro_root != b->ro_root ||
	       a->private_tmp != b->private_tmp;
}

bool rs_profile_equal(const rs_profile *a, const rs_profile *b)
{
	return !rs_profile_restart(a, b) && a->nice == b->nice &&
	       strcmp(a->cpus, b->cpus) == 0;
}

uint32_t rs_profile_needs(const rs_profile *p)
{
	uint32_t m = 0;

	if (!rs_profile_any(p))
		return 0;
	m |= RS_PRIV_PROFILE;
	if (p->ro_root || p->private_tmp)
		m |= RS_PRIV_MOUNT;
	if (p->nice < 0)
		m |= RS_PRIV_NICE;
	if (p->caps_set)
		m |= RS_PRIV_CAPS;
	return m;
}

int rs_profile_validate(const rs_profile *p, char *err, size_t n)
{
	uint64_t mask[RS_CPUS_WORDS];

#define BAD(...) do { snprintf(err, n, __VA_ARGS__); return -EINVAL; } while (0)
	if (p->nice < RS_NICE_MIN || p->nice > RS_NICE_MAX)
		BAD("nice %d is out of %d..%d", (int)p->nice, RS_NICE_MIN, RS_NICE_MAX);
	if (p->nnp > RS_NNP_OFF)
		BAD("no_new_privileges %u is not default, on or off", (unsigned)p->nnp);
	if (p->caps & ~((2ull << RS_CAP_LAST) - 1))
		BAD("a capability numbered above %d (%s) is unknown", RS_CAP_LAST,
		    rs_cap_name(RS_CAP_LAST));
	if (!p->caps_set && p->caps)
		BAD("capabilities without a caps list");
	if (memchr(p->cpus, '\0', sizeof p->cpus) == NULL)
		BAD("the cpus list is too long");
	if (p->cpus[0] && rs_cpus_parse(p->cpus, mask, NULL) < 0)
		BAD("cpus '%s' is not a CPU list (0-1,3: CPUs 0 to %d)", p->cpus,
		    RS_CPUS_MAX - 1);
	return 0;
#undef BAD
}

void rs_profile_merge(rs_profile *dst, const rs_profile *src)
{
	if (src->fields & RS_PF_CAPS) {
		dst->caps_set = src->caps_set;
		dst->caps = src->caps;
	}
	if (src->fields & RS_PF_NNP)
		dst->nnp = src->nnp;
	if (src->fields & RS_PF_RO)
		dst->ro_root = src->ro_root;
	if (src->fields & RS_PF_TMP)
		dst->private_tmp = src->private_tmp;
	if (src->fields & RS_PF_NICE)
		dst->nice = src->nice;
	if (src->fields & RS_PF_CPUS)
		memcpy(dst->cpus, src->cpus, sizeof dst->cpus);
	dst->fields = 0;
}

void rs_priv_format(uint32_t mask, char *buf, size_t n)
{
	static const char *const names[] = { "profile", "mount", "nice", "caps" };
	size_t off = 0;

	if (n)
		buf[0] = '\0';
	for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
		if (mask & (1u << i)) {
			int w = snprintf(buf + off, n - off, "%s%s", off ? "," : "", names[i]);
			if (w < 0 || (size_t)w >= n - off)
				return;
			off += (size_t)w;
		}
	if (!off)
		snprintf(buf, n, "none");
}

void rs_caps_format(uint64_t caps, char *buf, size_t n)
{
	size_t off = 0;

	if (n)
		buf[0] = '\0';
	for (int i = 0; i <= RS_CAP_LAST; i++)
		if (caps & (1ull << i)) {
			char low[32];
			size_t k;
			for (k = 0; cap_names[i][4 + k] && k < sizeof low - 1; k++)
				low[k] = cap_names[i][4 + k] >= 'A' && cap_names[i][4 + k] <= 'Z' ?
					 (char)(cap_names[i][4 + k] | 0x20) : cap_names[i][4 + k];
			low[k] = '\0';
			int w = snprintf(buf + off, n - off, "%s%s", off ? "," : "", low);
			if (w < 0 || (size_t)w >= n - off)
				return;
			off += (size_t)w;
		}
}

void rs_profile_pack(const rs_profile *p, char *buf, size_t n)
{
	char caps[RS_PROFILE_TEXT_MAX - 64];
	size_t off = 0;

#define PUT(...) do { int w_ = snprintf(buf + off, n - off, __VA_ARGS__); \
		      if (w_ < 0 || (size_t)w_ >= n - off) return; \
		      off += (size_t)w_; } while (0)
	if (n)
		buf[0] = '\0';
	if (p->caps_set) {
		rs_caps_format(p->caps, caps, sizeof caps);
		PUT("%scaps=%s", off ? " " : "", caps);
	}
	if (p->nnp)
		PUT("%snnp=%s", off ? " " : "", p->nnp == RS_NNP_ON ? "on" : "off");
	if (p->ro_root)
		PUT("%sread-only-root", off ? " " : "");
	if (p->private_tmp)
		PUT("%sprivate-tmp", off ? " " : "");
	if (p->nice)
		PUT("%snice=%d", off ? " " : "", (int)p->nice);
	if (p->cpus[0])
		PUT("%scpus=%s", off ? " " : "", p->cpus);
#undef PUT
}

int rs_profile_unpack(const char *text, rs_profile *p)
{
	char buf[RS_PROFILE_TEXT_MAX], *save = NULL, *tok;
	char err[128];

	memset(p, 0, sizeof *p);
	if (!text || strlen(text) >= sizeof buf)
		goto bad;
	memcpy(buf, text, strlen(text) + 1);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "caps=", 5) == 0) {
			char *s2 = NULL, *c;
			p->caps_set = true;
			for (c = strtok_r(tok + 5, ",", &s2); c; c = strtok_r(NULL, ",", &s2)) {
				int k = rs_cap_parse(c);
				if (k < 0)
					goto bad;
				p->caps |= 1ull << k;
			}
		} else if (strcmp(tok, "nnp=on") == 0) {
			p->nnp = RS_NNP_ON;
		} else if (strcmp(tok, "nnp=off") == 0) {
			p->nnp = RS_NNP_OFF;
		} else if (strcmp(tok, "read-only-root") == 0) {
			p->ro_root = true;
		} else if (strcmp(tok, "private-tmp") == 0) {
			p->private_tmp = true;
		} else if (strncmp(tok, "nice=", 5) == 0) {
			char *end;
			long v = strtol(tok + 5, &end, 10);
			if (end == tok + 5 || *end || v < RS_NICE_MIN || v > RS_NICE_MAX)
				goto bad;
			p->nice = (int32_t)v;
		} else if (strncmp(tok, "cpus=", 5) == 0 &&
			   strlen(tok + 5) < sizeof p->cpus) {
			memcpy(p->cpus, tok + 5, strlen(tok + 5) + 1);
		} else {
			goto bad;
		}
	}
	if (rs_profile_validate(p, err, sizeof err) < 0)
		goto bad;
	return 0;
bad:
	memset(p, 0, sizeof *p);
	return -EINVAL;
}
