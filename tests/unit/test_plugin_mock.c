/*
 * tests/unit/test_plugin_mock.c - our plugins' unit tests on the test host
 * of <pgmove/plugin-test.h>, as a vendor would write them: the pagerduty
 * plugin's source linked with libpgmove, HTTP answered from a table, logs,
 * secrets and requests asserted; the test host's own promises (deadline,
 * run id, checkpoints handed back, unknown URLs and functions failing);
 * the loader's own checks applied by the test host (arguments against the
 * parameter table, descriptors, configurations) and the plugins' run-wide
 * configuration (pagerduty, http) through pgm_test_configure. Built with
 * the public include path only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <pgmove/plugin-test.h>

extern const pgm_plugin pagerduty_LTX_pgmove_plugin;
extern const pgm_plugin http_LTX_pgmove_plugin;
#define PD (&pagerduty_LTX_pgmove_plugin)
#define HTTP (&http_LTX_pgmove_plugin)
#define KEY "0123456789abcdef0123456789abcdef"
#define URL "http://pd.test/v2/enqueue"

static json_t *trigger_args(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "routing_key", KEY, "url", "http://pd.test",
			 "dedup_key", "run-1/lag", "summary", "replication lag over 60s", "source",
			 "aurora-1");
}

/* trigger: one POST with the documented event shape; the answer is returned */
static void test_trigger(void)
{
	pgm_test_reset();
	pgm_test_http_answer("POST", URL, 202,
			     "{\"status\":\"success\",\"message\":\"Event processed\","
			     "\"dedup_key\":\"run-1/lag\"}",
			     (const char *const[]){ "Content-Type: application/json", NULL });
	pgm_call *c = pgm_test_call("pagerduty", "trigger", 5000);
	json_t *args = trigger_args();
	json_t *res = pgm_test_invoke(PD, "trigger", c, args);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(res, "dedup_key")), "run-1/lag");
	CU_ASSERT_EQUAL(pgm_test_http_count(), 1);
	json_t *req = pgm_test_http_request(0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(req, "url")), URL);
	json_t *ev = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "event_action")), "trigger");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "routing_key")), KEY);
	CU_ASSERT_STRING_EQUAL(
		json_string_value(json_object_get(json_object_get(ev, "payload"), "summary")),
		"replication lag over 60s");
	/* the integration key is a secret from the moment the plugin saw it */
	CU_ASSERT(pgm_test_secret_registered(KEY));
	for (size_t i = 0; i < pgm_test_log_count(); i++)
		CU_ASSERT_PTR_NULL(strstr(pgm_test_log_line(i), KEY));
	json_decref(ev);
	json_decref(res);
	json_decref(args);
	pgm_test_call_free(c);
}

/* a 400 is PagerDuty's refusal, with its errors in the message; no retry */
static void test_refused(void)
{
	pgm_test_reset();
	pgm_test_http_answer("POST", "http://pd.test/*", 400,
			     "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\","
			     "\"errors\":[\"'severity' is missing\"]}",
			     NULL);
	pgm_call *c = pgm_test_call("pagerduty", "trigger", 5000);
	json_t *args = trigger_args();
	CU_ASSERT_PTR_NULL(pgm_test_invoke(PD, "trigger", c, args));
	CU_ASSERT_STRING_EQUAL(pgm_error_code(c), "pagerduty.invalid_event");
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(c), "'severity' is missing"));
	CU_ASSERT_FALSE(pgm_error_retryable(c));
	CU_ASSERT_EQUAL(pgm_test_http_count(), 1);
	json_decref(args);
	pgm_test_call_free(c);
}

/* throttled twice, then accepted: retried with the same event, logged */
static void test_throttled_then_ok(void)
{
	pgm_test_reset();
	setenv("PGMOVE_PAGERDUTY_RETRY_BASE_MS", "1", 1);
	pgm_call *c = pgm_test_call("pagerduty", "trigger", 5000);
	json_t *args = trigger_args();
	json_object_set_new(args, "attempts", json_integer(2));
	pgm_test_http_answer("POST", URL, 429, "{\"status\":\"throttled\"}", NULL);
	CU_ASSERT_PTR_NULL(pgm_test_invoke(PD, "trigger", c, args));
	CU_ASSERT_STRING_EQUAL(pgm_error_code(c), "pagerduty.throttled");
	CU_ASSERT(pgm_error_retryable(c));
	CU_ASSERT_EQUAL(pgm_test_http_count(), 2);
	CU_ASSERT(pgm_test_log_contains("throttled (429)") >= 1);
	json_decref(args);
	pgm_test_call_free(c);
}

