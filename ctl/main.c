/*
 * main.c - rsctl: sends one request to rsd and turns the reply into output
 * and an exit code (lib/codes.h, docs/cli.md).
 *
 * Owns: the request/reply exchange and the exit code.
 * Must not: keep state between runs.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "reslimits.h"
#include "profile.h"
#include "args.h"
#include "clock.h"
#include "codes.h"
#include "cred.h"
#include "logview.h"
#include "net.h"
#include "output.h"
#include "version.h"
#include "wire.h"

#include <jansson.h>

/* A random, non-zero request id; falls back to time and pid. */
static uint64_t request_id(void)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id || id == 0)
		id = (clock_mono_ns() ^ ((uint64_t)getpid() << 32)) | 1;
	return id;
}

/* How long rsctl waits for the reply: the request's timeout plus slack. */
static int reply_wait_ms(const ctl_cmd *c)
{
	uint64_t ms = (uint64_t)c->req.u.request.timeout_ms +
		      CTL_REPLY_SLACK_MS;

	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Reports that rsd could not be reached. Returns RS_E_UNREACHABLE. */
static int unreachable(const ctl_cmd *c, int err)
{
	int ms = reply_wait_ms(c);

	if (err == -EACCES && !c->curve) {
		fprintf(stderr, "rsctl: rsd at %s wants a credential (it does not run "
			"--insecure): drop --insecure and pass --cred FILE\n", c->endpoint);
		return RS_E_AUTH;
	}
	if (err == -EACCES) {
		fprintf(stderr, "rsctl: rsd at %s refused credential '%s' (unknown or "
			"revoked), or is not the rsd whose key the credential pins\n",
			c->endpoint, c->cred_name);
		return RS_E_AUTH;
	}
	if (err == -ETIMEDOUT || err == -ECONNREFUSED)
		fprintf(stderr, "rsctl: rsd at %s did not answer within %g s\n",
			c->endpoint, ms / 1000.0);
	else if (err == -EINVAL || err == -EPROTONOSUPPORT)
		fprintf(stderr, "rsctl: cannot connect to rsd at '%s': %s "
			"(expected an endpoint like %s)\n", c->endpoint,
			strerror(-err), CTL_DEFAULT_ENDPOINT);
	else
		fprintf(stderr, "rsctl: cannot talk to rsd at %s: %s\n",
			c->endpoint, strerror(-err));
	return RS_E_UNREACHABLE;
}

/* Verbs that change nothing: rsctl sends them again when rsd restarts
 * while it waits, instead of failing after the timeout. */
static bool read_only(rs_verb v)
{
	switch (v) {
	case RS_V_STATUS: case RS_V_NODES: case RS_V_LOOKUP: case RS_V_EVENTS:
	case RS_V_PING: case RS_V_LOGS: case RS_V_CRED_LIST: case RS_V_UPGRADE_PLAN:
	case RS_V_DESCRIBE: case RS_V_EXPORT: case RS_V_HISTORY:
		return true;
	default:
		return false;
	}
}

static int exchange(const ctl_cmd *c, net_client *nc, rs_msg *rep, bool quiet);

/* Where a reply's rendering goes: stdout, or the frame status --watch
 * compares with the last one; and the time it renders durations from
 * (0: the clock; --watch's comparison fixes it: uptimes move each
 * second, the services do not). */
static FILE *ctl_out;
static uint64_t ctl_now_fixed;

static uint64_t ctl_now(void)
{
	return ctl_now_fixed ? ctl_now_fixed : clock_wall_ms();
}

/* Pings rsd at c's endpoint: the features and version its reply's
 * envelope announces (version "" if it says none). 0, an exchange's
 * error, or RS_E_INTERNAL for an answer that is not the ping's. */
static int ping_rsd(const ctl_cmd *c, uint32_t timeout_ms, bool quiet,
		    uint64_t *features, char *version, size_t vlen)
{
	ctl_cmd pc = { .endpoint = c->endpoint, .curve = c->curve };
	rs_msg rep;
	int r;

	*features = 0;
	version[0] = '\0';
	rs_msg_init(&pc.req, RS_MSG_REQUEST);
	pc.req.u.request.verb = RS_V_PING;
	pc.req.u.request.timeout_ms = timeout_ms;
	pc.req.u.request.id = request_id();
	r = exchange(&pc, NULL, &rep, quiet);
	if (r == 0) {
		if (rep.type == RS_MSG_REPLY && rep.u.reply.id == pc.req.u.request.id) {
			*features = rep.features;
			rs_strlcpy(version, rep.sender_version, vlen);
		} else {
			r = RS_E_INTERNAL;
		}
		rs_msg_clear(&rep);
	}
	rs_msg_clear(&pc.req);
	return r;
}

/* After rsd restarted while it worked on c's request (the connection
 * dropped and came back): whether the request may be sent again. Only to
 * an rsd that recognises a resent request (RS_FEAT_REQDEDUP, learnt from
 * the envelope of a ping's reply); a 0.2.0 rsd would run it twice.
 * Returns 0 (resend), or an exit code after saying why not (quiet: not). */
static int may_resend(const ctl_cmd *c, int64_t deadline, bool quiet)
{
	int64_t left = deadline - (int64_t)clock_mono_ms() - CTL_REPLY_SLACK_MS;
	char version[sizeof ((rs_msg *)NULL)->sender_version];
	uint64_t features;

	if (ping_rsd(c, left > 1 ? (uint32_t)left : 1, true, &features, version,
		     sizeof version) != 0)
		return quiet ? RS_E_UNREACHABLE : unreachable(c, -ETIMEDOUT);
	if (features & RS_FEAT_REQDEDUP)
		return 0;
	if (!quiet)
		fprintf(stderr, "rsctl: rsd at %s restarted while it handled the request; "
			"this rsd (%s) cannot recognise a request sent again, so rsctl "
			"does not resend it: check the outcome with rsctl status\n",
			c->endpoint, version[0] ? version : "0.2.0 or older");
	return RS_E_UNREACHABLE;
}

/* What a call on a kept connection waits for: the reply to id (or to no
 * request: rsd's "malformed request"), decoded once. */
typedef struct reply_wait {
	uint64_t id;
	rs_msg   rep;
	bool     have;       /* rep holds the reply */
} reply_wait;

/* net_match_fn: whether buf answers the request waited for. A reply that
 * does not decode is taken (exchange reports it); a reply to another
 * request (a late copy of an earlier page's) is not. */
static int reply_for(const uint8_t *buf, size_t len, void *arg)
{
	reply_wait *w = arg;

	if (wire_decode(buf, len, &w->rep) < 0)
		return 1;
	if (w->rep.type == RS_MSG_REPLY && w->rep.u.reply.id != w->id &&
	    w->rep.u.reply.id != 0) {
		rs_msg_clear(&w->rep);
		return 0;
	}
	w->have = true;
	return 1;
}

/* Sends c->req and decodes the answer into *rep (uninitialised; cleared
 * on failure), on nc's connection (NULL: one of its own). A read-only
 * request is sent again as soon as rsd is back after a restart; one that
 * changes something too, with the same id, if rsd deduplicates requests
 * (may_resend). Returns 0, or an exit code after printing the reason
 * (quiet: without printing it). */
static int exchange(const ctl_cmd *c, net_client *nc, rs_msg *rep, bool quiet)
{
	uint8_t *out = NULL, *in = NULL;
	size_t outlen = 0, inlen = 0;
	bool ro = read_only(c->req.u.request.verb);
	int64_t deadline = (int64_t)clock_mono_ms() + reply_wait_ms(c);
	reply_wait w = { .id = c->req.u.request.id };
	int r;

	memset(rep, 0, sizeof *rep);
	r = wire_encode(&c->req, &out, &outlen);
	if (r < 0 && quiet)
		return RS_E_USAGE;
	if (r < 0) {
		fprintf(stderr, "rsctl: cannot encode the request: %s\n",
			r == -E2BIG ? "it is too large" : strerror(-r));
		return r == -ENOMEM ? RS_E_INTERNAL : RS_E_USAGE;
	}
	for (;;) {
		int64_t left = deadline - (int64_t)clock_mono_ms();

		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (nc)
			r = net_client_call(nc, out, outlen, left > INT_MAX ? INT_MAX :
					    (int)left, ro ? NET_CALL_RESEND : NET_CALL_RECONNECT,
					    reply_for, &w, &in, &inlen);
		else
			r = net_call_ex(c->endpoint, c->curve, out, outlen,
					left > INT_MAX ? INT_MAX : (int)left,
					ro ? NET_CALL_RESEND : NET_CALL_RECONNECT, &in, &inlen);
		if (r < 0 && w.have) {
			rs_msg_clear(&w.rep);
			w.have = false;
		}
		if (r != -ECONNRESET)
			break;
		if ((r = may_resend(c, deadline, quiet)) != 0) {
			free(out);
			return r;
		}
		if (!quiet)
			fputs("rsctl: rsd restarted; resending the request\n", stderr);
	}
	free(out);
	if (r < 0 && quiet)
		return r == -EACCES ? RS_E_AUTH : RS_E_UNREACHABLE;
	if (r < 0)
		return unreachable(c, r);
	if (w.have) {
		*rep = w.rep;
		free(in);
		return 0;
	}
	r = wire_decode(in, inlen, rep);
	free(in);
	if (r < 0 && quiet)
		return RS_E_INTERNAL;
	if (r < 0) {
		fprintf(stderr, "rsctl: rsd at %s sent a bad reply (%s)\n",
			c->endpoint, wire_err_to_string((wire_err)-r));
		return RS_E_INTERNAL;
	}
	return 0;
}

/* The exit code for a reply code: itself if it is one, else internal. */
static int exit_code(int32_t code)
{
	return code >= 0 && code <= 125 ? code : RS_E_INTERNAL;
}

/* Whether rsd's version (an envelope's) is an older minor or major
 * version than rsctl's. */
static bool rsd_older(const char *rsd_version)
{
	rs_semver them, us;

	if (rs_semver_parse(rsd_version, &them) < 0 ||
	    rs_semver_parse(rs_version(), &us) < 0)
		return false;
	return them.major < us.major ||
	       (them.major == us.major && them.minor < us.minor);
}

/* rsd's answer to a request it could not read (a reply to no request,
 * id 0): what an older rsd answers to a verb it does not know (describe
 * or node forget to rsd 0.2). Said as such, not as a garbled reply.
 * Returns the reply's code as the exit code (9) after saying why. */
static int unreadable(const ctl_cmd *c, const rs_msg *rep)
{
	const char *msg = rep->u.reply.message ? rep->u.reply.message : "";

	if (rsd_older(rep->sender_version))
		fprintf(stderr, "rsctl: rsd at %s is %s, older than rsctl %s: it "
			"cannot read this request (%s); '%s' needs rsd %s or "
			"newer\n", c->endpoint, rep->sender_version, rs_version(),
			msg, rs_verb_to_string(c->req.u.request.verb), rs_version());
	else
		fprintf(stderr, "rsctl: rsd at %s cannot read the request: %s\n",
			c->endpoint, msg);
	return exit_code(rep->u.reply.code);
}

/* Checks that rep answers c->req. Returns 0, or an exit code after
 * printing why not. */
static int check_reply(const ctl_cmd *c, const rs_msg *rep)
{
	if (rep->type != RS_MSG_REPLY) {
		fprintf(stderr, "rsctl: rsd at %s answered with a %s message\n",
			c->endpoint, rs_msg_type_to_string(rep->type));
		return RS_E_INTERNAL;
	}
	if (rep->u.reply.id == 0 && rep->u.reply.code != RS_OK)
		return unreadable(c, rep);
	if (rep->u.reply.id != c->req.u.request.id) {
		fprintf(stderr, "rsctl: rsd at %s answered another request\n",
			c->endpoint);
		return RS_E_INTERNAL;
	}
	return 0;
}

/* --json output of a reply with code 0: its payload, or a synthesised
 * {"code","message"} when it has none, and always for ping (whose reply
 * from an rsd up to 0.3.0-dev carried an empty {}). Returns the exit
 * code. */
static int print_json(rs_verb verb, const rs_reply *rep)
{
	if (!rep->json || !*rep->json || verb == RS_V_PING)
		return output_json_message(0, rep->message, ctl_out) < 0 ?
		       RS_E_INTERNAL : RS_OK;
	if (output_json(rep->json, ctl_out) < 0) {
		fputs("rsctl: rsd sent a payload that is not valid JSON\n",
		      stderr);
		return RS_E_INTERNAL;
	}
	return RS_OK;
}

/* cred create: the new credential, in the form --cred FILE reads. */
static int print_cred(const ctl_cmd *c, const rs_reply *rep)
{
	const rs_request *rq = &c->req.u.request;
	json_t *root = rep->json ? json_loads(rep->json, 0, NULL) : NULL;
	const char *server = json_string_value(json_object_get(root, "server_key"));
	char text[2048];
	rs_cred cr;
	int r = RS_OK;

	memset(&cr, 0, sizeof cr);
	strcpy(cr.kind, "operator");
	rs_strlcpy(cr.name, rq->label, sizeof cr.name);
	rs_strlcpy(cr.role, rq->role, sizeof cr.role);
	rs_strlcpy(cr.labels, rq->pattern, sizeof cr.labels);
	rs_strlcpy(cr.server, server ? server : "", sizeof cr.server);
	rs_strlcpy(cr.pub, rq->public_key, sizeof cr.pub);
	rs_strlcpy(cr.sec, c->new_sec, sizeof cr.sec);
	if (!server || !net_key_valid(server) || cred_format(&cr, text, sizeof text) < 0) {
		fputs("rsctl: rsd's answer has no valid server key\n", stderr);
		r = RS_E_INTERNAL;
	} else {
		fputs(text, stdout);
	}
	memset(&cr, 0, sizeof cr);
	json_decref(root);
	return r;
}

/* export: the manifest on stdout as rsd wrote it, each warning on stderr.
 * Returns the exit code. */
static int print_export(const rs_reply *rep)
{
	json_t *root = json_loads(rep->json ? rep->json : "", 0, NULL), *w;
	const char *text = json_string_value(json_object_get(root, "manifest"));
	size_t i;

	if (!text) {
		json_decref(root);
		fputs("rsctl: rsd's answer has no manifest\n", stderr);
		return RS_E_INTERNAL;
	}
	fputs(text, stdout);
	json_array_foreach(json_object_get(root, "warnings"), i, w)
		fprintf(stderr, "rsctl: warning: %s\n", json_string_value(w) ?
			json_string_value(w) : "?");
	json_decref(root);
	return RS_OK;
}

/* Human output of a reply with code 0: the payload's rendering for the
 * verb, else the message. Returns the exit code. */
static int print_human(rs_verb verb, const rs_reply *rep)
{
	int r = output_human(verb, rep->json, ctl_now(), ctl_out);

	if (r == -ENOMEM) {
		fputs("rsctl: out of memory\n", stderr);
		return RS_E_INTERNAL;
	}
	if (r == 0)
		return RS_OK;
	if (rep->message && *rep->message)
		fprintf(ctl_out, "%s\n", rep->message);
	else if (verb == RS_V_PING)
		fputs("pong\n", ctl_out);
	return RS_OK;
}

/* Reports a failed reply: its message on stderr, and with --json its
 * payload (if valid) on stdout. Returns the exit code. */
static int print_failure(const ctl_cmd *c, const rs_reply *rep)
{
	if (rep->message && *rep->message)
		fprintf(stderr, "rsctl: %s\n", rep->message);
	else
		fprintf(stderr, "rsctl: rsd failed the request (code %d)\n",
			(int)rep->code);
	if (c->json && rep->json && *rep->json)
		output_json(rep->json, stdout);
	return exit_code(rep->code);
}

/* ---- progress lines for long operations (a person at a terminal) ------ */

#define CTL_PROGRESS_POLL_MS   250    /* status polls while waiting */
#define CTL_PROGRESS_STATUS_MS 1000   /* the timeout of one status poll */

static bool ctl_tty;   /* stdout is a terminal */

/* Beside the request, a thread asks rsd for `status` every 250 ms over its
 * own connection (rsd answers status at once, whatever else the same
 * client waits for) and prints what changed. */
typedef struct ctl_progress {
	const ctl_cmd  *c;
	progress       *pg;
	uint64_t        t0_ms;        /* monotonic, before the request */
	pthread_t       thread;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	bool            stop;         /* under mu */
} ctl_progress;

/* Whether the request is a long operation worth progress lines, and
 * rsctl prints for a person (a TTY, not --json). */
static bool wants_progress(const ctl_cmd *c)
{
	static const bool long_verbs[RS_V__NR] = {
		[RS_V_UP] = true, [RS_V_APPLY] = true, [RS_V_SHUTDOWN] = true,
		[RS_V_DRAIN] = true, [RS_V_UPDATE] = true,
	};
	const rs_request *rq = &c->req.u.request;

	if (!ctl_tty || c->json || c->follow || rq->no_block ||
	    (unsigned)rq->verb >= RS_V__NR || !long_verbs[rq->verb])
		return false;
	if (rq->verb == RS_V_UP)
		return rq->spec.replicas > 1;
	return rq->verb != RS_V_APPLY || !rq->dry_run;
}

/* The status payload now (malloc'ed), or NULL; prints nothing. */
static char *status_now(const ctl_cmd *c)
{
	ctl_cmd sc = { .endpoint = c->endpoint, .curve = c->curve };
	char *json = NULL;
	rs_msg rep;

	rs_msg_init(&sc.req, RS_MSG_REQUEST);
	sc.req.u.request.verb = RS_V_STATUS;
	sc.req.u.request.timeout_ms = CTL_PROGRESS_STATUS_MS;
	sc.req.u.request.id = request_id();
	if (exchange(&sc, NULL, &rep, true) == 0) {
		if (rep.type == RS_MSG_REPLY && rep.u.reply.code == RS_OK &&
		    rep.u.reply.id == sc.req.u.request.id && rep.u.reply.json)
			json = strdup(rep.u.reply.json);
		rs_msg_clear(&rep);
	}
	rs_msg_clear(&sc.req);
	return json;
}

/* One status poll: prints the lines of what changed. */
static void progress_poll(ctl_progress *cp)
{
	char *json = status_now(cp->c);

	if (json && progress_update(cp->pg, json, stdout) > 0)
		fflush(stdout);
	free(json);
}

static void *progress_thread(void *arg)
{
	ctl_progress *cp = arg;

	pthread_mutex_lock(&cp->mu);
	while (!cp->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += CTL_PROGRESS_POLL_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!cp->stop && pthread_cond_timedwait(&cp->cv, &cp->mu, &ts) != ETIMEDOUT)
			;
		if (cp->stop)
			break;
		pthread_mutex_unlock(&cp->mu);
		progress_poll(cp);
		pthread_mutex_lock(&cp->mu);
	}
	pthread_mutex_unlock(&cp->mu);
	return NULL;
}

