/*
 * core/cli/cli_status.c - the status and report commands: a run as its journal
 * tells it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "exitcodes.h"
#include "host.h"
#include "journal.h"
#include "state.h"

static const char *mark(const node_state *n)
{
	switch (n->status) {
	case NODE_SUCCEEDED:
	case NODE_APPROVED:
		return "ok";
	case NODE_FAILED:
	case NODE_DENIED:
	case NODE_UNDO_FAILED:
		return "FAIL";
	case NODE_RUNNING:
		return "..";
	case NODE_WAITING:
		return "??";
	case NODE_SKIPPED:
		return "skip";
	case NODE_UNDONE:
		return "undo";
	case NODE_INTERRUPTED:
		return "INT";
	case NODE_PENDING:
	default:
		return "-";
	}
}

static void detail_line(const char *prefix, const json_t *v)
{
	if (!v || json_is_null(v))
		return;
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	if (!s)
		return;
	if (strlen(s) > 160)
		memcpy(s + 157, "...", 4);
	printf("%s%s\n", prefix, s);
	free(s);
}

static void print_node(const run_state *st, const node_state *n)
{
	char t[32], d[32];
	const char *status = state_node_status_name(n->status);
	printf("  %-4s %-7s %-28s %-11s", mark(n), n->kind, n->name, status);
	if (n->first_start_ms)
		printf(" %s", state_format_ts(n->first_start_ms, t, sizeof(t)));
	if (strcmp(n->kind, "step") == 0) {
		if (n->attempts)
			printf("  %d attempt%s", n->attempts, n->attempts == 1 ? "" : "s");
		if (n->status == NODE_SUCCEEDED && n->duration_ms)
			printf("  %s", pgm_duration_format(n->duration_ms, d, sizeof(d)));
	} else if (strcmp(n->kind, "wait") == 0 && n->wait_start_ms) {
		printf("  %d polls", n->attempts);
		if (n->status == NODE_RUNNING && n->stable_since_ms)
			printf(", condition true since %s",
			       state_format_ts(n->stable_since_ms, d, sizeof(d)));
		else if (n->status == NODE_SUCCEEDED)
			printf("  %s", pgm_duration_format(n->duration_ms, d, sizeof(d)));
	} else if (strcmp(n->kind, "approve") == 0 && n->approval) {
		printf("  %s by %s at %s",
		       json_string_value(json_object_get(n->approval, "decision")),
		       json_string_value(json_object_get(n->approval, "by")),
		       json_string_value(json_object_get(n->approval, "at")));
		const char *via = json_string_value(json_object_get(n->approval, "via"));
		if (via)
			printf(" (%s)", via);
	}
	printf("\n");
	(void)st;
	size_t k;
	json_t *h;
	if (strcmp(n->kind, "step") == 0)
		json_array_foreach(n->history, k, h)
		{
			if (json_object_get(h, "crashed")) {
				const char *why = json_string_value(json_object_get(h, "crashed"));
				if (why && strcmp(why, "process died") != 0)
					printf("          attempt %lld: %s\n",
					       json_integer_value(json_object_get(h, "attempt")), why);
				else
					printf("          attempt %lld: pgmove stopped while it ran\n",
					       json_integer_value(json_object_get(h, "attempt")));
				continue;
			}
			json_t *e = json_object_get(h, "error");
			printf("          attempt %lld failed: %s: %s\n",
			       json_integer_value(json_object_get(h, "attempt")),
			       json_string_value(json_object_get(e, "code")),
			       json_string_value(json_object_get(e, "message")));
		}
	if (strcmp(n->kind, "gate") == 0 && n->checks) {
		json_array_foreach(n->checks, k, h)
		{
			printf("          %-4s check %s\n", json_is_true(json_object_get(h, "ok")) ? "ok" : "FAIL",
			       json_string_value(json_object_get(h, "check")));
			if (!json_is_true(json_object_get(h, "ok")))
				detail_line("               ", json_object_get(h, "detail"));
		}
	}
	if (n->error && (n->status == NODE_FAILED || n->status == NODE_UNDO_FAILED) &&
	    strcmp(n->kind, "step") != 0)
		printf("          error: %s\n",
		       json_string_value(json_object_get(n->error, "message")));
	if (strcmp(n->kind, "wait") == 0 && n->status == NODE_RUNNING)
		detail_line("          last value: ", n->output);
}

/* shown_status - the run's status as the operator should read it: a run
 * whose journal ends "running" (or "rolling-back") while no process holds
 * its lock was stopped without a word (kill -9, crash, power loss). */
