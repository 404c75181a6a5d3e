/*
 * logs.c - reading the instances' captured output back for rsctl logs
 * (docs/design.md, "Logs"): STATE_DIR/logs/LABEL.ID.log and the LOG.1
 * the keeper rotated it to, read as one stream.
 *
 * The keeper (protocol 4, klog.h) writes them: whole lines, each stamped
 * with its time and pid (lib/logline.h), rotated by rename. An older
 * keeper still running this node's services lets each service append to
 * its log itself: unstamped lines, and this engine rotates those logs by
 * copy and truncate (logs_rotate_all), as 0.2 did.
 *
 * A read position (LogsData.next) is opaque to rsd and rsctl: the file's
 * tag (23 bits of a hash of its inode, the top one set) and the offset in
 * it. After a rotation the position still names the file, now LOG.1, so
 * a follower reads on where it was and then into the new LOG; one that
 * missed two rotations starts at LOG.1's first line. A 0.2 position (an
 * offset, no tag) is an offset into LOG.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "kproto.h"
#include "log.h"
#include "logline.h"
#include "wire.h"

#define LOGS_BLK      (64u << 10)   /* one read, either way */
#define LOGS_IN_MAX   (1u << 20)    /* stored bytes one stamped answer reads */
#define LOGS_OFF_BITS 40
#define LOGS_OFF_MAX  ((1ull << LOGS_OFF_BITS) - 1)

/* One of the two files: [0] LOG.1, [1] LOG. */
struct lfile {
	int      fd;      /* -1: absent */
	uint64_t size;    /* when opened: what this answer reads */
	uint32_t tag;
};

struct lfilter {
	uint64_t since_ms;
	int32_t  pid;
};

/* A cached block of one file, for reading backward. */
struct blk {
	uint64_t start;
	size_t   len;
	char     buf[LOGS_BLK];
};

static void log_path(const agent *ag, const char *label, uint64_t id,
		     char *buf, size_t n)
{
	snprintf(buf, n, "%s/logs/%s.%llu.log", ag->state_dir, label,
		 (unsigned long long)id);
}

/* Whether this node's logs are written by a keeper that stamps them. */
static bool keeper_stamps(const agent *ag)
{
	return ag->keeper_proto >= 4;
}

static uint32_t ino_tag(ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull;

	return (uint32_t)(h >> 42) | (1u << 22);
}

static void files_close(struct lfile f[2])
{
	for (int i = 0; i < 2; i++)
		if (f[i].fd >= 0)
			close(f[i].fd);
}

/* Opens LOG.1 and LOG. A rotation between the two opens shows as one
 * file under both names: then both are opened again. 0, or -ENOENT when
 * neither exists. */
static int files_open(const char *path, struct lfile f[2])
{
	char old[4200];

	snprintf(old, sizeof old, "%s.1", path);
	for (int tries = 0; tries < 3; tries++) {
		struct stat st;

		for (int i = 0; i < 2; i++) {
			f[i].fd = open(i ? path : old, O_RDONLY | O_CLOEXEC);
			if (f[i].fd >= 0 && fstat(f[i].fd, &st) < 0) {
				close(f[i].fd);
				f[i].fd = -1;
			}
			f[i].size = f[i].fd >= 0 ? (uint64_t)st.st_size : 0;
			f[i].tag = f[i].fd >= 0 ? ino_tag(st.st_ino) : 0;
		}
		if (f[0].fd < 0 || f[1].fd < 0 || f[0].tag != f[1].tag)
			break;
		files_close(f);
	}
	if (f[0].fd >= 0 && f[1].fd >= 0 && f[0].tag == f[1].tag) {
		close(f[0].fd);   /* still rotating: LOG alone */
		f[0].fd = -1;
	}
	if (f[0].size > LOGS_OFF_MAX)
		f[0].size = LOGS_OFF_MAX;
	if (f[1].size > LOGS_OFF_MAX)
		f[1].size = LOGS_OFF_MAX;
	return f[0].fd < 0 && f[1].fd < 0 ? -ENOENT : 0;
}

static uint64_t cursor(const struct lfile f[2], int fi, uint64_t off)
{
	return 1 + ((uint64_t)f[fi].tag << LOGS_OFF_BITS | off);
}

