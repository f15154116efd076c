/*
 * core/cli/cli_report_html.c - pgmove report --html: a run as one
 * self-contained HTML file for a change record. The timeline (a Gantt of
 * every step attempt, gate evaluation, wait and approval over wall time,
 * with breaker trips and the run's pauses as markers), each gate
 * evaluation with every check and its evidence, approvals, breaker trips,
 * deviations, operator decisions, the params (secrets masked) and the
 * runbook's hash. Everything comes from the journal: the replayed state
 * (core/engine/state.c) and, for the timeline and every gate evaluation, one
 * more pass over the events.
 *
 * The page loads nothing: inline CSS, inline SVG and one inline script
 * allowed by its hash in a Content-Security-Policy of default-src 'none';
 * every string from the journal is HTML-escaped.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "engine.h"
#include "exitcodes.h"
#include "host.h"
#include "journal.h"
#include "state.h"

/* the longest JSON evidence or output shown in full (bytes) */
#define EVIDENCE_MAX 16384

/* The one script of the page: it says it ran (data-js="ok" on <body>) and
 * writes any script error into #js-errors, so a headless browser's DOM dump
 * tells both. Its SHA-256 is in the page's Content-Security-Policy. */
static const char page_script[] =
	"(function(){var b=document.body,e=document.getElementById('js-errors');"
	"window.addEventListener('error',function(ev){e.textContent+=String(ev.message)+'\\n';"
	"e.hidden=false;});"
	"var rows=document.querySelectorAll('svg .bar');"
	"for(var i=0;i<rows.length;i++){rows[i].addEventListener('mouseenter',function(){"
	"this.classList.add('hot');});rows[i].addEventListener('mouseleave',function(){"
	"this.classList.remove('hot');});}"
	"b.setAttribute('data-js','ok');})();";

static const char page_style[] =
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;"
	"color:#1d2330;background:#fff}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
	"border-bottom:1px solid #d6dae2;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}"
	"table{border-collapse:collapse;margin:4px 0 12px}td,th{border:1px solid #d6dae2;"
	"padding:3px 8px;text-align:left;vertical-align:top}th{background:#f2f4f8}"
	"code,pre{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace}"
	"pre{background:#f6f7f9;border:1px solid #e3e6ec;padding:6px;margin:2px 0;"
	"max-height:320px;overflow:auto;white-space:pre-wrap;word-break:break-all}"
	".st{display:inline-block;padding:1px 7px;border-radius:9px;font-weight:600;"
	"font-size:12px;color:#fff;background:#6b7280}"
	".st-completed,.st-succeeded,.st-approved,.st-ok,.st-pass,.st-rolled-back{background:#"
	"2e7d32}"
	".st-failed,.st-denied,.st-halted,.st-undo-failed,.st-FAIL{background:#c62828}"
	".st-paused,.st-waiting,.st-interrupted,.st-stopped{background:#b26a00}"
	".st-running,.st-rolling-back{background:#1565c0}.st-undone,.st-skipped{background:#6b7280}"
	"dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0}"
	"dl.kv dt{font-weight:600}dl.kv dd{margin:0}"
	".gantt{border:1px solid #d6dae2;background:#fff;max-width:100%}"
	".gantt text{font:11px system-ui,sans-serif;fill:#1d2330}"
	".gantt .lbl{font-size:12px}.gantt .ph{font-weight:700}"
	".gantt .bar.hot{stroke:#000;stroke-width:1.5}"
	".legend span{display:inline-block;margin-right:14px;font-size:12px}"
	".legend i{display:inline-block;width:12px;height:10px;margin-right:4px;"
	"vertical-align:middle}"
	".muted{color:#6b7280}.warn{color:#c62828;font-weight:600}"
	"#js-errors{color:#c62828}";

/* bar colours by segment state, and the legend's order */
static const struct {
	const char *state, *colour, *label;
} bar_colours[] = {
	{"ok", "#2e7d32", "succeeded / passed / approved"},
	{"failed", "#c62828", "failed / timed out / denied"},
	{"stopped", "#b26a00", "stopped (pause, kill, crash, signal)"},
	{"running", "#1565c0", "still running at the last event"},
	{"waiting", "#7e57c2", "waiting for approval"},
	{"undo", "#455a64", "undo (rollback)"},
	{"skipped", "#9e9e9e", "skipped"},
};

static const char *bar_colour(const char *state)
{
	for (size_t i = 0; i < sizeof(bar_colours) / sizeof(bar_colours[0]); i++)
		if (strcmp(bar_colours[i].state, state) == 0)
			return bar_colours[i].colour;
	return "#6b7280";
}

/* esc - s HTML-escaped onto f (text and attribute values alike); NULL
 * writes nothing. */
