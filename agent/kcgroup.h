/*
 * kcgroup.h - the keeper's cgroups: one cgroup v2 per instance, for
 * membership (which processes are the instance's) and for ending all of
 * them at once. libc only (the keeper links it).
 *
 * Owns: the node's subtree <cgroup2 mount>/rs.<node> (rs.<host>.<node>
 * under RS_TEST_HOST; rs.ns<inode>.<node> in a network namespace other
 * than pid 1's, where the same node name may be another host's, as the
 * keeper's abstract socket is) and the cgroups in it, one per instance, named by
 * the engine ("<label>.<id>"). Must not: touch any cgroup outside that
 * subtree, enable controllers (membership only), log (the keeper logs
 * once at its boundary), or block (the wait for "populated 0" is the
 * caller's, on an inotify watch of cgroup.events).
 *
 * The subtree sits at the root of the v2 hierarchy, not under the
 * keeper's own cgroup: its path does not depend on how rs-agent was
 * started (a shell, a unit, a container's init), so a keeper started
 * anew finds what a previous one left (kcg_sweep), and the root may give
 * controllers to it later without moving the keeper (docs/design.md,
 * "A cgroup per instance").
 */
#ifndef RS_KCGROUP_H
#define RS_KCGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KCG_NAME_MAX 160   /* incl. NUL: "<label>.<id>[.uSEQ]" and a suffix */

/* Controllers (the values of lib/reslimits.h RS_CTL_*) and their index
 * in the v1 arrays. */
enum { KCG_MEMORY = 1u << 0, KCG_CPU = 1u << 1, KCG_PIDS = 1u << 2 };
#define KCG_NCTL 3

/* An instance's limits (rs_limits, in the keeper's own terms): 0 = none. */
struct kcg_limits {
	uint64_t mem_max, mem_high;   /* bytes */
	uint32_t cpu_weight;          /* 1..10000 (v2 cpu.weight) */
	uint32_t cpu_max;             /* percent of one CPU, per 100 ms */
	uint32_t pids_max;
};

struct kcg {
	int  dirfd;               /* the node's subtree, -1: no cgroups */
	bool has_kill;            /* cgroup.kill (Linux >= 5.14) */
	char mount[PATH_MAX];     /* the cgroup2 mount point */
	char path[PATH_MAX];      /* the node's subtree */
	char why[400];            /* no cgroups: why */
	/* limits (kcg_ctl_open): the controllers it can enforce them with,
	 * in the v2 subtree (its cgroup.subtree_control) or, where the host
	 * has them only on a v1 hierarchy, in a subtree of the same name
	 * there, under the keeper's own v1 cgroup */
	unsigned ctl;             /* KCG_* usable */
	unsigned ctl_v1;          /* of which through v1 */
	int  v1fd[KCG_NCTL];      /* v1: the node's subtree per controller, -1
				   * until an instance needs it */
	char v1path[KCG_NCTL][PATH_MAX];
};

/* The mount point of the cgroup v2 hierarchy in a /proc/self/mountinfo
 * text (the first cgroup2 mount whose root is "/"; /sys/fs/cgroup on a
 * pure v2 host, /sys/fs/cgroup/unified on a hybrid one) into out[n].
 * 0, -ENOENT (none) or -ENAMETOOLONG. Pure. */
int kcg_mount_parse(const char *mountinfo, char *out, size_t n);
/* The "populated" of a cgroup.events text: 1, 0, or -EBADMSG. Pure. */
int kcg_events_populated(const char *events);
/* Whether name is a cgroup name this module makes: 1..KCG_NAME_MAX-8
 * of [A-Za-z0-9._-], not starting with '.' or '-'. Pure. */
bool kcg_name_valid(const char *name, size_t len);

/* Finds the hierarchy and makes (or opens) the node's subtree. off: the
 * reason cgroups are not wanted (the option, a test variable), or NULL.
 * 0 with cg->dirfd >= 0, or -errno with cg->why saying why there are
 * none (cg->dirfd = -1). */
int kcg_open(struct kcg *cg, const char *node, const char *off);
/* Ends what cgroups of the subtree still hold (a previous keeper's
 * services' descendants: the services die with their keeper, what they
 * double-forked does not), waits up to wait_ms for them to empty, and
 * removes the empty ones. The number of cgroups that held processes. */
int kcg_sweep(struct kcg *cg, int wait_ms);
/* Makes the cgroup name in the subtree, or the first free of name.2,
 * name.3, ... when another of ours holds name or avoid(that name) says
 * so (avoid may be NULL: a cgroup killed once may empty later, and must
 * not be taken again; the actual name into got[KCG_NAME_MAX]). Its dir
 * fd (O_RDONLY|O_DIRECTORY|O_CLOEXEC), or -errno. */
