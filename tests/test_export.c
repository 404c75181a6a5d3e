/*
 * test_export.c - rsctl export [LABEL...] end to end (docs/cli.md
 * "export"): real rsd, rs-agents and rsctl on the authenticated path
 * (tests/harness.c), waits on conditions. What apply started, export
 * writes back: diff of it finds nothing to change and apply of it
 * changes nothing, no process restarted, no new generation.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codes.h"
#include "harness.h"

#define T_TIMEOUT 90

static void setup2(void) { h_setup(2); }
static void teardown(void) { h_teardown(); }

/* "generation pid pid ..." of every service, as status and describe say:
 * what must not change when an apply changes nothing. */
static const char *fingerprint(void)
{
	static char out[4096];
	const h_res *r = h_rsctl("status", "--json", NULL);
	json_t *j = h_json(r), *svc, *in;
	size_t i, k;

	cr_assert_not_null(j, "status: %s %s", r->out, r->err);
	out[0] = '\0';
	json_array_foreach(json_object_get(j, "services"), i, svc) {
		const char *label = json_string_value(json_object_get(svc, "label"));
		const h_res *dr = h_rsctl("describe", label, "--json", NULL);
		json_t *dj = h_json(dr);

		cr_assert_not_null(dj, "describe %s: %s", label, dr->err);
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s:g%lld", label,
			 (long long)json_integer_value(json_object_get(dj, "generation")));
		json_array_foreach(json_object_get(svc, "instances"), k, in) {
			json_int_t pid = json_integer_value(json_object_get(in, "pid"));

			h_track_pid((pid_t)pid);
			snprintf(out + strlen(out), sizeof out - strlen(out), ",%lld",
				 (long long)pid);
		}
		strncat(out, " ", sizeof out - strlen(out) - 1);
	}
	return out;
}

/* diff FILE --json: "+added ~changed -removed" labels, "" when nothing. */
static const char *diff_of(const char *file)
{
	static char out[1024];
	static const char *const keys[] = { "added", "changed", "removed" };
	const h_res *r = h_rsctl("diff", file, "--json", NULL);
	json_t *j = h_json(r), *x;
	size_t i;

	assert_code(r, 0, "diff");
	cr_assert_not_null(j, "diff --json: %s", r->out);
	out[0] = '\0';
	for (size_t k = 0; k < 3; k++)
		json_array_foreach(json_object_get(j, keys[k]), i, x)
			snprintf(out + strlen(out), sizeof out - strlen(out), "%s%c%s",
				 out[0] ? " " : "", "+~-"[k], json_string_value(x));
	return out;
}

static const char *site(void)
{
	static char text[2048];
	const char *ns = h_notifysvc();

	snprintf(text, sizeof text,
		 "services:\n"
		 "  - label: db\n"
		 "    command: [%s, --ready, --status, \"db: ready, 'quoted' \\\"too\\\"\"]\n"
		 "    env: {MODE: fast mode, EMPTY: '', PORT: '5432', YES: 'yes', UNI: é}\n"
		 "    stop_signal: INT\n"
		 "    backoff: {initial: 0.5, max: 10}\n"
		 "    settle: 0.25\n"
		 "  - label: web\n"
		 "    command: [%s, --ready]\n"
		 "    replicas: 2\n"
		 "    placement: {nodes: [n1, n2]}\n"
		 "    depends_on: [db]\n"
		 "    restart: on-failure\n"
		 "    ready_timeout: 7.5\n"
		 "    stop_timeout: 1.5\n"
		 "    critical: true\n"
		 "    cwd: /tmp\n"
		 "  - label: side\n"
		 "    command: [%s, --ready, --status, ünïcødé]\n"
		 "    node: n2\n"
		 "    notify: notify\n"
		 "    fence: stop\n", ns, ns, ns);
	return text;
}

/* apply a manifest, export: diff of the export finds nothing to change,
 * apply of it changes nothing (same generations, same pids) and a
 * second export is the same file. A service wanted down is left out
 * (and named in --json's wanted_down), still with nothing to change. */
