/*
 * manifest.h - cluster manifests (what MINIX's boot-image tables were):
 * YAML files declaring services, parsed with libyaml and checked before
 * anything is applied. See docs/manifest.md for the format.
 *
 * Owns: parsing, validation with "FILE:LINE: KEY: what is wrong" errors,
 * the dependency order, and writing specs back as a manifest (rsctl
 * export). Must not: know about rsd or the network (unknown nodes are
 * checked by rsd, which knows the nodes).
 */
#ifndef RS_MANIFEST_H
#define RS_MANIFEST_H

#include "model.h"

typedef struct mf_service {
	rs_spec   spec;          /* label, command, env, policy, ... (owned) */
	uint32_t  replicas;      /* default 1 */
	char    **nodes;         /* placement.nodes: allowed nodes (owned) */
	size_t    nnodes;
	char    **labels;        /* placement.labels: required node labels */
	size_t    nlabels;
	char    **deps;          /* depends_on labels (owned) */
	size_t    ndeps;
	int       line;          /* where the entry starts (1-based) */
} mf_service;

typedef struct manifest {
	mf_service *svcs;
	size_t      n;
} manifest;

/* Parses text (len bytes; name is used in errors) into an uninitialised
 * m. On error returns -EINVAL, fills err with "NAME:LINE: KEY: reason",
 * and leaves m empty (nothing to free). Checks types, unknown keys,
 * required keys, duplicate labels, unknown dependencies and cycles. */
int manifest_parse(const char *name, const char *text, size_t len,
		   manifest *m, char *err, size_t errlen);
/* Reads and parses the file at path (errors name the path). */
int manifest_load(const char *path, manifest *m, char *err, size_t errlen);
void manifest_free(manifest *m);
/* The spec to send for s: its spec with depends_on, replicas and
 * placement (one node: spec.node; several: "node=" entries; labels:
 * "label=" entries). out is initialised here. 0 or -ENOMEM/-E2BIG. */
int manifest_spec(const mf_service *s, rs_spec *out);
/* Fills order[0..n) with indexes of m->svcs so that every service comes
 * after what it depends on (ties: file order; lib/deporder.h). m must be
 * valid (out of memory: file order). */
void manifest_order(const manifest *m, size_t *order);
/* Index of label in m, or -1. */
int manifest_find(const manifest *m, const char *label);
/* Writes specs[0..n) (borrowed) as a manifest, in that order: every field
 * the format knows, except those equal to what the parser gives when the
 * key is absent, so that manifest_parse and manifest_spec of the text
 * give the same specs back (placement: node= entries before label=
 * ones; one node= entry comes back as node). Strings YAML would read as
 * another type (true, 8080, ~, "") are quoted. *out (malloc'ed, *len
 * bytes and a NUL) is the caller's. 0, -ENOMEM, or -EINVAL with err: a
 * spec a manifest cannot carry (a relative cwd, a string that is not
 * UTF-8). */
int manifest_emit(const rs_spec *specs, size_t n, char **out, size_t *len,
		  char *err, size_t errlen);
/* The same text a spec at a time, for a writer that spreads a long one
 * over several turns of its loop (rsd's export): begin, add each spec
 * (copied into the text at once: it need not live on), end. begin: 0 or
 * -ENOMEM. add: as manifest_emit's errors; after one, only free. end
 * gives *out and *len as manifest_emit and frees the emitter, also on an
 * error. free: an emitter not ended (NULL is fine). */
typedef struct manifest_emitter manifest_emitter;
int manifest_emit_begin(manifest_emitter **em);
int manifest_emit_add(manifest_emitter *em, const rs_spec *spec, char *err,
		      size_t errlen);
int manifest_emit_end(manifest_emitter *em, char **out, size_t *len, char *err,
		      size_t errlen);
void manifest_emit_free(manifest_emitter *em);

#endif
