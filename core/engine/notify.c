/*
 * core/engine/notify.c - the run's notifications (see notify.h).
 *
 * The rules come from decl.notify: for each rule a list of events and a
 * list of targets {kind, config}; the targets are numbered in order over
 * all rules, and a delivery is known by "<seq of the event>/<target>".
 * The engine hands over every event it journals; this module maps the
 * engine's events to notification events (gate.result ok=false ->
 * gate.failed with the failing checks, approve.pending -> approval.needed,
 * breaker.trip -> breaker.tripped, ...), writes one message, and delivers
 * it to every target of every rule that lists the event.
 *
 * PagerDuty keeps one incident per target and run (dedup key
 * "pgmove/<runbook>/<run>"): the first problem event triggers it, later
 * ones while it is open are not sent again (a gate that fails on every
 * resume, a condition that keeps failing: one page), and it is resolved
 * with the same key when the node that opened it succeeds, the run
 * completes or a rollback finishes. run.started, run.completed and
 * step.succeeded (a rule's milestones, `steps = {...}`: the cutover) go to
 * PagerDuty as change events.
 *
 * Every delivery is journaled: notify.sent, or notify.failed with the
 * message, so that a later process (resume, rollback) sends it again. A
 * failure is logged once as a warning and never stops the run. The
 * messages hold no secret: they are built from journaled (redacted)
 * events, and the target configs (keys, URLs, passwords) never leave this
 * module except as the plugins' secret arguments.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "eclock.h"
#include "host.h"
#include "journal.h"
#include "loader.h"
#include "luajson.h"
#include "notify.h"

#define MAX_SUMMARY 1000

typedef struct target {
	char *kind;	/* pagerduty, slack, webhook, mail, log */
	json_t *config; /* owned; holds secrets */
	json_t *on;	/* the rule's events, owned */
	json_t *steps;	/* the rule's steps for step.succeeded, owned; NULL: all */
	long long timeout_ms;
	int incident_open;   /* pagerduty: a trigger was sent (or is pending) */
	char *incident_node; /* the node that opened it, may be NULL */
} target;

struct notify {
	target *t;
	int nt;
	char *runbook, *run_id, *run_dir, *dedup_key;
	notify_journal_fn journal;
	void *user;
	json_t *pending;     /* id -> notify.failed event not sent since, in order */
	json_t *pending_ids; /* the ids in journal order */
	json_t *gate_fails;  /* node -> [{check, detail}] of the gate being run */
	int retried;
};

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ---- opening: rules and what the journal says --------------------------------- */

typedef struct replay_ctx {
	notify *n;
} replay_ctx;

/* on_replayed - notify.sent / notify.failed of an earlier process: the
 * pending deliveries and each PagerDuty incident's state. */
static int on_replayed(void *user, json_t *ev)
{
	notify *n = ((replay_ctx *)user)->n;
	const char *kind = sget(ev, "ev"), *id = sget(ev, "id");
	json_t *ti = json_object_get(ev, "target");
	int k = json_is_integer(ti) ? (int)json_integer_value(ti) : -1;
	const char *action;

	if (!kind || strncmp(kind, "notify.", 7) != 0 || !id)
		return 0;
	if (strcmp(kind, "notify.failed") == 0) {
		if (!json_object_get(n->pending, id))
			json_array_append_new(n->pending_ids, json_string(id));
		json_object_set(n->pending, id, ev);
	} else if (strcmp(kind, "notify.sent") == 0) {
		json_object_del(n->pending, id);
	}
	action = sget(ev, "action");
	if (k >= 0 && k < n->nt && strcmp(n->t[k].kind, "pagerduty") == 0 && action) {
		if (strcmp(action, "trigger") == 0) {
			n->t[k].incident_open = 1;
			free(n->t[k].incident_node);
			n->t[k].incident_node = sget(ev, "node") ? strdup(sget(ev, "node")) : NULL;
		} else if (strcmp(action, "resolve") == 0 && strcmp(kind, "notify.sent") == 0) {
			n->t[k].incident_open = 0;
		}
	}
	return 0;
}