/* the test host: a URL without an answer fails the call, naming it */
static void test_no_answer(void)
{
	pgm_test_reset();
	pgm_call *c = pgm_test_call("x", "y", 0);
	pgm_http_request req = { .method = "GET", .url = "http://nowhere.test/a" };
	pgm_http_response resp;
	CU_ASSERT_EQUAL(pgm_http_send(c, &req, &resp), -1);
	pgm_http_response_free(&resp);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(c), "test.no_answer");
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(c), "GET http://nowhere.test/a"));
	pgm_test_call_free(c);
	c = pgm_test_call("x", "y", 0);
	pgm_test_http_answer("GET", "http://down.test/", 0, NULL, NULL);
	req.url = "http://down.test/";
	CU_ASSERT_EQUAL(pgm_http_send(c, &req, &resp), -1);
	pgm_http_response_free(&resp);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(c), "http.connect");
	CU_ASSERT(pgm_error_retryable(c));
	pgm_test_call_free(c);
}

/* the test host: deadline, run id, checkpoints, logs, progress, unknown function */
static void test_call_context(void)
{
	pgm_test_reset();
	pgm_call *c = pgm_test_call("x", "y", 50);
	long long left = pgm_remaining_ms(c);
	CU_ASSERT(left > 0 && left <= 50);
	CU_ASSERT_EQUAL(pgm_sleep_ms(c, 5000), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(c), "pgmove.timeout");
	pgm_test_call_free(c);

	c = pgm_test_call("x", "y", 0);
	CU_ASSERT_PTR_NULL(pgm_call_run_id(c));
	pgm_test_call_set_run(c, "run-7", "copy", 3);
	CU_ASSERT_STRING_EQUAL(pgm_call_run_id(c), "run-7");
	CU_ASSERT_STRING_EQUAL(pgm_call_step(c), "copy");
	CU_ASSERT_EQUAL(pgm_call_attempt(c), 3);
	json_t *cp = json_pack("{s:i}", "next", 42);
	pgm_test_call_set_checkpoint(c, cp);
	CU_ASSERT(json_equal(pgm_checkpoint_get(c), cp));
	json_t *cp2 = json_pack("{s:i}", "next", 43);
	CU_ASSERT_EQUAL(pgm_checkpoint_save(c, cp2), 0);
	CU_ASSERT(json_equal(pgm_checkpoint_get(c), cp2));
	CU_ASSERT_EQUAL(pgm_test_checkpoint_saves(), 1);
	json_decref(cp);
	json_decref(cp2);

	pgm_warn("chunk %d of %d failed once", 3, 9);
	CU_ASSERT_EQUAL(pgm_test_log_contains("WARN"), 1);
	CU_ASSERT_EQUAL(pgm_test_log_contains("chunk 3 of 9 failed once"), 1);
	pgm_secret_add("s3cr3t-value");
	pgm_info("password is s3cr3t-value");
	CU_ASSERT_EQUAL(pgm_test_log_contains("s3cr3t-value"), 0);
	CU_ASSERT(pgm_test_secret_registered("s3cr3t-value"));
	CU_ASSERT_FALSE(pgm_test_secret_registered("not-registered"));

	pgm_progress(c, 5, 10, "rows", "copying");
	double done = 0, total = 0;
	const char *unit = NULL;
	CU_ASSERT(pgm_test_progress_last(&done, &total, &unit, NULL));
	CU_ASSERT(done == 5 && total == 10);
	CU_ASSERT_STRING_EQUAL(unit, "rows");

	CU_ASSERT_PTR_NULL(pgm_test_invoke(PD, "no_such", c, NULL));
	CU_ASSERT_STRING_EQUAL(pgm_error_code(c), "test.unknown_function");
	pgm_test_call_free(c);
	pgm_test_reset();
	CU_ASSERT_EQUAL(pgm_test_log_count(), 0);
	CU_ASSERT_FALSE(pgm_test_secret_registered("s3cr3t-value"));
}


