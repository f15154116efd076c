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

/* enrich_calls - adds each call's plugin function flags ("idempotent",
 * "read-only", "irreversible") and summary to calls (borrowed), and counts
 * them into counts {irreversible, writes, read_only}. */
static void enrich_calls(json_t *calls, json_t *counts)
{
	size_t i;
	json_t *c;
	json_array_foreach(calls, i, c)
	{
		char err[4096];
		const char *pname = json_string_value(json_object_get(c, "plugin"));
		const char *fname = json_string_value(json_object_get(c, "function"));
		const pgm_plugin *p = pname ? loader_get(pname, err, sizeof(err)) : NULL;
		const pgm_function *f = p && fname ? loader_function(p, fname) : NULL;
		if (!f) {
			json_object_set_new(c, "flags", json_null());
			continue;
		}
		json_t *d = loader_describe_function(f);
		json_object_set(c, "flags", json_object_get(d, "flags"));
		json_object_set(c, "summary", json_object_get(d, "summary"));
		json_decref(d);
		const char *key = (f->flags & PGM_FN_IRREVERSIBLE) ? "irreversible"
				  : (f->flags & PGM_FN_READ_ONLY)  ? "read_only"
								   : "writes";
		json_object_set_new(
			counts, key,
			json_integer(json_integer_value(json_object_get(counts, key)) + 1));
	}
}

/* plan_json - the plan of rb as `plan --json` prints it: the journaled plan
 * with the runbook's file and hash, the plugins loaded (name, version, path,
 * sha256), params in the order they are declared (param_order), and for
 * every node, breaker and on_failure the plugin calls it may make with
 * their flags (calls, unresolved). New reference, or NULL after logging. */
static json_t *plan_json(runbook *rb)
{
	char err[4096];
	json_t *eff = runbook_effects(rb, err, sizeof(err));
	if (!eff) {
		pgm_error("%s", err);
		return NULL;
	}
	json_t *out = json_deep_copy(rb->plan);
	json_t *counts =
		json_pack("{s:i, s:i, s:i}", "irreversible", 0, "writes", 0, "read_only", 0);
	json_object_set_new(out, "file", json_string(rb->path));
	json_object_set_new(out, "hash", json_string(rb->hash));
	json_object_set_new(out, "plugins", loader_identities());
	json_object_set_new(out, "loc", json_incref(json_object_get(eff, "runbook_loc")));
	/* params in the order they are declared */
	json_t *order = json_object_get(eff, "param_order"), *params = json_object();
	size_t i;
	json_t *v;
	json_array_foreach(order, i, v)
	{
		json_t *spec = json_object_get(rb->params, json_string_value(v));
		if (spec)
			json_object_set(params, json_string_value(v), spec);
	}
	json_object_set_new(out, "params", params);
	json_object_set(out, "param_order", order);
	json_object_set(out, "param_order_declared", json_object_get(eff, "param_order_declared"));
	json_t *nodes = json_object_get(out, "nodes");
	json_array_foreach(json_object_get(eff, "nodes"), i, v)
	{
		json_t *n = json_array_get(nodes, i);
		if (!n)
			break;
		enrich_calls(json_object_get(v, "calls"), counts);
		json_object_set(n, "calls", json_object_get(v, "calls"));
		json_object_set(n, "unresolved", json_object_get(v, "unresolved"));
		if (json_object_get(v, "check_locs"))
			json_object_set(n, "check_locs", json_object_get(v, "check_locs"));
	}
	json_t *breakers = json_object_get(out, "breakers");
	json_array_foreach(json_object_get(eff, "breakers"), i, v)
	{
		json_t *b = json_array_get(breakers, i);
		if (!b)
			break;
		enrich_calls(json_object_get(v, "calls"), counts);
		json_object_set(b, "calls", json_object_get(v, "calls"));
		json_object_set(b, "unresolved", json_object_get(v, "unresolved"));
	}
	enrich_calls(json_object_get(eff, "on_failure"), counts);
	json_object_set(out, "on_failure_calls", json_object_get(eff, "on_failure"));
	json_object_set(out, "on_failure_unresolved",
			json_object_get(eff, "on_failure_unresolved"));
	json_object_set_new(out, "side_effects", counts);
	json_decref(eff);
	return out;
}

/* has_flag - whether a call's flags (a JSON array) hold flag. */
static int has_flag(const json_t *call, const char *flag)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(call, "flags"), i, f)
	{
		if (strcmp(json_string_value(f), flag) == 0)
			return 1;
	}
	return 0;
}

/* print_calls - the calls a node may make, one line each: where (run, undo,
 * condition...), plugin.function, what it does to the world, file:line,
 * and the helper it goes through. Irreversible calls are flagged loudly.
 * With check, only the calls of that gate check (under its line). */
static void print_calls(const json_t *calls, const json_t *unresolved, const char *check)
{
	size_t i;
	json_t *c;
	json_array_foreach(calls, i, c)
	{
		char fn[256];
		const char *effect, *cc = json_string_value(json_object_get(c, "check"));
		if (check ? !cc || strcmp(cc, check) != 0 : cc != NULL)
			continue;
		if (json_is_null(json_object_get(c, "flags")))
			effect = "?";
		else if (has_flag(c, "irreversible"))
			effect = "IRREVERSIBLE";
		else if (has_flag(c, "read-only"))
			effect = "read-only";
		else if (has_flag(c, "idempotent"))
			effect = "writes, idempotent";
		else
			effect = "writes, NOT idempotent";
		snprintf(fn, sizeof(fn), "%s.%s", json_string_value(json_object_get(c, "plugin")),
			 json_string_value(json_object_get(c, "function")));
		printf("          %s %-10s %-30s %-24s %s",
		       has_flag(c, "irreversible") ? "!!" : "  ",
		       check ? "" : json_string_value(json_object_get(c, "in")), fn, effect,
		       json_string_value(json_object_get(c, "loc")));
		const char *via = json_string_value(json_object_get(c, "via"));
		if (via)
			printf(" (via %s, %s)", via,
			       json_string_value(json_object_get(c, "via_loc")));
		printf("\n");
	}
	json_array_foreach(unresolved, i, c)
	{
		printf("          ?? calls inside %s (%s) are not shown: it is not in the runbook "
		       "file\n",
		       json_string_value(json_object_get(c, "name")),
		       json_string_value(json_object_get(c, "loc")));
	}
}