static const char *shown_status(const run_state *st, const char *dir)
{
	if ((st->status == RUN_RUNNING || st->status == RUN_ROLLING_BACK) &&
	    journal_lock_holder(dir) == 0)
		return "interrupted (no process)";
	return state_run_status_name(st->status);
}

static void print_status(const run_state *st, const char *dir)
{
	char t[32], d[32];
	printf("run %s  runbook %s\n", st->run_id, st->runbook);
	printf("  status   %s%s%s\n", shown_status(st, dir), st->reason ? ": " : "",
	       st->reason ? st->reason : "");
	long holder = journal_lock_holder(dir);
	if (holder > 0)
		printf("  active   pgmove pid %ld is working on it\n", holder);
	else if (st->status == RUN_RUNNING || st->status == RUN_ROLLING_BACK)
		printf("  active   no process holds the run: it stopped without a word (crash or "
		       "kill); pgmove resume %s\n",
		       st->run_id);
	printf("  started  %s", state_format_ts(st->started_ms, t, sizeof(t)));
	long long age = engine_wall_ms() - st->last_event_ms;
	printf("   last event %s (%s ago)\n", state_format_ts(st->last_event_ms, d, sizeof(d)),
	       pgm_duration_format(age > 0 ? age - age % 1000 : 0, t, sizeof(t)));
	printf("  runbook  %s\n  sha256   %s\n  journal  %s/journal.jsonl (%lld events%s)\n",
	       st->file, st->hash, dir, st->events, st->torn ? ", torn last line ignored" : "");
	if (st->plugins)
		cli_print_plugins(st->plugins);
	if (json_object_size(st->params)) {
		printf("  params  ");
		const char *k;
		json_t *v;
		json_object_foreach(st->params, k, v)
		{
			char *s = json_dumps(v, JSON_ENCODE_ANY);
			printf(" %s=%s", k, s ? s : "?");
			free(s);
		}
		printf("\n");
	}
	const char *phase = NULL;
	int first = 1;
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		const char *ph = n->phase ? n->phase : "(no phase)";
		if (first || strcmp(ph, phase) != 0) {
			int done = 0, total = 0;
			long long start = 0;
			for (int j = i; j < st->nnodes; j++) {
				const char *pj = st->nodes[j].phase ? st->nodes[j].phase : "(no phase)";
				if (strcmp(pj, ph) != 0)
					break;
				total++;
				if (st->nodes[j].status == NODE_SUCCEEDED ||
				    st->nodes[j].status == NODE_SKIPPED ||
				    st->nodes[j].status == NODE_APPROVED)
					done++;
				if (st->nodes[j].first_start_ms &&
				    (!start || st->nodes[j].first_start_ms < start))
					start = st->nodes[j].first_start_ms;
			}
			printf("\nphase %s  (%d/%d done%s%s)\n", ph, done, total,
			       start ? ", started " : "", start ? state_format_ts(start, t, sizeof(t)) : "");
			phase = ph;
			first = 0;
		}
		print_node(st, n);
	}
	size_t k;
	json_t *v;
	if (json_array_size(st->breakers)) {
		printf("\nbreaker trips:\n");
		json_array_foreach(st->breakers, k, v)
		printf("  %s  %s during %s -> %s\n", json_string_value(json_object_get(v, "ts")),
		       json_string_value(json_object_get(v, "breaker")),
		       json_string_value(json_object_get(v, "node")),
		       json_string_value(json_object_get(v, "action")));
	}
	if (json_array_size(st->resolutions)) {
		printf("\noperator decisions:\n");
		json_array_foreach(st->resolutions, k, v)
		{
			const char *c = json_string_value(json_object_get(v, "comment"));
			printf("  %s  %s marked %s by %s%s%s%s\n",
			       json_string_value(json_object_get(v, "ts")),
			       json_string_value(json_object_get(v, "node")),
			       json_string_value(json_object_get(v, "decision")),
			       json_string_value(json_object_get(v, "by")), c ? " (\"" : "", c ? c : "",
			       c ? "\")" : "");
		}
	}
	if (json_array_size(st->deviations)) {
		printf("\ndeviations:\n");
		json_array_foreach(st->deviations, k, v)
		{
			if (json_object_get(v, "changes")) {
				size_t c;
				json_t *ch;
				printf("  %s  %s, accepted by %s:\n",
				       json_string_value(json_object_get(v, "ts")),
				       json_string_value(json_object_get(v, "what")),
				       json_string_value(json_object_get(v, "by")));
				json_array_foreach(json_object_get(v, "changes"), c, ch)
				printf("      %s %s (sha256 %.12s) -> %s (sha256 %.12s)\n",
				       json_string_value(json_object_get(ch, "name")),
				       json_string_value(json_object_get(ch, "old_version"))
					       ? json_string_value(json_object_get(ch, "old_version"))
					       : "(not loaded)",
				       json_string_value(json_object_get(ch, "old_sha256"))
					       ? json_string_value(json_object_get(ch, "old_sha256"))
					       : "-",
				       json_string_value(json_object_get(ch, "new_version")),
				       json_string_value(json_object_get(ch, "new_sha256")));
				continue;
			}
			printf("  %s  %s (sha256 %.12s -> %.12s), accepted by %s\n",
			       json_string_value(json_object_get(v, "ts")),
			       json_string_value(json_object_get(v, "what")),
			       json_string_value(json_object_get(v, "old_hash")),
			       json_string_value(json_object_get(v, "new_hash")),
			       json_string_value(json_object_get(v, "by")));
		}
	}
	if (json_array_size(st->interruptions)) {
		printf("\ninterruptions:\n");
		json_array_foreach(st->interruptions, k, v)
		printf("  %s  signal %lld at %s\n", json_string_value(json_object_get(v, "ts")),
		       json_integer_value(json_object_get(v, "signal")),
		       json_string_value(json_object_get(v, "node")) ? json_string_value(json_object_get(v, "node")) : "-");
	}
	if (st->status == RUN_PAUSED && st->reason_node) {
		const node_state *n = NULL;
		for (int i = 0; i < st->nnodes; i++)
			if (strcmp(st->nodes[i].name, st->reason_node) == 0)
				n = &st->nodes[i];
		if (n && n->status == NODE_WAITING)
			printf("\nnext: pgmove approve %s %s --by NAME && pgmove resume %s\n",
			       st->run_id, n->name, st->run_id);
		else
			printf("\nnext: pgmove resume %s\n", st->run_id);
	}
}