/* Whether the locale draws UTF-8 (for the arrow). */
static bool locale_utf8(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };

	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
	}
	return false;
}

/* Takes the status before the request and starts the poller. Returns 0, or
 * <0 (no progress: rsd did not answer, no memory, no thread). */
static int progress_begin(ctl_progress *cp, const ctl_cmd *c)
{
	char *json = status_now(c);
	pthread_condattr_t ca;

	memset(cp, 0, sizeof *cp);
	cp->c = c;
	cp->t0_ms = clock_mono_ms();
	cp->pg = json ? progress_new(json, locale_utf8()) : NULL;
	free(json);
	if (!cp->pg)
		return -ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cp->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&cp->mu, NULL);
	if (pthread_create(&cp->thread, NULL, progress_thread, cp) != 0) {
		pthread_cond_destroy(&cp->cv);
		pthread_mutex_destroy(&cp->mu);
		progress_destroy(&cp->pg);
		return -EAGAIN;
	}
	return 0;
}

/* Stops the poller once the reply is in; after a success keeps polling
 * (every 250 ms, up to the request's timeout) until nothing is pending,
 * starting or stopping: apply and drain answer before the instances
 * they move have settled. */
static void progress_end(ctl_progress *cp, bool ok)
{
	uint64_t deadline = cp->t0_ms + cp->c->req.u.request.timeout_ms;
	struct timespec ts = { 0, CTL_PROGRESS_POLL_MS * 1000000L };

	pthread_mutex_lock(&cp->mu);
	cp->stop = true;
	pthread_cond_signal(&cp->cv);
	pthread_mutex_unlock(&cp->mu);
	pthread_join(cp->thread, NULL);
	pthread_cond_destroy(&cp->cv);
	pthread_mutex_destroy(&cp->mu);
	progress_poll(cp);
	while (ok && !progress_settled(cp->pg) && clock_mono_ms() < deadline) {
		nanosleep(&ts, NULL);   /* polling rsd for a person, not a test */
		progress_poll(cp);
	}
}

