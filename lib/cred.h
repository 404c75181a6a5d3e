/*
 * cred.h - key files: operator credentials, join tokens, the agent's and
 * rsd's own key pairs, all in one small text format.
 *
 * Owns: reading and writing those files (mode 0600, written whole or not
 * at all). Must not: decide who may do what (rsd/auth.c does).
 *
 *   # rs credential: keep it secret
 *   kind = operator            operator | node | join | server
 *   name = admin
 *   role = admin               operators: viewer | operator | admin
 *   labels = web*              operators: the labels they may act on
 *   server-key = <Z85>         rsd's public key, pinned by the holder
 *   public-key = <Z85>
 *   secret-key = <Z85>
 */
#ifndef RS_CRED_H
#define RS_CRED_H

#include <stddef.h>

#include "net.h"

#define RS_CRED_NAME_MAX 64
#define RS_CRED_PATTERN_MAX 128

typedef struct rs_cred {
	char kind[16];
	char name[RS_CRED_NAME_MAX];
	char role[16];
	char labels[RS_CRED_PATTERN_MAX];
	char server[NET_KEY_LEN + 1];
	char pub[NET_KEY_LEN + 1];
	char sec[NET_KEY_LEN + 1];
} rs_cred;

/* Parses the text of a key file. The public key is derived from the
 * secret one when absent (and must match it when present). 0, or -EINVAL
 * with the reason ("line 3: ...") in err. */
int cred_parse(const char *text, rs_cred *c, char *err, size_t errsz);
/* Reads and parses path; refuses a file that others may read (a secret
 * in a world-readable file is no secret). 0 or -errno with err. */
int cred_read(const char *path, rs_cred *c, char *err, size_t errsz);
/* The text of c (what cred_parse reads), into buf. Length, or -ENOSPC. */
int cred_format(const rs_cred *c, char *buf, size_t n);
/* Writes c to path with mode 0600: a temporary file, fsync, rename.
 * excl: fail with -EEXIST if path exists. 0 or -errno. */
int cred_write(const char *path, const rs_cred *c, int excl);
/* The client side of a CURVE connection with c's keys: rsd's key it
 * pins, its own pair. */
void cred_curve(const rs_cred *c, net_curve *out);
/* A name operators and nodes may have: 1-63 of [A-Za-z0-9._-]. */
int cred_name_valid(const char *name);

#endif