/* register_secrets - every string of a target's config that is a key, a
 * token, a password or a webhook URL is registered for redaction now, before
 * any message could name it. */
static void register_secrets(const char *kind, json_t *cfg)
{
	static const char *const keys[] = {"routing_key", "token", "password", NULL};
	json_t *h = json_object_get(cfg, "headers"), *v;
	const char *k;

	for (int i = 0; keys[i]; i++)
		if (sget(cfg, keys[i]))
			pgm_secret_add(sget(cfg, keys[i]));
	if ((strcmp(kind, "slack") == 0 || strcmp(kind, "webhook") == 0) && sget(cfg, "url"))
		pgm_secret_add(sget(cfg, "url"));
	json_object_foreach(h, k, v)
	{
		if (json_is_string(v) && (strcasestr(k, "auth") || strcasestr(k, "token") ||
					  strcasestr(k, "key") || strcasestr(k, "secret")))
			pgm_secret_add(json_string_value(v));
	}
}

notify *notify_open(lua_State *L, int decl_ref, const char *runbook, const char *run_id,
		    const char *run_dir, notify_journal_fn journal_fn, void *user)
{
	char err[1024];
	json_t *rules;
	size_t i, j;
	json_t *r, *t;
	notify *n;
	int count = 0;

	lua_rawgeti(L, LUA_REGISTRYINDEX, decl_ref); /* decl (sp += 1) */
	lua_getfield(L, -1, "notify");		     /* (sp += 1) */
	err[0] = '\0';
	rules = lua_istable(L, -1) ? luajson_to(L, -1, "notify", err, sizeof(err)) : NULL;
	lua_pop(L, 2); /* (sp -= 2) */
	if (!rules) {
		if (err[0])
			pgm_warn("notify: the rules cannot be read, so nothing is notified: %s",
				 err);
		return NULL;
	}
	json_array_foreach(rules, i, r) count +=
		(int)json_array_size(json_object_get(r, "targets"));
	if (count == 0) {
		json_decref(rules);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	n->t = calloc((size_t)count, sizeof(target));
	if (!n || !n->t)
		abort();
	json_array_foreach(rules, i, r)
	{
		json_t *tm = json_object_get(r, "timeout_ms");

		json_array_foreach(json_object_get(r, "targets"), j, t)
		{
			target *x = &n->t[n->nt++];

			x->kind = strdup(sget(t, "kind") ? sget(t, "kind") : "log");
			x->config = json_object_get(t, "config");
			x->config =
				json_is_object(x->config) ? json_incref(x->config) : json_object();
			x->on = json_incref(json_object_get(r, "on"));
			if (!json_is_array(x->on)) {
				json_decref(x->on);
				x->on = json_array();
			}
			x->steps = json_object_get(r, "steps");
			x->steps = json_is_array(x->steps) ? json_incref(x->steps) : NULL;
			x->timeout_ms = json_is_integer(tm) ? json_integer_value(tm) : 30000;
			register_secrets(x->kind, x->config);
		}
	}
	json_decref(rules);
	n->runbook = strdup(runbook);
	n->run_id = strdup(run_id);
	n->run_dir = strdup(run_dir);
	if (asprintf(&n->dedup_key, "pgmove/%s/%s", runbook, run_id) < 0)
		abort();
	n->journal = journal_fn;
	n->user = user;
	n->pending = json_object();
	n->pending_ids = json_array();
	n->gate_fails = json_object();
	{
		replay_ctx rc = {n};
		char jerr[512];

		if (journal_replay(run_dir, on_replayed, &rc, NULL, jerr, sizeof(jerr)) < 0)
			pgm_warn("notify: cannot read the journal for earlier deliveries: %s",
				 jerr);
	}
	return n;
}

void notify_close(notify *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->nt; i++) {
		free(n->t[i].kind);
		json_decref(n->t[i].config);
		json_decref(n->t[i].on);
		json_decref(n->t[i].steps);
		free(n->t[i].incident_node);
	}
	free(n->t);
	free(n->runbook);
	free(n->run_id);
	free(n->run_dir);
	free(n->dedup_key);
	json_decref(n->pending);
	json_decref(n->pending_ids);
	json_decref(n->gate_fails);
	free(n);
}