/* Where a read from after (a LogsData.next) starts: *fi, *off. */
static void cursor_find(const struct lfile f[2], uint64_t after, int *fi,
			uint64_t *off)
{
	uint64_t c = after - 1;
	uint32_t tag = (uint32_t)(c >> LOGS_OFF_BITS);

	*off = c & LOGS_OFF_MAX;
	if (f[1].fd >= 0 && (tag == 0 || tag == f[1].tag)) {
		*fi = 1;   /* a 0.2 position is an offset into LOG */
		if (*off > f[1].size)
			*off = 0;   /* truncated since (a copy rotation) */
	} else if (f[0].fd >= 0 && tag == f[0].tag) {
		*fi = 0;
		if (*off > f[0].size)
			*off = f[0].size;
	} else if (tag == 0) {
		*fi = 0;   /* no LOG (being rotated): wait at LOG.1's end */
		*off = f[0].size;
	} else {
		/* rotated away: the oldest line there is */
		*fi = f[0].fd >= 0 ? 0 : 1;
		*off = 0;
	}
}

static bool keep(const logline *l, const struct lfilter *flt)
{
	if (flt->pid && (!l->stamped || l->pid != flt->pid))
		return false;
	if (flt->since_ms && (!l->stamped || l->ms < flt->since_ms))
		return false;
	return true;
}

/* The start of the line of f that ends at end (past its newline, or the
 * file's end), found reading backward through b; 0 at the file's start. */
static uint64_t line_start(const struct lfile *f, uint64_t end, struct blk *b)
{
	uint64_t q = end - 1;   /* [0, q): before this line's last byte */

	while (q > 0) {
		const char *nl;

		if (q <= b->start || q > b->start + b->len) {
			uint64_t s = q > LOGS_BLK ? q - LOGS_BLK : 0;
			ssize_t r = pread(f->fd, b->buf, (size_t)(q - s), (off_t)s);

			if (r != (ssize_t)(q - s))
				return q;   /* shrunk under us: start here */
			b->start = s;
			b->len = (size_t)r;
		}
		nl = memrchr(b->buf, '\n', (size_t)(q - b->start));
		if (nl)
			return b->start + (uint64_t)(nl - b->buf) + 1;
		q = b->start;
	}
	return 0;
}

/* Parses the line [start, end) of f from its first bytes. */
static void line_head(const struct lfile *f, uint64_t start, uint64_t end,
		      const struct blk *b, logline *l)
{
	char head[LOGLINE_PREFIX_MAX];
	size_t n = end - start > sizeof head ? sizeof head : (size_t)(end - start);
	ssize_t r;

	if (start >= b->start && start + n <= b->start + b->len) {
		logline_parse(b->buf + (start - b->start), n, l);
		return;
	}
	r = pread(f->fd, head, n, (off_t)start);
	logline_parse(head, r > 0 ? (size_t)r : 0, l);
}

/* What a tail answers: where it starts, and the process previous names. */
struct tail {
	int      fi;
	uint64_t off;
	int32_t  prev;     /* previous: the process found (0: none) */
};

/* Finds the first of the last `lines` lines that flt keeps (and, with
 * previous, that the process before newest wrote), reading backward from
 * the end of LOG into LOG.1; at most `budget` bytes of kept lines (0: no
 * limit). newest: the instance's process now, 0: the newest stamped line
 * names it. With previous, sets flt->pid to the process found. */
static void tail_find(const struct lfile f[2], uint32_t lines, uint64_t budget,
		      struct lfilter *flt, bool previous, int32_t newest,
		      struct tail *t)
{
	struct blk *b = malloc(sizeof *b);
	uint32_t seen = 0;
	uint64_t bytes = 0;

	/* fewer lines than asked: from the first */
	t->fi = f[0].fd >= 0 ? 0 : 1;
	t->off = 0;
	t->prev = 0;
	if (!b)
		return;
	for (int fi = 1; fi >= 0; fi--) {
		uint64_t end = f[fi].size;

		if (f[fi].fd < 0)
			continue;
		b->start = b->len = 0;
		while (end > 0) {
			uint64_t start = line_start(&f[fi], end, b);
			bool stop = false, kept;
			logline l;

			line_head(&f[fi], start, end, b, &l);
			if (previous && l.stamped) {
				if (!newest)
					newest = l.pid;
				if (!t->prev && l.pid != newest)
					t->prev = flt->pid = l.pid;
				else if (t->prev && l.pid != t->prev && l.pid != newest)
					stop = true;   /* the one before it */
			}
			if (flt->since_ms && l.stamped && l.ms < flt->since_ms)
				stop = true;   /* older from here on */
			kept = !stop && (!previous || t->prev) && keep(&l, flt);
			if (kept && budget && bytes + (end - start) > budget)
				stop = true;
			if (stop) {
				/* the answer starts after this line */
				t->fi = fi;
				t->off = end;
				free(b);
				return;
			}
			bytes += kept ? end - start : 0;
			if (kept && ++seen == lines) {
				t->fi = fi;
				t->off = start;
				free(b);
				return;
			}
			end = start;
		}
	}
	free(b);
}

