/*
 * codes.h - result codes of control requests. Reply.code carries one of
 * these and rsctl exits with it, so they are the CLI's documented exit
 * codes (docs/cli.md). Never renumber; only append.
 */
#ifndef RS_CODES_H
#define RS_CODES_H

enum rs_code {
	RS_OK = 0,
	RS_E_FAILED = 1,       /* the operation ran and failed (start failed...) */
	RS_E_USAGE = 2,        /* bad command line (rsctl only) */
	RS_E_NOENT = 3,        /* unknown label */
	RS_E_BUSY = 4,         /* another operation runs on this service */
	RS_E_TIMEOUT = 5,      /* gave up waiting */
	RS_E_UNREACHABLE = 6,  /* rsd did not answer */
	RS_E_EXISTS = 7,       /* the service is already up */
	RS_E_NONODE = 8,       /* no node to place it on / node not connected */
	RS_E_INVAL = 9,        /* invalid request (bad spec, bad argument) */
	RS_E_INTERNAL = 10,    /* rsd could not do it (store error, ...) */
	RS_E_ROLLED_BACK = 11, /* update: the new instance failed, the old one kept on */
	RS_E_FORBIDDEN = 12,   /* the credential's role does not allow it */
	RS_E_AUTH = 13,        /* no usable credential, or rsd refused it / is not the rsd it pins */
	RS_E_VERSION = 14,     /* the peer's version is outside the skew policy */
	RS_E__NR
};

#endif
