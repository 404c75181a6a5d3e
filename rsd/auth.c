/*
 * auth.c - rsd's side of trust: its own key pair, the keys it admits
 * (operators, nodes, join tokens: the store's principal table), the ZAP
 * handler that admits them, the check of every message against them, and
 * the credential and join-token requests.
 *
 * A connection is authenticated once, by its CURVE key, when it is made
 * (ZAP); the user id the handler gives it ("operator:NAME:KEY",
 * "node:NAME:KEY", "join:NAME:KEY") comes with every message, and every
 * message is checked
 * again against the table, so a revoked key loses its open connections
 * too. Peers that fail get no answer; they are counted and logged.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "auth.h"
#include "clock.h"
#include "cred.h"
#include "log.h"
#include "rsd.h"
#include "version.h"

static const char *const reason_names[RSD_AUTH__NR] = {
	"unknown-key", "revoked", "no-curve", "handshake", "wrong-endpoint",
	"wrong-node", "enroll-refused",
};

const char *rsd_auth_reason_to_string(rsd_auth_reason r)
{
	return (unsigned)r < RSD_AUTH__NR ? reason_names[r] : "invalid";
}

/* Counts and logs (the first ones, then every 100th) a refused peer. */
static void auth_fail(rsd *d, int endpoint, rsd_auth_reason why,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void auth_fail(rsd *d, int endpoint, rsd_auth_reason why,
		      const char *fmt, ...)
{
	uint64_t n = ++d->auth_failures[endpoint][why];
	char msg[256];
	va_list ap;

	if (n > 10 && n % 100 != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_warnx("%s endpoint: refused (%s): %s%s",
		  endpoint == RSD_EP_AGENTS ? "agents" : "control",
		  rsd_auth_reason_to_string(why), msg,
		  n > 10 ? " (logging every 100th)" : "");
}

static int load_one(const store_principal *p, void *arg)
{
	rsd *d = arg;
	store_principal *np;

	np = rs_grow(d->principals, &d->principals_cap, d->nprincipals, sizeof *np,
		     64);   /* doubling: 5,000 nodes */
	if (!np)
		return -ENOMEM;
	d->principals = np;
	d->principals[d->nprincipals++] = *p;
	return 0;
}

/* Orders principals by kind, then name (rsd_principal_find's bsearch). */
static int principal_cmp(const void *a, const void *b)
{
	const store_principal *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);

	return c ? c : strcmp(x->name, y->name);
}

/* Orders principal indexes by key (find_key's binary search). */
static int key_cmp(const void *a, const void *b, void *arg)
{
	const store_principal *v = arg;

	return strcmp(v[*(const uint32_t *)a].pubkey, v[*(const uint32_t *)b].pubkey);
}

/* Reloads the principal table from the store (after a commit), sorted:
 * every message looks its sender up, every handshake its key (ZAP: at
 * 5,000 nodes a walk of the table was most of a cold start's strcmp). */
static int auth_reload(rsd *d)
{
	int r;

	free(d->principals);
	free(d->bykey);
	d->principals = NULL;
	d->bykey = NULL;
	d->nprincipals = d->principals_cap = 0;
	d->principals_gen++;
	r = store_principal_each(d->st, load_one, d);
	if (!d->nprincipals)
		return r;
	qsort(d->principals, d->nprincipals, sizeof *d->principals, principal_cmp);
	d->bykey = malloc(d->nprincipals * sizeof *d->bykey);
	if (!d->bykey)
		return r < 0 ? r : -ENOMEM;   /* find_key walks the table */
	for (size_t i = 0; i < d->nprincipals; i++)
		d->bykey[i] = (uint32_t)i;
	qsort_r(d->bykey, d->nprincipals, sizeof *d->bykey, key_cmp, d->principals);
	return r;
}

/* The principal with this public key (keys are unique: a credential or
 * an enrolment with a key in use is refused). */
static store_principal *find_key(rsd *d, const char *key)
{
	size_t lo = 0, hi = d->nprincipals;

	if (!d->bykey) {
		for (size_t i = 0; i < d->nprincipals; i++)
			if (strcmp(d->principals[i].pubkey, key) == 0)
				return &d->principals[i];
		return NULL;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		store_principal *p = &d->principals[d->bykey[mid]];
		int c = strcmp(p->pubkey, key);

		if (c == 0)
			return p;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

store_principal *rsd_principal_find(rsd *d, const char *kind, const char *name)
{
	store_principal key;

	if (!d->nprincipals || rs_strlcpy(key.kind, kind, sizeof key.kind) < 0 ||
	    rs_strlcpy(key.name, name, sizeof key.name) < 0)
		return NULL;
	return bsearch(&key, d->principals, d->nprincipals, sizeof *d->principals,
		       principal_cmp);
}

/* path = the db's folder + "/" + file. */
static void dir_file(rsd *d, const char *file, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", d->auth_dir, file);
}

/* Loads rsd.key, or makes and writes it on the first start. */
static int server_key(rsd *d)
{
	char path[RSD_PATH_MAX + 32], err[512];
	rs_cred c;
	int r;

	dir_file(d, "rsd.key", path, sizeof path);
	r = cred_read(path, &c, err, sizeof err);
	if (r == 0 && strcmp(c.kind, "server") == 0 && c.sec[0]) {
		d->server = c;
		return 0;
	}
	if (r != -ENOENT) {
		log_warnx("cannot use rsd's key: %s", r == 0 ? "not a server key" : err);
		return r < 0 ? r : -EINVAL;
	}
	memset(&c, 0, sizeof c);
	strcpy(c.kind, "server");
	strcpy(c.name, "rsd");
	if ((r = net_keypair(c.pub, c.sec)) < 0)
		return r;
	strcpy(c.server, c.pub);
	if ((r = cred_write(path, &c, 1)) < 0) {
		log_warnx("cannot write %s: %s", path, strerror(-r));
		return r;
	}
	log_info("made rsd's key pair in %s (public key %s)", path, c.pub);
	d->server = c;
	return 0;
}

/* Stores a new principal with a fresh key pair and writes its key file
 * (0600) to path; c gets the credential. Inside the caller's
 * transaction. */
static int principal_new(rsd *d, const char *kind, const char *name,
			 const char *role, const char *labels, rs_cred *c)
{
	store_principal p;
	int r;

	memset(c, 0, sizeof *c);
	rs_strlcpy(c->kind, kind, sizeof c->kind);
	rs_strlcpy(c->name, name, sizeof c->name);
	rs_strlcpy(c->role, role, sizeof c->role);
	rs_strlcpy(c->labels, labels, sizeof c->labels);
	strcpy(c->server, d->server.pub);
	if ((r = net_keypair(c->pub, c->sec)) < 0)
		return r;
	memset(&p, 0, sizeof p);
	rs_strlcpy(p.kind, kind, sizeof p.kind);
	rs_strlcpy(p.name, name, sizeof p.name);
	rs_strlcpy(p.role, role, sizeof p.role);
	rs_strlcpy(p.labels, labels, sizeof p.labels);
	rs_strlcpy(p.pubkey, c->pub, sizeof p.pubkey);
	p.created_ms = clock_wall_ms();
	rs_strlcpy(p.created_by, d->cur_actor[0] ? d->cur_actor : "rsd",
		   sizeof p.created_by);
	return store_principal_put(d->st, &p);
}

/* A new join token: the old ones revoked, the new one stored, then
 * written to join.token. Own transaction (with a token-rotate event if
 * rotate). */
static int token_new(rsd *d, rs_cred *c, bool rotate)
{
	char path[RSD_PATH_MAX + 32], name[32];
	uint64_t now = clock_wall_ms();
	int r, n = 0;

	if ((r = store_begin(d->st)) < 0)
		return r;
	for (size_t i = 0; i < d->nprincipals; i++) {
		store_principal *p = &d->principals[i];
		if (strcmp(p->kind, "join") != 0)
			continue;
		n++;
		if (!p->revoked_ms) {
			store_principal q = *p;
			q.revoked_ms = now;
			if ((r = store_principal_put(d->st, &q)) < 0)
				goto fail;
		}
	}
	snprintf(name, sizeof name, "join-%d", n + 1);
	if ((r = principal_new(d, "join", name, "", "", c)) < 0)
		goto fail;
	if (rotate)
		rsd_event(d, NULL, 0, NULL, "token-rotate", "join token %s; the "
			  "earlier ones are refused", c->name);
	if ((r = rsd_commit(d)) < 0)
		goto fail;
	auth_reload(d);
	dir_file(d, "join.token", path, sizeof path);
	if ((r = cred_write(path, c, 0)) < 0)
		log_warnx("cannot write %s: %s (the token is in rsctl's answer)",
			  path, strerror(-r));
	return 0;
fail:
	store_rollback(d->st);
	auth_reload(d);
	return r;
}

/* Makes operator credential name (role) and writes it to file beside the
 * database, unless a principal of that name exists (revoked or not). */
static int ensure_cred(rsd *d, const char *name, const char *role,
		       const char *file)
{
	char path[RSD_PATH_MAX + 32];
	rs_cred c;
	int r;

	if (rsd_principal_find(d, "operator", name))
		return 0;
	if ((r = store_begin(d->st)) < 0)
		return r;
	if ((r = principal_new(d, "operator", name, role, "", &c)) < 0 ||
	    (r = rsd_commit(d)) < 0) {
		store_rollback(d->st);
		return r;
	}
	auth_reload(d);
	dir_file(d, file, path, sizeof path);
	r = cred_write(path, &c, 0);
	memset(&c, 0, sizeof c);
	if (r < 0) {
		log_warnx("cannot write %s: %s", path, strerror(-r));
		return r;
	}
	log_info("made the %s credential %s (rsctl --cred %s)", role, path, path);
	return 0;
}

int rsd_auth_init(rsd *d, const char *db_path, bool insecure)
{
	char tmp[RSD_PATH_MAX], path[RSD_PATH_MAX + 32];
	bool have_join = false;
	rs_cred c;
	int r;

	d->insecure = insecure;
	rs_strlcpy(tmp, db_path, sizeof tmp);
	rs_strlcpy(d->auth_dir, dirname(tmp), sizeof d->auth_dir);
	if ((r = auth_reload(d)) < 0)
		return r;
	if (insecure)
		return 0;
	if (!net_curve_available()) {
		log_warnx("this libzmq has no CURVE support (libsodium)");
		return -ENOTSUP;
	}
	if ((r = server_key(d)) < 0)
		return r;
	/* the admin's credential, and the one recovery scripts get */
	if ((r = ensure_cred(d, "admin", "admin", "admin.cred")) < 0 ||
	    (r = ensure_cred(d, RSD_SCRIPT_CRED, "operator", "script.cred")) < 0)
		return r;
	for (size_t i = 0; i < d->nprincipals; i++)
		if (strcmp(d->principals[i].kind, "join") == 0 &&
		    !d->principals[i].revoked_ms)
			have_join = true;
	if (!have_join) {
		if ((r = token_new(d, &c, false)) < 0)
			return r;
		memset(&c, 0, sizeof c);
		dir_file(d, "join.token", path, sizeof path);
		log_info("made the join token %s (rs-agent --token-file %s)", path, path);
	}
	return 0;
}

void rsd_auth_curve(const rsd *d, int endpoint, net_curve *out)
{
	memset(out, 0, sizeof *out);
	strcpy(out->sec, d->server.sec);
	strcpy(out->domain, endpoint == RSD_EP_AGENTS ? "agents" : "control");
}

int rsd_zap(const net_zap_req *rq, char *user, size_t usersz, void *arg)
{
	rsd *d = arg;
	int ep = strcmp(rq->domain, "agents") == 0 ? RSD_EP_AGENTS : RSD_EP_CONTROL;
	store_principal *p;

	d->zap_requests++;
	if (strcmp(rq->mechanism, "CURVE") != 0 || !rq->key[0]) {
		auth_fail(d, ep, RSD_AUTH_NO_CURVE, "%s from %s", rq->mechanism, rq->address);
		return 400;
	}
	p = find_key(d, rq->key);
	if (!p) {
		auth_fail(d, ep, RSD_AUTH_UNKNOWN_KEY, "key %.8s... from %s", rq->key,
			  rq->address);
		return 400;
	}
	if (p->revoked_ms) {
		auth_fail(d, ep, RSD_AUTH_REVOKED, "%s %s from %s", p->kind, p->name,
			  rq->address);
		return 400;
	}
	if ((ep == RSD_EP_CONTROL) != (strcmp(p->kind, "operator") == 0)) {
		auth_fail(d, ep, RSD_AUTH_WRONG_ENDPOINT, "%s %s from %s", p->kind,
			  p->name, rq->address);
		return 400;
	}
	/* the key too: a credential revoked and made again under the same
	 * name must not revive the old key's open connections */
	snprintf(user, usersz, "%s:%s:%s", p->kind, p->name, p->pubkey);
	return 200;
}

const store_principal *rsd_auth_peer(rsd *d, int endpoint, const net_peer *peer)
{
	static const store_principal insecure = {
		.kind = "operator", .name = "insecure", .role = "admin",
	};
	char kind[16], name[RS_CRED_NAME_MAX];
	const char *c1, *c2;
	store_principal *p;

	if (d->insecure)
		return &insecure;
	/* "KIND:NAME:KEY", as rsd_zap named the connection */
	c1 = strchr(peer->user, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2 || (size_t)(c1 - peer->user) >= sizeof kind ||
	    (size_t)(c2 - c1 - 1) >= sizeof name) {
		auth_fail(d, endpoint, RSD_AUTH_UNKNOWN_KEY, "a message without a user id");
		return NULL;
	}
	memcpy(kind, peer->user, (size_t)(c1 - peer->user));
	kind[c1 - peer->user] = '\0';
	memcpy(name, c1 + 1, (size_t)(c2 - c1 - 1));
	name[c2 - c1 - 1] = '\0';
	p = rsd_principal_find(d, kind, name);
	if (!p || p->revoked_ms || strcmp(p->pubkey, c2 + 1) != 0) {
		auth_fail(d, endpoint, RSD_AUTH_REVOKED, "a message from %s %s", kind, name);
		return NULL;
	}
	return p;
}

void rsd_auth_event(net_sock *s, net_event ev, uint32_t value, void *arg)
{
	rsd *d = arg;
	int ep = s == d->agents ? RSD_EP_AGENTS : RSD_EP_CONTROL;

	if (ev == NET_EV_HANDSHAKE_PROTOCOL)
		auth_fail(d, ep, value == 0x11000002u ? RSD_AUTH_NO_CURVE : RSD_AUTH_HANDSHAKE,
			  "handshake failed (protocol error 0x%x)", value);
	else if (ev == NET_EV_HANDSHAKE_OTHER)
		auth_fail(d, ep, RSD_AUTH_HANDSHAKE, "handshake failed (%s)",
			  strerror((int)value));
}

void rsd_auth_count(rsd *d, int endpoint, rsd_auth_reason why)
{
	d->auth_failures[endpoint][why]++;
}

/* ---- requests --------------------------------------------------------- */

static void cred_create(rsd *d, const net_peer *peer, const rs_request *rq)
{
	store_principal p, *old;
	int role = rs_role_from_string(rq->role), r;
	char why[256];

	if (!cred_name_valid(rq->label)) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "bad credential name '%s' "
			      "(1-63 of A-Z a-z 0-9 . _ -)", rq->label);
		return;
	}
	if (role < 0) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "bad role '%s' (viewer, "
			      "operator or admin)", rq->role);
		return;
	}
	if (!auth_patterns_valid(rq->pattern)) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "bad label patterns '%s'",
			      rq->pattern);
		return;
	}
	if (!net_key_valid(rq->public_key) || find_key(d, rq->public_key)) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "bad or reused public key");
		return;
	}
	old = rsd_principal_find(d, "operator", rq->label);
	if (old && !old->revoked_ms) {
		rsd_reply_err(d, peer, rq->id, RS_E_EXISTS, "credential '%s' exists "
			      "(revoke it first to replace it)", rq->label);
		return;
	}
	memset(&p, 0, sizeof p);
	strcpy(p.kind, "operator");
	rs_strlcpy(p.name, rq->label, sizeof p.name);
	strcpy(p.role, rs_role_to_string(role));
	rs_strlcpy(p.labels, rq->pattern, sizeof p.labels);
	rs_strlcpy(p.pubkey, rq->public_key, sizeof p.pubkey);
	p.created_ms = clock_wall_ms();
	rs_strlcpy(p.created_by, d->cur_actor, sizeof p.created_by);
	if ((r = store_begin(d->st)) < 0 || (r = store_principal_put(d->st, &p)) < 0 ||
	    (rsd_event(d, NULL, 0, NULL, "cred-create", "operator %s, role %s%s%s",
		       p.name, p.role, p.labels[0] ? ", labels " : "", p.labels), 0) ||
	    (r = rsd_commit(d)) < 0) {
		rs_strlcpy(why, rsd_store_why(d, r), sizeof why);   /* before the rollback */
		store_rollback(d->st);
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot store the "
			      "credential: %s", why);
		return;
	}
	auth_reload(d);
	rsd_reply_json(d, peer, rq->id, json_pack("{s:s, s:s}", "server_key",
					     d->server.pub, "role", p.role),
		  "created");
}