/* Reads forward from (fi, off) into d->data: at most RS_LOGS_MAX bytes out
 * and in_max stored bytes in; the stored lines (stamped) or their text.
 * Only whole lines, but for an unstamped last line of LOG.1 or of a log
 * a service appends to itself (whole = false). Sets d->next, d->more. */
static void read_forward(const struct lfile f[2], int fi, uint64_t off,
			 const struct lfilter *flt, bool stamped, bool whole,
			 uint64_t in_max, rs_logs_data *d)
{
	char *buf = malloc(LOGS_BLK);
	uint64_t in = 0;

	d->data = malloc(RS_LOGS_MAX);
	d->len = 0;
	if (!buf || !d->data)
		goto out;
	while (fi < 2) {
		size_t want, got, i = 0;
		uint64_t base = off;
		ssize_t r;

		if (f[fi].fd < 0 || off >= f[fi].size) {
			if (fi == 0 && f[1].fd >= 0) {
				fi = 1;
				off = 0;
				continue;
			}
			break;
		}
		if (in >= in_max) {
			d->more = true;
			break;
		}
		want = f[fi].size - off > LOGS_BLK ? LOGS_BLK : (size_t)(f[fi].size - off);
		r = pread(f[fi].fd, buf, want, (off_t)off);
		if (r <= 0)
			break;
		got = (size_t)r;
		while (i < got) {
			const char *nl = memchr(buf + i, '\n', got - i);
			size_t len = nl ? (size_t)(nl - (buf + i)) : got - i;
			bool last = !nl && base + got == f[fi].size;
			size_t outn, skip;
			const char *src;
			logline l;

			/* a line cut by the block is read again from its start,
			 * unless it fills the block (only an unstamped one can) */
			if (!nl && !(i == 0 && got == LOGS_BLK) &&
			    !(last && (fi == 0 || !whole)))
				break;
			logline_parse(buf + i, len, &l);
			skip = stamped || !l.stamped ? 0 : l.text;
			src = buf + i + skip;
			outn = len - skip + (nl != NULL);
			if (keep(&l, flt)) {
				if (d->len + outn > RS_LOGS_MAX) {
					d->more = true;
					goto done;
				}
				memcpy(d->data + d->len, src, outn);
				d->len += outn;
			}
			i += len + (nl != NULL);
			off += len + (nl != NULL);
			in += len + (nl != NULL);
		}
		if (i == 0)
			break;   /* a line being written: the next read */
	}
done:
out:
	free(buf);
	if (fi == 0 && off >= f[0].size && f[1].fd >= 0) {
		fi = 1;
		off = 0;
	}
	d->next = cursor(f, fi, off);
}

/* Reads the answer to a LogsGet into d. */
static void logs_read(agent *ag, const rs_logs_get *g, rs_logs_data *d)
{
	inst *in = svc_find(ag, g->instance_id);
	bool stamps = keeper_stamps(ag);
	struct lfilter flt = { 0, 0 };
	struct lfile f[2] = { { -1, 0, 0 }, { -1, 0, 0 } };
	char path[4096];
	int fi;
	uint64_t off;

	log_path(ag, g->label, g->instance_id, path, sizeof path);
	if (files_open(path, f) < 0)
		return;   /* found stays false */
	d->found = true;
	d->pid = in && in->pid > 0 ? in->pid : 0;
	/* the filters need the stamps; without them the text as it is */
	d->stamped = g->stamped && stamps;
	if (stamps) {
		flt.since_ms = g->since_ms;
		flt.pid = g->pid;
	}
	if (g->after) {
		cursor_find(f, g->after, &fi, &off);
	} else {
		int32_t newest = in ? (in->pid > 0 ? in->pid : in->last_pid) : 0;
		struct tail t;

		/* in pages only for a 0.3 reader of stamped lines; else the
		 * newest RS_LOGS_MAX bytes, as 0.2 */
		tail_find(f, g->lines ? g->lines : 50,
			  d->stamped ? 0 : RS_LOGS_MAX, &flt,
			  stamps && g->previous && !g->pid, newest, &t);
		if (stamps && g->previous && !g->pid) {
			d->prev_pid = t.prev;
			if (!t.prev) {
				files_close(f);
				return;   /* no earlier process: nothing to read */
			}
		}
		fi = t.fi;
		off = t.off;
	}
	read_forward(f, fi, off, &flt, d->stamped, stamps,
		     d->stamped ? LOGS_IN_MAX : RS_LOGS_MAX, d);
	if (!d->stamped)
		d->more = false;   /* a 0.2 reader pages by following */
	files_close(f);
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

/* Appends line[n] to out (cap n, NUL-terminated) as one line: control
 * characters as spaces, a " | " before it unless out is empty. */
static void tail_add(char *out, size_t cap, const char *line, size_t n)
{
	size_t o = strlen(out);

	if (o && o + 4 < cap) {
		memcpy(out + o, " | ", 3);
		o += 3;
	}
	for (size_t i = 0; i < n && o + 1 < cap; i++)
		out[o++] = (unsigned char)line[i] < 0x20 ? ' ' : line[i];
	out[o] = '\0';
}

/* The last 3 lines of an unstamped log before end (0.2's way). */
static void tail_unstamped(int fd, off_t end, char *out, size_t n)
{
	char buf[512];
	size_t start = 0, lines = 0;
	ssize_t r;

	r = pread(fd, buf, sizeof buf - 1, end > (off_t)sizeof buf - 1 ?
		  end - (off_t)(sizeof buf - 1) : 0);
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
	for (char *p = buf + start, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl) {
			tail_add(out, n, p, strlen(p));
			break;
		}
		tail_add(out, n, p, (size_t)(nl - p));
	}
}

