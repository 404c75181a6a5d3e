/* Unit tests of lib/manifest.c: a full manifest, the dependency order, and
 * a table of broken files with the error each must give (file:line: key). */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "manifest.h"
#include "reslimits.h"
#include "profile.h"
#include "probespec.h"

static const char good[] =
	"services:\n"
	"  - label: web\n"                       /* line 2 */
	"    command: [python3, -m, http.server, '8080']\n"
	"    env: {MODE: fast, EMPTY: ''}\n"
	"    cwd: /srv\n"
	"    replicas: 2\n"
	"    placement: {nodes: [n1, n2], labels: [ssd]}\n"
	"    restart: on-failure\n"
	"    backoff: {initial: 0.5, factor: 3, max: 20, reset: 30, disabled: false}\n"
	"    period: 5\n"
	"    ready_timeout: 7.5\n"
	"    stop_signal: INT\n"
	"    reload_signal: USR2\n"
	"    stop_timeout: 3\n"
	"    notify: notify\n"
	"    settle: 0.2\n"
	"    depends_on: [db]\n"
	"    critical: true\n"
	"    script: /usr/local/bin/recover\n"
	"    user: www-data\n"
	"    keep_caps: true\n"
	"    fence: stop\n"
	"    listen:\n"
	"      http: tcp:0.0.0.0:8080\n"
	"      http6: tcp6:[::]:8080\n"
	"      admin: unix:/run/web/admin.sock\n"
	"  - label: db\n"                        /* line 27 */
	"    command: postgres\n"
	"    node: n3\n";

Test(manifest, full_entry, .timeout = 10)
{
	manifest m;
	char err[512] = "";
	const mf_service *w, *d;
	size_t order[2];

	cr_assert_eq(manifest_parse("good.yaml", good, strlen(good), &m, err, sizeof err), 0,
		     "%s", err);
	cr_assert_eq(m.n, 2);
	w = &m.svcs[0];
	d = &m.svcs[1];
	cr_assert_str_eq(w->spec.label, "web");
	cr_assert_eq(w->line, 2);
	cr_assert_eq(d->line, 27);
	cr_assert_eq(w->spec.argc, 4);
	cr_assert_str_eq(w->spec.argv[3], "8080");
	cr_assert_eq(w->spec.envc, 2);
	cr_assert_str_eq(w->spec.env[0], "MODE=fast");
	cr_assert_str_eq(w->spec.env[1], "EMPTY=");
	cr_assert_str_eq(w->spec.cwd, "/srv");
	cr_assert_eq(w->replicas, 2);
	cr_assert_eq(w->nnodes, 2);
	cr_assert_str_eq(w->nodes[1], "n2");
	cr_assert_eq(w->spec.policy, RS_RP_ON_FAILURE);
	cr_assert_eq(w->spec.backoff.initial_ms, 500);
	cr_assert_eq(w->spec.backoff.factor, 3);
	cr_assert_eq(w->spec.backoff.max_ms, 20000);
	cr_assert_eq(w->spec.backoff.reset_ms, 30000);
	cr_assert_eq(w->spec.period_ms, 5000);
	cr_assert_eq(w->spec.ready_timeout_ms, 7500);
	cr_assert_eq(w->spec.stop_signal, SIGINT);
	cr_assert_eq(w->spec.reload_signal, SIGUSR2);
	cr_assert_eq(w->spec.stop_timeout_ms, 3000);
	cr_assert_eq(w->spec.notify, RS_NT_NOTIFY);
	cr_assert_eq(w->spec.settle_ms, 200);
	cr_assert_eq(w->ndeps, 1);
	cr_assert_str_eq(w->deps[0], "db");
	cr_assert(w->spec.critical);
	cr_assert_str_eq(w->spec.script, "/usr/local/bin/recover");
	cr_assert_eq(w->spec.nlisten, 3);
	cr_assert_str_eq(w->spec.listen[0], "http=tcp:0.0.0.0:8080");
	cr_assert_str_eq(w->spec.listen[1], "http6=tcp6:[::]:8080");
	cr_assert_str_eq(w->spec.listen[2], "admin=unix:/run/web/admin.sock");
	cr_assert_str_eq(w->spec.user, "www-data");
	cr_assert(w->spec.keep_caps);
	cr_assert_not(d->spec.keep_caps);
	cr_assert_eq(w->spec.fence, RS_FENCE_STOP);
	cr_assert_eq(d->spec.fence, RS_FENCE_NONE);
	cr_assert_eq(w->nlabels, 1);
	cr_assert_str_eq(w->labels[0], "ssd");
	{
		/* what is sent: nodes and labels as placement, deps, replicas */
		rs_spec s;
		cr_assert_eq(manifest_spec(w, &s), 0);
		cr_assert_eq(s.nplacement, 3);
		cr_assert_str_eq(s.placement[0], "node=n1");
		cr_assert_str_eq(s.placement[1], "node=n2");
		cr_assert_str_eq(s.placement[2], "label=ssd");
		cr_assert_str_eq(s.node, "");
		cr_assert_eq(s.ndeps, 1);
		cr_assert_eq(s.replicas, 2);
		cr_assert(rs_spec_allows(&s, "n2", (char *[]){ "ssd", "x" }, 2));
		cr_assert(!rs_spec_allows(&s, "n2", (char *[]){ "hdd" }, 1));
		cr_assert(!rs_spec_allows(&s, "n3", (char *[]){ "ssd" }, 1));
		rs_spec_clear(&s);
		cr_assert_eq(manifest_spec(d, &s), 0);
		cr_assert_str_eq(s.node, "n3");
		cr_assert_eq(s.nplacement, 0);
		cr_assert(rs_spec_allows(&s, "n3", NULL, 0));
		cr_assert(!rs_spec_allows(&s, "n1", NULL, 0));
		rs_spec_clear(&s);
	}
	cr_assert_eq(d->spec.nlisten, 0);
	cr_assert_eq(d->spec.argc, 1);
	cr_assert_str_eq(d->spec.node, "n3");
	cr_assert_eq(d->replicas, 1);
	cr_assert_eq(d->spec.policy, RS_RP_ALWAYS);
	manifest_order(&m, order);
	cr_assert_eq(order[0], 1, "db must come before web");
	cr_assert_eq(order[1], 0);
	manifest_free(&m);
}