/* invoke_fails - invokes fn of plugin with the JSON text args and asserts
 * that the call fails with code and a message containing text, without a
 * request sent. */
static void invoke_fails(const pgm_plugin *plugin, const char *fn, const char *args,
			 const char *code, const char *text)
{
	pgm_test_reset();
	pgm_test_http_answer("POST", "*", 202, "{\"status\":\"success\"}", NULL);
	pgm_call *c = pgm_test_call(plugin->name, fn, 5000);
	json_t *a = json_loads(args, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NULL(pgm_test_invoke(plugin, fn, c, a));
	CU_ASSERT_STRING_EQUAL(pgm_error_code(c) ? pgm_error_code(c) : "(none)", code);
	if (!pgm_error_message(c) || !strstr(pgm_error_message(c), text))
		fprintf(stderr, "\n  message: %s\n  wanted: %s\n", pgm_error_message(c), text);
	CU_ASSERT_PTR_NOT_NULL(pgm_error_message(c) ? strstr(pgm_error_message(c), text) : NULL);
	CU_ASSERT_EQUAL(pgm_test_http_count(), 0);
	json_decref(a);
	pgm_test_call_free(c);
}

/* the test host applies pgmove's checks of arguments (the loader's code):
 * unknown names, types, allowed values, limits, required ones; the
 * function does not run */
static void test_args_checked(void)
{
	invoke_fails(PD, "trigger",
		     "{\"routing_key\":\"" KEY "\",\"summary\":\"s\",\"source\":\"h\",\"colour\":1}",
		     "args.invalid",
		     "pagerduty.trigger: unknown argument 'colour' (arguments: routing_key, url,");
	invoke_fails(PD, "trigger",
		     "{\"routing_key\":\"" KEY "\",\"summary\":\"s\",\"source\":\"h\",\"attempts\":\"x\"}",
		     "args.invalid", "pagerduty.trigger: argument 'attempts' must be an integer");
	invoke_fails(PD, "trigger",
		     "{\"routing_key\":\"" KEY "\",\"summary\":\"s\",\"source\":\"h\",\"severity\":\"fatal\"}",
		     "args.invalid",
		     "argument 'severity' must be one of critical, error, warning, info (not \"fatal\")");
	invoke_fails(PD, "trigger",
		     "{\"routing_key\":\"" KEY "\",\"summary\":\"s\",\"source\":\"h\",\"attempts\":50}",
		     "args.invalid", "argument 'attempts' must be at most 20 (not 50)");
	invoke_fails(PD, "trigger", "{\"routing_key\":\"" KEY "\",\"source\":\"h\"}", "args.invalid",
		     "pagerduty.trigger: argument 'summary' is required");
	invoke_fails(HTTP, "request", "{\"url\":\"http://x.test/\",\"timeout\":\"soon\"}",
		     "args.invalid", "http.request: argument 'timeout' must be a duration");
}

static json_t *bad_fn(pgm_call *call, json_t *args)
{
	(void)args;
	return pgm_fail(call, "test.ran", 0, "a bad descriptor's function ran");
}

static int bad_configure(pgm_call *call, json_t *config)
{
	(void)call;
	(void)config;
	return 0;
}

/* the test host checks a descriptor as pgmove's loader does before its
 * first use: an unknown type, a default that breaks its limits, a
 * configuration table without configure */
static void test_descriptor_checked(void)
{
	static const pgm_param int_params[] = { { "n", "int", 0, 0, "n" }, { NULL, NULL, 0, 0, NULL } };
	static const pgm_function int_fns[] = { { "f", bad_fn, 0, "f", int_params },
						{ NULL, NULL, 0, NULL, NULL } };
	static const pgm_plugin badtype = { .abi = PGMOVE_PLUGIN_ABI, .name = "badtype",
					    .functions = int_fns };
	static const pgm_param lim_params[] = { { "n", "integer", 0, 0, "n", "50", "1", "20" },
						{ NULL, NULL, 0, 0, NULL } };
	static const pgm_function lim_fns[] = { { "f", bad_fn, 0, "f", lim_params },
						{ NULL, NULL, 0, NULL, NULL } };
	static const pgm_plugin baddflt = { .abi = PGMOVE_PLUGIN_ABI, .name = "baddflt",
					    .functions = lim_fns };
	static const pgm_param cfg_params[] = { { "k", "string", 0, 0, "k" },
						{ NULL, NULL, 0, 0, NULL } };
	static const pgm_function ok_fns[] = { { "f", bad_fn, 0, "f", NULL },
					       { NULL, NULL, 0, NULL, NULL } };
	static const pgm_plugin noconf = { .abi = PGMOVE_PLUGIN_ABI, .name = "noconf",
					   .functions = ok_fns, .config = cfg_params };
	static const pgm_plugin badcfg = { .abi = PGMOVE_PLUGIN_ABI, .name = "badcfg",
					   .functions = ok_fns, .configure = bad_configure,
					   .config = int_params };
	static const pgm_plugin oldabi = { .abi = 3, .name = "oldabi", .functions = ok_fns };
	static const struct {
		const pgm_plugin *p;
		const char *msg;
	} cases[] = {
		{ &badtype, "plugin badtype: (test host): f: parameter n has type 'int'" },
		{ &baddflt, "plugin baddflt: (test host): f: parameter n: default 50 must be at most 20" },
		{ &noconf, "plugin noconf: (test host): has a configuration table (config) but no "
			   "configure function" },
		{ &badcfg, "plugin badcfg: (test host): configuration: parameter n has type 'int'" },
		{ &oldabi, "plugin oldabi was built for plugin ABI 3" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pgm_test_reset();
		pgm_call *c = pgm_test_call(cases[i].p->name, "f", 0);
		CU_ASSERT_PTR_NULL(pgm_test_invoke(cases[i].p, "f", c, NULL));
		CU_ASSERT_STRING_EQUAL(pgm_error_code(c), "test.bad_plugin");
		if (!strstr(pgm_error_message(c), cases[i].msg))
			fprintf(stderr, "\n  message: %s\n  wanted: %s\n", pgm_error_message(c),
				cases[i].msg);
		CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(c), cases[i].msg));
		pgm_test_call_free(c);
	}
	/* configure on a plugin without one */
	pgm_test_reset();
	pgm_call *c = pgm_test_call("x", "configure", 0);
	static const pgm_plugin plain = { .abi = PGMOVE_PLUGIN_ABI, .name = "plain",
					  .functions = ok_fns };
	CU_ASSERT_EQUAL(pgm_test_configure(&plain, c, NULL), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(c), "test.no_configure");
	pgm_test_call_free(c);
}