/* ---- messages --------------------------------------------------------------------- */

/* details_of - the engine event without its bookkeeping fields. New ref. */
static json_t *details_of(const json_t *ev)
{
	json_t *d = json_deep_copy(ev);

	json_object_del(d, "v");
	json_object_del(d, "plan");
	json_object_del(d, "params");
	return d;
}

/* message - the notification for engine event ev, or NULL when ev is not
 * one. {event, node, summary, details, problem, recovered}. New ref. */
static json_t *message(notify *n, const json_t *ev)
{
	const char *kind = sget(ev, "ev"), *node = sget(ev, "node");
	const char *what = NULL;
	char text[2048];
	int problem = 0;
	json_t *details = NULL, *m;

	text[0] = '\0';
	if (!kind)
		return NULL;
	if (strcmp(kind, "run.start") == 0) {
		what = "run.started";
		snprintf(text, sizeof(text), "run %s of runbook %s started", n->run_id, n->runbook);
	} else if (strcmp(kind, "run.completed") == 0) {
		what = "run.completed";
		snprintf(text, sizeof(text), "run %s of runbook %s completed", n->run_id,
			 n->runbook);
	} else if (strcmp(kind, "run.failed") == 0) {
		what = "run.failed";
		problem = 1;
		snprintf(text, sizeof(text), "run %s failed: %s", n->run_id,
			 sget(ev, "reason") ? sget(ev, "reason") : "?");
	} else if (strcmp(kind, "run.paused") == 0) {
		what = "run.paused";
		problem = 1;
		snprintf(text, sizeof(text), "run %s paused: %s", n->run_id,
			 sget(ev, "reason") ? sget(ev, "reason") : "?");
	} else if (strcmp(kind, "step.failed") == 0) {
		if (!json_is_true(json_object_get(ev, "final")))
			return NULL; /* only after its retries */
		what = "step.failed";
		problem = 1;
		snprintf(text, sizeof(text), "step %s failed (attempt %lld): %s", node ? node : "?",
			 json_integer_value(json_object_get(ev, "attempt")),
			 sget(json_object_get(ev, "error"), "message")
				 ? sget(json_object_get(ev, "error"), "message")
				 : "?");
	} else if (strcmp(kind, "gate.start") == 0) {
		if (node)
			json_object_set_new(n->gate_fails, node, json_array());
		return NULL;
	} else if (strcmp(kind, "gate.check") == 0) {
		json_t *fails = node ? json_object_get(n->gate_fails, node) : NULL;

		if (fails && json_is_false(json_object_get(ev, "ok")))
			json_array_append_new(fails,
					      json_pack("{s:O?, s:O?}", "check",
							json_object_get(ev, "check"), "detail",
							json_object_get(ev, "detail")));
		return NULL;
	} else if (strcmp(kind, "gate.result") == 0) {
		json_t *fails = node ? json_object_get(n->gate_fails, node) : NULL;
		size_t i, used = 0;
		json_t *f;

		if (json_is_true(json_object_get(ev, "ok")))
			return json_pack("{s:s, s:s, s:b}", "event", "node.succeeded", "node",
					 node ? node : "", "recovered", 1);
		what = "gate.failed";
		problem = 1;
		used = (size_t)snprintf(text, sizeof(text),
					"gate %s failed (%s):", node ? node : "?",
					sget(ev, "action") ? sget(ev, "action") : "halt");
		json_array_foreach(fails, i, f)
		{
			if (used < sizeof(text))
				used += (size_t)snprintf(text + used, sizeof(text) - used,
							 "%s '%s'", i ? "," : "", sget(f, "check"));
		}
		details = details_of(ev);
		json_object_set(details, "failed_checks", fails ? fails : json_array());
	} else if (strcmp(kind, "approve.pending") == 0) {
		what = "approval.needed";
		snprintf(text, sizeof(text),
			 "run %s is waiting for approval '%s': %s -- approve with: pgmove approve "
			 "%s %s --by NAME, then: pgmove resume %s",
			 n->run_id, node ? node : "?", sget(ev, "prompt") ? sget(ev, "prompt") : "",
			 n->run_id, node ? node : "?", n->run_id);
		details = details_of(ev);
		{
			char cmd[512];

			snprintf(cmd, sizeof(cmd), "pgmove approve %s %s --by NAME", n->run_id,
				 node ? node : "?");
			json_object_set_new(details, "approve_command", json_string(cmd));
		}
	} else if (strcmp(kind, "breaker.trip") == 0) {
		what = "breaker.tripped";
		problem = 1;
		snprintf(text, sizeof(text), "breaker %s tripped during %s (action %s)",
			 sget(ev, "breaker") ? sget(ev, "breaker") : "?", node ? node : "?",
			 sget(ev, "action") ? sget(ev, "action") : "?");
	} else if (strcmp(kind, "rollback.start") == 0) {
		what = "rollback.started";
		problem = 1;
		snprintf(text, sizeof(text), "run %s: rollback started: %s", n->run_id,
			 sget(ev, "reason") ? sget(ev, "reason") : "?");
	} else if (strcmp(kind, "rollback.done") == 0) {
		int ok = json_is_true(json_object_get(ev, "ok"));

		what = "rollback.finished";
		snprintf(text, sizeof(text), "run %s: rollback %s%s%s", n->run_id,
			 ok ? "finished" : "stopped: the undo of ", ok ? "" : (node ? node : "?"),
			 ok ? "" : " failed");
		m = json_pack("{s:s, s:s?, s:s, s:o, s:b, s:b}", "event", what, "node", node,
			      "summary", text, "details", details_of(ev), "problem", !ok,
			      "recovered", ok);
		return m;
	} else if (strcmp(kind, "wait.timeout") == 0) {
		what = "wait.timeout";
		problem = 1;
		snprintf(text, sizeof(text), "wait %s timed out", node ? node : "?");
	} else if (strcmp(kind, "step.succeeded") == 0) {
		/* a milestone when a rule lists it (the cutover on PagerDuty's
		 * timeline), and like wait.done the recovery of a node's incident */
		snprintf(text, sizeof(text), "step %s succeeded", node ? node : "?");
		details = json_pack("{s:s?, s:O?, s:O?}", "node", node, "attempt",
				    json_object_get(ev, "attempt"), "duration_ms",
				    json_object_get(ev, "duration_ms"));
		return json_pack("{s:s, s:s?, s:s, s:o, s:b, s:b}", "event", "step.succeeded",
				 "node", node, "summary", text, "details", details, "problem", 0,
				 "recovered", 1);
	} else if (strcmp(kind, "wait.done") == 0) {
		return json_pack("{s:s, s:s, s:b}", "event", "node.succeeded", "node",
				 node ? node : "", "recovered", 1);
	} else {
		return NULL;
	}
	m = json_pack("{s:s, s:s?, s:s, s:o, s:b, s:b}", "event", what, "node", node, "summary",
		      text, "details", details ? details : details_of(ev), "problem", problem,
		      "recovered", strcmp(what, "run.completed") == 0);
	return m;
}