int kcg_make(struct kcg *cg, const char *name, char *got,
	     bool (*avoid)(const char *name));
/* Opens cgroup.procs of the cgroup dirfd for writing (what a child
 * writes "0" to, between fork and exec, to enter it): the fd or -errno. */
int kcg_procs_fd(int cgfd);
/* Whether the cgroup dirfd holds a live process: 1, 0 or -errno. */
int kcg_populated(int cgfd);
/* SIGKILLs every process of the cgroup dirfd: cgroup.kill, or (without
 * it, or force_procs) one pass over cgroup.procs. 0 or -errno. */
int kcg_kill(struct kcg *cg, int cgfd, bool force_procs);
/* Sends sig to every process listed in the cgroup's cgroup.procs (one
 * pass) but those in process group skip_pgrp (0: none skipped). The
 * number signalled, or -errno. */
int kcg_signal_all(int cgfd, int sig, pid_t skip_pgrp);
/* Calls fn(id, arg) for each number of a list read from fd to its end
 * (cgroup.procs, cgroup.threads, v1 tasks: one a line). How many, or
 * -errno of a read. */
int kcg_ids_each(int fd, void (*fn)(pid_t id, void *arg), void *arg);
/* Removes the (empty) cgroup name of the subtree. 0 or -errno. */
int kcg_remove(struct kcg *cg, const char *name);
/* The path of cgroup.events of name, for an inotify watch, into out[n]. */
int kcg_events_path(const struct kcg *cg, const char *name, char *out, size_t n);
/* Closes the subtree's fd (the cgroups stay). */
void kcg_close(struct kcg *cg);

/* The mount point of the v1 hierarchy that has controller ctl ("memory",
 * "cpu", "pids") in a /proc/self/mountinfo text (fstype cgroup, its
 * super options naming ctl, mounted at its root) into out[n]. 0,
 * -ENOENT or -ENAMETOOLONG. Pure. */
int kcg_v1_mount_parse(const char *mountinfo, const char *ctl, char *out, size_t n);
/* Whether a cgroup or cgroup2 mount in a /proc/self/mountinfo text has
 * the favordynmods super option (Linux >= 6.0: it is one switch for the
 * whole kernel, and a v1 cgroup.procs write then costs no RCU grace
 * period: ~0.3 ms instead of ~12 ms a start with v1 limits). Pure. */
bool kcg_favordynmods_parse(const char *mountinfo);
/* The same of this host, read from /proc/self/mountinfo. */
bool kcg_favordynmods(void);
/* The path of this process's cgroup in the v1 hierarchy of ctl, from a
 * /proc/self/cgroup text ("4:memory:/a/b"), into out[n]. 0 or -ENOENT.
 * Pure. */
int kcg_v1_self_parse(const char *selfcg, const char *ctl, char *out, size_t n);
/* The node's subtree on the v1 hierarchy of ctl, as kcg_ctl_open makes
 * it for the v2 subtree v2path (for this process's cgroups: the engine
 * and its keeper share them), into out[n]. 0, -ENOENT, -ENAMETOOLONG. */
int kcg_v1_subtree(const char *v2path, const char *ctl, char *out, size_t n);
/* After kcg_open: finds the controllers (v2: enables those the subtree's
 * cgroup.controllers offers in its cgroup.subtree_control; the others
 * from a v1 hierarchy, where the node's subtree's path goes in
 * cg->v1path, made at first use) into cg->ctl and cg->ctl_v1, and removes
 * what a previous keeper left there (empty cgroups, the empty subtree).
 * Never fails: what is missing is not in cg->ctl. */
void kcg_ctl_open(struct kcg *cg);
/* Writes the limits of instance cgroup name (v2 dir cgfd) that differ
 * from *was (full, or was NULL: all of them, of the controllers either
 * needs; a removed one back to no limit): in the
 * v2 cgroup, or in v1 cgroups name made in each v1 subtree as needed
 * (their dir fds in v1fd[KCG_NCTL], -1 where none yet, kept open by the
 * caller). 0, or -errno naming the file in err[n]. */
int kcg_limits_write(struct kcg *cg, int cgfd, const char *name, int *v1fd,
		     const struct kcg_limits *l, const struct kcg_limits *was,
		     bool full, char *err, size_t n);
/* The KCG_* controllers limits l needs. */
unsigned kcg_limits_needs(const struct kcg_limits *l);
/* The oom_kill count of an instance's memory cgroup (v2 memory.events of
 * cgfd, or v1 memory.oom_control of v1fd[0]); 0 when unknown. */
uint64_t kcg_oom_kills(const struct kcg *cg, int cgfd, const int *v1fd);
/* Removes the v1 cgroups name (empty: their processes are the v2
 * cgroup's, killed with it) and closes v1fd[]. */
void kcg_v1_remove(struct kcg *cg, const char *name, int *v1fd);

#endif