/* configure_with - pgm_test_configure(plugin, JSON text); returns its
 * result and leaves the error in *code / *msg (copied into the buffers). */
static int configure_with(const pgm_plugin *plugin, const char *text, char *msg, size_t len)
{
	pgm_call *c = pgm_test_call(plugin->name, "configure", 5000);
	pgm_test_call_set_run(c, "run-1", NULL, 0);
	json_t *cfg = json_loads(text, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	json_t *before = json_deep_copy(cfg);
	int rc = pgm_test_configure(plugin, c, cfg);
	CU_ASSERT(json_equal(cfg, before)); /* borrowed, not changed */
	snprintf(msg, len, "%s: %s", pgm_error_code(c) ? pgm_error_code(c) : "",
		 pgm_error_message(c) ? pgm_error_message(c) : "");
	json_decref(before);
	json_decref(cfg);
	pgm_test_call_free(c);
	return rc;
}

/* pagerduty's configuration: checked by the host's code (unknown keys,
 * types, allowed values, limits) and by the plugin (the key's length); a
 * configured endpoint, key, source and component serve every call, a
 * call's own arguments win; the key is a registered secret */
static void test_pagerduty_config(void)
{
	char msg[1024];
	pgm_test_reset();
	CU_ASSERT_EQUAL(configure_with(PD, "{\"colour\":\"red\"}", msg, sizeof(msg)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "args.invalid: plugin pagerduty { ... }: unknown key "
					   "'colour' (keys: url, routing_key, source,"));
	CU_ASSERT_EQUAL(configure_with(PD, "{\"attempts\":\"many\"}", msg, sizeof(msg)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "key 'attempts' must be an integer"));
	CU_ASSERT_EQUAL(configure_with(PD, "{\"severity\":\"fatal\"}", msg, sizeof(msg)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "key 'severity' must be one of critical, error"));
	CU_ASSERT_EQUAL(configure_with(PD, "{\"timeout\":\"1h\"}", msg, sizeof(msg)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "key 'timeout' must be at most 10m"));
	CU_ASSERT_EQUAL(configure_with(PD, "{\"routing_key\":\"tooshort-key\"}", msg, sizeof(msg)),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "routing_key must be the 32-character integration key"));
	CU_ASSERT_PTR_NULL(strstr(msg, "tooshort-key"));

	pgm_test_reset();
	CU_ASSERT_EQUAL(configure_with(PD,
				       "{\"url\":\"http://eu.pd.test\",\"routing_key\":\"" KEY
				       "\",\"source\":\"aurora-1\",\"component\":\"replication\","
				       "\"severity\":\"warning\"}",
				       msg, sizeof(msg)),
			0);
	CU_ASSERT(pgm_test_secret_registered(KEY));
	pgm_test_http_answer("POST", "http://eu.pd.test/v2/enqueue", 202,
			     "{\"status\":\"success\",\"dedup_key\":\"k1\"}", NULL);
	pgm_test_http_answer("POST", "http://eu.pd.test/v2/change/enqueue", 202,
			     "{\"status\":\"success\"}", NULL);
	pgm_call *c = pgm_test_call("pagerduty", "trigger", 5000);
	json_t *args = json_pack("{s:s}", "summary", "lag over 60s");
	json_t *res = pgm_test_invoke(PD, "trigger", c, args);
	CU_ASSERT_PTR_NOT_NULL(res);
	json_t *ev = json_loads(json_string_value(json_object_get(pgm_test_http_request(0), "body")),
				0, NULL);
	json_t *pl = json_object_get(ev, "payload");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "routing_key")), KEY);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pl, "source")), "aurora-1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pl, "component")), "replication");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pl, "severity")), "warning");
	json_decref(ev);
	json_decref(res);
	json_decref(args);
	/* the call's own source wins; a change event takes the configured key and source only */
	args = json_pack("{s:s, s:s}", "summary", "cutover", "source", "aurora-2");
	res = pgm_test_invoke(PD, "change", c, args);
	CU_ASSERT_PTR_NOT_NULL(res);
	CU_ASSERT_EQUAL(pgm_test_http_count(), 2);
	ev = json_loads(json_string_value(json_object_get(pgm_test_http_request(1), "body")), 0,
			NULL);
	pl = json_object_get(ev, "payload");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pl, "source")), "aurora-2");
	CU_ASSERT_PTR_NULL(json_object_get(pl, "component"));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pgm_test_http_request(1), "url")),
			       "http://eu.pd.test/v2/change/enqueue");
	json_decref(ev);
	json_decref(res);
	json_decref(args);
	pgm_test_call_free(c);
	/* an empty configuration: no defaults again */
	CU_ASSERT_EQUAL(configure_with(PD, "{}", msg, sizeof(msg)), 0);
	invoke_fails(PD, "trigger", "{\"summary\":\"s\",\"source\":\"h\"}", "args.invalid",
		     "routing_key is required (in the call or the plugin's configuration)");
}

