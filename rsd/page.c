/*
 * page.c - rsd's status page: GET / (one self-contained HTML page: no
 * external assets, usable on a phone) and GET /status.json (what the page
 * shows, which it fetches every 2 s), on the metrics endpoint, for
 * loopback clients only (docs/design.md "The status page").
 *
 * The page is read-only and shows what rsctl status, nodes and events
 * show; it needs no credential because only a process of this host can
 * reach it (as rsd's control endpoint with --insecure would), and a
 * browser of this host only under a loopback name (httpd.h: no web page
 * of another site can read it by rebinding its name). Reach it from
 * elsewhere through an SSH tunnel.
 *
 * What one /status.json costs is bounded: at most PAGE_NODES nodes (those
 * not up first), PAGE_SVCS services with PAGE_INSTS instances each (the
 * not running ones first), and the last PAGE_EVENTS events; the counts
 * are of everything.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "httpd.h"
#include "rsd.h"

#define PAGE_NODES  200
#define PAGE_SVCS   500
#define PAGE_INSTS  20
#define PAGE_EVENTS 20

static const char page_html[] =
"<!doctype html>\n"
"<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
"<title>rs</title>\n"
"<style>\n"
"body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\n"
"header{background:#1b1f24;color:#fff;padding:.6em 1em;display:flex;flex-wrap:wrap;gap:.4em 1.5em;align-items:baseline}\n"
"header h1{font-size:1.1em;margin:0}\n"
"main{padding:.5em 1em;max-width:1100px}\n"
"h2{font-size:1em;margin:1.2em 0 .4em}\n"
".wrap{overflow-x:auto}\n"
"table{border-collapse:collapse;width:100%;background:#fff}\n"
"th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #e3e5e8;white-space:nowrap}\n"
"td.detail{white-space:normal}\n"
"th{font-weight:600;background:#eef0f3}\n"
".st{font-weight:600}.running,.up{color:#137333}.unready{color:#b06000}.failed,.lost,.fenced{color:#b3261e}\n"
".backoff,.exited,.suspect,.starting,.stopping,.pending{color:#9a6700}.down{color:#5f6368}\n"
"#err{color:#b3261e}\n"
"</style></head><body>\n"
"<header><h1>rs</h1><span id=\"sum\">loading&hellip;</span><span id=\"at\"></span><span id=\"err\"></span></header>\n"
"<main>\n"
"<div id=\"ops\"></div>\n"
"<h2>Services</h2><div class=\"wrap\"><table id=\"svcs\"><thead><tr><th>label</th><th>state</th>"
"<th>node</th><th>pid</th><th>restarts</th><th>last exit</th></tr></thead><tbody></tbody></table></div>\n"
"<h2>Nodes</h2><div class=\"wrap\"><table id=\"nodes\"><thead><tr><th>node</th><th>state</th>"
"<th>instances</th><th>heard</th><th>version</th></tr></thead><tbody></tbody></table></div>\n"
"<h2>Recent events</h2><div class=\"wrap\"><table id=\"events\"><thead><tr><th>time</th><th>label</th>"
"<th>node</th><th>kind</th><th>detail</th></tr></thead><tbody></tbody></table></div>\n"
"</main>\n"
"<script>\n"
"'use strict';\n"
"function td(tr,text,cls){const c=document.createElement('td');c.textContent=text==null?'':String(text);if(cls)c.className=cls;tr.appendChild(c);return c;}\n"
"function fill(id,rows,make){const tb=document.querySelector('#'+id+' tbody');tb.replaceChildren();for(const r of rows){const tr=document.createElement('tr');make(tr,r);tb.appendChild(tr);}}\n"
"function ago(ms,now){if(!ms)return '';const s=Math.max(0,Math.round((now-ms)/1000));return s<120?s+' s ago':Math.round(s/60)+' min ago';}\n"
"function exit(e){if(!e||!e.reason||e.reason==='none')return '';return e.reason==='exited'?'exited '+e.code:e.reason==='signaled'?'signal '+e.signal:e.reason;}\n"
"function draw(s){\n"
" const now=s.now_ms;\n"
" const n=(k,w)=>k+' '+w+(k===1?'':'s');\n"
" document.getElementById('sum').textContent=n(s.services.total,'service')+', '+s.instances.running+' of '+n(s.instances.total,'instance')+' running, '+s.nodes.up+' of '+n(s.nodes.total,'node')+' up';\n"
" document.getElementById('at').textContent='as of '+new Date(now).toLocaleTimeString();\n"
" const ops=document.getElementById('ops');ops.replaceChildren();\n"
" for(const o of s.operations){const p=document.createElement('p');p.textContent=o.label+': '+o.kind+' in progress'+(o.progress?': '+o.progress:'');ops.appendChild(p);}\n"
" const rows=[];for(const v of s.services.list){if(!v.instances.length)rows.push({label:v.label,state:v.state});for(const i of v.instances)rows.push(Object.assign({label:v.label},i));}\n"
" fill('svcs',rows,(tr,r)=>{tr.dataset.label=r.label;if(r.id)tr.dataset.instance=r.id;td(tr,r.label);td(tr,r.state,'st '+r.state);td(tr,r.node);td(tr,r.pid||'');td(tr,r.restarts==null?'':r.restarts,'restarts');td(tr,exit(r.last_exit));});\n"
" fill('nodes',s.nodes.list,(tr,n)=>{td(tr,n.name);td(tr,n.state,'st '+n.state);td(tr,n.instances);td(tr,ago(n.last_seen_ms,now));td(tr,n.version);});\n"
" fill('events',s.events.slice().reverse(),(tr,e)=>{td(tr,new Date(e.time_ms).toLocaleTimeString());td(tr,e.label);td(tr,e.node);td(tr,e.kind);td(tr,e.detail,'detail');});\n"
"}\n"
"async function tick(){try{const r=await fetch('status.json',{cache:'no-store'});if(!r.ok)throw new Error(r.status+' '+await r.text());draw(await r.json());document.getElementById('err').textContent='';}catch(e){document.getElementById('err').textContent='rsd does not answer: '+e.message;}setTimeout(tick,2000);}\n"
"tick();\n"
"</script></body></html>\n";

static int event_item(const rs_event *ev, void *arg)
{
	json_array_append_new(arg, json_pack("{s:I, s:s, s:I, s:s, s:s, s:s}",
		"time_ms", (json_int_t)ev->time_ms, "label", ev->label,
		"instance", (json_int_t)ev->instance, "node", ev->node,
		"kind", ev->kind, "detail", ev->detail));
	return 0;
}

static json_t *inst_item(const rsd_inst *in)
{
	const rs_iinfo *i = &in->si.info;

	return json_pack("{s:I, s:s, s:s, s:i, s:i, s:{s:s, s:i, s:i}}",
			 "id", (json_int_t)i->id, "node", in->si.node,
			 /* as rsctl status: running, its readiness probe failing */
			 "state", i->state == RS_IS_RUNNING && i->unready ? "unready" :
			 rs_istate_to_string(i->state), "pid", (int)i->pid,
			 "restarts", (int)i->restarts,
			 "last_exit", "reason", rs_exit_reason_to_string(i->last_exit.reason),
			 "code", (int)i->last_exit.code, "signal", (int)i->last_exit.signal);
}