/* ---- delivery ------------------------------------------------------------------- */

/* utf8_cut - the length of the longest prefix of s of at most max bytes
 * that ends on a character boundary (s is valid UTF-8: it comes from the
 * journal). */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (s[n] == '\0')
		return n;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* call_plugin - PLUGIN.FN(args) in this process, within timeout_ms (or
 * the test's mock, eclock_dispatch). args is borrowed. 0, or -1 with *err a new {code, message} object. */
static int call_plugin(const char *plugin, const char *fn, json_t *args, long long timeout_ms,
		       json_t **err)
{
	char msg[1024];
	const pgm_plugin *p = loader_get(plugin, msg, sizeof(msg));
	const pgm_function *f = p ? loader_function(p, fn) : NULL;
	pgm_call *c;
	json_t *res;

	if (!p || !f) {
		*err = json_pack("{s:s, s:s}", "code", "notify.plugin", "message",
				 p ? "the plugin lacks the function" : msg);
		return -1;
	}
	if (loader_check_args(p, f, args, msg, sizeof(msg)) != 0) {
		*err = json_pack("{s:s, s:s}", "code", "args.invalid", "message", msg);
		return -1;
	}
	c = pgm_call_new(plugin, fn);
	pgm_call_set_deadline_ms(c, pgm_now_ms() + timeout_ms);
	/* under pgmove test the delivery is a mocked call like any other */
	void *duser;
	eclock_dispatch_fn dispatch = eclock_dispatch(&duser);
	res = dispatch ? dispatch(duser, plugin, f, c, args) : f->fn(c, args);
	if (!res) {
		*err = pgm_call_error_json(c);
		if (!*err)
			*err = json_pack("{s:s, s:s}", "code", "plugin.error", "message",
					 "failed without saying why");
		pgm_call_free(c);
		return -1;
	}
	json_decref(res);
	pgm_call_free(c);
	return 0;
}

static json_t *copy_fields(const json_t *cfg, const char *const *keys)
{
	json_t *o = json_object();

	for (int i = 0; keys[i]; i++)
		if (json_object_get(cfg, keys[i]))
			json_object_set(o, keys[i], json_object_get(cfg, keys[i]));
	return o;
}

/* deliver - sends message m to target k (PagerDuty action given). 0 or -1
 * with *err set. */
static int deliver(notify *n, target *t, const json_t *m, const char *action, json_t **err)
{
	const char *summary = sget(m, "summary"), *event = sget(m, "event");
	char full[2200];
	json_t *args;
	int rc;

	snprintf(full, sizeof(full), "pgmove %s: %s", n->runbook, summary ? summary : "");
	if (strcmp(t->kind, "log") == 0) {
		pgm_notice("notify: %s", full);
		return 0;
	}
	if (strcmp(t->kind, "pagerduty") == 0) {
		static const char *const keys[] = {"routing_key", "url", NULL};

		args = copy_fields(t->config, keys);
		json_object_set_new(args, "attempts", json_integer(3));
		if (strcmp(action, "change") == 0) {
			json_object_set_new(args, "summary",
					    json_stringn(full, utf8_cut(full, MAX_SUMMARY)));
			json_object_set_new(args, "source",
					    json_string(sget(t->config, "source")
								? sget(t->config, "source")
								: "pgmove"));
			json_object_set_new(args, "custom_details",
					    json_pack("{s:s, s:s, s:s}", "runbook", n->runbook,
						      "run", n->run_id, "event", event));
		} else {
			json_object_set_new(args, "dedup_key", json_string(n->dedup_key));
		}
		if (strcmp(action, "trigger") == 0) {
			static const char *const more[] = {"component", "group", "class", NULL};
			json_t *extra = copy_fields(t->config, more);

			json_object_update(args, extra);
			json_decref(extra);
			json_object_set_new(args, "summary",
					    json_stringn(full, utf8_cut(full, MAX_SUMMARY)));
			json_object_set_new(args, "source",
					    json_string(sget(t->config, "source")
								? sget(t->config, "source")
								: n->runbook));
			json_object_set_new(args, "severity",
					    json_string(sget(t->config, "severity")
								? sget(t->config, "severity")
								: "critical"));
			if (!json_object_get(args, "class"))
				json_object_set_new(args, "class", json_string(event));
			if (!json_object_get(args, "group"))
				json_object_set_new(args, "group", json_string(n->runbook));
			json_object_set_new(args, "custom_details",
					    json_pack("{s:s, s:s, s:s, s:O?, s:O}", "runbook",
						      n->runbook, "run", n->run_id, "event", event,
						      "node", json_object_get(m, "node"), "details",
						      json_object_get(m, "details")));
		}
		rc = call_plugin("pagerduty", action, args, t->timeout_ms, err);
	} else if (strcmp(t->kind, "slack") == 0) {
		static const char *const keys[] = {"url", NULL};
		json_t *payload = json_object();

		args = copy_fields(t->config, keys);
		json_object_set_new(args, "text", json_string(full));
		if (sget(t->config, "channel"))
			json_object_set(payload, "channel", json_object_get(t->config, "channel"));
		json_object_set_new(payload, "username",
				    json_string(sget(t->config, "username")
							? sget(t->config, "username")
							: "pgmove"));
		json_object_set_new(args, "payload", payload);
		json_object_set_new(args, "retries", json_integer(2));
		rc = call_plugin("http", "webhook", args, t->timeout_ms, err);
	} else if (strcmp(t->kind, "webhook") == 0) {
		static const char *const keys[] = {"url", "headers", "token", NULL};

		args = copy_fields(t->config, keys);
		pgm_secret_add(sget(t->config, "url"));
		json_object_set_new(args, "method", json_string("POST"));
		json_object_set_new(args, "json",
				    json_pack("{s:s, s:s, s:s, s:s, s:O?, s:s, s:O}", "source",
					      "pgmove", "event", event, "runbook", n->runbook,
					      "run", n->run_id, "node", json_object_get(m, "node"),
					      "summary", summary ? summary : "", "details",
					      json_object_get(m, "details")));
		json_object_set_new(args, "retries", json_integer(2));
		rc = call_plugin("http", "request", args, t->timeout_ms, err);
	} else if (strcmp(t->kind, "mail") == 0) {
		static const char *const keys[] = {"server",   "from",	   "to",
						   "cc",       "username", "password",
						   "starttls", "ca_file",  NULL};
		char subject[256], *body = NULL, *dj;

		args = copy_fields(t->config, keys);
		snprintf(subject, sizeof(subject), "[pgmove] %.*s", (int)utf8_cut(full + 7, 200),
			 full + 7);
		dj = json_dumps(json_object_get(m, "details"), JSON_INDENT(2) | JSON_SORT_KEYS);
		if (asprintf(&body,
			     "%s\n\nRunbook: %s\nRun:     %s\nEvent:   %s\nRun directory: %s\n\n"
			     "Details:\n%s\n",
			     summary ? summary : "", n->runbook, n->run_id, event, n->run_dir,
			     dj ? dj : "{}") < 0)
			abort();
		free(dj);
		json_object_set_new(args, "subject", json_string(subject));
		json_object_set_new(args, "text", json_string(body));
		free(body);
		rc = call_plugin("http", "mail", args, t->timeout_ms, err);
	} else {
		*err = json_pack("{s:s, s:s}", "code", "notify.target", "message",
				 "unknown target");
		return -1;
	}
	json_decref(args);
	return rc;
}

/* attempt - delivers m to target k under delivery id, journaling the
 * outcome (the message is kept in notify.failed for a later retry). */
static void attempt(notify *n, int k, const char *id, const json_t *m, const char *action)
{
	target *t = &n->t[k];
	json_t *err = NULL;
	int rc = deliver(n, t, m, action, &err);

	if (strcmp(t->kind, "log") == 0)
		return;
	if (rc == 0) {
		n->journal(n->user, json_pack("{s:s, s:s, s:i, s:s, s:s, s:s?, s:O?}", "ev",
					      "notify.sent", "id", id, "target", k, "kind", t->kind,
					      "event", sget(m, "event"), "action", action, "node",
					      json_object_get(m, "node")));
		json_object_del(n->pending, id);
		return;
	}
	pgm_warn("notify: %s of %s could not be delivered (%s: %s); the run goes on, and the "
		 "delivery is retried when the run is resumed",
		 t->kind, sget(m, "event"), sget(err, "code") ? sget(err, "code") : "?",
		 sget(err, "message") ? sget(err, "message") : "?");
	{
		json_t *ev = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s?, s:O?, s:O, s:O}", "ev",
				       "notify.failed", "id", id, "target", k, "kind", t->kind,
				       "event", sget(m, "event"), "action", action, "node",
				       json_object_get(m, "node"), "message", m, "error", err);

		if (!json_object_get(n->pending, id))
			json_array_append_new(n->pending_ids, json_string(id));
		json_object_set(n->pending, id, ev);
		n->journal(n->user, ev);
	}
	json_decref(err);
}

