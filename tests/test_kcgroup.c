/*
 * test_kcgroup.c - the keeper's cgroups (agent/kcgroup.c): the parsers,
 * and, where the host has a writable cgroup2 hierarchy (root), a real
 * cgroup: a process put in it, a double-forked one it starts, both
 * killed at once, "populated 0", the cgroup removed. Skipped without.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "kcgroup.h"

Test(kcgroup, mount_parse_pure_and_hybrid, .timeout = 10)
{
	static const char hybrid[] =
		"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
	static const char pure[] =
		"25 21 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 "
		"- cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
	static const char none[] =
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		"50 41 0:38 /sub /mnt/cg rw,relatime - cgroup2 cgroup2 rw\n";
	char out[64];

	cr_assert_eq(kcg_mount_parse(hybrid, out, sizeof out), 0);
	cr_assert_str_eq(out, "/sys/fs/cgroup/unified");
	cr_assert_eq(kcg_mount_parse(pure, out, sizeof out), 0);
	cr_assert_str_eq(out, "/sys/fs/cgroup");
	/* v1 only, and a cgroup2 bind of a sub-tree (not its root) */
	cr_assert_eq(kcg_mount_parse(none, out, sizeof out), -ENOENT);
	cr_assert_eq(kcg_mount_parse("", out, sizeof out), -ENOENT);
	cr_assert_eq(kcg_mount_parse(pure, out, 8), -ENAMETOOLONG);
}

/* the v1 hierarchy of a controller, and our cgroup in it (limits on a
 * host whose controllers are on v1 only, as a hybrid systemd host) */
Test(kcgroup, v1_parse, .timeout = 10)
{
	static const char mi[] =
		"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
		"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
		"36 31 0:40 /sub /mnt/pids rw,relatime - cgroup cgroup rw,pids\n"
		"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
	static const char self[] =
		"9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n"
		"1:cpu,cpuacct:/user.slice\n0::/\n";
	char out[256];

	cr_assert_eq(kcg_v1_mount_parse(mi, "memory", out, sizeof out), 0);
	cr_assert_str_eq(out, "/sys/fs/cgroup/memory");
	cr_assert_eq(kcg_v1_mount_parse(mi, "cpu", out, sizeof out), 0);
	cr_assert_str_eq(out, "/sys/fs/cgroup/cpu,cpuacct");
	/* mounted at a subtree, not its root: not used */
	cr_assert_eq(kcg_v1_mount_parse(mi, "pids", out, sizeof out), -ENOENT);
	cr_assert_eq(kcg_v1_mount_parse(mi, "cpuset", out, sizeof out), -ENOENT);
	cr_assert_eq(kcg_v1_mount_parse(mi, "memory", out, 8), -ENAMETOOLONG);
	cr_assert_eq(kcg_v1_self_parse(self, "memory", out, sizeof out), 0);
	cr_assert_str_eq(out, "/process_api/abc");
	cr_assert_eq(kcg_v1_self_parse(self, "cpu", out, sizeof out), 0);
	cr_assert_str_eq(out, "/user.slice");
	cr_assert_eq(kcg_v1_self_parse(self, "pids", out, sizeof out), 0);
	cr_assert_str_eq(out, "/");
	cr_assert_eq(kcg_v1_self_parse(self, "cpuacc", out, sizeof out), -ENOENT);
	/* favordynmods: none of these has it; a cgroup2 mount with it */
	cr_assert_not(kcg_favordynmods_parse(mi));
	cr_assert(kcg_favordynmods_parse(
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,favordynmods\n"));
	cr_assert_not(kcg_favordynmods_parse(
		"41 31 0:38 / /favordynmods rw,relatime - tmpfs favordynmods rw\n"));
	cr_assert_eq(kcg_v1_self_parse(self, "blkio", out, sizeof out), -ENOENT);
}

Test(kcgroup, events_populated, .timeout = 10)
{
	cr_assert_eq(kcg_events_populated("populated 1\nfrozen 0\n"), 1);
	cr_assert_eq(kcg_events_populated("frozen 0\npopulated 0\n"), 0);
	cr_assert_eq(kcg_events_populated("frozen 0\n"), -EBADMSG);
	cr_assert_eq(kcg_events_populated("populated x\n"), -EBADMSG);
	cr_assert_eq(kcg_events_populated(""), -EBADMSG);
}

Test(kcgroup, names, .timeout = 10)
{
	char longname[KCG_NAME_MAX];

	cr_assert(kcg_name_valid("web.42", 6));
	cr_assert(kcg_name_valid("a_b-c.1.u3", 10));
	cr_assert_not(kcg_name_valid("", 0));
	cr_assert_not(kcg_name_valid(".x", 2));
	cr_assert_not(kcg_name_valid("..", 2));
	cr_assert_not(kcg_name_valid("-x", 2));
	cr_assert_not(kcg_name_valid("a/b", 3));
	cr_assert_not(kcg_name_valid("a b", 3));
	memset(longname, 'a', sizeof longname);
	cr_assert(kcg_name_valid(longname, KCG_NAME_MAX - 8));
	cr_assert_not(kcg_name_valid(longname, KCG_NAME_MAX - 7));
}

/* Waits up to ms for the cgroup's populated to be want. */
static bool wait_populated(int fd, int want, int ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)ms;

	while (kcg_populated(fd) != want) {
		if (clock_mono_ms() >= end)
			return false;
		poll(NULL, 0, 5);
	}
	return true;
}

static bool avoid_svc1(const char *name)
{
	return !strcmp(name, "svc.1");
}

static void real_cgroup(bool force_procs)
{
	char node[64], got[KCG_NAME_MAX];
	struct kcg cg;
	int p[2], fd, procs;
	pid_t pid, daemon_pid = 0;

	snprintf(node, sizeof node, "test-kcgroup-%d", (int)getpid());
	if (kcg_open(&cg, node, NULL) < 0)
		cr_skip_test("no usable cgroup2 here: %s", cg.why);
	fd = kcg_make(&cg, "svc.1", got, NULL);
	cr_assert_geq(fd, 0, "kcg_make: %s", strerror(-fd));
	cr_assert_str_eq(got, "svc.1");
	cr_assert_eq(kcg_populated(fd), 0);
	procs = kcg_procs_fd(fd);
	cr_assert_geq(procs, 0);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* in the cgroup, then a daemon: setsid + double fork */
		pid_t d;
		if (write(procs, "0", 1) != 1)
			_exit(1);
		d = fork();
		if (d == 0) {
			setsid();
			if (fork() == 0) {
				pid_t me = getpid();
				if (write(p[1], &me, sizeof me) != sizeof me)
					_exit(1);
				pause();
			}
			_exit(0);
		}
		waitpid(d, NULL, 0);
		pause();
		_exit(0);
	}
	close(procs);
	close(p[1]);
	cr_assert_eq(read(p[0], &daemon_pid, sizeof daemon_pid), sizeof daemon_pid);
	close(p[0]);
	cr_assert(wait_populated(fd, 1, 5000));
	cr_assert_eq(kill(daemon_pid, 0), 0, "the daemon runs");
	/* a second make of the same name: it is taken, so name.2 */
	{
		char got2[KCG_NAME_MAX];
		int fd2 = kcg_make(&cg, "svc.1", got2, NULL);
		cr_assert_geq(fd2, 0);
		cr_assert_str_eq(got2, "svc.1.2");
		close(fd2);
		cr_assert_eq(kcg_remove(&cg, "svc.1.2"), 0);
	}
	cr_assert_eq(kcg_kill(&cg, fd, force_procs), 0);
	/* the fallback is one pass: again until empty, as the keeper does */
	for (int i = 0; force_procs && i < 100 && kcg_populated(fd) == 1; i++) {
		poll(NULL, 0, 10);
		kcg_kill(&cg, fd, true);
	}
	cr_assert(wait_populated(fd, 0, 5000), "the cgroup empties");
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	/* the daemon was reparented away from us: gone (or a zombie of init) */
	{
		char path[64], buf[64];
		int f;
		ssize_t n = 0;
		snprintf(path, sizeof path, "/proc/%d/cmdline", (int)daemon_pid);
		f = open(path, O_RDONLY | O_CLOEXEC);
		if (f >= 0) {
			n = read(f, buf, sizeof buf);
			close(f);
		}
		cr_assert_leq(n, 0, "the double-forked daemon outlived the kill");
	}
	/* empty now, but killed once: a make that avoids it takes svc.1.2
	 * (a child cloned into a killed cgroup dies at birth) */
	{
		char got2[KCG_NAME_MAX];
		int fd2 = kcg_make(&cg, "svc.1", got2, avoid_svc1);
		cr_assert_geq(fd2, 0);
		cr_assert_str_eq(got2, "svc.1.2");
		close(fd2);
		cr_assert_eq(kcg_remove(&cg, "svc.1.2"), 0);
	}
	close(fd);
	cr_assert_eq(kcg_remove(&cg, "svc.1"), 0);
	cr_assert_eq(rmdir(cg.path), 0);
	kcg_close(&cg);
}

