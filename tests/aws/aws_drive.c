/*
 * tests/aws/aws_drive.c - a test driver: opens a plugin module and runs one
 * of its functions the way `pgmove call` does, without the engine:
 *
 *     aws_drive MODULE.so FUNCTION [key=value]...
 *
 * A value is JSON when it parses as JSON, else a string; key=@env:VAR takes
 * the value from $VAR. The result goes to stdout as JSON; on failure the
 * error {"code","message","retryable"} goes to stdout and the exit status is
 * 1. PGMOVE_LOG_LEVEL=debug turns on debug logging (to stderr).
 */
#define _GNU_SOURCE
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static json_t *parse_value(const char *text)
{
	json_t *v;

	if (strncmp(text, "@env:", 5) == 0) {
		const char *e = getenv(text + 5);

		return json_string(e ? e : "");
	}
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : json_string(text);
}

int main(int argc, char **argv)
{
	const char *lvl = getenv("PGMOVE_LOG_LEVEL");
	const pgm_plugin *plugin;
	const pgm_function *fn = NULL;
	json_t *args, *res;
	pgm_call *call;
	char sym[256], *base, *dot;
	void *h;
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: aws_drive MODULE.so FUNCTION [key=value]...\n");
		return 2;
	}
	pgm_log_setup(PGM_LOG_FORMAT_PLAIN,
		      lvl && strcmp(lvl, "debug") == 0 ? PGM_LOG_DEBUG : PGM_LOG_INFO);
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "aws_drive: %s\n", dlerror());
		return 2;
	}
	base = strrchr(argv[1], '/');
	base = strdup(base ? base + 1 : argv[1]);
	dot = strchr(base, '.');
	if (dot)
		*dot = '\0';
	snprintf(sym, sizeof(sym), "%s_LTX_%s", base, PGMOVE_PLUGIN_SYMBOL);
	plugin = dlsym(h, sym);
	if (!plugin || plugin->abi != PGMOVE_PLUGIN_ABI) {
		fprintf(stderr, "aws_drive: %s: no %s or wrong ABI\n", argv[1], sym);
		return 2;
	}
	for (const pgm_function *f = plugin->functions; f && f->name; f++)
		if (strcmp(f->name, argv[2]) == 0)
			fn = f;
	if (!fn) {
		fprintf(stderr, "aws_drive: %s has no function %s\n", plugin->name, argv[2]);
		return 2;
	}
	args = json_object();
	for (int i = 3; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq) {
			fprintf(stderr, "aws_drive: %s: expected key=value\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		json_object_set_new(args, argv[i], parse_value(eq + 1));
	}
	if (plugin->init && plugin->init() != 0)
		return 2;
	call = pgm_call_new(plugin->name, fn->name);
	pgm_log_set_context(pgm_call_name(call));
	res = fn->fn(call, args);
	if (res) {
		char *s = json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		char *r = pgm_redact(s);

		printf("%s\n", r);
		free(s);
		free(r);
		json_decref(res);
	} else {
		json_t *e = pgm_call_error_json(call);
		char *s = e ? json_dumps(e, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

		printf("%s\n", s ? s : "{\"code\": \"none\", \"message\": \"no error recorded\"}");
		free(s);
		json_decref(e);
		rc = 1;
	}
	pgm_log_set_context(NULL);
	pgm_call_free(call);
	if (plugin->fini)
		plugin->fini();
	json_decref(args);
	free(base);
	dlclose(h);
	return rc;
}