static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* esc_json - v as indented JSON, escaped, at most EVIDENCE_MAX bytes. */
static void esc_json(FILE *f, const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (!s)
		return;
	size_t len = strlen(s);
	if (len > EVIDENCE_MAX) {
		s[EVIDENCE_MAX] = '\0';
		esc(f, s);
		fprintf(f, "\n... (%zu more bytes in the journal)", len - EVIDENCE_MAX);
	} else {
		esc(f, s);
	}
	free(s);
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* esc_cells - one <td> per name in keys (NULL-terminated): v's string
 * member of that name, escaped. */
static void esc_cells(FILE *f, const json_t *v, const char *const *keys)
{
	for (; *keys; keys++) {
		fputs("<td>", f);
		esc(f, str(v, *keys));
		fputs("</td>", f);
	}
}

/* status_badge - <span class="st st-STATUS">STATUS</span>. */
static void status_badge(FILE *f, const char *status)
{
	fputs("<span class=\"st st-", f);
	esc(f, status);
	fputs("\">", f);
	esc(f, status);
	fputs("</span>", f);
}

/* ---------------------------------------------------------------------
 * The timeline: one pass over the journal, turning events into segments
 * {node, kind, attempt, start, end, state, note, polls, failed_polls} and
 * markers {ts, kind, text}; gate evaluations {node, attempt, ts, ok,
 * checks} are kept whole.
 * ------------------------------------------------------------------- */
typedef struct timeline {
	json_t *segs;	 /* array of segments                               */
	json_t *open;	 /* node name -> index of its open segment in segs    */
	json_t *markers; /* array                                            */
	json_t *evals;	 /* node name -> [evaluation]                        */
	long long prev_ts, last_ts;
} timeline;

static json_t *open_seg(timeline *tl, const char *node)
{
	json_t *i = json_object_get(tl->open, node);
	return i ? json_array_get(tl->segs, (size_t)json_integer_value(i)) : NULL;
}

static void close_seg(timeline *tl, const char *node, long long ts, const char *state,
		      const char *note)
{
	json_t *s = open_seg(tl, node);
	if (!s)
		return;
	json_object_set_new(s, "end", json_integer(ts));
	json_object_set_new(s, "state", json_string(state));
	if (note)
		json_object_set_new(s, "note", json_string(note));
	json_object_del(tl->open, node);
}

static void start_seg(timeline *tl, const char *node, const char *kind, long long attempt,
		      long long ts)
{
	if (open_seg(tl, node))
		close_seg(tl, node, tl->prev_ts, "stopped", "pgmove stopped while it ran");
	json_array_append_new(tl->segs,
			      json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "node", node, "kind",
					kind, "attempt", (json_int_t)attempt, "start",
					(json_int_t)ts, "end", (json_int_t)ts, "state", "running"));
	json_object_set_new(tl->open, node,
			    json_integer((json_int_t)json_array_size(tl->segs) - 1));
}

/* close_all - closes every open segment but approvals' (a pause, a resume
 * after a crash). */
static void close_all(timeline *tl, long long ts, const char *note)
{
	const char *k;
	json_t *v, *tmp;
	json_object_foreach_safe(tl->open, tmp, k, v)
	{
		json_t *s = json_array_get(tl->segs, (size_t)json_integer_value(v));
		if (strcmp(str(s, "kind"), "approve") != 0)
			close_seg(tl, k, ts, "stopped", note);
	}
}

static void marker(timeline *tl, long long ts, const char *kind, const char *text)
{
	json_array_append_new(tl->markers, json_pack("{s:I, s:s, s:s}", "ts", (json_int_t)ts,
						     "kind", kind, "text", text ? text : ""));
}

/* error_note - "code: message" of an event's error into buf. */
static const char *error_note(const json_t *ev, char *buf, size_t len)
{
	json_t *e = json_object_get(ev, "error");
	snprintf(buf, len, "%s%s%s", str(e, "code") ? str(e, "code") : "",
		 str(e, "code") && str(e, "message") ? ": " : "",
		 str(e, "message") ? str(e, "message") : "");
	return buf;
}

/* timeline_wait_resumed - a wait that goes on after a pause or a crash
 * (resume continues it with its deadline, without a new wait.start): its
 * next segment starts at the event before (the run.resume). */
static void timeline_wait_resumed(timeline *tl, const char *node)
{
	start_seg(tl, node, "wait", 0, tl->prev_ts);
}