static int run_once(ctl_cmd *c, bool show_empty);

/* For -f: where the next request starts, from the reply just printed:
 * logs: "next"; events: the last "seq". */
static void follow_advance(ctl_cmd *c, const rs_reply *rep)
{
	rs_request *rq = &c->req.u.request;
	json_t *root = rep->json ? json_loads(rep->json, 0, NULL) : NULL;
	json_t *evs, *ev;
	size_t i;

	if (rq->verb == RS_V_LOGS) {
		json_int_t next = json_integer_value(json_object_get(root, "next"));
		if (next > 0)
			rq->after = (uint64_t)next;
		if (json_integer_value(json_object_get(root, "instance")) > 0)
			rq->instance = (uint64_t)json_integer_value(json_object_get(root, "instance"));
	} else {
		evs = json_object_get(root, "events");
		json_array_foreach(evs, i, ev) {
			json_int_t seq = json_integer_value(json_object_get(ev, "seq"));
			if (seq > 0 && (uint64_t)seq > rq->after)
				rq->after = (uint64_t)seq;
		}
		rq->limit = 0;   /* everything after */
	}
	json_decref(root);
}

/* Whether a reply carries something to print in follow mode. */
static bool has_news(const rs_reply *rep)
{
	json_t *root = rep->json ? json_loads(rep->json, 0, NULL) : NULL;
	json_t *x = json_object_get(root, "events");
	bool news = x ? json_array_size(x) > 0 :
		    json_string_length(json_object_get(root, "data")) > 0;

	json_decref(root);
	return news;
}