void logs_tail_text(agent *ag, const inst *in, char *out, size_t n)
{
	struct lfile f[2] = { { -1, 0, 0 }, { -1, 0, 0 } };
	const char *lines[3];
	size_t lens[3], nl = 0, examined = 0;
	char path[4096], *text[3] = { NULL, NULL, NULL };
	struct blk *b;

	out[0] = '\0';
	log_path(ag, in->spec.label, svc_public_id(in), path, sizeof path);
	if (files_open(path, f) < 0)
		return;
	if (!keeper_stamps(ag)) {
		/* not the next process's lines: only what was there at death */
		uint64_t end = in->death_log_end >= 0 &&
			       (uint64_t)in->death_log_end < f[1].size ?
			       (uint64_t)in->death_log_end : f[1].size;
		if (f[1].fd >= 0 && end > 0)
			tail_unstamped(f[1].fd, (off_t)end, out, n);
		files_close(f);
		return;
	}
	/* the dead process's own last lines, whatever else shares the log */
	b = malloc(sizeof *b);
	for (int fi = 1; b && fi >= 0 && nl < 3 && examined < 256; fi--) {
		uint64_t end = f[fi].size;

		if (f[fi].fd < 0)
			continue;
		b->start = b->len = 0;
		while (end > 0 && nl < 3 && examined++ < 256) {
			uint64_t start = line_start(&f[fi], end, b);
			size_t len = end - start > 512 ? 512 : (size_t)(end - start);
			char *line = malloc(len + 1);
			ssize_t r;
			logline l;

			if (!line)
				break;
			r = pread(f[fi].fd, line, len, (off_t)start);
			if (r <= 0) {
				free(line);
				break;
			}
			while (r > 0 && line[r - 1] == '\n')
				r--;
			if (logline_parse(line, (size_t)r, &l) && l.pid == in->last_pid) {
				text[nl] = line;
				lines[nl] = line + l.text;
				lens[nl++] = (size_t)r - l.text;
			} else {
				free(line);
			}
			end = start;
		}
	}
	free(b);
	while (nl > 0) {
		nl--;
		tail_add(out, n, lines[nl], lens[nl]);
		free(text[nl]);
	}
	files_close(f);
}

int64_t logs_size(agent *ag, const inst *in)
{
	char path[4096];
	struct stat st;

	log_path(ag, in->spec.label, svc_public_id(in), path, sizeof path);
	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Copies path to path.1 and truncates path: for a keeper older than
 * protocol 4, whose services append to their logs themselves. */
static int rotate_copy(const char *path)
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

	if (keeper_stamps(ag))
		return;   /* the keeper rotates what it writes */
	for (inst *in = ag->insts; in; in = in->next) {
		log_path(ag, in->spec.label, svc_public_id(in), path, sizeof path);
		if (stat(path, &st) < 0 || (uint64_t)st.st_size <= ag->log_max)
			continue;
		if (rotate_copy(path) < 0)
			log_warn("%s: cannot rotate %s, ignoring", in->spec.label, path);
	}
}