Test(export, round_trip_through_apply, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *mf = h_save("site.yaml", site()), *ex;
	char first[4096], before[4096];
	const h_res *r;
	json_t *j;

	r = h_rsctl("apply", mf, NULL);
	assert_code(r, 0, "apply site.yaml");
	cr_assert_str_eq(diff_of(mf), "");
	snprintf(before, sizeof before, "%s", fingerprint());

	r = h_rsctl("export", NULL);
	assert_code(r, 0, "export");
	cr_assert_str_eq(r->err, "", "warnings: %s", r->err);
	cr_assert(strstr(r->out, "label: db") && strstr(r->out, "label: web") &&
		  strstr(r->out, "label: side"), "%s", r->out);
	cr_assert(strstr(r->out, "ünïcødé"), "%s", r->out);
	cr_assert_null(strstr(r->out, "ready_timeout: 10"), "a default written: %s", r->out);
	snprintf(first, sizeof first, "%s", r->out);
	ex = h_save("exported.yaml", r->out);
	cr_assert_str_eq(diff_of(ex), "", "the export differs from the cluster:\n%s", first);

	r = h_rsctl("apply", ex, NULL);
	assert_code(r, 0, "apply the export");
	cr_assert_str_eq(fingerprint(), before, "apply of the export changed something");
	r = h_rsctl("export", NULL);
	assert_code(r, 0, "export again");
	cr_assert_str_eq(r->out, first);

	/* a service wanted down: not exported, not something to change */
	r = h_rsctl("up", "solo", "--", h_notifysvc(), "--ready", NULL);
	assert_code(r, 0, "up solo");
	r = h_rsctl("down", "solo", NULL);
	assert_code(r, 0, "down solo");
	r = h_rsctl("export", "--json", NULL);
	assert_code(r, 0, "export --json");
	j = h_json(r);
	cr_assert_not_null(j, "%s", r->out);
	cr_assert_str_eq(json_string_value(json_object_get(j, "manifest")), first);
	cr_assert_eq(json_array_size(json_object_get(j, "services")), 3);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "wanted_down"), 0)),
			 "solo");
	cr_assert_eq(json_array_size(json_object_get(j, "warnings")), 0);
	cr_assert_str_eq(diff_of(ex), "");
	h_pass();
}

/* More services than rsd makes in one turn (RSD_EXPORT_SLICE, 200): the
 * export is made a slice a turn, and is the same file: every service in
 * label order, diff of it finds nothing to change; a named export of
 * more than a slice keeps the order given. */
Test(export, more_than_a_slice, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	char *text = NULL, label[16];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const char *mf, *ex;
	const h_res *r;
	json_t *j, *names;

	cr_assert_not_null(f);
	fprintf(f, "services:\n");
	for (int i = 1; i <= 450; i++)
		fprintf(f, "  - label: m%03d\n    command: [/bin/sleep, \"1000\"]\n", i);
	fclose(f);
	mf = h_save("many.yaml", text);
	free(text);
	r = h_rsctl_t(80000, "apply", mf, "--timeout", "75", NULL);
	assert_code(r, 0, "apply 450 services");

	r = h_rsctl("export", "--json", NULL);
	assert_code(r, 0, "export --json");
	j = h_json(r);
	cr_assert_not_null(j, "%s", r->err);
	names = json_object_get(j, "services");
	cr_assert_eq(json_array_size(names), 450);
	for (int i = 1; i <= 450; i++) {
		snprintf(label, sizeof label, "m%03d", i);
		cr_assert_str_eq(json_string_value(json_array_get(names, (size_t)i - 1)), label);
	}
	ex = h_save("exported.yaml", json_string_value(json_object_get(j, "manifest")));
	cr_assert_str_eq(diff_of(ex), "", "the export differs from the cluster");

	/* named, in the order given: the last slice's first */
	{
		const char *argv[260];
		char lbl[250][8];
		int n = 0;

		argv[n++] = "export";
		argv[n++] = "--json";
		for (int i = 0; i < 250; i++) {
			snprintf(lbl[i], sizeof lbl[i], "m%03d", 450 - i);
			argv[n++] = lbl[i];
		}
		argv[n] = NULL;
		r = h_rsctl_v(30000, argv);
	}
	assert_code(r, 0, "export of 250 named");
	j = h_json(r);
	cr_assert_not_null(j, "%s", r->err);
	names = json_object_get(j, "services");
	cr_assert_eq(json_array_size(names), 250);
	cr_assert_str_eq(json_string_value(json_array_get(names, 0)), "m450");
	cr_assert_str_eq(json_string_value(json_array_get(names, 249)), "m201");
	cr_assert(strstr(json_string_value(json_object_get(j, "manifest")), "label: m450"));
	h_pass();
}