static void cred_list(rsd *d, const net_peer *peer, const rs_request *rq)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < d->nprincipals; i++) {
		const store_principal *p = &d->principals[i];
		json_array_append_new(arr, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
			"kind", p->kind, "name", p->name, "role", p->role,
			"labels", p->labels, "public_key", p->pubkey,
			"created_ms", (json_int_t)p->created_ms,
			"revoked_ms", (json_int_t)p->revoked_ms,
			"created_by", p->created_by));
	}
	rsd_reply_json(d, peer, rq->id, json_pack("{s:o, s:s}", "credentials", arr,
					     "server_key", d->server.pub), NULL);
}

static void cred_revoke(rsd *d, const net_peer *peer, const rs_request *rq)
{
	const char *kind = rq->node_key ? "node" : "operator";
	store_principal *p = rsd_principal_find(d, kind, rq->label), q;
	int admins = 0, r;
	char why[256];

	if (!p || p->revoked_ms) {
		rsd_reply_err(d, peer, rq->id, RS_E_NOENT, "no valid %s credential "
			      "'%s'", kind, rq->label);
		return;
	}
	for (size_t i = 0; i < d->nprincipals; i++)
		admins += strcmp(d->principals[i].kind, "operator") == 0 &&
			  strcmp(d->principals[i].role, "admin") == 0 &&
			  !d->principals[i].revoked_ms;
	if (!rq->node_key && strcmp(p->role, "admin") == 0 && admins <= 1) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "'%s' is the last admin "
			      "credential; create another admin first", rq->label);
		return;
	}
	q = *p;
	q.revoked_ms = clock_wall_ms();
	if ((r = store_begin(d->st)) < 0 || (r = store_principal_put(d->st, &q)) < 0 ||
	    (rsd_event(d, NULL, 0, rq->node_key ? rq->label : NULL, "cred-revoke",
		       "%s %s", kind, rq->label), 0) ||
	    (r = rsd_commit(d)) < 0) {
		rs_strlcpy(why, rsd_store_why(d, r), sizeof why);   /* before the rollback */
		store_rollback(d->st);
		rsd_reply_err(d, peer, rq->id, RS_E_INTERNAL, "cannot revoke: %s", why);
		return;
	}
	auth_reload(d);
	if (rq->node_key) {
		/* its agent is cut off now: the node is lost at once (its
		 * instances move), not after its TTL */
		rsd_node *n = rsd_node_find(d, rq->label);

		if (n) {
			rsd_node_event(d, n, NM_EV_REVOKE, NULL);
			rsd_reschedule_lost(d, false);
		}
	}
	rsd_reply(d, peer, rq->id, RS_OK, NULL, "revoked");
}