Test(manifest, order_chain_and_ties, .timeout = 10)
{
	static const char y[] =
		"services:\n"
		"  - {label: c, command: [x], depends_on: [b]}\n"
		"  - {label: a, command: [x]}\n"
		"  - {label: b, command: [x], depends_on: [a]}\n"
		"  - {label: d, command: [x]}\n";
	manifest m;
	char err[512];
	size_t o[4];

	cr_assert_eq(manifest_parse("o.yaml", y, strlen(y), &m, err, sizeof err), 0, "%s", err);
	manifest_order(&m, o);
	cr_assert_str_eq(m.svcs[o[0]].spec.label, "a");
	cr_assert_str_eq(m.svcs[o[1]].spec.label, "b");
	cr_assert_str_eq(m.svcs[o[2]].spec.label, "c");
	cr_assert_str_eq(m.svcs[o[3]].spec.label, "d");
	manifest_free(&m);
}

struct bad { const char *name; const char *yaml; const char *want; };

static const struct bad bads[] = {
	{ "empty", "", "empty.yaml:1: the file is empty" },
	{ "not-yaml", "services: [\n  - a\n", "YAML error" },
	{ "top-list", "- a\n", "expected a mapping with a 'services' list" },
	{ "top-key", "services: []\nservers: []\n", "top-key.yaml:2: servers: unknown key" },
	{ "no-list", "services: 3\n", "services: expected a list of services" },
	{ "no-label", "services:\n  - command: [x]\n", "no-label.yaml:2: services[0]: missing key 'label'" },
	{ "no-command", "services:\n  - label: a\n", "no-command.yaml:2: services[0] (a): missing key 'command'" },
	{ "unknown-key", "services:\n  - label: a\n    command: [x]\n    colour: red\n",
	  "unknown-key.yaml:4: services[0].colour: unknown key" },
	{ "bad-type", "services:\n  - label: a\n    command: [x]\n    replicas: many\n",
	  "bad-type.yaml:4: services[0].replicas: expected a whole number >= 1, got 'many'" },
	{ "zero-replicas", "services:\n  - label: a\n    command: [x]\n    replicas: 0\n",
	  "services[0].replicas: expected a whole number >= 1" },
	{ "neg-period", "services:\n  - label: a\n    command: [x]\n    period: -1\n",
	  "services[0].period: expected a number of seconds, got '-1'" },
	{ "nan-period", "services:\n  - label: a\n    command: [x]\n    period: nan\n",
	  "services[0].period: expected a number of seconds, got 'nan'" },
	{ "big-period", "services:\n  - label: a\n    command: [x]\n    period: 4294967.2955\n",
	  "services[0].period: expected a number of seconds, got '4294967.2955'" },
	{ "bad-policy", "services:\n  - label: a\n    command: [x]\n    restart: sometimes\n",
	  "services[0].restart: 'sometimes' is not one of always, on-failure, never" },
	{ "bad-signal", "services:\n  - label: a\n    command: [x]\n    stop_signal: NOPE\n",
	  "services[0].stop_signal: 'NOPE' is not a signal" },
	{ "bad-reload-signal", "services:\n  - label: a\n    command: [x]\n    reload_signal: 99\n",
	  "services[0].reload_signal: '99' is not a signal" },
	{ "bad-label", "services:\n  - label: 'a b'\n    command: [x]\n",
	  "services[0].label: 'a b' is not a valid label" },
	{ "command-map", "services:\n  - label: a\n    command: {x: 1}\n",
	  "services[0].command: expected a list of strings" },
	{ "env-list", "services:\n  - label: a\n    command: [x]\n    env: [A=1]\n",
	  "services[0].env: expected a mapping" },
	{ "backoff-key", "services:\n  - label: a\n    command: [x]\n    backoff: {start: 1}\n",
	  "services[0].backoff.start: unknown key (known: initial, factor, max, reset, disabled)" },
	{ "rel-script", "services:\n  - label: a\n    command: [x]\n    script: fix.sh\n",
	  "services[0].script: must be an absolute path" },
	{ "user", "services:\n  - label: a\n    command: [x]\n    user: 'w w'\n",
	  "services[0].user: 'w w' is not a user name or a uid" },
	{ "keep-caps", "services:\n  - label: a\n    command: [x]\n    keep_caps: maybe\n",
	  "services[0].keep_caps:" },
	{ "bad-fence", "services:\n  - label: a\n    command: [x]\n    fence: kill\n",
	  "bad-fence.yaml:4: services[0].fence: 'kill' is not one of none, stop" },
	{ "dup", "services:\n  - {label: a, command: [x]}\n  - {label: a, command: [y]}\n",
	  "dup.yaml:3: services[1] (a): duplicate label 'a' (first at line 2)" },
	{ "unknown-dep", "services:\n  - {label: a, command: [x], depends_on: [zz]}\n",
	  "services[0] (a).depends_on: unknown service 'zz'" },
	{ "self-dep", "services:\n  - {label: a, command: [x], depends_on: [a]}\n",
	  "a service cannot depend on itself" },
	{ "cycle", "services:\n  - {label: a, command: [x], depends_on: [b]}\n"
		   "  - {label: b, command: [x], depends_on: [c]}\n"
		   "  - {label: c, command: [x], depends_on: [a]}\n",
	  "dependency cycle: a -> b -> c -> a" },
	{ "node-and-nodes", "services:\n  - label: a\n    command: [x]\n    node: n1\n"
			   "    placement: {nodes: [n2]}\n",
	  "give either node or placement.nodes, not both" },
	{ "placement-key", "services:\n  - label: a\n    command: [x]\n"
			  "    placement: {zone: a}\n",
	  "services[0].placement.zone: unknown key (known: nodes, labels)" },
	{ "placement-label", "services:\n  - label: a\n    command: [x]\n"
			    "    placement:\n      labels: [ssd, 'fast disk']\n",
	  "placement-label.yaml:5: services[0].placement.labels: 'fast disk' is not a valid name" },
	{ "placement-twice", "services:\n  - label: a\n    command: [x]\n"
			    "    placement: {nodes: [n1, n1]}\n",
	  "services[0].placement.nodes: 'n1' is listed twice" },
	{ "one-node-replicas", "services:\n  - label: a\n    command: [x]\n"
			      "    replicas: 3\n    placement: {nodes: [n1]}\n",
	  "3 replicas cannot all run on node n1" },
	{ "bad-backoff", "services:\n  - label: a\n    command: [x]\n    backoff: {initial: 10, max: 5}\n",
	  "backoff cap 5000 ms is below its initial 10000 ms" },
	{ "listen-port", "services:\n  - label: a\n    command: [x]\n    listen:\n"
			"      web: tcp:1.2.3.4:99999\n",
	  "listen-port.yaml:5: services[0].listen.web: listen \"web=tcp:1.2.3.4:99999\": "
	  "port must be 1..65535" },
	{ "listen-list", "services:\n  - label: a\n    command: [x]\n    listen:\n"
			"      - web=tcp:1.2.3.4:80\n",
	  "listen-list.yaml:5: services[0].listen: expected a mapping (key: value)" },
	{ "listen-name", "services:\n  - label: a\n    command: [x]\n"
			"    listen: {'a:b': 'unix:/run/a'}\n",
	  "services[0].listen.a:b: listen \"a:b=unix:/run/a\": ':' is not allowed in NAME" },
	{ "listen-dup-addr", "services:\n  - label: a\n    command: [x]\n    listen:\n"
			    "      one: unix:/run/a\n      two: unix:/run/a\n",
	  "listen-dup-addr.yaml:6: services[0].listen.two: listen \"two=unix:/run/a\": "
	  "unix:/run/a is already listed as 'one'" },
	{ "listen-dup-name", "services:\n  - label: a\n    command: [x]\n    listen:\n"
			    "      one: unix:/run/a\n      one: unix:/run/b\n",
	  "listen-dup-name.yaml:6: services[0].listen.one: listen \"one=unix:/run/b\": "
	  "NAME 'one' is given twice" },
	{ "listen-value", "services:\n  - label: a\n    command: [x]\n    listen:\n"
			 "      web: [tcp:1.2.3.4:80]\n",
	  "services[0].listen.web: expected an address (tcp:HOST:PORT" },
	{ "probe-role", "services:\n  - label: a\n    command: [x]\n    probes:\n"
		       "      health: {tcp: '127.0.0.1:80'}\n",
	  "probe-role.yaml:5: services[0].probes.health: unknown probe (known: liveness, "
	  "readiness, startup)" },
	{ "probe-port", "services:\n  - label: a\n    command: [x]\n    probes:\n"
		       "      liveness: {tcp: '127.0.0.1:99999', period: 1}\n",
	  "probe-port.yaml:5: services[0].probes.liveness.tcp: 'tcp:127.0.0.1:99999' is not "
	  "tcp:HOST:PORT" },
	{ "probe-url", "services:\n  - label: a\n    command: [x]\n    probes:\n"
		      "      readiness:\n        http: 127.0.0.1:8080/healthz\n",
	  "probe-url.yaml:6: services[0].probes.readiness.http: expected an http:// or "
	  "https:// URL" },
	{ "probe-two-kinds", "services:\n  - label: a\n    command: [x]\n    probes:\n"
			    "      liveness:\n        http: http://127.0.0.1/\n"
			    "        tcp: 127.0.0.1:80\n",
	  "probe-two-kinds.yaml:6: services[0].probes.liveness: give one of http, tcp, exec "
	  "(not several)" },
	{ "probe-none", "services:\n  - label: a\n    command: [x]\n    probes:\n"
		       "      liveness: {period: 1}\n",
	  "services[0].probes.liveness: give one of http, tcp, exec (none given)" },
	{ "probe-key", "services:\n  - label: a\n    command: [x]\n    probes:\n"
		      "      liveness: {tcp: '127.0.0.1:80', retries: 3}\n",
	  "services[0].probes.liveness.retries: unknown key" },
	{ "probe-failures", "services:\n  - label: a\n    command: [x]\n    probes:\n"
			   "      liveness: {tcp: '127.0.0.1:80', failures: 0}\n",
	  "services[0].probes.liveness.failures: expected a whole number >= 1" },
	{ "probe-period", "services:\n  - label: a\n    command: [x]\n    probes:\n"
			 "      liveness: {tcp: '127.0.0.1:80', period: 0.01}\n",
	  "probe-period.yaml:5: services[0].probes.liveness: liveness probe: period 10 ms" },
	{ "probe-status", "services:\n  - label: a\n    command: [x]\n    probes:\n"
			 "      liveness: {http: 'http://h/', status: 200-99}\n",
	  "services[0].probes.liveness.status: '200-99' is not a status" },
	{ "probe-exec-rel", "services:\n  - label: a\n    command: [x]\n    probes:\n"
			   "      startup: {exec: [check, --quick]}\n",
	  "services[0].probes.startup.exec: the program must be an absolute path" },
	{ "limits-size", "services:\n  - label: a\n    command: [x]\n    limits:\n"
			"      memory: {max: 256Q}\n",
	  "limits-size.yaml:5: services[0].limits.memory.max: expected a size of at least 4K" },
	{ "limits-key", "services:\n  - label: a\n    command: [x]\n    limits:\n"
		       "      memory:\n        max: 1G\n        swap: 0\n",
	  "limits-key.yaml:7: services[0].limits.memory.swap: unknown key (known: max, high)" },
	{ "limits-cpu", "services:\n  - label: a\n    command: [x]\n    limits:\n"
		       "      cpu: {weight: 0}\n",
	  "services[0].limits.cpu.weight: expected a whole number >= 1" },
	{ "limits-cpu-max", "services:\n  - label: a\n    command: [x]\n    limits:\n"
			   "      cpu: {max: 50}\n",
	  "services[0].limits.cpu.max: expected a percent of one CPU" },
	{ "limits-high", "services:\n  - label: a\n    command: [x]\n    limits:\n"
			"      memory: {max: 64M, high: 128M}\n",
	  "limits-high.yaml:5: services[0].limits: memory high 134217728 is above memory max" },
	{ "profile-cap", "services:\n  - label: a\n    command: [x]\n    profile:\n"
			"      caps: [chown, cap_nosuch]\n",
	  "profile-cap.yaml:5: services[0].profile.caps: 'cap_nosuch' is not a capability" },
	{ "profile-nice", "services:\n  - label: a\n    command: [x]\n    profile:\n"
			"      nice: 20\n",
	  "profile-nice.yaml:5: services[0].profile.nice: expected a nice value from -20 to 19" },
	{ "profile-cpus", "services:\n  - label: a\n    command: [x]\n    profile:\n"
			"      cpus: 3-1\n",
	  "profile-cpus.yaml:5: services[0].profile.cpus: expected a CPU list" },
	{ "profile-key", "services:\n  - label: a\n    command: [x]\n    profile:\n"
			"      nice: 1\n      readonly: true\n",
	  "profile-key.yaml:6: services[0].profile.readonly: unknown key (known: caps," },
	{ "profile-bool", "services:\n  - label: a\n    command: [x]\n    profile:\n"
			"      private_tmp: maybe\n",
	  "profile-bool.yaml:5: services[0].profile.private_tmp: expected true or false" },
	{ "profile-twice", "services:\n  - label: a\n    command: [x]\n    profile:\n"
			"      caps: [chown, CAP_CHOWN]\n",
	  "profile-twice.yaml:5: services[0].profile.caps: 'CAP_CHOWN' is listed twice" },
	{ "limits-what", "services:\n  - label: a\n    command: [x]\n    limits:\n"
			"      disk: {max: 1G}\n",
	  "services[0].limits.disk: unknown key (known: memory, cpu, pids)" },
	{ "probe-headers-tcp", "services:\n  - label: a\n    command: [x]\n    probes:\n"
			      "      liveness: {tcp: '127.0.0.1:80', headers: {A: b}}\n",
	  "services[0].probes.liveness: headers are for http probes only" },
};