/* How alive an instance state is: a service shows its most alive one's
 * (as rsctl status does), its desired state without instances. */
static int alive_rank(rs_istate st)
{
	static const rs_istate order[] = {
		RS_IS_RUNNING, RS_IS_STARTING, RS_IS_BACKOFF, RS_IS_STOPPING,
		RS_IS_EXITED, RS_IS_PENDING, RS_IS_LOST, RS_IS_FAILED, RS_IS_DOWN,
	};

	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (order[i] == st)
			return (int)i;
	return (int)(sizeof order / sizeof order[0]);
}

/* A service: its state, and its instances, the not running ones first,
 * at most PAGE_INSTS. Counts into *total and *running. */
static json_t *svc_item(rsd *d, const rsd_svc *s, uint64_t *total, uint64_t *running)
{
	json_t *insts = json_array();
	const char *state = rs_desired_to_string(s->s.desired);
	int best = 1 << 30;
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++)
		for (rsd_inst *in = rsd_label_insts(d, s->s.spec.label); in;
		     in = rsd_label_insts_next(d, in)) {
			rs_istate st = in->si.info.state;
			bool run = st == RS_IS_RUNNING;

			if (pass == 0) {
				++*total;
				*running += run;
				if (alive_rank(st) < best) {
					best = alive_rank(st);
					state = rs_istate_to_string(st);
				}
			}
			if ((pass == 0) == run || n >= PAGE_INSTS)
				continue;
			json_array_append_new(insts, inst_item(in));
			n++;
		}
	/* no instance, and rsd found no node for one (converge) */
	if (best == 1 << 30 && s->wait_since_ms && s->s.desired == RS_WANT_UP)
		state = "waiting for a node";
	return json_pack("{s:s, s:s, s:o}", "label", s->s.spec.label, "state", state,
			 "instances", insts);
}