static int timeline_event(void *user, json_t *ev)
{
	timeline *tl = user;
	const char *type = str(ev, "ev"), *node = str(ev, "node");
	long long ts = state_ts_ms(str(ev, "ts"));
	char note[1024];
	if (!type || !ts)
		return 0;
	tl->last_ts = ts;
	long long attempt = json_integer_value(json_object_get(ev, "attempt"));
	if (node && strncmp(type, "wait.", 5) == 0 && strcmp(type, "wait.start") != 0 &&
	    strcmp(type, "wait.stability_reset") != 0 && !open_seg(tl, node))
		timeline_wait_resumed(tl, node);
	if (strcmp(type, "run.resume") == 0 || strcmp(type, "run.restart") == 0) {
		close_all(tl, tl->prev_ts, "pgmove stopped while it ran");
		marker(tl, ts, "resume", strcmp(type, "run.resume") == 0 ? "resumed" : "restarted");
	} else if (strcmp(type, "run.paused") == 0 || strcmp(type, "run.halted") == 0 ||
		   strcmp(type, "run.failed") == 0 || strcmp(type, "run.interrupted") == 0) {
		close_all(tl, ts, str(ev, "reason"));
		snprintf(note, sizeof(note), "%s: %s", type + 4,
			 str(ev, "reason") ? str(ev, "reason") : "");
		marker(tl, ts, "stop", note);
	} else if (strcmp(type, "run.completed") == 0) {
		marker(tl, ts, "done", "completed");
	} else if (strcmp(type, "rollback.start") == 0 || strcmp(type, "rollback.done") == 0) {
		marker(tl, ts, "rollback",
		       type[9] == 's' ? "rollback started" : "rollback finished");
	} else if (strcmp(type, "run.deviation") == 0) {
		marker(tl, ts, "deviation", str(ev, "what"));
	} else if (strcmp(type, "breaker.trip") == 0) {
		snprintf(note, sizeof(note), "breaker %s tripped -> %s",
			 str(ev, "breaker") ? str(ev, "breaker") : "?",
			 str(ev, "action") ? str(ev, "action") : "?");
		marker(tl, ts, "breaker", note);
	} else if (!node) {
		/* nothing else without a node */
	} else if (strcmp(type, "step.start") == 0) {
		start_seg(tl, node, "step", attempt, ts);
	} else if (strcmp(type, "step.succeeded") == 0) {
		close_seg(tl, node, ts, "ok", NULL);
	} else if (strcmp(type, "step.failed") == 0) {
		close_seg(tl, node, ts, "failed", error_note(ev, note, sizeof(note)));
	} else if (strcmp(type, "step.interrupted") == 0) {
		close_seg(tl, node, ts, "stopped", "interrupted by a signal");
	} else if (strcmp(type, "plugin.crashed") == 0) {
		snprintf(note, sizeof(note), "plugin function %s crashed with %s",
			 str(ev, "function") ? str(ev, "function") : "?",
			 str(ev, "signal") ? str(ev, "signal") : "a signal");
		close_seg(tl, node, ts, "failed", note);
	} else if (strcmp(type, "step.crashed") == 0) {
		close_seg(tl, node, tl->prev_ts, "stopped", "pgmove stopped while it ran");
	} else if (strcmp(type, "step.skipped") == 0) {
		start_seg(tl, node, "step", 0, ts);
		close_seg(tl, node, ts, "skipped", "skipped (its when was false)");
	} else if (strcmp(type, "step.resolved") == 0) {
		snprintf(note, sizeof(note), "%s resolved as %s by %s", node,
			 str(ev, "decision") ? str(ev, "decision") : "?",
			 str(ev, "by") ? str(ev, "by") : "?");
		marker(tl, ts, "decision", note);
	} else if (strcmp(type, "gate.start") == 0) {
		start_seg(tl, node, "gate", attempt, ts);
		json_t *list = json_object_get(tl->evals, node);
		if (!list) {
			list = json_array();
			json_object_set_new(tl->evals, node, list);
		}
		json_array_append_new(list, json_pack("{s:I, s:I, s:o, s:[]}", "attempt",
						      (json_int_t)attempt, "ts", (json_int_t)ts,
						      "ok", json_null(), "checks"));
	} else if (strcmp(type, "gate.check") == 0) {
		json_t *list = json_object_get(tl->evals, node);
		json_t *e = json_array_get(list, json_array_size(list) - 1);
		if (e)
			json_array_append_new(json_object_get(e, "checks"),
					      json_pack("{s:O?, s:O?, s:O?}", "check",
							json_object_get(ev, "check"), "ok",
							json_object_get(ev, "ok"), "detail",
							json_object_get(ev, "detail")));
	} else if (strcmp(type, "gate.result") == 0) {
		int ok = json_is_true(json_object_get(ev, "ok"));
		json_t *list = json_object_get(tl->evals, node);
		json_t *e = json_array_get(list, json_array_size(list) - 1);
		if (e)
			json_object_set_new(e, "ok", json_boolean(ok));
		close_seg(tl, node, ts, ok ? "ok" : "failed", ok ? NULL : "a check failed");
	} else if (strcmp(type, "wait.start") == 0) {
		start_seg(tl, node, "wait", 0, ts);
	} else if (strcmp(type, "wait.poll") == 0) {
		json_t *s = open_seg(tl, node);
		if (s) {
			json_object_set_new(
				s, "polls",
				json_integer(json_integer_value(json_object_get(s, "polls")) + 1));
			if (!json_is_true(json_object_get(ev, "ok")))
				json_object_set_new(s, "failed_polls",
						    json_integer(json_integer_value(json_object_get(
									 s, "failed_polls")) +
								 1));
		}
	} else if (strcmp(type, "wait.done") == 0) {
		close_seg(tl, node, ts, "ok", NULL);
	} else if (strcmp(type, "wait.timeout") == 0) {
		close_seg(tl, node, ts, "failed", "timed out");
	} else if (strcmp(type, "approve.pending") == 0) {
		if (!open_seg(tl, node))
			start_seg(tl, node, "approve", 0, ts);
	} else if (strcmp(type, "approve.given") == 0 || strcmp(type, "approve.denied") == 0) {
		int given = type[8] == 'g';
		snprintf(note, sizeof(note), "%s by %s", given ? "approved" : "denied",
			 str(ev, "by") ? str(ev, "by") : "?");
		if (!open_seg(tl, node))
			start_seg(tl, node, "approve", 0, ts);
		close_seg(tl, node, ts, given ? "ok" : "failed", note);
	} else if (strcmp(type, "undo.start") == 0) {
		start_seg(tl, node, "undo", 0, ts);
	} else if (strcmp(type, "undo.succeeded") == 0) {
		close_seg(tl, node, ts, "undo", "undone");
	} else if (strcmp(type, "undo.failed") == 0) {
		close_seg(tl, node, ts, "failed", error_note(ev, note, sizeof(note)));
	}
	tl->prev_ts = ts;
	return 0;
}