/* listed - whether target t's rule sends event (for step.succeeded: of
 * node, when the rule names its steps). */
static int listed(const target *t, const char *event, const char *node)
{
	size_t i;
	json_t *v;
	int on = 0;

	json_array_foreach(t->on, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), event) == 0)
			on = 1;
	}
	if (!on || !t->steps || strcmp(event, "step.succeeded") != 0)
		return on;
	json_array_foreach(t->steps, i, v)
	{
		if (node && json_is_string(v) && strcmp(json_string_value(v), node) == 0)
			return 1;
	}
	return 0;
}

/* retry_pending - sends again what an earlier process could not deliver,
 * in journal order. */
static void retry_pending(notify *n)
{
	size_t i;
	json_t *idv;
	json_t *ids = json_deep_copy(n->pending_ids);

	json_array_foreach(ids, i, idv)
	{
		const char *id = json_string_value(idv);
		json_t *ev = json_incref(json_object_get(n->pending, id));
		json_t *ti = json_object_get(ev, "target");
		int k = json_is_integer(ti) ? (int)json_integer_value(ti) : -1;

		if (!ev)
			continue;
		if (k < 0 || k >= n->nt || !sget(ev, "kind") ||
		    strcmp(n->t[k].kind, sget(ev, "kind")) != 0) {
			pgm_warn("notify: delivery %s (%s) no longer matches a target of the "
				 "runbook; "
				 "dropped",
				 id, sget(ev, "kind") ? sget(ev, "kind") : "?");
			json_object_del(n->pending, id);
		} else {
			pgm_info("notify: retrying %s of %s left undelivered by an earlier process",
				 n->t[k].kind, sget(ev, "event") ? sget(ev, "event") : "?");
			attempt(n, k, id, json_object_get(ev, "message"),
				sget(ev, "action") ? sget(ev, "action") : "send");
		}
		json_decref(ev);
	}
	json_decref(ids);
	json_array_clear(n->pending_ids);
	{
		const char *id;
		json_t *v;

		json_object_foreach(n->pending, id, v)
			json_array_append_new(n->pending_ids, json_string(id));
	}
}

