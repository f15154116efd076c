/*
 * tests/fuzz/fuzz_args.c - libFuzzer harness: argument parsing. The input,
 * split at NUL bytes, is the command line of `pgmove plan` of a small
 * runbook with params of every type (-p values reach the conversions of
 * core/engine/params.c, conninfo messages included), then the -p values
 * alone through params_resolve. Only documented exit codes, never a crash.
 */
#include "config.h"

#include <stdint.h>

#include "cli.h"
#include "exitcodes.h"
#include "fuzz_common.h"
#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char runbook_text[] =
	"runbook \"fz\" { params = {\n"
	"  s = { type = \"string\", default = \"x\" },\n"
	"  i = { type = \"integer\", default = 1 },\n"
	"  n = { type = \"number\", default = 1.5 },\n"
	"  b = { type = \"boolean\", default = true },\n"
	"  d = { type = \"duration\", default = \"1s\" },\n"
	"  c = { type = \"conninfo\", default = \"host=h\", secret = true },\n"
	"} }\n"
	"step \"a\" { timeout = params.d, run = function(ctx) end }\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char rbpath[160];
	const char *root = fuzz_scratch();
	snprintf(rbpath, sizeof(rbpath), "%s/fz.lua", root);
	static int written;
	if (!written) {
		fuzz_write(rbpath, runbook_text, strlen(runbook_text));
		written = 1;
	}
	if (size > 4096)
		return 0;
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *argv[40];
	int argc = 0;
	argv[argc++] = (char *)"pgmove";
	argv[argc++] = (char *)"--state-dir";
	argv[argc++] = (char *)root;
	argv[argc++] = (char *)"plan";
	argv[argc++] = rbpath;
	json_t *cli = json_object();
	for (size_t i = 0; i < size && argc < 38;) {
		char *tok = buf + i;
		size_t n = strlen(tok);
		argv[argc++] = tok;
		char *eq = strchr(tok, '=');
		if (eq && eq > tok) {
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)(eq - tok), tok);
			json_t *v = json_string(eq + 1);
			if (v)
				json_object_set_new(cli, name, v);
		}
		i += n + 1;
	}
	argv[argc] = NULL;
	int rc = pgmove_main(argc, argv);
	if (rc < 0 || rc > PGMOVE_EXIT_INTERNAL)
		abort();
	/* the -p values alone, against every type */
	json_error_t jerr;
	json_t *specs = json_loads("{\"s\":{\"type\":\"string\"},\"i\":{\"type\":\"integer\"},"
				   "\"n\":{\"type\":\"number\"},\"b\":{\"type\":\"boolean\"},"
				   "\"d\":{\"type\":\"duration\"},"
				   "\"c\":{\"type\":\"conninfo\",\"secret\":true}}",
				   0, &jerr);
	char err[1024];
	json_t *vals = params_resolve(specs, cli, NULL, err, sizeof(err));
	json_decref(vals);
	json_decref(specs);
	json_decref(cli);
	free(buf);
	return 0;
}