/* list_runs - every run under the state directory, one line each. */
static int list_runs(cli_args *a)
{
	DIR *d = opendir(a->state_dir);
	if (!d && errno == EACCES) {
		pgm_error("state directory %s: permission denied", a->state_dir);
		return PGMOVE_EXIT_INTERNAL;
	}
	json_t *all = json_array();
	if (d) {
		struct dirent *rb;
		while ((rb = readdir(d))) {
			if (rb->d_name[0] == '.')
				continue;
			char rbdir[PATH_MAX];
			snprintf(rbdir, sizeof(rbdir), "%s/%s", a->state_dir, rb->d_name);
			DIR *d2 = opendir(rbdir);
			struct dirent *r;
			while (d2 && (r = readdir(d2))) {
				if (r->d_name[0] == '.')
					continue;
				char dir[PATH_MAX + 256], err[1024];
				snprintf(dir, sizeof(dir), "%s/%s", rbdir, r->d_name);
				run_state *st = state_load(dir, err, sizeof(err));
				if (!st) {
					/* not a run (an older pgmove killed while creating
					 * it, or a damaged journal): listed with the reason */
					json_array_append_new(
						all, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "run",
							       r->d_name, "runbook", rb->d_name, "status",
							       "incomplete", "reason", err, "started",
							       (json_int_t)0, "dir", dir));
					continue;
				}
				json_array_append_new(
					all, json_pack("{s:s, s:s, s:s, s:s?, s:I, s:s}", "run",
						       st->run_id, "runbook", st->runbook, "status",
						       shown_status(st, dir), "reason",
						       st->reason, "started", st->started_ms, "dir", dir));
				state_free(st);
			}
			if (d2)
				closedir(d2);
		}
		closedir(d);
	}
	if (cli_opt_flag(a, "json")) {
		cli_json_out(all);
	} else {
		size_t k;
		json_t *v;
		char t[32];
		json_array_foreach(all, k, v)
		{
			const char *why = json_string_value(json_object_get(v, "reason"));
			int incomplete = strcmp(json_string_value(json_object_get(v, "status")),
						"incomplete") == 0;
			printf("%-22s %-24s %-12s %s\n", json_string_value(json_object_get(v, "run")),
			       json_string_value(json_object_get(v, "runbook")),
			       json_string_value(json_object_get(v, "status")),
			       incomplete ? (why ? why : "")
					  : state_format_ts(json_integer_value(
								    json_object_get(v, "started")),
							    t, sizeof(t)));
		}
		if (!json_array_size(all))
			printf("no runs under %s\n", a->state_dir);
	}
	json_decref(all);
	return PGMOVE_EXIT_COMPLETED;
}

