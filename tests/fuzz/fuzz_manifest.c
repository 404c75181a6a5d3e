/*
 * fuzz_manifest.c - libFuzzer target for manifest_parse (lib/manifest.c)
 * on arbitrary bytes as YAML.
 *
 * A refusal names the input and says why; what parses is valid: each
 * service's spec builds and validates, the dependency order is a
 * permutation in which everything follows what it depends on, and
 * manifest_find finds each label at its own index.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether order puts dep before index i. */
static int before(const manifest *m, const size_t *order, size_t i,
		  const char *dep)
{
	for (size_t k = 0; k < m->n; k++) {
		if (order[k] == i)
			return 0;
		if (!strcmp(m->svcs[order[k]].spec.label, dep))
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024] = "";
	manifest m;
	size_t *order;
	char *seen;
	int r;

	r = manifest_parse("fuzz", (const char *)data, size, &m, err, sizeof err);
	if (r < 0) {
		if (r != -EINVAL || strncmp(err, "fuzz:", 5) || m.n || m.svcs)
			abort();
		return 0;
	}
	order = calloc(m.n ? m.n : 1, sizeof *order);
	seen = calloc(m.n ? m.n : 1, 1);
	if (!order || !seen)
		abort();
	manifest_order(&m, order);
	for (size_t k = 0; k < m.n; k++) {
		if (order[k] >= m.n || seen[order[k]])
			abort();
		seen[order[k]] = 1;
	}
	for (size_t i = 0; i < m.n; i++) {
		const mf_service *s = &m.svcs[i];
		char why[256];
		rs_spec spec;

		if (manifest_find(&m, s->spec.label) != (int)i)
			abort();
		for (size_t d = 0; d < s->ndeps; d++)
			if (!before(&m, order, i, s->deps[d]))
				abort();
		r = manifest_spec(s, &spec);
		if (r == 0) {
			if (rs_spec_validate(&spec, why, sizeof why) < 0)
				abort();
			rs_spec_clear(&spec);
		} else if (r != -ENOMEM && r != -E2BIG) {
			abort();
		}
	}
	free(seen);
	free(order);
	manifest_free(&m);
	return 0;
}