/* ---- status and nodes, page by page ----------------------------------- */

/* One page of status or nodes: sends c's request (page_after set) on
 * nc's connection into *rep. Returns 0 with a reply of code 0, else the
 * exit code after printing why (rep cleared). */
static int page_fetch(ctl_cmd *c, net_client *nc, rs_msg *rep)
{
	int r;

	c->req.u.request.id = request_id();
	r = exchange(c, nc, rep, false);
	if (r == 0)
		r = check_reply(c, rep);
	if (r == 0 && rep->u.reply.code != RS_OK)
		r = print_failure(c, &rep->u.reply);
	if (r != 0)
		rs_msg_clear(rep);
	return r;
}

/* Whether c asks for what an rsd without RS_FEAT_PAGED cannot answer. */
static int unpaged_refuses(const ctl_cmd *c, const rs_msg *rep)
{
	if (c->req.u.request.nbatch == 0)
		return 0;
	fprintf(stderr, "rsctl: rsd at %s (%s) lists one LABEL at a time: upgrade "
		"rsd, or ask for each LABEL\n", c->endpoint,
		rep->sender_version[0] ? rep->sender_version : "0.2");
	return RS_E_FAILED;
}

/* Whether rep is a page of status rows: rsctl asked for them and rsd
 * answered so (an rsd without RS_FEAT_ROWS answers JSON). */
static bool page_is_rows(const rs_request *rq, const rs_msg *rep)
{
	return rq->rows && (rep->features & RS_FEAT_ROWS) && !rep->u.reply.json;
}

/* status, nodes: asks for page after page (Reply.next_page), all on one
 * connection, and prints them as one table or one JSON document; an
 * answer of one JSON page prints exactly as rsd sent it. Each page is
 * rows or JSON, whichever rsd sent. An rsd without RS_FEAT_PAGED ignores
 * the page and filter fields and answers everything at once: rsctl
 * filters then. Returns the exit code. */
static int run_paged(ctl_cmd *c)
{
	rs_request *rq = &c->req.u.request;
	output_pager *pg = NULL;
	net_client *nc = NULL;
	rs_msg rep;
	bool paged;
	int r;

	rq->page_after[0] = '\0';
	if ((r = net_client_new(c->endpoint, c->curve, &nc)) < 0)
		return unreachable(c, r);
	if ((r = page_fetch(c, nc, &rep)) != 0) {
		net_client_destroy(&nc);
		return r;
	}
	paged = (rep.features & RS_FEAT_PAGED) != 0;
	if (!paged && (r = unpaged_refuses(c, &rep)) != 0)
		goto out;
	/* one page, or everything unfiltered: as sent */
	if (!page_is_rows(rq, &rep) &&
	    (paged ? !rep.u.reply.next_page[0] : !rq->node[0] && !rq->state[0])) {
		r = c->json ? print_json(rq->verb, &rep.u.reply) :
		    print_human(rq->verb, &rep.u.reply);
		goto out;
	}
	if (!(pg = output_pager_new(rq->verb, c->json, ctl_out))) {
		r = RS_E_INTERNAL;
		fputs("rsctl: out of memory\n", stderr);
		goto out;
	}
	if (!paged)
		output_pager_filter(pg, rq->node, rq->state);
	for (;;) {
		int e = page_is_rows(rq, &rep) ?
			output_pager_add_rows(pg, rep.u.reply.rows, rep.u.reply.nrows,
					      ctl_now()) :
			output_pager_add(pg, rep.u.reply.json, ctl_now());

		if (e < 0) {
			fprintf(stderr, "rsctl: %s\n", e == -EINVAL ? "rsd sent a page "
				"that is not what the verb answers" : strerror(-e));
			r = RS_E_INTERNAL;
			goto out;
		}
		if (!paged || !rep.u.reply.next_page[0])
			break;
		rs_strlcpy(rq->page_after, rep.u.reply.next_page, sizeof rq->page_after);
		rs_msg_clear(&rep);
		if ((r = page_fetch(c, nc, &rep)) != 0) {
			/* --json: the document stays unfinished, the exit
			 * code says so */
			output_pager_destroy(&pg);
			net_client_destroy(&nc);
			return r;
		}
	}
	if (output_pager_end(pg) < 0) {
		fputs("rsctl: out of memory\n", stderr);
		r = RS_E_INTERNAL;
	}
out:
	output_pager_destroy(&pg);
	net_client_destroy(&nc);
	rs_msg_clear(&rep);
	return r;
}

