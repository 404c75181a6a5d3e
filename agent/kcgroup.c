/*
 * kcgroup.c - the keeper's cgroups (kcgroup.h): the node's subtree in
 * the cgroup v2 hierarchy, one cgroup per instance, cgroup.kill and its
 * fallback, cgroup.events' "populated".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kcgroup.h"

static int mount_find(const char *mi, const char *ctl, char *out, size_t n);

int kcg_mount_parse(const char *mi, char *out, size_t n)
{
	return mount_find(mi, NULL, out, n);
}

int kcg_events_populated(const char *ev)
{
	const char *p = ev;

	while (p && *p) {
		if (!strncmp(p, "populated ", 10)) {
			if (p[10] == '0' || p[10] == '1')
				return p[10] - '0';
			return -EBADMSG;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -EBADMSG;
}

bool kcg_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > KCG_NAME_MAX - 8 || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Reads the file at dirfd/name into buf[n] as a string: its length, or
 * -errno. */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t n)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, n - 1);
	if (r < 0)
		r = -errno;
	else
		buf[r] = '\0';
	close(fd);
	return r;
}

static int write_at(int dirfd, const char *name, const char *s)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* The whole of a small /proc file, NUL-terminated (malloc'd), or NULL. */
static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 0;
	char *buf = NULL;

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t got;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);
			if (!nb) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		got = read(fd, buf + len, cap - len - 1);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

int kcg_open(struct kcg *cg, const char *node, const char *off)
{
	char *mi = NULL, sub[KCG_NAME_MAX + 80];
	const char *host = getenv("RS_TEST_HOST");
	int r;

	memset(cg, 0, sizeof *cg);
	cg->dirfd = -1;
	for (int i = 0; i < KCG_NCTL; i++)
		cg->v1fd[i] = -1;
	if (off) {
		snprintf(cg->why, sizeof cg->why, "%s", off);
		return -ECANCELED;
	}
	if (!node || !kcg_name_valid(node, strlen(node)) ||
	    (host && *host && !kcg_name_valid(host, strlen(host)))) {
		snprintf(cg->why, sizeof cg->why, "the node has no name to name its cgroup");
		return -EINVAL;
	}
	mi = slurp("/proc/self/mountinfo");
	if (!mi) {
		r = errno ? -errno : -EIO;
		snprintf(cg->why, sizeof cg->why, "cannot read /proc/self/mountinfo: %s",
			 strerror(-r));
		return r;
	}
	r = kcg_mount_parse(mi, cg->mount, sizeof cg->mount);
	free(mi);
	if (r < 0) {
		snprintf(cg->why, sizeof cg->why, "no cgroup2 hierarchy is mounted");
		return r;
	}
	{
		/* a node's name is unique per host, and a host is a network
		 * namespace (the keeper's name is an abstract socket): outside
		 * the namespace of pid 1, the namespace is in the name too */
		struct stat self, init;
		char ns[32] = "";

		if (stat("/proc/self/ns/net", &self) == 0 &&
		    stat("/proc/1/ns/net", &init) == 0 && self.st_ino != init.st_ino)
			snprintf(ns, sizeof ns, "ns%llu.", (unsigned long long)self.st_ino);
		if (host && *host)
			snprintf(sub, sizeof sub, "rs.%s%s.%s", ns, host, node);
		else
			snprintf(sub, sizeof sub, "rs.%s%s", ns, node);
	}
	if ((size_t)snprintf(cg->path, sizeof cg->path, "%s/%s", cg->mount, sub) >=
	    sizeof cg->path) {
		snprintf(cg->why, sizeof cg->why, "the cgroup path is too long");
		return -ENAMETOOLONG;
	}
	if (mkdir(cg->path, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(cg->why, sizeof cg->why, "cannot create %.300s: %s", cg->path,
			 strerror(-r));
		return r;
	}
	cg->dirfd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->dirfd < 0) {
		r = -errno;
		snprintf(cg->why, sizeof cg->why, "cannot open %.300s: %s", cg->path,
			 strerror(-r));
		return r;
	}
	cg->has_kill = faccessat(cg->dirfd, "cgroup.kill", W_OK, 0) == 0 &&
		       !getenv("RS_TEST_NO_CGROUP_KILL");
	return 0;
}

