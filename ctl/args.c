/*
 * args.c - rsctl's command line grammar (docs/cli.md).
 *
 * Global options may come before or after the verb. Options that take a
 * value accept "--opt VALUE" and "--opt=VALUE" ("-s EP", "-sEP" for short
 * ones). For up, edit and update, everything after "--" is the command.
 */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "clock.h"
#include "version.h"
#include "codes.h"
#include "listen.h"
#include "manifest.h"
#include "reslimits.h"
#include "profile.h"
#include "probespec.h"

typedef struct opt_def opt_def;

/* Applies an option's value to the request. Returns 0, or -1 after
 * printing why val is wrong. */
typedef int (*opt_fn)(rs_request *r, const opt_def *d, const char *val);

struct opt_def {
	const char *name;       /* "--node", "-n" */
	bool        value;      /* takes a value */
	opt_fn      fn;
	size_t      off;        /* rs_request field for the generic setters */
	uint32_t    edit;       /* RS_EDIT_* bit this option sets (edit) */
};

enum label_use { LABEL_NONE, LABEL_OPTIONAL, LABEL_REQUIRED, LABEL_FILE };

typedef struct verb_def {
	const char     *name;
	rs_verb         verb;
	enum label_use  label;
	bool            command;  /* takes "-- COMMAND ARGS..." */
	const opt_def  *opts;     /* ends with a NULL name; NULL = none */
	const char     *help;
} verb_def;

/* What args_parse() carries between its steps. */
typedef struct args_state {
	ctl_cmd        *c;
	const verb_def *v;          /* NULL before the verb */
	const char     *label;      /* borrowed from argv */
	int64_t         timeout_ms; /* -1: the verb's default */
} args_state;

/* Matching results of one argument against an option. */
enum { OPT_NO = 0, OPT_YES = 1, OPT_ERR = -1 };

/* ---- messages --------------------------------------------------------- */

static const char usage_text[] =
"usage: rsctl [-s EP] [--cred FILE] [--json] [--timeout S] VERB [ARGS...]\n"
"\n"
"Asks rsd, the cluster reincarnation server, to start, stop or report on\n"
"services.\n"
"\n"
"Verbs:\n"
"  up LABEL [OPTIONS] -- COMMAND [ARGS...]\n"
"                     start a service and wait until it is ready\n"
"  down LABEL         stop a service and keep it down\n"
"  delete LABEL [--keep-events]\n"
"                     stop a service and remove it and its history\n"
"  refresh LABEL      restart a running service deliberately\n"
"  reload LABEL       send its reload signal (default HUP) to each instance\n"
"  kill LABEL [-s SIG] [--main]\n"
"                     send a signal (default TERM) to each instance\n"
"  restart LABEL      start a terminated service again\n"
"  shutdown           stop every service, restart nothing\n"
"  apply FILE         converge the cluster to a manifest (diff FILE: dry run)\n"
"  export [LABEL...]  print the services as a manifest apply takes\n"
"  drain NODE         move a node's instances away (undrain NODE: undo)\n"
"  logs LABEL [-n N] [-f] [--timestamps] [--since T] [--previous]\n"
"                     show a service's output (stdout and stderr)\n"
"  clone LABEL        keep a warm standby instance\n"
"  unclone LABEL      drop the standby\n"
"  edit LABEL [OPTIONS] [-- COMMAND ARGS...]\n"
"                     change a service's settings\n"
"  update LABEL [OPTIONS] [-- COMMAND ARGS...]\n"
"                     replace a running service's process without a gap\n"
"  history LABEL      the kept revisions of a service's spec\n"
"  undo LABEL         update back to the revision before the newest\n"
"  lookup LABEL       show where a service runs\n"
"  is-running LABEL   exit 0 if an instance of LABEL runs, else 1 (3: none)\n"
"  status [LABEL...] [--node N] [--state S]\n"
"                     list services and their instances\n"
"  top [LABEL...] [--sort cpu|mem|tasks] [-d S] [-n N]\n"
"                     what the instances use (CPU, memory, tasks), refreshed\n"
"  describe LABEL     one service whole: spec, instances, operation, events\n"
"  nodes [--state S]  list nodes and their heartbeats\n"
"  events [LABEL] [-n N]\n"
"                     show the latest events (default 50)\n"
"  ping               check that rsd answers\n"
"  cred create NAME --role ROLE [--labels PATTERNS]\n"
"                     print a new operator credential (admin)\n"
"  cred list          list credentials, node keys and join tokens (admin)\n"
"  cred revoke NAME [--node]\n"
"                     refuse a credential (or a node's key) from now on\n"
"  token rotate       a new join token; the old one is refused (admin)\n"
"  upgrade-plan       versions of rsd and the agents, and the skew policy\n"
"  node forget NODE   drop a node that is gone for good (not up)\n"
"  help [VERB]        show this help, or a verb's\n"
"\n"
"Global options (before or after the verb):\n"
"  -s EP          rsd's control endpoint (default: $RS_CONTROL, else\n"
"                 " CTL_DEFAULT_ENDPOINT ")\n"
"  --cred FILE    the credential to use (default: $RS_CRED, else\n"
"                 ~/.config/rs/cred, else " CTL_CRED_SYSTEM ")\n"
"  --insecure     no credential, plaintext (only with an rsd --insecure)\n"
"  --json         print the reply's JSON payload instead of text\n"
"  --timeout S    how long rsd may work on the request, in seconds\n"
"                 (default: up: ready timeout + 5, down: 10, refresh,\n"
"                 restart, shutdown: 30, others: 5)\n"
"  -h, --help     show this help; 'rsctl VERB --help' shows a verb's\n"
"  --version      print rsctl's version\n"
"\n"
"Exit codes: 0 ok, 1 failed, 2 usage, 3 unknown label, 4 busy, 5 timeout,\n"
"6 unreachable, 7 exists, 8 no node, 9 invalid, 10 internal, 11 rolled back,\n"
"12 forbidden (the credential's role does not allow it), 13 not\n"
"authenticated (no credential, or rsd refused it), 14 version outside\n"
"the skew policy.\n";

static const char up_help[] =
"usage: rsctl up LABEL [OPTIONS] -- COMMAND [ARGS...]\n"
"\n"
"Starts service LABEL running COMMAND and waits until it is ready.\n"
"S is a number of seconds; decimals are allowed (0.5).\n"
"\n"
"Options:\n"
"  --node N             run it on node N (default: any node); N1,N2,...:\n"
"                       on any of these nodes\n"
"  --node-label L       only on nodes whose agent has --label L (repeatable)\n"
"  --period S           heartbeat period: it must send WATCHDOG=1 at least\n"
"                       this often (default: 0, no heartbeat)\n"
"  --ready-timeout S    time it has to become ready (default: 10)\n"
"  --no-block           return once the start is under way\n"
"  --env K=V            set an environment variable (repeatable)\n"
"  --cwd DIR            working directory (default: /)\n"
"  --user NAME          run it as this user (name or uid; its groups too;\n"
"                       default: the agent's user), with no_new_privs and\n"
"                       an empty capability bounding set\n"
"  --keep-caps          with --user: keep the capability bounding set and\n"
"                       leave no_new_privs off (setuid programs work)\n"
"  --restart POLICY     always, on-failure or never (default: always)\n"
"  --backoff-initial S  delay of the 2nd restart in a row (default: 2)\n"
"  --backoff-factor N   delay multiplier per further restart (default: 2)\n"
"  --backoff-max S      longest restart delay (default: 30)\n"
"  --backoff-reset S    healthy run time that resets the delay (default: 60)\n"
"  --no-backoff         always restart at once\n"
"  --stop-signal SIG    stop signal: TERM, SIGTERM or a number\n"
"                       (default: TERM)\n"
"  --stop-timeout S     time from the stop signal to SIGKILL (default: 2)\n"
"  --reload-signal SIG  what rsctl reload sends to the main process: HUP,\n"
"                       SIGUSR2 or a number (default: HUP)\n"
"  --notify TYPE        readiness: auto (READY=1, or settled if it never\n"
"                       uses $NOTIFY_SOCKET), notify (READY=1 required) or\n"
"                       simple (settled) (default: auto)\n"
"  --settle S           time alive after which it counts as settled\n"
"                       (default: 1)\n"
"  --script PATH        recovery script: instead of a restart, rsd runs\n"
"                       PATH LABEL REASON INCARNATION, which decides with\n"
"                       rsctl restart or rsctl down\n"
"  --critical           a core service: its permanent failure is a critical\n"
"                       event, and down needs --force\n"
"  --replicas N         run N instances, spread over the nodes (default: 1)\n"
"  --fence POLICY       none or stop: stop means its agent stops it after\n"
"                       the lease (the node TTL) without a word from rsd,\n"
"                       and rsd runs it elsewhere only once that surely\n"
"                       happened: never two copies (default: none)\n"
"  --listen NAME=ADDR   a listening socket rs opens and passes to it\n"
"                       (LISTEN_FDS/LISTEN_FDNAMES; repeatable). ADDR is\n"
"                       tcp:HOST:PORT, tcp6:[HOST]:PORT or unix:PATH\n"
"  --liveness TARGET    a liveness probe, run by its agent: failures in a\n"
"                       row kill it (reason probe-failed) and its restart\n"
"                       policy follows. TARGET: http://HOST[:PORT]/PATH\n"
"                       (GET; passes on 200-399), https://..., tcp:HOST:PORT\n"
"                       (a connect; HOST numeric or localhost),\n"
"                       'exec:/PROGRAM ARG...' (run as the service's user,\n"
"                       passes on exit 0; words split at blanks), none\n"
"                       (edit: remove it)\n"
"  --readiness TARGET   a readiness probe: ready (up waits) only once it\n"
"                       passes; shown unready while it fails after\n"
"  --startup TARGET     a startup probe: holds the other two until it\n"
"                       passed once; its failures kill it too\n"
"  --probe-period S     for the probes given: time between probes\n"
"                       (default: 10)\n"
"  --probe-timeout S    one probe's limit (default: 1)\n"
"  --probe-failures N   failures in a row that count (default: 3)\n"
"  --probe-delay S      wait this long after the start (default: 0)\n"
"  --memory-max SIZE    memory limit (256M, 1G; K/M/G/T are powers of\n"
"                       1024): over it the kernel reclaims, then its OOM\n"
"                       killer ends it (reason oom) and its policy follows\n"
"  --memory-high SIZE   memory it is throttled and reclaimed above\n"
"  --cpu-weight N       its share of contended CPU, 1-10000 (100: normal)\n"
"  --cpu-max P%         at most P percent of one CPU (200% = two CPUs)\n"
"  --pids-max N         at most N processes and threads\n"
"                       (limits are enforced by the agent's cgroups: a\n"
"                       node without the controllers is not used; edit\n"
"                       changes them on the running process; none removes\n"
"                       one)\n"
"  --probe-status N[-M] http: the statuses that pass (default: 200-399)\n"
"  --cap NAME           keep capability NAME (CAP_NET_BIND_SERVICE or\n"
"                       net_bind_service; repeatable): the only ones left\n"
"                       in its bounding set; with --user, raised as\n"
"                       ambient capabilities so a non-root program has them\n"
"  --no-new-privs       no_new_privs on (default: on with --user, off\n"
"                       for a root service); --new-privs: off\n"
"  --read-only-root     it sees / read-only (a private mount namespace;\n"
"                       /dev, /proc, /sys and private tmp stay writable)\n"
"  --private-tmp        a fresh tmpfs on /tmp and /var/tmp, its own\n"
"  --nice N             scheduling priority, -20..19 (0: unchanged; below\n"
"                       0 needs an agent with CAP_SYS_NICE)\n"
"  --cpus LIST          CPU affinity, 0-1,3 (CPUs the node has)\n"
"                       (the profile: a node that cannot apply it is not\n"
"                       used; edit changes --nice and --cpus on the running\n"
"                       process, the rest at its next start)\n"
"  --probe-header 'NAME: VALUE'  http: a request header (repeatable)\n"
"\n"
"Default --timeout: the ready timeout + 5 s.\n";

