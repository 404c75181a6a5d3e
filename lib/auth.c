/*
 * auth.c - the role policy (auth.h).
 */
#include "auth.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

static const char *const role_names[RS_ROLE__NR] = {
	"none", "viewer", "operator", "admin",
};

/* The least role of each verb. A verb missing here needs admin. */
static const rs_role verb_role[RS_V__NR] = {
	[RS_V_STATUS]  = RS_ROLE_VIEWER,
	[RS_V_NODES]   = RS_ROLE_VIEWER,
	[RS_V_LOOKUP]  = RS_ROLE_VIEWER,
	[RS_V_EVENTS]  = RS_ROLE_VIEWER,
	[RS_V_PING]    = RS_ROLE_VIEWER,
	[RS_V_LOGS]    = RS_ROLE_VIEWER,
	[RS_V_UPGRADE_PLAN] = RS_ROLE_VIEWER,
	[RS_V_DESCRIBE] = RS_ROLE_VIEWER,
	[RS_V_HISTORY] = RS_ROLE_VIEWER,
	[RS_V_UP]      = RS_ROLE_OPERATOR,
	[RS_V_DOWN]    = RS_ROLE_OPERATOR,
	[RS_V_REFRESH] = RS_ROLE_OPERATOR,
	[RS_V_RESTART] = RS_ROLE_OPERATOR,
	[RS_V_EDIT]    = RS_ROLE_OPERATOR,
	[RS_V_CLONE]   = RS_ROLE_OPERATOR,
	[RS_V_UNCLONE] = RS_ROLE_OPERATOR,
	[RS_V_UPDATE]  = RS_ROLE_OPERATOR,
	[RS_V_APPLY]   = RS_ROLE_OPERATOR,
	[RS_V_DRAIN]   = RS_ROLE_OPERATOR,
	[RS_V_UNDRAIN] = RS_ROLE_OPERATOR,
	[RS_V_NODE_FORGET] = RS_ROLE_OPERATOR,
	[RS_V_DELETE]  = RS_ROLE_OPERATOR,
	/* a spec's env values, which a viewer sees masked: the file must
	 * apply as it is, so no masking, and no viewer */
	[RS_V_EXPORT]  = RS_ROLE_OPERATOR,
	[RS_V_RELOAD]  = RS_ROLE_OPERATOR,
	[RS_V_KILL]    = RS_ROLE_OPERATOR,
	[RS_V_SHUTDOWN]     = RS_ROLE_ADMIN,
	[RS_V_CRED_CREATE]  = RS_ROLE_ADMIN,
	[RS_V_CRED_LIST]    = RS_ROLE_ADMIN,
	[RS_V_CRED_REVOKE]  = RS_ROLE_ADMIN,
	[RS_V_TOKEN_ROTATE] = RS_ROLE_ADMIN,
};

/* Operator verbs that act on every label (or on nodes): an operator
 * limited to some labels may not send them. */
static const bool verb_all_labels[RS_V__NR] = {
	[RS_V_APPLY] = true, [RS_V_DRAIN] = true, [RS_V_UNDRAIN] = true,
	[RS_V_NODE_FORGET] = true,
};

const char *rs_role_to_string(rs_role r)
{
	return (unsigned)r < RS_ROLE__NR ? role_names[r] : "invalid";
}

int rs_role_from_string(const char *s)
{
	for (int i = RS_ROLE_VIEWER; i < RS_ROLE__NR; i++)
		if (strcmp(role_names[i], s) == 0)
			return i;
	return -EINVAL;
}

rs_role auth_verb_role(rs_verb v)
{
	if (!rs_verb_known(v) || verb_role[v] == RS_ROLE_NONE)
		return RS_ROLE_ADMIN;
	return verb_role[v];
}

bool auth_labels_all(const char *patterns)
{
	const char *p = patterns;

	if (!p || !*p)
		return true;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == 1 && *p == '*')
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

bool auth_labels_match(const char *patterns, const char *label)
{
	const char *p = patterns;
	char one[128];

	if (auth_labels_all(patterns))
		return true;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n > 0 && n < sizeof one) {
			memcpy(one, p, n);
			one[n] = '\0';
			if (fnmatch(one, label, 0) == 0)
				return true;
		}
		p += n + (p[n] == ',');
	}
	return false;
}

bool auth_patterns_valid(const char *patterns)
{
	size_t n = strlen(patterns);

	if (n >= 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = patterns[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._-@:*?[]!,", c)))
			return false;
	}
	return true;
}

bool auth_allowed(rs_role role, const char *patterns, const rs_request *rq,
		  char *why, size_t n)
{
	rs_role need = auth_verb_role(rq->verb);
	const char *verb = rs_verb_to_string(rq->verb);

	if (role < need) {
		snprintf(why, n, "role %s may not %s (it needs %s)",
			 rs_role_to_string(role), verb, rs_role_to_string(need));
		return false;
	}
	if (role == RS_ROLE_ADMIN || need == RS_ROLE_VIEWER ||
	    auth_labels_all(patterns))
		return true;
	if ((unsigned)rq->verb < RS_V__NR && verb_all_labels[rq->verb]) {
		snprintf(why, n, "role operator limited to labels '%s' may not %s "
			 "(it acts on every label)", patterns, verb);
		return false;
	}
	if (rq->verb == RS_V_EXPORT && !rq->label[0]) {
		snprintf(why, n, "role operator limited to labels '%s' may not export "
			 "every service (name the labels)", patterns);
		return false;
	}
	if (!auth_labels_match(patterns, rq->label)) {
		snprintf(why, n, "role operator limited to labels '%s' may not %s %s",
			 patterns, verb, rq->label);
		return false;
	}
	for (size_t i = 0; i < rq->nbatch; i++)
		if (!auth_labels_match(patterns, rq->batch[i])) {
			snprintf(why, n, "role operator limited to labels '%s' may "
				 "not %s %s", patterns, verb, rq->batch[i]);
			return false;
		}
	return true;
}
