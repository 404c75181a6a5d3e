/*
 * reslimits.c - resource limits as data (reslimits.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reslimits.h"

bool rs_limits_any(const rs_limits *l)
{
	return l->memory_max || l->memory_high || l->cpu_weight || l->cpu_max ||
	       l->pids_max;
}

void rs_limits_merge(rs_limits *dst, const rs_limits *src)
{
#define M(f, drop) do { if (src->f == (drop)) dst->f = 0; \
			else if (src->f) dst->f = src->f; } while (0)
	M(memory_max, RS_LIMIT_DROP64);
	M(memory_high, RS_LIMIT_DROP64);
	M(cpu_weight, RS_LIMIT_DROP32);
	M(cpu_max, RS_LIMIT_DROP32);
	M(pids_max, RS_LIMIT_DROP32);
#undef M
}

void rs_limits_undrop(rs_limits *l)
{
	rs_limits none = { 0 };

	rs_limits_merge(&none, l);
	*l = none;
}

bool rs_limits_equal(const rs_limits *a, const rs_limits *b)
{
	return a->memory_max == b->memory_max && a->memory_high == b->memory_high &&
	       a->cpu_weight == b->cpu_weight && a->cpu_max == b->cpu_max &&
	       a->pids_max == b->pids_max;
}

uint32_t rs_limits_needs(const rs_limits *l)
{
	uint32_t m = 0;

	if (l->memory_max || l->memory_high)
		m |= RS_CTL_MEMORY;
	if (l->cpu_weight || l->cpu_max)
		m |= RS_CTL_CPU;
	if (l->pids_max)
		m |= RS_CTL_PIDS;
	return m;
}

int rs_limits_validate(const rs_limits *l, char *err, size_t n)
{
#define BAD(...) do { snprintf(err, n, __VA_ARGS__); return -EINVAL; } while (0)
	if (l->memory_max && l->memory_max < RS_MEM_MIN)
		BAD("memory max %llu is below %u bytes", (unsigned long long)l->memory_max,
		    RS_MEM_MIN);
	if (l->memory_high && l->memory_high < RS_MEM_MIN)
		BAD("memory high %llu is below %u bytes",
		    (unsigned long long)l->memory_high, RS_MEM_MIN);
	if (l->memory_max && l->memory_high > l->memory_max)
		BAD("memory high %llu is above memory max %llu",
		    (unsigned long long)l->memory_high, (unsigned long long)l->memory_max);
	if (l->cpu_weight > RS_CPU_WEIGHT_MAX)
		BAD("cpu weight %u is out of 1..%u", l->cpu_weight, RS_CPU_WEIGHT_MAX);
	if (l->cpu_max > RS_CPU_MAX_PCT)
		BAD("cpu max %u%% is out of 1..%u%%", l->cpu_max, RS_CPU_MAX_PCT);
	if (l->pids_max > RS_PIDS_MAX)
		BAD("pids max %u is out of 1..%u", l->pids_max, RS_PIDS_MAX);
	return 0;
#undef BAD
}

int rs_size_parse(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *u;
	char *end;
	int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end && (u = strchr(units, end[0] & ~0x20))) {
		shift = 10 * (int)(u - units + 1);
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
	} else if (*end == 'b' || *end == 'B') {
		end++;
	}
	if (*end || v == 0)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int rs_cpu_max_parse(const char *s, uint32_t *pct)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || strcmp(end, "%") != 0 || v == 0 || v > RS_CPU_MAX_PCT)
		return -EINVAL;
	*pct = (uint32_t)v;
	return 0;
}

void rs_size_format(uint64_t bytes, char *buf, size_t n)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && bytes && (bytes & 1023) == 0) {
		bytes >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, n, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, n, "%llu%c", (unsigned long long)bytes, units[u]);
}

void rs_ctl_format(uint32_t mask, char *buf, size_t n)
{
	static const char *const names[] = { "memory", "cpu", "pids" };
	size_t off = 0;

	if (n)
		buf[0] = '\0';
	for (int i = 0; i < 3; i++)
		if (mask & (1u << i) && off < n)
			off += (size_t)snprintf(buf + off, n - off, "%s%s",
						off ? "," : "", names[i]);
	if (!off)
		snprintf(buf, n, "none");
}

void rs_limits_pack(const rs_limits *l, char *buf, size_t n)
{
	char a[32];
	size_t off = 0;

#define PUT(...) do { if (off < n) off += (size_t)snprintf(buf + off, n - off, __VA_ARGS__); } while (0)
	if (n)
		buf[0] = '\0';
	if (l->memory_max) {
		rs_size_format(l->memory_max, a, sizeof a);
		PUT("%smemory-max=%s", off ? " " : "", a);
	}
	if (l->memory_high) {
		rs_size_format(l->memory_high, a, sizeof a);
		PUT("%smemory-high=%s", off ? " " : "", a);
	}
	if (l->cpu_weight)
		PUT("%scpu-weight=%u", off ? " " : "", l->cpu_weight);
	if (l->cpu_max)
		PUT("%scpu-max=%u%%", off ? " " : "", l->cpu_max);
	if (l->pids_max)
		PUT("%spids-max=%u", off ? " " : "", l->pids_max);
#undef PUT
}

int rs_limits_unpack(const char *text, rs_limits *l)
{
	char buf[RS_LIMITS_TEXT_MAX], *save = NULL, err[128];
	rs_limits v = { 0 };

	memset(l, 0, sizeof *l);
	if (!text || !*text)
		return 0;
	if (strlen(text) >= sizeof buf)
		return -EINVAL;
	strcpy(buf, text);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');
		unsigned long u;
		char *end;
		int r = 0;

		if (!eq)
			return -EINVAL;
		*eq++ = '\0';
		if (!strcmp(w, "memory-max")) {
			r = rs_size_parse(eq, &v.memory_max);
		} else if (!strcmp(w, "memory-high")) {
			r = rs_size_parse(eq, &v.memory_high);
		} else if (!strcmp(w, "cpu-max")) {
			r = rs_cpu_max_parse(eq, &v.cpu_max);
		} else if (!strcmp(w, "cpu-weight") || !strcmp(w, "pids-max")) {
			errno = 0;
			u = strtoul(eq, &end, 10);
			if (errno || *end || !u || u > UINT32_MAX)
				return -EINVAL;
			*(w[0] == 'c' ? &v.cpu_weight : &v.pids_max) = (uint32_t)u;
		} else {
			return -EINVAL;
		}
		if (r < 0)
			return -EINVAL;
	}
	if (rs_limits_validate(&v, err, sizeof err) < 0)
		return -EINVAL;
	*l = v;
	return 0;
}
