/*
 * tests/unit/test_plugin_mock.c - our plugins' unit tests on the test host
 * of <pgmove/plugin-test.h>, as a vendor would write them: the pagerduty
 * plugin's source linked with libpgmove, HTTP answered from a table, logs,
 * secrets and requests asserted; the test host's own promises (deadline,
 * run id, checkpoints handed back, unknown URLs and functions failing).
 * Built with the public include path only.
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <pgmove/plugin-test.h>

extern const pgm_plugin pagerduty_LTX_pgmove_plugin;
#define PD (&pagerduty_LTX_pgmove_plugin)
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
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