/* The acceptance form (docs/manifest.md): all three roles and kinds. */
Test(manifest, probes, .timeout = 10)
{
	static const char yaml[] =
		"services:\n"
		"  - label: web\n"
		"    command: [/usr/bin/web]\n"
		"    probes:\n"
		"      liveness:  {http: \"http://127.0.0.1:8080/healthz\", period: 1, timeout: 1, "
		"failures: 3, initial_delay: 0}\n"
		"      readiness: {tcp: \"127.0.0.1:8080\"}\n"
		"      startup:   {exec: [/usr/local/bin/check, --quick], period: 1, failures: 30}\n"
		"  - label: api\n"
		"    command: [/usr/bin/api]\n"
		"    probes:\n"
		"      liveness:\n"
		"        http: https://[::1]:8443/live\n"
		"        status: 200-204\n"
		"        headers: {Host: api.example, X-Probe: rs}\n"
		"        initial_delay: 2.5\n";
	manifest m;
	char err[512] = "";
	const rs_probe *l, *r, *st;

	cr_assert_eq(manifest_parse("p.yaml", yaml, strlen(yaml), &m, err, sizeof err), 0,
		     "%s", err);
	l = &m.svcs[0].spec.probes[RS_PROBE_LIVENESS];
	r = &m.svcs[0].spec.probes[RS_PROBE_READINESS];
	st = &m.svcs[0].spec.probes[RS_PROBE_STARTUP];
	cr_assert_eq(l->kind, RS_PK_HTTP);
	cr_assert_str_eq(l->target, "http://127.0.0.1:8080/healthz");
	cr_assert_eq(l->period_ms, 1000);
	cr_assert_eq(l->timeout_ms, 1000);
	cr_assert_eq(l->failures, 3);
	cr_assert_eq(r->kind, RS_PK_TCP);
	cr_assert_str_eq(r->target, "127.0.0.1:8080");
	cr_assert_eq(r->period_ms, 10000, "the default");
	cr_assert_eq(st->kind, RS_PK_EXEC);
	cr_assert_eq(st->argc, 2);
	cr_assert_str_eq(st->argv[1], "--quick");
	cr_assert_eq(st->failures, 30);
	l = &m.svcs[1].spec.probes[RS_PROBE_LIVENESS];
	cr_assert_eq(l->status_min, 200);
	cr_assert_eq(l->status_max, 204);
	cr_assert_eq(l->nheaders, 2);
	cr_assert_str_eq(l->headers[0], "Host: api.example");
	cr_assert_eq(l->initial_delay_ms, 2500);
	cr_assert_eq(m.svcs[1].spec.probes[RS_PROBE_READINESS].kind, RS_PK_NONE);
	/* and back: an export writes them as they came */
	{
		rs_spec specs[2];
		char *text;
		size_t len;
		manifest m2;

		for (int i = 0; i < 2; i++)
			cr_assert_eq(manifest_spec(&m.svcs[i], &specs[i]), 0);
		cr_assert_eq(manifest_emit(specs, 2, &text, &len, err, sizeof err), 0, "%s", err);
		cr_assert_eq(manifest_parse("again.yaml", text, len, &m2, err, sizeof err), 0,
			     "%s\n%s", err, text);
		for (int i = 0; i < 2; i++)
			for (int k = 0; k < RS_PROBE__NR; k++)
				cr_assert(rs_probe_equal(&specs[i].probes[k],
							 &m2.svcs[i].spec.probes[k]),
					  "service %d probe %d:\n%s", i, k, text);
		cr_assert(strstr(text, "status: \"200-204\""), "%s", text);
		free(text);
		manifest_free(&m2);
		for (int i = 0; i < 2; i++)
			rs_spec_clear(&specs[i]);
	}
	manifest_free(&m);
}

