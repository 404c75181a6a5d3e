/*
 * test_auth.c - trust, with the real binaries and real keys: credentials
 * and roles, unknown and revoked keys, node names bound to keys, a second
 * agent for a node, and --insecure.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codes.h"
#include "cred.h"
#include "harness.h"
#include "net.h"

#define T_TIMEOUT 90

static void setup1(void) { h_setup(1); }
/* Every keeper under the temp dir (the tests' extra agents start some)
 * is killed with the cluster. */
static void teardown(void)
{
	glob_t g;

	if (h_tmpdir() && h_tmpdir()[0]) {
		char pat[700];
		snprintf(pat, sizeof pat, "%s/*/run/keeper.pid", h_tmpdir());
		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc; i++)
				h_track_pid(h_read_pidfile(g.gl_pathv[i]));
			globfree(&g);
		}
	}
	h_teardown();
}

static const char *bin(const char *rel)
{
	static char buf[4][600];
	static int k;
	char *b = buf[k++ % 4];
	const char *dir = getenv("RS_BIN_DIR");

	snprintf(b, sizeof buf[0], "%s/%s", dir ? dir : ".", rel);
	return b;
}

/* rsctl cred create NAME --role ROLE [--labels P], saved as NAME.cred. */
static const char *new_cred(const char *name, const char *role, const char *labels)
{
	char file[80];
	const h_res *r = labels ?
		h_rsctl("cred", "create", name, "--role", role, "--labels", labels, NULL) :
		h_rsctl("cred", "create", name, "--role", role, NULL);

	assert_code(r, 0, "cred create");
	cr_assert(strstr(r->out, "secret-key = "), "no credential printed: %s", r->out);
	snprintf(file, sizeof file, "%s.cred", name);
	return h_save(file, r->out);
}

/* rsctl with another credential. */
static const h_res *as(const char *cred, const char *a1, const char *a2,
		       const char *a3)
{
	const char *argv[] = { "--cred", cred, a1, a2, a3, NULL };

	return h_rsctl_v(15000, argv);
}

static pid_t pid_of(const char *label)
{
	h_inst in;

	cr_assert(h_status_instance(label, &in), "%s not found", label);
	return in.pid;
}

static bool all_up_fn(void *arg)
{
	(void)arg;
	return h_nodes_all_up();
}

/* The keys rsd made at its first start, 0600, beside its database; a
 * restarted rsd keeps them. */
Test(auth, keys_made_once_beside_the_db, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	static const char *const files[] = { "admin.cred", "join.token", "rsd.key" };
	char before[3][1024];
	struct stat st;

	for (int i = 0; i < 3; i++) {
		FILE *f = fopen(h_path(files[i]), "r");
		cr_assert(f, "%s missing", files[i]);
		cr_assert_eq(stat(h_path(files[i]), &st), 0);
		cr_assert_eq(st.st_mode & 0777, 0600, "%s mode %o", files[i], st.st_mode & 0777);
		memset(before[i], 0, sizeof before[i]);
		cr_assert_gt(fread(before[i], 1, sizeof before[i] - 1, f), 0);
		fclose(f);
	}
	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	for (int i = 0; i < 3; i++) {
		char now[1024] = "";
		FILE *f = fopen(h_path(files[i]), "r");
		cr_assert(f);
		cr_assert_gt(fread(now, 1, sizeof now - 1, f), 0);
		fclose(f);
		cr_assert_str_eq(now, before[i], "%s changed across a restart", files[i]);
	}
	assert_code(h_rsctl("status", NULL), 0, "status after the restart");
	cr_assert(h_wait_until(all_up_fn, NULL, 10000), "nodes not up after restart");
	h_pass();
}

/* As user nobody, with no usable credential: every verb refused with the
 * documented code, nothing changes. */
