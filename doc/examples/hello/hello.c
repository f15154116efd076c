/*
 * hello.c - an example pgmove plugin, built out of tree against the one
 * installed header, <pgmove/plugin.h>:
 *
 *     cc -shared -fPIC $(pkg-config --cflags pgmove) -o hello.so hello.c \
 *        $(pkg-config --libs pgmove)
 *
 * Try it:
 *     PGMOVE_PLUGIN_PATH=. pgmove plugins hello
 *     PGMOVE_PLUGIN_PATH=. pgmove call hello.greet name=world
 *     PGMOVE_PLUGIN_PATH=. pgmove call hello.http_status url=https://example.com/
 *
 * What it shows: the descriptor and PGMOVE_PLUGIN, a function table with
 * flags and parameters, typed arguments, structured errors, an optional
 * init, HTTP through the host (pgm_http_send), a secret parameter,
 * progress and cancellation between units of work, files written so
 * that running a function twice has the effect of running it once, and a
 * configuration once per run (`plugin "hello" { greeting = "Hi" }`).
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fchmod, fsync */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pgmove/plugin.h>

/* The greeting greet uses when none is given; HELLO_GREETING overrides it,
 * and the runbook's configuration overrides both (configured_greeting). */
static const char *default_greeting = "Hello";
static char *configured_greeting; /* owned; NULL when not configured */
static char *configured_token;    /* owned; NULL when not configured */

/* hello_init - runs once when pgmove loads the plugin, also for `pgmove
 * plugins` and `pgmove plan`: it checks configuration and touches nothing
 * outside the process. Returns -1 after logging why, and the loader then
 * reports the plugin as failed to load. */
static int hello_init(void)
{
	const char *g = getenv("HELLO_GREETING");

	if (g == NULL)
		return 0;
	if (*g == '\0' || strlen(g) > 64) {
		pgm_error("hello: HELLO_GREETING must be 1 to 64 characters long");
		return -1;
	}
	default_greeting = g;
	return 0;
}

/* greet - {"message": "Hello, NAME!", "length": N}. args is borrowed; the
 * strings pgm_arg_string returns live as long as args. */
static json_t *greet(pgm_call *call, json_t *args)
{
	const char *name = pgm_arg_string(call, args, "name", NULL, 1);
	const char *greeting = pgm_arg_string(
		call, args, "greeting", configured_greeting ? configured_greeting : default_greeting, 0);
	int shout = 0;
	char msg[256];
	int n;

	if (name == NULL || greeting == NULL || pgm_arg_bool(call, args, "shout", 0, &shout) < 0)
		return NULL; /* the helper recorded "args.invalid" naming the argument */
	if (*name == '\0')
		return pgm_fail(call, "args.invalid", 0, "argument \"name\" must not be empty");
	n = snprintf(msg, sizeof(msg), "%s, %s%s", greeting, name, shout ? "!!!" : "!");
	if (n < 0 || (size_t)n >= sizeof(msg))
		return pgm_fail(call, "args.invalid", 0,
				"the greeting is longer than %zu bytes", sizeof(msg) - 1);
	pgm_debug("greeting %s", name);
	/* a new reference: the host takes it over */
	return json_pack("{s:s, s:i}", "message", msg, "length", n);
}

/* http_status - one GET (or HEAD) of url: its status, size, content type
 * and how long it took. A 5xx answer fails retryably, a status other than
 * expect fails for good. The token goes in a header, never in a message:
 * its parameter is marked secret, so the host redacts it everywhere. */