/* export LABEL...: those services only, in the order given, with warnings
 * on stderr (a dependency left out, a file that names only some); an
 * unknown label is 3; a viewer may not export (the file holds env
 * values), an operator limited to labels only its own labels. */
Test(export, labels_unknown_and_roles, .init = setup2, .fini = teardown,
     .timeout = T_TIMEOUT)
{
	const char *mf = h_save("site.yaml", site()), *viewer, *webop;
	const h_res *r;

	r = h_rsctl("apply", mf, NULL);
	assert_code(r, 0, "apply site.yaml");

	r = h_rsctl("export", "side", NULL);
	assert_code(r, 0, "export side");
	cr_assert(strstr(r->out, "- label: side\n"), "%s", r->out);
	cr_assert_null(strstr(r->out, "label: db"), "%s", r->out);
	cr_assert(strstr(r->err, "names 1 of rsd's 3 services"), "%s", r->err);
	r = h_rsctl("export", "web", "db", NULL);
	assert_code(r, 0, "export web db");
	cr_assert(strstr(r->out, "label: web") && strstr(r->out, "label: db") &&
		  strstr(r->out, "label: web") < strstr(r->out, "label: db"), "%s", r->out);
	cr_assert_null(strstr(r->err, "depends on"), "%s", r->err);
	r = h_rsctl("export", "web", NULL);
	assert_code(r, 0, "export web");
	cr_assert(strstr(r->err, "web depends on db, which is not in this file"), "%s", r->err);

	r = h_rsctl("export", "nosuch", NULL);
	assert_code(r, RS_E_NOENT, "export unknown");
	cr_assert(strstr(r->err, "unknown service 'nosuch'"), "%s", r->err);
	r = h_rsctl("export", "db", "nosuch", NULL);
	assert_code(r, RS_E_NOENT, "export db unknown");
	cr_assert_str_eq(r->out, "");

	r = h_rsctl("cred", "create", "v", "--role", "viewer", NULL);
	assert_code(r, 0, "cred create viewer");
	viewer = h_save("v.cred", r->out);
	r = h_rsctl_v(15000, (const char *const[]){ "--cred", viewer, "export", NULL });
	assert_code(r, RS_E_FORBIDDEN, "a viewer's export");
	r = h_rsctl("cred", "create", "w", "--role", "operator", "--labels", "web*", NULL);
	assert_code(r, 0, "cred create operator web*");
	webop = h_save("w.cred", r->out);
	r = h_rsctl_v(15000, (const char *const[]){ "--cred", webop, "export", NULL });
	assert_code(r, RS_E_FORBIDDEN, "a limited operator's export of everything");
	r = h_rsctl_v(15000, (const char *const[]){ "--cred", webop, "export", "web", NULL });
	assert_code(r, 0, "a limited operator's export of its label");
	r = h_rsctl_v(15000, (const char *const[]){ "--cred", webop, "export", "web", "db",
						    NULL });
	assert_code(r, RS_E_FORBIDDEN, "a limited operator's export of another label");
	h_pass();
}
