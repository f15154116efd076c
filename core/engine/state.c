/*
 * core/engine/state.c - replaying a run's journal into its state.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "journal.h"
#include "state.h"

static const char *const run_status_names[] = {
	[RUN_NEW] = "new",
	[RUN_RUNNING] = "running",
	[RUN_COMPLETED] = "completed",
	[RUN_FAILED] = "failed",
	[RUN_PAUSED] = "paused",
	[RUN_HALTED] = "halted",
	[RUN_INTERRUPTED] = "interrupted",
	[RUN_ROLLING_BACK] = "rolling-back",
	[RUN_ROLLED_BACK] = "rolled-back",
};

static const char *const node_status_names[] = {
	[NODE_PENDING] = "pending",
	[NODE_RUNNING] = "running",
	[NODE_SUCCEEDED] = "succeeded",
	[NODE_FAILED] = "failed",
	[NODE_SKIPPED] = "skipped",
	[NODE_INTERRUPTED] = "interrupted",
	[NODE_WAITING] = "waiting",
	[NODE_APPROVED] = "approved",
	[NODE_DENIED] = "denied",
	[NODE_UNDONE] = "undone",
	[NODE_UNDO_FAILED] = "undo-failed",
};

const char *state_run_status_name(run_status s)
{
	return run_status_names[s];
}

const char *state_node_status_name(node_status s)
{
	return node_status_names[s];
}

/* days_from_civil - days since 1970-01-01 of a Gregorian date (Howard
 * Hinnant's algorithm); no time zone involved, unlike mktime. */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

