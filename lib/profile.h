/*
 * profile.h - a service's privilege profile (rs_profile, model.h) as
 * data: capability names, CPU lists, checks, comparison, the store's
 * text, and what a node must be able to do to apply one. Pure, libc
 * only (the keeper links it).
 *
 * Owns: the capability names ("CAP_NET_BIND_SERVICE" or
 * "net_bind_service", any case), the CPU list form ("0-1,3"), the
 * no_new_privs tri-state, the RS_PRIV_* abilities a node announces
 * (Hello field 11) and a profile needs. Must not: apply anything (the
 * keeper does, agent/keeper.c child_exec), log, or allocate.
 */
#ifndef RS_PROFILE_H
#define RS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define RS_CAP_LAST      40      /* CAP_CHECKPOINT_RESTORE, Linux 5.9 */
#define RS_CPUS_MAX      1024    /* CPU numbers 0..RS_CPUS_MAX - 1 */
#define RS_CPUS_WORDS    (RS_CPUS_MAX / 64)
#define RS_NICE_MIN      (-20)
#define RS_NICE_MAX      19
#define RS_PROFILE_TEXT_MAX 1024 /* rs_profile_pack's text, incl. NUL */

/* no_new_privs: DEFAULT is on for a service with a user (unless
 * keep_caps), off (unchanged) for a root one. */
enum { RS_NNP_DEFAULT = 0, RS_NNP_ON = 1, RS_NNP_OFF = 2 };

/* What a node can apply (Hello field 11, RS_FEAT_PROFILE), and what a
 * profile needs. Bits a peer does not know are ignored by it. */
enum {
	RS_PRIV_PROFILE = 1u << 0, /* a profile at all (keeper protocol 7):
				    * no_new_privs, affinity, nice >= 0 */
	RS_PRIV_MOUNT   = 1u << 1, /* a mount namespace (CAP_SYS_ADMIN):
				    * read_only_root, private_tmp */
	RS_PRIV_NICE    = 1u << 2, /* nice below 0 (CAP_SYS_NICE) */
	RS_PRIV_CAPS    = 1u << 3, /* caps: a bounding set and ambient
				    * capabilities (CAP_SETPCAP) */
	RS_PRIV__ALL    = (1u << 4) - 1,
};

/* An edit's fields (rs_profile.fields): which it replaces. */
enum {
	RS_PF_CAPS = 1u << 0, RS_PF_NNP = 1u << 1, RS_PF_RO = 1u << 2,
	RS_PF_TMP = 1u << 3, RS_PF_NICE = 1u << 4, RS_PF_CPUS = 1u << 5,
	RS_PF__ALL = (1u << 6) - 1,
	RS_PF_LIVE = RS_PF_NICE | RS_PF_CPUS, /* changed on running processes */
};

/* A capability's name (with or without CAP_, any case) into its number:
 * 0..RS_CAP_LAST, or -EINVAL. */
int rs_cap_parse(const char *name);
/* Capability n's name, "CAP_NET_BIND_SERVICE"; NULL out of range. */
const char *rs_cap_name(int n);

/* A CPU list ("0-1,3": numbers and ranges, commas, no blanks) into
 * mask[RS_CPUS_WORDS] (bit n of word n/64: CPU n) and *highest (the
 * largest CPU, may be NULL): 0, or -EINVAL (empty, malformed, a range
 * backwards, a CPU >= RS_CPUS_MAX). */
int rs_cpus_parse(const char *s, uint64_t *mask, int *highest);

/* mask[RS_CPUS_WORDS] as the shortest list, "0-3,6" ("" for none),
 * into buf[n] (cut short: ""). */
void rs_cpus_format(const uint64_t *mask, char *buf, size_t n);

/* Whether p sets anything (fields aside). */
bool rs_profile_any(const rs_profile *p);
/* Whether a and b ask the same. */
bool rs_profile_equal(const rs_profile *a, const rs_profile *b);
/* The RS_PRIV_* abilities p needs (0: none). */
uint32_t rs_profile_needs(const rs_profile *p);
/* Whether a and b differ in more than nice and cpus (what a running
 * process cannot take). */
bool rs_profile_restart(const rs_profile *a, const rs_profile *b);
/* Checks ranges (nice, the tri-state, known capabilities, the CPU list).
 * On error a message naming the field into err[n], -EINVAL. */
int rs_profile_validate(const rs_profile *p, char *err, size_t n);
/* An edit's profile src into dst: the fields src->fields names. */
void rs_profile_merge(rs_profile *dst, const rs_profile *src);

/* The names of the abilities in mask, "profile,mount,nice,caps", or
 * "none", into buf[n]. */
void rs_priv_format(uint32_t mask, char *buf, size_t n);
/* p's capabilities as "net_bind_service,chown" (lower case, no CAP_;
 * "" for none) into buf[n]. */
void rs_caps_format(uint64_t caps, char *buf, size_t n);
/* p as one line, "caps=net_bind_service nnp=on read-only-root
 * private-tmp nice=5 cpus=0-1" (only what is set; "" for none; "caps="
 * keeps none): the store's column and what describe shows. */
void rs_profile_pack(const rs_profile *p, char *buf, size_t n);
/* rs_profile_pack's text into *p: 0, or -EINVAL (p then none). */
int rs_profile_unpack(const char *text, rs_profile *p);

#endif
