/*
 * core/cli/cli_ops.c - operator decisions: approve and resolve. Both take the
 * run's lock, check the decision against the replayed state, and journal
 * it; pgmove resume then acts on it.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exitcodes.h"
#include "host.h"
#include "journal.h"
#include "state.h"

/* open_run - locks the run named by the first positional argument and
 * replays it. 0 or an exit code. */
static int open_run(cli_args *a, journal **j, run_state **st)
{
	char dir[PATH_MAX], err[1024];
	int found = cli_find_run(a, cli_pos(a, 0), dir, sizeof(dir));
	if (found != 0)
		return found < 0 ? PGMOVE_EXIT_USAGE : found;
	int busy = 0;
	*j = journal_open_run(dir, NULL, &busy, err, sizeof(err));
	if (!*j) {
		pgm_error("%s", err);
		return busy ? PGMOVE_EXIT_BUSY : PGMOVE_EXIT_INTERNAL;
	}
	*st = state_load(dir, err, sizeof(err));
	if (!*st) {
		pgm_error("%s", err);
		journal_close(*j);
		return PGMOVE_EXIT_INTERNAL;
	}
	return 0;
}

/* append - journals ev (stolen). 0 or -1. */
static int append(journal *j, json_t *ev)
{
	int rc = journal_append(j, ev);
	json_decref(ev);
	return rc;
}

static json_t *plan_node_named(run_state *st, const char *name)
{
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(st->plan, "nodes"), i, n)
	if (strcmp(json_string_value(json_object_get(n, "name")), name) == 0)
		return n;
	return NULL;
}

int pgmove_cmd_approve(cli_args *a)
{
	journal *j;
	run_state *st;
	int rc = open_run(a, &j, &st);
	if (rc)
		return rc;
	const char *name = cli_pos(a, 1);
	int deny = cli_opt_flag(a, "deny");
	node_state *n = state_node(st, name);
	json_t *pn = plan_node_named(st, name);
	rc = PGMOVE_EXIT_USAGE;
	if (!n || !pn || strcmp(n->kind, "approve") != 0) {
		pgm_error("run %s has no approval named '%s'", st->run_id, name);
		goto out;
	}
	json_t *approvers = json_object_get(pn, "approvers");
	if (json_is_array(approvers)) {
		int ok = 0;
		size_t k;
		json_t *v;
		json_array_foreach(approvers, k, v)
		if (strcmp(json_string_value(v), a->user) == 0)
			ok = 1;
		if (!ok) {
			char *list = json_dumps(approvers, JSON_COMPACT);
			pgm_error("approval %s: %s is not among its approvers %s", name, a->user, list);
			free(list);
			goto out;
		}
	}
	if (st->status == RUN_COMPLETED) {
		pgm_error("run %s is completed; approving %s changes nothing", st->run_id, name);
		goto out;
	}
	if (append(j, json_pack("{s:s, s:s, s:s, s:s?, s:s}", "ev",
					deny ? "approve.denied" : "approve.given", "node", name, "by",
					a->user, "comment", cli_opt_str(a, "comment"), "via",
					"pgmove approve")) != 0) {
		rc = PGMOVE_EXIT_INTERNAL;
		goto out;
	}
	pgm_notice("approval %s %s by %s for run %s; continue with: pgmove resume %s", name,
		   deny ? "DENIED" : "given", a->user, st->run_id, st->run_id);
	rc = PGMOVE_EXIT_COMPLETED;
out:
	state_free(st);
	journal_close(j);
	return rc;
}

int pgmove_cmd_resolve(cli_args *a)
{
	journal *j;
	run_state *st;
	const char *decision = NULL;
	int count = 0;
	static const char *const choices[] = { "succeeded", "failed", "retry" };
	for (int i = 0; i < 3; i++)
		if (cli_opt_flag(a, choices[i])) {
			decision = choices[i];
			count++;
		}
	if (count != 1) {
		pgm_error("resolve needs exactly one of --succeeded, --failed, --retry");
		return PGMOVE_EXIT_USAGE;
	}
	int rc = open_run(a, &j, &st);
	if (rc)
		return rc;
	const char *name = cli_pos(a, 1);
	node_state *n = state_node(st, name);
	rc = PGMOVE_EXIT_USAGE;
	if (!n || strcmp(n->kind, "step") != 0) {
		pgm_error("run %s has no step named '%s'", st->run_id, name);
		goto out;
	}
	if (n->status != NODE_RUNNING && n->status != NODE_INTERRUPTED &&
	    n->status != NODE_FAILED) {
		pgm_error("step %s is %s: only a step that failed, or that was running when pgmove "
			  "stopped, can be resolved",
			  name, state_node_status_name(n->status));
		goto out;
	}
	if (append(j, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "ev", "step.resolved", "node",
					name, "decision", decision, "by", a->user, "comment",
					cli_opt_str(a, "comment"))) != 0) {
		rc = PGMOVE_EXIT_INTERNAL;
		goto out;
	}
	pgm_notice("step %s of run %s resolved as %s by %s; continue with: pgmove resume %s", name,
		   st->run_id, decision, a->user, st->run_id);
	rc = PGMOVE_EXIT_COMPLETED;
out:
	state_free(st);
	journal_close(j);
	return rc;
}