long long state_ts_ms(const char *ts)
{
	int y, mo, d, h, mi, se, ms = 0;
	/* 2026-11-21T07:04:05.123Z: the journal's own format, parsed by hand
	 * because status replays it once per event */
	if (!ts || strlen(ts) < 19 || ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' ||
	    ts[13] != ':' || ts[16] != ':' || digits(ts, 4, &y) || digits(ts + 5, 2, &mo) ||
	    digits(ts + 8, 2, &d) || digits(ts + 11, 2, &h) || digits(ts + 14, 2, &mi) ||
	    digits(ts + 17, 2, &se) || mo < 1 || mo > 12 || d < 1 || d > 31)
		return 0;
	if (ts[19] == '.') {
		int n = 0;
		for (const char *p = ts + 20; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				ms = ms * 10 + (*p - '0');
		for (; n < 3; n++)
			ms *= 10;
	}
	return ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60000LL +
	       se * 1000LL + ms;
}

const char *state_format_ts(long long ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
	return buf;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void set_str(char **slot, const char *s)
{
	free(*slot);
	*slot = dup_or_null(s);
}

static void set_json(json_t **slot, json_t *v)
{
	json_t *old = *slot;
	*slot = v ? json_incref(v) : NULL;
	json_decref(old);
}

static void node_clear(node_state *n)
{
	free(n->name);
	free(n->kind);
	free(n->phase);
	json_decref(n->output);
	json_decref(n->error);
	json_decref(n->checks);
	json_decref(n->approval);
	json_decref(n->history);
	json_decref(n->checkpoints);
	memset(n, 0, sizeof(*n));
}

/* node_reset - back to pending, keeping its identity and its history. */
static void node_reset(node_state *n)
{
	n->status = NODE_PENDING;
	n->nonidem_call = 0;
	n->calls = 0;
	n->done_seq = 0;
	set_json(&n->output, NULL);
	set_json(&n->error, NULL);
	set_json(&n->approval, NULL);
	set_json(&n->checkpoints, NULL);
	n->wait_start_ms = n->last_poll_ms = n->stable_since_ms = 0;
	n->last_ok = 0;
}

/* set_plan - the nodes of plan; states of nodes with the same name carry
 * over (a deviation that changed the runbook). */
static void set_plan(run_state *st, json_t *plan)
{
	json_t *nodes = json_object_get(plan, "nodes");
	int n = (int)json_array_size(nodes);
	node_state *fresh = calloc((size_t)(n ? n : 1), sizeof(*fresh));
	for (int i = 0; i < n; i++) {
		json_t *pn = json_array_get(nodes, (size_t)i);
		const char *name = json_string_value(json_object_get(pn, "name"));
		node_state *old = name ? state_node(st, name) : NULL;
		if (old) {
			fresh[i] = *old;
			memset(old, 0, sizeof(*old));
			set_str(&fresh[i].kind, json_string_value(json_object_get(pn, "kind")));
			set_str(&fresh[i].phase, json_string_value(json_object_get(pn, "phase")));
		} else {
			fresh[i].name = dup_or_null(name ? name : "?");
			fresh[i].kind = dup_or_null(json_string_value(json_object_get(pn, "kind")));
			fresh[i].phase = dup_or_null(json_string_value(json_object_get(pn, "phase")));
		}
		if (!fresh[i].history)
			fresh[i].history = json_array();
	}
	for (int i = 0; i < st->nnodes; i++)
		node_clear(&st->nodes[i]);
	free(st->nodes);
	st->nodes = fresh;
	st->nnodes = n;
	json_decref(st->index);
	st->index = json_object();
	for (int i = 0; i < n; i++)
		json_object_set_new(st->index, fresh[i].name, json_integer(i));
	set_json(&st->plan, plan);
}

node_state *state_node(run_state *st, const char *name)
{
	json_t *i = st->index ? json_object_get(st->index, name) : NULL;
	if (i)
		return &st->nodes[json_integer_value(i)];
	for (int k = 0; k < st->nnodes; k++)
		if (st->nodes[k].name && strcmp(st->nodes[k].name, name) == 0)
			return &st->nodes[k];
	return NULL;
}

/* trim_history - keeps the last HISTORY_MAX failed attempts of a node;
 * the attempt numbers say how many there were. */
#define HISTORY_MAX 20
static void trim_history(node_state *n)
{
	while (json_array_size(n->history) > HISTORY_MAX)
		json_array_remove(n->history, 0);
}

static void set_reason(run_state *st, const char *reason, const char *node)
{
	set_str(&st->reason, reason);
	set_str(&st->reason_node, node);
}

static void append_ts(json_t *arr, const json_t *ev, json_t *obj)
{
	json_object_set(obj, "ts", json_object_get(ev, "ts"));
	json_array_append_new(arr, obj);
}

void state_apply(run_state *st, const json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *ts = json_string_value(json_object_get(ev, "ts"));
	long long t = state_ts_ms(ts);
	const char *nname = json_string_value(json_object_get(ev, "node"));
	node_state *n = nname ? state_node(st, nname) : NULL;
	json_t *seqv = json_object_get(ev, "seq");

	st->events++;
	if (json_is_integer(seqv))
		st->last_seq = json_integer_value(seqv);
	if (t)
		st->last_event_ms = t;
	if (!type)
		return;

	if (strcmp(type, "run.start") == 0) {
		set_str(&st->run_id, json_string_value(json_object_get(ev, "run")));
		set_str(&st->runbook, json_string_value(json_object_get(ev, "runbook")));
		set_str(&st->file, json_string_value(json_object_get(ev, "file")));
		set_str(&st->hash, json_string_value(json_object_get(ev, "hash")));
		if (json_is_array(json_object_get(ev, "plugins")))
			set_json(&st->plugins, json_object_get(ev, "plugins"));
		set_str(&st->version, json_string_value(json_object_get(ev, "pgmove")));
		set_json(&st->params, json_object_get(ev, "params"));
		st->started_ms = t;
		set_plan(st, json_object_get(ev, "plan"));
		st->status = RUN_RUNNING;
		return;
	}
	if (strcmp(type, "param.secret") == 0) {
		/* a plain param found handed to a secret plugin parameter */
		const char *name = json_string_value(json_object_get(ev, "param"));
		if (name && json_object_get(st->params, name))
			json_object_set_new(st->params, name, json_string("********"));
		return;
	}
	if (strcmp(type, "run.resume") == 0) {
		st->status = RUN_RUNNING;
		st->resumes++;
		set_reason(st, NULL, NULL);
		return;
	}
	if (strcmp(type, "run.restart") == 0) {
		for (int i = 0; i < st->nnodes; i++)
			node_reset(&st->nodes[i]);
		st->in_rollback = 0;
		st->status = RUN_RUNNING;
		return;
	}
	if (strcmp(type, "run.deviation") == 0) {
		json_t *d = json_deep_copy(ev);
		json_object_del(d, "plan");
		json_object_del(d, "plugins");
		json_object_del(d, "v");
		json_array_append_new(st->deviations, d);
		if (json_object_get(ev, "plan"))
			set_plan(st, json_object_get(ev, "plan"));
		if (json_object_get(ev, "new_hash"))
			set_str(&st->hash, json_string_value(json_object_get(ev, "new_hash")));
		if (json_is_array(json_object_get(ev, "plugins")))
			set_json(&st->plugins, json_object_get(ev, "plugins"));
		return;
	}
	if (strcmp(type, "run.paused") == 0 || strcmp(type, "run.halted") == 0 ||
	    strcmp(type, "run.failed") == 0 || strcmp(type, "run.interrupted") == 0) {
		st->status = type[4] == 'p' ? RUN_PAUSED
			     : type[4] == 'h' ? RUN_HALTED
			     : type[4] == 'f' ? RUN_FAILED
					      : RUN_INTERRUPTED;
		set_reason(st, json_string_value(json_object_get(ev, "reason")), nname);
		if (st->status == RUN_INTERRUPTED) {
			json_t *o = json_pack("{s:O?, s:O?}", "node", json_object_get(ev, "node"),
					      "signal", json_object_get(ev, "signal"));
			append_ts(st->interruptions, ev, o);
		}
		return;
	}
	if (strcmp(type, "run.completed") == 0) {
		st->status = RUN_COMPLETED;
		set_reason(st, NULL, NULL);
		return;
	}
	if (strcmp(type, "rollback.start") == 0) {
		st->status = RUN_ROLLING_BACK;
		st->in_rollback = 1;
		set_reason(st, json_string_value(json_object_get(ev, "reason")), nname);
		return;
	}
	if (strcmp(type, "rollback.done") == 0) {
		int ok = json_is_true(json_object_get(ev, "ok"));
		st->in_rollback = 0;
		st->status = ok ? RUN_ROLLED_BACK : RUN_FAILED;
		if (!ok)
			set_reason(st, "rollback stopped: an undo failed", nname);
		return;
	}
	if (strcmp(type, "breaker.trip") == 0) {
		json_t *o = json_deep_copy(ev);
		json_object_del(o, "v");
		json_object_del(o, "ev");
		json_array_append_new(st->breakers, o);
		return;
	}
	if (!n)
		return;

	if (strcmp(type, "step.start") == 0 || strcmp(type, "gate.start") == 0) {
		n->status = NODE_RUNNING;
		n->attempts = (int)json_integer_value(json_object_get(ev, "attempt"));
		if (!n->first_start_ms)
			n->first_start_ms = t;
		n->last_start_ms = t;
		n->nonidem_call = 0;
		n->calls = 0;
		set_json(&n->error, NULL);
		if (type[0] == 'g') {
			json_t *c = json_array();
			set_json(&n->checks, c);
			json_decref(c);
		}
	} else if (strcmp(type, "step.call") == 0) {
		n->calls++;
		if (!json_is_true(json_object_get(ev, "idempotent")))
			n->nonidem_call = 1;
	} else if (strcmp(type, "step.checkpoint") == 0) {
		const char *key = json_string_value(json_object_get(ev, "key"));
		json_t *v = json_object_get(ev, "value");
		if (key && v) {
			if (!n->checkpoints)
				n->checkpoints = json_object();
			json_object_set(n->checkpoints, key, v);
		}
	} else if (strcmp(type, "plugin.crashed") == 0) {
		const char *fn = json_string_value(json_object_get(ev, "function"));
		const char *sig = json_string_value(json_object_get(ev, "signal"));
		char msg[512];
		snprintf(msg, sizeof(msg), "plugin function %s crashed with %s", fn ? fn : "?",
			 sig ? sig : "a signal");
		json_t *err = json_pack("{s:s, s:s, s:b}", "code", "plugin.crashed", "message", msg,
					"retryable", 0);
		set_json(&n->error, err);
		json_decref(err);
		json_array_append_new(n->history, json_pack("{s:i, s:I, s:s}", "attempt", n->attempts,
							    "start", n->last_start_ms, "crashed",
							    msg));
		trim_history(n);
	} else if (strcmp(type, "step.succeeded") == 0 || strcmp(type, "wait.done") == 0) {
		set_json(&n->checkpoints, NULL);
		n->status = NODE_SUCCEEDED;
		n->end_ms = t;
		n->duration_ms = json_integer_value(json_object_get(ev, "duration_ms"));
		n->done_seq = st->last_seq;
		set_json(&n->output, json_object_get(ev, type[0] == 's' ? "output" : "value"));
	} else if (strcmp(type, "step.failed") == 0) {
		n->status = NODE_FAILED;
		n->end_ms = t;
		set_json(&n->error, json_object_get(ev, "error"));
		json_array_append_new(n->history,
				      json_pack("{s:i, s:I, s:O?}", "attempt", n->attempts, "start",
						n->last_start_ms, "error", json_object_get(ev, "error")));
		trim_history(n);
	} else if (strcmp(type, "step.interrupted") == 0) {
		n->status = NODE_INTERRUPTED;
		n->end_ms = t;
	} else if (strcmp(type, "step.crashed") == 0) {
		json_t *h = json_array_get(n->history, json_array_size(n->history) - 1);
		if (h && json_object_get(h, "crashed") &&
		    json_integer_value(json_object_get(h, "attempt")) == n->attempts)
			return; /* plugin.crashed said it already */
		json_array_append_new(n->history,
				      json_pack("{s:i, s:I, s:s}", "attempt", n->attempts, "start",
						n->last_start_ms, "crashed", "process died"));
		trim_history(n);
	} else if (strcmp(type, "step.skipped") == 0) {
		set_json(&n->checkpoints, NULL);
		n->status = NODE_SKIPPED;
		n->end_ms = t;
		n->done_seq = st->last_seq;
	} else if (strcmp(type, "step.resolved") == 0) {
		const char *d = json_string_value(json_object_get(ev, "decision"));
		json_t *o = json_pack("{s:s, s:O?, s:O?, s:O?}", "node", nname, "decision",
				      json_object_get(ev, "decision"), "by", json_object_get(ev, "by"),
				      "comment", json_object_get(ev, "comment"));
		append_ts(st->resolutions, ev, o);
		if (d && strcmp(d, "succeeded") == 0) {
			set_json(&n->checkpoints, NULL);
			n->status = NODE_SUCCEEDED;
			n->done_seq = st->last_seq;
			n->end_ms = t;
		} else if (d && strcmp(d, "failed") == 0) {
			n->status = NODE_FAILED;
		} else {
			n->status = NODE_PENDING;
		}
		if (st->status == RUN_PAUSED && st->reason_node && strcmp(st->reason_node, nname) == 0)
			set_reason(st, "resolved; resume the run", nname);
	} else if (strcmp(type, "wait.start") == 0) {
		n->status = NODE_RUNNING;
		n->wait_start_ms = t;
		if (!n->first_start_ms)
			n->first_start_ms = t;
		n->last_start_ms = t;
		n->stable_since_ms = 0;
		n->attempts = 0;
	} else if (strcmp(type, "wait.poll") == 0) {
		int ok = json_is_true(json_object_get(ev, "ok"));
		n->attempts++;
		if (ok && !n->stable_since_ms)
			n->stable_since_ms = t;
		if (!ok)
			n->stable_since_ms = 0;
		n->last_ok = ok;
		n->last_poll_ms = t;
		set_json(&n->output, json_object_get(ev, "value"));
		if (json_object_get(ev, "error"))
			set_json(&n->error, json_object_get(ev, "error"));
	} else if (strcmp(type, "wait.stability_reset") == 0) {
		n->stable_since_ms = 0;
	} else if (strcmp(type, "wait.timeout") == 0) {
		n->status = NODE_FAILED;
		n->end_ms = t;
		set_json(&n->error, json_object_get(ev, "error"));
	} else if (strcmp(type, "gate.check") == 0) {
		if (!n->checks)
			n->checks = json_array();
		json_array_append_new(n->checks,
				      json_pack("{s:O?, s:O?, s:O?}", "check", json_object_get(ev, "check"),
						"ok", json_object_get(ev, "ok"), "detail",
						json_object_get(ev, "detail")));
	} else if (strcmp(type, "gate.result") == 0) {
		n->status = json_is_true(json_object_get(ev, "ok")) ? NODE_SUCCEEDED : NODE_FAILED;
		n->end_ms = t;
		n->duration_ms = json_integer_value(json_object_get(ev, "duration_ms"));
		if (n->status == NODE_SUCCEEDED)
			n->done_seq = st->last_seq;
		json_t *o = json_pack("{s:O?, s:O?}", "ok", json_object_get(ev, "ok"), "checks",
				      n->checks);
		set_json(&n->output, o);
		json_decref(o);
	} else if (strcmp(type, "approve.pending") == 0) {
		if (n->status != NODE_APPROVED)
			n->status = NODE_WAITING;
		if (!n->first_start_ms)
			n->first_start_ms = t;
	} else if (strcmp(type, "approve.given") == 0 || strcmp(type, "approve.denied") == 0) {
		n->status = type[8] == 'g' ? NODE_APPROVED : NODE_DENIED;
		n->end_ms = t;
		json_t *o = json_pack("{s:O?, s:O?, s:O?, s:s}", "by", json_object_get(ev, "by"),
				      "comment", json_object_get(ev, "comment"), "via",
				      json_object_get(ev, "via"), "decision",
				      type[8] == 'g' ? "approved" : "denied");
		json_object_set(o, "at", json_object_get(ev, "ts"));
		set_json(&n->approval, o);
		json_decref(o);
		if (n->status == NODE_APPROVED)
			n->done_seq = st->last_seq;
	} else if (strcmp(type, "undo.start") == 0) {
		/* the node keeps its status until the undo ends */
	} else if (strcmp(type, "undo.succeeded") == 0) {
		set_json(&n->checkpoints, NULL);
		n->status = NODE_UNDONE;
	} else if (strcmp(type, "undo.failed") == 0) {
		n->status = NODE_UNDO_FAILED;
		set_json(&n->error, json_object_get(ev, "error"));
	}
}

/* ---------------------------------------------------------------------
 * The snapshot: state.json in the run directory, a cache of the replayed
 * state up to a byte offset of the journal. It is only trusted when the
 * journal still holds the very bytes it was made from (the SHA-256 of the
 * journal up to the offset matches, and its tail), the next event continues
 * its seq, its own checksum ("sum") holds and its nodes are the plan's;
 * otherwise the whole journal is replayed. Deleting it loses nothing.
 * ------------------------------------------------------------------- */
#define SNAPSHOT_FILE "state.json"
#define SNAPSHOT_FORMAT 2 /* 2: "sum", "journal_sha256"; absent and null node fields told apart */
#define SNAPSHOT_TAIL 96

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jref(json_t *v)
{
	return v ? json_incref(v) : json_null();
}

static json_t *node_snapshot(const node_state *n)
{
	json_t *o = json_pack("{s:o, s:o, s:o, s:i, s:i, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:o, s:o, "
			 "s:o, s:o, s:o, s:I, s:I, s:I, s:i}",
			 "name", jstr(n->name), "kind", jstr(n->kind), "phase", jstr(n->phase),
			 "status", (int)n->status, "attempts", n->attempts, "first_start",
			 n->first_start_ms, "last_start", n->last_start_ms, "end", n->end_ms,
			 "duration", n->duration_ms, "nonidem", n->nonidem_call, "calls", n->calls,
			 "done_seq", n->done_seq, "output", jref(n->output), "error",
			 jref(n->error), "checks", jref(n->checks), "approval", jref(n->approval),
			 "history", jref(n->history), "wait_start", n->wait_start_ms, "last_poll",
			 n->last_poll_ms, "stable_since", n->stable_since_ms, "last_ok",
			 n->last_ok);
	if (o && n->checkpoints)
		json_object_set(o, "checkpoints", n->checkpoints);
	return o;
}

/* node_snapshot_of - node_snapshot without the JSON fields the node does
 * not have: absent stays absent, JSON null stays null (a cache must not
 * change what a resumed run sees). */
static json_t *node_snapshot_of(const node_state *n)
{
	json_t *o = node_snapshot(n);
	if (!n->output)
		json_object_del(o, "output");
	if (!n->error)
		json_object_del(o, "error");
	if (!n->checks)
		json_object_del(o, "checks");
	if (!n->approval)
		json_object_del(o, "approval");
	return o;
}

/* jget - o[key] as a new reference, JSON null included; NULL when absent. */
static json_t *jget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return v ? json_incref(v) : NULL;
}

static char *jdup(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? strdup(s) : NULL;
}

static json_t *jkeep(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return v && !json_is_null(v) ? json_incref(v) : NULL;
}

static long long jint(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void node_restore(node_state *n, json_t *o)
{
	n->name = jdup(o, "name");
	n->kind = jdup(o, "kind");
	n->phase = jdup(o, "phase");
	n->status = (node_status)jint(o, "status");
	n->attempts = (int)jint(o, "attempts");
	n->first_start_ms = jint(o, "first_start");
	n->last_start_ms = jint(o, "last_start");
	n->end_ms = jint(o, "end");
	n->duration_ms = jint(o, "duration");
	n->nonidem_call = (int)jint(o, "nonidem");
	n->calls = (int)jint(o, "calls");
	n->done_seq = jint(o, "done_seq");
	n->output = jget(o, "output");
	n->error = jget(o, "error");
	n->checks = jget(o, "checks");
	n->approval = jget(o, "approval");
	n->history = jkeep(o, "history");
	n->checkpoints = jkeep(o, "checkpoints");
	if (!n->history)
		n->history = json_array();
	n->wait_start_ms = jint(o, "wait_start");
	n->last_poll_ms = jint(o, "last_poll");
	n->stable_since_ms = jint(o, "stable_since");
	n->last_ok = (int)jint(o, "last_ok");
}

/* read_tail - the len bytes of dir's journal before offset, NUL-ended, into buf. */
static int read_tail(const char *dir, long long offset, char *buf, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int rc = -1;
	if (fseeko(f, (off_t)(offset - (long long)len), SEEK_SET) == 0 &&
	    fread(buf, 1, len, f) == len)
		rc = 0;
	buf[len] = '\0';
	fclose(f);
	return rc;
}

/* prefix_sum - SHA-256 (hex) of the first offset bytes of dir's journal:
 * a snapshot is only used for the very bytes it was made from (a line
 * deleted, changed or moved before its offset is seen). 0 or -1. */
static int prefix_sum(const char *dir, long long offset, char out[65])
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < offset) {
		close(fd);
		return -1;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
	char buf[65536];
	long long left = offset;
	while (rc == 0 && left > 0) {
		ssize_t n =
			read(fd, buf, left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n <= 0 || EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			rc = -1;
		else
			left -= n;
	}
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	if (rc == 0 && EVP_DigestFinal_ex(md, h, &hlen) != 1)
		rc = -1;
	EVP_MD_CTX_free(md);
	close(fd);
	for (unsigned int i = 0; rc == 0 && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	out[64] = '\0';
	return rc;
}

/* snapshot_sum - SHA-256 (hex) of snap's compact, key-sorted text without
 * its "sum": a snapshot whose bytes changed is not used. 0 or -1. */
static int snapshot_sum(const json_t *snap, char out[65])
{
	json_t *copy = json_copy((json_t *)snap);
	if (!copy)
		return -1;
	json_object_del(copy, "sum");
	char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(copy);
	if (!text)
		return -1;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc = EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) == 1 ? 0 : -1;
	free(text);
	for (unsigned int i = 0; rc == 0 && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
	return rc;
}

int state_snapshot_save(const run_state *st, const char *dir, long long offset)
{
	char tail[SNAPSHOT_TAIL + 1];
	size_t tlen = offset < SNAPSHOT_TAIL ? (size_t)offset : SNAPSHOT_TAIL;
	if (offset <= 0 || read_tail(dir, offset, tail, tlen) != 0)
		return -1;
	json_t *nodes = json_array();
	for (int i = 0; i < st->nnodes; i++)
		json_array_append_new(nodes, node_snapshot_of(&st->nodes[i]));
	json_t *snap = json_pack(
		"{s:i, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:i, s:o, s:o, "
		"s:o, s:o, s:o, s:o, s:I, s:i, s:i, s:o}",
		"format", SNAPSHOT_FORMAT, "seq", st->last_seq, "offset", offset, "tail", tail,
		"run", jstr(st->run_id), "runbook", jstr(st->runbook), "file", jstr(st->file),
		"hash", jstr(st->hash), "version", jstr(st->version), "started", st->started_ms,
		"last_event", st->last_event_ms, "params", jref(st->params), "plan",
		jref(st->plan), "status", (int)st->status, "reason", jstr(st->reason),
		"reason_node", jstr(st->reason_node), "deviations", jref(st->deviations),
		"breakers", jref(st->breakers), "resolutions", jref(st->resolutions),
		"interruptions", jref(st->interruptions), "events", st->events, "resumes",
		st->resumes, "in_rollback", st->in_rollback, "nodes", nodes);
	if (snap && st->plugins)
		json_object_set(snap, "plugins", st->plugins);
	char sum[65], jsum[65];
	if (!snap || prefix_sum(dir, offset, jsum) != 0) {
		json_decref(snap);
		return -1;
	}
	json_object_set_new(snap, "journal_sha256", json_string(jsum));
	if (snapshot_sum(snap, sum) != 0) {
		json_decref(snap);
		return -1;
	}
	json_object_set_new(snap, "sum", json_string(sum));
	char tmp[4096], path[4096];
	snprintf(tmp, sizeof(tmp), "%s/" SNAPSHOT_FILE ".%ld.tmp", dir, (long)getpid());
	snprintf(path, sizeof(path), "%s/" SNAPSHOT_FILE, dir);
	/* 0600 whatever the umask, like every file of a run */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int rc = fd < 0 || fchmod(fd, 0600) != 0 ? -1 : json_dumpfd(snap, fd, JSON_COMPACT);
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	json_decref(snap);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* snapshot_doubt - whether a restored snapshot disagrees with itself: its
 * nodes must be the plan's nodes (same count, names and kinds, in order),
 * its statuses known ones, its event count its last seq. 0 when it holds
 * together, -1 when it is not to be trusted. */
static int snapshot_doubt(const run_state *st)
{
	json_t *pnodes = json_object_get(st->plan, "nodes");
	if (!json_is_array(pnodes) || json_array_size(pnodes) != (size_t)st->nnodes ||
	    st->nnodes == 0 || st->status <= RUN_NEW || st->status > RUN_ROLLED_BACK ||
	    st->last_seq <= 0 || st->events != st->last_seq || !st->run_id || !st->runbook)
		return -1;
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		json_t *pn = json_array_get(pnodes, (size_t)i);
		const char *name = json_string_value(json_object_get(pn, "name"));
		const char *kind = json_string_value(json_object_get(pn, "kind"));
		if (!n->name || !n->kind || !name || !kind || strcmp(n->name, name) != 0 ||
		    strcmp(n->kind, kind) != 0 || (int)n->status < NODE_PENDING ||
		    n->status > NODE_UNDO_FAILED || n->attempts < 0 || n->done_seq < 0 ||
		    n->done_seq > st->last_seq)
			return -1;
		if (json_integer_value(json_object_get(st->index, n->name)) != i)
			return -1; /* a name used twice */
	}
	return 0;
}

/* snapshot_load - the state of dir's snapshot and the offset it covers, or
 * NULL when there is none or it does not match the journal. */
static run_state *snapshot_load(const char *dir, long long *offset)
{
	char path[4096], tail[SNAPSHOT_TAIL + 1];
	snprintf(path, sizeof(path), "%s/" SNAPSHOT_FILE, dir);
	/* a regular file only: a FIFO must not hang status */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (off_t)JOURNAL_MAX_LINE) {
		close(fd);
		return NULL;
	}
	json_t *snap = json_loadfd(fd, JSON_ALLOW_NUL, NULL);
	close(fd);
	if (!snap)
		return NULL;
	char sum[65];
	const char *have = json_string_value(json_object_get(snap, "sum"));
	if (!json_is_object(snap) || !have || snapshot_sum(snap, sum) != 0 ||
	    strcmp(have, sum) != 0) {
		json_decref(snap);
		return NULL;
	}
	const char *want = json_string_value(json_object_get(snap, "tail"));
	long long off = jint(snap, "offset");
	size_t tlen = want ? strlen(want) : 0;
	char jsum[65];
	const char *jwant = json_string_value(json_object_get(snap, "journal_sha256"));
	if (jint(snap, "format") != SNAPSHOT_FORMAT || off <= 0 || !want || !jwant ||
	    prefix_sum(dir, off, jsum) != 0 || strcmp(jsum, jwant) != 0 ||
	    tlen != (off < SNAPSHOT_TAIL ? (size_t)off : SNAPSHOT_TAIL) ||
	    read_tail(dir, off, tail, tlen) != 0 || strcmp(tail, want) != 0) {
		json_decref(snap);
		return NULL;
	}
	run_state *st = state_new();
	st->run_id = jdup(snap, "run");
	st->runbook = jdup(snap, "runbook");
	st->file = jdup(snap, "file");
	st->hash = jdup(snap, "hash");
	st->version = jdup(snap, "version");
	st->started_ms = jint(snap, "started");
	st->last_event_ms = jint(snap, "last_event");
	st->params = jkeep(snap, "params");
	st->plan = jkeep(snap, "plan");
	st->plugins = jkeep(snap, "plugins");
	st->status = (run_status)jint(snap, "status");
	st->reason = jdup(snap, "reason");
	st->reason_node = jdup(snap, "reason_node");
	json_t *v;
	if ((v = jkeep(snap, "deviations"))) {
		json_decref(st->deviations);
		st->deviations = v;
	}
	if ((v = jkeep(snap, "breakers"))) {
		json_decref(st->breakers);
		st->breakers = v;
	}
	if ((v = jkeep(snap, "resolutions"))) {
		json_decref(st->resolutions);
		st->resolutions = v;
	}
	if ((v = jkeep(snap, "interruptions"))) {
		json_decref(st->interruptions);
		st->interruptions = v;
	}
	st->events = jint(snap, "events");
	st->last_seq = jint(snap, "seq");
	st->resumes = (int)jint(snap, "resumes");
	st->in_rollback = (int)jint(snap, "in_rollback");
	json_t *nodes = json_object_get(snap, "nodes");
	st->nnodes = (int)json_array_size(nodes);
	st->nodes = calloc((size_t)(st->nnodes ? st->nnodes : 1), sizeof(*st->nodes));
	st->index = json_object();
	for (int i = 0; i < st->nnodes; i++) {
		node_restore(&st->nodes[i], json_array_get(nodes, (size_t)i));
		if (st->nodes[i].name)
			json_object_set_new(st->index, st->nodes[i].name, json_integer(i));
	}
	json_decref(snap);
	if (snapshot_doubt(st) != 0) {
		state_free(st);
		return NULL;
	}
	*offset = off;
	return st;
}

/* check_plan - a plan as run.start and run.deviation journal it: nodes,
 * each with a unique name and a known kind, gates with their check names,
 * approvals with a list of approvers. 0, or -1 with why. */
static int check_plan(const json_t *plan, char *why, size_t len)
{
	static const char *const kinds[] = {"step", "wait", "gate", "approve", NULL};
	json_t *nodes = json_object_get(plan, "nodes");
	if (!json_is_object(plan) || !json_is_array(nodes) || json_array_size(nodes) == 0) {
		snprintf(why, len, "its plan has no nodes");
		return -1;
	}
	json_t *seen = json_object();
	size_t i;
	json_t *pn;
	int rc = 0;
	json_array_foreach(nodes, i, pn)
	{
		const char *name = json_string_value(json_object_get(pn, "name"));
		const char *kind = json_string_value(json_object_get(pn, "kind"));
		json_t *phase = json_object_get(pn, "phase");
		int known = 0;
		for (int k = 0; kind && kinds[k]; k++)
			known |= strcmp(kind, kinds[k]) == 0;
		if (!json_is_object(pn) || !name || !*name) {
			snprintf(why, len, "plan node %zu has no name", i + 1);
			rc = -1;
		} else if (!known) {
			snprintf(why, len,
				 "plan node %zu ('%s') has no kind step, wait, gate or approve",
				 i + 1, name);
			rc = -1;
		} else if (json_object_get(seen, name)) {
			snprintf(why, len, "plan node name '%s' is used twice", name);
			rc = -1;
		} else if (phase && !json_is_string(phase) && !json_is_null(phase)) {
			snprintf(why, len, "plan node '%s' has a phase that is not a string", name);
			rc = -1;
		}
		if (rc == 0 && strcmp(kind, "gate") == 0) {
			json_t *checks = json_object_get(pn, "checks"), *c;
			size_t k;
			if (!json_is_array(checks))
				rc = -1;
			json_array_foreach(checks, k, c) if (!json_is_string(c)) rc = -1;
			if (rc)
				snprintf(why, len, "plan gate '%s' has no list of check names",
					 name);
		}
		if (rc == 0 && strcmp(kind, "approve") == 0) {
			json_t *ap = json_object_get(pn, "approvers"), *a;
			size_t k;
			if (ap && !json_is_null(ap) && !json_is_array(ap))
				rc = -1;
			json_array_foreach(ap, k, a) if (!json_is_string(a)) rc = -1;
			if (rc)
				snprintf(why, len,
					 "plan approval '%s' has approvers that are not a list of "
					 "names",
					 name);
		}
		if (rc)
			break;
		json_object_set_new(seen, name, json_true());
	}
	json_decref(seen);
	return rc;
}

/* state_check_event - see state.h. */
int state_check_event(run_state *st, const json_t *ev, char *why, size_t len)
{
	const char *type = json_string_value(json_object_get(ev, "ev"));
	json_t *node = json_object_get(ev, "node");
	char pwhy[256];
	if (!type) {
		snprintf(why, len, "the event has no \"ev\" naming its type");
		return -1;
	}
	if (strcmp(type, "run.start") == 0) {
		if (st->status != RUN_NEW) {
			snprintf(why, len, "a second run.start");
			return -1;
		}
		if (!json_is_string(json_object_get(ev, "run")) ||
		    !json_is_string(json_object_get(ev, "runbook"))) {
			snprintf(why, len, "run.start has no \"run\" or \"runbook\" string");
			return -1;
		}
		json_t *params = json_object_get(ev, "params");
		if (params && !json_is_object(params) && !json_is_null(params)) {
			snprintf(why, len, "run.start has params that are not an object");
			return -1;
		}
		if (check_plan(json_object_get(ev, "plan"), pwhy, sizeof(pwhy)) != 0) {
			snprintf(why, len, "run.start has no usable plan: %s", pwhy);
			return -1;
		}
		return 0;
	}
	if (st->status == RUN_NEW) {
		snprintf(why, len, "%s comes before run.start", type);
		return -1;
	}
	if (strcmp(type, "run.deviation") == 0 && json_object_get(ev, "plan") &&
	    check_plan(json_object_get(ev, "plan"), pwhy, sizeof(pwhy)) != 0) {
		snprintf(why, len, "run.deviation has no usable plan: %s", pwhy);
		return -1;
	}
	if (node && !json_is_string(node) && !json_is_null(node)) {
		snprintf(why, len, "%s has a \"node\" that is not a string", type);
		return -1;
	}
	if (strncmp(type, "step.", 5) == 0 || strncmp(type, "wait.", 5) == 0 ||
	    strncmp(type, "gate.", 5) == 0 || strncmp(type, "approve.", 8) == 0 ||
	    strncmp(type, "undo.", 5) == 0) {
		const char *name = json_string_value(node);
		if (!name) {
			snprintf(why, len, "%s names no node", type);
			return -1;
		}
		if (!state_node(st, name)) {
			snprintf(why, len, "%s names node '%s', which the plan does not have", type,
				 name);
			return -1;
		}
	}
	if (strcmp(type, "step.resolved") == 0 &&
	    !json_is_string(json_object_get(ev, "decision"))) {
		snprintf(why, len, "step.resolved has no decision");
		return -1;
	}
	if (strcmp(type, "gate.check") == 0 && !json_is_string(json_object_get(ev, "check"))) {
		snprintf(why, len, "gate.check names no check");
		return -1;
	}
	return 0;
}

typedef struct replay_ctx {
	run_state *st;
	long long expect_seq; /* the seq the first event must have; 0 = any */
	int mismatch;
	int bad; /* an event of the wrong shape: message in why */
	char why[512];
	const char *dir;
} replay_ctx;

static int replay_cb(void *user, json_t *event)
{
	replay_ctx *rc = user;
	char why[400];
	if (rc->expect_seq) {
		if (json_integer_value(json_object_get(event, "seq")) != rc->expect_seq) {
			rc->mismatch = 1;
			return 1;
		}
		rc->expect_seq = 0;
	}
	if (state_check_event(rc->st, event, why, sizeof(why)) != 0) {
		snprintf(rc->why, sizeof(rc->why),
			 "journal %s/journal.jsonl line %lld is corrupted: %s", rc->dir,
			 (long long)json_integer_value(json_object_get(event, "seq")), why);
		rc->bad = 1;
		return 1;
	}
	state_apply(rc->st, event);
	return 0;
}

run_state *state_new(void)
{
	run_state *st = calloc(1, sizeof(*st));
	st->deviations = json_array();
	st->breakers = json_array();
	st->resolutions = json_array();
	st->interruptions = json_array();
	return st;
}

run_state *state_load_at(const char *dir, long long *end, char *err, size_t errlen)
{
	long long offset = 0, stop = 0;
	int torn = 0;
	replay_ctx rc;
	memset(&rc, 0, sizeof(rc));
	rc.dir = dir;
	rc.st = snapshot_load(dir, &offset);
	if (rc.st)
		rc.expect_seq = rc.st->last_seq + 1;
	else
		rc.st = state_new();
	stop = offset;
	if (journal_replay_from(dir, offset, replay_cb, &rc, &stop, &torn, err, errlen) < 0) {
		state_free(rc.st);
		return NULL;
	}
	if (rc.mismatch || (rc.bad && offset > 0)) {
		/* the snapshot belongs to another history: replay it all */
		rc.bad = 0;
		state_free(rc.st);
		rc.st = state_new();
		rc.expect_seq = 0;
		rc.mismatch = 0;
		stop = 0;
		if (journal_replay_from(dir, 0, replay_cb, &rc, &stop, &torn, err, errlen) < 0) {
			state_free(rc.st);
			return NULL;
		}
	}
	if (rc.bad) {
		snprintf(err, errlen, "%s", rc.why);
		state_free(rc.st);
		return NULL;
	}
	run_state *st = rc.st;
	st->torn = torn;
	if (st->status == RUN_NEW) {
		snprintf(err, errlen, "%s: the journal has no run.start event", dir);
		state_free(st);
		return NULL;
	}
	if (end)
		*end = stop;
	return st;
}

run_state *state_load(const char *dir, char *err, size_t errlen)
{
	return state_load_at(dir, NULL, err, errlen);
}

void state_free(run_state *st)
{
	if (!st)
		return;
	for (int i = 0; i < st->nnodes; i++)
		node_clear(&st->nodes[i]);
	free(st->nodes);
	free(st->run_id);
	free(st->runbook);
	free(st->file);
	free(st->hash);
	json_decref(st->plugins);
	free(st->version);
	free(st->reason);
	free(st->reason_node);
	json_decref(st->params);
	json_decref(st->plan);
	json_decref(st->deviations);
	json_decref(st->breakers);
	json_decref(st->resolutions);
	json_decref(st->interruptions);
	json_decref(st->index);
	free(st);
}

static json_t *ts_json(long long ms)
{
	char buf[64];
	if (ms <= 0)
		return json_null();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03lldZ", ms % 1000);
	return json_string(buf);
}

json_t *state_to_json(const run_state *st)
{
	json_t *nodes = json_array();
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		json_t *o = json_pack("{s:s, s:s?, s:s?, s:s, s:i, s:o, s:o, s:I}", "name", n->name,
				      "kind", n->kind, "phase", n->phase, "status",
				      state_node_status_name(n->status), "attempts", n->attempts,
				      "started", ts_json(n->first_start_ms), "ended", ts_json(n->end_ms),
				      "duration_ms", n->duration_ms);
		if (n->output)
			json_object_set(o, "output", n->output);
		if (n->error)
			json_object_set(o, "error", n->error);
		if (n->checks && n->kind && strcmp(n->kind, "gate") == 0)
			json_object_set(o, "checks", n->checks);
		if (n->approval)
			json_object_set(o, "approval", n->approval);
		if (n->history && json_array_size(n->history))
			json_object_set(o, "failed_attempts", n->history);
		if (n->checkpoints)
			json_object_set(o, "checkpoints", n->checkpoints);
		if (n->kind && strcmp(n->kind, "wait") == 0 && n->wait_start_ms) {
			json_object_set_new(o, "polls", json_integer(n->attempts));
			json_object_set_new(o, "last_poll", ts_json(n->last_poll_ms));
			json_object_set_new(o, "stable_since", ts_json(n->stable_since_ms));
		}
		json_array_append_new(nodes, o);
	}
	json_t *out = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:s?, s:s?, s:o, s:o, s:O?, s:O, s:O, "
			 "s:O, s:O, s:o, s:I, s:b, s:i}",
			 "run", st->run_id, "runbook", st->runbook, "file", st->file, "hash",
			 st->hash, "pgmove", st->version, "status",
			 state_run_status_name(st->status), "reason", st->reason, "reason_node",
			 st->reason_node, "started", ts_json(st->started_ms), "last_event",
			 ts_json(st->last_event_ms), "params", st->params, "deviations",
			 st->deviations, "breakers", st->breakers, "resolutions", st->resolutions,
			 "interruptions", st->interruptions, "nodes", nodes, "events", st->events,
			 "journal_torn", st->torn, "resumes", st->resumes);
	if (out && st->plugins)
		json_object_set(out, "plugins", st->plugins);
	return out;
}