static json_t *http_status(pgm_call *call, json_t *args)
{
	const char *url = pgm_arg_string(call, args, "url", NULL, 1);
	const char *method = pgm_arg_string(call, args, "method", "GET", 0);
	const char *token = pgm_arg_string(call, args, "token", configured_token, 0);
	long long timeout_ms, expect;
	char auth[1024];
	const char *headers[3] = { "Accept: */*", NULL, NULL };
	pgm_http_request req;
	pgm_http_response resp;
	long long t0;
	json_t *out = NULL;

	if (url == NULL || method == NULL ||
	    pgm_arg_duration_ms(call, args, "timeout", 10000, 0, &timeout_ms) < 0 ||
	    pgm_arg_int(call, args, "expect", 0, 0, &expect) < 0)
		return NULL;
	/* The function is declared read-only: only methods that change nothing. */
	if (strcasecmp(method, "GET") != 0 && strcasecmp(method, "HEAD") != 0)
		return pgm_fail(call, "args.invalid", 0,
				"argument \"method\" must be GET or HEAD, not \"%s\"", method);
	if (token != NULL) {
		int n = snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);

		if (n < 0 || (size_t)n >= sizeof(auth))
			return pgm_fail(call, "args.invalid", 0, "argument \"token\" is too long");
		headers[1] = auth;
	}

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.timeout_ms = (long)timeout_ms; /* the host caps it by the call's deadline */
	t0 = pgm_now_ms();
	if (pgm_http_send(call, &req, &resp) < 0) {
		/* the host recorded http.connect, http.timeout, pgmove.cancelled, ... */
		pgm_http_response_free(&resp);
		return NULL;
	}
	if (resp.status >= 500) {
		pgm_fail(call, "hello.server_error", 1, "%s %s: the server answered HTTP %ld",
			 method, url, resp.status);
	} else if (expect != 0 && resp.status != expect) {
		pgm_fail(call, "hello.unexpected_status", 0,
			 "%s %s: the server answered HTTP %ld, expected %lld", method, url,
			 resp.status, expect);
	} else {
		out = json_pack("{s:i, s:I, s:s?, s:I}", "status", (int)resp.status, "bytes",
				(json_int_t)resp.body_len, "content_type",
				json_string_value(json_object_get(resp.headers, "content-type")),
				"elapsed_ms", (json_int_t)(pgm_now_ms() - t0));
	}
	pgm_http_response_free(&resp);
	return out;
}

/* countdown - waits `ticks` times `every`, reporting progress. Each tick is
 * a unit of work: the call stops between two of them once it is cancelled
 * (Ctrl-C, SIGTERM) or its deadline (the step's timeout) has passed. */
static json_t *countdown(pgm_call *call, json_t *args)
{
	long long ticks, every_ms, i;

	if (pgm_arg_int(call, args, "ticks", 0, 1, &ticks) < 0 ||
	    pgm_arg_duration_ms(call, args, "every", 1000, 0, &every_ms) < 0)
		return NULL;
	if (ticks < 0 || ticks > 1000000)
		return pgm_fail(call, "args.invalid", 0,
				"argument \"ticks\" must be between 0 and 1000000, not %lld", ticks);
	for (i = 0; i < ticks; i++) {
		if (pgm_check_cancel(call) < 0)
			return NULL; /* "pgmove.cancelled" or "pgmove.timeout" */
		pgm_progress(call, (double)i, (double)ticks, "ticks", "counting down");
		if (pgm_sleep_ms(call, every_ms) < 0)
			return NULL;
	}
	pgm_progress(call, (double)ticks, (double)ticks, "ticks", "counting down");
	return json_pack("{s:I}", "ticks", (json_int_t)ticks);
}

/* write_file - writes content to path through a temporary file and a
 * rename, so a crash leaves the old file or the new one, and running it
 * twice has the effect of running it once (idempotent). */