/* limits: the forms of docs/manifest.md */
Test(manifest, limits, .timeout = 10)
{
	static const char yaml[] =
		"services:\n"
		"  - label: web\n"
		"    command: [/usr/bin/web]\n"
		"    limits:\n"
		"      memory: {max: 256M, high: 200M}\n"
		"      cpu: {weight: 100, max: 50%}\n"
		"      pids: {max: 64}\n"
		"  - label: api\n"
		"    command: [/usr/bin/api]\n";
	rs_limits want = { .memory_max = 256u << 20, .memory_high = 200u << 20,
			   .cpu_weight = 100, .cpu_max = 50, .pids_max = 64 };
	manifest m;
	char err[512] = "", *out = NULL;
	size_t len;

	cr_assert_eq(manifest_parse("l.yaml", yaml, strlen(yaml), &m, err, sizeof err), 0,
		     "%s", err);
	cr_assert(rs_limits_equal(&m.svcs[0].spec.limits, &want));
	cr_assert(!rs_limits_any(&m.svcs[1].spec.limits));
	/* export: back to the same limits */
	cr_assert_eq(manifest_emit(&m.svcs[0].spec, 1, &out, &len, err, sizeof err), 0, "%s", err);
	manifest_free(&m);
	cr_assert_eq(manifest_parse("e.yaml", out, len, &m, err, sizeof err), 0, "%s\n%s",
		     err, out);
	cr_assert(rs_limits_equal(&m.svcs[0].spec.limits, &want), "%s", out);
	free(out);
	manifest_free(&m);
}