static void token_rotate(rsd *d, const net_peer *peer, const rs_request *rq)
{
	char text[2048];
	rs_cred c;
	int r = token_new(d, &c, true);

	if (r < 0) {
		rsd_reply_unrecorded(d, peer, rq, r);
		return;
	}
	cred_format(&c, text, sizeof text);
	rsd_reply_json(d, peer, rq->id, json_pack("{s:s, s:s}", "name", c.name,
					     "token", text), "rotated");
}

void rsd_auth_request(rsd *d, const net_peer *peer, const rs_request *rq)
{
	if (d->insecure) {
		rsd_reply_err(d, peer, rq->id, RS_E_INVAL, "rsd runs --insecure: "
			      "it has no credentials or join tokens");
		return;
	}
	switch (rq->verb) {
	case RS_V_CRED_CREATE: cred_create(d, peer, rq); break;
	case RS_V_CRED_LIST: cred_list(d, peer, rq); break;
	case RS_V_CRED_REVOKE: cred_revoke(d, peer, rq); break;
	case RS_V_TOKEN_ROTATE: token_rotate(d, peer, rq); break;
	default: break;
	}
}

/* ---- enrolment (agents endpoint) -------------------------------------- */

static void enrolled(rsd *d, const net_peer *peer, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void enrolled(rsd *d, const net_peer *peer, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	rs_msg m;
	uint8_t *buf;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rs_msg_init(&m, RS_MSG_ENROLLED);
	m.u.enrolled.code = code;
	m.u.enrolled.message = msg;
	if (wire_encode(&m, &buf, &len) == 0) {
		net_send(d->agents, peer, buf, len);
		free(buf);
	}
	m.u.enrolled.message = NULL;
	rs_msg_clear(&m);
}

void rsd_auth_refuse_agent(rsd *d, const net_peer *peer, int code,
			   const char *msg)
{
	enrolled(d, peer, code, "%s", msg);
}

void rsd_enroll(rsd *d, const net_peer *peer, const store_principal *token,
		const rs_enroll *e)
{
	store_principal *old, p;
	char why[256];
	int r;

	if (!cred_name_valid(e->node) || !net_key_valid(e->public_key)) {
		auth_fail(d, RSD_EP_AGENTS, RSD_AUTH_ENROLL_REFUSED, "bad node name or key");
		enrolled(d, peer, RS_E_INVAL, "bad node name or public key");
		return;
	}
	old = rsd_principal_find(d, "node", e->node);
	if (old && !old->revoked_ms) {
		if (strcmp(old->pubkey, e->public_key) == 0) {
			enrolled(d, peer, RS_OK, "node %s is enrolled", e->node);
			return;
		}
		auth_fail(d, RSD_EP_AGENTS, RSD_AUTH_ENROLL_REFUSED,
			  "node %s is enrolled with another key", e->node);
		if (store_begin(d->st) == 0) {
			rsd_event(d, NULL, 0, e->node, "duplicate-node", "an agent with "
				  "the join token %s tried to enrol as %s, which is enrolled "
				  "with another key; refused", token->name, e->node);
			rsd_commit(d);
		}
		enrolled(d, peer, RS_E_EXISTS, "node %s is already enrolled with another "
			 "key; if this host replaces it, revoke the old key first "
			 "(rsctl cred revoke --node %s), or use the state dir that holds "
			 "its key", e->node, e->node);
		return;
	}
	if (find_key(d, e->public_key)) {
		auth_fail(d, RSD_EP_AGENTS, RSD_AUTH_ENROLL_REFUSED, "reused key");
		enrolled(d, peer, RS_E_INVAL, "this public key is already in use");
		return;
	}
	memset(&p, 0, sizeof p);
	strcpy(p.kind, "node");
	rs_strlcpy(p.name, e->node, sizeof p.name);
	rs_strlcpy(p.pubkey, e->public_key, sizeof p.pubkey);
	p.created_ms = clock_wall_ms();
	snprintf(p.created_by, sizeof p.created_by, "join:%s", token->name);
	if ((r = store_begin(d->st)) < 0 || (r = store_principal_put(d->st, &p)) < 0 ||
	    (rsd_event(d, NULL, 0, e->node, "enrolled", "node %s enrolled with the "
		       "join token %s", e->node, token->name), 0) ||
	    (r = rsd_commit(d)) < 0) {
		rs_strlcpy(why, rsd_store_why(d, r), sizeof why);   /* before the rollback */
		store_rollback(d->st);
		enrolled(d, peer, RS_E_INTERNAL, "rsd cannot store the key: %s", why);
		return;
	}
	auth_reload(d);
	log_info("node %s enrolled (key %.8s...)", e->node, e->public_key);
	enrolled(d, peer, RS_OK, "node %s enrolled", e->node);
}

void rsd_auth_free(rsd *d)
{
	free(d->principals);
	free(d->bykey);
	d->principals = NULL;
	d->bykey = NULL;
	d->nprincipals = d->principals_cap = 0;
	memset(&d->server, 0, sizeof d->server);
}

/* ---- the version-skew policy (lib/version.h) ------------------------- */

bool rsd_version_ok(rsd *d, int endpoint, const rs_msg *m, char *why, size_t n)
{
	static char last[RSD_EP__NR][24];
	const char *what = endpoint == RSD_EP_AGENTS ? "rs-agent" : "rsctl";

	if (rs_skew_check(rs_version(), m->sender_version, what, why, n) == RS_SKEW_OK)
		return true;
	d->version_refused[endpoint]++;
	if (strcmp(last[endpoint], m->sender_version) != 0) {
		rs_strlcpy(last[endpoint], m->sender_version, sizeof last[endpoint]);
		log_warnx("refused: %s", why);
	}
	return false;
}