/* is-running LABEL: lookup's answer as an exit code, printed only when
 * rsd could not be asked. */
static int run_predicate(ctl_cmd *c)
{
	rs_msg rep;
	int r;

	c->req.u.request.id = request_id();
	r = exchange(c, NULL, &rep, false);
	if (r == 0)
		r = check_reply(c, &rep);
	if (r != 0)
		return r;
	switch (rep.u.reply.code) {
	case RS_OK: {
		json_t *root = json_loads(rep.u.reply.json ? rep.u.reply.json : "", 0, NULL);
		const char *st = json_string_value(json_object_get(root, "state"));

		r = st && !strcmp(st, "running") ? RS_OK : RS_E_FAILED;
		json_decref(root);
		break;
	}
	case RS_E_FAILED:   /* no active instance */
	case RS_E_NOENT:
		r = rep.u.reply.code;
		break;
	default:
		r = print_failure(c, &rep.u.reply);
		break;
	}
	rs_msg_clear(&rep);
	return r;
}

/* ---- status --watch ----------------------------------------------------- */

static volatile sig_atomic_t watch_stop;

static void watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/* One frame of status into *buf (malloc'ed), rendered as of now, or as
 * of a fixed time when fixed. Returns the exit code of the status. */
static int watch_frame(ctl_cmd *c, bool fixed, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	int r;

	if (!f)
		return RS_E_INTERNAL;
	ctl_out = f;
	ctl_now_fixed = fixed ? 1 : 0;
	r = run_paged(c);
	ctl_now_fixed = 0;
	ctl_out = stdout;
	if (fclose(f) != 0 && r == RS_OK)
		r = RS_E_INTERNAL;
	return r;
}

/* status --watch: on a terminal, the table redrawn each second (as
 * watch(1)); else the table again, under a "--- TIME" line, each time
 * the services change (compared as of a fixed time, so that uptimes
 * alone are no change). An error (rsd away) is said on stderr once per
 * frame and the watch goes on. Ends with SIGINT or SIGTERM: exit 0. */
static int run_watch(ctl_cmd *c)
{
	struct sigaction sa = { .sa_handler = watch_signal };
	struct timespec ts = { 1, 0 };
	char *last = NULL, *cmp, *frame;
	size_t lastlen = 0, cmplen, len;
	char when[40];

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!watch_stop) {
		cmp = frame = NULL;
		if (!ctl_tty) {
			watch_frame(c, true, &cmp, &cmplen);
			if (last && cmplen == lastlen && !memcmp(cmp, last, cmplen)) {
				free(cmp);
				nanosleep(&ts, NULL);   /* polling rsd, not a test's wait */
				continue;
			}
			free(last);
			last = cmp;
			lastlen = cmplen;
		}
		watch_frame(c, false, &frame, &len);
		if (watch_stop) {
			free(frame);
			break;
		}
		output_time(clock_wall_ms(), when, sizeof when);
		if (ctl_tty)   /* home, clear: the frame replaces the last */
			printf("\033[H\033[2J%s  every 1 s; ^C ends\n\n", when);
		else
			printf("--- %s\n", when);
		fwrite(frame, 1, len, stdout);
		fflush(stdout);
		free(frame);
		nanosleep(&ts, NULL);   /* polling rsd, not a test's wait */
	}
	free(last);
	return RS_OK;
}

/* ---- top ------------------------------------------------------------- */

/* Whether a status row's state has a live process (what top lists). */
static bool top_live(const char *state)
{
	return state && (!strcmp(state, "running") || !strcmp(state, "unready") ||
			 !strcmp(state, "starting") || !strcmp(state, "stopping"));
}

/* Appends to *v (*n of *cap) the live instance rows of rep that carry a
 * report. 0 or -ENOMEM. */
static int top_take(const rs_reply *rep, output_top_row **v, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < rep->nrows; i++) {
		const rs_status_row *x = &rep->rows[i];
		output_top_row *t;

		if (!x->instance || !x->usage_ms || !top_live(x->state))
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 256;
			output_top_row *g = realloc(*v, nc * sizeof *g);

			if (!g)
				return -ENOMEM;
			*v = g;
			*cap = nc;
		}
		t = &(*v)[(*n)++];
		memset(t, 0, sizeof *t);
		t->row.instance = x->instance;
		t->row.pid = x->pid;
		t->row.started_ms = x->started_ms;
		t->row.cpu_ms = x->cpu_ms;
		t->row.memory = x->memory;
		t->row.memory_peak = x->memory_peak;
		t->row.tasks = x->tasks;
		t->row.usage_ms = x->usage_ms;
		rs_strlcpy(t->label, x->label, sizeof t->label);
		rs_strlcpy(t->node, x->node, sizeof t->node);
		t->cpu_pct = -1;
	}
	return 0;
}

/* One frame of top: every page of status rows c asks for (LABELs,
 * --node), the live instances with a report into *v (malloc'ed, *n).
 * Returns 0, or the exit code after saying why: RS_E_INVAL for an rsd
 * without RS_FEAT_USAGE (0.2, or a 0.3 before it), which reports none. */
static int top_fetch(ctl_cmd *c, output_top_row **v, size_t *n)
{
	rs_request *rq = &c->req.u.request;
	net_client *nc = NULL;
	output_top_row *a = NULL;
	size_t len = 0, cap = 0;
	bool more = true;
	rs_msg rep;
	int r = 0;

	*v = NULL;
	*n = 0;
	rq->page_after[0] = '\0';
	if ((r = net_client_new(c->endpoint, c->curve, &nc)) < 0)
		return unreachable(c, r);
	while (more && (r = page_fetch(c, nc, &rep)) == 0) {
		if (!(rep.features & RS_FEAT_USAGE) || !page_is_rows(rq, &rep)) {
			fprintf(stderr, "rsctl: rsd at %s (%s) does not report what "
				"instances use: top needs rsd 0.3.0 or later "
				"(docs/upgrade.md)\n", c->endpoint,
				rep.sender_version[0] ? rep.sender_version : "0.2");
			r = RS_E_INVAL;
		} else if (top_take(&rep.u.reply, &a, &len, &cap) < 0) {
			fputs("rsctl: out of memory\n", stderr);
			r = RS_E_INTERNAL;
		}
		more = !r && (rep.features & RS_FEAT_PAGED) && rep.u.reply.next_page[0];
		if (more)
			rs_strlcpy(rq->page_after, rep.u.reply.next_page, sizeof rq->page_after);
		rs_msg_clear(&rep);
		if (r)
			break;
	}
	net_client_destroy(&nc);
	if (r) {
		free(a);
		return r;
	}
	*v = a;
	*n = len;
	return 0;
}

