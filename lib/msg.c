#include "msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void rs_msg_init(rs_msg *m, rs_msg_type type)
{
	memset(m, 0, sizeof *m);
	m->type = type;
	m->version = RS_PROTO_VERSION;
	if (type == RS_MSG_START)
		rs_spec_init(&m->u.start.spec);
	else if (type == RS_MSG_REQUEST)
		rs_spec_init(&m->u.request.spec);
}

void rs_msg_clear(rs_msg *m)
{
	switch (m->type) {
	case RS_MSG_HELLO:
		for (size_t i = 0; i < m->u.hello.nlabels; i++)
			free(m->u.hello.labels[i]);
		free(m->u.hello.labels);
		free(m->u.hello.instances);
		break;
	case RS_MSG_BEAT:
		free(m->u.beat.usage);
		break;
	case RS_MSG_EVENT:
		free(m->u.event.detail);
		break;
	case RS_MSG_START:
		rs_spec_clear(&m->u.start.spec);
		break;
	case RS_MSG_REQUEST:
		rs_spec_clear(&m->u.request.spec);
		for (size_t i = 0; i < m->u.request.nspecs; i++)
			rs_spec_clear(&m->u.request.specs[i]);
		free(m->u.request.specs);
		for (size_t i = 0; i < m->u.request.nbatch; i++)
			free(m->u.request.batch[i]);
		free(m->u.request.batch);
		break;
	case RS_MSG_ENROLLED:
		free(m->u.enrolled.message);
		break;
	case RS_MSG_REPLY:
		free(m->u.reply.message);
		free(m->u.reply.json);
		free(m->u.reply.rows);
		free(m->u.reply.rows_text);
		break;
	case RS_MSG_LOGS_DATA:
		free(m->u.logs_data.data);
		break;
	case RS_MSG_BATCH:
		for (size_t i = 0; i < m->u.batch.nitems; i++)
			free(m->u.batch.items[i].buf);
		free(m->u.batch.items);
		break;
	default:
		break;
	}
	memset(m, 0, sizeof *m);
}

static const char *const type_names[RS_MSG__NR] = {
	"none", "hello", "beat", "event", "welcome", "rehello",
	"start", "stop", "beat-ack", "request", "reply", "logs-get",
	"logs-data", "enroll", "enrolled", "batch", "signal",
};
static const char *const kind_names[RS_EK__NR] = {
	"none", "started", "ready", "status", "exited", "backoff",
	"down", "failed", "watchdog", "update-prepare", "update-start",
	"update-commit", "update-rollback", "probe",
};
/* Designated: a number without a name (NULL) is no verb. */
static const char *const verb_names[RS_V__NR] = {
	[RS_V_NONE]          = "none",
	[RS_V_UP]            = "up",
	[RS_V_DOWN]          = "down",
	[RS_V_STATUS]        = "status",
	[RS_V_NODES]         = "nodes",
	[RS_V_LOOKUP]        = "lookup",
	[RS_V_EVENTS]        = "events",
	[RS_V_PING]          = "ping",
	[RS_V_REFRESH]       = "refresh",
	[RS_V_RESTART]       = "restart",
	[RS_V_SHUTDOWN]      = "shutdown",
	[RS_V_EDIT]          = "edit",
	[RS_V_CLONE]         = "clone",
	[RS_V_UNCLONE]       = "unclone",
	[RS_V_LOGS]          = "logs",
	[RS_V_APPLY]         = "apply",
	[RS_V_DRAIN]         = "drain",
	[RS_V_UNDRAIN]       = "undrain",
	[RS_V_UPDATE]        = "update",
	[RS_V_CRED_CREATE]   = "cred-create",
	[RS_V_CRED_LIST]     = "cred-list",
	[RS_V_CRED_REVOKE]   = "cred-revoke",
	[RS_V_TOKEN_ROTATE]  = "token-rotate",
	[RS_V_UPGRADE_PLAN]  = "upgrade-plan",
	[RS_V_NODE_FORGET]   = "node-forget",
	[RS_V_DESCRIBE]      = "describe",
	[RS_V_DELETE]        = "delete",
	[RS_V_EXPORT]        = "export",
	[RS_V_RELOAD]        = "reload",
	[RS_V_KILL]          = "kill",
	[RS_V_HISTORY]       = "history",
};

const char *rs_msg_type_to_string(rs_msg_type t)
{
	return (unsigned)t < RS_MSG__NR ? type_names[t] : "invalid";
}

const char *rs_event_kind_to_string(rs_event_kind k)
{
	return (unsigned)k < RS_EK__NR ? kind_names[k] : "invalid";
}

const char *rs_verb_to_string(rs_verb v)
{
	return rs_verb_known((int)v) ? verb_names[v] : "invalid";
}

bool rs_verb_known(int v)
{
	return v >= 0 && v < RS_V__NR && verb_names[v];
}

int rs_verb_from_string(const char *s)
{
	for (int i = 1; s && i < RS_V__NR; i++)
		if (verb_names[i] && strcmp(verb_names[i], s) == 0)
			return i;
	return -EINVAL;
}
