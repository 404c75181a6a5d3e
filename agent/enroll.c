/*
 * enroll.c - the node's key: loaded from STATE/agent.key, or made and
 * bound to the node name at rsd with the join token (enrolment), once.
 *
 * The join token (rsd's join.token) holds rsd's public key, which the
 * agent pins, and the secret key of a connection that may only enrol.
 * The agent makes its own key pair, keeps it in agent.key.new until rsd
 * has bound it to the node name, then renames it to agent.key: a retried
 * enrolment sends the same key, so it binds once. Later starts use
 * agent.key and never need the token again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "codes.h"
#include "cred.h"
#include "log.h"
#include "wire.h"

#define ENROLL_WAIT_MS 5000

static void key_path(const agent *ag, const char *file, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", ag->state_dir, file);
}

/* The key pair this enrolment offers: agent.key.new if an earlier try
 * left one for this node, else a new one written there. */
static int pending_key(agent *ag, const rs_cred *token, rs_cred *c)
{
	char path[4096], err[512];
	int r;

	key_path(ag, "agent.key.new", path, sizeof path);
	if (cred_read(path, c, err, sizeof err) == 0 && strcmp(c->kind, "node") == 0 &&
	    strcmp(c->name, ag->node) == 0 && strcmp(c->server, token->server) == 0)
		return 0;
	memset(c, 0, sizeof *c);
	strcpy(c->kind, "node");
	rs_strlcpy(c->name, ag->node, sizeof c->name);
	strcpy(c->server, token->server);
	if ((r = net_keypair(c->pub, c->sec)) < 0)
		return r;
	return cred_write(path, c, 0);
}

/* One Enroll exchange. 0 bound; 1 try again later; -errno refused. */
static int enroll_once(agent *ag, const rs_cred *token, const rs_cred *c)
{
	net_curve jc;
	rs_msg m, rep;
	uint8_t *out = NULL, *in = NULL;
	size_t outlen, inlen;
	int r;

	cred_curve(token, &jc);
	rs_msg_init(&m, RS_MSG_ENROLL);
	rs_strlcpy(m.u.enroll.node, ag->node, sizeof m.u.enroll.node);
	rs_strlcpy(m.u.enroll.public_key, c->pub, sizeof m.u.enroll.public_key);
	r = wire_encode(&m, &out, &outlen);
	rs_msg_clear(&m);
	if (r < 0)
		return r;
	/* idempotent: the same key binds once */
	r = net_call_ex(ag->rsd_ep, &jc, out, outlen, ENROLL_WAIT_MS, NET_CALL_RESEND,
			&in, &inlen);
	free(out);
	memset(&jc, 0, sizeof jc);
	if (r == -EACCES) {
		log_warnx("rsd at %s refused the join token (rotated or revoked?), or "
			  "is not the rsd whose key the token pins", ag->rsd_ep);
		return r;
	}
	if (r < 0) {
		log_warnx("cannot enrol at rsd %s: %s; trying again", ag->rsd_ep,
			  strerror(-r));
		return 1;
	}
	r = wire_decode(in, inlen, &rep);
	free(in);
	if (r < 0 || rep.type != RS_MSG_ENROLLED) {
		rs_msg_clear(&rep);
		log_warnx("rsd sent a bad answer to the enrolment; trying again");
		return 1;
	}
	if (rep.u.enrolled.code != RS_OK) {
		log_warnx("rsd refused to enrol node %s: %s", ag->node,
			  rep.u.enrolled.message ? rep.u.enrolled.message : "(no reason)");
		r = rep.u.enrolled.code == RS_E_INTERNAL ? 1 : -EPERM;
	} else {
		r = 0;
	}
	rs_msg_clear(&rep);
	return r;
}

static int enroll(agent *ag)
{
	char path[4096], done[4096], err[512];
	rs_cred token, c;
	int r, delay_ms = 500;

	r = cred_read(ag->token_file, &token, err, sizeof err);
	if (r < 0 || strcmp(token.kind, "join") != 0 || !token.sec[0] ||
	    !token.server[0]) {
		log_warnx("cannot use the join token: %s", r < 0 ? err :
			  "not a join token (kind = join, server-key, secret-key)");
		return r < 0 ? r : -EINVAL;
	}
	if ((r = pending_key(ag, &token, &c)) < 0) {
		log_warnx("cannot make this node's key in %s: %s", ag->state_dir,
			  strerror(-r));
		return r;
	}
	log_info("enrolling node %s at rsd %s with the join token %s", ag->node,
		 ag->rsd_ep, token.name);
	while ((r = enroll_once(ag, &token, &c)) == 1) {
		struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		if (delay_ms < 5000)
			delay_ms *= 2;
	}
	memset(&token, 0, sizeof token);
	if (r < 0)
		return r;
	key_path(ag, "agent.key.new", path, sizeof path);
	key_path(ag, "agent.key", done, sizeof done);
	if (rename(path, done) < 0) {
		r = -errno;
		log_warnx("cannot keep the key as %s: %s", done, strerror(-r));
		return r;
	}
	log_info("enrolled: node %s, key %s", ag->node, done);
	cred_curve(&c, &ag->curve);
	memset(&c, 0, sizeof c);
	return 0;
}

int agent_keys(agent *ag)
{
	char path[4096], err[512];
	rs_cred c;
	int r;

	if (ag->insecure) {
		log_warnx("INSECURE: --insecure given: plaintext to rsd, no key");
		return 0;
	}
	key_path(ag, "agent.key", path, sizeof path);
	r = cred_read(path, &c, err, sizeof err);
	if (r == 0) {
		if (strcmp(c.kind, "node") != 0 || !c.sec[0] || !c.server[0]) {
			log_warnx("%s is not a node key", path);
			return -EINVAL;
		}
		if (strcmp(c.name, ag->node) != 0) {
			log_warnx("%s is the key of node %s, not %s: use that node name, "
				  "or another --state-dir for another node", path, c.name,
				  ag->node);
			return -EINVAL;
		}
		cred_curve(&c, &ag->curve);
		memset(&c, 0, sizeof c);
		return 0;
	}
	if (r != -ENOENT) {
		log_warnx("cannot use this node's key: %s", err);
		return r;
	}
	if (!ag->token_file) {
		log_warnx("no key in %s: enrol once with --token-file FILE (rsd's "
			  "join.token, in the folder of its --db), or use --insecure "
			  "with an rsd --insecure", path);
		return -ENOKEY;
	}
	return enroll(ag);
}

void agent_link_event(net_sock *s, net_event ev, uint32_t value, void *arg)
{
	agent *ag = arg;
	const char *why = NULL;

	(void)s;
	if (ev == NET_EV_HANDSHAKE_AUTH)
		why = "rsd refused this node's key (revoked? see rsctl cred list)";
	else if (ev == NET_EV_HANDSHAKE_PROTOCOL)
		why = value == 0x11000002u ? "rsd does not speak CURVE (--insecure?)" :
		      "the secure handshake failed";
	if (why && strcmp(ag->refused, why) != 0) {
		rs_strlcpy(ag->refused, why, sizeof ag->refused);
		log_warnx("%s (rsd %s)", why, ag->rsd_ep);
	} else if (ev == NET_EV_HANDSHAKE_OK && ag->refused[0]) {
		ag->refused[0] = '\0';
		log_info("secure link to rsd %s up again", ag->rsd_ep);
	}
	if (ev == NET_EV_HANDSHAKE_OK)
		agent_link_up(ag);
	else if (ev == NET_EV_DISCONNECTED)
		agent_link_down(ag);
}
