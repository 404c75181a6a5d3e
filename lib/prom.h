/*
 * prom.h - Prometheus text exposition format (version 0.0.4) builder.
 *
 * Owns: a growable text buffer, HELP/TYPE lines, label-value escaping and
 * the standard process_* metrics of the calling process.
 * Must not: know what the metrics mean or serve them.
 */
#ifndef RS_PROM_H
#define RS_PROM_H

#include <stddef.h>
#include <stdint.h>

typedef struct prom_buf {
	char  *s;
	size_t len, cap;
	int    oom;     /* set once an allocation failed; output is then cut */
} prom_buf;

/* Starts a family: "# HELP name help" and "# TYPE name type". */
void prom_family(prom_buf *b, const char *name, const char *type,
		 const char *help);
/* One sample. labels is NULL or "k1", "v1", "k2", "v2", ..., NULL pairs;
 * values are escaped (\\, \", \n). */
void prom_sample(prom_buf *b, const char *name, double value, ...)
	__attribute__((sentinel));
/* process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds,
 * process_open_fds, process_max_fds (from /proc/self). */
void prom_process(prom_buf *b);
void prom_free(prom_buf *b);

/* A histogram with fixed upper bounds (seconds), cumulative on output. */
#define PROM_HIST_MAX 16
typedef struct prom_hist {
	const double *bounds;     /* ascending, nbounds entries (+Inf implied) */
	int           nbounds;
	uint64_t      counts[PROM_HIST_MAX + 1];
	uint64_t      count;
	double        sum;
} prom_hist;

/* Bounds for latencies: 100 us .. 10 s. */
extern const double prom_latency_bounds[];
extern const int prom_latency_nbounds;

void prom_hist_init(prom_hist *h, const double *bounds, int nbounds);
void prom_hist_observe(prom_hist *h, double v);
/* Writes the family (HELP/TYPE histogram) with its _bucket/_sum/_count. */
void prom_hist_write(prom_buf *b, const char *name, const char *help,
		     const prom_hist *h);
/* Only h's _bucket/_sum/_count lines, each with the label key="val" too
 * (key NULL: none): one series of a family written beforehand. */
void prom_hist_samples(prom_buf *b, const char *name, const prom_hist *h,
		       const char *key, const char *val);

#endif
