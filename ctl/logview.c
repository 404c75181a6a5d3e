/*
 * logview.c - rsctl logs' printing of stored lines (logview.h).
 */
#include <errno.h>
#include <string.h>

#include "logline.h"
#include "logview.h"

int logview_separator(char *buf, size_t n, const char *label, uint64_t id,
		      int32_t from, int32_t to)
{
	return snprintf(buf, n, "--- %s/%llu restarted: pid %d -> %d ---", label,
			(unsigned long long)id, (int)from, (int)to);
}

/* The process changed to pid: says so once a process was shown. */
static void changed(logview *v, int32_t pid, FILE *out, FILE *err)
{
	char sep[256];

	if (v->separators && v->pid && pid != v->pid) {
		fflush(out);
		logview_separator(sep, sizeof sep, v->label ? v->label : "?",
				  v->instance, v->pid, pid);
		fprintf(err, "%s\n", sep);
		fflush(err);
	}
	v->pid = pid;
}

int logview_write(logview *v, const char *data, size_t n, bool stamped,
		  FILE *out, FILE *err)
{
	size_t i = 0;

	if (!stamped) {
		/* plain text: lines are counted, not cut */
		for (size_t j = 0; j < n && (!v->max || v->lines < v->max); j++)
			if (data[j] == '\n')
				v->lines++;
		return fwrite(data, 1, n, out) == n || n == 0 ? 0 : -EIO;
	}
	while (i < n && (!v->max || v->lines < v->max)) {
		const char *nl = memchr(data + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (data + i)) : n - i;
		const char *p = data + i;
		logline l;

		if (logline_parse(p, len, &l)) {
			changed(v, l.pid, out, err);
			if (v->timestamps) {
				fwrite(p, 1, LOGLINE_TIME_LEN, out);
				fputc(' ', out);
			}
		}
		fwrite(p + l.text, 1, len - l.text, out);
		if (nl)
			fputc('\n', out);
		v->lines++;
		i += len + (nl != NULL);
	}
	return ferror(out) ? -EIO : 0;
}

void logview_process(logview *v, int32_t pid, FILE *out, FILE *err)
{
	if (pid > 0)
		changed(v, pid, out, err);
}