/* print_plan - the plan (plan_json's) as text. */
static void print_plan(const runbook *rb, const json_t *plan)
{
	char b1[32], b2[32], b3[32];
	const char *summary = json_string_value(json_object_get(plan, "summary"));
	printf("runbook %s%s%s\n  file   %s\n  sha256 %s\n  on_failure %s\n", rb->name,
	       summary ? ": " : "", summary ? summary : "", rb->path, rb->hash,
	       json_string_value(json_object_get(plan, "on_failure")));
	cli_print_plugins(json_object_get(plan, "plugins"));
	const char *pname;
	json_t *spec;
	if (json_object_size(json_object_get(plan, "params"))) {
		printf("\nparams%s:\n", json_is_true(json_object_get(plan, "param_order_declared"))
						? ""
						: " (not written inline in runbook {...}: sorted "
						  "by name)");
		json_object_foreach(json_object_get(plan, "params"), pname, spec)
		{
			json_t *dflt = json_object_get(spec, "default");
			int secret = json_is_true(json_object_get(spec, "secret"));
			char *d = dflt ? (secret ? strdup("********")
						 : json_dumps(dflt, JSON_ENCODE_ANY))
				       : NULL;
			const char *env = json_string_value(json_object_get(spec, "env"));
			printf("  %-16s %-9s%s%s%s%s%s%s%s\n", pname,
			       json_string_value(json_object_get(spec, "type"))
				       ? json_string_value(json_object_get(spec, "type"))
				       : "string",
			       json_is_true(json_object_get(spec, "required")) ? " required" : "",
			       secret ? " secret" : "", env ? " env " : "", env ? env : "",
			       d ? " default " : "", d ? d : "", "");
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
				       pgm_duration_format(
					       json_integer_value(json_object_get(r, "delay_ms")),
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
			printf(" every %s",
			       ms_text(json_object_get(n, "every_ms"), b1, sizeof(b1)));
			if (ms_text(json_object_get(n, "timeout_ms"), b2, sizeof(b2)))
				printf(" timeout %s", b2);
			if (json_integer_value(json_object_get(n, "stable_for_ms")) > 0)
				printf(" stable for %s",
				       ms_text(json_object_get(n, "stable_for_ms"), b3,
					       sizeof(b3)));
			printf(" on_timeout %s",
			       json_string_value(json_object_get(n, "on_timeout")));
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
			{
				printf("            check: %s\n", json_string_value(c));
				print_calls(json_object_get(n, "calls"), NULL, json_string_value(c));
			}
		}
		json_t *calls = json_object_get(n, "calls");
		int irrev = 0;
		size_t k;
		json_t *c;
		json_array_foreach(calls, k, c)
		{
			if (has_flag(c, "irreversible") &&
			    strcmp(json_string_value(json_object_get(c, "in")), "undo") != 0)
				irrev = 1;
		}
		if (irrev && strcmp(kind, "step") == 0 &&
		    !json_is_true(json_object_get(n, "irreversible")))
			printf("          !! calls an irreversible function but is not declared "
			       "irreversible = true (no recovery step is required of it)\n");
		print_calls(calls, json_object_get(n, "unresolved"), NULL);
		count++;
	}
	json_t *bs = json_object_get(plan, "breakers");
	if (json_array_size(bs)) {
		printf("\nbreakers (watched during waits):\n");
		json_array_foreach(bs, i, n)
		{
			printf("  %-28s sustained %s -> %s\n",
			       json_string_value(json_object_get(n, "name")),
			       pgm_duration_format(
				       json_integer_value(json_object_get(n, "sustained_ms")), b1,
				       sizeof(b1)),
			       json_string_value(json_object_get(n, "action")));
			print_calls(json_object_get(n, "calls"), json_object_get(n, "unresolved"),
				    NULL);
		}
	}
	if (json_array_size(json_object_get(plan, "on_failure_calls")) ||
	    json_array_size(json_object_get(plan, "on_failure_unresolved"))) {
		printf("\non_failure:\n");
		print_calls(json_object_get(plan, "on_failure_calls"),
			    json_object_get(plan, "on_failure_unresolved"), NULL);
	}
	json_t *se = json_object_get(plan, "side_effects");
	printf("\nplugin calls: %lld irreversible%s, %lld that write, %lld read-only "
	       "(calls written alias.function through `local alias = plugin \"name\"`, in the "
	       "runbook file)\n",
	       json_integer_value(json_object_get(se, "irreversible")),
	       json_integer_value(json_object_get(se, "irreversible")) ? " (marked !!)" : "",
	       json_integer_value(json_object_get(se, "writes")),
	       json_integer_value(json_object_get(se, "read_only")));
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
		json_t *out = plan_json(rb);
		if (!out)
			rc = PGMOVE_EXIT_RUNBOOK;
		else if (cli_opt_flag(a, "json"))
			cli_json_out(out);
		else
			print_plan(rb, out);
		json_decref(out);
	}
	runbook_free(rb);
	return rc;
}