Test(auth, nobody_without_credential, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	static const char *const verbs[][3] = {
		{ "status", NULL }, { "nodes", NULL }, { "down", "keep" },
		{ "shutdown", NULL }, { "cred", "list" },
	};
	const char *mark = h_path("pwned");
	pid_t keep;
	const h_res *r;

	assert_code(h_rsctl("up", "keep", "--", "/bin/sleep", "1000", NULL), 0, "up");
	keep = pid_of("keep");
	chmod(h_tmpdir(), 0755);
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
		const char *argv[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
				       "--clear-groups", bin("ctl/rsctl"), "-s", h_control_ep(),
				       verbs[i][0], verbs[i][1], NULL };
		r = h_run(15000, argv);
		assert_code(r, RS_E_AUTH, verbs[i][0]);
	}
	{
		char cmd[700];
		snprintf(cmd, sizeof cmd, "id > %s", mark);
		const char *argv[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
				       "--clear-groups", bin("ctl/rsctl"), "-s", h_control_ep(),
				       "up", "pwn", "--", "/bin/sh", "-c", cmd, NULL };
		r = h_run(15000, argv);
		assert_code(r, RS_E_AUTH, "up as nobody");
	}
	/* plaintext (no CURVE) is refused the same way */
	{
		const char *argv[] = { bin("ctl/rsctl"), "-s", h_control_ep(), "--insecure",
				       "up", "pwn", "--", "/bin/true", NULL };
		r = h_run(15000, argv);
		assert_code(r, RS_E_AUTH, "plaintext up");
	}
	cr_assert(access(mark, F_OK) != 0, "the service ran");
	assert_code(h_rsctl("status", "pwn", NULL), RS_E_NOENT, "pwn exists");
	cr_assert_eq(pid_of("keep"), keep, "keep was touched");
	h_pass();
}

/* A viewer reads; an operator limited to web* acts on web* only; every
 * change records who asked. */
Test(auth, roles_and_label_patterns, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *viewer = new_cred("vera", "viewer", NULL);
	const char *webop = new_cred("wes", "operator", "web*");
	const h_res *r;
	pid_t db;

	assert_code(h_rsctl("up", "db", "--env", "SECRET=hunter2", "--", "/bin/sleep",
			    "1000", NULL), 0, "up db");
	db = pid_of("db");
	assert_code(as(viewer, "status", NULL, NULL), 0, "viewer status");
	/* secrets: viewers see the environment's keys, not its values */
	r = as(viewer, "status", "db", "--json");
	assert_code(r, 0, "viewer status --json");
	cr_assert(strstr(r->out, "\"SECRET=***\"") && !strstr(r->out, "hunter2"),
		  "viewer sees: %s", r->out);
	r = h_rsctl("status", "db", "--json", NULL);
	cr_assert(strstr(r->out, "\"SECRET=hunter2\""), "admin sees: %s", r->out);
	r = as(viewer, "describe", "db", "--json");
	assert_code(r, 0, "viewer describe --json");
	cr_assert(strstr(r->out, "\"SECRET=***\"") && !strstr(r->out, "hunter2"),
		  "viewer's describe: %s", r->out);
	r = as(viewer, "describe", "db", NULL);
	assert_code(r, 0, "viewer describe");
	cr_assert(strstr(r->out, "SECRET=***") && !strstr(r->out, "hunter2"),
		  "viewer's describe: %s", r->out);
	r = as(viewer, "down", "db", NULL);
	assert_code(r, RS_E_FORBIDDEN, "viewer down");
	cr_assert(strstr(r->err, "viewer") && strstr(r->err, "down"), "%s", r->err);
	{
		const char *argv[] = { "--cred", webop, "up", "web1", "--", "/bin/sleep",
				       "1000", NULL };
		assert_code(h_rsctl_v(15000, argv), 0, "operator up web1");
	}
	r = as(webop, "down", "db", NULL);
	assert_code(r, RS_E_FORBIDDEN, "web* operator down db");
	assert_code(as(webop, "refresh", "db", NULL), RS_E_FORBIDDEN, "refresh db");
	assert_code(as(webop, "cred", "list", NULL), RS_E_FORBIDDEN, "cred list");
	assert_code(as(webop, "drain", "n1", NULL), RS_E_FORBIDDEN, "drain");
	cr_assert_eq(pid_of("db"), db, "db was touched");
	assert_code(as(webop, "down", "web1", NULL), 0, "operator down web1");
	r = h_rsctl("events", "web1", "--json", NULL);
	assert_code(r, 0, "events");
	cr_assert(strstr(r->out, "\"actor\":\"operator:wes\""), "no actor: %s", r->out);
	h_pass();
}

