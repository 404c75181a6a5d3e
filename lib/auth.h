/*
 * auth.h - who may do what: roles, the verbs each allows, and label
 * patterns. A pure decision (no I/O), tested for every role x verb.
 *
 * Owns: the policy table. Must not: know keys, files or sockets (rsd's
 * auth glue maps a connection to a role; cred.c reads key files).
 *
 *   viewer    status, describe, nodes, lookup, events, logs, ping,
 *             upgrade-plan (every label: they change nothing)
 *   operator  also up, down, refresh, restart, edit, clone, unclone,
 *             update, delete, export (on the labels its patterns allow;
 *             export of every service: only with no pattern), apply,
 *             drain and undrain (these touch every label: only with no
 *             pattern)
 *   admin     everything: shutdown, credentials, join tokens
 */
#ifndef RS_AUTH_H
#define RS_AUTH_H

#include <stdbool.h>

#include "msg.h"

typedef enum rs_role {
	RS_ROLE_NONE = 0,
	RS_ROLE_VIEWER,
	RS_ROLE_OPERATOR,
	RS_ROLE_ADMIN,
	RS_ROLE__NR
} rs_role;

const char *rs_role_to_string(rs_role r);
/* RS_ROLE_* for "viewer", "operator", "admin"; -EINVAL otherwise. */
int rs_role_from_string(const char *s);

/* The least role verb needs. */
rs_role auth_verb_role(rs_verb v);

/* Whether patterns (comma-separated shell patterns; "" or "*" = every
 * label) allow label. */
bool auth_labels_match(const char *patterns, const char *label);
/* Whether patterns allow every label ("" or a "*" entry). */
bool auth_labels_all(const char *patterns);
/* A pattern list rsd accepts: <= 127 chars of label characters, '*', '?',
 * '[', ']', '!' and ','. */
bool auth_patterns_valid(const char *patterns);

/* Whether a caller with role and patterns may send rq. When not, why
 * (for the reply) goes to why. */
bool auth_allowed(rs_role role, const char *patterns, const rs_request *rq,
		  char *why, size_t n);

#endif
