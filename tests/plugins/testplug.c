/*
 * tests/plugins/testplug.c - a plugin for the engine's tests (not
 * installed). Its functions leave traces in files so a test can tell how
 * often a step really ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgmove/plugin.h"

/* count_lines - lines in path (0 when missing). */
static long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c;
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

static int append_line(pgm_call *call, const char *path, const char *line)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0) {
		pgm_fail(call, "testplug.io", 0, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		pgm_fail(call, "testplug.io", 0, "cannot write %s", path);
		return -1;
	}
	fsync(fd);
	close(fd);
	return 0;
}

static json_t *fn_echo(pgm_call *call, json_t *args)
{
	(void)call;
	json_t *v = json_object_get(args, "value");
	return json_pack("{s:O}", "value", v ? v : json_null());
}

/* count - appends a line to file and returns how many lines it has; fails
 * (with code / retryable) while that number is at most fail_until. */
static json_t *fn_count(pgm_call *call, json_t *args)
{
	long long fail_until = 0;
	int retryable = 1;
	const char *file = pgm_arg_string(call, args, "file", NULL, 1);
	const char *code = pgm_arg_string(call, args, "code", "testplug.flaky", 0);
	if (!file || pgm_arg_int(call, args, "fail_until", 0, 0, &fail_until) != 0 ||
	    pgm_arg_bool(call, args, "retryable", 1, &retryable) != 0)
		return NULL;
	if (append_line(call, file, "ran") != 0)
		return NULL;
	long n = count_lines(file);
	if (n <= fail_until)
		return pgm_fail(call, code, retryable, "call %ld fails on purpose (until %lld)", n,
				fail_until);
	return json_pack("{s:i}", "count", (int)n);
}

/* sleep - creates marker (if given) then sleeps ms, cancellable. */
static json_t *fn_sleep(pgm_call *call, json_t *args)
{
	long long ms = 0;
	const char *marker = pgm_arg_string(call, args, "marker", NULL, 0);
	if (pgm_arg_int(call, args, "ms", 0, 1, &ms) != 0)
		return NULL;
	if (marker && append_line(call, marker, "started") != 0)
		return NULL;
	if (pgm_sleep_ms(call, ms) != 0)
		return NULL;
	return json_pack("{s:I}", "slept_ms", ms);
}