Test(kcgroup, real_cgroup_kill, .timeout = 30)
{
	real_cgroup(false);
}

Test(kcgroup, real_cgroup_procs_loop, .timeout = 30)
{
	real_cgroup(true);
}

/* What a killed keeper left: the sweep kills it and removes the cgroup. */
Test(kcgroup, sweep_ends_leftovers, .timeout = 30)
{
	char node[64], got[KCG_NAME_MAX], path[PATH_MAX + KCG_NAME_MAX];
	struct kcg cg;
	int fd, procs;
	pid_t pid;
	struct stat st;

	snprintf(node, sizeof node, "test-kcgsweep-%d", (int)getpid());
	if (kcg_open(&cg, node, NULL) < 0)
		cr_skip_test("no usable cgroup2 here: %s", cg.why);
	fd = kcg_make(&cg, "old.7", got, NULL);
	cr_assert_geq(fd, 0);
	procs = kcg_procs_fd(fd);
	pid = fork();
	if (pid == 0) {
		if (write(procs, "0", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(procs);
	cr_assert(wait_populated(fd, 1, 5000));
	close(fd);
	cr_assert_eq(kcg_sweep(&cg, 2000), 1);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	snprintf(path, sizeof path, "%s/old.7", cg.path);
	cr_assert_neq(stat(path, &st), 0, "the swept cgroup is removed");
	cr_assert_eq(rmdir(cg.path), 0);
	kcg_close(&cg);
}

Test(kcgroup, off_says_why, .timeout = 10)
{
	struct kcg cg;

	cr_assert_lt(kcg_open(&cg, "n1", "--cgroups=off"), 0);
	cr_assert_eq(cg.dirfd, -1);
	cr_assert_str_eq(cg.why, "--cgroups=off");
}
