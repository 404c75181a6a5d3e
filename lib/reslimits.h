/*
 * reslimits.h - a service's resource limits (rs_limits, model.h) as data:
 * parse, check, compare, format, and the text the store keeps. Pure,
 * libc only (the keeper links it).
 *
 * Owns: the forms a user writes (sizes "256M", a CPU max "50%"), the
 * controllers a set of limits needs (RS_CTL_*), and their names. Must
 * not: touch a cgroup (agent/kcgroup.c does), log, or allocate.
 *
 * Forms: a size is bytes, or a number with K, M, G or T (powers of 1024;
 * "Ki"/"KiB"/"KB" alike); a CPU max is a percent of one CPU ("50%",
 * "200%" = two CPUs), applied as a quota per 100 ms period.
 */
#ifndef RS_RESLIMITS_H
#define RS_RESLIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define RS_CPU_PERIOD_US 100000u          /* the quota's period */
#define RS_CPU_MAX_PCT   (100u * 1024u)   /* 1024 CPUs */
#define RS_CPU_WEIGHT_MAX 10000u
#define RS_PIDS_MAX      4194304u         /* the kernel's pid_max limit */
#define RS_MEM_MIN       4096u            /* one page */
#define RS_LIMITS_TEXT_MAX 160            /* rs_limits_pack's text, incl. NUL */

/* The controllers a node offers or a spec needs, a bit set (Hello field
 * 10). Bits a peer does not know are ignored by it. */
enum {
	RS_CTL_MEMORY = 1u << 0,
	RS_CTL_CPU    = 1u << 1,
	RS_CTL_PIDS   = 1u << 2,
	RS_CTL__ALL   = (1u << 3) - 1,
};

/* In an edit's limits (RS_EDIT_LIMITS): this limit is removed. 0 there
 * keeps the stored one (rs_limits_merge). */
#define RS_LIMIT_DROP64 UINT64_MAX
#define RS_LIMIT_DROP32 UINT32_MAX

/* An edit's limits src into dst, field by field: 0 keeps dst's,
 * RS_LIMIT_DROP* removes it, any other value replaces it. */
void rs_limits_merge(rs_limits *dst, const rs_limits *src);
/* src with every RS_LIMIT_DROP* as 0 (none): an edit's form as a spec's. */
void rs_limits_undrop(rs_limits *l);

/* Whether l sets any limit. */
bool rs_limits_any(const rs_limits *l);
/* Whether a and b set the same limits. */
bool rs_limits_equal(const rs_limits *a, const rs_limits *b);
/* The RS_CTL_* controllers l needs. */
uint32_t rs_limits_needs(const rs_limits *l);
/* Checks the ranges (memory >= RS_MEM_MIN, high <= max when both, CPU
 * weight 1..10000, CPU max 1..RS_CPU_MAX_PCT, pids 1..RS_PIDS_MAX). On
 * error a message naming the limit into err, -EINVAL. */
int rs_limits_validate(const rs_limits *l, char *err, size_t n);

/* A size ("256M", "1G", "65536") into *out: 0, -EINVAL (not a size, or
 * 0) or -ERANGE. */
int rs_size_parse(const char *s, uint64_t *out);
/* A CPU max ("50%") into *pct: 0 or -EINVAL (also out of range). */
int rs_cpu_max_parse(const char *s, uint32_t *pct);
/* bytes as the shortest exact "256M" / "1G" / "1000" into buf[n]. */
void rs_size_format(uint64_t bytes, char *buf, size_t n);

/* The names of the controllers in mask, "memory,cpu,pids", or "none",
 * into buf[n]. */
void rs_ctl_format(uint32_t mask, char *buf, size_t n);
/* l as one line, "memory-max=256M memory-high=200M cpu-weight=100
 * cpu-max=50% pids-max=64" (only what is set; "" for none), into buf[n]:
 * the store's column and what events and describe show. */
void rs_limits_pack(const rs_limits *l, char *buf, size_t n);
/* rs_limits_pack's text into *l: 0, or -EINVAL (l then none). */
int rs_limits_unpack(const char *text, rs_limits *l);

#endif