/* read - the first line of file as a string and as a number. */
static json_t *fn_read(pgm_call *call, json_t *args)
{
	const char *file = pgm_arg_string(call, args, "file", NULL, 1);
	if (!file)
		return NULL;
	char buf[256] = "";
	FILE *f = fopen(file, "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	return json_pack("{s:s, s:f}", "value", buf, "number", atof(buf));
}

static json_t *fn_destroy(pgm_call *call, json_t *args)
{
	const char *file = pgm_arg_string(call, args, "file", NULL, 1);
	if (!file || append_line(call, file, "destroyed") != 0)
		return NULL;
	return json_pack("{s:b}", "destroyed", 1);
}

static json_t *fn_fail(pgm_call *call, json_t *args)
{
	int retryable = 0;
	const char *code = pgm_arg_string(call, args, "code", "testplug.failed", 0);
	const char *msg = pgm_arg_string(call, args, "message", "failing on purpose", 0);
	if (pgm_arg_bool(call, args, "retryable", 0, &retryable) != 0)
		return NULL;
	return pgm_fail(call, code, retryable, "%s", msg);
}

/* secret - returns and logs its secret argument: the host must redact it. */
static json_t *fn_secret(pgm_call *call, json_t *args)
{
	const char *pw = pgm_arg_string(call, args, "password", NULL, 1);
	if (!pw)
		return NULL;
	pgm_info("the password is %s", pw);
	if (json_is_true(json_object_get(args, "fail")))
		return pgm_fail(call, "testplug.secret", 0, "login with %s refused", pw);
	return json_pack("{s:s, s:s}", "echo", pw, "note", "it was given");
}

/* aws_json - one DMS action through the AWS layer's JSON 1.1 protocol (no
 * plugin of pgmove uses it yet: this is how its test reaches it). */
static const pgm_aws_service dms = {
	.name = "dms",
	.endpoint_id = "dms",
	.env_id = "DATABASE_MIGRATION_SERVICE",
	.json_prefix = "AmazonDMSv20160101",
};

static json_t *fn_aws_json(pgm_call *call, json_t *args)
{
	const char *action = pgm_arg_string(call, args, "action", NULL, 1);
	const char *region = pgm_arg_string(call, args, "region", NULL, 0);
	json_t *body = json_object_get(args, "body");
	if (!action || pgm_failed(call))
		return NULL;
	return pgm_aws_json(call, &dms, region, action, body);
}

/* chunks - works through chunks 1..n, appending "chunk K" to file and
 * sleeping ms for each, and saves {"next": K + 1} as the checkpoint after
 * each one; starts from the checkpoint it is handed. pad adds that many
 * bytes to the checkpoint (to test the size limit). */
static json_t *fn_chunks(pgm_call *call, json_t *args)
{
	long long n = 0, ms = 0, pad = 0, first = 1;
	const char *file = pgm_arg_string(call, args, "file", NULL, 1);
	if (!file || pgm_arg_int(call, args, "n", 0, 1, &n) != 0 ||
	    pgm_arg_int(call, args, "ms", 0, 0, &ms) != 0 ||
	    pgm_arg_int(call, args, "pad", 0, 0, &pad) != 0)
		return NULL;
	json_t *cp = pgm_checkpoint_get(call);
	if (cp && json_is_integer(json_object_get(cp, "next")))
		first = json_integer_value(json_object_get(cp, "next"));
	for (long long k = first; k <= n; k++) {
		char line[64];
		snprintf(line, sizeof(line), "chunk %lld", k);
		if (append_line(call, file, line) != 0 || pgm_sleep_ms(call, ms) != 0)
			return NULL;
		json_t *v = json_pack("{s:I}", "next", k + 1);
		if (pad > 0) {
			char *p = malloc((size_t)pad + 1);
			memset(p, 'x', (size_t)pad);
			p[pad] = '\0';
			json_object_set_new(v, "pad", json_string(p));
			free(p);
		}
		int rc = pgm_checkpoint_save(call, v);
		json_decref(v);
		if (rc != 0)
			return NULL;
	}
	return json_pack("{s:I, s:I}", "done", n, "first", first);
}

/* crash - unless file exists: creates it, then crashes the way how says
 * ("segv": a NULL write, "abort"). With the file there it returns
 * {"crashed": false}: a re-run after the crash succeeds. */
static json_t *fn_crash(pgm_call *call, json_t *args)
{
	const char *file = pgm_arg_string(call, args, "file", NULL, 1);
	const char *how = pgm_arg_string(call, args, "how", "segv", 0);
	if (!file || !how)
		return NULL;
	if (access(file, F_OK) == 0)
		return json_pack("{s:b}", "crashed", 0);
	if (append_line(call, file, "crashing") != 0)
		return NULL;
	if (strcmp(how, "abort") == 0)
		abort();
	volatile int *volatile nowhere = NULL;
	*nowhere = 1;
	return json_pack("{s:b}", "crashed", 1);
}

/* args - returns the arguments it got, after the host's defaults. */
static json_t *fn_args(pgm_call *call, json_t *args)
{
	(void)call;
	return json_deep_copy(args);
}

/* The configuration the runbook gave (plugin "testplug" { ... }). */
static json_t *configured;
static int configure_count;

/* configure - keeps a copy of config; refuses {"refuse": true}. */
static int tp_configure(pgm_call *call, json_t *config)
{
	if (json_is_true(json_object_get(config, "refuse"))) {
		pgm_fail(call, "testplug.config", 0, "refusing the configuration on purpose");
		return -1;
	}
	json_decref(configured);
	configured = json_deep_copy(config);
	json_object_set_new(configured, "run", json_string(pgm_call_run_id(call) ? pgm_call_run_id(call) : ""));
	configure_count++;
	return 0;
}

/* tp_fini - drops the kept configuration. */
static void tp_fini(void)
{
	json_decref(configured);
	configured = NULL;
}

/* config - the configuration the plugin got and how often, or {} */
static json_t *fn_config(pgm_call *call, json_t *args)
{
	(void)call;
	(void)args;
	return json_pack("{s:O, s:i}", "config", configured ? configured : json_object(), "count",
			 configure_count);
}

/* whoami - the run, step and attempt the call belongs to. */
static json_t *fn_whoami(pgm_call *call, json_t *args)
{
	(void)args;
	return json_pack("{s:s?, s:s?, s:i}", "run", pgm_call_run_id(call), "step",
			 pgm_call_step(call), "attempt", pgm_call_attempt(call));
}

static const pgm_param p_chunks[] = {
	{ "file", "string", 1, 0, "a file that gets one line per chunk" },
	{ "n", "integer", 1, 0, "how many chunks" },
	{ "ms", "integer", 0, 0, "how long each chunk takes" },
	{ "pad", "integer", 0, 0, "bytes added to each checkpoint" },
	{ NULL, NULL, 0, 0, NULL },
};

static const pgm_param p_crash[] = {
	{ "file", "string", 1, 0, "crash only while this file does not exist (then create it)" },
	{ "how", "string", 0, 0, "segv (default) or abort" },
	{ NULL, NULL, 0, 0, NULL },
};

static const char *const modes[] = { "full-load", "cdc", NULL };
static const pgm_param p_limits[] = {
	{ .name = "jobs", .type = "integer", .dflt = "4", .min = "1", .max = "16",
	  .summary = "parallel jobs" },
	{ .name = "ratio", .type = "number", .min = "0", .max = "1", .summary = "a fraction" },
	{ .name = "every", .type = "duration", .dflt = "\"30s\"", .min = "1s", .max = "1h",
	  .summary = "how often" },
	{ .name = "mode", .type = "string", .dflt = "\"cdc\"", .allowed = modes,
	  .summary = "the kind of task" },
	{ 0 },
};

static const pgm_param p_echo[] = {
	{ "value", "any", 0, 0, "anything" },
	{ NULL, NULL, 0, 0, NULL },
};
static const pgm_param p_count[] = {
	{ "file", "string", 1, 0, "a file that counts the calls" },
	{ "fail_until", "integer", 0, 0, "fail while the count is at most this" },
	{ "code", "string", 0, 0, "error code when failing" },
	{ "retryable", "boolean", 0, 0, "whether the failure is retryable (default true)" },
	{ NULL, NULL, 0, 0, NULL },
};
static const pgm_param p_sleep[] = {
	{ "ms", "integer", 1, 0, "how long" },
	{ "marker", "string", 0, 0, "file to append 'started' to first" },
	{ NULL, NULL, 0, 0, NULL },
};
static const pgm_param p_file[] = {
	{ "file", "string", 1, 0, "the file" },
	{ NULL, NULL, 0, 0, NULL },
};
static const pgm_param p_fail[] = {
	{ "code", "string", 0, 0, "error code" },
	{ "message", "string", 0, 0, "error message" },
	{ "retryable", "boolean", 0, 0, "retryable" },
	{ NULL, NULL, 0, 0, NULL },
};
static const pgm_param p_secret[] = {
	{ "password", "string", 1, 1, "a secret" },
	{ "fail", "boolean", 0, 0, "fail with the secret in the message" },
	{ NULL, NULL, 0, 0, NULL },
};

static const pgm_param p_aws_json[] = {
	{ "action", "string", 1, 0, "the DMS action (DescribeReplicationTasks)" },
	{ "body", "object", 0, 0, "the request" },
	{ "region", "string", 0, 0, "AWS region" },
	{ NULL, NULL, 0, 0, NULL },
};

static const pgm_function functions[] = {
	{ "echo", fn_echo, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY, "returns its value", p_echo },
	{ "count", fn_count, 0, "counts calls in a file; fails on request", p_count },
	{ "sleep", fn_sleep, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY, "sleeps, cancellable", p_sleep },
	{ "read", fn_read, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY, "reads a file", p_file },
	{ "destroy", fn_destroy, PGM_FN_IRREVERSIBLE, "marks a file destroyed", p_file },
	{ "fail", fn_fail, PGM_FN_IDEMPOTENT, "always fails", p_fail },
	{ "secret", fn_secret, PGM_FN_IDEMPOTENT, "echoes a secret", p_secret },
	{ "aws_json", fn_aws_json, 0, "one DMS action (JSON 1.1 protocol)", p_aws_json },
	{ "chunks", fn_chunks, PGM_FN_IDEMPOTENT, "works through chunks with checkpoints",
	  p_chunks },
	{ "crash", fn_crash, 0, "crashes (SIGSEGV or abort) the first time", p_crash },
	{ "limits", fn_args, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "returns its arguments (defaults, limits, allowed values)", p_limits },
	{ "config", fn_config, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "the configuration from the runbook", NULL },
	{ "whoami", fn_whoami, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "the run, step and attempt of the call", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

PGMOVE_PLUGIN(testplug) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "testplug",
	.version = "1.0",
	.summary = "functions for the engine's tests",
	.functions = functions,
	.configure = tp_configure,
	.fini = tp_fini,
};
