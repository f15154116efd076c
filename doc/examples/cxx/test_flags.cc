// test_flags.cc - unit tests of the C++ example on pgmove's test host.
#include <cstdio>
#include <cstring>

#include <pgmove/plugin-test.h>

extern "C" const pgm_plugin flags_LTX_pgmove_plugin;

static int failures;
#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			std::fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                          \
		}                                                                            \
	} while (0)

int main()
{
	pgm_test_reset();
	pgm_test_http_answer("GET", "http://flags.test/flags/read_from_aurora", 200,
			     "{\"enabled\": true, \"percent\": 25}", nullptr);
	pgm_call *c = pgm_test_call("flags", "get", 2000);
	json_t *args = json_pack("{s:s, s:s}", "flag", "read_from_aurora", "url", "http://flags.test");
	json_t *res = pgm_test_invoke(&flags_LTX_pgmove_plugin, "get", c, args);
	CHECK(res != nullptr);
	CHECK(json_is_true(json_object_get(res, "enabled")));
	CHECK(json_integer_value(json_object_get(res, "percent")) == 25);
	json_decref(res);
	json_decref(args);
	pgm_test_call_free(c);

	// an exception inside the plugin is the call's error, not a crash
	c = pgm_test_call("flags", "get", 2000);
	args = json_pack("{s:s}", "flag", "a/b");
	CHECK(pgm_test_invoke(&flags_LTX_pgmove_plugin, "get", c, args) == nullptr);
	CHECK(pgm_error_code(c) && std::strcmp(pgm_error_code(c), "args.invalid") == 0);
	json_decref(args);
	pgm_test_call_free(c);

	// a malformed answer throws std::runtime_error -> flags.error
	pgm_test_http_answer("GET", "http://flags.test/flags/bad", 200, "{\"enabled\": 1}", nullptr);
	c = pgm_test_call("flags", "get", 2000);
	args = json_pack("{s:s, s:s}", "flag", "bad", "url", "http://flags.test");
	CHECK(pgm_test_invoke(&flags_LTX_pgmove_plugin, "get", c, args) == nullptr);
	CHECK(pgm_error_code(c) && std::strcmp(pgm_error_code(c), "flags.error") == 0);
	json_decref(args);
	pgm_test_call_free(c);

	if (failures) {
		std::fprintf(stderr, "test_flags: %d check(s) failed\n", failures);
		return 1;
	}
	std::printf("test_flags: all checks passed\n");
	return 0;
}