int kcg_sweep(struct kcg *cg, int wait_ms)
{
	char names[64][KCG_NAME_MAX];
	int fds[64], n = 0, held = 0, dup_fd;
	struct dirent *de;
	DIR *d;

	if (cg->dirfd < 0)
		return 0;
	dup_fd = fcntl(cg->dirfd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0 || !(d = fdopendir(dup_fd))) {
		if (dup_fd >= 0)
			close(dup_fd);
		return 0;
	}
	/* at most 64 a round: the rest go in the next rounds */
	for (int round = 0; round < 64; round++) {
		uint64_t waited = 0;
		int live;

		n = 0;
		rewinddir(d);
		while (n < 64 && (de = readdir(d))) {
			int fd;
			if (de->d_type != DT_DIR || de->d_name[0] == '.' ||
			    strlen(de->d_name) >= KCG_NAME_MAX)
				continue;
			fd = openat(cg->dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				continue;
			memcpy(names[n], de->d_name, strlen(de->d_name) + 1);
			fds[n++] = fd;
		}
		if (!n)
			break;
		for (int i = 0; i < n; i++)
			if (kcg_populated(fds[i]) == 1) {
				held++;
				kcg_kill(cg, fds[i], false);
			}
		do {
			live = 0;
			for (int i = 0; i < n; i++)
				if (kcg_populated(fds[i]) == 1) {
					live++;
					kcg_kill(cg, fds[i], true);
				}
			if (live && waited < (uint64_t)wait_ms) {
				poll(NULL, 0, 10);
				waited += 10;
			}
		} while (live && waited < (uint64_t)wait_ms);
		for (int i = 0; i < n; i++) {
			close(fds[i]);
			unlinkat(cg->dirfd, names[i], AT_REMOVEDIR);
		}
		if (live)
			break;   /* what does not die is left where it is */
	}
	closedir(d);
	return held;
}

int kcg_make(struct kcg *cg, const char *name, char *got,
	     bool (*avoid)(const char *name))
{
	for (int i = 1; i < 10; i++) {
		char nm[KCG_NAME_MAX];
		int fd;

		if (i == 1)
			snprintf(nm, sizeof nm, "%s", name);
		else
			snprintf(nm, sizeof nm, "%s.%d", name, i);
		if (avoid && avoid(nm))
			continue;
		if (mkdirat(cg->dirfd, nm, 0755) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(cg->dirfd, nm, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		/* one that exists and is empty is ours to take (left over, or
		 * its holder is just done); a live one is another's */
		if (kcg_populated(fd) == 0) {
			memcpy(got, nm, strlen(nm) + 1);
			return fd;
		}
		close(fd);
	}
	return -EEXIST;
}

int kcg_procs_fd(int cgfd)
{
	int fd = openat(cgfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int kcg_populated(int cgfd)
{
	char buf[256];
	ssize_t r = read_at(cgfd, "cgroup.events", buf, sizeof buf);

	return r < 0 ? (int)r : kcg_events_populated(buf);
}

int kcg_ids_each(int fd, void (*fn)(pid_t id, void *arg), void *arg)
{
	char buf[4096], part[16];
	size_t pl = 0;
	ssize_t got;
	int n = 0;

	while ((got = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] >= '0' && buf[i] <= '9' && pl < sizeof part - 1) {
				part[pl++] = buf[i];
				continue;
			}
			if (pl) {
				part[pl] = '\0';
				fn((pid_t)atoi(part), arg);
				n++;
			}
			pl = 0;
		}
	return got < 0 ? -errno : n;
}

struct sig_all {
	int   sig;
	pid_t skip_pgrp;
	int   n;
};

static void sig_one(pid_t pid, void *arg)
{
	struct sig_all *s = arg;

	if ((s->skip_pgrp <= 0 || getpgid(pid) != s->skip_pgrp) && kill(pid, s->sig) == 0)
		s->n++;
}

int kcg_signal_all(int cgfd, int sig, pid_t skip_pgrp)
{
	int fd = openat(cgfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	struct sig_all s = { sig, skip_pgrp, 0 };

	if (fd < 0)
		return -errno;
	kcg_ids_each(fd, sig_one, &s);
	close(fd);
	return s.n;
}

int kcg_kill(struct kcg *cg, int cgfd, bool force_procs)
{
	int r;

	if (cg->has_kill && !force_procs)
		return write_at(cgfd, "cgroup.kill", "1");
	r = kcg_signal_all(cgfd, SIGKILL, 0);
	return r < 0 ? r : 0;
}

int kcg_remove(struct kcg *cg, const char *name)
{
	if (cg->dirfd < 0)
		return -EBADF;
	return unlinkat(cg->dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int kcg_events_path(const struct kcg *cg, const char *name, char *out, size_t n)
{
	if ((size_t)snprintf(out, n, "%s/%s/cgroup.events", cg->path, name) >= n)
		return -ENAMETOOLONG;
	return 0;
}

void kcg_close(struct kcg *cg)
{
	if (cg->dirfd >= 0)
		close(cg->dirfd);
	cg->dirfd = -1;
	for (int i = 0; i < KCG_NCTL; i++) {
		if (cg->v1fd[i] >= 0)
			close(cg->v1fd[i]);
		cg->v1fd[i] = -1;
	}
}

static const char *const ctl_names[KCG_NCTL] = { "memory", "cpu", "pids" };

/* Whether the list s (words separated by any of sep) has word w. */
static bool has_word(const char *s, size_t len, const char *w, const char *sep)
{
	size_t wl = strlen(w);

	for (size_t i = 0; i + wl <= len; i++)
		if ((i == 0 || strchr(sep, s[i - 1])) && !memcmp(s + i, w, wl) &&
		    (i + wl == len || strchr(sep, s[i + wl])))
			return true;
	return false;
}

/* The mount point of the first whole (root "/") mount in mountinfo mi
 * that is cgroup2 (ctl NULL; a mount point with an escape is passed by)
 * or a v1 cgroup with controller ctl among its super options. 0,
 * -ENOENT, -ENAMETOOLONG. */
static int mount_find(const char *mi, const char *ctl, char *out, size_t n)
{
	const char *line = mi;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[2048], root[1024], mnt[1024], fstype[64], sopts[512];
		const char *dash;
		int k;

		if (len < sizeof buf) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPT...] - FSTYPE SOURCE SUPER */
			dash = strstr(buf, " - ");
			k = dash ? sscanf(dash + 3, "%63s %*s %511s", fstype, sopts) : 0;
			if (dash && sscanf(buf, "%*s %*s %*s %1023s %1023s", root, mnt) == 2 &&
			    !strcmp(root, "/") &&
			    (ctl ? k == 2 && !strcmp(fstype, "cgroup") &&
				   has_word(sopts, strlen(sopts), ctl, ",") :
				   k >= 1 && !strcmp(fstype, "cgroup2") &&
				   !strchr(mnt, '\\'))) {   /* no escaped (odd) mount points */
				if (strlen(mnt) >= n)
					return -ENAMETOOLONG;
				memcpy(out, mnt, strlen(mnt) + 1);
				return 0;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

bool kcg_favordynmods_parse(const char *mi)
{
	for (const char *line = mi; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[2048], fstype[64], sopts[512];
		const char *dash;

		if (len < sizeof buf) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			dash = strstr(buf, " - ");
			if (dash && sscanf(dash + 3, "%63s %*s %511s", fstype, sopts) == 2 &&
			    (!strcmp(fstype, "cgroup") || !strcmp(fstype, "cgroup2")) &&
			    has_word(sopts, strlen(sopts), "favordynmods", ","))
				return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

bool kcg_favordynmods(void)
{
	char *mi = slurp("/proc/self/mountinfo");
	bool on = mi && kcg_favordynmods_parse(mi);

	free(mi);
	return on;
}

int kcg_v1_mount_parse(const char *mi, const char *ctl, char *out, size_t n)
{
	return mount_find(mi, ctl, out, n);
}

int kcg_v1_self_parse(const char *selfcg, const char *ctl, char *out, size_t n)
{
	const char *line = selfcg;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *c1 = memchr(line, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;

		if (c2 && has_word(c1 + 1, (size_t)(c2 - c1 - 1), ctl, ",")) {
			size_t pl = len - (size_t)(c2 + 1 - line);
			if (pl >= n || pl == 0)
				return -ENOENT;
			memcpy(out, c2 + 1, pl);
			out[pl] = '\0';
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}


/* Removes the empty cgroups under dirfd (a previous keeper's). */
static void rmdir_children(int dirfd)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.')
			unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
	closedir(d);
}

void kcg_ctl_open(struct kcg *cg)
{
	const char *sub = strrchr(cg->path, '/');
	char avail[512], *mi = NULL, *self = NULL;
	ssize_t got;

	if (cg->dirfd < 0 || !sub || getenv("RS_TEST_NO_CGROUP_CTL"))
		return;
	sub++;
	got = read_at(cg->dirfd, "cgroup.controllers", avail, sizeof avail);
	for (int i = 0; got > 0 && i < KCG_NCTL; i++) {
		char op[16];
		snprintf(op, sizeof op, "+%s", ctl_names[i]);
		if (has_word(avail, strlen(avail), ctl_names[i], " \n") &&
		    write_at(cg->dirfd, "cgroup.subtree_control", op) == 0)
			cg->ctl |= 1u << i;
	}
	if (cg->ctl == (1u << KCG_NCTL) - 1)
		return;
	mi = slurp("/proc/self/mountinfo");
	self = slurp("/proc/self/cgroup");
	for (int i = 0; mi && self && i < KCG_NCTL; i++) {
		char mnt[1024], own[1024], path[PATH_MAX];
		int fd;

		if (cg->ctl & (1u << i) ||
		    kcg_v1_mount_parse(mi, ctl_names[i], mnt, sizeof mnt) < 0 ||
		    kcg_v1_self_parse(self, ctl_names[i], own, sizeof own) < 0)
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s%s", mnt,
				     strcmp(own, "/") ? own : "") >= sizeof path - strlen(sub) - 2 ||
		    access(path, W_OK) < 0)
			continue;
		strcat(path, "/");
		strcat(path, sub);
		/* made at the first instance that needs it (kcg_limits_write):
		 * a node whose services set no limits leaves nothing here;
		 * what a killed keeper left is removed now */
		if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			rmdir_children(fd);
			close(fd);
			rmdir(path);
		}
		memcpy(cg->v1path[i], path, strlen(path) + 1);
		cg->ctl |= 1u << i;
		cg->ctl_v1 |= 1u << i;
	}
	free(mi);
	free(self);
}

int kcg_v1_subtree(const char *v2path, const char *ctl, char *out, size_t n)
{
	const char *sub = strrchr(v2path, '/');
	char *mi = slurp("/proc/self/mountinfo"), *self = slurp("/proc/self/cgroup");
	char mnt[1024], own[1024];
	int r = -ENOENT;

	if (sub && mi && self && kcg_v1_mount_parse(mi, ctl, mnt, sizeof mnt) == 0 &&
	    kcg_v1_self_parse(self, ctl, own, sizeof own) == 0)
		r = (size_t)snprintf(out, n, "%s%s%s", mnt, strcmp(own, "/") ? own : "",
				     sub) >= n ? -ENAMETOOLONG : 0;
	free(mi);
	free(self);
	return r;
}

unsigned kcg_limits_needs(const struct kcg_limits *l)
{
	return (l->mem_max || l->mem_high ? KCG_MEMORY : 0) |
	       (l->cpu_weight || l->cpu_max ? KCG_CPU : 0) |
	       (l->pids_max ? KCG_PIDS : 0);
}

/* Moves every process of the v2 cgroup cgfd into the v1 cgroup dfd. */
static void v1_join_all(int cgfd, int dfd)
{
	int in = openat(cgfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	int out = openat(dfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	char buf[4096];
	ssize_t got;

	if (in >= 0 && out >= 0)
		while ((got = read(in, buf, sizeof buf - 1)) > 0) {
			char *save = NULL;
			buf[got] = '\0';
			for (char *w = strtok_r(buf, "\n", &save); w;
			     w = strtok_r(NULL, "\n", &save))
				if (write(out, w, strlen(w)) < 0) {
					/* gone meanwhile */
				}
		}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
}

/* One limit file of dfd: 0, or -errno with err naming it. */
static int put_limit(int dfd, const char *file, const char *val, char *err, size_t n)
{
	int r = write_at(dfd, file, val);

	if (r < 0)
		snprintf(err, n, "cannot write %s to %s: %s", val, file, strerror(-r));
	return r;
}

int kcg_limits_write(struct kcg *cg, int cgfd, const char *name, int *v1fd,
		     const struct kcg_limits *l, const struct kcg_limits *was,
		     bool full, char *err, size_t n)
{
	unsigned need = kcg_limits_needs(l) | (was ? kcg_limits_needs(was) : 0);
	char v[64];
	int r = 0;

	for (int i = 0; r == 0 && i < KCG_NCTL; i++) {
		unsigned bit = 1u << i;
		bool v1 = (cg->ctl_v1 & bit) != 0;
		int dfd = cgfd;

		if (!(need & bit))
			continue;
		if (!(cg->ctl & bit)) {
			snprintf(err, n, "this node has no %s controller", ctl_names[i]);
			return -EOPNOTSUPP;
		}
		if (v1 && v1fd[i] < 0) {
			if (!(kcg_limits_needs(l) & bit))
				continue;   /* removed, never made */
			if (cg->v1fd[i] < 0) {   /* the node's subtree, at first use */
				if (mkdir(cg->v1path[i], 0755) < 0 && errno != EEXIST) {
					r = -errno;
					snprintf(err, n, "cannot make %s: %s", cg->v1path[i],
						 strerror(-r));
					return r;
				}
				cg->v1fd[i] = open(cg->v1path[i], O_RDONLY | O_DIRECTORY |
						   O_CLOEXEC);
				if (cg->v1fd[i] < 0) {
					r = -errno;
					snprintf(err, n, "cannot open %s: %s", cg->v1path[i],
						 strerror(-r));
					return r;
				}
			}
			if (mkdirat(cg->v1fd[i], name, 0755) < 0 && errno != EEXIST) {
				r = -errno;
				snprintf(err, n, "cannot make %s/%s: %s", cg->v1path[i], name,
					 strerror(-r));
				return r;
			}
			v1fd[i] = openat(cg->v1fd[i], name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (v1fd[i] < 0) {
				r = -errno;
				snprintf(err, n, "cannot open %s/%s: %s", cg->v1path[i], name,
					 strerror(-r));
				return r;
			}
			/* an edit that adds it to a running instance */
			v1_join_all(cgfd, v1fd[i]);
		}
		if (v1)
			dfd = v1fd[i];
#define CHANGED(f) (full || !was || was->f != l->f)
		if (bit == KCG_MEMORY) {
			if (CHANGED(mem_max)) {
				if (l->mem_max)
					snprintf(v, sizeof v, "%llu", (unsigned long long)l->mem_max);
				else
					snprintf(v, sizeof v, "%s", v1 ? "-1" : "max");
				r = put_limit(dfd, v1 ? "memory.limit_in_bytes" : "memory.max",
					      v, err, n);
			}
			if (r == 0 && CHANGED(mem_high)) {
				if (l->mem_high)
					snprintf(v, sizeof v, "%llu", (unsigned long long)l->mem_high);
				else
					snprintf(v, sizeof v, "%s", v1 ? "-1" : "max");
				r = put_limit(dfd, v1 ? "memory.soft_limit_in_bytes" :
					      "memory.high", v, err, n);
			}
		} else if (bit == KCG_CPU) {
			if (CHANGED(cpu_weight)) {
				/* v1 shares: 1024 is v2's weight 100 */
				uint64_t sh = (uint64_t)(l->cpu_weight ? l->cpu_weight : 100) *
					      1024 / 100;
				snprintf(v, sizeof v, "%llu", (unsigned long long)
					 (v1 ? (sh < 2 ? 2 : sh) :
					  (l->cpu_weight ? l->cpu_weight : 100)));
				r = put_limit(dfd, v1 ? "cpu.shares" : "cpu.weight", v, err, n);
			}
			if (r == 0 && CHANGED(cpu_max)) {
				uint64_t q = (uint64_t)l->cpu_max * 1000;   /* us per 100 ms */
				if (v1) {
					r = put_limit(dfd, "cpu.cfs_period_us", "100000", err, n);
					if (l->cpu_max)
						snprintf(v, sizeof v, "%llu", (unsigned long long)q);
					else
						snprintf(v, sizeof v, "-1");
					if (r == 0)
						r = put_limit(dfd, "cpu.cfs_quota_us", v, err, n);
				} else {
					if (l->cpu_max)
						snprintf(v, sizeof v, "%llu 100000", (unsigned long long)q);
					else
						snprintf(v, sizeof v, "max 100000");
					r = put_limit(dfd, "cpu.max", v, err, n);
				}
			}
		} else if (CHANGED(pids_max)) {
			if (l->pids_max)
				snprintf(v, sizeof v, "%u", l->pids_max);
			else
				snprintf(v, sizeof v, "max");
			r = put_limit(dfd, "pids.max", v, err, n);
		}
#undef CHANGED
	}
	return r;
}

/* The "oom_kill N" of a memory.events or memory.oom_control text. */
static uint64_t oom_parse(const char *t)
{
	const char *p = t;

	while ((p = strstr(p, "oom_kill "))) {
		if (p == t || p[-1] == '\n')
			return strtoull(p + 9, NULL, 10);
		p += 9;
	}
	return 0;
}

uint64_t kcg_oom_kills(const struct kcg *cg, int cgfd, const int *v1fd)
{
	char buf[512];

	if (!(cg->ctl & KCG_MEMORY))
		return 0;
	if (cg->ctl_v1 & KCG_MEMORY)
		return v1fd[0] >= 0 &&
		       read_at(v1fd[0], "memory.oom_control", buf, sizeof buf) > 0 ?
		       oom_parse(buf) : 0;
	return cgfd >= 0 && read_at(cgfd, "memory.events", buf, sizeof buf) > 0 ?
	       oom_parse(buf) : 0;
}

void kcg_v1_remove(struct kcg *cg, const char *name, int *v1fd)
{
	for (int i = 0; i < KCG_NCTL; i++) {
		if (v1fd[i] < 0)
			continue;
		close(v1fd[i]);
		v1fd[i] = -1;
		if (cg->v1fd[i] >= 0 && name[0])
			unlinkat(cg->v1fd[i], name, AT_REMOVEDIR);
	}
}