Test(manifest, broken_files_give_clear_errors, .timeout = 10)
{
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		manifest m;
		char err[512] = "", name[64];

		snprintf(name, sizeof name, "%s.yaml", bads[i].name);
		cr_expect_eq(manifest_parse(name, bads[i].yaml, strlen(bads[i].yaml), &m, err,
					    sizeof err), -EINVAL, "%s: accepted", name);
		cr_expect_eq(m.n, 0, "%s: something was kept", name);
		cr_expect(strstr(err, bads[i].want) != NULL,
			  "%s:\n  got:  %s\n  want: %s", name, err, bads[i].want);
		cr_expect(strncmp(err, name, strlen(name)) == 0, "%s: the error does not name "
			  "the file: %s", name, err);
	}
}

Test(manifest, load_missing_file, .timeout = 10)
{
	manifest m;
	char err[512];

	cr_assert_lt(manifest_load("/nonexistent/x.yaml", &m, err, sizeof err), 0);
	cr_assert(strstr(err, "/nonexistent/x.yaml: No such file"), "%s", err);
}

/* ---- manifest_emit: what rsctl export writes -------------------------- */

static void assert_strv_eq(const char *what, char *const *a, size_t an,
			   char *const *b, size_t bn)
{
	cr_assert_eq(an, bn, "%s: %zu entries, want %zu", what, bn, an);
	for (size_t i = 0; i < an; i++)
		cr_assert_str_eq(b[i], a[i], "%s[%zu]", what, i);
}

