/*
 * test_authz.c - the role policy (lib/auth.c) for every role x verb, label
 * patterns, and key files (lib/cred.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "cred.h"
#include "net.h"

static bool allowed(rs_role role, const char *pat, rs_verb v, const char *label)
{
	rs_request rq;
	char why[256];

	memset(&rq, 0, sizeof rq);
	rq.verb = v;
	snprintf(rq.label, sizeof rq.label, "%s", label);
	return auth_allowed(role, pat, &rq, why, sizeof why);
}

/* Every role x verb against the documented table. */
Test(authz, every_role_and_verb)
{
	static const rs_verb viewer[] = {
		RS_V_STATUS, RS_V_NODES, RS_V_LOOKUP, RS_V_EVENTS, RS_V_PING, RS_V_LOGS,
		RS_V_UPGRADE_PLAN, RS_V_DESCRIBE, RS_V_HISTORY,
	};
	static const rs_verb admin_only[] = {
		RS_V_SHUTDOWN, RS_V_CRED_CREATE, RS_V_CRED_LIST, RS_V_CRED_REVOKE,
		RS_V_TOKEN_ROTATE, RS_V_NONE,
	};

	for (int v = 0; v < RS_V__NR; v++) {
		bool is_viewer = false, is_admin = false;

		if (!rs_verb_known(v)) {   /* a gap in the numbering: no verb */
			cr_assert_eq(auth_verb_role(v), RS_ROLE_ADMIN, "gap %d", v);
			cr_assert_eq(allowed(RS_ROLE_OPERATOR, "", v, "x"), false, "gap %d", v);
			continue;
		}

		for (size_t i = 0; i < sizeof viewer / sizeof *viewer; i++)
			is_viewer |= viewer[i] == (rs_verb)v;
		for (size_t i = 0; i < sizeof admin_only / sizeof *admin_only; i++)
			is_admin |= admin_only[i] == (rs_verb)v;
		cr_assert_eq(allowed(RS_ROLE_NONE, "", v, "x"), false, "none/%d", v);
		cr_assert_eq(allowed(RS_ROLE_VIEWER, "", v, "x"), is_viewer,
			     "viewer/%s", rs_verb_to_string(v));
		cr_assert_eq(allowed(RS_ROLE_OPERATOR, "", v, "x"), !is_admin,
			     "operator/%s", rs_verb_to_string(v));
		cr_assert_eq(allowed(RS_ROLE_ADMIN, "", v, "x"), true,
			     "admin/%s", rs_verb_to_string(v));
		cr_assert_eq(auth_verb_role(v), is_viewer ? RS_ROLE_VIEWER :
			     is_admin ? RS_ROLE_ADMIN : RS_ROLE_OPERATOR);
	}
	cr_assert_eq(auth_verb_role((rs_verb)999), RS_ROLE_ADMIN);
}

Test(authz, operator_label_patterns)
{
	cr_assert(allowed(RS_ROLE_OPERATOR, "web*", RS_V_DOWN, "web1"));
	cr_assert(!allowed(RS_ROLE_OPERATOR, "web*", RS_V_DOWN, "db"));
	cr_assert(allowed(RS_ROLE_OPERATOR, "web*,db-?", RS_V_UP, "db-1"));
	cr_assert(!allowed(RS_ROLE_OPERATOR, "web*,db-?", RS_V_UP, "db-10"));
	/* viewers' verbs are not limited, and a limited operator reads all */
	cr_assert(allowed(RS_ROLE_OPERATOR, "web*", RS_V_STATUS, "db"));
	cr_assert(allowed(RS_ROLE_OPERATOR, "web*", RS_V_DESCRIBE, "db"));
	cr_assert(allowed(RS_ROLE_VIEWER, "web*", RS_V_DESCRIBE, "db"));
	cr_assert(allowed(RS_ROLE_VIEWER, "web*", RS_V_HISTORY, "db"));
	/* verbs on every label need an unlimited operator */
	cr_assert(!allowed(RS_ROLE_OPERATOR, "web*", RS_V_APPLY, ""));
	cr_assert(!allowed(RS_ROLE_OPERATOR, "web*", RS_V_DRAIN, "n1"));
	cr_assert(allowed(RS_ROLE_OPERATOR, "*", RS_V_DRAIN, "n1"));
	cr_assert(allowed(RS_ROLE_OPERATOR, "web*,*", RS_V_APPLY, ""));
	/* delete and export: on its labels; export of everything: unlimited */
	cr_assert(allowed(RS_ROLE_OPERATOR, "web*", RS_V_DELETE, "web1"));
	cr_assert(!allowed(RS_ROLE_OPERATOR, "web*", RS_V_DELETE, "db"));
	cr_assert(allowed(RS_ROLE_OPERATOR, "web*", RS_V_EXPORT, "web1"));
	cr_assert(!allowed(RS_ROLE_OPERATOR, "web*", RS_V_EXPORT, "db"));
	cr_assert(!allowed(RS_ROLE_OPERATOR, "web*", RS_V_EXPORT, ""));
	cr_assert(allowed(RS_ROLE_OPERATOR, "", RS_V_EXPORT, ""));
	cr_assert(!allowed(RS_ROLE_VIEWER, "", RS_V_EXPORT, ""));
	cr_assert(auth_labels_all(""));
	cr_assert(!auth_labels_all("web*"));
	cr_assert(auth_patterns_valid("web*,db-?,[ab]x"));
	cr_assert(!auth_patterns_valid("web*;rm"));
	cr_assert(!auth_patterns_valid("a b"));
}