/* Rows of the terminal top may fill: its height less the header lines
 * (0: unknown, all). */
static size_t top_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row < 6)
		return 0;
	return ws.ws_row - 4u;
}

/* top: the usage table every c->top_delay_ms, c->top_frames times (0:
 * until SIGINT or SIGTERM). On a terminal each frame replaces the last
 * (home, clear), as many rows as fit; else plain tables, each under a
 * "--- TIME" line, no escape codes. An rsd without usage ends it at
 * once (exit 9); another error ends it with -n, else is said and the
 * next frame tried. */
_Static_assert((int)CTL_TOP_CPU == (int)OUTPUT_TOP_CPU &&
	       (int)CTL_TOP_MEM == (int)OUTPUT_TOP_MEM &&
	       (int)CTL_TOP_TASKS == (int)OUTPUT_TOP_TASKS, "top's sort keys");

static int run_top(ctl_cmd *c)
{
	static const char *const keys[] = { "cpu", "mem", "tasks" };
	struct sigaction sa = { .sa_handler = watch_signal };
	struct timespec ts = { c->top_delay_ms / 1000,
			       (long)(c->top_delay_ms % 1000) * 1000000L };
	output_top_row *old = NULL, *cur;
	size_t nold = 0, ncur;
	char when[40];
	int r = RS_OK;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (uint32_t f = 0; !watch_stop && (!c->top_frames || f < c->top_frames); f++) {
		if (f)
			nanosleep(&ts, NULL);   /* polling rsd, not a test's wait */
		if (watch_stop)
			break;
		r = top_fetch(c, &cur, &ncur);
		if (r == RS_E_INVAL || (r && c->top_frames))
			break;
		if (r)
			continue;
		output_top_rate(cur, ncur, old, nold);
		free(old);
		old = cur;
		nold = ncur;
		output_time(clock_wall_ms(), when, sizeof when);
		if (ctl_tty)
			printf("\033[H\033[2J%s  %zu instance%s, by %s, every %.1f s; ^C ends\n\n",
			       when, ncur, ncur == 1 ? "" : "s", keys[c->top_sort],
			       c->top_delay_ms / 1000.0);
		else
			printf("--- %s  %zu instance%s, by %s\n", when, ncur,
			       ncur == 1 ? "" : "s", keys[c->top_sort]);
		if (output_top_print(cur, ncur, c->top_sort, ctl_tty ? top_rows() : 0,
				     clock_wall_ms(), stdout) < 0) {
			fputs("rsctl: out of memory\n", stderr);
			r = RS_E_INTERNAL;
			break;
		}
		fflush(stdout);
	}
	free(old);
	return r;
}

/* ---- logs ------------------------------------------------------------ */

/* One logs answer (rsd's JSON; its data borrowed from root). */
typedef struct logs_page {
	json_t     *root;
	const char *data;
	size_t      len;
	const char *node;
	uint64_t    instance, next;
	bool        stamped, more;
	int32_t     pid, prev_pid;
} logs_page;

/* Parses rep's payload into *p (p->root to json_decref). 0 or -EINVAL. */
static int logs_parse(const rs_reply *rep, logs_page *p)
{
	json_t *data;

	memset(p, 0, sizeof *p);
	p->root = rep->json ? json_loads(rep->json, 0, NULL) : NULL;
	data = json_object_get(p->root, "data");
	if (!json_is_object(p->root) || (data && !json_is_string(data)))
		return -EINVAL;
	p->data = data ? json_string_value(data) : "";
	p->len = data ? json_string_length(data) : 0;
	p->node = json_string_value(json_object_get(p->root, "node"));
	p->node = p->node ? p->node : "?";
	p->instance = (uint64_t)json_integer_value(json_object_get(p->root, "instance"));
	p->next = (uint64_t)json_integer_value(json_object_get(p->root, "next"));
	/* 0.3 (RS_FEAT_LOGS); absent from an older rsd's answer */
	p->stamped = json_is_true(json_object_get(p->root, "stamped"));
	p->more = json_is_true(json_object_get(p->root, "more"));
	p->pid = (int32_t)json_integer_value(json_object_get(p->root, "pid"));
	p->prev_pid = (int32_t)json_integer_value(json_object_get(p->root, "prev_pid"));
	return 0;
}

/* Whether the first answer can serve what c asks: an rsd older than 0.3
 * ignores --since and --previous and answers plain text; so does a node
 * whose agent or keeper is older (rsd refuses --since and --previous for
 * an agent without RS_FEAT_LOGS itself). 0, or the exit code after
 * saying why. */
static int logs_check(const ctl_cmd *c, const rs_msg *rep, const logs_page *p)
{
	const rs_request *rq = &c->req.u.request;
	const char *need = rq->previous ? "--previous" : rq->since_ms ? "--since" :
			   c->timestamps ? "--timestamps" : NULL;

	if (!need)
		return 0;
	if (!(rep->features & RS_FEAT_LOGS)) {
		fprintf(stderr, "rsctl: rsd at %s is %s, older than rsctl %s: it cannot "
			"answer logs %s; upgrade rsd\n", c->endpoint,
			rep->sender_version[0] ? rep->sender_version : "0.2",
			rs_version(), need);
		return RS_E_INVAL;
	}
	if (!p->stamped) {
		fprintf(stderr, "rsctl: node %s keeps no times or pids with this output "
			"(its rs-agent or rs-keeper is older than %s): logs %s needs "
			"both upgraded there\n", p->node, rs_version(), need);
		return RS_E_INVAL;
	}
	return 0;
}

/* --json: one page's (or, without -f, every page's) text as
 * {"instance","node","data","next"}. */
static int logs_print_json(const logs_page *p, const char *text, size_t len)
{
	json_t *o = json_pack("{s:I, s:s, s:s%, s:I}", "instance", (json_int_t)p->instance,
			      "node", p->node, "data", text ? text : "", len,
			      "next", (json_int_t)p->next);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int r = s && puts(s) >= 0 ? RS_OK : RS_E_INTERNAL;

	free(s);
	json_decref(o);
	return r;
}

/* logs: asks for page after page (an answer stopped at its size says
 * "more") until -n LINES are printed (or, with -f, for ever: every 250 ms
 * once nothing more is waiting), and prints the lines as logview.h says.
 * Returns the exit code. */