static const char down_help[] =
"usage: rsctl down LABEL [--force]\n"
"\n"
"Stops service LABEL (stop signal, then SIGKILL after its stop timeout)\n"
"and keeps it down. A critical service needs --force. Default --timeout: 10 s.\n";

static const char delete_help[] =
"usage: rsctl delete LABEL [--keep-events] [--force] [--no-block]\n"
"\n"
"Stops service LABEL as down does (if an instance still runs), then\n"
"removes it from rsd for good: its settings, its instances and, unless\n"
"--keep-events, its events. One 'delete' event stays, saying who deleted\n"
"it and what went. A critical service, or one other services depend on,\n"
"needs --force. Refused while an operation works on LABEL (exit 4).\n"
"Default --timeout: 10 s.\n"
"\n"
"Options:\n"
"  --keep-events  keep the service's events (rsctl events LABEL)\n"
"  --force        delete a critical service, or one others depend on\n"
"                 (their depends_on keeps naming it)\n"
"  --no-block     return once the stop is under way\n";

static const char lookup_help[] =
"usage: rsctl lookup LABEL\n"
"\n"
"Shows the node, pid and state of service LABEL's instance.\n";

static const char is_running_help[] =
"usage: rsctl is-running LABEL\n"
"\n"
"For scripts: prints nothing; exits 0 if an instance of service LABEL is\n"
"running, 1 if none is (starting, down, failed...), 3 if there is no such\n"
"service, and with rsctl's other codes if rsd cannot be asked (6:\n"
"unreachable, 12, 13: credentials; those print why on stderr).\n";

static const char status_help[] =
"usage: rsctl status [LABEL...] [--node N] [--state STATE] [-o wide] [-w]\n"
"                    [--page-size N]\n"
"\n"
"Lists every service, or only the LABELs, in label order, one line per\n"
"instance. rsd answers page by page; rsctl prints them as one table (or\n"
"one JSON document).\n"
"\n"
"Options:\n"
"  --node N        only instances on node N\n"
"  --state STATE   only instances in STATE: pending starting running\n"
"                  stopping exited backoff down failed lost (down also\n"
"                  lists the services without instances)\n"
"  -o wide         more columns: the instance's id, when it started, and\n"
"                  its last reported usage: CPU time, memory (MEM, PEAK),\n"
"                  TASKS (\"-\": none reported yet, or an rsd before 0.3)\n"
"  -w, --watch     redraw the table every second until interrupted (on a\n"
"                  terminal); else print it again, under a '--- TIME'\n"
"                  line, each time it changes\n"
"  --page-size N   rows rsd sends at a time (default and most: "
		   CTL_ROWS_PAGE_SIZE_STR ",\n"
"                  with --json " CTL_PAGE_SIZE_STR ")\n";

static const char top_help[] =
"usage: rsctl top [LABEL...] [--node N] [--sort cpu|mem|tasks] [-d SECONDS]\n"
"                 [-n FRAMES]\n"
"\n"
"What the running instances use, as their agents report it (sampled from\n"
"each instance's cgroup every 5 s, sent to rsd when it changed, at most\n"
"every 10 s): CPU share, CPU time, memory now and at peak, tasks, and how\n"
"old the sample is. Highest first; the table is redrawn every SECONDS\n"
"until interrupted (on a terminal: as many rows as fit). CPU% is rsctl's:\n"
"the CPU time between the two latest reports it saw over the time between\n"
"their samples (with one report, the share since the process started).\n"
"Needs an rsd of 0.3.0 or later (exit 9 otherwise).\n"
"\n"
"Options:\n"
"  --node N          only instances on node N\n"
"  --sort KEY        cpu (default), mem or tasks\n"
"  -d SECONDS        between frames (default 2; 0.1 to 3600)\n"
"  -n FRAMES         print FRAMES frames, then exit (scripts, tests); not\n"
"                    on a terminal, each frame is a plain table under a\n"
"                    '--- TIME' line\n";

static const char describe_help[] =
"usage: rsctl describe LABEL\n"
"\n"
"Shows service LABEL whole: its spec (command, environment, user,\n"
"replicas, restart policy, backoff, watchdog period, stop signal and\n"
"timeout, notify type, placement, listening sockets, dependencies...),\n"
"every instance with its node, state, pid, restarts, start time and last\n"
"exit, the operation in progress if any, and its last 10 events (newest\n"
"last). --json prints rsd's answer as it is. Exits 3 if there is no such\n"
"service.\n";

static const char nodes_help[] =
"usage: rsctl nodes [--state STATE] [--page-size N]\n"
"\n"
"Lists the nodes rsd knows, in name order, their state and heartbeat age.\n"
"\n"
"Options:\n"
"  --state STATE   only nodes in STATE: unknown up suspect lost fenced\n"
"  --page-size N   rows rsd sends at a time (default and most: "
		   CTL_NODES_PAGE_SIZE_STR ")\n";

static const char events_help[] =
"usage: rsctl events [LABEL] [-n N] [--since TIME] [-f]\n"
"\n"
"Shows the latest events, of every service or only LABEL.\n"
"\n"
"Options:\n"
"  -n, --limit N   how many events (default: 50; with --since: all since\n"
"                  then, at most 2000)\n"
"  --since TIME    only events since TIME: a duration ago (90s, 10m, 2h, 1d)\n"
"                  or a UTC time (2026-11-25T08:00:00Z, 2026-11-25 08:00)\n"
"  -f, --follow    keep printing new events as they happen\n";

static const char refresh_help[] =
"usage: rsctl refresh LABEL [--no-block]\n"
"\n"
"Deliberately restarts the running service LABEL: stops it (stop signal,\n"
"SIGKILL after its stop timeout) and starts it fresh; waits until the new\n"
"process is ready. Not counted as a failure. Default --timeout: 30 s.\n";

static const char restart_help[] =
"usage: rsctl restart LABEL [--no-block]\n"
"\n"
"Starts the terminated (down or failed) service LABEL again, on the node it\n"
"ran on, and waits until it is ready. Refused while it runs (use refresh).\n"
"This is what recovery scripts call. Default --timeout: 30 s.\n";

static const char reload_help[] =
"usage: rsctl reload LABEL\n"
"\n"
"Sends service LABEL's reload signal (--reload-signal, default HUP) to the\n"
"main process of each of its live instances, standbys included (they serve\n"
"the same configuration), as systemd's ExecReload=kill -HUP $MAINPID does:\n"
"nginx, haproxy -Ws and most daemons read their configuration again. No\n"
"restart; the pids stay. Exit 1 if LABEL has no running instance.\n";

static const char kill_help[] =
"usage: rsctl kill LABEL [-s SIG] [--main]\n"
"\n"
"Sends signal SIG (TERM, SIGKILL, USR1 or a number; default TERM) to every\n"
"process of each live instance of service LABEL (its process group, as\n"
"systemctl kill does), or with --main only to the main process. What\n"
"follows is the restart policy's business: an instance killed this way\n"
"is restarted as after any crash. Exit 1 if LABEL has no running instance.\n"
"Here -s is the signal: give rsd's endpoint before the verb\n"
"(rsctl -s EP kill ...) or in $RS_CONTROL.\n"
"\n"
"Options:\n"
"  -s, --signal SIG  the signal (default: TERM)\n"
"  --main            only the main process, not its group\n";

static const char shutdown_help[] =
"usage: rsctl shutdown [--no-block]\n"
"\n"
"Stops every service on every node and restarts nothing; rsd keeps running\n"
"and answering. Bring services back with up or restart. Default --timeout: 30 s.\n";

static const char edit_help[] =
"usage: rsctl edit LABEL [OPTIONS] [-- COMMAND [ARGS...] | --args ARGS...]\n"
"\n"
"Changes service LABEL's settings and stores them (MINIX RS_EDIT). The\n"
"command, --env, --cwd, --listen, --user and --keep-caps/--no-keep-caps\n"
"take effect at the next (re)start (rsctl refresh applies them now); every\n"
"other setting at once, without a restart. --env K=V sets K and keeps the\n"
"other variables; --listen gives the whole new set of sockets.\n"
"\n"
"Options: as for up (--period, --ready-timeout, --env, --cwd,\n"
"--restart/--restart-policy, --backoff-*, --no-backoff, --stop-signal,\n"
"--stop-timeout, --reload-signal, --notify, --settle, --listen, --user,\n"
"--keep-caps, --fence, the probes, --memory-max, --memory-high,\n"
"--cpu-weight, --cpu-max, --pids-max: limits change at once, written into\n"
"the running instance's cgroup; none removes one; --cap, --no-caps,\n"
"--no-new-privs/--new-privs, --read-only-root/--no-read-only-root,\n"
"--private-tmp/--no-private-tmp at the next start; --nice and --cpus\n"
"at once, on every process of the instance; --nice 0 and --cpus ''\n"
"remove them),\n"
"without --node and --no-block; --no-keep-caps undoes --keep-caps.\n"
"-- COMMAND ARGS replaces the command; --args ARGS... (last) replaces\n"
"only the arguments and keeps the program.\n";

static const char update_help[] =
"usage: rsctl update LABEL [OPTIONS] [-- COMMAND [ARGS...] | --args ARGS...]\n"
"\n"
"Replaces the running service LABEL's process with a new one, without a\n"
"gap (live update as a coordinated handover). The old instance gets\n"
"--prepare-signal (if given) and must say X_RS_PREPARED=1 on $NOTIFY_SOCKET\n"
"within --maxtime, else the update is abandoned (exit 11, nothing changed).\n"
"The new instance then starts with the same listening sockets and the fds\n"
"the old one stored (FDSTORE=1) while the old one still holds them. Once the\n"
"new one is READY=1 and stays up --min-healthy, the update commits: the old\n"
"one is stopped and the new spec stored (exit 0). Otherwise it rolls back:\n"
"the new one is stopped and the old one, same pid, keeps serving (exit 11).\n"
"S is a number of seconds; decimals are allowed (0.5).\n"
"\n"
"Options:\n"
"  -- COMMAND ARGS      the new command (default: the same command)\n"
"  --args ARGS...       new arguments, same program (last on the line)\n"
"  --env K=V            set an environment variable (repeatable)\n"
"  --maxtime S          time the old instance has to prepare (default: 2)\n"
"  --min-healthy S      time the new one must stay up after READY=1\n"
"                       (default: 1)\n"
"  --prepare-signal SIG sent to the old instance to prepare: USR1, SIGUSR1\n"
"                       or a number (default: none)\n"
"  --no-rollback        if the new instance fails, do not go back: the old\n"
"                       one is stopped anyway and the new spec kept, under\n"
"                       its restart policy (exit 1)\n"
"  --max-unavailable N  replicas handed over at the same time (default: 1)\n"
"  --canary             hand over one instance first, the others only\n"
"                       once it committed\n"
"  --batch L1 L2...     then update services L1 L2... the same way, in this\n"
"                       order, stopping at the first rollback (not with a\n"
"                       new command or --args)\n"
"  --to-revision N      back to kept revision N's spec whole (rsctl history;\n"
"                       no other settings, no --batch)\n"
"\n"
"Default --timeout: (30 s + maxtime + min-healthy) for each service.\n";