/* fmt_ts - "2026-11-21 07:04:05Z" (or "-"). */
static const char *fmt_ts(long long ms, char *buf, size_t len)
{
	return state_format_ts(ms, buf, len);
}

/* svg_timeline - the Gantt: a row per phase (its span) and per node (its
 * segments), breaker trips and run stops as vertical markers, a time axis. */
static void svg_timeline(FILE *f, const run_state *st, const timeline *tl)
{
	const int label_w = 230, chart_w = 900, row_h = 20, top = 34;
	long long t0 = st->started_ms, t1 = tl->last_ts;
	if (t1 <= t0)
		t1 = t0 + 1000;
	int rows = 0;
	for (int i = 0; i < st->nnodes; i++) {
		const char *ph = st->nodes[i].phase;
		if (i == 0 || (ph ? 1 : 0) != (st->nodes[i - 1].phase ? 1 : 0) ||
		    (ph && strcmp(ph, st->nodes[i - 1].phase) != 0))
			rows++;
		rows++;
	}
	int height = top + rows * row_h + 30;
	fprintf(f,
		"<svg class=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" "
		"viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"timeline\">\n",
		label_w + chart_w + 20, height, label_w + chart_w + 20, height);
	/* the axis: 6 ticks of elapsed time */
	char d[32], t[32];
	for (int k = 0; k <= 6; k++) {
		double x = label_w + chart_w * k / 6.0;
		long long at = (t1 - t0) * k / 6;
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e3e6ec\"/>"
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">+%s</text>\n",
			x, top - 6, x, height - 24, x, top - 12,
			k == 0	 ? "start"
			: k == 6 ? "end"
				 : "middle",
			pgm_duration_format(at - at % 1000 ? at - at % 1000 : at, d, sizeof(d)));
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>", label_w, height - 8,
		fmt_ts(t0, t, sizeof(t)));
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", label_w + chart_w,
		height - 8, fmt_ts(t1, t, sizeof(t)));
#define XOF(ms) (label_w + (double)chart_w * (double)((ms)-t0) / (double)(t1 - t0))
	int row = 0;
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		const char *ph = n->phase;
		if (i == 0 || (ph ? 1 : 0) != (st->nodes[i - 1].phase ? 1 : 0) ||
		    (ph && strcmp(ph, st->nodes[i - 1].phase) != 0)) {
			/* the phase's span: from its first segment to its last */
			long long a = 0, b = 0;
			for (int j = i; j < st->nnodes; j++) {
				const char *pj = st->nodes[j].phase;
				if ((pj ? 1 : 0) != (ph ? 1 : 0) || (ph && strcmp(pj, ph) != 0))
					break;
				size_t k;
				json_t *s;
				json_array_foreach(tl->segs, k, s)
				{
					if (strcmp(str(s, "node"), st->nodes[j].name) != 0)
						continue;
					long long sa =
						json_integer_value(json_object_get(s, "start"));
					long long sb =
						json_integer_value(json_object_get(s, "end"));
					if (!a || sa < a)
						a = sa;
					if (sb > b)
						b = sb;
				}
			}
			int y = top + row * row_h;
			fprintf(f, "<text class=\"lbl ph\" x=\"4\" y=\"%d\">phase ", y + 14);
			esc(f, ph ? ph : "(no phase)");
			fputs("</text>", f);
			if (a) {
				fprintf(f,
					"<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"6\" "
					"fill=\"#90a4ae\">"
					"<title>phase ",
					XOF(a), y + 7, XOF(b) - XOF(a) < 2 ? 2 : XOF(b) - XOF(a));
				esc(f, ph ? ph : "(no phase)");
				fprintf(f, ": %s", fmt_ts(a, t, sizeof(t)));
				fprintf(f, " to %s</title></rect>", fmt_ts(b, t, sizeof(t)));
			}
			fputs("\n", f);
			row++;
		}
		int y = top + row * row_h;
		if (row % 2)
			fprintf(f,
				"<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" "
				"fill=\"#f7f8fa\"/>",
				y, label_w + chart_w + 20, row_h);
		fprintf(f, "<a href=\"#node-");
		esc(f, n->name);
		fprintf(f, "\"><text class=\"lbl\" x=\"14\" y=\"%d\">%s ", y + 14, n->kind);
		esc(f, n->name);
		fputs("</text></a>\n", f);
		size_t k;
		json_t *s;
		json_array_foreach(tl->segs, k, s)
		{
			if (strcmp(str(s, "node"), n->name) != 0)
				continue;
			long long a = json_integer_value(json_object_get(s, "start"));
			long long b = json_integer_value(json_object_get(s, "end"));
			const char *state = str(s, "state");
			const char *kind = str(s, "kind");
			int waiting = strcmp(kind, "approve") == 0 && strcmp(state, "running") == 0;
			double w = XOF(b) - XOF(a);
			fprintf(f, "<rect class=\"bar bar-%s\" data-node=\"",
				strcmp(kind, "undo") == 0 && strcmp(state, "failed") != 0 ? "undo"
				: waiting ? "waiting"
					  : state);
			esc(f, n->name);
			fprintf(f,
				"\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" rx=\"2\" "
				"fill=\"%s\"%s>",
				XOF(a), y + 3, w < 3 ? 3 : w, row_h - 6,
				bar_colour(strcmp(kind, "undo") == 0 && strcmp(state, "failed") != 0
						   ? "undo"
					   : waiting ? "waiting"
						     : state),
				strcmp(kind, "approve") == 0 ? " fill-opacity=\"0.6\"" : "");
			fprintf(f, "<title>%s ", kind);
			esc(f, n->name);
			long long att = json_integer_value(json_object_get(s, "attempt"));
			if (att)
				fprintf(f, " attempt %lld", att);
			fprintf(f, ": %s, %s", waiting ? "waiting" : state,
				fmt_ts(a, t, sizeof(t)));
			fprintf(f, " + %s", pgm_duration_format(b - a, d, sizeof(d)));
			if (json_object_get(s, "polls"))
				fprintf(f, ", %lld polls (%lld not ok)",
					json_integer_value(json_object_get(s, "polls")),
					json_integer_value(json_object_get(s, "failed_polls")));
			if (str(s, "note")) {
				fputs(": ", f);
				esc(f, str(s, "note"));
			}
			fputs("</title></rect>\n", f);
			if (att > 1 || strcmp(state, "failed") == 0)
				fprintf(f,
					"<text x=\"%.1f\" y=\"%d\" font-size=\"9\">%s%lld</text>\n",
					XOF(a) + (w < 3 ? 3 : w) + 2, y + 13,
					strcmp(state, "failed") == 0 ? "\xe2\x9c\x97" : "#",
					att ? att : 1);
		}
		row++;
	}
	size_t k;
	json_t *m;
	json_array_foreach(tl->markers, k, m)
	{
		const char *kind = str(m, "kind");
		const char *colour = strcmp(kind, "breaker") == 0 ? "#d32f2f"
				     : strcmp(kind, "stop") == 0  ? "#b26a00"
				     : strcmp(kind, "done") == 0  ? "#2e7d32"
								  : "#546e7a";
		double x = XOF(json_integer_value(json_object_get(m, "ts")));
		fprintf(f,
			"<line class=\"marker marker-%s\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
			"y2=\"%d\" "
			"stroke=\"%s\" stroke-width=\"%s\" stroke-dasharray=\"%s\"><title>",
			kind, x, top - 4, x, height - 24, colour,
			strcmp(kind, "breaker") == 0 ? "2" : "1",
			strcmp(kind, "breaker") == 0 ? "none" : "4 3");
		esc(f, fmt_ts(json_integer_value(json_object_get(m, "ts")), t, sizeof(t)));
		fputs(" ", f);
		esc(f, str(m, "text"));
		fputs("</title></line>\n", f);
		if (strcmp(kind, "breaker") == 0)
			fprintf(f,
				"<text x=\"%.1f\" y=\"%d\" fill=\"#d32f2f\" "
				"font-size=\"10\">\xe2\x9a\xa1</text>\n",
				x + 2, top + 2);
	}