static int run_logs(ctl_cmd *c)
{
	rs_request *rq = &c->req.u.request;
	struct timespec ts = { 0, 250 * 1000 * 1000 };
	logview v = { .timestamps = c->timestamps, .separators = c->follow,
		      .label = rq->label, .max = c->follow ? 0 : rq->limit };
	char *text = NULL;
	size_t tlen = 0;
	FILE *mem = NULL;   /* --json: the text of the pages */
	logs_page last = { 0 };
	bool first = true;
	int r = 0;

	for (;;) {
		logs_page p;
		rs_msg rep;
		bool more;

		rq->id = request_id();
		r = exchange(c, NULL, &rep, false);
		if (r == 0)
			r = check_reply(c, &rep);
		if (r != 0)
			break;
		if (rep.u.reply.code != RS_OK) {
			r = print_failure(c, &rep.u.reply);
			rs_msg_clear(&rep);
			break;
		}
		if (logs_parse(&rep.u.reply, &p) < 0) {
			fputs("rsctl: rsd sent a logs answer that is not of its shape\n",
			      stderr);
			r = RS_E_INTERNAL;
		} else if (first) {
			r = logs_check(c, &rep, &p);
		}
		if (r == 0) {
			v.instance = p.instance;
			if (c->json && !mem)
				mem = open_memstream(&text, &tlen);
			if (logview_write(&v, p.data, p.len, p.stamped,
					  c->json ? mem : stdout, stderr) < 0 ||
			    (c->json && !mem))
				r = RS_E_INTERNAL;
		}
		more = r == 0 && p.stamped && p.more;
		if (r == 0) {
			/* where the next read starts: the same instance, the
			 * same process for --previous */
			if (p.next)
				rq->after = p.next;
			if (p.instance)
				rq->instance = p.instance;
			if (p.stamped && rq->previous && p.prev_pid)
				rq->pid = p.prev_pid;
			if (!more)
				logview_process(&v, p.pid, stdout, stderr);
		}
		if (r == 0 && c->json && c->follow) {
			/* a document per answer that has news, as 0.2 */
			fclose(mem);
			mem = NULL;
			if (first || tlen)
				r = logs_print_json(&p, text, tlen);
			free(text);
			text = NULL;
			tlen = 0;
		}
		json_decref(last.root);
		last = p;
		rs_msg_clear(&rep);
		first = false;
		if (r != 0)
			break;
		if (!c->follow && (!more || (v.max && v.lines >= v.max)))
			break;
		if (!more) {
			fflush(stdout);
			nanosleep(&ts, NULL);   /* polling rsd, not waiting in a test */
		}
	}
	if (mem) {
		fclose(mem);
		if (r == 0)
			r = logs_print_json(&last, text, tlen);
	}
	free(text);
	json_decref(last.root);
	return r;
}

/* Runs the parsed command. Returns the exit code. */
static int run(ctl_cmd *c)
{
	if (c->req.u.request.verb == RS_V_LOGS)
		return run_logs(c);
	if (c->follow) {
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		bool first = true;

		for (;;) {
			int r = run_once(c, first);

			if (r != 0)
				return r;
			fflush(stdout);
			first = false;
			nanosleep(&ts, NULL);   /* polling rsd, not waiting in a test */
		}
	}
	if (c->predicate)
		return run_predicate(c);
	if (c->watch)
		return run_watch(c);
	if (c->top)
		return run_top(c);
	if (c->req.u.request.verb == RS_V_STATUS || c->req.u.request.verb == RS_V_NODES)
		return run_paged(c);
	return run_once(c, true);
}

/* Sends the request once and prints the reply (in follow mode, only when
 * it has news or show_empty; then advances the follow position). Returns
 * the exit code. */
/* update --to-revision and undo: asks rsd for history first, so an rsd
 * that does not keep revisions (0.2, which would take the request as an
 * update with no change and hand the process over for nothing) is told
 * apart, and an unknown label fails as history does. Returns 0 or an
 * exit code after saying why. */
static int revisions_known(const ctl_cmd *c)
{
	ctl_cmd hc = { .endpoint = c->endpoint, .curve = c->curve };
	rs_msg rep;
	int r;

	rs_msg_init(&hc.req, RS_MSG_REQUEST);
	hc.req.u.request.verb = RS_V_HISTORY;
	rs_strlcpy(hc.req.u.request.label, c->req.u.request.label,
		   sizeof hc.req.u.request.label);
	hc.req.u.request.timeout_ms = CTL_PROGRESS_STATUS_MS * 5;
	hc.req.u.request.id = request_id();
	r = exchange(&hc, NULL, &rep, false);
	if (r == 0) {
		r = check_reply(&hc, &rep);
		if (r == 0 && rep.u.reply.code != RS_OK)
			r = print_failure(&hc, &rep.u.reply);
		rs_msg_clear(&rep);
	}
	rs_msg_clear(&hc.req);
	return r;
}

static bool spec_has_probes(const rs_spec *s)
{
	for (int i = 0; i < RS_PROBE__NR; i++)
		if (s->probes[i].kind != RS_PK_NONE)
			return true;
	return false;
}

static bool spec_has_limits(const rs_spec *s)
{
	return rs_limits_any(&s->limits);
}

static bool spec_has_profile(const rs_spec *s)
{
	return rs_profile_any(&s->profile);
}

/* What a request may carry that an older rsd would drop, saying nothing:
 * it goes only to an rsd announcing the feature (learnt from one ping's
 * envelope). */
static const struct ctl_needs {
	uint64_t    feature;
	uint32_t    edit_mask;                /* an edit of these asks for it */
	bool      (*has)(const rs_spec *s);   /* so does a spec with it */
	const char *what;
	const char *without;                  /* what the old rsd would do */
} ctl_needs[] = {
	{ RS_FEAT_PROBES, RS_EDIT_LIVENESS | RS_EDIT_READINESS | RS_EDIT_STARTUP,
	  spec_has_probes, "health probes (--liveness, --readiness, --startup, probes:)",
	  "run the services without them" },
	{ RS_FEAT_LIMITS, RS_EDIT_LIMITS, spec_has_limits,
	  "resource limits (--memory-max, --memory-high, --cpu-weight, --cpu-max, "
	  "--pids-max, limits:)", "run the services unbounded" },
	{ RS_FEAT_PROFILE, RS_EDIT_PROFILE, spec_has_profile,
	  "privilege profiles (--cap, --no-new-privs, --read-only-root, "
	  "--private-tmp, --nice, --cpus, profile:)", "run the services without them" },
};

/* Whether c's request (up, edit, or an apply's services: the manifest is
 * parsed here) sets, changes or removes what n is about. */
static bool asks(const ctl_cmd *c, const struct ctl_needs *n)
{
	const rs_request *q = &c->req.u.request;

	if (q->edit_mask & n->edit_mask || n->has(&q->spec))
		return true;
	for (size_t i = 0; q->specs && i < q->nspecs; i++)
		if (n->has(&q->specs[i]))
			return true;
	return false;
}

/* A request that needs a feature of ctl_needs goes only to an rsd that
 * announces it. 0 (nothing needed, or all there), or the exit code after
 * saying why not. */
