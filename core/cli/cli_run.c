/*
 * core/cli/cli_run.c - the run, plan, resume and rollback commands.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "exitcodes.h"
#include "host.h"
#include "loader.h"
#include "params.h"
#include "runbook.h"

static int engine_opts_from(cli_args *a, engine_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->state_dir = a->state_dir;
	o->user = a->user;
	o->run_id = cli_opt_str(a, "run-id");
	if (o->run_id && !cli_valid_run_id(o->run_id)) {
		pgm_error("--run-id '%s': a run id is letters, digits, '.', '_' and '-', starting "
			  "with a letter or digit, at most 100",
			  o->run_id);
		return -1;
	}
	o->runbook = cli_opt_str(a, "runbook");
	o->accept_changed = cli_opt_flag(a, "accept-changed-runbook");
	o->accept_changed_plugins = cli_opt_flag(a, "accept-changed-plugins");
	o->approvals = cli_opt_list(a, "approve");
	o->cli_params = cli_params(a);
	return o->cli_params ? 0 : -1;
}

int pgmove_cmd_run(cli_args *a)
{
	engine_opts o;
	if (engine_opts_from(a, &o) != 0)
		return PGMOVE_EXIT_USAGE;
	int rc = engine_run(cli_pos(a, 0), &o);
	json_decref(o.cli_params);
	return rc;
}

/* on_run - resume and rollback: find the run, then fn on its directory. */
static int on_run(cli_args *a, int (*fn)(const char *dir, const engine_opts *o))
{
	engine_opts o;
	char dir[4096];
	if (engine_opts_from(a, &o) != 0)
		return PGMOVE_EXIT_USAGE;
	int rc = cli_find_run(a, cli_pos(a, 0), dir, sizeof(dir));
	if (rc == 0)
		rc = fn(dir, &o);
	else if (rc < 0)
		rc = PGMOVE_EXIT_USAGE;
	json_decref(o.cli_params);
	return rc;
}

int pgmove_cmd_resume(cli_args *a)
{
	return on_run(a, engine_resume);
}

int pgmove_cmd_rollback(cli_args *a)
{
	return on_run(a, engine_rollback);
}

static const char *ms_text(json_t *v, char *buf, size_t len)
{
	if (!json_is_integer(v))
		return NULL;
	return pgm_duration_format(json_integer_value(v), buf, len);
}