#undef XOF
	fputs("</svg>\n<div class=\"legend\">", f);
	for (size_t i = 0; i < sizeof(bar_colours) / sizeof(bar_colours[0]); i++)
		fprintf(f, "<span><i style=\"background:%s\"></i>%s</span>", bar_colours[i].colour,
			bar_colours[i].label);
	fputs("<span><i style=\"background:#d32f2f;width:3px\"></i>breaker trip</span>"
	      "<span><i style=\"background:#b26a00;width:3px\"></i>run stopped (pause, halt, "
	      "failure)</span>"
	      "<span>\xe2\x9c\x97N failed attempt N, #N attempt N</span></div>\n",
	      f);
}

/* script_hash - the CSP source for page_script: 'sha256-BASE64'. */
static void script_hash(char *out, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[96];
	unsigned mdlen = 0;
	EVP_Digest(page_script, strlen(page_script), md, &mdlen, EVP_sha256(), NULL);
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(out, len, "'sha256-%s'", (const char *)b64);
}

/* plan_node - the plan's entry for node name, or NULL. */
static json_t *plan_node(const run_state *st, const char *name)
{
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(st->plan, "nodes"), i, n)
	{
		if (str(n, "name") && strcmp(str(n, "name"), name) == 0)
			return n;
	}
	return NULL;
}

