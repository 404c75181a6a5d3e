/*
 * main.c - rsctl: sends one request to rsd and turns the reply into output
 * and an exit code (lib/codes.h, docs/cli.md).
 *
 * Owns: the request/reply exchange and the exit code.
 * Must not: keep state between runs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "clock.h"
#include "codes.h"
#include "net.h"
#include "output.h"
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

/* Sends c->req and decodes the answer into *rep (uninitialised; cleared
 * on failure). Returns 0, or an exit code after printing the reason. */
static int exchange(const ctl_cmd *c, rs_msg *rep)
{
	uint8_t *out = NULL, *in = NULL;
	size_t outlen = 0, inlen = 0;
	int r;

	memset(rep, 0, sizeof *rep);
	r = wire_encode(&c->req, &out, &outlen);
	if (r < 0) {
		fprintf(stderr, "rsctl: cannot encode the request: %s\n",
			r == -E2BIG ? "it is too large" : strerror(-r));
		return r == -ENOMEM ? RS_E_INTERNAL : RS_E_USAGE;
	}
	r = net_call(c->endpoint, out, outlen, reply_wait_ms(c), &in, &inlen);
	free(out);
	if (r < 0)
		return unreachable(c, r);
	r = wire_decode(in, inlen, rep);
	free(in);
	if (r < 0) {
		fprintf(stderr, "rsctl: rsd at %s sent a bad reply (%s)\n",
			c->endpoint, wire_err_to_string((wire_err)-r));
		return RS_E_INTERNAL;
	}
	return 0;
}

/* Checks that rep answers c->req. Returns 0, or RS_E_INTERNAL after
 * printing why not. */
static int check_reply(const ctl_cmd *c, const rs_msg *rep)
{
	if (rep->type != RS_MSG_REPLY) {
		fprintf(stderr, "rsctl: rsd at %s answered with a %s message\n",
			c->endpoint, rs_msg_type_to_string(rep->type));
		return RS_E_INTERNAL;
	}
	if (rep->u.reply.id != c->req.u.request.id) {
		fprintf(stderr, "rsctl: rsd at %s answered another request\n",
			c->endpoint);
		return RS_E_INTERNAL;
	}
	return 0;
}

/* The exit code for a reply code: itself if it is one, else internal. */
static int exit_code(int32_t code)
{
	return code >= 0 && code <= 125 ? code : RS_E_INTERNAL;
}

/* --json output of a reply with code 0: its payload, or a synthesised
 * {"code","message"} when it has none. Returns the exit code. */
static int print_json(const rs_reply *rep)
{
	if (!rep->json || !*rep->json)
		return output_json_message(0, rep->message, stdout) < 0 ?
		       RS_E_INTERNAL : RS_OK;
	if (output_json(rep->json, stdout) < 0) {
		fputs("rsctl: rsd sent a payload that is not valid JSON\n",
		      stderr);
		return RS_E_INTERNAL;
	}
	return RS_OK;
}

/* Human output of a reply with code 0: the payload's rendering for the
 * verb, else the message. Returns the exit code. */
static int print_human(rs_verb verb, const rs_reply *rep)
{
	int r = output_human(verb, rep->json, clock_wall_ms(), stdout);

	if (r == -ENOMEM) {
		fputs("rsctl: out of memory\n", stderr);
		return RS_E_INTERNAL;
	}
	if (r == 0)
		return RS_OK;
	if (rep->message && *rep->message)
		printf("%s\n", rep->message);
	else if (verb == RS_V_PING)
		puts("pong");
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

/* Runs the parsed command. Returns the exit code. */
static int run(ctl_cmd *c)
{
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
	return run_once(c, true);
}

/* Sends the request once and prints the reply (in follow mode, only when
 * it has news or show_empty; then advances the follow position). Returns
 * the exit code. */
static int run_once(ctl_cmd *c, bool show_empty)
{
	rs_msg rep;
	int r;

	c->req.u.request.id = request_id();
	r = exchange(c, &rep);
	if (r == 0)
		r = check_reply(c, &rep);
	if (r == 0 && rep.u.reply.code != RS_OK)
		r = print_failure(c, &rep.u.reply);
	else if (r == 0 && (show_empty || has_news(&rep.u.reply)))
		r = c->json ? print_json(&rep.u.reply) :
		    print_human(c->req.u.request.verb, &rep.u.reply);
	if (r == 0 && c->follow)
		follow_advance(c, &rep.u.reply);
	rs_msg_clear(&rep);
	return r;
}

int main(int argc, char **argv)
{
	ctl_cmd c;
	int r;

	r = args_parse(argc, argv, &c);
	/* colour only for a person: a terminal, and NO_COLOR unset */
	output_set_colour(isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !c.json);
	if (r == ARGS_RUN) {
		r = run(&c);
		net_shutdown();
	} else if (r == ARGS_DONE) {
		r = RS_OK;
	}
	ctl_cmd_clear(&c);
	if (fflush(stdout) != 0 && r == RS_OK) {
		perror("rsctl: stdout");
		r = RS_E_FAILED;
	}
	return r;
}