/* A batch update names more labels: each must match. */
Test(authz, batch_labels_checked)
{
	rs_request rq;
	char why[256], *batch[] = { "web2", "db", NULL };

	memset(&rq, 0, sizeof rq);
	rq.verb = RS_V_UPDATE;
	strcpy(rq.label, "web1");
	rq.batch = batch;
	rq.nbatch = 2;
	cr_assert(!auth_allowed(RS_ROLE_OPERATOR, "web*", &rq, why, sizeof why));
	cr_assert(strstr(why, "db"), "%s", why);
	rq.nbatch = 1;
	cr_assert(auth_allowed(RS_ROLE_OPERATOR, "web*", &rq, why, sizeof why));
}

Test(authz, roles_round_trip)
{
	for (int r = RS_ROLE_VIEWER; r < RS_ROLE__NR; r++)
		cr_assert_eq(rs_role_from_string(rs_role_to_string(r)), r);
	cr_assert_eq(rs_role_from_string("root"), -EINVAL);
	cr_assert_eq(rs_role_from_string("none"), -EINVAL);
}

/* ---- key files -------------------------------------------------------- */

Test(cred, format_parse_round_trip)
{
	rs_cred c, d;
	char text[2048], err[256];

	memset(&c, 0, sizeof c);
	strcpy(c.kind, "operator");
	strcpy(c.name, "alice");
	strcpy(c.role, "operator");
	strcpy(c.labels, "web*");
	cr_assert_eq(net_keypair(c.server, c.sec), 0);   /* any key */
	cr_assert_eq(net_keypair(c.pub, c.sec), 0);
	cr_assert_gt(cred_format(&c, text, sizeof text), 0);
	cr_assert_eq(cred_parse(text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(memcmp(&c, &d, sizeof c), 0);
}

Test(cred, bad_files_refused)
{
	char pub[41], sec[41], other[41], text[1024], err[256];
	rs_cred c;

	cr_assert_eq(net_keypair(pub, sec), 0);
	cr_assert_eq(net_keypair(other, sec), 0);
	cr_assert_eq(cred_parse("name = x\n", &c, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "kind"), "%s", err);
	cr_assert_eq(cred_parse("kind = operator\nbogus = 1\n", &c, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "line 2"), "%s", err);
	cr_assert_eq(cred_parse("kind = operator\nsecret-key = short\n", &c, err,
				sizeof err), -EINVAL);
	cr_assert_eq(cred_parse("kind operator\n", &c, err, sizeof err), -EINVAL);
	/* a public key that is not the secret key's */
	snprintf(text, sizeof text, "kind = operator\npublic-key = %s\nsecret-key = %s\n",
		 pub, sec);
	cr_assert_eq(cred_parse(text, &c, err, sizeof err), -EINVAL, "%s", err);
	/* the public key is derived when absent */
	snprintf(text, sizeof text, "# c\n\n kind = node \nsecret-key = %s\n", sec);
	cr_assert_eq(cred_parse(text, &c, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(c.pub, other);
	cr_assert_str_eq(c.kind, "node");
}

Test(cred, write_is_private_and_read_refuses_open_files)
{
	char dir[] = "/tmp/rs-cred-XXXXXX", path[64], err[512];
	rs_cred c, d;
	struct stat st;

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/k", dir);
	memset(&c, 0, sizeof c);
	strcpy(c.kind, "join");
	cr_assert_eq(net_keypair(c.pub, c.sec), 0);
	strcpy(c.server, c.pub);
	cr_assert_eq(cred_write(path, &c, 1), 0);
	cr_assert_eq(cred_write(path, &c, 1), -EEXIST);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(cred_read(path, &d, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(d.sec, c.sec);
	chmod(path, 0644);
	cr_assert_eq(cred_read(path, &d, err, sizeof err), -EPERM);
	cr_assert(strstr(err, "chmod 600"), "%s", err);
	unlink(path);
	cr_assert_eq(cred_read(path, &d, err, sizeof err), -ENOENT);
	rmdir(dir);
}

Test(cred, names)
{
	cr_assert(cred_name_valid("alice"));
	cr_assert(cred_name_valid("n-1.b_2"));
	cr_assert(!cred_name_valid(""));
	cr_assert(!cred_name_valid("a b"));
	cr_assert(!cred_name_valid("a:b"));
}