/* A key rsd does not know, and a revoked one (also on a connection that
 * is open): no effect, rsd and the services unharmed. */
Test(auth, unknown_and_revoked_keys, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char err[256], text[2048];
	rs_cred adm, fake;
	const char *ops;
	const h_res *r;
	pid_t keep;

	assert_code(h_rsctl("up", "keep", "--", "/bin/sleep", "1000", NULL), 0, "up");
	keep = pid_of("keep");
	cr_assert_eq(cred_read(h_path("admin.cred"), &adm, err, sizeof err), 0, "%s", err);
	fake = adm;
	strcpy(fake.name, "mallory");
	cr_assert_eq(net_keypair(fake.pub, fake.sec), 0);
	cr_assert_gt(cred_format(&fake, text, sizeof text), 0);
	r = as(h_save("fake.cred", text), "down", "keep", NULL);
	assert_code(r, RS_E_AUTH, "unknown key");
	/* a credential that pins another rsd's key */
	fake = adm;
	cr_assert_eq(net_keypair(fake.server, text), 0);
	cr_assert_gt(cred_format(&fake, text, sizeof text), 0);
	assert_code(as(h_save("other.cred", text), "status", NULL, NULL), RS_E_AUTH,
		    "another rsd's key");
	ops = new_cred("otto", "operator", NULL);
	assert_code(as(ops, "status", NULL, NULL), 0, "before revoke");
	assert_code(h_rsctl("cred", "revoke", "otto", NULL), 0, "revoke");
	assert_code(as(ops, "down", "keep", NULL), RS_E_AUTH, "after revoke");
	r = h_rsctl("cred", "list", NULL);
	assert_code(r, 0, "cred list");
	cr_assert(strstr(r->out, "otto") && strstr(r->out, "n1"), "%s", r->out);
	/* the last admin cannot lock everyone out */
	assert_code(h_rsctl("cred", "revoke", "admin", NULL), RS_E_INVAL, "last admin");
	cr_assert(h_pid_alive(h_rsd_pid()));
	cr_assert_eq(pid_of("keep"), keep);
	h_pass();
}

/* An agent with its own key claiming n1, and a second real agent for n1
 * enrolling with the token: both refused; n1 keeps its service, once. */