static const char history_help[] =
"usage: rsctl history LABEL\n"
"\n"
"The kept revisions of service LABEL's spec, oldest first: one for each\n"
"committed change (up of a new spec, edit, update, apply, undo), the\n"
"newest 10. rsctl update LABEL --to-revision N or rsctl undo LABEL goes\n"
"back to one. Environment values are masked for a viewer.\n";

static const char undo_help[] =
"usage: rsctl undo LABEL [--maxtime S] [--min-healthy S] [--prepare-signal SIG]\n"
"                  [--no-rollback] [--max-unavailable N] [--canary]\n"
"\n"
"rsctl update LABEL back to the revision before the newest (rsctl history):\n"
"the same coordinated handover, recorded as a revision of kind undo. Exit 9\n"
"if there is none; exit 0 and nothing done if LABEL has that spec already.\n";

static const char clone_help[] =
"usage: rsctl clone LABEL [--node N] [--no-block]\n"
"\n"
"Keeps a warm standby of service LABEL: a second instance, started and\n"
"ready but not active (on another node when there is one). When the active\n"
"instance dies, the standby becomes active at once (lookup names it) and\n"
"the old one, restarted, becomes the new standby. Waits until the standby\n"
"is ready. Default --timeout: 30 s.\n";

static const char unclone_help[] =
"usage: rsctl unclone LABEL\n"
"\n"
"Stops and forgets service LABEL's standby instance.\n";

static const char logs_help[] =
"usage: rsctl logs LABEL [--instance ID] [-n LINES] [-f] [--timestamps]\n"
"                  [--since TIME] [--previous]\n"
"\n"
"Shows the last lines (default 50) of what service LABEL's active instance\n"
"(or instance ID, also a crashed one) wrote to stdout and stderr, fetched\n"
"from its agent through rsd; the log rotated away last is read too.\n"
"\n"
"  -n, --lines N     how many lines (default: 50)\n"
"  -f, --follow      keep printing new output as it comes; where the\n"
"                    instance restarts, a line on stderr says so:\n"
"                    --- LABEL/ID restarted: pid OLD -> NEW ---\n"
"  -t, --timestamps  each line after the time its agent read it (RFC 3339,\n"
"                    UTC, milliseconds)\n"
"  --since TIME      only lines read since TIME: a duration ago (90s, 10m,\n"
"                    2h, 1d) or a UTC time (2026-11-25T08:00:00Z)\n"
"  -p, --previous    what the process before the current one wrote (the\n"
"                    one before the last restart); not with -f\n";

static const char apply_help[] =
"usage: rsctl apply FILE [--no-block]\n"
"\n"
"Converges the cluster to the manifest FILE (docs/manifest.md): checks it\n"
"first (a wrong file changes nothing; errors name file, line and key), then\n"
"adds, changes and removes services, starting new ones in dependency order\n"
"(each after what it depends_on is ready), and says what it changed.\n"
"Default --timeout: 120 s.\n";

static const char export_help[] =
"usage: rsctl export [LABEL...]\n"
"\n"
"Prints services as a manifest (docs/manifest.md) that rsctl apply takes\n"
"unchanged: every service wanted up, in label order, or the LABELs in the\n"
"order given. Settings left at their defaults are left out. Warnings go\n"
"to stderr: a depends_on the file leaves out (apply refuses it then), a\n"
"LABEL wanted down (apply would start it), a file that names only some\n"
"services (apply of it stops the others). --json prints rsd's answer\n"
"(the manifest as a string, the services, those wanted down, the\n"
"warnings). Needs the operator role: the file holds environment values,\n"
"which a viewer sees masked. Exits 3 if a LABEL is unknown.\n";

static const char diff_help[] =
"usage: rsctl diff FILE\n"
"\n"
"Shows what rsctl apply FILE would add, change and remove; changes nothing.\n";

static const char drain_help[] =
"usage: rsctl drain NODE\n"
"\n"
"Stops placing new instances on NODE and moves its instances to other\n"
"nodes (pinned ones stay). rsctl undrain NODE undoes it.\n";

static const char undrain_help[] =
"usage: rsctl undrain NODE\n"
"\n"
"Lets rsd place instances on NODE again.\n";

static const char cred_create_help[] =
"usage: rsctl cred create NAME --role ROLE [--labels PATTERNS]\n"
"\n"
"Makes a new operator credential and prints it on standard output, in the\n"
"form --cred FILE reads (save it with mode 0600). Its key pair is made\n"
"here; rsd stores only the public key. ROLE is viewer (status, nodes,\n"
"lookup, events, logs), operator (also up, down, refresh, restart, edit,\n"
"clone, update, apply, drain) or admin (everything, credentials too).\n"
"--labels web*,db-? limits an operator to matching labels (then it may\n"
"not apply or drain). Needs the admin role.\n";

static const char cred_list_help[] =
"usage: rsctl cred list\n"
"\n"
"Lists operator credentials, node keys and join tokens, revoked ones too.\n";

static const char cred_revoke_help[] =
"usage: rsctl cred revoke NAME [--node]\n"
"\n"
"Refuses credential NAME from now on, on its open connections too. With\n"
"--node, NAME is a node: its agent's key is refused, and the node can\n"
"enrol again with the join token (a reinstalled host).\n";

static const char token_rotate_help[] =
"usage: rsctl token rotate\n"
"\n"
"Makes a new join token (rsd writes it to join.token beside its database\n"
"and prints it); the earlier token is refused from now on. Enrolled nodes\n"
"keep their keys.\n";

static const char upgrade_plan_help[] =
"usage: rsctl upgrade-plan\n"
"\n"
"Shows rsd's version, each node's agent version, whether each is inside\n"
"the skew policy (same major version as rsd, at most one minor version\n"
"older or newer) and what may be upgraded next. Exits 0 inside the\n"
"policy, 14 outside it.\n";

static const char node_forget_help[] =
"usage: rsctl node forget NODE\n"
"\n"
"Drops a node that is gone for good from rsd's table, its metrics (so\n"
"RsNodeLost stops firing) and rsctl nodes. Refused while the node is up\n"
"or suspect, or while an instance that is not finished is placed there\n"
"(a pinned service's, say: down it or move it first). Its key stays\n"
"admitted: if the agent comes back it joins again as a new node (rsctl\n"
"cred revoke NODE --node refuses it).\n";

static const char ping_help[] =
"usage: rsctl ping\n"
"\n"
"Checks that rsd answers.\n";

/* Prints a pointer to the verb's help (or the global one) to stderr.
 * Returns RS_E_USAGE. */
static int usage_hint(const verb_def *v)
{
	fprintf(stderr, "Try 'rsctl %s%s--help'.\n", v ? v->name : "",
		v ? " " : "");
	return RS_E_USAGE;
}

/* Prints "rsctl: " + the formatted reason to stderr, then usage_hint().
 * Returns RS_E_USAGE. */
