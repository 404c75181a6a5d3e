/*
 * rs-agent - supervises the services of one node for rsd.
 *
 *   rs-agent [--node NAME] --rsd EP --state-dir DIR [--beat-ms N] [-v]
 *
 * Without --node (or with an empty NAME) the node is the one this state
 * dir's key was enrolled as, else the host's name.
 *
 * Exits 0 after a clean stop, 1 on an error, 2 on a usage error, 3
 * (RS_AGENT_EXIT_OTHER_KEEPER) when the node has a keeper of another
 * state dir.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "cred.h"
#include "keeper.h"
#include "httpd.h"
#include "log.h"
#include "sdnotify.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: rs-agent [--node NAME] [--rsd EP] [--state-dir DIR] [OPTION...]\n"
"  -n, --node NAME         this node's name, unique in the cluster (default, or\n"
"                          an empty NAME: the node STATE_DIR/agent.key was\n"
"                          enrolled as, else the host name)\n"
"  -r, --rsd EP            rsd's agent endpoint (default tcp://127.0.0.1:7701)\n"
"  -d, --state-dir DIR     notify sockets, logs, this node's key agent.key\n"
"                          (default /var/lib/rs-agent)\n"
"      --token-file FILE   enrol with rsd's join token on the first start\n"
"                          (rsd's join.token); later starts use agent.key\n"
"      --insecure          plaintext, no key (only with an rsd --insecure)\n"
"  -b, --beat-ms N         heartbeat interval to rsd (default 1000)\n"
"  -l, --log-max BYTES     the most bytes of an instance's log (default 8 MiB;\n"
"                          renamed to LABEL.ID.log.1 before it would pass)\n"
"      --log-format F      text (default) or json: one JSON object per line\n"
"      --label NAME        a label of this node, for placement (repeatable)\n"
"      --capacity N        run at most N instances here (default: no limit)\n"
"      --cgroups on|off    on (default): each instance in a cgroup of its own\n"
"                          (cgroup v2, as root), so down, refresh and a\n"
"                          restart end every process it started; off, or no\n"
"                          usable cgroup2: process groups only\n"
"      --metrics H:P       serve Prometheus /metrics and /healthz on HOST:PORT\n"
"      --ready-fd N        write \"metrics=H:P\" (or \"ready\") and a newline to\n"
"                          fd N once serving (for scripts and tests)\n"
"  -v                      debug logging\n"
"      --version           print rs-agent's version\n"
"  -h, --help              print this help\n"
"exit status: 0 stopped cleanly, 1 error, 2 usage, 3 this node already has a\n"
"  keeper of another state dir (see rs-agent(8))\n");
}

/* Makes dir/sub (mode 0700) if missing. */
static int mkdir_sub(const char *dir, const char *sub)
{
	char path[4096];

	snprintf(path, sizeof path, "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void read_boot_id(char *out, size_t n)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (f) {
		if (fgets(out, (int)n, f))
			out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
}

/* One notify socket per instance: allow as many fds as the hard limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the open-file limit, ignoring");
	}
}

/* The node name when --node gives none: the name STATE_DIR/agent.key was
 * enrolled as (a host keeps its name when its host name changes, or when
 * it joined under another one), else the host name, copied to host[n].
 * Returns where it came from, or NULL with errno set (EINVAL: the host
 * name is no valid node name). */
static const char *default_node(agent *ag, char *host, size_t n)
{
	char path[4096], err[512];
	rs_cred c;
	const char *from = NULL;

	snprintf(path, sizeof path, "%s/agent.key", ag->state_dir);
	if (cred_read(path, &c, err, sizeof err) == 0 && !strcmp(c.kind, "node") &&
	    rs_label_valid(c.name)) {
		rs_strlcpy(ag->node, c.name, sizeof ag->node);
		from = "agent.key";
	}
	memset(&c, 0, sizeof c);
	if (from)
		return from;
	if (gethostname(host, n) < 0)
		return NULL;
	host[n - 1] = '\0';
	if (strlen(host) >= sizeof ag->node || !rs_label_valid(host)) {
		errno = EINVAL;
		return NULL;
	}
	rs_strlcpy(ag->node, host, sizeof ag->node);
	return "the host name";
}

/* Parses "1,3" into at most 8 order numbers (a test hook). */
static void test_orders(const char *p, uint64_t *out, size_t *n)
{
	while (p && *p && *n < 8) {
		char *end;
		uint64_t v = strtoull(p, &end, 10);

		if (end == p)
			break;
		out[(*n)++] = v;
		p = *end == ',' ? end + 1 : end;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "rsd", required_argument, NULL, 'r' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "beat-ms", required_argument, NULL, 'b' },
		{ "log-max", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'L' },
		{ "capacity", required_argument, NULL, 'C' },
		{ "cgroups", required_argument, NULL, 'G' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static agent ag;
	struct ev_loop *loop;
	const char *metrics = NULL, *node_from = "--node";
	char *abs_dir, host[256];
	int c, r, verbose = 0, ready_fd = -1;

	ag.rsd_ep = "tcp://127.0.0.1:7701";
	ag.keeper_fd = -1;
	ag.state_dir = "/var/lib/rs-agent";
	ag.beat_ms = 1000;
	ag.log_max = 8u << 20;
	while ((c = getopt_long(argc, argv, "n:r:d:b:l:hv", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (strlen(optarg) >= sizeof ag.node)
				fatalx("node name '%s' is invalid: use 1-63 of [A-Za-z0-9._-]",
				       optarg);
			rs_strlcpy(ag.node, optarg, sizeof ag.node);
			break;
		case 'r': ag.rsd_ep = optarg; break;
		case 'd': ag.state_dir = optarg; break;
		case 'b': ag.beat_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'l': ag.log_max = strtoull(optarg, NULL, 10); break;
		case 'v': verbose = 1; break;
		case 'm': metrics = optarg; break;
		case 'L':
			if (!rs_label_valid(optarg))
				fatalx("--label '%s' is invalid: use 1-63 of [A-Za-z0-9._-]", optarg);
			if (ag.nlabels == RS_NODE_LABELS_MAX)
				fatalx("at most %d --label", RS_NODE_LABELS_MAX);
			ag.labels[ag.nlabels++] = optarg;
			break;
		case 'C': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 100000)
				fatalx("--capacity wants a number of instances (0 = no limit)");
			ag.capacity = (uint32_t)v;
			break;
		}
		case 'G':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr, "--cgroups wants on or off\n");
				return 2;
			}
			ag.cg_off = strcmp(optarg, "off") ? NULL : "--cgroups=off";
			break;
		case 'R': ready_fd = atoi(optarg); break;
		case 'T': ag.token_file = optarg; break;
		case 'I': ag.insecure = true; break;
		case 'V': printf("rs-agent %s\n", rs_version()); return 0;
		case 'F':
			if (log_set_format(optarg) < 0) {
				fprintf(stderr, "--log-format wants text or json\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_init("rs-agent", verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if (!ag.cg_off && getenv("RS_TEST_NO_CGROUPS") &&
	    !strcmp(getenv("RS_TEST_NO_CGROUPS"), "1"))
		ag.cg_off = "RS_TEST_NO_CGROUPS=1";
	if (!ag.node[0] && !(node_from = default_node(&ag, host, sizeof host))) {
		if (errno == EINVAL)
			fatalx("the host name '%s' is not a valid node name (1-63 of "
			       "[A-Za-z0-9._-], not starting with '.' or '-'): pass "
			       "--node NAME", host);
		fatal("cannot read the host name for the node name: pass --node NAME");
	}
	if (!rs_label_valid(ag.node))
		fatalx("node name '%s' is invalid: use 1-63 of [A-Za-z0-9._-], not "
		       "starting with '.' or '-'", ag.node);
	if (ag.beat_ms < 10 || ag.beat_ms > 60000)
		fatalx("--beat-ms must be between 10 and 60000");
	if (ag.log_max < 4096)
		fatalx("--log-max must be at least 4096 bytes");
	/* one keeper per node: refused before anything is made (a state dir
	 * that is not the running keeper's is created by nobody) */
	if ((r = kc_node_check(&ag, true)) == -EEXIST)
		exit(RS_AGENT_EXIT_OTHER_KEEPER);
	if (r < 0)
		fatalx("cannot ask for node %s's keeper: %s", ag.node, strerror(-r));
	if ((r = mkdir_sub(ag.state_dir, NULL)) < 0 ||
	    (r = mkdir_sub(ag.state_dir, "run")) < 0 ||
	    (r = mkdir_sub(ag.state_dir, "logs")) < 0)
		fatalx("cannot create state dir %s: %s", ag.state_dir, strerror(-r));
	/* absolute from here on: the keeper runs in / and takes log paths
	 * only if they are absolute */
	if (!(abs_dir = realpath(ag.state_dir, NULL)))
		fatal("cannot resolve state dir %s", ag.state_dir);
	ag.state_dir = abs_dir;
	/* a service run as another user (--user) must reach its notify
	 * socket: the dirs on the way are searchable, not listable; the logs
	 * stay private */
	{
		char run[4096];
		snprintf(run, sizeof run, "%s/run", ag.state_dir);
		if (chmod(ag.state_dir, 0711) < 0 || chmod(run, 0711) < 0)
			log_warn("cannot make %s searchable; --user services cannot "
				 "use sd_notify", run);
	}
	read_boot_id(ag.boot_id, sizeof ag.boot_id);
	raise_nofile();
	ag.kbuf = malloc(KEEPER_MSG_MAX);
	if (!ag.kbuf)
		fatalx("out of memory");
	/* before libev and ZeroMQ open anything: this may fork the keeper */
	if ((r = kc_start(&ag)) == -EEXIST)
		exit(RS_AGENT_EXIT_OTHER_KEEPER);
	if (r < 0)
		fatalx("cannot reach or start the keeper in %s/run: %s",
		       ag.state_dir, strerror(-r));
	signal(SIGPIPE, SIG_IGN);
	if (agent_keys(&ag) < 0)
		fatalx("no usable key for node %s (see above)", ag.node);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop)
		fatalx("cannot initialise libev");
	r = agent_init(&ag, loop);
	if (r < 0)
		fatalx("cannot start (rsd at %s, keeper in %s/run): %s", ag.rsd_ep,
		       ag.state_dir, strerror(-r));
	prom_hist_init(&ag.h_restart, prom_latency_bounds, prom_latency_nbounds);
	/* fault injection for the tests: RS_TEST_DROP_ORDERS="1,3" loses
	 * the first copy of rsd's orders 1 and 3; RS_TEST_FORGET_ORDERS
	 * takes them (acknowledged) and does nothing */
	test_orders(getenv("RS_TEST_DROP_ORDERS"), ag.drop_orders, &ag.ndrop_orders);
	test_orders(getenv("RS_TEST_FORGET_ORDERS"), ag.forget_orders, &ag.nforget_orders);
	/* RS_TEST_KNOCKS=N: N more Hellos right after each connection's
	 * first, as knocks that crossed a busy rsd's Welcome */
	if (getenv("RS_TEST_KNOCKS"))
		ag.test_knocks = (unsigned)strtoul(getenv("RS_TEST_KNOCKS"), NULL, 10) % 100;
	if (metrics && (r = agent_metrics_start(&ag, metrics)) < 0)
		fatalx("cannot serve metrics on %s: %s", metrics, httpd_strerror(r));
	log_info("rs-agent %s: node %s (%s), rsd %s, state dir %s, metrics %s",
		 rs_version(), ag.node, node_from, ag.rsd_ep,
		 ag.state_dir, metrics ? ag.metrics_ep : "off");
	if (ready_fd >= 0) {
		dprintf(ready_fd, "%s%s\n", metrics ? "metrics=" : "ready",
			metrics ? ag.metrics_ep : "");
		close(ready_fd);
	}
	ag.sd_watchdog_ms = sdnotify_watchdog_ms();
	if (ag.sd_watchdog_ms && ag.sd_watchdog_ms < 2ull * ag.beat_ms)
		log_warnx("WatchdogSec is shorter than two heartbeats (--beat-ms %u)", ag.beat_ms);
	/* ready: services run and restart locally whether or not rsd answers */
	sdnotify_send("READY=1\nSTATUS=supervising, waiting for rsd");
	ev_run(loop, 0);
	sdnotify_send("STOPPING=1");
	agent_metrics_stop(&ag);
	agent_fini(&ag);
	net_shutdown();
	free(ag.kbuf);
	free(ag.kq);
	free(abs_dir);
	log_info("exited");
	return 0;
}