static void assert_spec_eq(const rs_spec *a, const rs_spec *b)
{
	cr_assert_str_eq(b->label, a->label);
	assert_strv_eq("command", a->argv, a->argc, b->argv, b->argc);
	assert_strv_eq("env", a->env, a->envc, b->env, b->envc);
	if (a->cwd)
		cr_assert_str_eq(b->cwd ? b->cwd : "(null)", a->cwd);
	else
		cr_assert_null(b->cwd, "cwd %s", b->cwd);
	cr_assert_eq(b->period_ms, a->period_ms);
	cr_assert_eq(b->ready_timeout_ms, a->ready_timeout_ms);
	cr_assert_eq(b->stop_timeout_ms, a->stop_timeout_ms);
	cr_assert_eq(b->stop_signal, a->stop_signal);
	cr_assert_eq(b->policy, a->policy);
	cr_assert_eq(b->backoff.initial_ms, a->backoff.initial_ms);
	cr_assert_eq(b->backoff.factor, a->backoff.factor);
	cr_assert_eq(b->backoff.max_ms, a->backoff.max_ms);
	cr_assert_eq(b->backoff.reset_ms, a->backoff.reset_ms);
	cr_assert_eq(b->backoff.disabled, a->backoff.disabled);
	cr_assert_eq(b->notify, a->notify);
	cr_assert_eq(b->settle_ms, a->settle_ms);
	cr_assert_str_eq(b->node, a->node);
	cr_assert_str_eq(b->user, a->user);
	cr_assert_eq(b->keep_caps, a->keep_caps);
	cr_assert_eq(b->fence, a->fence);
	if (a->script)
		cr_assert_str_eq(b->script ? b->script : "(null)", a->script);
	else
		cr_assert_null(b->script);
	cr_assert_eq(b->critical, a->critical);
	cr_assert_eq(b->replicas, a->replicas);
	assert_strv_eq("depends_on", a->deps, a->ndeps, b->deps, b->ndeps);
	assert_strv_eq("listen", a->listen, a->nlisten, b->listen, b->nlisten);
	assert_strv_eq("placement", a->placement, a->nplacement, b->placement,
		       b->nplacement);
}

/* Emits specs[n], parses the text, and checks that every spec comes back
 * as it was (manifest_spec: what rsctl apply sends). Returns the text
 * (the caller frees). */
static char *round_trip(const rs_spec *specs, size_t n)
{
	char err[512] = "", *text;
	size_t len;
	manifest m;

	cr_assert_eq(manifest_emit(specs, n, &text, &len, err, sizeof err), 0, "%s", err);
	cr_assert_eq(strlen(text), len);
	cr_assert_eq(manifest_parse("export.yaml", text, len, &m, err, sizeof err), 0,
		     "%s\n--- the text:\n%s", err, text);
	cr_assert_eq(m.n, n);
	for (size_t i = 0; i < n; i++) {
		rs_spec got;

		cr_assert_eq(manifest_spec(&m.svcs[i], &got), 0);
		assert_spec_eq(&specs[i], &got);
		rs_spec_clear(&got);
	}
	manifest_free(&m);
	return text;
}

static void add_args(rs_spec *s, const char *const *v)
{
	for (; *v; v++)
		cr_assert_eq(rs_spec_add_arg(s, *v), 0, "%s", *v);
}

/* Every field set, with strings YAML would mangle unquoted (spaces,
 * quotes, unicode, control characters, indicators, words and numbers
 * YAML reads as other types), the largest time, a signal without a
 * name; then a service with nothing but defaults, written as two keys. */