/* The page's data, as /status.json sends it. */
static json_t *page_json(rsd *d)
{
	json_t *nodes = json_array(), *svcs = json_array(), *ops = json_array();
	json_t *events = json_array();
	uint64_t ninst = 0, nrun = 0, nsvc = 0, nnodes = 0, nup = 0;
	size_t shown = 0;

	for (int pass = 0; pass < 2; pass++)   /* the nodes not up first */
		for (rsd_node *n = d->nodes; n; n = n->next) {
			bool up = n->n.state == RS_NS_UP;

			if (pass == 0) {
				nnodes++;
				nup += up;
			}
			if ((pass == 0) == up || shown >= PAGE_NODES)
				continue;
			shown++;
			json_array_append_new(nodes, json_pack("{s:s, s:s, s:i, s:I, s:s}",
				"name", n->n.name, "state", rs_node_state_to_string(n->n.state),
				"instances", (int)n->live, "last_seen_ms",
				(json_int_t)n->n.last_seen_ms, "version", n->n.agent_version));
		}
	for (rsd_svc *s = d->svcs; s; s = s->next) {
		json_t *item = svc_item(d, s, &ninst, &nrun);

		if (nsvc++ < PAGE_SVCS)
			json_array_append_new(svcs, item);
		else
			json_decref(item);
	}
	for (rsd_pending *p = d->pending; p; p = p->next) {
		char progress[RS_DETAIL_MAX] = "";

		if (p->verb == RS_V_UPDATE)
			rsd_update_progress(p, p->label, progress, sizeof progress);
		json_array_append_new(ops, json_pack("{s:s, s:s, s:I, s:s}",
			"label", p->label, "kind", p->op.kind,
			"started_ms", (json_int_t)p->op.started_ms, "progress", progress));
	}
	/* (a store that cannot be read leaves the list empty; the rest stands) */
	store_event_each(d->st, NULL, 0, PAGE_EVENTS, event_item, events);
	return json_pack("{s:I, s:{s:I, s:I, s:o}, s:{s:I, s:I}, s:{s:I, s:o},"
			 " s:o, s:o}",
		"now_ms", (json_int_t)clock_wall_ms(),
		"nodes", "total", (json_int_t)nnodes, "up", (json_int_t)nup, "list", nodes,
		"instances", "total", (json_int_t)ninst, "running", (json_int_t)nrun,
		"services", "total", (json_int_t)nsvc, "list", svcs,
		"operations", ops, "events", events);
}

static void buf_set(prom_buf *b, char *s)
{
	b->s = s;
	b->len = s ? strlen(s) : 0;
	b->cap = b->len;
	b->oom = !s;
}

unsigned rsd_page(void *arg, const char *url, bool local, prom_buf *b, const char **type)
{
	rsd *d = arg;
	json_t *j;

	if (strcmp(url, "/") != 0 && strcmp(url, "/status.json") != 0)
		return 404;
	if (!local) {
		buf_set(b, strdup("rsd's status page is served to this host only (a "
				  "loopback address and host name): reach it through a "
				  "tunnel, e.g. ssh -L 9100:127.0.0.1:9100 HOST\n"));
		*type = "text/plain; charset=utf-8";
		return 403;
	}
	if (strcmp(url, "/") == 0) {
		buf_set(b, strdup(page_html));
		*type = "text/html; charset=utf-8";
		return 200;
	}
	j = page_json(d);
	buf_set(b, j ? json_dumps(j, JSON_COMPACT) : NULL);
	json_decref(j);
	*type = "application/json";
	return 200;
}
