/*
 * wire.h - rs_msg <-> bytes (protobuf Envelope, proto/rs.proto).
 *
 * Owns: the only use of protobuf-c in rs; no protobuf-c type leaves wire.c.
 * Must not: log, or trust input: every decode checks size, type, enum
 * ranges, string lengths/UTF-8-free NUL bytes and limits from model.h.
 */
#ifndef RS_WIRE_H
#define RS_WIRE_H

#include "msg.h"

typedef enum wire_err {
	WIRE_OK = 0,
	WIRE_E_OVERSIZE,     /* frame larger than RS_FRAME_MAX */
	WIRE_E_GARBAGE,      /* protobuf-c could not unpack it */
	WIRE_E_VERSION,      /* unsupported envelope version */
	WIRE_E_TYPE,         /* no body, or a body type we do not know */
	WIRE_E_ENUM,         /* an enum value out of range */
	WIRE_E_FIELD,        /* a string too long, a missing field, bad label... */
	WIRE_E__NR
} wire_err;

/* Encodes m into a malloc'ed buffer (*out, *len) the caller frees.
 * Returns 0, -EINVAL (bad msg), -E2BIG (would exceed RS_FRAME_MAX), -ENOMEM. */
int wire_encode(const rs_msg *m, uint8_t **out, size_t *len);

/* Decodes buf into an uninitialised m. On success returns 0 and m owns its
 * data (rs_msg_clear it). On failure returns -wire_err (negative), leaves m
 * zeroed, and never reads past len. */
int wire_decode(const uint8_t *buf, size_t len, rs_msg *m);

/* The bytes row r adds to an encoded Reply (Reply.rows; the reply's own
 * length prefix grows by at most 4 more in all): what rsd counts to keep a
 * page of rows within one frame. */
size_t wire_status_row_size(const rs_status_row *r);

const char *wire_err_to_string(wire_err e);  /* "oversize", "garbage", ... */

#endif
