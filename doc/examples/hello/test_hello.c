/*
 * test_hello.c - unit tests of the hello plugin on pgmove's test host
 * (<pgmove/plugin-test.h>): no pgmove program, no network. Built and run by
 * `make test`: cc ... hello.c test_hello.c $(pkg-config --libs pgmove).
 */
#include <stdio.h>
#include <string.h>

#include <pgmove/plugin-test.h>

extern const pgm_plugin hello_LTX_pgmove_plugin;
#define HELLO (&hello_LTX_pgmove_plugin)

static int failures;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                  \
		}                                                                    \
	} while (0)

/* greet with the parameter table's default (shout = false) */
static void test_greet(void)
{
	pgm_test_reset();
	pgm_call *c = pgm_test_call("hello", "greet", 1000);
	json_t *args = json_pack("{s:s}", "name", "vendor");
	json_t *res = pgm_test_invoke(HELLO, "greet", c, args);
	CHECK(res != NULL);
	CHECK(strcmp(json_string_value(json_object_get(res, "message")), "Hello, vendor!") == 0);
	json_decref(res);
	json_decref(args);
	pgm_test_call_free(c);
}

/* http_status answered from the test's table; the token never shows */
static void test_http_status(void)
{
	static const char *const hdrs[] = { "Content-Type: text/plain", NULL };
	pgm_test_reset();
	pgm_test_http_answer("GET", "https://flags.example/health", 200, "ok", hdrs);
	pgm_call *c = pgm_test_call("hello", "http_status", 5000);
	json_t *args = json_pack("{s:s, s:s}", "url", "https://flags.example/health", "token",
				 "tok-0123456789");
	json_t *res = pgm_test_invoke(HELLO, "http_status", c, args);
	CHECK(res != NULL);
	CHECK(json_integer_value(json_object_get(res, "status")) == 200);
	CHECK(strcmp(json_string_value(json_object_get(res, "content_type")), "text/plain") == 0);
	CHECK(pgm_test_http_count() == 1);
	json_t *sent = json_object_get(pgm_test_http_request(0), "headers");
	CHECK(strcmp(json_string_value(json_array_get(sent, 1)), "Authorization: Bearer tok-0123456789") == 0);
	CHECK(pgm_test_secret_registered("tok-0123456789"));
	CHECK(pgm_test_log_contains("tok-0123456789") == 0);
	json_decref(res);
	json_decref(args);
	pgm_test_call_free(c);

	/* a 503 is a retryable failure */
	pgm_test_http_answer("GET", "https://flags.example/down", 503, "", NULL);
	c = pgm_test_call("hello", "http_status", 5000);
	args = json_pack("{s:s}", "url", "https://flags.example/down");
	CHECK(pgm_test_invoke(HELLO, "http_status", c, args) == NULL);
	CHECK(pgm_error_code(c) && strcmp(pgm_error_code(c), "hello.server_error") == 0);
	CHECK(pgm_error_retryable(c));
	json_decref(args);
	pgm_test_call_free(c);
}

/* the test host checks arguments as pgmove does: the function does not run */
static void test_checks(void)
{
	pgm_test_reset();
	pgm_call *c = pgm_test_call("hello", "http_status", 1000);
	json_t *args = json_pack("{s:s, s:s}", "url", "https://flags.example/", "method", "POST");
	CHECK(pgm_test_invoke(HELLO, "http_status", c, args) == NULL);
	CHECK(pgm_error_code(c) && strcmp(pgm_error_code(c), "args.invalid") == 0);
	CHECK(pgm_error_message(c) &&
	      strstr(pgm_error_message(c), "argument 'method' must be one of GET, HEAD"));
	CHECK(pgm_test_http_count() == 0);
	json_decref(args);
	pgm_test_call_free(c);
	c = pgm_test_call("hello", "countdown", 1000);
	args = json_pack("{s:i}", "ticks", -1);
	CHECK(pgm_test_invoke(HELLO, "countdown", c, args) == NULL);
	CHECK(pgm_error_message(c) &&
	      strstr(pgm_error_message(c), "argument 'ticks' must be at least 0"));
	json_decref(args);
	pgm_test_call_free(c);
}

/* the run's configuration: checked by the host, then kept by configure */
static void test_configure(void)
{
	pgm_test_reset();
	pgm_call *c = pgm_test_call("hello", "configure", 1000);
	json_t *cfg = json_pack("{s:s}", "greting", "Hi");
	CHECK(pgm_test_configure(HELLO, c, cfg) == -1);
	CHECK(pgm_error_message(c) && strstr(pgm_error_message(c), "unknown key 'greting'"));
	json_decref(cfg);
	pgm_test_call_free(c);
	c = pgm_test_call("hello", "configure", 1000);
	cfg = json_pack("{s:s, s:s}", "greeting", "Hi", "token", "tok-configured-42");
	CHECK(pgm_test_configure(HELLO, c, cfg) == 0);
	CHECK(pgm_test_secret_registered("tok-configured-42"));
	json_decref(cfg);
	pgm_test_call_free(c);
	c = pgm_test_call("hello", "greet", 1000);
	json_t *args = json_pack("{s:s}", "name", "vendor");
	json_t *res = pgm_test_invoke(HELLO, "greet", c, args);
	CHECK(res && strcmp(json_string_value(json_object_get(res, "message")), "Hi, vendor!") == 0);
	json_decref(res);
	json_decref(args);
	pgm_test_call_free(c);
	/* back to no configuration */
	c = pgm_test_call("hello", "configure", 1000);
	CHECK(pgm_test_configure(HELLO, c, NULL) == 0);
	pgm_test_call_free(c);
}

int main(void)
{
	test_greet();
	test_http_status();
	test_checks();
	test_configure();
	if (failures) {
		fprintf(stderr, "test_hello: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_hello: all checks passed\n");
	return 0;
}