void notify_event(notify *n, const json_t *ev)
{
	const char *kind = sget(ev, "ev"), *event;
	json_t *m;
	long long seq = json_integer_value(json_object_get(ev, "seq"));

	if (!n || !kind || strncmp(kind, "notify.", 7) == 0)
		return;
	if (!n->retried) {
		n->retried = 1;
		if (json_array_size(n->pending_ids))
			retry_pending(n);
	}
	if ((m = message(n, ev)) == NULL)
		return;
	event = sget(m, "event");
	for (int k = 0; k < n->nt; k++) {
		target *t = &n->t[k];
		const char *action = "send";
		char id[64];

		snprintf(id, sizeof(id), "%lld/%d", seq, k);
		if (strcmp(t->kind, "pagerduty") == 0) {
			int recovered = json_is_true(json_object_get(m, "recovered"));
			const char *node = sget(m, "node");

			int node_level = strcmp(event, "node.succeeded") == 0 ||
					 strcmp(event, "step.succeeded") == 0;

			if (t->incident_open && recovered &&
			    (!node_level ||
			     (node && t->incident_node && strcmp(node, t->incident_node) == 0))) {
				attempt(n, k, id, m, "resolve");
				t->incident_open = 0;
				snprintf(id, sizeof(id), "%lld/%d/c", seq, k);
			}
			if (!listed(t, event, node))
				continue;
			/* a rollback that stopped on a failed undo is a problem: it pages */
			if (strcmp(event, "run.started") == 0 ||
			    strcmp(event, "run.completed") == 0 ||
			    strcmp(event, "step.succeeded") == 0 ||
			    (strcmp(event, "rollback.finished") == 0 &&
			     !json_is_true(json_object_get(m, "problem")))) {
				action = "change";
			} else if (t->incident_open) {
				pgm_debug(
					"notify: %s: the incident is open already; not paged again",
					event);
				continue;
			} else {
				action = "trigger";
				t->incident_open = 1;
				free(t->incident_node);
				t->incident_node = sget(m, "node") ? strdup(sget(m, "node")) : NULL;
			}
		} else if (!listed(t, event, sget(m, "node"))) {
			continue;
		}
		attempt(n, k, id, m, action);
	}
	json_decref(m);
}
