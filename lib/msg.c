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
	"logs-data", "enroll", "enrolled", "batch",
};
static const char *const kind_names[RS_EK__NR] = {
	"none", "started", "ready", "status", "exited", "backoff",
	"down", "failed", "watchdog", "update-prepare", "update-start",
	"update-commit", "update-rollback",
};
static const char *const verb_names[RS_V__NR] = {
	"none", "up", "down", "status", "nodes", "lookup", "events", "ping",
	"refresh", "restart", "shutdown", "edit", "clone", "unclone", "logs",
	"apply", "drain", "undrain", "update", "cred-create", "cred-list",
	"cred-revoke", "token-rotate", "upgrade-plan", "node-forget", "describe",
	"delete", "export",
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
	return (unsigned)v < RS_V__NR ? verb_names[v] : "invalid";
}

int rs_verb_from_string(const char *s)
{
	for (int i = 1; s && i < RS_V__NR; i++)
		if (strcmp(verb_names[i], s) == 0)
			return i;
	return -EINVAL;
}
