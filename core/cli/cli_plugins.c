/*
 * core/cli/cli_plugins.c - the plugins and call commands.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exitcodes.h"
#include "host.h"
#include "loader.h"

/* print_params - one line per parameter of a table (loader_describe_function). */
static void print_params(const json_t *params)
{
	size_t k;
	json_t *par;
	json_array_foreach(params, k, par)
	printf("      %-20s %-9s %-9s%s %s\n", json_string_value(json_object_get(par, "name")),
	       json_string_value(json_object_get(par, "type")),
	       json_is_true(json_object_get(par, "required")) ? "required" : "",
	       json_is_true(json_object_get(par, "secret")) ? " secret" : "",
	       json_string_value(json_object_get(par, "summary")));
}

static void print_plugin(const json_t *p)
{
	const char *err = json_string_value(json_object_get(p, "error"));
	if (err) {
		printf("%s: FAILED TO LOAD: %s\n\n", json_string_value(json_object_get(p, "name")), err);
		return;
	}
	printf("%s %s - %s\n  %s\n", json_string_value(json_object_get(p, "name")),
	       json_string_value(json_object_get(p, "version")),
	       json_string_value(json_object_get(p, "summary")),
	       json_string_value(json_object_get(p, "path")));
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(p, "functions"), i, f)
	{
		char flags[128] = "";
		size_t used = 0, k;
		json_t *fl;
		json_array_foreach(json_object_get(f, "flags"), k, fl)
		used += (size_t)snprintf(flags + used, sizeof(flags) - used, "%s%s", used ? "," : "",
					 json_string_value(fl));
		printf("\n  %s  [%s]\n    %s\n", json_string_value(json_object_get(f, "name")),
		       used ? flags : "-", json_string_value(json_object_get(f, "summary")));
		print_params(json_object_get(f, "params"));
	}
	if (json_object_get(p, "config")) {
		printf("\n  configuration: plugin \"%s\" { ... }\n",
		       json_string_value(json_object_get(p, "name")));
		print_params(json_object_get(p, "config"));
	}
	printf("\n");
}

void cli_print_plugins(const json_t *identities)
{
	json_t *own = identities ? NULL : loader_identities();
	size_t i;
	json_t *p;
	json_array_foreach(identities ? identities : own, i, p)
	printf("  plugin   %s %s sha256 %.16s %s\n", json_string_value(json_object_get(p, "name")),
	       json_string_value(json_object_get(p, "version")),
	       json_string_value(json_object_get(p, "sha256")),
	       json_string_value(json_object_get(p, "path")));
	json_decref(own);
}

