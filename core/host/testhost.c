/*
 * core/host/testhost.c - the test host of <pgmove/plugin-test.h>: calls for
 * unit tests, captured logs and progress, secrets, checkpoints, and HTTP
 * answered from a table through the hook in http.c. Part of libpgmove (the
 * PGMOVE_TEST_0.1 symbols); nothing here runs unless a test calls it.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "hostpriv.h"
#include "pgmove/plugin-test.h"

typedef struct route {
	char *method, *url;
	long status;
	char *body;
	json_t *headers; /* object of lower-case name -> value */
	struct route *next;
} route;

static json_t *logs;      /* array of "LEVEL text" */
static json_t *requests;  /* array of {method, url, headers, body} */
static route *routes, **routes_tail = &routes;
static size_t progress_n, checkpoint_saves;
static double progress_done, progress_total;
static char *progress_unit, *progress_label;
static json_t *inited;    /* object: descriptors whose init ran (by address) */

/* capture_log - pgm_log_sink_fn: keeps the line without its timestamp. */
static void capture_log(void *user, pgm_log_level level, const char *line)
{
	const char *sp = strchr(line, ' ');
	(void)user;
	(void)level;
	if (!logs)
		logs = json_array();
	json_array_append_new(logs, json_string(sp ? sp + 1 : line));
}

/* capture_progress - pgm_progress_fn: counts and keeps the last report. */
static void capture_progress(void *user, const char *who, double done, double total,
			     const char *unit, const char *label)
{
	(void)user;
	(void)who;
	progress_n++;
	progress_done = done;
	progress_total = total;
	free(progress_unit);
	free(progress_label);
	progress_unit = unit ? strdup(unit) : NULL;
	progress_label = label ? strdup(label) : NULL;
}

static void free_routes(void)
{
	while (routes) {
		route *r = routes;
		routes = r->next;
		free(r->method);
		free(r->url);
		free(r->body);
		json_decref(r->headers);
		free(r);
	}
	routes_tail = &routes;
}

/* answer - host_http_mock_fn: records the request and answers it from the
 * table. */
static int answer(pgm_call *call, const pgm_http_request *req, pgm_http_response *resp)
{
	const char *method = req->method ? req->method : "GET";
	json_t *hdrs = json_array();
	for (size_t i = 0; req->headers && req->headers[i]; i++)
		json_array_append_new(hdrs, json_string(req->headers[i]));
	json_t *body = req->body ? json_stringn(req->body, req->body_len) : json_null();
	if (!body)
		body = json_string("(not UTF-8)");
	if (!requests)
		requests = json_array();
	json_array_append_new(requests, json_pack("{s:s, s:s, s:o, s:o}", "method", method, "url",
						  req->url, "headers", hdrs, "body", body));
	for (route *r = routes; r; r = r->next) {
		size_t n = strlen(r->url);
		int prefix = n && r->url[n - 1] == '*';
		if (strcmp(r->method, method) != 0 ||
		    (prefix ? strncmp(r->url, req->url, n - 1) != 0 : strcmp(r->url, req->url) != 0))
			continue;
		if (r->status == 0) {
			pgm_fail(call, "http.connect", 1, "%s %s: connection refused (test table)",
				 method, req->url);
			return -1;
		}
		resp->status = r->status;
		resp->body = strdup(r->body ? r->body : "");
		resp->body_len = strlen(resp->body);
		resp->headers = json_deep_copy(r->headers);
		return 0;
	}
	pgm_fail(call, "test.no_answer", 0, "%s %s: no answer in the test's HTTP table", method,
		 req->url);
	return -1;
}

void pgm_test_reset(void)
{
	json_decref(logs);
	json_decref(requests);
	logs = json_array();
	requests = json_array();
	free_routes();
	free(progress_unit);
	free(progress_label);
	progress_unit = progress_label = NULL;
	progress_n = checkpoint_saves = 0;
	progress_done = progress_total = 0;
	pgm_secret_reset();
	pgm_cancel_reset();
	pgm_log_setup(PGM_LOG_FORMAT_PLAIN, PGM_LOG_DEBUG);
	pgm_log_set_sink(capture_log, NULL);
	pgm_progress_set_sink(capture_progress, NULL);
	host_http_mock = answer;
}

pgm_call *pgm_test_call(const char *plugin, const char *function, long long timeout_ms)
{
	pgm_call *call = pgm_call_new(plugin, function);
	if (timeout_ms > 0)
		pgm_call_set_deadline_ms(call, pgm_now_ms() + timeout_ms);
	return call;
}

void pgm_test_call_free(pgm_call *call)
{
	pgm_call_free(call);
}

void pgm_test_call_set_run(pgm_call *call, const char *run_id, const char *step, int attempt)
{
	pgm_call_set_run(call, run_id, step, attempt);
}

/* count_save - pgm_checkpoint_fn: a test's "journal" only counts. */
static int count_save(void *user, pgm_call *call, const json_t *value)
{
	(void)user;
	(void)call;
	(void)value;
	checkpoint_saves++;
	return 0;
}

void pgm_test_call_set_checkpoint(pgm_call *call, const json_t *value)
{
	pgm_call_set_checkpoint(call, value, count_save, NULL);
}

size_t pgm_test_checkpoint_saves(void)
{
	return checkpoint_saves;
}

/* ready - what pgmove's loader does once per plugin before its first use,
 * for the descriptor plugin: the ABI and the tables checked (the loader's
 * own checks, core/host/ptable.c), then init run. 0, or -1 with the call's
 * error set ("test.bad_plugin", "test.init"). */