int pgmove_cmd_status(cli_args *a)
{
	if (cli_opt_flag(a, "all"))
		return list_runs(a);
	char dir[PATH_MAX], err[1024];
	int found = cli_find_run(a, cli_pos(a, 0), dir, sizeof(dir));
	if (found != 0)
		return found < 0 ? PGMOVE_EXIT_USAGE : found;
	long long end = 0;
	long long before = pgm_now_ms();
	run_state *st = state_load_at(dir, &end, err, sizeof(err));
	if (!st) {
		pgm_error("%s", err);
		return PGMOVE_EXIT_INTERNAL;
	}
	/* a slow replay refreshes the snapshot, unless a process holds the run
	 * (it keeps the snapshot itself); a read-only run directory is fine */
	if (pgm_now_ms() - before > 50 && journal_lock_holder(dir) == 0)
		state_snapshot_save(st, dir, end);
	if (cli_opt_flag(a, "json")) {
		json_t *j = state_to_json(st);
		json_object_set_new(j, "dir", json_string(dir));
		json_object_set_new(j, "active_pid", json_integer(journal_lock_holder(dir)));
		json_object_set_new(j, "status", json_string(shown_status(st, dir)));
		cli_json_out(j);
		json_decref(j);
	} else {
		print_status(st, dir);
	}
	state_free(st);
	return PGMOVE_EXIT_COMPLETED;
}

/* md_cell - text safe in a Markdown table cell. */
static void md_cell(const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", stdout);
		else if (*s == '\n')
			fputc(' ', stdout);
		else
			fputc(*s, stdout);
	}
}