static json_t *write_file(pgm_call *call, json_t *args)
{
	const char *path = pgm_arg_string(call, args, "path", NULL, 1);
	const char *content = pgm_arg_string(call, args, "content", NULL, 1);
	char tmp[4096];
	size_t len, off = 0;
	int fd;

	if (path == NULL || content == NULL)
		return NULL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= sizeof(tmp))
		return pgm_fail(call, "args.invalid", 0, "argument \"path\" is too long");
	fd = mkstemp(tmp);
	if (fd < 0)
		return pgm_fail(call, "hello.io", 0, "cannot create a file beside %s: %s", path,
				strerror(errno));
	len = strlen(content);
	while (off < len) {
		ssize_t n = write(fd, content + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pgm_fail(call, "hello.io", 0, "cannot write %s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return NULL;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		pgm_fail(call, "hello.io", 0, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return NULL;
	}
	pgm_info("wrote %zu bytes to %s", len, path);
	return json_pack("{s:s, s:I}", "path", path, "bytes", (json_int_t)len);
}

/* delete_file - removes path. Irreversible: a runbook may call it only from
 * a step declared irreversible (with a recovery step), or from an undo. An
 * absent file counts as deleted, so it is idempotent as well. */
static json_t *delete_file(pgm_call *call, json_t *args)
{
	const char *path = pgm_arg_string(call, args, "path", NULL, 1);
	int existed = 1;

	if (path == NULL)
		return NULL;
	if (unlink(path) < 0) {
		if (errno != ENOENT)
			return pgm_fail(call, "hello.io", 0, "cannot delete %s: %s", path,
					strerror(errno));
		existed = 0;
	}
	return json_pack("{s:s, s:b}", "path", path, "existed", existed);
}

/* Parameter tables, with designated initializers; { 0 } ends each. The
 * host checks arguments against them before the function runs (unknown
 * names, missing required ones, wrong types, limits, allowed values) and
 * fills in defaults, so the function sees every defaulted argument. */
static const char *const http_methods[] = { "GET", "HEAD", NULL };
static const pgm_param greet_params[] = {
	{ .name = "name", .type = "string", .required = 1, .summary = "who to greet" },
	{ .name = "greeting", .type = "string",
	  .summary = "the greeting (default Hello, or $HELLO_GREETING)" },
	{ .name = "shout", .type = "boolean", .dflt = "false",
	  .summary = "end with three exclamation marks" },
	{ 0 },
};
static const pgm_param http_status_params[] = {
	{ .name = "url", .type = "string", .required = 1, .summary = "http:// or https:// URL" },
	{ .name = "method", .type = "string", .dflt = "\"GET\"", .allowed = http_methods,
	  .summary = "the request method" },
	{ .name = "timeout", .type = "duration", .dflt = "\"10s\"", .min = "100ms", .max = "5m",
	  .summary = "per request" },
	{ .name = "expect", .type = "integer", .min = "100", .max = "599",
	  .summary = "fail unless the status is this one" },
	{ .name = "token", .type = "string", .secret = 1,
	  .summary = "bearer token sent in an Authorization header" },
	{ 0 },
};
static const pgm_param countdown_params[] = {
	{ .name = "ticks", .type = "integer", .required = 1, .min = "0", .max = "1000000",
	  .summary = "how many ticks" },
	{ .name = "every", .type = "duration", .dflt = "\"1s\"", .summary = "length of one tick" },
	{ 0 },
};
static const pgm_param write_file_params[] = {
	{ .name = "path", .type = "string", .required = 1, .summary = "file to write" },
	{ .name = "content", .type = "string", .required = 1, .summary = "what to write" },
	{ 0 },
};
static const pgm_param delete_file_params[] = {
	{ .name = "path", .type = "string", .required = 1, .summary = "file to delete" },
	{ 0 },
};

static const pgm_function hello_functions[] = {
	{ "greet", greet, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY, "a greeting for someone",
	  greet_params },
	{ "http_status", http_status, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "the HTTP status of a URL", http_status_params },
	{ "countdown", countdown, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "wait a number of ticks, with progress; cancellable", countdown_params },
	{ "write_file", write_file, PGM_FN_IDEMPOTENT, "write a file (atomically)",
	  write_file_params },
	{ "delete_file", delete_file, PGM_FN_IDEMPOTENT | PGM_FN_IRREVERSIBLE,
	  "delete a file (absent counts as deleted)", delete_file_params },
	{ NULL, NULL, 0, NULL, NULL },
};

/* The configuration's keys: `plugin "hello" { greeting = "Hi", token = ... }`.
 * pgmove checks a runbook's table against them when it loads (unknown keys,
 * types, limits) and registers the secret one for redaction. */
static const pgm_param config_params[] = {
	{ .name = "greeting", .type = "string", .summary = "greet's default greeting" },
	{ .name = "token", .type = "string", .secret = 1,
	  .summary = "the bearer token http_status sends unless a call gives one" },
	{ 0 },
};

/* hello_configure - the run's configuration, once per process before any
 * function runs; config is borrowed, so keep copies. Returns -1 after
 * pgm_fail() to refuse it: the run does not start. */
static int hello_configure(pgm_call *call, json_t *config)
{
	const char *g = json_string_value(json_object_get(config, "greeting"));
	const char *t = json_string_value(json_object_get(config, "token"));

	if (g != NULL && (*g == '\0' || strlen(g) > 64)) {
		pgm_fail(call, "args.invalid", 0, "greeting must be 1 to 64 characters long");
		return -1;
	}
	free(configured_greeting);
	free(configured_token);
	configured_greeting = g ? strdup(g) : NULL;
	configured_token = t ? strdup(t) : NULL;
	return 0;
}

static void hello_fini(void)
{
	free(configured_greeting);
	free(configured_token);
	configured_greeting = configured_token = NULL;
}

/* The one exported symbol, hello_LTX_pgmove_plugin. The name must be the
 * file's base name: pgmove loads plugin "hello" from hello.so or hello.la. */
PGMOVE_PLUGIN(hello) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "hello",
	.version = "1.0.0",
	.summary = "an example plugin: greetings, HTTP status, a countdown, files",
	.init = hello_init,
	.fini = hello_fini,
	.functions = hello_functions,
	.configure = hello_configure,
	.config = config_params,
};