__attribute__((format(printf, 2, 3)))
static int usage_error(const verb_def *v, const char *fmt, ...)
{
	va_list ap;

	fputs("rsctl: ", stderr);
	if (v)
		fprintf(stderr, "%s: ", v->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return usage_hint(v);
}

/* Prints "rsctl: OPTION: " + the formatted reason to stderr. Returns -1. */
__attribute__((format(printf, 2, 3)))
static int opt_error(const opt_def *d, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rsctl: %s: ", d->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* ---- values ----------------------------------------------------------- */

/* Parses a decimal number of seconds ("2", "0.5", ".25") into ms, rounded
 * to the nearest ms. Returns 0, or -EINVAL (also when over UINT32_MAX ms). */
static int parse_seconds(const char *s, uint32_t *ms)
{
	double d;
	char *end;

	if (!*s || strspn(s, "0123456789.") != strlen(s) ||
	    strspn(s, ".") == strlen(s))
		return -EINVAL;
	errno = 0;
	d = strtod(s, &end);
	if (*end || errno || d * 1000.0 + 0.5 >= 4294967296.0)
		return -EINVAL;
	*ms = (uint32_t)(d * 1000.0 + 0.5);
	return 0;
}

/* Parses a decimal integer in [min, UINT32_MAX]. Returns 0 or -EINVAL. */
static int parse_uint(const char *s, uint32_t min, uint32_t *v)
{
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (*end || errno || n < min || n > UINT32_MAX)
		return -EINVAL;
	*v = (uint32_t)n;
	return 0;
}

/* Parses "TERM", "SIGTERM" (any case) or a number into a signal number.
 * Returns 0 or -EINVAL. */
static int parse_signal(const char *s, int32_t *sig)
{
	uint32_t n;

	if (isdigit((unsigned char)*s)) {
		if (parse_uint(s, 1, &n) < 0 || n >= NSIG)
			return -EINVAL;
		*sig = (int32_t)n;
		return 0;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);

		if (name && strcasecmp(name, s) == 0) {
			*sig = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- option setters --------------------------------------------------- */

/* The uint32_t / bool request field an opt_def's offset names. */
#define FIELD(r, d, type) ((type *)(void *)((char *)(r) + (d)->off))

static int set_seconds(rs_request *r, const opt_def *d, const char *val)
{
	if (parse_seconds(val, FIELD(r, d, uint32_t)) < 0)
		return opt_error(d, "'%s' is not a number of seconds", val);
	return 0;
}

static int set_count(rs_request *r, const opt_def *d, const char *val)
{
	if (parse_uint(val, 1, FIELD(r, d, uint32_t)) < 0)
		return opt_error(d, "'%s' is not a whole number >= 1", val);
	return 0;
}

static int set_u64(rs_request *r, const opt_def *d, const char *val)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (!isdigit((unsigned char)*val) || *end || errno || v == 0)
		return opt_error(d, "'%s' is not an instance id", val);
	*(uint64_t *)(void *)((char *)r + d->off) = v;
	return 0;
}

static int set_role(rs_request *r, const opt_def *d, const char *val)
{
	if (rs_role_from_string(val) < 0)
		return opt_error(d, "'%s' is not a role: viewer, operator or admin", val);
	rs_strlcpy(r->role, val, sizeof r->role);
	return 0;
}

static int set_patterns(rs_request *r, const opt_def *d, const char *val)
{
	if (!auth_patterns_valid(val))
		return opt_error(d, "'%s' is not a list of label patterns (web*,db-?)", val);
	rs_strlcpy(r->pattern, val, sizeof r->pattern);
	return 0;
}

static int set_true(rs_request *r, const opt_def *d, const char *val)
{
	*FIELD(r, d, bool) = true;
	return 0;
}

static int set_false(rs_request *r, const opt_def *d, const char *val)
{
	*FIELD(r, d, bool) = false;
	return 0;
}

/* Adds "KIND=NAME" to the spec's placement, NAME checked. */
static int add_placement(rs_request *r, const opt_def *d, const char *kind,
			 const char *name)
{
	char buf[RS_LABEL_MAX + 8];

	if (!rs_label_valid(name))
		return opt_error(d, "'%s' is not a valid name: use 1-63 of [A-Za-z0-9._-]",
				 name);
	snprintf(buf, sizeof buf, "%s=%s", kind, name);
	if (rs_spec_add_placement(&r->spec, buf) < 0)
		return opt_error(d, "more than %d placement entries", RS_PLACEMENT_MAX);
	return 0;
}

/* --node N (run there) or --node N1,N2,... (any of those nodes). */
static int set_node(rs_request *r, const opt_def *d, const char *val)
{
	char list[RS_PLACEMENT_MAX * RS_NODE_MAX], *save = NULL;
	int e = 0;

	if (!strchr(val, ',')) {
		if (rs_strlcpy(r->spec.node, val, sizeof r->spec.node) < 0)
			return opt_error(d, "node name is longer than %d characters",
					 RS_NODE_MAX - 1);
		return 0;
	}
	if (rs_strlcpy(list, val, sizeof list) < 0)
		return opt_error(d, "the node list is too long");
	for (char *n = strtok_r(list, ",", &save); n && !e; n = strtok_r(NULL, ",", &save))
		e = add_placement(r, d, "node", n);
	return e;
}

/* --since TIME: a duration ago (90s, 10m, 2h, 1d) or a UTC time
 * (2026-11-25T08:00:00Z, 2026-11-25 08:00, 2026-11-25). */
static int set_since(rs_request *r, const opt_def *d, const char *val)
{
	static const char *const fmts[] = {
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d %H:%M", "%Y-%m-%d",
	};
	uint64_t ago_ms;

	if (clock_parse_duration(val, &ago_ms) == 0) {
		uint64_t now_ms = clock_wall_ms();

		r->since_ms = ago_ms >= now_ms ? 1 : now_ms - ago_ms;
		return 0;
	}
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		struct tm tm;
		const char *rest;

		memset(&tm, 0, sizeof tm);
		rest = strptime(val, fmts[i], &tm);
		if (rest && (!*rest || !strcmp(rest, "Z"))) {
			time_t t = timegm(&tm);
			if (t <= 0)
				break;
			r->since_ms = (uint64_t)t * 1000u;
			return 0;
		}
	}
	return opt_error(d, "'%s' is not a time: give a duration ago (90s, 10m, 2h, "
			 "1d) or a UTC time (2026-11-25T08:00:00Z)", val);
}

/* --node-label L: only on nodes started with --label L (repeatable). */
static int set_node_label(rs_request *r, const opt_def *d, const char *val)
{
	return add_placement(r, d, "label", val);
}

static int set_env(rs_request *r, const opt_def *d, const char *val)
{
	int e = rs_spec_add_env(&r->spec, val);

	if (e == -E2BIG)
		return opt_error(d, "more than %d entries, or one over %d bytes",
				 RS_ARGV_MAX, RS_ARG_MAX - 1);
	if (e < 0)
		return opt_error(d, "%s", strerror(-e));
	return 0;
}

static int set_cwd(rs_request *r, const opt_def *d, const char *val)
{
	if (!*val || strlen(val) >= RS_ARG_MAX)
		return opt_error(d, "the directory must be 1 to %d bytes",
				 RS_ARG_MAX - 1);
	free(r->spec.cwd);
	r->spec.cwd = strdup(val);
	if (!r->spec.cwd)
		return opt_error(d, "%s", strerror(ENOMEM));
	return 0;
}

/* --user NAME|UID: run it as that user (the agent must be root). */
static int set_user(rs_request *r, const opt_def *d, const char *val)
{
	if (!rs_user_valid(val))
		return opt_error(d, "'%s' is not a user name or a uid", val);
	rs_strlcpy(r->spec.user, val, sizeof r->spec.user);
	return 0;
}

/* --script PATH: absolute path; "" (edit) removes the script. */
static int set_script(rs_request *r, const opt_def *d, const char *val)
{
	if ((*val && *val != '/') || strlen(val) >= RS_ARG_MAX)
		return opt_error(d, "the script must be an absolute path "
				 "(or \"\" to remove it)");
	free(r->spec.script);
	r->spec.script = strdup(val);
	if (!r->spec.script)
		return opt_error(d, "%s", strerror(ENOMEM));
	return 0;
}

static int set_restart(rs_request *r, const opt_def *d, const char *val)
{
	int p = rs_policy_from_string(val);

	if (p < 0)
		return opt_error(d, "'%s' is not always, on-failure or never",
				 val);
	r->spec.policy = (rs_policy)p;
	return 0;
}

static int set_notify(rs_request *r, const opt_def *d, const char *val)
{
	int n = rs_notify_type_from_string(val);

	if (n < 0)
		return opt_error(d, "'%s' is not auto, notify or simple", val);
	r->spec.notify = (rs_notify_type)n;
	return 0;
}

static int set_fence(rs_request *r, const opt_def *d, const char *val)
{
	int f = rs_fence_from_string(val);

	if (f < 0)
		return opt_error(d, "'%s' is not none or stop", val);
	r->spec.fence = (rs_fence)f;
	return 0;
}

static int set_signal(rs_request *r, const opt_def *d, const char *val)
{
	if (parse_signal(val, &r->spec.stop_signal) < 0)
		return opt_error(d, "'%s' is not a signal (TERM, SIGTERM, 15)",
				 val);
	return 0;
}

static int set_reload_signal(rs_request *r, const opt_def *d, const char *val)
{
	if (parse_signal(val, &r->spec.reload_signal) < 0)
		return opt_error(d, "'%s' is not a signal (HUP, SIGUSR2, 1)",
				 val);
	return 0;
}

/* --memory-max/--memory-high SIZE, --cpu-weight N, --cpu-max P%,
 * --pids-max N; "none" removes one (edit; for up it is no limit). */
enum { LIM_MEM_MAX, LIM_MEM_HIGH, LIM_CPU_WEIGHT, LIM_CPU_MAX, LIM_PIDS };

static int set_limit(rs_request *r, const opt_def *d, const char *val)
{
	rs_limits *l = &r->spec.limits;
	bool none = strcmp(val, "none") == 0;
	uint32_t u = 0;

	switch (d->off) {
	case LIM_MEM_MAX:
	case LIM_MEM_HIGH: {
		uint64_t *f = d->off == LIM_MEM_MAX ? &l->memory_max : &l->memory_high;
		if (none)
			*f = RS_LIMIT_DROP64;
		else if (rs_size_parse(val, f) < 0 || *f < RS_MEM_MIN)
			return opt_error(d, "'%s' is not a size of at least 4K "
					 "(bytes, or with K, M, G, T: 256M), or none", val);
		return 0;
	}
	case LIM_CPU_MAX:
		if (none)
			l->cpu_max = RS_LIMIT_DROP32;
		else if (rs_cpu_max_parse(val, &l->cpu_max) < 0)
			return opt_error(d, "'%s' is not a percent of one CPU, 1%% to "
					 "%u%% (50%%; 200%% = two CPUs), or none", val,
					 RS_CPU_MAX_PCT);
		return 0;
	default:
		if (!none && (parse_uint(val, 1, &u) < 0 ||
			      u > (d->off == LIM_CPU_WEIGHT ? RS_CPU_WEIGHT_MAX : RS_PIDS_MAX)))
			return opt_error(d, "'%s' is not a whole number from 1 to %u, or none",
					 val, d->off == LIM_CPU_WEIGHT ? RS_CPU_WEIGHT_MAX :
					 RS_PIDS_MAX);
		*(d->off == LIM_CPU_WEIGHT ? &l->cpu_weight : &l->pids_max) =
			none ? RS_LIMIT_DROP32 : u;
		return 0;
	}
}

/* The profile's options: --cap NAME (repeatable), --no-caps (edit),
 * --no-new-privs/--new-privs, --read-only-root/--no-read-only-root,
 * --private-tmp/--no-private-tmp, --nice N, --cpus LIST ('' in an edit:
 * none). Each says which field it set (an edit replaces only those). */
enum { PRO_CAP, PRO_NOCAPS, PRO_NNP, PRO_NEWPRIVS, PRO_RO, PRO_NORO, PRO_TMP,
       PRO_NOTMP, PRO_NICE, PRO_CPUS };

static int set_profile(rs_request *r, const opt_def *d, const char *val)
{
	rs_profile *p = &r->spec.profile;
	uint64_t mask[RS_CPUS_WORDS];
	char *end;
	long n;
	int k;

	switch (d->off) {
	case PRO_CAP:
		if ((k = rs_cap_parse(val)) < 0)
			return opt_error(d, "'%s' is not a capability (CAP_NET_BIND_SERVICE, "
					 "net_bind_service; see capabilities(7))", val);
		p->caps_set = true;
		p->caps |= 1ull << k;
		p->fields |= RS_PF_CAPS;
		return 0;
	case PRO_NOCAPS:
		p->caps_set = false;
		p->caps = 0;
		p->fields |= RS_PF_CAPS;
		return 0;
	case PRO_NNP:
	case PRO_NEWPRIVS:
		p->nnp = d->off == PRO_NNP ? RS_NNP_ON : RS_NNP_OFF;
		p->fields |= RS_PF_NNP;
		return 0;
	case PRO_RO:
	case PRO_NORO:
		p->ro_root = d->off == PRO_RO;
		p->fields |= RS_PF_RO;
		return 0;
	case PRO_TMP:
	case PRO_NOTMP:
		p->private_tmp = d->off == PRO_TMP;
		p->fields |= RS_PF_TMP;
		return 0;
	case PRO_NICE:
		n = strtol(val, &end, 10);
		if (!*val || *end || n < RS_NICE_MIN || n > RS_NICE_MAX)
			return opt_error(d, "'%s' is not a nice value from %d to %d",
					 val, RS_NICE_MIN, RS_NICE_MAX);
		p->nice = (int32_t)n;
		p->fields |= RS_PF_NICE;
		return 0;
	default:
		if (*val && (strlen(val) >= sizeof p->cpus ||
			     rs_cpus_parse(val, mask, NULL) < 0))
			return opt_error(d, "'%s' is not a CPU list (0-1,3: CPUs 0 to %d)",
					 val, RS_CPUS_MAX - 1);
		memcpy(p->cpus, val, strlen(val) + 1);
		p->fields |= RS_PF_CPUS;
		return 0;
	}
}

static int set_kill_signal(rs_request *r, const opt_def *d, const char *val)
{
	if (parse_signal(val, &r->signal) < 0)
		return opt_error(d, "'%s' is not a signal (TERM, SIGKILL, 9)",
				 val);
	return 0;
}

static int set_prepare_signal(rs_request *r, const opt_def *d, const char *val)
{
	if (parse_signal(val, &r->prepare_signal) < 0)
		return opt_error(d, "'%s' is not a signal (USR1, SIGUSR1, 10)",
				 val);
	return 0;
}

/* status --node N: the instances on node N. */
static int set_node_filter(rs_request *r, const opt_def *d, const char *val)
{
	if (!rs_label_valid(val))
		return opt_error(d, "'%s' is not a node name: use 1-63 of [A-Za-z0-9._-]",
				 val);
	rs_strlcpy(r->node, val, sizeof r->node);
	return 0;
}

/* status --state: an instance state as status prints it. */
static int set_istate(rs_request *r, const opt_def *d, const char *val)
{
	if (rs_istate_from_string(val) < 0 || !strcmp(val, "unknown"))
		return opt_error(d, "'%s' is not an instance state: pending, starting, "
				 "running, stopping, exited, backoff, down, failed or lost",
				 val);
	rs_strlcpy(r->state, val, sizeof r->state);
	return 0;
}

/* nodes --state: a node state as nodes prints it. */
static int set_nstate(rs_request *r, const opt_def *d, const char *val)
{
	if (rs_node_state_from_string(val) < 0)
		return opt_error(d, "'%s' is not a node state: unknown, up, suspect, "
				 "lost or fenced", val);
	rs_strlcpy(r->state, val, sizeof r->state);
	return 0;
}

/* --listen NAME=ADDR: checked here, with the ones given before it. */
static int set_listen(rs_request *r, const opt_def *d, const char *val)
{
	char err[640];
	rs_listen l;
	int e;

	if (rs_listen_parse(val, &l, err, sizeof err) < 0)
		return opt_error(d, "%s", err);
	e = rs_spec_add_listen(&r->spec, val);
	if (e == -E2BIG)
		return opt_error(d, "more than %d listening sockets", RS_LISTEN_MAX);
	if (e < 0)
		return opt_error(d, "%s", strerror(-e));
	if (rs_listen_validate_set(r->spec.listen, r->spec.nlisten, err, sizeof err) < 0)
		return opt_error(d, "%s", err);
	return 0;
}

/* --liveness/--readiness/--startup TARGET: d->off is the role. */
static int set_probe(rs_request *r, const opt_def *d, const char *val)
{
	char err[256];

	if (rs_probe_parse_target(&r->spec.probes[d->off], val, err, sizeof err) < 0)
		return opt_error(d, "%s", err);
	return 0;
}

/* A client-side edit bit, never sent: a --probe-* option was given (the
 * probes given with it take it; finish() checks there is one). */
#define EDIT_PROBE_OPTS (1u << 31)
enum { PO_PERIOD, PO_TIMEOUT, PO_DELAY, PO_FAILURES, PO_STATUS, PO_HEADER };

/* --probe-period S, --probe-timeout S, --probe-delay S, --probe-failures N,
 * --probe-status N[-M], --probe-header 'Name: value': for every probe
 * given on the command line (d->off says which). */
static int set_probe_opt(rs_request *r, const opt_def *d, const char *val)
{
	uint32_t v = 0, hi = 0;
	int n, end = 0;

	switch (d->off) {
	case PO_PERIOD:
	case PO_TIMEOUT:
	case PO_DELAY:
		if (parse_seconds(val, &v) < 0)
			return opt_error(d, "'%s' is not a number of seconds", val);
		break;
	case PO_FAILURES:
		if (parse_uint(val, 1, &v) < 0)
			return opt_error(d, "'%s' is not a whole number >= 1", val);
		break;
	case PO_STATUS:
		n = sscanf(val, "%u%n-%u%n", &v, &end, &hi, &end);
		if (n == 1)
			hi = v;
		if (n < 1 || val[end] || v < 100 || hi > 599 || v > hi)
			return opt_error(d, "'%s' is not a status or range within "
					 "100-599 (200, 200-299)", val);
		break;
	default:
		break;
	}
	for (int i = 0; i < RS_PROBE__NR; i++) {
		rs_probe *p = &r->spec.probes[i];

		switch (d->off) {
		case PO_PERIOD: p->period_ms = v; break;
		case PO_TIMEOUT: p->timeout_ms = v; break;
		case PO_DELAY: p->initial_delay_ms = v; break;
		case PO_FAILURES: p->failures = v; break;
		case PO_STATUS: p->status_min = v; p->status_max = hi; break;
		default:
			if (rs_probe_add_header(p, val) < 0)
				return opt_error(d, "more than %d headers, or one too long",
						 RS_PROBE_HEADERS_MAX);
			break;
		}
	}
	return 0;
}

/* The --probe-* options need a probe on the line; headers and statuses
 * stay with the http ones. 0, or -1 after saying why. */
static int finish_probes(rs_request *r)
{
	uint32_t roles = r->edit_mask & (RS_EDIT_LIVENESS | RS_EDIT_READINESS |
					 RS_EDIT_STARTUP);
	bool http = false;

	for (int i = 0; i < RS_PROBE__NR; i++)
		http = http || r->spec.probes[i].kind == RS_PK_HTTP;
	if ((r->edit_mask & EDIT_PROBE_OPTS) && !roles) {
		fprintf(stderr, "rsctl: the --probe-* options set the probes given with "
			"them: add --liveness, --readiness or --startup\n");
		return -1;
	}
	if (r->spec.probes[0].nheaders && !http) {
		fprintf(stderr, "rsctl: --probe-header is for http probes\n");
		return -1;
	}
	for (int i = 0; i < RS_PROBE__NR; i++) {
		rs_probe *p = &r->spec.probes[i];

		if (p->kind != RS_PK_HTTP) {
			/* timing kept; what only http takes goes */
			for (size_t k = 0; k < p->nheaders; k++)
				free(p->headers[k]);
			free(p->headers);
			p->headers = NULL;
			p->nheaders = 0;
			p->status_min = RS_DEF_PROBE_STATUS_MIN;
			p->status_max = RS_DEF_PROBE_STATUS_MAX;
		}
	}
	r->edit_mask &= ~(uint32_t)EDIT_PROBE_OPTS;
	return 0;
}

#define SPEC(field) offsetof(rs_request, spec.field)

static const opt_def up_opts[] = {
	{ "--node",            true,  set_node,    0, RS_EDIT_NODE },
	{ "--period",          true,  set_seconds, SPEC(period_ms), RS_EDIT_PERIOD },
	{ "--ready-timeout",   true,  set_seconds, SPEC(ready_timeout_ms), RS_EDIT_READY_TIMEOUT },
	{ "--no-block",        false, set_true,    offsetof(rs_request, no_block), 0 },
	{ "--env",             true,  set_env,     0, RS_EDIT_ENV },
	{ "--cwd",             true,  set_cwd,     0, RS_EDIT_CWD },
	{ "--user",            true,  set_user,    0, RS_EDIT_USER },
	{ "--keep-caps",       false, set_true,    SPEC(keep_caps), RS_EDIT_KEEP_CAPS },
	{ "--restart",         true,  set_restart, 0, RS_EDIT_POLICY },
	{ "--backoff-initial", true,  set_seconds, SPEC(backoff.initial_ms), RS_EDIT_BO_INITIAL },
	{ "--backoff-factor",  true,  set_count,   SPEC(backoff.factor), RS_EDIT_BO_FACTOR },
	{ "--backoff-max",     true,  set_seconds, SPEC(backoff.max_ms), RS_EDIT_BO_MAX },
	{ "--backoff-reset",   true,  set_seconds, SPEC(backoff.reset_ms), RS_EDIT_BO_RESET },
	{ "--no-backoff",      false, set_true,    SPEC(backoff.disabled), RS_EDIT_BO_DISABLED },
	{ "--stop-signal",     true,  set_signal,  0, RS_EDIT_STOP_SIGNAL },
	{ "--stop-timeout",    true,  set_seconds, SPEC(stop_timeout_ms), RS_EDIT_STOP_TIMEOUT },
	{ "--reload-signal",   true,  set_reload_signal, 0, RS_EDIT_RELOAD_SIGNAL },
	{ "--notify",          true,  set_notify,  0, RS_EDIT_NOTIFY },
	{ "--settle",          true,  set_seconds, SPEC(settle_ms), RS_EDIT_SETTLE },
	{ "--script",          true,  set_script,  0, RS_EDIT_SCRIPT },
	{ "--critical",        false, set_true,    SPEC(critical), RS_EDIT_CRITICAL },
	{ "--replicas",        true,  set_count,   SPEC(replicas), 0 },
	{ "--listen",          true,  set_listen,  0, RS_EDIT_LISTEN },
	{ "--fence",           true,  set_fence,   0, RS_EDIT_FENCE },
	{ "--node-label",      true,  set_node_label, 0, RS_EDIT_NODE },
	{ "--liveness",        true,  set_probe,   RS_PROBE_LIVENESS, RS_EDIT_LIVENESS },
	{ "--readiness",       true,  set_probe,   RS_PROBE_READINESS, RS_EDIT_READINESS },
	{ "--startup",         true,  set_probe,   RS_PROBE_STARTUP, RS_EDIT_STARTUP },
	{ "--probe-period",    true,  set_probe_opt, PO_PERIOD, EDIT_PROBE_OPTS },
	{ "--probe-timeout",   true,  set_probe_opt, PO_TIMEOUT, EDIT_PROBE_OPTS },
	{ "--probe-delay",     true,  set_probe_opt, PO_DELAY, EDIT_PROBE_OPTS },
	{ "--probe-failures",  true,  set_probe_opt, PO_FAILURES, EDIT_PROBE_OPTS },
	{ "--probe-status",    true,  set_probe_opt, PO_STATUS, EDIT_PROBE_OPTS },
	{ "--probe-header",    true,  set_probe_opt, PO_HEADER, EDIT_PROBE_OPTS },
	{ "--memory-max",      true,  set_limit,   LIM_MEM_MAX, RS_EDIT_LIMITS },
	{ "--memory-high",     true,  set_limit,   LIM_MEM_HIGH, RS_EDIT_LIMITS },
	{ "--cpu-weight",      true,  set_limit,   LIM_CPU_WEIGHT, RS_EDIT_LIMITS },
	{ "--cpu-max",         true,  set_limit,   LIM_CPU_MAX, RS_EDIT_LIMITS },
	{ "--pids-max",        true,  set_limit,   LIM_PIDS, RS_EDIT_LIMITS },
	{ "--cap",             true,  set_profile, PRO_CAP, RS_EDIT_PROFILE },
	{ "--no-new-privs",    false, set_profile, PRO_NNP, RS_EDIT_PROFILE },
	{ "--new-privs",       false, set_profile, PRO_NEWPRIVS, RS_EDIT_PROFILE },
	{ "--read-only-root",  false, set_profile, PRO_RO, RS_EDIT_PROFILE },
	{ "--private-tmp",     false, set_profile, PRO_TMP, RS_EDIT_PROFILE },
	{ "--nice",            true,  set_profile, PRO_NICE, RS_EDIT_PROFILE },
	{ "--cpus",            true,  set_profile, PRO_CPUS, RS_EDIT_PROFILE },
	{ NULL, false, NULL, 0, 0 },
};

#define REQ(field) offsetof(rs_request, field)

/* update: the new command comes after "--" or --args, --batch is taken
 * by verb_args(). */
static const opt_def update_opts[] = {
	{ "--env",             true,  set_env,     0, RS_EDIT_ENV },
	{ "--maxtime",         true,  set_seconds, REQ(maxtime_ms), 0 },
	{ "--min-healthy",     true,  set_seconds, REQ(min_healthy_ms), 0 },
	{ "--prepare-signal",  true,  set_prepare_signal, 0, 0 },
	{ "--no-rollback",     false, set_true,    REQ(no_rollback), 0 },
	{ "--max-unavailable", true,  set_count,   REQ(max_unavailable), 0 },
	{ "--canary",          false, set_true,    REQ(canary), 0 },
	{ "--to-revision",     true,  set_count,   REQ(revision), 0 },
	{ NULL, false, NULL, 0, 0 },
};

/* undo: update's handover settings, no spec */
static const opt_def undo_opts[] = {
	{ "--maxtime",         true,  set_seconds, REQ(maxtime_ms), 0 },
	{ "--min-healthy",     true,  set_seconds, REQ(min_healthy_ms), 0 },
	{ "--prepare-signal",  true,  set_prepare_signal, 0, 0 },
	{ "--no-rollback",     false, set_true,    REQ(no_rollback), 0 },
	{ "--max-unavailable", true,  set_count,   REQ(max_unavailable), 0 },
	{ "--canary",          false, set_true,    REQ(canary), 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def clone_opts[] = {
	{ "--node",     true,  set_node, 0, 0 },
	{ "--no-block", false, set_true, offsetof(rs_request, no_block), 0 },
	{ NULL, false, NULL, 0, 0 },
};

/* kill: -s is the signal here (the endpoint goes before the verb) */
static const opt_def kill_opts[] = {
	{ "-s",       true,  set_kill_signal, 0, 0 },
	{ "--signal", true,  set_kill_signal, 0, 0 },
	{ "--main",   false, set_true, offsetof(rs_request, main_only), 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def down_opts[] = {
	{ "--force", false, set_true, offsetof(rs_request, force), 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def delete_opts[] = {
	{ "--force",       false, set_true, offsetof(rs_request, force), 0 },
	{ "--keep-events", false, set_true, offsetof(rs_request, keep_events), 0 },
	{ "--no-block",    false, set_true, offsetof(rs_request, no_block), 0 },
	{ NULL, false, NULL, 0, 0 },
};

/* edit takes up's options that change a stored setting (those with an
 * RS_EDIT_* bit other than the node's), plus this alias. */
static const opt_def edit_opts[] = {
	{ "--restart-policy",  true,  set_restart, 0, RS_EDIT_POLICY },
	{ "--no-keep-caps",    false, set_false,   SPEC(keep_caps), RS_EDIT_KEEP_CAPS },
	{ "--no-caps",         false, set_profile, PRO_NOCAPS, RS_EDIT_PROFILE },
	{ "--no-read-only-root", false, set_profile, PRO_NORO, RS_EDIT_PROFILE },
	{ "--no-private-tmp",  false, set_profile, PRO_NOTMP, RS_EDIT_PROFILE },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def block_opts[] = {
	{ "--no-block", false, set_true, offsetof(rs_request, no_block), 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def logs_opts[] = {
	{ "-n",         true,  set_count, offsetof(rs_request, limit), 0 },
	{ "--lines",    true,  set_count, offsetof(rs_request, limit), 0 },
	{ "--instance", true,  set_u64,   offsetof(rs_request, instance), 0 },
	{ "--since",    true,  set_since, 0, 0 },
	{ "--previous", false, set_true,  offsetof(rs_request, previous), 0 },
	{ "-p",         false, set_true,  offsetof(rs_request, previous), 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def cred_create_opts[] = {
	{ "--role",   true, set_role,     0, 0 },
	{ "--labels", true, set_patterns, 0, 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def cred_revoke_opts[] = {
	{ "--node", false, set_true, offsetof(rs_request, node_key), 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def events_opts[] = {
	{ "-n",      true, set_count, offsetof(rs_request, limit), 0 },
	{ "--limit", true, set_count, offsetof(rs_request, limit), 0 },
	{ "--since", true, set_since, 0, 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def status_opts[] = {
	{ "--node",      true, set_node_filter, 0, 0 },
	{ "--state",     true, set_istate,      0, 0 },
	{ "--page-size", true, set_count,       offsetof(rs_request, page_size), 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def top_opts[] = {
	{ "--node",      true, set_node_filter, 0, 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const opt_def nodes_opts[] = {
	{ "--state",     true, set_nstate,      0, 0 },
	{ "--page-size", true, set_count,       offsetof(rs_request, page_size), 0 },
	{ NULL, false, NULL, 0, 0 },
};

static const verb_def verbs[] = {
	{ "up",     RS_V_UP,     LABEL_REQUIRED, true,  up_opts,     up_help },
	{ "down",   RS_V_DOWN,   LABEL_REQUIRED, false, down_opts,   down_help },
	{ "delete", RS_V_DELETE, LABEL_REQUIRED, false, delete_opts, delete_help },
	{ "lookup", RS_V_LOOKUP, LABEL_REQUIRED, false, NULL,        lookup_help },
	{ "is-running", RS_V_LOOKUP, LABEL_REQUIRED, false, NULL,    is_running_help },
	{ "status", RS_V_STATUS, LABEL_OPTIONAL, false, status_opts, status_help },
	{ "top",    RS_V_STATUS, LABEL_OPTIONAL, false, top_opts,    top_help },
	{ "describe", RS_V_DESCRIBE, LABEL_REQUIRED, false, NULL,    describe_help },
	{ "nodes",  RS_V_NODES,  LABEL_NONE,     false, nodes_opts,  nodes_help },
	{ "events", RS_V_EVENTS, LABEL_OPTIONAL, false, events_opts, events_help },
	{ "ping",   RS_V_PING,   LABEL_NONE,     false, NULL,        ping_help },
	{ "refresh",  RS_V_REFRESH,  LABEL_REQUIRED, false, block_opts, refresh_help },
	{ "restart",  RS_V_RESTART,  LABEL_REQUIRED, false, block_opts, restart_help },
	{ "reload",   RS_V_RELOAD,   LABEL_REQUIRED, false, NULL,       reload_help },
	{ "kill",     RS_V_KILL,     LABEL_REQUIRED, false, kill_opts,  kill_help },
	{ "shutdown", RS_V_SHUTDOWN, LABEL_NONE,     false, block_opts, shutdown_help },
	{ "edit",     RS_V_EDIT,     LABEL_REQUIRED, true,  edit_opts,  edit_help },
	{ "clone",    RS_V_CLONE,    LABEL_REQUIRED, false, clone_opts, clone_help },
	{ "unclone",  RS_V_UNCLONE,  LABEL_REQUIRED, false, NULL,       unclone_help },
	{ "logs",     RS_V_LOGS,     LABEL_REQUIRED, false, logs_opts,  logs_help },
	{ "apply",    RS_V_APPLY,    LABEL_FILE,     false, block_opts, apply_help },
	{ "drain",    RS_V_DRAIN,    LABEL_REQUIRED, false, NULL,       drain_help },
	{ "undrain",  RS_V_UNDRAIN,  LABEL_REQUIRED, false, NULL,       undrain_help },
	{ "diff",     RS_V_APPLY,    LABEL_FILE,     false, NULL,       diff_help },
	{ "export",   RS_V_EXPORT,   LABEL_OPTIONAL, false, NULL,       export_help },
	{ "update",   RS_V_UPDATE,   LABEL_REQUIRED, true,  update_opts, update_help },
	{ "undo",     RS_V_UPDATE,   LABEL_REQUIRED, false, undo_opts,   undo_help },
	{ "history",  RS_V_HISTORY,  LABEL_REQUIRED, false, NULL,        history_help },
	{ "cred create",  RS_V_CRED_CREATE,  LABEL_REQUIRED, false, cred_create_opts, cred_create_help },
	{ "cred list",    RS_V_CRED_LIST,    LABEL_NONE,     false, NULL,             cred_list_help },
	{ "cred revoke",  RS_V_CRED_REVOKE,  LABEL_REQUIRED, false, cred_revoke_opts, cred_revoke_help },
	{ "token rotate", RS_V_TOKEN_ROTATE, LABEL_NONE,     false, NULL,             token_rotate_help },
	{ "upgrade-plan", RS_V_UPGRADE_PLAN, LABEL_NONE,     false, NULL,             upgrade_plan_help },
	{ "node forget",  RS_V_NODE_FORGET,  LABEL_REQUIRED, false, NULL,             node_forget_help },
};

/* The verb called name, or NULL. */
static const verb_def *verb_find(const char *name)
{
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

/* ---- matching --------------------------------------------------------- */

/* Matches argv[*i] against option name. A value comes from "=VALUE", the
 * rest of a short option ("-n5") or the next argument (*i advanced).
 * Returns OPT_NO, OPT_YES with *val set (NULL for flags), or OPT_ERR after
 * printing that the value is missing. */
static int opt_match(const char *name, bool value, int argc, char **argv,
		     int *i, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	*val = NULL;
	if (strncmp(a, name, n) != 0)
		return OPT_NO;
	if (a[n] == '\0' && !value)
		return OPT_YES;
	if (a[n] == '\0') {
		if (*i + 1 >= argc) {
			fprintf(stderr, "rsctl: option %s needs a value\n",
				name);
			return OPT_ERR;
		}
		*val = argv[++*i];
		return OPT_YES;
	}
	if (!value || (a[n] != '=' && n != 2))
		return OPT_NO;
	*val = a + n + (a[n] == '=');
	return OPT_YES;
}

/* Handles a global option at argv[*i]. Returns OPT_NO, OPT_YES or OPT_ERR
 * (reason printed). */
static int global_opt(args_state *s, int argc, char **argv, int *i)
{
	const char *val;
	uint32_t ms;
	int m;

	if (opt_match("--json", false, argc, argv, i, &val) == OPT_YES) {
		s->c->json = true;
		return OPT_YES;
	}
	m = opt_match("-s", true, argc, argv, i, &val);
	if (m == OPT_YES && !*val) {
		fputs("rsctl: -s: the endpoint is empty\n", stderr);
		return OPT_ERR;
	}
	if (m == OPT_YES)
		s->c->endpoint = val;
	if (m != OPT_NO)
		return m;
	m = opt_match("--cred", true, argc, argv, i, &val);
	if (m == OPT_YES && !*val) {
		fputs("rsctl: --cred: the file name is empty\n", stderr);
		return OPT_ERR;
	}
	if (m == OPT_YES)
		s->c->cred_path = val;
	if (m != OPT_NO)
		return m;
	if (opt_match("--insecure", false, argc, argv, i, &val) == OPT_YES) {
		s->c->insecure = true;
		return OPT_YES;
	}
	m = opt_match("--timeout", true, argc, argv, i, &val);
	if (m != OPT_YES)
		return m;
	if (parse_seconds(val, &ms) < 0 || ms == 0) {
		fprintf(stderr, "rsctl: --timeout: '%s' is not a number of "
			"seconds > 0\n", val);
		return OPT_ERR;
	}
	s->timeout_ms = ms;
	return OPT_YES;
}

/* Handles an option of the verb at argv[*i]. Returns OPT_NO, OPT_YES or
 * OPT_ERR (reason printed). */
/* Matches argv[*i] against table (only editable options if edit_only).
 * Returns OPT_NO, OPT_YES or OPT_ERR. */
static int table_opt(rs_request *r, const opt_def *table, bool edit_only,
		     int argc, char **argv, int *i)
{
	const char *val;
	int m;

	for (const opt_def *d = table; d && d->name; d++) {
		if (edit_only && (!d->edit || d->edit == RS_EDIT_NODE))
			continue;
		m = opt_match(d->name, d->value, argc, argv, i, &val);
		if (m == OPT_YES) {
			r->edit_mask |= d->edit;
			return d->fn(r, d, val) < 0 ? OPT_ERR : OPT_YES;
		}
		if (m == OPT_ERR)
			return OPT_ERR;
	}
	return OPT_NO;
}

static int verb_opt(args_state *s, int argc, char **argv, int *i)
{
	rs_request *r = &s->c->req.u.request;
	int m = OPT_NO;

	if (s->v->verb == RS_V_EDIT)
		m = table_opt(r, up_opts, true, argc, argv, i);
	return m != OPT_NO ? m : table_opt(r, s->v->opts, false, argc, argv, i);
}

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* ---- steps ------------------------------------------------------------ */

/* Adds label l to the request's batch (update --batch, status LABEL...);
 * what names it in errors. Returns ARGS_RUN or RS_E_USAGE. */
static int add_batch(args_state *s, const char *what, const char *l)
{
	rs_request *r = &s->c->req.u.request;
	char **nb;

	if (!rs_label_valid(l))
		return usage_error(s->v, "%slabel '%s' is invalid", what, l);
	for (size_t k = 0; k < r->nbatch; k++)
		if (!strcmp(r->batch[k], l))
			return usage_error(s->v, "%s'%s' is given twice", what, l);
	if (r->nbatch >= RS_UPDATE_BATCH_MAX)
		return usage_error(s->v, "%smore than %d labels", what,
				   RS_UPDATE_BATCH_MAX);
	nb = realloc(r->batch, (r->nbatch + 2) * sizeof *nb);
	if (!nb)
		return usage_error(s->v, "%s", strerror(ENOMEM));
	r->batch = nb;
	nb[r->nbatch] = strdup(l);
	if (!nb[r->nbatch])
		return usage_error(s->v, "%s", strerror(ENOMEM));
	nb[++r->nbatch] = NULL;
	return ARGS_RUN;
}

/* Takes the verb's LABEL argument (status, export: LABEL...). Returns ARGS_RUN or
 * RS_E_USAGE. */
static int take_positional(args_state *s, const char *a)
{
	if (s->v->label != LABEL_NONE && !s->label) {   /* LABEL or FILE */
		s->label = a;
		return ARGS_RUN;
	}
	if (s->v->verb == RS_V_STATUS || s->v->verb == RS_V_EXPORT)
		return strcmp(a, s->label) ? add_batch(s, "", a) :
		       usage_error(s->v, "'%s' is given twice", a);
	if (s->v->command)
		return usage_error(s->v, "unexpected argument '%s' (the command "
				   "goes after --)", a);
	return usage_error(s->v, "unexpected argument '%s'", a);
}

/* Appends argv[i..] to the spec's command: the program and its arguments,
 * or (tail: --args) only arguments, the program kept taking one of the
 * RS_ARGV_MAX entries. Returns ARGS_RUN or RS_E_USAGE. */
static int take_command(args_state *s, int argc, char **argv, int i, bool tail)
{
	rs_spec *spec = &s->c->req.u.request.spec;
	size_t max = RS_ARGV_MAX - (tail ? 1 : 0);
	int e;

	if (i < argc)
		s->c->req.u.request.edit_mask |= RS_EDIT_ARGS;
	for (; i < argc; i++) {
		e = spec->argc < max ? rs_spec_add_arg(spec, argv[i]) : -E2BIG;
		if (e == -E2BIG && tail)
			return usage_error(s->v, "--args: more than %d arguments (with "
					   "the program, %d entries), or one over %d bytes",
					   RS_ARGV_MAX - 1, RS_ARGV_MAX, RS_ARG_MAX - 1);
		if (e == -E2BIG)
			return usage_error(s->v, "the command has more than %d entries "
					   "(the program and %d arguments), or one over "
					   "%d bytes", RS_ARGV_MAX, RS_ARGV_MAX - 1,
					   RS_ARG_MAX - 1);
		if (e < 0)
			return usage_error(s->v, "%s", strerror(-e));
	}
	return ARGS_RUN;
}

/* update --batch L1 L2...: takes the labels after argv[*i] up to the next
 * option; leaves *i at the last one. Returns ARGS_RUN or RS_E_USAGE. */
static int take_batch(args_state *s, int argc, char **argv, int *i)
{
	int first = *i + 1;

	for (; *i + 1 < argc && argv[*i + 1][0] != '-'; ++*i)
		if (add_batch(s, "--batch: ", argv[*i + 1]) != ARGS_RUN)
			return RS_E_USAGE;
	if (*i + 1 == first)
		return usage_error(s->v, "--batch needs at least one LABEL");
	return ARGS_RUN;
}

/* Whether the verb being parsed is the one called name (status and top
 * share RS_V_STATUS). */
static bool is_verb(const args_state *s, const char *name)
{
	return strcmp(s->v->name, name) == 0;
}

/* top's own options at argv[*i]: -d SECONDS, -n FRAMES, --sort KEY.
 * Returns OPT_NO, OPT_YES (*i past the value), OPT_ERR (no value, said)
 * or RS_E_USAGE (a bad value, said with the hint). */
static int top_opt(args_state *s, int argc, char **argv, int *i)
{
	static const char *const keys[] = {
		[CTL_TOP_CPU] = "cpu", [CTL_TOP_MEM] = "mem", [CTL_TOP_TASKS] = "tasks",
	};
	const char *val;
	char *end;
	int m;

	if ((m = opt_match("-d", true, argc, argv, i, &val)) == OPT_YES) {
		double d;

		errno = 0;
		d = strtod(val, &end);
		if (errno || end == val || *end || !(d >= 0.1 && d <= 3600))
			return usage_error(s->v, "-d: '%s' is not SECONDS from 0.1 to 3600",
					   val);
		s->c->top_delay_ms = (uint32_t)(d * 1000 + 0.5);
		return OPT_YES;
	}
	if (m == OPT_ERR)
		return OPT_ERR;
	if ((m = opt_match("-n", true, argc, argv, i, &val)) == OPT_YES) {
		unsigned long n;

		errno = 0;
		n = strtoul(val, &end, 10);
		if (errno || end == val || *end || val[0] == '-' || n < 1 || n > 1000000)
			return usage_error(s->v, "-n: '%s' is not a count of frames "
					   "from 1", val);
		s->c->top_frames = (uint32_t)n;
		return OPT_YES;
	}
	if (m == OPT_ERR)
		return OPT_ERR;
	if ((m = opt_match("--sort", true, argc, argv, i, &val)) == OPT_YES) {
		for (int k = 0; k < 3; k++)
			if (!strcmp(val, keys[k])) {
				s->c->top_sort = k;
				return OPT_YES;
			}
		return usage_error(s->v, "--sort: '%s' is not cpu, mem or tasks", val);
	}
	return m;
}

/* Parses the verb's arguments argv[i..]. Returns ARGS_RUN, ARGS_DONE
 * (help printed) or RS_E_USAGE. */
static int verb_args(args_state *s, int argc, char **argv, int i)
{
	bool opts_done = false;
	int m;

	for (; i < argc; i++) {
		const char *a = argv[i];

		if (opts_done || a[0] != '-' || a[1] == '\0') {
			if (take_positional(s, a) != ARGS_RUN)
				return RS_E_USAGE;
			continue;
		}
		if (strcmp(a, "--") == 0 && s->v->command)
			return take_command(s, argc, argv, i + 1, false);
		if (strcmp(a, "--args") == 0 &&
		    (s->v->verb == RS_V_EDIT || s->v->verb == RS_V_UPDATE)) {
			/* --args A B...: new arguments, same program */
			s->c->req.u.request.edit_mask |= RS_EDIT_ARGS_TAIL;
			if (take_command(s, argc, argv, i + 1, true) != ARGS_RUN)
				return RS_E_USAGE;
			s->c->req.u.request.edit_mask &= ~(uint32_t)RS_EDIT_ARGS;
			return ARGS_RUN;
		}
		if (strcmp(a, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (strcmp(a, "--batch") == 0 && s->v->verb == RS_V_UPDATE) {
			if (take_batch(s, argc, argv, &i) != ARGS_RUN)
				return RS_E_USAGE;
			continue;
		}
		if (is_help(a)) {
			fputs(s->v->help, stdout);
			return ARGS_DONE;
		}
		if ((s->v->verb == RS_V_LOGS || s->v->verb == RS_V_EVENTS) &&
		    (!strcmp(a, "-f") || !strcmp(a, "--follow"))) {
			s->c->follow = true;
			continue;
		}
		if (is_verb(s, "top")) {
			m = top_opt(s, argc, argv, &i);
			if (m == OPT_YES)
				continue;
			if (m == OPT_ERR)
				return usage_hint(s->v);
			if (m != OPT_NO)
				return m;
		}
		if (is_verb(s, "status") &&
		    (!strcmp(a, "-w") || !strcmp(a, "--watch"))) {
			s->c->watch = true;
			continue;
		}
		if (is_verb(s, "status") && !strcmp(a, "-o")) {
			if (i + 1 >= argc)
				return usage_error(s->v, "-o needs a format: wide");
			if (strcmp(argv[++i], "wide") != 0)
				return usage_error(s->v, "-o: unknown format '%s' (wide; "
						   "--json for JSON)", argv[i]);
			s->c->wide = true;
			continue;
		}
		if (s->v->verb == RS_V_LOGS &&
		    (!strcmp(a, "-t") || !strcmp(a, "--timestamps"))) {
			s->c->timestamps = true;
			continue;
		}
		m = verb_opt(s, argc, argv, &i);
		if (m == OPT_NO)
			m = global_opt(s, argc, argv, &i);
		if (m == OPT_NO)
			return usage_error(s->v, "unknown option '%s'", a);
		if (m == OPT_ERR)
			return usage_hint(s->v);
	}
	return ARGS_RUN;
}

/* Parses the global options before the verb, from argv[*i]; leaves *i at
 * the verb. Returns ARGS_RUN, ARGS_DONE (help or version printed) or
 * RS_E_USAGE. */
static int global_args(args_state *s, int argc, char **argv, int *i)
{
	int m;

	for (; *i < argc && argv[*i][0] == '-'; ++*i) {
		if (is_help(argv[*i])) {
			fputs(usage_text, stdout);
			return ARGS_DONE;
		}
		if (strcmp(argv[*i], "--version") == 0) {
			printf("rsctl %s\n", rs_version());
			return ARGS_DONE;
		}
		m = global_opt(s, argc, argv, i);
		if (m == OPT_NO)
			return usage_error(NULL, "unknown option '%s'", argv[*i]);
		if (m == OPT_ERR)
			return usage_hint(NULL);
	}
	return ARGS_RUN;
}

/* Handles "rsctl help [VERB]". Returns ARGS_DONE or RS_E_USAGE. */
static int help_verb(int argc, char **argv, int i)
{
	const verb_def *v = i < argc ? verb_find(argv[i]) : NULL;
	char two[64];

	if (!v && i + 1 < argc) {
		snprintf(two, sizeof two, "%s %s", argv[i], argv[i + 1]);
		v = verb_find(two);
	}

	if (i < argc && !v)
		return usage_error(NULL, "unknown verb '%s'", argv[i]);
	fputs(v ? v->help : usage_text, stdout);
	return ARGS_DONE;
}

/* update: 30 s plus the prepare and health times, for each service. */
static uint32_t update_timeout(const rs_request *r)
{
	uint64_t one = (uint64_t)CTL_LONG_TIMEOUT_MS + r->maxtime_ms + r->min_healthy_ms;
	uint64_t all = one * (1 + r->nbatch);

	return all > UINT32_MAX ? UINT32_MAX : (uint32_t)all;
}

/* The request timeout the verb gets without --timeout. */
static uint32_t default_timeout(const rs_request *r)
{
	switch (r->verb) {
	case RS_V_UPDATE:
		return update_timeout(r);
	case RS_V_UP:
		if (r->spec.ready_timeout_ms > UINT32_MAX - CTL_UP_SLACK_MS)
			return UINT32_MAX;
		return r->spec.ready_timeout_ms + CTL_UP_SLACK_MS;
	case RS_V_DOWN:
	case RS_V_DELETE:
		return CTL_DOWN_TIMEOUT_MS;
	case RS_V_REFRESH:
	case RS_V_RESTART:
	case RS_V_SHUTDOWN:
	case RS_V_CLONE:
		return CTL_LONG_TIMEOUT_MS;
	default:
		return CTL_TIMEOUT_MS;
	}
}

/* apply / diff FILE: parses and checks the manifest here, so that a bad
 * file changes nothing, and sends its services. Returns ARGS_RUN,
 * RS_E_USAGE or RS_E_INVAL (the file is wrong: file:line: key: reason). */
static int finish_apply(args_state *s)
{
	rs_request *r = &s->c->req.u.request;
	char err[768];
	manifest m;

	if (!s->label)
		return usage_error(s->v, "missing FILE");
	if (manifest_load(s->label, &m, err, sizeof err) < 0) {
		fprintf(stderr, "rsctl: %s\n", err);
		return RS_E_INVAL;
	}
	r->verb = RS_V_APPLY;
	r->dry_run = !strcmp(s->v->name, "diff");
	r->specs = calloc(m.n ? m.n : 1, sizeof *r->specs);
	if (!r->specs) {
		manifest_free(&m);
		return usage_error(s->v, "out of memory");
	}
	for (size_t i = 0; i < m.n; i++) {
		rs_spec_clear(&r->specs[i]);
		if (manifest_spec(&m.svcs[i], &r->specs[i]) < 0) {
			manifest_free(&m);
			return usage_error(s->v, "out of memory");
		}
		r->nspecs = i + 1;
	}
	manifest_free(&m);
	r->timeout_ms = s->timeout_ms >= 0 ? (uint32_t)s->timeout_ms : CTL_APPLY_TIMEOUT_MS;
	return ARGS_RUN;
}

/* update: checks its settings and the label against the batch. Returns
 * ARGS_RUN or RS_E_USAGE. */
static int finish_update(args_state *s)
{
	rs_request *r = &s->c->req.u.request;

	if (r->maxtime_ms == 0 || r->maxtime_ms > RS_UPDATE_TIME_MAX_MS)
		return usage_error(s->v, "--maxtime must be more than 0 and at most %u s",
				   RS_UPDATE_TIME_MAX_MS / 1000);
	if (r->min_healthy_ms > RS_UPDATE_TIME_MAX_MS)
		return usage_error(s->v, "--min-healthy must be at most %u s",
				   RS_UPDATE_TIME_MAX_MS / 1000);
	if (r->max_unavailable > RS_REPLICAS_MAX)
		return usage_error(s->v, "--max-unavailable must be 1 to %d",
				   RS_REPLICAS_MAX);
	if (r->nbatch && (r->edit_mask & (RS_EDIT_ARGS | RS_EDIT_ARGS_TAIL)))
		return usage_error(s->v, "--batch updates several services: it takes no "
				   "new command or --args");
	for (size_t k = 0; k < r->nbatch; k++)
		if (!strcmp(r->batch[k], s->label))
			return usage_error(s->v, "--batch: '%s' is the LABEL already", s->label);
	if (!strcmp(s->v->name, "undo"))
		r->revision = RS_REVISION_PREVIOUS;
	else if (r->revision == RS_REVISION_PREVIOUS)
		return usage_error(s->v, "--to-revision: no revision %u", r->revision);
	if (r->revision && (r->edit_mask || r->nbatch))
		return usage_error(s->v, "--to-revision takes the revision's spec whole: "
				   "no new settings, command or --batch");
	return ARGS_RUN;
}

/* Checks what the arguments left and completes the request. Returns
 * ARGS_RUN or RS_E_USAGE. */
static int finish(args_state *s)
{
	rs_request *r = &s->c->req.u.request;
	char err[256];

	if (s->v->label == LABEL_FILE)
		return finish_apply(s);
	if (s->v->label == LABEL_REQUIRED && !s->label)
		return usage_error(s->v, "missing LABEL");
	if (s->label && !rs_label_valid(s->label))
		return usage_error(s->v, "label '%s' is invalid: use 1-63 of "
				   "[A-Za-z0-9._-], not starting with '.' or "
				   "'-'", s->label);
	r->verb = s->v->verb;
	rs_strlcpy(r->label, s->label, sizeof r->label);
	if ((r->verb == RS_V_EVENTS || r->verb == RS_V_LOGS) && r->limit == 0)
		r->limit = CTL_EVENTS_LIMIT;
	if (r->verb == RS_V_LOGS && r->previous && s->c->follow)
		return usage_error(s->v, "--previous shows a process that writes no "
				   "more: not with -f");
	/* the stored lines, in pages: rsctl formats them (an rsd or agent
	 * without RS_FEAT_LOGS answers plain text, main.c copes) */
	r->stamped = r->verb == RS_V_LOGS;
	/* the status table from rows (RS_FEAT_ROWS): cheap enough for
	 * bigger pages */
	s->c->top = is_verb(s, "top");
	if (s->c->top && s->c->json)
		return usage_error(s->v, "top prints a table; for JSON: status --json");
	if (s->c->top && !s->c->top_delay_ms)
		s->c->top_delay_ms = CTL_TOP_DELAY_MS;
	r->rows = r->verb == RS_V_STATUS && !s->c->json;
	if ((r->verb == RS_V_STATUS || r->verb == RS_V_NODES) && r->page_size == 0)
		r->page_size = r->rows ? CTL_ROWS_PAGE_SIZE :
			       r->verb == RS_V_NODES ? CTL_NODES_PAGE_SIZE : CTL_PAGE_SIZE;
	if ((r->verb == RS_V_EDIT || r->verb == RS_V_UP) && finish_probes(r) < 0)
		return RS_E_USAGE;
	if (r->verb == RS_V_EDIT && r->edit_mask == 0)
		return usage_error(s->v, "nothing to change: give an option or -- COMMAND");
	if (r->verb == RS_V_EDIT || r->verb == RS_V_UPDATE)
		rs_strlcpy(r->spec.label, s->label, sizeof r->spec.label);
	if (r->verb == RS_V_UPDATE && finish_update(s) != ARGS_RUN)
		return RS_E_USAGE;
	if (r->verb == RS_V_CRED_CREATE && rs_role_from_string(r->role) < 0)
		return usage_error(s->v, "--role must be viewer, operator or admin");
	if (r->verb == RS_V_CRED_CREATE && r->pattern[0] &&
	    strcmp(r->role, "operator") != 0)
		return usage_error(s->v, "--labels limits an operator; viewers see "
				   "and admins change every label");
	if (r->verb == RS_V_UP) {
		rs_strlcpy(r->spec.label, s->label, sizeof r->spec.label);
		rs_limits_undrop(&r->spec.limits);
		r->spec.profile.fields = 0;   /* a spec's, not an edit's */
		if (rs_spec_validate(&r->spec, err, sizeof err) < 0)
			return usage_error(s->v, "%s", err);
	}
	r->timeout_ms = s->timeout_ms >= 0 ? (uint32_t)s->timeout_ms :
			default_timeout(r);
	return ARGS_RUN;
}

/* RS_CONTROL if set and not empty, else the built-in endpoint. */
static const char *default_endpoint(void)
{
	const char *ep = getenv(CTL_ENDPOINT_ENV);

	return ep && *ep ? ep : CTL_DEFAULT_ENDPOINT;
}

int args_parse(int argc, char **argv, ctl_cmd *c)
{
	args_state s = { .c = c, .timeout_ms = -1 };
	int i = 1, r;

	memset(c, 0, sizeof *c);
	rs_msg_init(&c->req, RS_MSG_REQUEST);
	c->endpoint = default_endpoint();
	r = global_args(&s, argc, argv, &i);
	if (r != ARGS_RUN)
		return r;
	if (i >= argc)
		return usage_error(NULL, "no verb given");
	if (strcmp(argv[i], "help") == 0)
		return help_verb(argc, argv, i + 1);
	if ((strcmp(argv[i], "cred") == 0 || strcmp(argv[i], "token") == 0 ||
	     strcmp(argv[i], "node") == 0) && i + 1 < argc) {
		char two[64];
		snprintf(two, sizeof two, "%s %s", argv[i], argv[i + 1]);
		if (verb_find(two))
			i++;
		s.v = verb_find(two);
		if (!s.v)
			return usage_error(NULL, "unknown verb '%s'", two);
	} else
	s.v = verb_find(argv[i]);
	if (!s.v)
		return usage_error(NULL, "unknown verb '%s'", argv[i]);
	c->predicate = !strcmp(s.v->name, "is-running");
	if (s.v->verb == RS_V_UPDATE) {
		c->req.u.request.maxtime_ms = RS_DEF_UPDATE_MAXTIME_MS;
		c->req.u.request.min_healthy_ms = RS_DEF_UPDATE_MIN_HEALTHY_MS;
		c->req.u.request.max_unavailable = RS_DEF_UPDATE_MAX_UNAVAILABLE;
	}
	r = verb_args(&s, argc, argv, i + 1);
	return r != ARGS_RUN ? r : finish(&s);
}

void ctl_cmd_clear(ctl_cmd *c)
{
	rs_msg_clear(&c->req);
	c->endpoint = NULL;
	c->json = false;
	memset(c->new_sec, 0, sizeof c->new_sec);
}