/* http's configuration: relative URLs against base_url, hosts outside
 * allowed_hosts refused before sending, default headers and token (a
 * secret), a call's own header winning, the default timeout checked */
static void test_http_config(void)
{
	char msg[1024];
	pgm_test_reset();
	CU_ASSERT_EQUAL(configure_with(HTTP, "{\"allowed_hosts\":\"flags.test\"}", msg, sizeof(msg)),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "plugin http { ... }: key 'allowed_hosts' must be an array"));
	CU_ASSERT_EQUAL(configure_with(HTTP, "{\"timeout\":\"soon\"}", msg, sizeof(msg)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "key 'timeout' must be a duration"));
	CU_ASSERT_EQUAL(configure_with(HTTP, "{\"base_url\":\"ftp://flags.test\"}", msg, sizeof(msg)),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "base_url 'ftp://flags.test' is not an http"));
	CU_ASSERT_EQUAL(configure_with(HTTP, "{\"allowed_hosts\":[\"http://flags.test/\"]}", msg,
				       sizeof(msg)),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "allowed_hosts[1] must be a host name"));

	pgm_test_reset();
	CU_ASSERT_EQUAL(configure_with(HTTP,
				       "{\"base_url\":\"http://flags.test/api/\",\"allowed_hosts\":"
				       "[\"flags.test\",\"*.hooks.test\"],\"headers\":{\"X-Team\":"
				       "\"db\",\"X-Api-Key\":\"k3y-v4lue-123\"},\"token\":"
				       "\"t0ken-v4lue-456\",\"timeout\":\"3s\"}",
				       msg, sizeof(msg)),
			0);
	CU_ASSERT(pgm_test_secret_registered("t0ken-v4lue-456"));
	pgm_test_http_answer("GET", "http://flags.test/api/v1/flags/x", 200, "{\"value\":true}",
			     NULL);
	pgm_test_http_answer("POST", "https://a.hooks.test/*", 200, "ok", NULL);
	pgm_call *c = pgm_test_call("http", "request", 5000);
	json_t *args = json_pack("{s:s, s:{s:s}}", "url", "v1/flags/x", "headers", "x-team", "web");
	json_t *res = pgm_test_invoke(HTTP, "request", c, args);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(res, "url")),
			       "http://flags.test/api/v1/flags/x");
	json_t *hdrs = json_object_get(pgm_test_http_request(0), "headers");
	char all[2048] = "";
	size_t i, used = 0;
	json_t *h;
	json_array_foreach(hdrs, i, h)
	used += (size_t)snprintf(all + used, sizeof(all) - used, "%s|", json_string_value(h));
	CU_ASSERT_PTR_NOT_NULL(strstr(all, "x-team: web|"));
	CU_ASSERT_PTR_NULL(strstr(all, "X-Team: db"));
	CU_ASSERT_PTR_NOT_NULL(strstr(all, "X-Api-Key: k3y-v4lue-123|"));
	CU_ASSERT_PTR_NOT_NULL(strstr(all, "Authorization: Bearer t0ken-v4lue-456|"));
	CU_ASSERT(pgm_test_secret_registered("k3y-v4lue-123"));
	json_decref(res);
	json_decref(args);
	args = json_pack("{s:s, s:s}", "url", "https://a.hooks.test/T0/B1", "text", "hi");
	res = pgm_test_invoke(HTTP, "webhook", c, args);
	CU_ASSERT_PTR_NOT_NULL(res);
	json_decref(res);
	json_decref(args);
	pgm_test_call_free(c);
	CU_ASSERT_EQUAL(pgm_test_http_count(), 2);
	invoke_fails(HTTP, "request", "{\"url\":\"http://evil.test/x\"}", "http.host_not_allowed",
		     "http://evil.test/x: host evil.test is not in the configuration's allowed_hosts");
	invoke_fails(HTTP, "request", "{\"url\":\"http://hooks.test.evil.test/\"}",
		     "http.host_not_allowed", "host hooks.test.evil.test is not in");
	invoke_fails(HTTP, "health", "{\"url\":\"http://flags.test@evil.test/\"}",
		     "http.host_not_allowed", "host evil.test is not in");
	CU_ASSERT_EQUAL(configure_with(HTTP, "{}", msg, sizeof(msg)), 0);
	invoke_fails(HTTP, "request", "{\"url\":\"/v1/flags/x\"}", "args.invalid",
		     "url '/v1/flags/x' is relative and the plugin's configuration has no base_url");
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("plugin-test host", NULL, NULL);
	CU_add_test(s, "pagerduty.trigger sends the documented event", test_trigger);
	CU_add_test(s, "pagerduty: a 400 is a refusal", test_refused);
	CU_add_test(s, "pagerduty: 429 is retried and reported", test_throttled_then_ok);
	CU_add_test(s, "an unanswered URL fails the call", test_no_answer);
	CU_add_test(s, "deadline, run, checkpoints, logs, secrets, progress", test_call_context);
	CU_add_test(s, "arguments get pgmove's checks", test_args_checked);
	CU_add_test(s, "descriptors get pgmove's load-time checks", test_descriptor_checked);
	CU_add_test(s, "pagerduty's run-wide configuration", test_pagerduty_config);
	CU_add_test(s, "http's run-wide configuration", test_http_config);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
