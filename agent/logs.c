/*
 * logs.c - the instances' captured output: STATE_DIR/logs/LABEL.ID.log,
 * appended to by the service itself (O_APPEND, so it never waits on the
 * agent), read back for rsctl logs, and kept under --log-max by a
 * copy-and-truncate rotation into LABEL.ID.log.1 (what logrotate calls
 * copytruncate: lines written between the copy and the truncate are lost,
 * the service is never blocked or restarted).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "wire.h"

static void log_path(const agent *ag, const char *label, uint64_t id,
		     char *buf, size_t n)
{
	snprintf(buf, n, "%s/logs/%s.%llu.log", ag->state_dir, label,
		 (unsigned long long)id);
}

/* Reads the answer to a LogsGet into d: the last `lines` lines (after 0)
 * or what follows offset after-1, at most RS_LOGS_MAX bytes. */
static void logs_read(agent *ag, const rs_logs_get *g, rs_logs_data *d)
{
	char path[4096];
	struct stat st;
	uint64_t from;
	ssize_t n;
	int fd;

	log_path(ag, g->label, g->instance_id, path, sizeof path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return;   /* found stays false */
	}
	d->found = true;
	if (g->after) {
		from = g->after - 1;
		if (from > (uint64_t)st.st_size)
			from = 0;   /* rotated (truncated) since: start over */
	} else {
		from = (uint64_t)st.st_size > RS_LOGS_MAX ?
		       (uint64_t)st.st_size - RS_LOGS_MAX : 0;
	}
	d->data = malloc(RS_LOGS_MAX);
	n = d->data ? pread(fd, d->data, RS_LOGS_MAX, (off_t)from) : -1;
	close(fd);
	d->len = n > 0 ? (size_t)n : 0;
	d->next = from + d->len + 1;
	if (!g->after && d->len) {
		/* keep the last `lines` lines */
		size_t i = d->len, want = g->lines ? g->lines : 50, seen = 0;
		if (d->data[i - 1] == '\n')
			i--;
		while (i > 0 && seen < want)
			if (d->data[--i] == '\n' && ++seen == want)
				i++;
		if (seen < want)
			i = 0;
		memmove(d->data, d->data + i, d->len - i);
		d->len -= i;
	}
}

void logs_tail_text(agent *ag, const inst *in, char *out, size_t n)
{
	char path[4096], buf[512];
	struct stat st;
	ssize_t r;
	size_t start = 0, lines = 0;
	int fd;

	out[0] = '\0';
	log_path(ag, in->spec.label, in->id, path, sizeof path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_size == 0) {
		close(fd);
		return;
	}
	if (in->death_log_end >= 0 && in->death_log_end < st.st_size)
		st.st_size = in->death_log_end;   /* not the new process's lines */
	r = pread(fd, buf, sizeof buf - 1, st.st_size > (off_t)sizeof buf - 1 ?
		  st.st_size - (off_t)(sizeof buf - 1) : 0);
	close(fd);
	if (r <= 0)
		return;
	buf[r] = '\0';
	while (r > 0 && buf[r - 1] == '\n')
		buf[--r] = '\0';
	for (ssize_t i = r - 1; i >= 0; i--)
		if (buf[i] == '\n' && ++lines == 3) {
			start = (size_t)i + 1;
			break;
		}
	/* one line in the event: newlines shown as " | " */
	for (size_t i = start, o = 0; buf[i] && o + 4 < n; i++) {
		if (buf[i] == '\n') {
			memcpy(out + o, " | ", 3);
			o += 3;
		} else {
			out[o++] = (unsigned char)buf[i] < 0x20 ? ' ' : buf[i];
		}
		out[o] = '\0';
	}
}

int64_t logs_size(agent *ag, const inst *in)
{
	char path[4096];
	struct stat st;

	log_path(ag, in->spec.label, in->id, path, sizeof path);
	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

void logs_get(agent *ag, const rs_msg *req)
{
	rs_msg m;
	uint8_t *buf;
	size_t len;

	rs_msg_init(&m, RS_MSG_LOGS_DATA);
	m.u.logs_data.req_id = req->u.logs_get.req_id;
	logs_read(ag, &req->u.logs_get, &m.u.logs_data);
	m.seq = 0;
	if (wire_encode(&m, &buf, &len) == 0) {
		agent_out(ag, buf, len, false);
		free(buf);
	}
	rs_msg_clear(&m);
}

/* Copies path to path.1 and truncates path. */
static int rotate(const char *path)
{
	char dst[4200], buf[65536];
	int in, out, r = 0;
	ssize_t n;

	snprintf(dst, sizeof dst, "%s.1", path);
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = -EIO;
			break;
		}
	close(in);
	if (close(out) < 0 && r == 0)
		r = -errno;
	if (r == 0 && truncate(path, 0) < 0)
		r = -errno;
	return r;
}

void logs_rotate_all(agent *ag)
{
	char path[4096];
	struct stat st;

	for (inst *in = ag->insts; in; in = in->next) {
		log_path(ag, in->spec.label, in->id, path, sizeof path);
		if (stat(path, &st) < 0 || (uint64_t)st.st_size <= ag->log_max)
			continue;
		if (rotate(path) < 0)
			log_warn("%s: cannot rotate %s, ignoring", in->spec.label, path);
	}
}
