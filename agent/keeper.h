/*
 * keeper.h - the keeper: the small long-lived process of rs-agent that is
 * the parent of every service of a state dir, and the engine's link to it.
 *
 * rs-agent runs as two processes (docs/design.md, "The agent is two
 * processes"). The keeper forks/execs, reaps, signals, holds each
 * instance's notify socket, listening sockets and stored fds, writes and
 * rotates each instance's log (klog.h), and keeps every exit status until
 * the engine has acknowledged it. It speaks no
 * ZeroMQ and parses no protobuf: fixed headers on a SOCK_SEQPACKET unix
 * socket at STATE_DIR/run/keeper.sock, fds passed with SCM_RIGHTS. The
 * engine (the rest of rs-agent) decides; killing or restarting it touches
 * no service: the next engine asks the keeper what runs and adopts it.
 *
 * Services get PR_SET_PDEATHSIG=SIGKILL: if the keeper itself is killed,
 * its services die with it instead of running on untracked (the next
 * engine starts a new keeper and rsd restarts what is missing). One run
 * as another user also gets an empty capability bounding set and
 * PR_SET_NO_NEW_PRIVS, unless its spec says keep_caps.
 *
 * One keeper per node and host: the keeper of node N also binds the
 * abstract unix socket keeper_node_addr(N) names, and answers whoever
 * connects there (its own user or root) with one K_IDENT: its pid and its
 * state dir. An engine starting for N finds it there, whatever its own
 * --state-dir, and starts no second keeper for N (docs/design.md, "One
 * keeper per node"). The kernel drops the name when the keeper dies.
 *
 * The keeper runs in / and uses absolute paths only.
 */
#ifndef RS_KEEPER_H
#define RS_KEEPER_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#define KEEPER_MSG_MAX   (1u << 20)  /* header + payload */
#define KEEPER_FDS_MAX   64          /* fds held per instance */
#define KEEPER_FDNAME_MAX 65         /* incl. NUL: listen names are 1-64 */
#define KEEPER_GROUPS_MAX 64         /* supplementary groups of a service */
#define RS_KEEPER_ARGV   256         /* argv strings of a K_SPAWN (RS_ARGV_MAX) */
#define RS_KEEPER_ENV    2048        /* env strings: the spec's, rs's, inherited */
/* K_HELLO's b and K_HELLO_END's b: the protocol both ends speak. 2: the
 * K_SPAWN record is counted strings (kproto.h); a keeper older than that
 * answers 0. 3: K_LEASE, and the K_SPAWN record ends with the fenced
 * flag's stop signal and timeout. 4: the record ends with the log's
 * bound, and the keeper writes the log: the child's stdout and stderr
 * are a pipe it reads, stamps and rotates (klog.h). 5: the record ends
 * with the instance's cgroup name (kcgroup.h), K_HELLO_END carries what
 * cgroups the keeper has, and an instance in a cgroup is reported
 * exited (K_EXITED) only once every process of its cgroup is gone. 6:
 * the record ends with the instance's limits (written into its cgroups
 * before the child runs), K_HELLO_END says which controllers the keeper
 * has, K_LIMITS changes a running instance's limits, and K_EXITED's d
 * says the OOM killer ended it. 7: the record ends with the instance's
 * privilege profile (capabilities, no_new_privs, a read-only root, a
 * private /tmp, nice, CPU affinity: applied in the child before exec),
 * a failed K_SPAWNED says in b which step failed (KSTEP_*), and
 * K_RENICE changes a running instance's nice and affinity. */
#define KEEPER_PROTO     7
#define KEEPER_PROTO_MIN 2   /* the oldest keeper an engine still drives: an
			      * agent upgraded in place keeps its services;
			      * only the keeper's own lease (K_LEASE, fenced
			      * children) waits until the keeper is replaced */