static void write_params(FILE *f, const run_state *st)
{
	json_t *specs = json_object_get(st->plan, "params");
	fputs("<h2 id=\"params\">Parameters</h2>\n", f);
	if (!json_object_size(st->params) && !json_object_size(specs)) {
		fputs("<p class=\"muted\">none</p>\n", f);
		return;
	}
	fputs("<table><tr><th>Name</th><th>Value</th><th>Declared</th></tr>\n", f);
	const char *k;
	json_t *v;
	json_object_foreach(specs, k, v)
	{
		json_t *val = json_object_get(st->params, k);
		/* a spec the journal masked whole (a secret-looking name) is a secret's */
		int secret = json_is_true(json_object_get(v, "secret")) || !json_is_object(v);
		fputs("<tr><td><code>", f);
		esc(f, k);
		fputs("</code></td><td>", f);
		if (secret)
			fputs("<code>********</code> <span class=\"muted\">(secret: never "
			      "journaled)</span>",
			      f);
		else if (val) {
			fputs("<code>", f);
			char *s = json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
			esc(f, s);
			free(s);
			fputs("</code>", f);
		} else
			fputs("<span class=\"muted\">(not set)</span>", f);
		fputs("</td><td>", f);
		if (!json_is_object(v)) {
			fputs("<span class=\"muted\">(masked in the journal)</span></td></tr>\n",
			      f);
			continue;
		}
		esc(f, str(v, "type") ? str(v, "type") : "string");
		if (json_is_true(json_object_get(v, "required")))
			fputs(", required", f);
		if (secret)
			fputs(", secret", f);
		if (str(v, "env")) {
			fputs(", env ", f);
			esc(f, str(v, "env"));
		}
		fputs("</td></tr>\n", f);
	}
	/* values the journal has without a spec in the plan */
	json_object_foreach(st->params, k, v)
	{
		if (json_object_get(specs, k))
			continue;
		fputs("<tr><td><code>", f);
		esc(f, k);
		fputs("</code></td><td><code>", f);
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		esc(f, s);
		free(s);
		fputs("</code></td><td class=\"muted\">not in the plan</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void write_nodes(FILE *f, const run_state *st)
{
	char t[32], d[32];
	fputs("<h2 id=\"nodes\">Steps, waits, gates and approvals</h2>\n<table><tr><th>Phase</th>"
	      "<th>Kind</th><th>Name</th><th>Status</th><th>Attempts</th><th>Started</th>"
	      "<th>Ended</th><th>Duration</th><th>Output / error</th></tr>\n",
	      f);
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		fputs("<tr id=\"node-", f);
		esc(f, n->name);
		fputs("\"><td>", f);
		esc(f, n->phase ? n->phase : "");
		fprintf(f, "</td><td>%s</td><td><b>", n->kind);
		esc(f, n->name);
		fputs("</b></td><td>", f);
		status_badge(f, state_node_status_name(n->status));
		fprintf(f, "</td><td>%d</td><td>%s</td>", n->attempts,
			fmt_ts(n->first_start_ms, t, sizeof(t)));
		fprintf(f, "<td>%s</td><td>%s</td><td>", fmt_ts(n->end_ms, t, sizeof(t)),
			n->duration_ms ? pgm_duration_format(n->duration_ms, d, sizeof(d)) : "-");
		size_t k;
		json_t *h;
		json_array_foreach(n->history, k, h)
		{
			fprintf(f, "<div class=\"warn\">attempt %lld ",
				json_integer_value(json_object_get(h, "attempt")));
			if (str(h, "crashed")) {
				esc(f, str(h, "crashed"));
			} else {
				fputs("failed: ", f);
				esc(f, str(json_object_get(h, "error"), "code"));
				fputs(": ", f);
				esc(f, str(json_object_get(h, "error"), "message"));
			}
			fputs("</div>", f);
		}
		if (n->error && n->status != NODE_SUCCEEDED && !json_array_size(n->history)) {
			fputs("<div class=\"warn\">", f);
			esc(f, str(n->error, "code"));
			fputs(": ", f);
			esc(f, str(n->error, "message"));
			fputs("</div>", f);
		}
		if (n->output && !json_is_null(n->output) && strcmp(n->kind, "gate") != 0) {
			fputs("<details><summary>output</summary><pre>", f);
			esc_json(f, n->output);
			fputs("</pre></details>", f);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void write_gates(FILE *f, const run_state *st, const timeline *tl)
{
	char t[32];
	fputs("<h2 id=\"gates\">Gates</h2>\n", f);
	int any = 0;
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		if (strcmp(n->kind, "gate") != 0)
			continue;
		any = 1;
		json_t *pn = plan_node(st, n->name);
		fputs("<h3 id=\"gate-", f);
		esc(f, n->name);
		fputs("\">gate ", f);
		esc(f, n->name);
		fputs(" ", f);
		status_badge(f, state_node_status_name(n->status));
		fputs(" <span class=\"muted\">on_fail ", f);
		esc(f, str(pn, "on_fail"));
		fputs("</span></h3>\n", f);
		json_t *evals = json_object_get(tl->evals, n->name);
		if (!json_array_size(evals)) {
			fputs("<p class=\"muted\">not evaluated</p>\n", f);
			continue;
		}
		size_t k;
		json_t *e;
		json_array_foreach(evals, k, e)
		{
			json_t *ok = json_object_get(e, "ok");
			fprintf(f, "<p>evaluation %zu of %zu at %s: ", k + 1,
				json_array_size(evals),
				fmt_ts(json_integer_value(json_object_get(e, "ts")), t, sizeof(t)));
			status_badge(f, json_is_true(ok)    ? "pass"
					: json_is_false(ok) ? "FAIL"
							    : "running");
			fputs("</p>\n<table><tr><th>Check</th><th>Result</th><th>Evidence</th></"
			      "tr>\n",
			      f);
			size_t c;
			json_t *ch;
			json_array_foreach(json_object_get(e, "checks"), c, ch)
			{
				fputs("<tr class=\"check\"><td>", f);
				esc(f, str(ch, "check"));
				fputs("</td><td>", f);
				status_badge(f, json_is_true(json_object_get(ch, "ok")) ? "pass"
											: "FAIL");
				fputs("</td><td>", f);
				json_t *det = json_object_get(ch, "detail");
				if (det && !json_is_null(det)) {
					fputs("<pre>", f);
					esc_json(f, det);
					fputs("</pre>", f);
				} else {
					fputs("<span class=\"muted\">none</span>", f);
				}
				fputs("</td></tr>\n", f);
			}
			fputs("</table>\n", f);
		}
	}
	if (!any)
		fputs("<p class=\"muted\">The runbook has no gate.</p>\n", f);
}

static void write_approvals(FILE *f, const run_state *st)
{
	fputs("<h2 id=\"approvals\">Approvals</h2>\n<table><tr><th>Approval</th><th>Prompt</th>"
	      "<th>Decision</th><th>By</th><th>At</th><th>Comment</th><th>Via</th></tr>\n",
	      f);
	static const char *const approval_keys[] = {"by", "at", "comment", "via", NULL};
	int any = 0;
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		if (strcmp(n->kind, "approve") != 0)
			continue;
		any = 1;
		fputs("<tr class=\"approval\"><td>", f);
		esc(f, n->name);
		fputs("</td><td>", f);
		esc(f, str(plan_node(st, n->name), "prompt"));
		fputs("</td><td>", f);
		status_badge(f, n->approval ? str(n->approval, "decision")
					    : state_node_status_name(n->status));
		fputs("</td>", f);
		esc_cells(f, n->approval, approval_keys);
		fputs("</tr>\n", f);
	}
	if (!any)
		fputs("<tr><td colspan=\"7\" class=\"muted\">The runbook asks for no "
		      "approval.</td></tr>\n",
		      f);
	fputs("</table>\n", f);
}

static void write_events(FILE *f, const run_state *st)
{
	static const char *const trip_keys[] = {"ts", "breaker", "node", "action", NULL};
	static const char *const decision_keys[] = {"ts", "node",    "decision",
						    "by", "comment", NULL};
	size_t k;
	json_t *v;
	fputs("<h2 id=\"breakers\">Breaker trips</h2>\n", f);
	if (!json_array_size(st->breakers))
		fputs("<p class=\"muted\">none</p>\n", f);
	else
		fputs("<table><tr><th>At</th><th>Breaker</th><th>During</th><th>Action</th>"
		      "<th>Evidence</th></tr>\n",
		      f);
	json_array_foreach(st->breakers, k, v)
	{
		fputs("<tr class=\"trip\">", f);
		esc_cells(f, v, trip_keys);
		fputs("<td><pre>", f);
		/* the evidence: what the columns do not show */
		json_t *ev = json_deep_copy(v);
		json_object_del(ev, "seq");
		for (const char *const *key = trip_keys; *key; key++)
			json_object_del(ev, *key);
		esc_json(f, ev);
		json_decref(ev);
		fputs("</pre></td></tr>\n", f);
	}
	if (json_array_size(st->breakers))
		fputs("</table>\n", f);

	fputs("<h2 id=\"deviations\">Deviations from the plan</h2>\n", f);
	if (!json_array_size(st->deviations))
		fputs("<p class=\"muted\">none</p>\n", f);
	json_array_foreach(st->deviations, k, v)
	{
		fputs("<div class=\"deviation\"><b>", f);
		esc(f, str(v, "ts"));
		fputs("</b> ", f);
		esc(f, str(v, "what"));
		fputs(", accepted by ", f);
		esc(f, str(v, "by"));
		fputs("<pre>", f);
		esc_json(f, v);
		fputs("</pre></div>\n", f);
	}

	fputs("<h2 id=\"decisions\">Operator decisions</h2>\n", f);
	if (!json_array_size(st->resolutions))
		fputs("<p class=\"muted\">none</p>\n", f);
	else
		fputs("<table><tr><th>At</th><th>Step</th><th>Decision</th><th>By</th><th>Comment</"
		      "th>"
		      "</tr>\n",
		      f);
	json_array_foreach(st->resolutions, k, v)
	{
		fputs("<tr class=\"decision\">", f);
		esc_cells(f, v, decision_keys);
		fputs("</tr>\n", f);
	}
	if (json_array_size(st->resolutions))
		fputs("</table>\n", f);

	if (json_array_size(st->interruptions)) {
		fputs("<h2 "
		      "id=\"interruptions\">Interruptions</h2>\n<table><tr><th>At</th><th>Signal</"
		      "th>"
		      "<th>During</th></tr>\n",
		      f);
		json_array_foreach(st->interruptions, k, v)
		{
			fputs("<tr><td>", f);
			esc(f, str(v, "ts"));
			fprintf(f, "</td><td>%lld</td><td>",
				json_integer_value(json_object_get(v, "signal")));
			esc(f, str(v, "node"));
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n", f);
	}
}

/* write_page - the whole page onto f. */
static void write_page(FILE *f, const run_state *st, const timeline *tl, const char *dir)
{
	char t[32], d[32], csp[160];
	script_hash(csp, sizeof(csp));
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n", f);
	fprintf(f,
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"style-src 'unsafe-inline'; img-src data:; script-src %s; base-uri 'none'; "
		"form-action 'none'\">\n",
		csp);
	fputs("<meta name=\"generator\" content=\"pgmove " VERSION "\">\n<title>pgmove run ", f);
	esc(f, st->run_id);
	fputs(" (", f);
	esc(f, st->runbook);
	fprintf(f, ")</title>\n<style>%s</style></head>\n<body>\n", page_style);
	fputs("<h1>Change record: runbook ", f);
	esc(f, st->runbook);
	fputs(", run ", f);
	esc(f, st->run_id);
	fputs("</h1>\n<pre id=\"js-errors\" hidden></pre>\n<dl class=\"kv\"><dt>Status</dt><dd>",
	      f);
	status_badge(f, state_run_status_name(st->status));
	if (st->reason) {
		fputs(" ", f);
		esc(f, st->reason);
	}
	fprintf(f, "</dd><dt>Started</dt><dd>%s</dd>", fmt_ts(st->started_ms, t, sizeof(t)));
	fprintf(f, "<dt>Last event</dt><dd>%s (%s after the start)</dd>",
		fmt_ts(st->last_event_ms, t, sizeof(t)),
		pgm_duration_format(
			st->last_event_ms > st->started_ms ? st->last_event_ms - st->started_ms : 0,
			d, sizeof(d)));
	fputs("<dt>Runbook file</dt><dd><code>", f);
	esc(f, st->file);
	fputs("</code></dd><dt>Runbook SHA-256</dt><dd><code id=\"runbook-sha256\">", f);
	esc(f, st->hash);
	fputs("</code></dd><dt>pgmove</dt><dd>", f);
	esc(f, st->version);
	fputs("</dd><dt>Journal</dt><dd><code>", f);
	esc(f, dir);
	fprintf(f, "/journal.jsonl</code> (%lld events%s, %d resume%s)</dd></dl>\n", st->events,
		st->torn ? ", torn last line ignored" : "", st->resumes,
		st->resumes == 1 ? "" : "s");
	if (json_array_size(st->plugins)) {
		fputs("<table><tr><th>Plugin</th><th>Version</th><th>SHA-256</th><th>Path</th></"
		      "tr>\n",
		      f);
		size_t k;
		json_t *p;
		json_array_foreach(st->plugins, k, p)
		{
			fputs("<tr><td>", f);
			esc(f, str(p, "name"));
			fputs("</td><td>", f);
			esc(f, str(p, "version"));
			fputs("</td><td><code>", f);
			esc(f, str(p, "sha256"));
			fputs("</code></td><td><code>", f);
			esc(f, str(p, "path"));
			fputs("</code></td></tr>\n", f);
		}
		fputs("</table>\n", f);
	}
	fputs("<h2 id=\"timeline\">Timeline</h2>\n", f);
	svg_timeline(f, st, tl);
	write_nodes(f, st);
	write_gates(f, st, tl);
	write_approvals(f, st);
	write_events(f, st);
	write_params(f, st);
	fprintf(f, "<p class=\"muted\">Written by pgmove %s from the run's journal.</p>\n",
		VERSION);
	fprintf(f, "<script>%s</script>\n</body></html>\n", page_script);
}

int cli_report_html(const char *dir, const char *out)
{
	char err[1024];
	run_state *st = state_load(dir, err, sizeof(err));
	if (!st) {
		pgm_error("%s", err);
		return PGMOVE_EXIT_INTERNAL;
	}
	timeline tl = {json_array(), json_object(), json_array(), json_object(), 0, 0};
	int rc = PGMOVE_EXIT_COMPLETED;
	if (journal_replay(dir, timeline_event, &tl, NULL, err, sizeof(err)) < 0) {
		pgm_error("%s", err);
		rc = PGMOVE_EXIT_INTERNAL;
		goto done;
	}
	/* what is still open at the last event */
	const char *k;
	json_t *v, *tmp;
	json_object_foreach_safe(tl.open, tmp, k, v)
	{
		json_t *s = json_array_get(tl.segs, (size_t)json_integer_value(v));
		json_object_set_new(s, "end", json_integer(tl.last_ts));
	}
	FILE *f = stdout;
	char tmpname[4096];
	if (out && strcmp(out, "-") != 0) {
		if ((size_t)snprintf(tmpname, sizeof(tmpname), "%s.tmp.%ld", out, (long)getpid()) >=
		    sizeof(tmpname)) {
			pgm_error("report --html -o %s: the path is too long", out);
			rc = PGMOVE_EXIT_USAGE;
			goto done;
		}
		f = fopen(tmpname, "we");
		if (!f) {
			pgm_error("report --html: cannot write %s: %s", out, strerror(errno));
			rc = PGMOVE_EXIT_INTERNAL;
			goto done;
		}
	}
	write_page(f, st, &tl, dir);
	if (f != stdout) {
		int bad = ferror(f);
		if (fclose(f) != 0 || bad) {
			pgm_error("report --html: cannot write %s: %s", out, strerror(errno));
			unlink(tmpname);
			rc = PGMOVE_EXIT_INTERNAL;
		} else if (rename(tmpname, out) != 0) {
			pgm_error("report --html: cannot write %s: %s", out, strerror(errno));
			unlink(tmpname);
			rc = PGMOVE_EXIT_INTERNAL;
		}
	} else if (fflush(stdout) != 0) {
		pgm_error("report --html: cannot write the report: %s", strerror(errno));
		rc = PGMOVE_EXIT_INTERNAL;
	}
done:
	json_decref(tl.segs);
	json_decref(tl.open);
	json_decref(tl.markers);
	json_decref(tl.evals);
	state_free(st);
	return rc;
}