int pgmove_cmd_plugins(cli_args *a)
{
	const char *only = cli_pos(a, 0);
	json_t *list = loader_list();
	int rc = PGMOVE_EXIT_COMPLETED;
	if (only) {
		json_t *keep = json_array();
		size_t i;
		json_t *p;
		json_array_foreach(list, i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")), only) == 0)
			json_array_append(keep, p);
		json_decref(list);
		list = keep;
		/* the plugin asked for exists but does not load: say why, exit 1 */
		if (json_object_get(json_array_get(list, 0), "error"))
			rc = PGMOVE_EXIT_FAILED;
		if (!json_array_size(list)) {
			char err[4096];
			if (!loader_get(only, err, sizeof(err))) {
				pgm_error("%s", err);
				json_decref(list);
				return PGMOVE_EXIT_FAILED;
			}
		}
	}
	if (cli_opt_flag(a, "json")) {
		cli_json_out(list);
	} else {
		size_t i;
		json_t *p;
		json_array_foreach(list, i, p)
		print_plugin(p);
		if (!json_array_size(list))
			printf("no plugins found (PGMOVE_PLUGIN_PATH=%s, installed directory %s)\n",
			       getenv("PGMOVE_PLUGIN_PATH") ? getenv("PGMOVE_PLUGIN_PATH") : "",
			       PGMOVE_PLUGIN_DIR);
	}
	json_decref(list);
	return rc;
}

/* param_type - the declared type of fn's parameter name, or NULL. */
static const char *param_type(const pgm_function *fn, const char *name)
{
	for (const pgm_param *p = fn->params; p && p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p->type;
	return NULL;
}

/* arg_value - NAME=VALUE's value: @env:VAR from the environment; for a
 * parameter declared string, conninfo or duration the text as it is (so
 * engine_version=15.4 stays "15.4"); else JSON when it parses, else the
 * string. New reference or NULL after logging. */
static json_t *arg_value(const pgm_function *fn, const char *name, const char *value, char *err,
			 size_t errlen)
{
	const char *type = param_type(fn, name);
	if (strncmp(value, "@env:", 5) == 0) {
		const char *v = getenv(value + 5);
		if (!v) {
			snprintf(err, errlen, "argument %s: environment variable %s is not set", name,
				 value + 5);
			return NULL;
		}
		if (!pgm_utf8_valid(v, strlen(v))) {
			snprintf(err, errlen, "argument %s: environment variable %s is not valid UTF-8",
				 name, value + 5);
			return NULL;
		}
		return json_string(v);
	}
	if (type && (strcmp(type, "string") == 0 || strcmp(type, "conninfo") == 0 ||
		     strcmp(type, "duration") == 0))
		return json_string(value);
	json_error_t jerr;
	json_t *j = json_loads(value, JSON_DECODE_ANY, &jerr);
	if (j)
		return j;
	return json_string(value);
}

/* call_error - a failure of `pgmove call` before or around the function:
 * logged once, and with --json also printed on stdout as {"error": {code,
 * message, retryable}} like the function's own errors. Returns rc. */
static int call_error(cli_args *a, int rc, const char *code, const char *fmt, ...)
	PGM_PRINTF(4, 5);
static int call_error(cli_args *a, int rc, const char *code, const char *fmt, ...)
{
	char raw[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	char *msg = pgm_redact(raw);
	pgm_error("%s", msg ? msg : raw);
	if (cli_opt_flag(a, "json")) {
		json_t *e = json_pack("{s:{s:s, s:s, s:b}}", "error", "code", code, "message",
				      msg ? msg : raw, "retryable", 0);
		cli_json_out(e);
		json_decref(e);
	}
	free(msg);
	return rc;
}

int pgmove_cmd_call(cli_args *a)
{
	const char *target = cli_pos(a, 0);
	const char *dot = strchr(target, '.');
	if (!dot || dot == target || !dot[1])
		return call_error(a, PGMOVE_EXIT_USAGE, "call.usage",
				  "call: expected PLUGIN.FUNCTION, got '%s'", target);
	char plugin[128];
	snprintf(plugin, sizeof(plugin), "%.*s", (int)(dot - target), target);
	const char *fname = dot + 1;
	char err[4096];
	const pgm_plugin *p = loader_get(plugin, err, sizeof(err));
	if (!p)
		/* an unknown or invalid name is a usage error (2); a plugin that
		 * is there but does not load fails the call (1) */
		return call_error(a,
				  strstr(err, " not found; tried ") || strstr(err, "a plugin name is")
					  ? PGMOVE_EXIT_USAGE
					  : PGMOVE_EXIT_FAILED,
				  "plugin.load", "%s", err);
	const pgm_function *f = loader_function(p, fname);
	if (!f) {
		char names[1024] = "";
		size_t used = 0;
		for (const pgm_function *g = p->functions; g->name && used < sizeof(names); g++)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
						 used ? ", " : "", g->name);
		return call_error(a, PGMOVE_EXIT_USAGE, "call.unknown_function",
				  "plugin %s has no function %s (functions: %s)", plugin, fname,
				  names);
	}
	json_t *args = json_object();
	for (size_t i = 1; i < json_array_size(a->pos); i++) {
		const char *kv = cli_pos(a, (int)i);
		const char *eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			json_decref(args);
			return call_error(a, PGMOVE_EXIT_USAGE, "args.invalid",
					  "call: argument '%s' is not NAME=VALUE", kv);
		}
		char *name = strndup(kv, (size_t)(eq - kv));
		json_t *v = arg_value(f, name, eq + 1, err, sizeof(err));
		if (!v) {
			free(name);
			json_decref(args);
			return call_error(a, PGMOVE_EXIT_USAGE, "args.invalid", "%s", err);
		}
		json_object_set_new(args, name, v);
		free(name);
	}
	if (loader_check_args(p, f, args, err, sizeof(err)) != 0) {
		json_decref(args);
		return call_error(a, PGMOVE_EXIT_USAGE, "args.invalid", "%s", err);
	}
	pgm_call *c = pgm_call_new(plugin, fname);
	const char *timeout = cli_opt_str(a, "timeout");
	if (timeout) {
		long long ms;
		if (pgm_duration_parse(timeout, &ms, err, sizeof(err)) != 0) {
			pgm_call_free(c);
			json_decref(args);
			return call_error(a, PGMOVE_EXIT_USAGE, "args.invalid", "--timeout: %s", err);
		}
		pgm_call_set_deadline_ms(c, pgm_now_ms() + ms);
	}
	pgm_cancel_install();
	pgm_log_set_context(target);
	json_t *res = loader_invoke(p, f, c, args, NULL, NULL);
	pgm_log_set_context(NULL);
	pgm_progress_clear();
	json_decref(args);
	int rc = PGMOVE_EXIT_COMPLETED;
	if (res) {
		cli_json_out_redacted(res);
		json_decref(res);
	} else {
		json_t *e = pgm_call_error_json(c);
		if (!e)
			e = json_pack("{s:s, s:s, s:b}", "code", "plugin.error", "message",
				      "the function failed without saying why", "retryable", 0);
		if (cli_opt_flag(a, "json")) {
			json_t *wrapped = json_pack("{s:O}", "error", e);
			cli_json_out_redacted(wrapped);
			json_decref(wrapped);
		}
		pgm_error("%s failed: %s: %s%s", target, json_string_value(json_object_get(e, "code")),
			  json_string_value(json_object_get(e, "message")),
			  json_is_true(json_object_get(e, "retryable")) ? " (retryable)" : "");
		json_decref(e);
		rc = PGMOVE_EXIT_FAILED;
	}
	pgm_call_free(c);
	return rc;
}