/* print_plan - the plan as text. */
static void print_plan(const runbook *rb)
{
	json_t *plan = rb->plan;
	char b1[32], b2[32], b3[32];
	const char *summary = json_string_value(json_object_get(plan, "summary"));
	printf("runbook %s%s%s\n  file   %s\n  sha256 %s\n  on_failure %s\n", rb->name,
	       summary ? ": " : "", summary ? summary : "", rb->path, rb->hash,
	       json_string_value(json_object_get(plan, "on_failure")));
	cli_print_plugins(NULL);
	const char *pname;
	json_t *spec;
	if (json_object_size(rb->params)) {
		printf("\nparams:\n");
		json_object_foreach(rb->params, pname, spec)
		{
			json_t *dflt = json_object_get(spec, "default");
			char *d = dflt ? json_dumps(dflt, JSON_ENCODE_ANY) : NULL;
			const char *env = json_string_value(json_object_get(spec, "env"));
			printf("  %-16s %-9s%s%s%s%s%s%s%s\n", pname,
			       json_string_value(json_object_get(spec, "type"))
				       ? json_string_value(json_object_get(spec, "type"))
				       : "string",
			       json_is_true(json_object_get(spec, "required")) ? " required" : "",
			       json_is_true(json_object_get(spec, "secret")) ? " secret" : "",
			       env ? " env " : "", env ? env : "", d ? " default " : "", d ? d : "",
			       "");
			free(d);
		}
	}
	const char *phase = "";
	size_t i;
	json_t *n;
	int count = 0;
	json_array_foreach(json_object_get(plan, "nodes"), i, n)
	{
		const char *ph = json_string_value(json_object_get(n, "phase"));
		if (!ph)
			ph = "";
		if (i == 0 || strcmp(ph, phase) != 0) {
			printf("\nphase %s\n", *ph ? ph : "(none)");
			phase = ph;
		}
		const char *kind = json_string_value(json_object_get(n, "kind"));
		const char *name = json_string_value(json_object_get(n, "name"));
		printf("  %-7s %-28s", kind, name);
		if (strcmp(kind, "step") == 0) {
			json_t *r = json_object_get(n, "retry");
			json_t *idem = json_object_get(n, "idempotent");
			long long att = json_integer_value(json_object_get(r, "attempts"));
			if (att > 1)
				printf(" retry %lldx every %s", att,
				       pgm_duration_format(json_integer_value(json_object_get(r, "delay_ms")),
							   b1, sizeof(b1)));
			if (ms_text(json_object_get(n, "timeout_ms"), b2, sizeof(b2)))
				printf(" timeout %s", b2);
			if (json_is_true(json_object_get(n, "undo")))
				printf(" undo");
			if (json_is_boolean(idem))
				printf(" %sidempotent", json_is_true(idem) ? "" : "not-");
			if (json_is_true(json_object_get(n, "irreversible")))
				printf(" IRREVERSIBLE (recovery: %s)",
				       json_string_value(json_object_get(n, "recovery")));
			if (json_is_true(json_object_get(n, "when")))
				printf(" conditional");
		} else if (strcmp(kind, "wait") == 0) {
			printf(" every %s", ms_text(json_object_get(n, "every_ms"), b1, sizeof(b1)));
			if (ms_text(json_object_get(n, "timeout_ms"), b2, sizeof(b2)))
				printf(" timeout %s", b2);
			if (json_integer_value(json_object_get(n, "stable_for_ms")) > 0)
				printf(" stable for %s",
				       ms_text(json_object_get(n, "stable_for_ms"), b3, sizeof(b3)));
			printf(" on_timeout %s", json_string_value(json_object_get(n, "on_timeout")));
		} else if (strcmp(kind, "gate") == 0) {
			printf(" on_fail %s", json_string_value(json_object_get(n, "on_fail")));
			if (ms_text(json_object_get(n, "timeout_ms"), b2, sizeof(b2)))
				printf(" timeout %s", b2);
		} else if (strcmp(kind, "approve") == 0) {
			printf(" \"%s\"", json_string_value(json_object_get(n, "prompt")));
		}
		printf("\n");
		if (strcmp(kind, "gate") == 0) {
			size_t k;
			json_t *c;
			json_array_foreach(json_object_get(n, "checks"), k, c)
			printf("            check: %s\n", json_string_value(c));
		}
		count++;
	}
	json_t *bs = json_object_get(plan, "breakers");
	if (json_array_size(bs)) {
		printf("\nbreakers (watched during waits):\n");
		json_array_foreach(bs, i, n)
		{
			printf("  %-28s sustained %s -> %s\n",
			       json_string_value(json_object_get(n, "name")),
			       pgm_duration_format(json_integer_value(json_object_get(n, "sustained_ms")),
						   b1, sizeof(b1)),
			       json_string_value(json_object_get(n, "action")));
		}
	}
	printf("\n%d nodes; plan OK\n", count);
}

int pgmove_cmd_plan(cli_args *a)
{
	char err[4096];
	json_t *cli = cli_params(a);
	if (!cli)
		return PGMOVE_EXIT_USAGE;
	runbook *rb = runbook_load_with(cli_pos(a, 0), cli, NULL, err, sizeof(err));
	if (!rb) {
		pgm_error("%s", err);
		json_decref(cli);
		return PGMOVE_EXIT_RUNBOOK;
	}
	int rc = PGMOVE_EXIT_COMPLETED;
	if (json_object_size(cli)) {
		json_t *vals = params_resolve(rb->params, cli, NULL, err, sizeof(err));
		if (!vals) {
			pgm_error("runbook %s: %s", rb->name, err);
			rc = PGMOVE_EXIT_USAGE;
		}
		json_decref(vals);
	}
	json_decref(cli);
	if (rc == PGMOVE_EXIT_COMPLETED) {
		if (cli_opt_flag(a, "json")) {
			json_t *out = json_deep_copy(rb->plan);
			json_object_set_new(out, "file", json_string(rb->path));
			json_object_set_new(out, "hash", json_string(rb->hash));
			json_object_set_new(out, "plugins", loader_identities());
			cli_json_out(out);
			json_decref(out);
		} else {
			print_plan(rb);
		}
	}
	runbook_free(rb);
	return rc;
}
