/*
 * version.h - rs's own version, the features a build speaks, and the
 * version-skew policy between rsd and its peers (agents, rsctl).
 *
 * Owns: parsing "MAJOR.MINOR.PATCH", the skew decision (pure, tested for
 * every case) and the feature bits. Must not: do I/O.
 *
 * The policy (docs/upgrade.md): rsd accepts agents and rsctl of the same
 * major version and at most one minor version older or newer. So an
 * operator upgrades rsd first, then the agents host by host (or the
 * agents first, then rsd), one minor version at a time. A peer outside
 * the policy is refused with a message naming both versions and what to
 * upgrade first. Patch versions never matter.
 */
#ifndef RS_VERSION_H
#define RS_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RS_SKEW_MINOR 1          /* minor versions apart that still talk */

/* Features a build announces in every envelope (Envelope.features). A
 * feature the peer does not announce is not used with it. Append only. */
enum {
	RS_FEAT_CURVE    = 1u << 0,  /* CURVE + ZAP, enrolment (0.2.0) */
	RS_FEAT_KEEPCAPS = 1u << 1,  /* ServiceSpec.keep_caps (0.2.0) */
	RS_FEAT_SKEW     = 1u << 2,  /* sender_version, features, this policy */
	RS_FEAT_FENCE    = 1u << 3,  /* ServiceSpec.fence, Welcome.lease_ms (0.3.0) */
	RS_FEAT_ORDERS   = 1u << 4,  /* numbered, acknowledged orders (0.3.0) */
	RS_FEAT_REQDEDUP = 1u << 5,  /* rsd deduplicates a resent request by
				      * actor and Request.id (0.3.0) */
	RS_FEAT_PAGED    = 1u << 6,  /* status/nodes: Request.node, state,
				      * page_after, page_size, Reply.next_page
				      * (0.3.0) */
	RS_FEAT_ROWS     = 1u << 7,  /* status: Request.rows, Reply.rows (0.3.0) */
	RS_FEAT_BATCH    = 1u << 8,  /* Envelope.batch: a turn's messages to one
				      * peer in one frame (0.3.0) */
	RS_FEAT_LOGS     = 1u << 9,  /* logs: stored lines with time and pid,
				      * LogsGet.stamped/since_ms/previous/pid,
				      * Request.previous/pid/stamped (0.3.0) */
	RS_FEAT_SIGNAL   = 1u << 10, /* Envelope.signal (an order), verbs
				      * reload and kill (0.3.0) */
	RS_FEAT_EVCHAIN  = 1u << 11, /* InstanceEvent.prev_seq, Hello.events_from:
				      * events acknowledged exactly
				      * (lib/evchain.h, 0.3.0) */
	RS_FEAT_CGROUP   = 1u << 12, /* Hello.cgroups: the node's cgroups
				      * (a cgroup per instance, 0.3.0) */
	RS_FEAT_PROBES   = 1u << 13, /* ServiceSpec.probes, ER_PROBE_FAILED,
				      * EK_PROBE, InstanceInfo.unready (0.3.0) */
	RS_FEAT_LIMITS   = 1u << 14, /* ServiceSpec.limits, Hello.controllers,
				      * ER_OOM (0.3.0) */
	RS_FEAT_PROFILE  = 1u << 15, /* ServiceSpec.profile, Hello.privs
				      * (0.3.0) */
	RS_FEAT_USAGE    = 1u << 16, /* NodeBeat.usage, StatusRow.cpu_ms..usage_ms,
				      * status JSON usage keys (0.3.0) */
};
#define RS_FEATURES (RS_FEAT_CURVE | RS_FEAT_KEEPCAPS | RS_FEAT_SKEW | \
		     RS_FEAT_FENCE | RS_FEAT_ORDERS | RS_FEAT_REQDEDUP | \
		     RS_FEAT_PAGED | RS_FEAT_ROWS | RS_FEAT_BATCH | RS_FEAT_LOGS | \
		     RS_FEAT_SIGNAL | RS_FEAT_EVCHAIN | RS_FEAT_CGROUP | RS_FEAT_PROBES | \
		     RS_FEAT_LIMITS | RS_FEAT_USAGE | RS_FEAT_PROFILE)

typedef struct rs_semver {
	uint32_t major, minor, patch;
} rs_semver;

/* Parses "1.2.3" (digits only, each part < 1000000). 0 or -EINVAL. */
int rs_semver_parse(const char *s, rs_semver *out);
/* This build's version (RS_VERSION, set by CMake). */
const char *rs_version(void);

typedef enum rs_skew {
	RS_SKEW_OK = 0,
	RS_SKEW_PEER_OLD,      /* the peer is too old: upgrade the peer */
	RS_SKEW_PEER_NEW,      /* the peer is too new: upgrade rsd first */
	RS_SKEW_UNKNOWN,       /* the peer announces no (valid) version */
} rs_skew;

/* Whether rsd at version self may talk with a peer (what: "rs-agent",
 * "rsctl") at version peer. Unless RS_SKEW_OK, why gets the message for
 * both sides' logs. */
rs_skew rs_skew_check(const char *self, const char *peer, const char *what,
		      char *why, size_t n);

#endif