static int features_known(const ctl_cmd *c)
{
	char version[sizeof ((rs_msg *)NULL)->sender_version];
	uint64_t features;
	bool any = false;
	int r;

	for (size_t i = 0; i < sizeof ctl_needs / sizeof *ctl_needs; i++)
		any = any || asks(c, &ctl_needs[i]);
	if (!any)
		return 0;
	r = ping_rsd(c, CTL_PROGRESS_STATUS_MS * 5, false, &features, version,
		     sizeof version);
	if (r != 0)
		return r;
	for (size_t i = 0; i < sizeof ctl_needs / sizeof *ctl_needs; i++) {
		const struct ctl_needs *n = &ctl_needs[i];

		if (asks(c, n) && !(features & n->feature)) {
			fprintf(stderr, "rsctl: rsd at %s (%s) does not know %s: it would "
				"%s; nothing was sent. Upgrade rsd first (docs/upgrade.md)\n",
				c->endpoint, version[0] ? version : "0.2.0 or older",
				n->what, n->without);
			return RS_E_INVAL;
		}
	}
	return 0;
}

static int run_once(ctl_cmd *c, bool show_empty)
{
	ctl_progress cp;
	bool pg;
	rs_msg rep;
	int r;

	if (c->req.u.request.verb == RS_V_UPDATE && c->req.u.request.revision &&
	    (r = revisions_known(c)) != 0)
		return r;
	if ((r = features_known(c)) != 0)
		return r;
	c->req.u.request.id = request_id();
	pg = wants_progress(c) && progress_begin(&cp, c) == 0;
	r = exchange(c, NULL, &rep, false);
	if (r == 0)
		r = check_reply(c, &rep);
	if (pg)
		progress_end(&cp, r == 0 && rep.u.reply.code == RS_OK);
	if (r == 0 && rep.u.reply.code != RS_OK)
		r = print_failure(c, &rep.u.reply);
	else if (r == 0 && c->req.u.request.verb == RS_V_CRED_CREATE)
		r = print_cred(c, &rep.u.reply);
	else if (r == 0 && c->req.u.request.verb == RS_V_EXPORT && !c->json)
		r = print_export(&rep.u.reply);
	else if (r == 0 && c->req.u.request.verb == RS_V_TOKEN_ROTATE && !c->json) {
		json_t *root = json_loads(rep.u.reply.json ? rep.u.reply.json : "", 0, NULL);
		const char *tok = json_string_value(json_object_get(root, "token"));
		fputs(tok ? tok : "", stdout);
		json_decref(root);
	} else if (r == 0 && (show_empty || has_news(&rep.u.reply)))
		r = c->json ? print_json(c->req.u.request.verb, &rep.u.reply) :
		    print_human(c->req.u.request.verb, &rep.u.reply);
	/* upgrade-plan: a script can test the verdict */
	if (r == 0 && rep.u.reply.code == RS_OK &&
	    c->req.u.request.verb == RS_V_UPGRADE_PLAN && rep.u.reply.json &&
	    strstr(rep.u.reply.json, "\"inside_policy\":false"))
		r = RS_E_VERSION;
	if (r == 0 && c->follow)
		follow_advance(c, &rep.u.reply);
	if (pg) {
		progress_summary(cp.pg, &c->req.u.request, rep.u.reply.json,
				 clock_mono_ms() - cp.t0_ms, stdout);
		progress_destroy(&cp.pg);
	}
	rs_msg_clear(&rep);
	return r;
}

/* The credential file to use: --cred, $RS_CRED, ~/.config/rs/cred, or a
 * packaged rsd's admin.cred if this user may read it. NULL: none. */
static const char *cred_path(const ctl_cmd *c, char *buf, size_t n)
{
	const char *env = getenv(CTL_CRED_ENV), *home = getenv("HOME");

	if (c->cred_path)
		return c->cred_path;
	if (env && *env)
		return env;
	if (home && *home) {
		snprintf(buf, n, "%s/.config/rs/cred", home);
		if (access(buf, F_OK) == 0)
			return buf;
	}
	return access(CTL_CRED_SYSTEM, R_OK) == 0 ? CTL_CRED_SYSTEM : NULL;
}

/* Loads the credential into curve (c->curve points to it), or leaves it
 * NULL with --insecure. Returns 0 or RS_E_AUTH after saying why. */
static int load_cred(ctl_cmd *c, net_curve *curve)
{
	char buf[4096], err[600];
	const char *ins = getenv("RS_INSECURE");
	const char *path;
	rs_cred cr;

	if (ins && strcmp(ins, "1") == 0 && !c->cred_path)
		c->insecure = true;
	if (c->insecure)
		return 0;
	path = cred_path(c, buf, sizeof buf);
	if (!path) {
		fprintf(stderr, "rsctl: no credential: pass --cred FILE or set RS_CRED "
			"(rsd writes admin.cred in the folder of its --db; deploy/up.sh's "
			"is .rs-local/admin.cred); --insecure only for an rsd --insecure\n");
		return RS_E_AUTH;
	}
	if (cred_read(path, &cr, err, sizeof err) < 0) {
		fprintf(stderr, "rsctl: cannot use the credential: %s\n", err);
		return RS_E_AUTH;
	}
	if (strcmp(cr.kind, "operator") != 0 || !cr.sec[0] || !cr.server[0]) {
		fprintf(stderr, "rsctl: %s is not an operator credential (kind = "
			"operator, server-key, secret-key)\n", path);
		return RS_E_AUTH;
	}
	cred_curve(&cr, curve);
	rs_strlcpy(c->cred_name, cr.name, sizeof c->cred_name);
	memset(&cr, 0, sizeof cr);
	c->curve = curve;
	return 0;
}

int main(int argc, char **argv)
{
	static net_curve curve;
	ctl_cmd c;
	int r;

	r = args_parse(argc, argv, &c);
	if (r == ARGS_RUN)
		r = load_cred(&c, &curve);
	if (r == ARGS_RUN && c.req.u.request.verb == RS_V_CRED_CREATE &&
	    net_keypair(c.req.u.request.public_key, c.new_sec) < 0) {
		fputs("rsctl: cannot make a key pair\n", stderr);
		r = RS_E_INTERNAL;
	}
	/* colour only for a person: a terminal, and NO_COLOR unset */
	ctl_tty = isatty(STDOUT_FILENO);
	ctl_out = stdout;
	output_set_colour(ctl_tty && !getenv("NO_COLOR") && !c.json);
	output_set_wide(c.wide);
	if (r == ARGS_RUN) {
		r = run(&c);
		net_shutdown();
	} else if (r == ARGS_DONE) {
		r = RS_OK;
	}
	ctl_cmd_clear(&c);
	memset(&curve, 0, sizeof curve);
	if (fflush(stdout) != 0 && r == RS_OK) {
		perror("rsctl: stdout");
		r = RS_E_FAILED;
	}
	return r;
}
