#include "prom.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void prom_put(prom_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *ns;
		while (cap < b->len + n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (!ns) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void prom_puts(prom_buf *b, const char *s)
{
	prom_put(b, s, strlen(s));
}

/* HELP text escapes \ and newline; label values also escape ". */
static void prom_escaped(prom_buf *b, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			prom_puts(b, "\\\\");
		else if (*s == '\n')
			prom_puts(b, "\\n");
		else if (quote && *s == '"')
			prom_puts(b, "\\\"");
		else
			prom_put(b, s, 1);
	}
}

void prom_family(prom_buf *b, const char *name, const char *type,
		 const char *help)
{
	prom_puts(b, "# HELP ");
	prom_puts(b, name);
	prom_puts(b, " ");
	prom_escaped(b, help, 0);
	prom_puts(b, "\n# TYPE ");
	prom_puts(b, name);
	prom_puts(b, " ");
	prom_puts(b, type);
	prom_puts(b, "\n");
}

void prom_sample(prom_buf *b, const char *name, double value, ...)
{
	char num[64];
	const char *k, *v;
	va_list ap;
	int first = 1;

	prom_puts(b, name);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		prom_puts(b, first ? "{" : ",");
		first = 0;
		prom_puts(b, k);
		prom_puts(b, "=\"");
		prom_escaped(b, v ? v : "", 1);
		prom_puts(b, "\"");
	}
	va_end(ap);
	if (!first)
		prom_puts(b, "}");
	if (isnan(value))
		snprintf(num, sizeof num, " NaN\n");
	else if (isinf(value))
		snprintf(num, sizeof num, " %s\n", value > 0 ? "+Inf" : "-Inf");
	else if (value == (double)(long long)value && fabs(value) < 1e15)
		snprintf(num, sizeof num, " %lld\n", (long long)value);
	else {
		/* the shortest of 15 or 17 digits that reads back the same:
		 * 0.095, not 0.095000000000000001 */
		snprintf(num, sizeof num, " %.15g\n", value);
		if (strtod(num, NULL) != value)
			snprintf(num, sizeof num, " %.17g\n", value);
	}
	prom_puts(b, num);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;   /* the directory's own fd */
}

void prom_process(prom_buf *b)
{
	unsigned long utime = 0, stime = 0, vsize = 0;
	unsigned long long start = 0;
	long rss = 0, tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char buf[1024], *p;
	double boot = 0;
	struct rlimit rl;
	FILE *f;

	f = fopen("/proc/self/stat", "re");
	if (f) {
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = '\0';
		fclose(f);
		p = strrchr(buf, ')');
		if (p)
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu "
			       "%*d %*d %*d %*d %*d %*d %llu %lu %ld",
			       &utime, &stime, &start, &vsize, &rss);
	}
	f = fopen("/proc/stat", "re");
	if (f) {
		while (fgets(buf, sizeof buf, f))
			if (sscanf(buf, "btime %lf", &boot) == 1)
				break;
		fclose(f);
	}
	prom_family(b, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
	prom_sample(b, "process_cpu_seconds_total",
		    (double)(utime + stime) / (double)tick, NULL);
	prom_family(b, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.");
	prom_sample(b, "process_resident_memory_bytes", (double)rss * (double)page, NULL);
	prom_family(b, "process_virtual_memory_bytes", "gauge",
		    "Virtual memory size in bytes.");
	prom_sample(b, "process_virtual_memory_bytes", (double)vsize, NULL);
	prom_family(b, "process_start_time_seconds", "gauge",
		    "Start time of the process since unix epoch in seconds.");
	prom_sample(b, "process_start_time_seconds", boot + (double)start / (double)tick, NULL);
	prom_family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
	prom_sample(b, "process_open_fds", count_fds(), NULL);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		prom_family(b, "process_max_fds", "gauge",
			    "Maximum number of open file descriptors.");
		prom_sample(b, "process_max_fds", (double)rl.rlim_cur, NULL);
	}
}

const double prom_latency_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
const int prom_latency_nbounds = 16;

void prom_hist_init(prom_hist *h, const double *bounds, int nbounds)
{
	memset(h, 0, sizeof *h);
	h->bounds = bounds;
	h->nbounds = nbounds > PROM_HIST_MAX ? PROM_HIST_MAX : nbounds;
}

void prom_hist_observe(prom_hist *h, double v)
{
	int i = 0;

	while (i < h->nbounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void prom_hist_samples(prom_buf *b, const char *name, const prom_hist *h,
		       const char *key, const char *val)
{
	char n[128], le[32];
	uint64_t cum = 0;

	snprintf(n, sizeof n, "%s_bucket", name);
	for (int i = 0; i < h->nbounds; i++) {
		cum += h->counts[i];
		snprintf(le, sizeof le, "%g", h->bounds[i]);
		prom_sample(b, n, (double)cum, key ? key : "le", key ? val : le,
			    key ? "le" : NULL, le, NULL);
	}
	prom_sample(b, n, (double)h->count, key ? key : "le", key ? val : "+Inf",
		    key ? "le" : NULL, "+Inf", NULL);
	snprintf(n, sizeof n, "%s_sum", name);
	prom_sample(b, n, h->sum, key, val, NULL);
	snprintf(n, sizeof n, "%s_count", name);
	prom_sample(b, n, (double)h->count, key, val, NULL);
}

void prom_hist_write(prom_buf *b, const char *name, const char *help,
		     const prom_hist *h)
{
	prom_family(b, name, "histogram", help);
	prom_hist_samples(b, name, h, NULL, NULL);
}

void prom_free(prom_buf *b)
{
	free(b->s);
	memset(b, 0, sizeof *b);
}
