/*
 * test_durable.c - commit, then act: with the disk under --db full, a
 * request whose decision cannot be recorded fails with exit 10 and changes
 * nothing, in rsd's table or on any node; after space is freed and rsd
 * restarted, everything is as before the requests. Real rsd, rs-agent and
 * rsctl (tests/harness.c), the db on a small tmpfs this test mounts (root;
 * skipped otherwise) and unmounts even when it fails.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "codes.h"
#include "harness.h"

#define T_TIMEOUT 90
/* room for the db, its WAL (which only grows: the autocheckpoint needs
 * 4 MiB of it) and the -shm, with rsd's key files */
#define DB_FS_OPTS "size=2m,mode=0700"

static char mnt[64];
static char filler[96];
static bool mounted;

static void teardown(void)
{
	h_teardown();
	if (mounted) {
		umount2(mnt, MNT_DETACH);
		mounted = false;
	}
	if (mnt[0])
		rmdir(mnt);
	mnt[0] = '\0';
}

/* Mounts a small tmpfs for the db; false if this process may not. */
static bool mount_db_fs(void)
{
	snprintf(mnt, sizeof mnt, "/tmp/rs-durable-XXXXXX");
	cr_assert_not_null(mkdtemp(mnt), "mkdtemp: %s", strerror(errno));
	if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, DB_FS_OPTS) < 0)
		return false;
	mounted = true;
	snprintf(filler, sizeof filler, "%s/filler", mnt);
	return true;
}

/* Takes every free byte of the db's file system. */
static void fill_db_fs(void)
{
	char chunk[4096];
	int fd = open(filler, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0, "open %s: %s", filler, strerror(errno));
	memset(chunk, 'f', sizeof chunk);
	while (write(fd, chunk, sizeof chunk) > 0)
		;
	close(fd);
}

#define assert_refused(r, what)                                               \
	do {                                                                  \
		cr_assert_eq((r)->code, RS_E_INTERNAL,                        \
			     "%s on a full disk: rsctl exited %d, want 10\n"  \
			     "stdout: %s\nstderr: %s", (what), (r)->code,     \
			     (r)->out, (r)->err);                             \
		cr_assert(strstr((r)->err, "nothing was changed") &&         \
			  strstr((r)->err, "full"),                           \
			  "%s: unclear message: %s", (what), (r)->err);      \
	} while (0)

/* a is as it was: one instance, running on the same node with the same
 * pid, wanted up. */
static void assert_unchanged(const h_inst *was, const char *after)
{
	h_inst now;

	cr_assert(h_status_instance("a", &now), "after %s: no status of a", after);
	cr_assert_str_eq(now.desired, "up", "after %s: a is wanted %s", after,
			 now.desired);
	cr_assert_str_eq(now.state, "running", "after %s: a is %s", after, now.state);
	cr_assert_eq(now.pid, was->pid, "after %s: a's pid %d became %d", after,
		     (int)was->pid, (int)now.pid);
	cr_assert_str_eq(now.node, was->node, "after %s: a moved from %s to %s",
			 after, was->node, now.node);
	cr_assert_eq(now.ninstances, 1, "after %s: a has %d instances", after,
		     now.ninstances);
	cr_assert(h_pid_alive(was->pid), "after %s: pid %d is gone", after,
		  (int)was->pid);
}

/* Whether node name is drained, as rsctl nodes says. */
static bool node_drained(const char *name)
{
	const h_res *r = h_rsctl("--json", "nodes", NULL);
	json_t *j = r->code == 0 ? h_json(r) : NULL, *n;
	size_t i;

	cr_assert_not_null(j, "rsctl nodes: exit %d: %s", r->code, r->err);
	json_array_foreach(json_object_get(j, "nodes"), i, n)
		if (!strcmp(json_string_value(json_object_get(n, "name")), name))
			return json_is_true(json_object_get(n, "drained"));
	cr_assert_fail("no node %s", name);
	return false;
}

struct same { const h_inst *was; };

static bool back_as_before(void *arg)
{
	const h_inst *was = ((struct same *)arg)->was;
	h_inst now;

	return h_nodes_all_up() && h_status_instance("a", &now) &&
	       !strcmp(now.state, "running") && now.pid == was->pid &&
	       !strcmp(now.desired, "up") && now.ninstances == 1;
}

