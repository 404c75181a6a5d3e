/*
 * kproto.h - the payloads of the keeper protocol (keeper.h) that carry
 * more than one string: pure pack/unpack, libc only (the keeper links it).
 *
 * Owns: the byte layout of a K_SPAWN record. Must not: do I/O, log, or
 * know the engine's types. Every string is counted, never terminated, so
 * any byte string, the empty one included, is a valid argument; a record
 * that does not parse exactly is refused whole.
 *
 * K_SPAWN record, integers u32 in host byte order (both ends are one
 * build on one host):
 *   argc, argc x (len, bytes)      argv: 1..RS_KEEPER_ARGV strings
 *   envc, envc x (len, bytes)      env:  0..RS_KEEPER_ENV strings
 *   len, bytes                     cwd ("" = /)
 *   len, bytes                     log path (absolute)
 *   ngroups, ngroups x gid         0..KEEPER_GROUPS_MAX groups
 *   flags                          KSPAWN_* bits
 *   stop signal, stop timeout ms   what the keeper does to a fenced child
 *                                  at its lease (1..64, any)
 *   log max (u64)                  protocol 4: the log's bound, bytes
 *                                  (>= KSPAWN_LOG_MAX_MIN): the keeper
 *                                  writes the log and rotates it
 *   len, bytes                     protocol 5: the instance's cgroup
 *                                  name ("" = none: a process group
 *                                  only), kcg_name_valid
 *   limits                         protocol 6: u64 memory max, u64
 *                                  memory high, u32 cpu weight, u32 cpu
 *                                  max (percent), u32 pids max (0: none;
 *                                  only with a cgroup name)
 *   profile                        protocol 7: u64 capabilities kept
 *                                  (KPROF_CAPS), u32 KPROF_* flags, u32
 *                                  nice (an int32, -20..19, 0:
 *                                  unchanged), len, bytes: CPU list ("":
 *                                  unchanged; < KPROF_CPUS_MAX bytes)
 * No string may hold a NUL byte; nothing may follow the last field of
 * the protocol.
 */
#ifndef RS_KPROTO_H
#define RS_KPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kcgroup.h"
#include "keeper.h"

/* K_SPAWN flags */
#define KSPAWN_KEEP_CAPS 0x1u   /* as another user: keep the capability
				 * bounding set and no_new_privs off */
#define KSPAWN_FENCED    0x2u   /* fence: stop: the keeper stops it at the
				 * engine's lease (K_LEASE) */
#define KSPAWN_FLAGS_ALL (KSPAWN_KEEP_CAPS | KSPAWN_FENCED)

#define KSPAWN_LOG_MAX_MIN 4096u   /* rs-agent --log-max's least value */

/* A privilege profile's flags (protocol 7; lib/profile.h, applied in
 * the child before exec) */
#define KPROF_CAPS        0x1u  /* the bounding set is exactly caps (with a
				 * uid: also raised as ambient) */
#define KPROF_NNP_ON      0x2u  /* no_new_privs on, even as root / with
				 * KSPAWN_KEEP_CAPS */
#define KPROF_NNP_OFF     0x4u  /* no_new_privs off, even with a uid */
#define KPROF_RO_ROOT     0x8u  /* a private mount namespace, / read-only */
#define KPROF_PRIVATE_TMP 0x10u /* ... a fresh tmpfs on /tmp, /var/tmp */
#define KPROF_ALL         0x1fu
#define KPROF_MOUNTS      (KPROF_RO_ROOT | KPROF_PRIVATE_TMP)
#define KPROF_CPUS_MAX    64    /* the CPU list's bytes, incl. NUL */

struct kproto_profile {
	uint64_t caps;     /* bit n: keep capability n (KPROF_CAPS) */
	uint32_t flags;    /* KPROF_* */
	int32_t  nice;     /* -20..19, 0: unchanged */
	char    *cpus;     /* "0-1,3", "" or NULL: unchanged */
};

/* One process to start. Packing reads argc/envc strings of argv/env
 * (NULL-terminated or not); unpacking NULL-terminates both. */
struct kproto_spawn {
	char     **argv;
	uint32_t   argc;
	char     **env;
	uint32_t   envc;
	char      *cwd;
	char      *logpath;
	gid_t      groups[KEEPER_GROUPS_MAX];
	uint32_t   ngroups;
	uint32_t   flags;
	uint32_t   stop_signal;   /* fenced: sent at the lease, then SIGKILL */
	uint32_t   stop_ms;       /* after this long */
	uint64_t   log_max;       /* protocol 4: rotate the log before this */
	char      *cgroup;        /* protocol 5: its cgroup's name, "" or
				   * NULL: none (kcgroup.h) */
	struct kcg_limits limits; /* protocol 6: its limits (all 0: none) */
	struct kproto_profile prof; /* protocol 7: its profile (all 0: none) */
	void      *mem;    /* unpack: the one block holding vectors and strings */
};

/* Writes the record of s into buf (cap bytes), its size into *len.
 * 0, -EINVAL (a count the unpacker would refuse, a NULL string, unknown
 * flags, a stop signal out of 1..64, a relative log path, a log max under
 * KSPAWN_LOG_MAX_MIN) or -E2BIG (does not fit in cap). */
int kproto_spawn_pack(const struct kproto_spawn *s, uint8_t *buf, size_t cap,
		      size_t *len);
/* Whether a record's profile asks anything. */
int kproto_profile_any(const struct kproto_profile *pf);
/* The same for a keeper of protocol proto (KEEPER_PROTO_MIN..); below 6
 * a record with limits is -EPROTONOSUPPORT (an older keeper would run it
 * unbounded), below 7 one with a profile (it would run it unconfined);
 * for 2, no
 * stop signal and timeout, and no KSPAWN_FENCED (a keeper 2 refuses an
 * unknown flag; it cannot fence); below 4, no log max (the child opens
 * the log and appends to it itself); below 5, no cgroup name (the
 * process runs in the keeper's cgroup). -EINVAL for another protocol. */
int kproto_spawn_pack_for(const struct kproto_spawn *s, int proto, uint8_t *buf,
			  size_t cap, size_t *len);
/* Parses the record p[len] into *s, whose strings and vectors are copied
 * into one allocation the caller frees with kproto_spawn_free. 0, -EBADMSG
 * (short, trailing bytes, a length past the end, an embedded NUL),
 * -EINVAL (a count over its limit, no argv, unknown flags, a relative log
 * path, a log max under KSPAWN_LOG_MAX_MIN, a cgroup name that is not
 * kcg_name_valid) or -ENOMEM. On failure *s holds nothing to free. */
int kproto_spawn_unpack(const uint8_t *p, size_t len, struct kproto_spawn *s);
/* Frees what kproto_spawn_unpack allocated; s may be NULL. */
void kproto_spawn_free(struct kproto_spawn *s);

/* A KSTEP_*'s words ("remounting / read-only"), "" for none. */
const char *kproto_step_name(int step);

#define KPROTO_LIMITS_LEN 28   /* a K_LIMITS payload: the limits as in K_SPAWN */
/* l as a K_LIMITS payload into buf[KPROTO_LIMITS_LEN]. */
void kproto_limits_pack(const struct kcg_limits *l, uint8_t *buf);
/* A K_LIMITS payload p[len] into *l: 0 or -EBADMSG. */
int kproto_limits_unpack(const uint8_t *p, size_t len, struct kcg_limits *l);

#endif