Test(auth, node_name_belongs_to_its_key, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char err[256], dir[600], key[700], log[700];
	rs_cred adm, fake;
	pid_t keep, a;
	int st;

	assert_code(h_rsctl("up", "keep", "--", "/bin/sleep", "1000", NULL), 0, "up");
	keep = pid_of("keep");
	/* 1. a key of its own, written as if enrolled as n1 */
	cr_assert_eq(cred_read(h_path("admin.cred"), &adm, err, sizeof err), 0, "%s", err);
	memset(&fake, 0, sizeof fake);
	strcpy(fake.kind, "node");
	strcpy(fake.name, "n1");
	strcpy(fake.server, adm.server);
	cr_assert_eq(net_keypair(fake.pub, fake.sec), 0);
	snprintf(dir, sizeof dir, "%s", h_path("fake1"));
	cr_assert_eq(mkdir(dir, 0700), 0);
	snprintf(key, sizeof key, "%s/agent.key", dir);
	cr_assert_eq(cred_write(key, &fake, 1), 0);
	{
		const char *argv[] = { bin("agent/rs-agent"), "--node", "n1", "--rsd",
				       h_agents_ep(), "--state-dir", dir, NULL };
		snprintf(log, sizeof log, "%s", h_path("fake1.log"));
		a = fork();
		if (a == 0) {
			int fd = open(log, O_WRONLY | O_CREAT, 0600);
			dup2(fd, 2);
			/* as on another host: on this one n1's keeper would
			 * refuse it before rsd sees it (integration/
			 * agent_other_state_dir_refused) */
			h_as_host("fake");
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		h_track_pid(a);
	}
	/* 2. a second real agent for n1, enrolling with the token */
	{
		char dir2[600];
		snprintf(dir2, sizeof dir2, "%s", h_path("second"));
		const char *argv[] = { bin("agent/rs-agent"), "--node", "n1", "--rsd",
				       h_agents_ep(), "--state-dir", dir2, "--token-file",
				       h_path("join.token"), NULL };
		const h_res *r;

		h_as_host("second");   /* another host */
		r = h_run(20000, argv);
		h_as_host(NULL);
		cr_assert_neq(r->code, 0, "a second agent for n1 enrolled");
		cr_assert(strstr(r->err, "already enrolled"), "%s", r->err);
		h_track_pid(h_read_pidfile(h_path("second/run/keeper.pid")));
	}
	{
		const h_res *r = h_rsctl("events", "--json", "-n", "100", NULL);
		cr_assert(strstr(r->out, "duplicate-node"), "no duplicate-node event: %s", r->out);
	}
	/* the real n1 keeps its service, and it runs once */
	cr_assert_eq(pid_of("keep"), keep);
	{
		char state[32];
		cr_assert(h_node_state("n1", state, sizeof state));
		cr_assert_str_eq(state, "up");
	}
	cr_assert(h_pid_alive(a), "the fake agent should keep trying, refused");
	kill(a, SIGKILL);
	waitpid(a, &st, 0);
	cr_assert_eq(pid_of("keep"), keep);
	h_pass();
}

/* Starts rs-agent NODE on state dir DIR (token: NULL or a token file),
 * its stderr to DIR.log; the harness kills it at teardown. */
static pid_t spawn_agent(const char *node, const char *dir, const char *token)
{
	char log[700];
	pid_t a;

	snprintf(log, sizeof log, "%s.log", dir);
	a = fork();
	cr_assert(a >= 0);
	if (a == 0) {
		const char *argv[] = { bin("agent/rs-agent"), "--node", node, "--rsd",
				       h_agents_ep(), "--state-dir", dir,
				       token ? "--token-file" : NULL, token, NULL };
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	h_track_pid(a);
	return a;
}

/* A copy of n1's key on another state dir: a second agent as n1 while n1
 * is connected. Refused (duplicate-node), it starts nothing; n1 keeps its
 * service, once. */
Test(auth, second_agent_with_the_same_key, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char dir[600], cmd[1400];
	pid_t keep, dup, keeper;
	const h_res *r;
	h_inst in;

	assert_code(h_rsctl("up", "keep", "--", "/bin/sleep", "1000", NULL), 0, "up");
	keep = pid_of("keep");
	snprintf(dir, sizeof dir, "%s", h_path("dup"));
	snprintf(cmd, sizeof cmd, "mkdir -m 700 %s && cp -p %s %s/agent.key", dir,
		 h_path("n1/agent.key"), dir);
	{
		const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
		assert_code(h_run(5000, argv), 0, "copy the key");
	}
	/* on another host: on this one n1's keeper would refuse it first */
	h_as_host("dup");
	dup = spawn_agent("n1", dir, NULL);
	h_as_host(NULL);
	cr_assert(h_wait_file_has(h_path("dup.log"), "another agent is connected as this node",
				  10000), "the second agent was not told");
	r = h_rsctl("events", "--json", "-n", "200", NULL);
	cr_assert(strstr(r->out, "duplicate-node"), "no duplicate-node event");
	/* it started nothing: its keeper has no children; keep runs once */
	keeper = h_read_pidfile(h_path("dup/run/keeper.pid"));
	cr_assert_gt(keeper, 0);
	snprintf(cmd, sizeof cmd, "/proc/%d/task/%d/children", (int)keeper, (int)keeper);
	{
		char kids[64] = "";
		FILE *f = fopen(cmd, "r");
		cr_assert(f);
		cr_assert(!fgets(kids, sizeof kids, f) || kids[0] == '\0' ||
			  kids[0] == '\n', "the second agent's keeper runs %s", kids);
		fclose(f);
	}
	cr_assert(h_status_instance("keep", &in));
	cr_assert_eq(in.ninstances, 1);
	cr_assert_eq(in.pid, keep);
	cr_assert(h_pid_alive(keep));
	kill(dup, SIGKILL);
	h_pass();
}

static bool n2_up_fn(void *arg)
{
	char state[32];

	(void)arg;
	return h_node_state("n2", state, sizeof state) && !strcmp(state, "up");
}

static bool n2_lost_fn(void *arg)
{
	char state[32];

	(void)arg;
	return h_node_state("n2", state, sizeof state) && !strcmp(state, "lost");
}

/* token rotate: the old token no longer enrols, the new one does; a
 * revoked node key frees the name for a new enrolment. */
Test(auth, token_rotate_and_node_revoke, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char old[700], oldtok[2048] = "";
	FILE *f;
	pid_t a;
	const h_res *r;

	f = fopen(h_path("join.token"), "r");
	cr_assert(f);
	cr_assert_gt(fread(oldtok, 1, sizeof oldtok - 1, f), 0);
	fclose(f);
	snprintf(old, sizeof old, "%s", h_save("old.token", oldtok));
	r = h_rsctl("token", "rotate", NULL);
	assert_code(r, 0, "token rotate");
	cr_assert(strstr(r->out, "kind = join"), "%s", r->out);
	cr_assert(!h_file_has(h_path("join.token"), oldtok), "join.token not replaced");
	{
		const char *argv[] = { bin("agent/rs-agent"), "--node", "n2", "--rsd",
				       h_agents_ep(), "--state-dir", h_path("n2old"),
				       "--token-file", old, NULL };
		r = h_run(20000, argv);
		cr_assert_neq(r->code, 0, "the old token still enrols");
		cr_assert(strstr(r->err, "refused the join token"), "%s", r->err);
		h_track_pid(h_read_pidfile(h_path("n2old/run/keeper.pid")));
	}
	a = spawn_agent("n2", h_path("n2"), h_path("join.token"));
	cr_assert(h_wait_until(n2_up_fn, NULL, 15000), "n2 did not enrol with the new token");
	/* revoke n2's key: the name can be enrolled again with a new key */
	assert_code(h_rsctl("cred", "revoke", "--node", "n2", NULL), 0, "revoke node");
	/* its open connection is cut too, and the node is lost by the
	 * revocation itself (lib/nodesm's revoke), not by its TTL */
	cr_assert(h_wait_until(n2_lost_fn, NULL, 12000), "n2 stayed up after "
		  "its key was revoked");
	r = h_rsctl("events", "-n", "50", NULL);
	assert_code(r, 0, "events");
	cr_assert(strstr(r->out, "its key was revoked"), "n2 was not lost by its "
		  "revocation: %s", r->out);
	kill(a, SIGKILL);
	waitpid(a, NULL, 0);
	{
		const char *argv[] = { "/bin/rm", "-f", h_path("n2/agent.key"), NULL };
		assert_code(h_run(5000, argv), 0, "rm agent.key");
	}
	spawn_agent("n2", h_path("n2b"), h_path("join.token"));
	{
		cr_assert(h_wait_file_has(h_path("n2b.log"), "enrolled: node n2", 15000),
			  "n2 did not enrol again");
	}
	r = h_rsctl("cred", "list", "--json", NULL);
	assert_code(r, 0, "cred list");
	h_pass();
}

static void setup_insecure(void)
{
	h_opts o = { .agents = 1, .alarm_s = 60, .insecure = true };

	h_setup_opts(&o);
}

/* --insecure: plaintext everywhere, on loopback only, with a warning. */
Test(auth, insecure_loopback_only, .init = setup_insecure, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	char db[600];

	{
		const char *argv[] = { "--insecure", "up", "x", "--", "/bin/sleep", "1000", NULL };
		assert_code(h_rsctl_v(15000, argv), 0, "insecure up");
	}
	cr_assert(access(h_path("admin.cred"), F_OK) != 0, "--insecure made keys");
	snprintf(db, sizeof db, "%s", h_path("other/rs.db"));
	mkdir(h_path("other"), 0700);
	{
		const char *argv[] = { bin("rsd/rsd"), "--insecure", "--db", db, "--control",
				       "tcp://127.0.0.1:*", "--agents", "tcp://0.0.0.0:*", NULL };
		r = h_run(10000, argv);
		cr_assert_neq(r->code, 0, "rsd --insecure on 0.0.0.0 started");
		cr_assert(strstr(r->err, "loopback"), "%s", r->err);
	}
	h_pass();
}
