/*
 * index.h - one label's view of rsd's table (its service and instances,
 * newest first), from the by-label hash table that rsd keeps in step with
 * its lists (rsd/table.h), and the services' label order.
 *
 * Owns: nothing of the table; a view's array is its rsd_label_buf's.
 * Must not: be used after the table dropped an instance it points to.
 */
#ifndef RS_RSD_INDEX_H
#define RS_RSD_INDEX_H

#include "rsd.h"

/* Everything the table holds under one label. */
typedef struct rsd_label {
	const char *label;    /* borrowed from the service or an instance */
	rsd_svc    *svc;      /* NULL if only instances carry the label */
	rsd_inst  **insts;    /* the label's instances, newest first */
	size_t      ninsts;
} rsd_label;

/* qsort's order of rsd_svc pointers by label (every list of services
 * rsd sorts: status pages, status LABEL, the sorted services...). */
int rsd_svc_label_cmp(const void *a, const void *b);

/* One label's entry: its service and its instances newest first (by
 * id), found by label (rsd_label_insts), O(the label's instances).
 * l->insts points into buf, valid until buf is used again; a check that
 * looks at two labels at once uses two bufs. */
typedef struct rsd_label_buf {
	rsd_inst **v;
	size_t     cap;
	rsd_label  l;
} rsd_label_buf;

/* The entry of label in buf->l; NULL when neither a service nor an
 * instance has it, or without memory. (rsd.c) */
const rsd_label *rsd_label_view(rsd *d, const char *label, rsd_label_buf *buf);
void rsd_label_buf_free(rsd_label_buf *buf);

#endif