int pgmove_cmd_report(cli_args *a)
{
	char dir[PATH_MAX], err[1024], t[32], d[32];
	int html = cli_opt_flag(a, "html");
	if (cli_opt_str(a, "output") && !html) {
		pgm_error("report: -o/--output goes with --html");
		return PGMOVE_EXIT_USAGE;
	}
	if (html && cli_opt_flag(a, "json")) {
		pgm_error("report: --html and --json exclude each other");
		return PGMOVE_EXIT_USAGE;
	}
	int found = cli_find_run(a, cli_pos(a, 0), dir, sizeof(dir));
	if (found != 0)
		return found < 0 ? PGMOVE_EXIT_USAGE : found;
	if (html)
		return cli_report_html(dir, cli_opt_str(a, "output"));
	run_state *st = state_load(dir, err, sizeof(err));
	if (!st) {
		pgm_error("%s", err);
		return PGMOVE_EXIT_INTERNAL;
	}
	if (cli_opt_flag(a, "json")) {
		json_t *j = state_to_json(st);
		cli_json_out(j);
		json_decref(j);
		state_free(st);
		return PGMOVE_EXIT_COMPLETED;
	}
	printf("# Execution log: %s, run %s\n\n", st->runbook, st->run_id);
	printf("- Status: **%s**%s", state_run_status_name(st->status), st->reason ? " — " : "");
	md_cell(st->reason);
	printf("\n- Started: %s\n- Runbook: `%s` (sha256 `%.16s`)\n- pgmove: %s\n",
	       state_format_ts(st->started_ms, t, sizeof(t)), st->file, st->hash, st->version);
	size_t pi;
	json_t *pl;
	json_array_foreach(st->plugins, pi, pl)
	printf("- Plugin: %s %s (sha256 `%.16s`, `%s`)\n",
	       json_string_value(json_object_get(pl, "name")),
	       json_string_value(json_object_get(pl, "version")),
	       json_string_value(json_object_get(pl, "sha256")),
	       json_string_value(json_object_get(pl, "path")));
	printf("\n");
	printf("## Phase completion\n\n| Phase | Started | Gate attempted | Gate result | Notes |\n"
	       "|---|---|---|---|---|\n");
	for (int i = 0; i < st->nnodes;) {
		const char *ph = st->nodes[i].phase ? st->nodes[i].phase : "(no phase)";
		long long start = 0, gate_at = 0;
		char result[256] = "", notes[512] = "";
		int j;
		for (j = i; j < st->nnodes; j++) {
			const node_state *n = &st->nodes[j];
			if (strcmp(n->phase ? n->phase : "(no phase)", ph) != 0)
				break;
			if (n->first_start_ms && (!start || n->first_start_ms < start))
				start = n->first_start_ms;
			if (strcmp(n->kind, "gate") == 0 && n->last_start_ms) {
				gate_at = n->last_start_ms;
				size_t used = strlen(result);
				snprintf(result + used, sizeof(result) - used, "%s%s: %s",
					 used ? "; " : "", n->name,
					 n->status == NODE_SUCCEEDED ? "PASS" : "FAIL");
			}
			if (n->status == NODE_FAILED || n->status == NODE_DENIED) {
				size_t used = strlen(notes);
				snprintf(notes + used, sizeof(notes) - used, "%s%s %s", used ? "; " : "",
					 n->name, state_node_status_name(n->status));
			}
		}
		printf("| ");
		md_cell(ph);
		printf(" | %s | %s | ", state_format_ts(start, t, sizeof(t)),
		       state_format_ts(gate_at, d, sizeof(d)));
		md_cell(*result ? result : "-");
		printf(" | ");
		md_cell(notes);
		printf(" |\n");
		i = j;
	}
	printf("\n## Steps, waits, gates and approvals\n\n| Phase | Kind | Name | Status | Attempts | "
	       "Started | Duration |\n|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		printf("| ");
		md_cell(n->phase ? n->phase : "");
		printf(" | %s | ", n->kind);
		md_cell(n->name);
		printf(" | %s | %d | %s | %s |\n", state_node_status_name(n->status), n->attempts,
		       state_format_ts(n->first_start_ms, t, sizeof(t)),
		       n->duration_ms ? pgm_duration_format(n->duration_ms, d, sizeof(d)) : "-");
	}
	printf("\n## Gate checks\n\n");
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		if (strcmp(n->kind, "gate") != 0 || !n->checks)
			continue;
		printf("### %s (%s)\n\n| Check | Result |\n|---|---|\n", n->name,
		       state_node_status_name(n->status));
		size_t k;
		json_t *c;
		json_array_foreach(n->checks, k, c)
		{
			printf("| ");
			md_cell(json_string_value(json_object_get(c, "check")));
			printf(" | %s |\n", json_is_true(json_object_get(c, "ok")) ? "pass" : "FAIL");
		}
		printf("\n");
	}
	printf("## Approvals\n\n| Approval | Decision | By | At | Comment |\n|---|---|---|---|---|\n");
	for (int i = 0; i < st->nnodes; i++) {
		const node_state *n = &st->nodes[i];
		if (!n->approval)
			continue;
		printf("| %s | %s | ", n->name,
		       json_string_value(json_object_get(n->approval, "decision")));
		md_cell(json_string_value(json_object_get(n->approval, "by")));
		printf(" | %s | ", json_string_value(json_object_get(n->approval, "at")));
		md_cell(json_string_value(json_object_get(n->approval, "comment")));
		printf(" |\n");
	}
	printf("\n## Deviations from plan\n\n| Date | Deviation | By |\n|---|---|---|\n");
	size_t k;
	json_t *v;
	json_array_foreach(st->deviations, k, v)
	{
		printf("| %s | ", json_string_value(json_object_get(v, "ts")));
		md_cell(json_string_value(json_object_get(v, "what")));
		printf(" | ");
		md_cell(json_string_value(json_object_get(v, "by")));
		printf(" |\n");
	}
	json_array_foreach(st->resolutions, k, v)
	{
		printf("| %s | operator marked %s %s | ", json_string_value(json_object_get(v, "ts")),
		       json_string_value(json_object_get(v, "node")),
		       json_string_value(json_object_get(v, "decision")));
		md_cell(json_string_value(json_object_get(v, "by")));
		printf(" |\n");
	}
	state_free(st);
	return PGMOVE_EXIT_COMPLETED;
}
