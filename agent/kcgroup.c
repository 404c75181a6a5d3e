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

int kcg_mount_parse(const char *mi, char *out, size_t n)
{
	const char *line = mi;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[2048], root[1024], mnt[1024], fstype[64];
		const char *dash;

		if (len < sizeof buf) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPT...] - FSTYPE ... */
			dash = strstr(buf, " - ");
			if (dash && sscanf(buf, "%*s %*s %*s %1023s %1023s", root, mnt) == 2 &&
			    sscanf(dash + 3, "%63s", fstype) == 1 &&
			    !strcmp(fstype, "cgroup2") && !strcmp(root, "/") &&
			    !strchr(mnt, '\\')) {   /* no escaped (odd) mount points */
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

int kcg_open(struct kcg *cg, const char *node, const char *off)
{
	char *mi = NULL, sub[KCG_NAME_MAX + 80];
	const char *host = getenv("RS_TEST_HOST");
	size_t len = 0, cap = 0;
	int fd, r;

	memset(cg, 0, sizeof *cg);
	cg->dirfd = -1;
	if (off) {
		snprintf(cg->why, sizeof cg->why, "%s", off);
		return -ECANCELED;
	}
	if (!node || !kcg_name_valid(node, strlen(node)) ||
	    (host && *host && !kcg_name_valid(host, strlen(host)))) {
		snprintf(cg->why, sizeof cg->why, "the node has no name to name its cgroup");
		return -EINVAL;
	}
	fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(cg->why, sizeof cg->why, "cannot read /proc/self/mountinfo: %s",
			 strerror(-r));
		return r;
	}
	for (;;) {
		ssize_t got;
		if (cap - len < 4096) {
			char *nm = realloc(mi, cap + 65536);
			if (!nm) {
				free(mi);
				close(fd);
				snprintf(cg->why, sizeof cg->why, "out of memory");
				return -ENOMEM;
			}
			mi = nm;
			cap += 65536;
		}
		got = read(fd, mi + len, cap - len - 1);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	mi[len] = '\0';
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

int kcg_make(struct kcg *cg, const char *name, char *got)
{
	for (int i = 1; i < 10; i++) {
		char nm[KCG_NAME_MAX];
		int fd;

		if (i == 1)
			snprintf(nm, sizeof nm, "%s", name);
		else
			snprintf(nm, sizeof nm, "%s.%d", name, i);
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

int kcg_signal_all(int cgfd, int sig)
{
	int fd = openat(cgfd, "cgroup.procs", O_RDONLY | O_CLOEXEC), n = 0;
	char buf[4096], part[16];
	size_t pl = 0;
	ssize_t got;

	if (fd < 0)
		return -errno;
	while ((got = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] >= '0' && buf[i] <= '9' && pl < sizeof part - 1) {
				part[pl++] = buf[i];
				continue;
			}
			if (pl) {
				part[pl] = '\0';
				if (kill((pid_t)atoi(part), sig) == 0)
					n++;
			}
			pl = 0;
		}
	close(fd);
	return n;
}

int kcg_kill(struct kcg *cg, int cgfd, bool force_procs)
{
	int r;

	if (cg->has_kill && !force_procs)
		return write_at(cgfd, "cgroup.kill", "1");
	r = kcg_signal_all(cgfd, SIGKILL);
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
}