static int ready(const pgm_plugin *plugin, pgm_call *call)
{
	char key[32], err[2048];
	snprintf(key, sizeof(key), "%p", (const void *)plugin);
	if (!inited)
		inited = json_object();
	if (json_object_get(inited, key))
		return 0;
	const char *name = plugin->name ? plugin->name : "?";
	if (plugin->abi != PGMOVE_PLUGIN_ABI) {
		pgm_fail(call, "test.bad_plugin", 0,
			 "plugin %s was built for plugin ABI %d, this test host has ABI %d", name,
			 plugin->abi, PGMOVE_PLUGIN_ABI);
		return -1;
	}
	if (!plugin->functions) {
		pgm_fail(call, "test.bad_plugin", 0, "plugin %s has no function table", name);
		return -1;
	}
	if (pgm_ptable_check_plugin(name, "(test host)", plugin, err, sizeof(err)) != 0) {
		pgm_fail(call, "test.bad_plugin", 0, "%s", err);
		return -1;
	}
	if (plugin->init && plugin->init() != 0) {
		pgm_fail(call, "test.init", 0, "plugin %s: init failed", name);
		return -1;
	}
	json_object_set_new(inited, key, json_true());
	return 0;
}

json_t *pgm_test_invoke(const pgm_plugin *plugin, const char *function, pgm_call *call,
			json_t *args)
{
	char what[256], err[2048];
	if (!call->checkpoint_fn)
		pgm_call_set_checkpoint(call, NULL, count_save, NULL);
	if (ready(plugin, call) != 0)
		return NULL;
	for (const pgm_function *f = plugin->functions; f->name; f++) {
		if (strcmp(f->name, function) != 0)
			continue;
		/* as pgmove does before a call (loader_check_args): the same checks */
		json_t *own = args ? NULL : json_object();
		snprintf(what, sizeof(what), "%s.%s", plugin->name, f->name);
		if (pgm_ptable_check(what, "argument", f->params, args ? args : own,
				     PGM_PTABLE_DEFAULTS | PGM_PTABLE_REQUIRED, err,
				     sizeof(err)) != 0) {
			json_decref(own);
			return pgm_fail(call, "args.invalid", 0, "%s", err);
		}
		json_t *res = f->fn(call, args ? args : own);
		json_decref(own);
		return res;
	}
	return pgm_fail(call, "test.unknown_function", 0, "plugin %s has no function %s",
			plugin->name ? plugin->name : "?", function);
}

int pgm_test_configure(const pgm_plugin *plugin, pgm_call *call, const json_t *config)
{
	char what[256], err[2048];
	if (ready(plugin, call) != 0)
		return -1;
	if (!plugin->configure) {
		pgm_fail(call, "test.no_configure", 0,
			 "plugin %s takes no configuration (it has no configure function)",
			 plugin->name);
		return -1;
	}
	json_t *cfg = config ? json_deep_copy(config) : json_object();
	snprintf(what, sizeof(what), "plugin %s { ... }", plugin->name);
	if (plugin->config && pgm_ptable_check(what, "key", plugin->config, cfg,
					       PGM_PTABLE_DEFAULTS | PGM_PTABLE_REQUIRED, err,
					       sizeof(err)) != 0) {
		json_decref(cfg);
		pgm_fail(call, "args.invalid", 0, "%s", err);
		return -1;
	}
	int rc = plugin->configure(call, cfg);
	json_decref(cfg);
	if (rc != 0 && !pgm_failed(call))
		pgm_fail(call, "test.configure", 0,
			 "plugin %s: configure failed without saying why (pgm_fail)", plugin->name);
	return rc != 0 ? -1 : 0;
}

size_t pgm_test_log_count(void)
{
	return json_array_size(logs);
}

const char *pgm_test_log_line(size_t i)
{
	return json_string_value(json_array_get(logs, i));
}

size_t pgm_test_log_contains(const char *text)
{
	size_t n = 0, i;
	json_t *v;
	json_array_foreach(logs, i, v)
	if (strstr(json_string_value(v), text))
		n++;
	return n;
}

size_t pgm_test_progress_count(void)
{
	return progress_n;
}

int pgm_test_progress_last(double *done, double *total, const char **unit, const char **label)
{
	if (!progress_n)
		return 0;
	if (done)
		*done = progress_done;
	if (total)
		*total = progress_total;
	if (unit)
		*unit = progress_unit;
	if (label)
		*label = progress_label;
	return 1;
}

int pgm_test_secret_registered(const char *secret)
{
	char *r = pgm_redact(secret);
	int hidden = r && secret && *secret && strstr(r, secret) == NULL;
	free(r);
	return hidden;
}

void pgm_test_http_answer(const char *method, const char *url, long status, const char *body,
			  const char *const *headers)
{
	route *r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->method = strdup(method ? method : "GET");
	r->url = strdup(url ? url : "");
	r->status = status;
	r->body = body ? strdup(body) : NULL;
	r->headers = json_object();
	for (size_t i = 0; headers && headers[i]; i++) {
		const char *colon = strchr(headers[i], ':');
		if (!colon)
			continue;
		char *name = strndup(headers[i], (size_t)(colon - headers[i]));
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		json_object_set_new(r->headers, name, json_string(v));
		free(name);
	}
	*routes_tail = r;
	routes_tail = &r->next;
}

size_t pgm_test_http_count(void)
{
	return json_array_size(requests);
}

json_t *pgm_test_http_request(size_t i)
{
	return json_array_get(requests, i);
}
