/*
 * test_history.c - rsctl history, update --to-revision and undo end to
 * end (docs/cli.md "history"): real rsd, rs-agent and rsctl
 * (tests/harness.c), on the authenticated path; waits on conditions.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "codes.h"
#include "harness.h"

#define T_TIMEOUT 90

static void setup1(void) { h_setup(1); }
static void teardown(void) { h_teardown(); }

/* `history LABEL --json` (exit 0), its revisions array borrowed from the
 * returned root (the caller decrefs it). */
static json_t *history(const char *cred, const char *label)
{
	const h_res *r = cred ?
		h_rsctl_v(15000, (const char *const[]){ "--cred", cred, "--json",
							"history", label, NULL }) :
		h_rsctl("--json", "history", label, NULL);
	json_t *j;

	assert_code(r, 0, "history");
	j = h_json(r);
	cr_assert_not_null(j, "%s", r->out);
	cr_assert(json_is_array(json_object_get(j, "revisions")), "%s", r->out);
	return j;
}

static const json_t *rev_at(const json_t *j, size_t i)
{
	return json_array_get(json_object_get(j, "revisions"), i);
}

/* Whether revision rev's command ends in last and its env has kv ("" =
 * none expected: then the env must be empty). */
static bool rev_is(const json_t *rev, const char *last, const char *kv)
{
	const json_t *cmd = json_object_get(rev, "command");
	const json_t *env = json_object_get(rev, "env");
	const char *tail = json_string_value(json_array_get(cmd, json_array_size(cmd) - 1));
	bool has = !*kv && json_array_size(env) == 0;
	const json_t *v;
	size_t i;

	json_array_foreach(env, i, v)
		has |= *kv && json_string_value(v) && !strcmp(json_string_value(v), kv);
	return tail && !strcmp(tail, last) && has;
}

static pid_t pid_of(const char *label)
{
	h_inst in;

	cr_assert(h_status_instance(label, &in), "no instance of %s", label);
	h_track_pid(in.pid);
	return in.pid;
}

Test(history, revisions_undo_and_to_revision, .init = setup1, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const h_res *r;
	json_t *j;
	pid_t before;
	const char *viewer;
	char *dump;

	r = h_rsctl("up", "web", "--", h_notifysvc(), "--ready", "--status", "v1", NULL);
	assert_code(r, 0, "up web");
	r = h_rsctl("edit", "web", "--env", "SECRET=s1", NULL);
	assert_code(r, 0, "edit --env");
	r = h_rsctl("update", "web", "--min-healthy", "0.2", "--args", "--ready",
		    "--status", "v3", NULL);
	assert_code(r, 0, "update --args");

	j = history(NULL, "web");
	cr_assert_str_eq(h_jstr(j, "label"), "web");
	cr_assert_eq(json_array_size(json_object_get(j, "revisions")), 3);
	cr_assert_str_eq(h_jstr(rev_at(j, 0), "kind"), "up");
	cr_assert_str_eq(h_jstr(rev_at(j, 1), "kind"), "edit");
	cr_assert_str_eq(h_jstr(rev_at(j, 2), "kind"), "update");
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(json_integer_value(json_object_get(rev_at(j, i), "revision")),
			     (json_int_t)i + 1);
		cr_assert(strstr(h_jstr(rev_at(j, i), "actor"), "operator:"), "actor %s",
			  h_jstr(rev_at(j, i), "actor"));
	}
	cr_assert(rev_is(rev_at(j, 0), "v1", ""));
	cr_assert(rev_is(rev_at(j, 1), "v1", "SECRET=s1"));
	cr_assert(rev_is(rev_at(j, 2), "v3", "SECRET=s1"));
	json_decref(j);
	r = h_rsctl("history", "web", NULL);
	assert_code(r, 0, "history table");
	cr_assert(strstr(r->out, "REV") && strstr(r->out, "KIND") &&
		  strstr(r->out, "undo") == NULL && strstr(r->out, "edit"), "%s", r->out);

	/* undo: a coordinated update back to revision 2's spec */
	before = pid_of("web");
	r = h_rsctl("undo", "web", "--min-healthy", "0.2", NULL);
	assert_code(r, 0, "undo");
	cr_assert_neq(pid_of("web"), before, "undo did not replace the process");
	j = history(NULL, "web");
	cr_assert_eq(json_array_size(json_object_get(j, "revisions")), 4);
	cr_assert_str_eq(h_jstr(rev_at(j, 3), "kind"), "undo");
	cr_assert(rev_is(rev_at(j, 3), "v1", "SECRET=s1"), "undo's spec is not revision 2's");
	json_decref(j);
	r = h_rsctl("--json", "describe", "web", NULL);
	assert_code(r, 0, "describe");
	cr_assert(strstr(r->out, "SECRET=s1") && !strstr(r->out, "\"v3\""), "%s", r->out);

	/* --to-revision 1; then the same again: nothing to change */
	before = pid_of("web");
	r = h_rsctl("update", "web", "--to-revision", "1", "--min-healthy", "0.2", NULL);
	assert_code(r, 0, "update --to-revision 1");
	cr_assert_neq(pid_of("web"), before);
	j = history(NULL, "web");
	cr_assert_eq(json_array_size(json_object_get(j, "revisions")), 5);
	cr_assert(rev_is(rev_at(j, 4), "v1", ""));
	json_decref(j);
	before = pid_of("web");
	r = h_rsctl("update", "web", "--to-revision", "1", NULL);
	assert_code(r, 0, "to the spec it has");
	cr_assert(strstr(r->out, "nothing to change"), "%s", r->out);
	cr_assert_eq(pid_of("web"), before);

	r = h_rsctl("update", "web", "--to-revision", "42", NULL);
	assert_code(r, RS_E_INVAL, "unknown revision");
	cr_assert(strstr(r->err, "no revision 42") && strstr(r->err, "1, 2, 3, 4, 5"),
		  "%s", r->err);
	assert_code(h_rsctl("history", "nosuch", NULL), RS_E_NOENT, "history nosuch");
	assert_code(h_rsctl("undo", "nosuch", NULL), RS_E_NOENT, "undo nosuch");

	/* a viewer reads the history with env values masked */
	r = h_rsctl("cred", "create", "v", "--role", "viewer", NULL);
	assert_code(r, 0, "cred create viewer");
	viewer = h_save("v.cred", r->out);
	j = history(viewer, "web");
	dump = json_dumps(j, JSON_COMPACT);
	cr_assert(dump && !strstr(dump, "s1"), "a viewer sees the value: %s", dump);
	free(dump);
	cr_assert_eq(json_array_size(json_object_get(rev_at(j, 1), "env")), 1);
	json_decref(j);
	r = h_rsctl_v(15000, (const char *const[]){ "--cred", viewer, "undo", "web", NULL });
	assert_code(r, RS_E_FORBIDDEN, "a viewer's undo");

	/* delete drops the history: a new web starts at revision 1 */
	assert_code(h_rsctl("delete", "web", NULL), 0, "delete");
	r = h_rsctl("up", "web", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up again");
	pid_of("web");
	j = history(NULL, "web");
	cr_assert_eq(json_array_size(json_object_get(j, "revisions")), 1);
	json_decref(j);
	h_pass();
}