/* Message types. E = engine, K = keeper. */
enum kmsg_type {
	K_HELLO = 1,  /* E->K  a = engine pid, b = KEEPER_PROTO */
	K_BUSY,       /* K->E  another engine is attached, a = its pid */
	K_INST,       /* K->E  id, a = pid (live or last), b = start ticks,
		       *       c = 1 alive, 2 dead with its K_EXITED to follow,
		       *       0 dead and acknowledged; d = restarts;
		       *       payload = meta;
		       *       fd = its notify socket if any */
	K_HELLO_END,  /* K->E  a = keeper pid, b = KEEPER_PROTO, c = the
		       *       lease deadline it holds (mono ms, 0: none),
		       *       d = that lease's length ms; payload (protocol
		       *       5) = its cgroups, "1 K PATH" (K: 1 if
		       *       cgroup.kill exists) or "0 0 WHY"; protocol 6:
		       *       "1 K C V PATH" / "0 0 0 0 WHY", C the KCG_*
		       *       controllers it can enforce limits with, V those
		       *       of them on a v1 hierarchy; then the unacked
		       *       K_EXITEDs */
	K_META,       /* E->K  id; payload = opaque meta (the engine's spec) */
	K_SPAWN,      /* E->K  id, d = restarts so far, c = the instance whose
		       *       listen/stored fds it gets (0 = its own), a = uid + 1
		       *       to run as (0: the keeper's), b = its gid; payload =
		       *       the spawn record of kproto.h: counted argv, env,
		       *       cwd, log path, groups, flags, fence and log bound;
		       *       one that does not parse exactly is answered -EINVAL,
		       *       a log that cannot be opened -errno */
	K_SPAWNED,    /* K->E  id, a = pid or -errno, b = start ticks;
		       *       failed (protocol 7): b = the KSTEP_* that did */
	K_KILL,       /* E->K  id, a = signal: to the live process's group
		       *       and every other process of its cgroup (b = 1:
		       *       to the main process only; c = 1: the stop
		       *       signal, to the group, and what outlives the main
		       *       process gets it then and the rest of the stop
		       *       timeout to end before cgroup.kill); SIGKILL
		       *       kills the cgroup; once the main process is
		       *       gone, to what its cgroup holds */
	K_EXITED,     /* K->E  id, a = pid, b = wait status, c = mono ns the
		       *       main process's death was seen, d bit 0: the OOM
		       *       killer killed in its memory cgroup meanwhile
		       *       (protocol 6), d >> 1: how many processes no
		       *       SIGKILL ended (stuck, set aside; an engine
		       *       before it tests d == 1 and sees no OOM); what
		       *       it wrote is in its log by then, and in a
		       *       cgroup, every process of the instance is gone
		       *       (killed once the main one died, or at the stop
		       *       timeout; "populated 0") but the stuck ones */
	K_EXIT_ACK,   /* E->K  id, a = pid */
	K_FD_ADD,     /* E->K  id, a = kind, b = 1: first drop what the name
		       *       holds (always for notify/listen), c = most fds
		       *       of this kind (0 = KEEPER_FDS_MAX); payload =
		       *       name; one fd */
	K_FD_DEL,     /* E->K  id, a = kind; payload = name ("" = every one) */
	K_FORGET,     /* E->K  id: drop the instance, close its fds */
	K_QUIT,       /* E->K  exit (kills what still runs) */
	K_SYNC,       /* E->K  answered by K_SYNCED once every earlier
		       *       message is done (e.g. sockets closed) */
	K_SYNCED,     /* K->E */
	K_SWAP,       /* E->K  id, a = other id, b = id's pid, c = other's pid:
		       *       swap their processes and notify sockets (a live
		       *       update's commit), only if both still run those */
	K_SWAPPED,    /* K->E  id, a = 0 or -ESRCH (one of them died) */
	K_LEASE,      /* E->K  a = the engine's lease deadline, CLOCK_MONOTONIC
		       *       ms (0: none), b = the lease ms: at the deadline
		       *       the keeper sends each live fenced child's group
		       *       its stop signal, SIGKILL after its stop timeout
		       *       (a dead or frozen engine cannot leave them
		       *       running) */
	K_IDENT,      /* K->anyone on the node's name (then closed): a =
		       *       keeper pid, b = KEEPER_PROTO, c = what it keeps
		       *       (live services + exits not yet acknowledged),
		       *       d = the attached engine's pid (0: none, -1:
		       *       connected, no K_HELLO yet);
		       *       payload = its absolute state dir, no NUL */
	K_LIMITS,     /* E->K  id; payload = limits (kproto_limits_pack):
		       *       written into the running instance's cgroups
		       *       (protocol 6) */
	K_LIMITED,    /* K->E  id, a = 0 or -errno; payload = why not */
	K_RENICE,     /* E->K  id, a = nice (-20..19), b = 1: set it (0:
		       *       leave it); payload = a CPU list ("": leave the
		       *       affinity): applied to every thread of every
		       *       process of the running instance (its cgroup's,
		       *       else its main process's) (protocol 7) */
	K_RENICED,    /* K->E  id, a = 0 or -errno; payload = why not */
};

