/*
 * klog.c - the keeper's output capture (klog.h).
 *
 * A sink is one log file, shared by the pipes that write it; a pipe is
 * one process's stdout and stderr. Lines are gathered in one buffer that
 * belongs to one sink at a time and is written before the keeper turns
 * to anything else, so the file only ever holds whole stamped lines, and
 * the bound is checked against the file's size plus what is buffered
 * before each line goes in.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "klog.h"
#include "log.h"
#include "logline.h"

#define KLOG_READ      (64u << 10)   /* one read() */
#define KLOG_FAIR      (256u << 10)  /* a ready pipe per poll round */
#define KLOG_DRAIN_MAX (4u << 20)    /* at exit: what a dead process left */
#define KLOG_PIPE_SIZE (256u << 10)  /* asked of the kernel; a burst waits
				      * there rather than in the service */

struct ksink {
	struct ksink *next;
	char         *path;
	int           fd;        /* -1: could not be opened, tried again */
	uint64_t      size;      /* bytes in the file */
	uint64_t      max;
	unsigned      refs;
	bool          failing;   /* a write or open failed: said once */
	bool          stuck;     /* a rotation failed: said once */
};

struct klog_pipe {
	struct klog_pipe *next;
	int           fd;        /* read end, -1 once every writer closed it */
	pid_t         pid;
	struct ksink *sink;
	char         *part;      /* the line so far (no newline yet) */
	size_t        plen, pcap;
	uint64_t      pms;       /* when its first byte was read */
	bool          owned;     /* a keeper record holds it */
	int           pidx;      /* its entry of the last poll fill, -1 none */
};

static struct {
	struct ksink     *sinks;
	struct klog_pipe *pipes;
	struct ksink     *osink;   /* whose lines out holds */
	size_t            olen;
	char              out[KLOG_READ + LOGLINE_PREFIX_MAX + KLOG_LINE_MAX + 1];
	char              in[KLOG_READ];
} L;

/* min(KLOG_LINE_MAX, max / 4): a stamped line always fits the bound. */
static size_t line_max(const struct ksink *s)
{
	return s->max / 4 < KLOG_LINE_MAX ? (size_t)(s->max / 4) : KLOG_LINE_MAX;
}

static void sink_fail(struct ksink *s, const char *what)
{
	if (!s->failing)
		log_warn("%s %s: its lines are dropped until it works again", what,
			 s->path);
	s->failing = true;
}

