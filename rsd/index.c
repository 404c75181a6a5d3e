/*
 * index.c - the services' label order (a label's view is rsd.c's:
 * rsd_label_view, over the by-label table).
 */
#include "index.h"

#include <string.h>

int rsd_svc_label_cmp(const void *a, const void *b)
{
	const rsd_svc *x = *(rsd_svc *const *)a, *y = *(rsd_svc *const *)b;

	return strcmp(x->s.spec.label, y->s.spec.label);
}