/* The steps of a start in the child, in order (protocol 7): a failed
 * K_SPAWNED's b says which one failed (kproto_step_name). */
enum kstep {
	KSTEP_NONE = 0,
	KSTEP_CGROUP,     /* entering its cgroups */
	KSTEP_FDS,        /* stdout/stderr, passed fds, stdin */
	KSTEP_MOUNTNS,    /* unshare(CLONE_NEWNS), / private */
	KSTEP_RO_ROOT,    /* every mount remounted read-only */
	KSTEP_TMP,        /* a tmpfs on /tmp, /var/tmp */
	KSTEP_NICE,       /* setpriority */
	KSTEP_CPUS,       /* sched_setaffinity */
	KSTEP_BOUNDING,   /* the capability bounding set */
	KSTEP_USER,       /* setgroups, setgid, setuid */
	KSTEP_CAPS,       /* capset: the kept capabilities */
	KSTEP_AMBIENT,    /* PR_CAP_AMBIENT_RAISE */
	KSTEP_NNP,        /* PR_SET_NO_NEW_PRIVS */
	KSTEP_CWD,        /* chdir */
	KSTEP_EXEC,       /* execvpe */
	KSTEP__NR
};

/* What an fd held for an instance is. Listening sockets come first in
 * LISTEN_FDS, stored fds after them; the notify socket is not passed. */
enum kfd_kind { KFD_NOTIFY = 1, KFD_LISTEN, KFD_STORE };

struct kmsg {
	uint32_t type;
	uint32_t len;     /* payload bytes after the header */
	uint64_t id;      /* instance */
	int64_t  a, b, c, d;
};

/* Runs the keeper of state_dir in this (freshly forked) process, with /
 * as its working directory (state_dir is made absolute first); tells
 * ready_fd "ok" once it listens, then serves until K_QUIT or SIGTERM.
 * node (NULL: none, as a 0.2.0 keeper) is the node it keeps: it binds
 * that node's name first, and tells ready_fd "node" and exits when
 * another keeper holds it ("busy": another keeper has state_dir).
 * Never returns. */
/* cg_off (NULL: cgroups if the host has them) says why the keeper uses
 * none (kcgroup.h): "--cgroups off", "RS_TEST_NO_CGROUPS=1". */
_Noreturn void keeper_main(const char *state_dir, const char *node, int ready_fd,
			   const char *cg_off);

/* Fills *sa and *len with the abstract unix address of node's keeper:
 * "\0rs-keeper/node/NODE", or "\0rs-keeper/HOST/node/NODE" when the
 * environment has RS_TEST_HOST=HOST (tests that play two hosts on one).
 * 0, or -ENAMETOOLONG / -EINVAL (an empty name). */
int keeper_node_addr(const char *node, struct sockaddr_un *sa, socklen_t *len);
/* The same, and a fresh non-blocking SEQPACKET socket to bind or connect
 * it with: the fd, or -errno. */
int keeper_node_socket(const char *node, struct sockaddr_un *sa, socklen_t *len);

/* Sends one message (+ at most one fd, -1 for none). 0 or -errno. */
int kmsg_send(int sock, const struct kmsg *h, const void *payload, int fd);
/* Receives one message into buf (KEEPER_MSG_MAX bytes): fills *h, points
 * *payload into buf, *fd to a passed fd or -1. Returns 1, 0 on EOF,
 * -EAGAIN when nothing waits (non-blocking), or -errno / -EBADMSG. */
int kmsg_recv(int sock, uint8_t *buf, struct kmsg *h, const uint8_t **payload,
	      int *fd);

#endif