Test(manifest, emit_every_field_round_trips, .timeout = 10)
{
	static const char *const argv[] = {
		"/usr/bin/my prog", "--name=\"quoted\"", "it's", "ünïcødé ✓ 日本",
		"tab\there", "new\nline", "", "8080", "true", "~", "null", "no",
		"- dash", "[x, y]", "#comment", "a: b", "{brace}", "*star", "&anchor",
		"!tag", "%pct", "@at", "`tick`", "0x1F", "1e3", "2026-12-06",
		" leading", "trailing ", "back\\slash", "bell\a", "del\x7f", "--",
		"-", "?", ":", "|", ">", "'", "\"", ",", NULL,
	};
	static const char *const env[] = {
		"MODE=fast", "EMPTY=", "QUOTE=\"x\" 'y'", "UNI=é", "NUM=8080", "YES=yes",
		"EQ=a=b=c", "SP= space ", "true=key that looks typed", "NL=a\nb", NULL,
	};
	rs_spec s[3];
	char *text;

	for (int i = 0; i < 3; i++)
		rs_spec_init(&s[i]);
	strcpy(s[0].label, "web.front-1");
	add_args(&s[0], argv);
	for (const char *const *e = env; *e; e++)
		cr_assert_eq(rs_spec_add_env(&s[0], *e), 0);
	s[0].cwd = strdup("/srv/my dir");
	s[0].period_ms = 5000;
	s[0].ready_timeout_ms = 7500;
	s[0].stop_timeout_ms = 3001;
	s[0].stop_signal = SIGINT;
	s[0].policy = RS_RP_ON_FAILURE;
	s[0].backoff = (rs_backoff){ .initial_ms = 500, .factor = 3, .max_ms = 20000,
				     .reset_ms = 1, .disabled = true };
	s[0].notify = RS_NT_NOTIFY;
	s[0].settle_ms = 200;
	strcpy(s[0].user, "www-data");
	s[0].keep_caps = true;
	s[0].fence = RS_FENCE_STOP;
	s[0].script = strdup("/usr/local/bin/recover it");
	s[0].critical = true;
	s[0].replicas = 3;
	cr_assert_eq(rs_spec_add_dep(&s[0], "db"), 0);
	cr_assert_eq(rs_spec_add_dep(&s[0], "8080"), 0);
	cr_assert_eq(rs_spec_add_listen(&s[0], "http=tcp:0.0.0.0:8080"), 0);
	cr_assert_eq(rs_spec_add_listen(&s[0], "http6=tcp6:[::]:8080"), 0);
	cr_assert_eq(rs_spec_add_listen(&s[0], "admin=unix:/run/web/admin sock"), 0);
	cr_assert_eq(rs_spec_add_placement(&s[0], "node=n1"), 0);
	cr_assert_eq(rs_spec_add_placement(&s[0], "node=n2"), 0);
	cr_assert_eq(rs_spec_add_placement(&s[0], "label=ssd"), 0);
	cr_assert_eq(rs_spec_add_placement(&s[0], "label=eu"), 0);

	strcpy(s[1].label, "db");
	add_args(&s[1], (const char *const[]){ "postgres", NULL });
	strcpy(s[1].node, "n3");
	s[1].stop_signal = SIGRTMIN + 2;     /* no name: a number */
	s[1].ready_timeout_ms = UINT32_MAX;  /* 4294967.295 s */
	s[1].settle_ms = 0;
	s[1].cwd = strdup("/");

	strcpy(s[2].label, "8080");          /* a label YAML reads as a number */
	add_args(&s[2], (const char *const[]){ "x", NULL });

	text = round_trip(s, 3);
	cr_assert(strstr(text, "ünïcødé ✓ 日本"), "unicode escaped:\n%s", text);
	cr_assert(strstr(text, "\"8080\""), "a number-like string unquoted:\n%s", text);
	cr_assert(strstr(text, "stop_signal: INT"), "%s", text);
	cr_assert(strstr(text, "ready_timeout: 4294967.295"), "%s", text);
	cr_assert(strstr(text, "settle: 0\n"), "%s", text);
	/* the defaults' service: its label and command only */
	cr_assert(strstr(text, "- label: \"8080\"\n  command: [x]\n"), "%s", text);
	cr_assert_str_eq(strstr(text, "- label: \"8080\""),
			 "- label: \"8080\"\n  command: [x]\n", "%s", text);
	free(text);
	for (int i = 0; i < 3; i++)
		rs_spec_clear(&s[i]);
}

/* One node= entry comes back as node (the same constraint); an empty
 * list is a manifest too (rsd with no service wanted up). */
Test(manifest, emit_one_node_and_nothing, .timeout = 10)
{
	rs_spec s, want;
	char err[256], *text;
	size_t len;
	manifest m;

	rs_spec_init(&s);
	strcpy(s.label, "a");
	add_args(&s, (const char *const[]){ "x", NULL });
	cr_assert_eq(rs_spec_add_placement(&s, "node=n1"), 0);
	cr_assert_eq(manifest_emit(&s, 1, &text, &len, err, sizeof err), 0, "%s", err);
	cr_assert(strstr(text, "placement: {nodes: [n1]}"), "%s", text);
	cr_assert_eq(manifest_parse("one.yaml", text, len, &m, err, sizeof err), 0, "%s", err);
	cr_assert_eq(manifest_spec(&m.svcs[0], &want), 0);
	cr_assert_str_eq(want.node, "n1");
	cr_assert_eq(want.nplacement, 0);
	rs_spec_clear(&want);
	manifest_free(&m);
	free(text);
	rs_spec_clear(&s);

	cr_assert_eq(manifest_emit(NULL, 0, &text, &len, err, sizeof err), 0, "%s", err);
	cr_assert_eq(manifest_parse("none.yaml", text, len, &m, err, sizeof err), 0,
		     "%s\n%s", err, text);
	cr_assert_eq(m.n, 0);
	manifest_free(&m);
	free(text);
}