/* Opens the log (appending to what it holds). */
static void sink_open(struct ksink *s, bool trunc)
{
	struct stat st;

	s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
		     (trunc ? O_TRUNC : 0), 0640);
	if (s->fd < 0) {
		sink_fail(s, "cannot open");
		return;
	}
	s->size = fstat(s->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void sink_write(struct ksink *s, const char *buf, size_t n)
{
	if (s->fd < 0)
		sink_open(s, false);
	while (s->fd >= 0 && n > 0) {
		ssize_t w = write(s->fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			sink_fail(s, "cannot write");
			return;
		}
		if (s->failing)
			log_info("%s is written again", s->path);
		s->failing = false;
		s->size += (uint64_t)w;
		buf += w;
		n -= (size_t)w;
	}
}

static void out_flush(void)
{
	if (L.olen && L.osink)
		sink_write(L.osink, L.out, L.olen);
	L.olen = 0;
}

/* LOG -> LOG.1 (the old one dropped), a new empty LOG. */
static void sink_rotate(struct ksink *s)
{
	char dst[PATH_MAX];

	if ((size_t)snprintf(dst, sizeof dst, "%s.1", s->path) >= sizeof dst ||
	    (rename(s->path, dst) < 0 && errno != ENOENT)) {
		/* keeping every line matters more than the bound */
		if (!s->stuck)
			log_warn("cannot rotate %s, writing on past its bound", s->path);
		s->stuck = true;
		return;
	}
	s->stuck = false;
	if (s->fd >= 0)
		close(s->fd);
	sink_open(s, true);
}

/* Queues one line: the prefix of (ms, pid), text[n], a newline. */
static void sink_line(struct ksink *s, uint64_t ms, pid_t pid, const char *a,
		      size_t an, const char *b, size_t bn)
{
	/* the lines of one read share their time and pid */
	static char pre[LOGLINE_PREFIX_MAX];
	static size_t pl;
	static uint64_t pre_ms = UINT64_MAX;
	static pid_t pre_pid;
	size_t rec;

	if (ms != pre_ms || pid != pre_pid) {
		pl = logline_prefix(pre, ms, (int32_t)pid);
		pre_ms = ms;
		pre_pid = pid;
	}
	rec = pl + an + bn + 1;
	if (L.osink != s)
		out_flush();
	L.osink = s;
	if (s->size + L.olen + rec > s->max && s->size + L.olen > 0) {
		out_flush();
		sink_rotate(s);
	}
	if (L.olen + rec > sizeof L.out)
		out_flush();
	memcpy(L.out + L.olen, pre, pl);
	if (an)
		memcpy(L.out + L.olen + pl, a, an);
	if (bn)
		memcpy(L.out + L.olen + pl + an, b, bn);
	L.olen += rec;
	L.out[L.olen - 1] = '\n';
}

/* Writes the partial line as a line of its own. */
static void pipe_flush_part(struct klog_pipe *p)
{
	if (p->plen)
		sink_line(p->sink, p->pms, p->pid, p->part, p->plen, NULL, 0);
	p->plen = 0;
}

/* Appends buf[n] to the partial line (room checked by the caller). */
static bool part_add(struct klog_pipe *p, const char *buf, size_t n)
{
	if (p->plen + n > p->pcap) {
		size_t cap = KLOG_LINE_MAX;
		char *np = realloc(p->part, cap);

		if (!np)
			return false;
		p->part = np;
		p->pcap = cap;
	}
	memcpy(p->part + p->plen, buf, n);
	p->plen += n;
	return true;
}

/* Cuts what was read at ms into lines. */
static void pipe_feed(struct klog_pipe *p, const char *buf, size_t n, uint64_t ms)
{
	size_t lmax = line_max(p->sink);

	while (n) {
		const char *nl = memchr(buf, '\n', n);
		size_t len = nl ? (size_t)(nl - buf) : n;

		if (p->plen == 0)
			p->pms = ms;
		if (p->plen + len > lmax) {
			/* too long: what fits is a line, the rest the next */
			len = lmax - p->plen;
			sink_line(p->sink, p->pms, p->pid, p->part, p->plen, buf, len);
			p->plen = 0;
		} else if (nl) {
			sink_line(p->sink, p->pms, p->pid, p->part, p->plen, buf, len);
			p->plen = 0;
			len++;
		} else if (!part_add(p, buf, len)) {
			/* no memory for the partial line: it is a line */
			sink_line(p->sink, p->pms, p->pid, p->part, p->plen, buf, len);
			p->plen = 0;
		}
		buf += len;
		n -= len;
	}
}

/* Reads up to budget bytes. Returns 1 while the pipe is open, 0 once every
 * writer has closed it (then it is closed here, its partial line written). */
static int pipe_read(struct klog_pipe *p, size_t budget)
{
	int open = 1;

	while (p->fd >= 0 && budget) {
		ssize_t r = read(p->fd, L.in, budget < sizeof L.in ? budget : sizeof L.in);

		if (r > 0) {
			pipe_feed(p, L.in, (size_t)r, clock_wall_ms());
			budget -= (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		pipe_flush_part(p);
		close(p->fd);
		p->fd = -1;
		open = 0;
	}
	out_flush();
	return open && p->fd >= 0;
}

static void sink_unref(struct ksink *s)
{
	struct ksink **pp = &L.sinks;

	if (--s->refs)
		return;
	if (L.osink == s) {
		out_flush();
		L.osink = NULL;
	}
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s);
}

static void pipe_free(struct klog_pipe *p)
{
	struct klog_pipe **pp = &L.pipes;

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	if (p->fd >= 0)
		close(p->fd);
	sink_unref(p->sink);
	free(p->part);
	free(p);
}

static struct ksink *sink_get(const char *path, uint64_t max)
{
	struct ksink *s;

	for (s = L.sinks; s; s = s->next)
		if (strcmp(s->path, path) == 0) {
			s->max = max;   /* the engine's latest --log-max */
			s->refs++;
			return s;
		}
	s = calloc(1, sizeof *s);
	if (!s || !(s->path = strdup(path))) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->max = max;
	sink_open(s, false);
	if (s->fd < 0) {
		int e = errno;
		free(s->path);
		free(s);
		errno = e;
		return NULL;
	}
	s->refs = 1;
	s->next = L.sinks;
	L.sinks = s;
	return s;
}

struct klog_pipe *klog_pipe_new(const char *path, uint64_t max, int *wfd)
{
	struct klog_pipe *p = calloc(1, sizeof *p);
	int fds[2], e;

	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	if (!(p->sink = sink_get(path, max))) {
		e = errno;
		free(p);
		errno = e;
		return NULL;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		e = errno;
		sink_unref(p->sink);
		free(p);
		errno = e;
		return NULL;
	}
	/* only the keeper's end: the service's writes block as usual */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[0], F_SETPIPE_SZ, (int)KLOG_PIPE_SIZE);
	p->fd = fds[0];
	p->owned = true;
	p->pidx = -1;
	p->next = L.pipes;
	L.pipes = p;
	*wfd = fds[1];
	return p;
}

void klog_pipe_set_pid(struct klog_pipe *p, pid_t pid)
{
	p->pid = pid;
}

void klog_pipe_release(struct klog_pipe **pp)
{
	struct klog_pipe *p = *pp;

	if (!p)
		return;
	*pp = NULL;
	pipe_read(p, KLOG_DRAIN_MAX);
	pipe_flush_part(p);
	out_flush();
	p->owned = false;
	if (p->fd < 0)
		pipe_free(p);
}

size_t klog_count(void)
{
	size_t n = 0;

	for (struct klog_pipe *p = L.pipes; p; p = p->next)
		n += p->fd >= 0;
	return n;
}

size_t klog_poll_fill(struct pollfd *pf, size_t cap)
{
	size_t n = 0;

	for (struct klog_pipe *p = L.pipes; p; p = p->next) {
		p->pidx = -1;
		if (p->fd < 0 || n == cap)
			continue;
		pf[n] = (struct pollfd){ p->fd, POLLIN, 0 };
		p->pidx = (int)n++;
	}
	return n;
}

void klog_poll_done(const struct pollfd *pf, size_t n)
{
	struct klog_pipe *p, *next;

	for (p = L.pipes; p; p = next) {
		int i = p->pidx;

		next = p->next;
		p->pidx = -1;
		if (i < 0 || (size_t)i >= n || pf[i].fd != p->fd || !pf[i].revents)
			continue;
		if (!pipe_read(p, KLOG_FAIR) && !p->owned)
			pipe_free(p);
	}
}

void klog_close_all(void)
{
	while (L.pipes) {
		struct klog_pipe *p = L.pipes;

		pipe_read(p, KLOG_DRAIN_MAX);
		pipe_flush_part(p);
		out_flush();
		pipe_free(p);
	}
}