/* A cluster of `agents` nodes whose db is on a small tmpfs, running one
 * instance of a (*a); skips the test where no tmpfs can be mounted. */
static void setup_a_on_small_fs(int agents, h_inst *a)
{
	h_opts o = { .agents = agents, .alarm_s = T_TIMEOUT - 10 };
	const h_res *r;

	if (!mount_db_fs())
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
	o.db_dir = mnt;
	h_setup_opts(&o);
	r = h_rsctl("up", "a", "--", h_notifysvc(), "--ready", NULL);
	cr_assert_eq(r->code, 0, "up: exit %d: %s", r->code, r->err);
	cr_assert(h_status_instance("a", a) && a->pid > 0 &&
		  h_pid_alive(a->pid));
}

Test(durable, full_disk_refuses_down_drain_clone_and_changes_nothing,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	h_inst a;
	const h_res *r;
	struct same s = { &a };

	setup_a_on_small_fs(2, &a);

	fill_db_fs();

	r = h_rsctl("down", "a", NULL);
	assert_refused(r, "down a");
	assert_unchanged(&a, "down");

	r = h_rsctl("drain", a.node, NULL);
	assert_refused(r, "drain");
	assert_unchanged(&a, "drain");
	cr_assert(!node_drained(a.node), "node %s is drained after a refused drain",
		  a.node);

	r = h_rsctl("clone", "a", NULL);
	assert_refused(r, "clone a");
	assert_unchanged(&a, "clone");

	/* space again; a new rsd sees only what was recorded */
	cr_assert_eq(unlink(filler), 0, "unlink %s: %s", filler, strerror(errno));
	h_kill_rsd(SIGKILL);
	h_restart_rsd();
	cr_assert(h_wait_until(back_as_before, &s, 15000),
		  "after the rsd restart a is not running as before (pid %d)",
		  (int)a.pid);
	assert_unchanged(&a, "the rsd restart");
	h_pass();
}

/* The state rsctl nodes shows for node name. */
static void node_state(const char *name, char *out, size_t len)
{
	const h_res *r = h_rsctl("--json", "nodes", NULL);
	json_t *j = r->code == 0 ? h_json(r) : NULL, *n;
	size_t i;

	cr_assert_not_null(j, "rsctl nodes: exit %d: %s", r->code, r->err);
	json_array_foreach(json_object_get(j, "nodes"), i, n)
		if (!strcmp(json_string_value(json_object_get(n, "name")), name)) {
			snprintf(out, len, "%s",
				 json_string_value(json_object_get(n, "state")));
			return;
		}
	cr_assert_fail("no node %s", name);
}

static bool all_up(void *arg)
{
	(void)arg;
	return h_nodes_all_up();
}

static bool node_not_up(void *arg)
{
	char st[16];

	node_state(arg, st, sizeof st);
	return strcmp(st, "up") != 0;
}

/* A Hello shares its wake-up's transaction with the other Hellos and
 * events (group commit): when that commit fails, the node is not up (no
 * Welcome, nothing placed there) and its agent keeps knocking; once the
 * store takes writes again, a knock is recorded and its instance adopted
 * with the same pid. */
Test(durable, full_disk_hello_is_not_recorded_until_it_can_be,
     .fini = teardown, .timeout = T_TIMEOUT)
{
	h_inst a;
	struct same s = { &a };

	setup_a_on_small_fs(1, &a);

	fill_db_fs();
	/* a new agent process: its Hello must be recorded to count */
	h_kill_agent(1, SIGKILL);
	h_restart_agent(1);
	cr_assert(h_wait_until(node_not_up, (void *)a.node, 15000),
		  "node %s is up although its Hello could not be recorded", a.node);
	/* it knocks (100 ms .. 2 s) and stays out while nothing is recorded */
	cr_assert_not(h_wait_until(all_up, NULL, 3000),
		      "node %s came up on a full disk", a.node);
	cr_assert(h_pid_alive(a.pid), "a (pid %d) died while rsd could not record",
		  (int)a.pid);

	cr_assert_eq(unlink(filler), 0, "unlink %s: %s", filler, strerror(errno));
	cr_assert(h_wait_until(back_as_before, &s, 15000),
		  "with space again node %s is not back with a (pid %d) as before",
		  a.node, (int)a.pid);
	assert_unchanged(&a, "the Hello recorded at last");
	h_pass();
}