/* What a manifest cannot carry is refused, naming the service: a
 * relative cwd (rsctl up --cwd takes one), a string that is not UTF-8. */
Test(manifest, emit_refuses_what_a_manifest_cannot_carry, .timeout = 10)
{
	rs_spec s[2];
	char err[256], *text = (char *)"unchanged";
	size_t len = 1;

	for (int i = 0; i < 2; i++) {
		rs_spec_init(&s[i]);
		add_args(&s[i], (const char *const[]){ "x", NULL });
	}
	strcpy(s[0].label, "ok");
	strcpy(s[1].label, "rel");
	s[1].cwd = strdup("srv");
	cr_assert_eq(manifest_emit(s, 2, &text, &len, err, sizeof err), -EINVAL);
	cr_assert_null(text);
	cr_assert_eq(len, 0);
	cr_assert(strstr(err, "rel: cwd 'srv' is not an absolute path"), "%s", err);
	free(s[1].cwd);
	s[1].cwd = NULL;
	strcpy(s[1].label, "bytes");
	cr_assert_eq(rs_spec_add_arg(&s[1], "\xff\xfe"), 0);
	cr_assert_eq(manifest_emit(s, 2, &text, &len, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "bytes: "), "%s", err);
	cr_assert_null(text);
	for (int i = 0; i < 2; i++)
		rs_spec_clear(&s[i]);
}

/* The emitter a spec at a time (rsd's export in slices) writes the same
 * text as manifest_emit, with specs that are gone once added; a spec it
 * refuses names itself, and the emitter is only freed after it. */
Test(manifest, emit_a_spec_at_a_time, .timeout = 10)
{
	rs_spec s[3], one;
	manifest_emitter *em;
	char err[256], *whole, *parts;
	size_t wlen, plen;

	for (int i = 0; i < 3; i++) {
		rs_spec_init(&s[i]);
		snprintf(s[i].label, sizeof s[i].label, "s%d", i);
		add_args(&s[i], (const char *const[]){ "/bin/sleep", "1000", NULL });
		s[i].replicas = (uint32_t)i + 1;
	}
	cr_assert_eq(rs_spec_add_env(&s[1], "A=b c"), 0);
	cr_assert_eq(manifest_emit(s, 3, &whole, &wlen, err, sizeof err), 0, "%s", err);
	cr_assert_eq(manifest_emit_begin(&em), 0);
	for (int i = 0; i < 3; i++) {
		rs_spec_init(&one);
		cr_assert_eq(rs_spec_copy(&one, &s[i]), 0);
		cr_assert_eq(manifest_emit_add(em, &one, err, sizeof err), 0, "%s", err);
		rs_spec_clear(&one);   /* its text is made: it need not live on */
	}
	cr_assert_eq(manifest_emit_end(em, &parts, &plen, err, sizeof err), 0, "%s", err);
	cr_assert_eq(plen, wlen);
	cr_assert_str_eq(parts, whole);
	free(parts);
	free(whole);

	cr_assert_eq(manifest_emit_begin(&em), 0);
	cr_assert_eq(manifest_emit_add(em, &s[0], err, sizeof err), 0, "%s", err);
	s[2].cwd = strdup("rel");
	cr_assert_eq(manifest_emit_add(em, &s[2], err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "s2: cwd 'rel' is not an absolute path"), "%s", err);
	manifest_emit_free(em);
	manifest_emit_free(NULL);
	for (int i = 0; i < 3; i++)
		rs_spec_clear(&s[i]);
}

/* profile: every key, caps by either name, exported back the same. */
Test(manifest, profile, .timeout = 10)
{
	static const char yaml[] =
		"services:\n"
		"  - label: web\n"
		"    command: [/usr/bin/web]\n"
		"    profile:\n"
		"      caps: [CAP_NET_BIND_SERVICE, chown]\n"
		"      no_new_privileges: false\n"
		"      read_only_root: true\n"
		"      private_tmp: true\n"
		"      nice: -5\n"
		"      cpus: \"0-1,3\"\n"
		"  - label: api\n"
		"    command: [/usr/bin/api]\n"
		"    profile: {caps: []}\n";
	rs_profile want = { .caps = 1ull << 10 | 1ull << 0, .caps_set = true,
			    .nnp = RS_NNP_OFF, .ro_root = true, .private_tmp = true,
			    .nice = -5, .cpus = "0-1,3" };
	manifest m;
	char err[512] = "", *out = NULL;
	size_t len;

	cr_assert_eq(manifest_parse("p.yaml", yaml, strlen(yaml), &m, err, sizeof err), 0,
		     "%s", err);
	cr_assert(rs_profile_equal(&m.svcs[0].spec.profile, &want));
	cr_assert(m.svcs[1].spec.profile.caps_set && !m.svcs[1].spec.profile.caps);
	cr_assert_eq(manifest_emit(&m.svcs[0].spec, 1, &out, &len, err, sizeof err), 0, "%s", err);
	manifest_free(&m);
	cr_assert_eq(manifest_parse("e.yaml", out, len, &m, err, sizeof err), 0, "%s\n%s",
		     err, out);
	cr_assert(rs_profile_equal(&m.svcs[0].spec.profile, &want), "%s", out);
	free(out);
	manifest_free(&m);
}
