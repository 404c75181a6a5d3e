/*
 * index.h - a by-label index of rsd's table (services and their instances)
 * for one pass over it: the periodic converge, an apply check, a status
 * answer. Built in O(services + instances) and thrown away after the pass,
 * so there is nothing to keep in step with the lists it points into.
 *
 * Owns: its slots and pointer arrays. Must not: change the table. A pass
 * that adds instances sees the index as it was when built; one that frees
 * instances or services must not use it afterwards.
 */
#ifndef RS_RSD_INDEX_H
#define RS_RSD_INDEX_H

#include "rsd.h"

/* Everything the table holds under one label. */
typedef struct rsd_label {
	const char *label;    /* borrowed from the service or an instance */
	rsd_svc    *svc;      /* NULL if only instances carry the label */
	rsd_inst  **insts;    /* the label's instances, in table order */
	size_t      ninsts;
} rsd_label;

typedef struct rsd_index {
	rsd_label  *slot;     /* open addressing, cap a power of two */
	size_t      cap;
	rsd_inst  **pool;     /* every rsd_label's insts point into it */
	rsd_svc   **svcs;     /* the services in label order */
	size_t      nsvcs;
} rsd_index;

/* qsort's order of rsd_svc pointers by label (every list of services
 * rsd sorts: the index, status pages, status LABEL...). */
int rsd_svc_label_cmp(const void *a, const void *b);
/* Builds ix (uninitialised) from d's services and instances. Returns 0 or
 * -ENOMEM (ix then empty; rsd_index_free() is still safe). */
int rsd_index_build(rsd_index *ix, rsd *d);
/* The entry of label, or NULL when neither a service nor an instance has it. */
const rsd_label *rsd_index_get(const rsd_index *ix, const char *label);
/* Frees what ix owns (not the table). Accepts an empty or failed index. */
void rsd_index_free(rsd_index *ix);

/* One label's entry without an index: its service and its instances
 * newest first (as the list holds them, the index's order), found by
 * label (rsd_label_insts), O(the label's instances). l->insts points
 * into buf, valid until buf is used again; a check that looks at two
 * labels at once uses two bufs. */
typedef struct rsd_label_buf {
	rsd_inst **v;
	size_t     cap;
	rsd_label  l;
} rsd_label_buf;

/* The entry of label in buf->l (NULL as rsd_index_get: neither a service
 * nor an instance has it), or NULL without memory. (rsd.c) */
const rsd_label *rsd_label_view(rsd *d, const char *label, rsd_label_buf *buf);
void rsd_label_buf_free(rsd_label_buf *buf);

#endif
