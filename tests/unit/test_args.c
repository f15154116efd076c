/* tests/unit/test_args.c - the pgm_arg_* helpers and their messages. */
#include <string.h>

#include "host.h"
#include "cu_host.h"

static json_t *args;

/* failed_with - the call failed with args.invalid and a message holding needle. */
static int failed_with(pgm_call *call, const char *needle)
{
	int ok = pgm_failed(call) && strcmp(pgm_error_code(call), "args.invalid") == 0 &&
		 strstr(pgm_error_message(call), needle) != NULL && !pgm_error_retryable(call);

	if (!ok)
		fprintf(stderr, "error %s: %s; wanted \"%s\"\n", pgm_error_code(call),
			pgm_error_message(call), needle);
	pgm_clear_error(call);
	return ok;
}

static void test_string(void)
{
	pgm_call *call = pgm_call_new("t", "f");

	CU_ASSERT_STRING_EQUAL(pgm_arg_string(call, args, "name", NULL, 1), "orders");
	CU_ASSERT_STRING_EQUAL(pgm_arg_string(call, args, "absent", "dflt", 0), "dflt");
	CU_ASSERT_STRING_EQUAL(pgm_arg_string(call, args, "nothing", "dflt", 0), "dflt");
	CU_ASSERT_FALSE(pgm_failed(call));
	CU_ASSERT_PTR_NULL(pgm_arg_string(call, args, "absent", NULL, 1));
	CU_ASSERT(failed_with(call, "argument \"absent\" is required"));
	CU_ASSERT_PTR_NULL(pgm_arg_string(call, args, "jobs", NULL, 1));
	CU_ASSERT(failed_with(call, "argument \"jobs\" must be a string, not an integer"));
	pgm_call_free(call);
}

static void test_int(void)
{
	pgm_call *call = pgm_call_new("t", "f");
	long long v = 0;

	CU_ASSERT_EQUAL(pgm_arg_int(call, args, "jobs", 1, 0, &v), 0);
	CU_ASSERT_EQUAL(v, 4);
	CU_ASSERT_EQUAL(pgm_arg_int(call, args, "four", 1, 0, &v), 0);
	CU_ASSERT_EQUAL(v, 4); /* 4.0 from Lua */
	CU_ASSERT_EQUAL(pgm_arg_int(call, args, "absent", 7, 0, &v), 0);
	CU_ASSERT_EQUAL(v, 7);
	CU_ASSERT_EQUAL(pgm_arg_int(call, args, "absent", 7, 1, &v), -1);
	CU_ASSERT(failed_with(call, "argument \"absent\" is required"));
	CU_ASSERT_EQUAL(pgm_arg_int(call, args, "ratio", 0, 0, &v), -1);
	CU_ASSERT(failed_with(call, "argument \"ratio\" must be an integer, not 0.5"));
	CU_ASSERT_EQUAL(pgm_arg_int(call, args, "name", 0, 0, &v), -1);
	CU_ASSERT(failed_with(call, "argument \"name\" must be an integer, not a string"));
	pgm_call_free(call);
}

static void test_bool_number(void)
{
	pgm_call *call = pgm_call_new("t", "f");
	double d = 0;
	int b = -1;

	CU_ASSERT_EQUAL(pgm_arg_bool(call, args, "flag", 0, &b), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_EQUAL(pgm_arg_bool(call, args, "absent", 1, &b), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_EQUAL(pgm_arg_bool(call, args, "jobs", 0, &b), -1);
	CU_ASSERT(failed_with(call, "argument \"jobs\" must be a boolean, not an integer"));
	CU_ASSERT_EQUAL(pgm_arg_number(call, args, "ratio", 0, 1, &d), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 0.5, 1e-9);
	CU_ASSERT_EQUAL(pgm_arg_number(call, args, "jobs", 0, 1, &d), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 4, 1e-9);
	CU_ASSERT_EQUAL(pgm_arg_number(call, args, "list", 0, 1, &d), -1);
	CU_ASSERT(failed_with(call, "argument \"list\" must be a number, not an array"));
	pgm_call_free(call);
}

static void test_duration(void)
{
	pgm_call *call = pgm_call_new("t", "f");
	long long ms = 0;

	CU_ASSERT_EQUAL(pgm_arg_duration_ms(call, args, "every", 0, 1, &ms), 0);
	CU_ASSERT_EQUAL(ms, 5400000);
	CU_ASSERT_EQUAL(pgm_arg_duration_ms(call, args, "ratio", 0, 1, &ms), 0);
	CU_ASSERT_EQUAL(ms, 500); /* a number is seconds */
	CU_ASSERT_EQUAL(pgm_arg_duration_ms(call, args, "absent", 2500, 0, &ms), 0);
	CU_ASSERT_EQUAL(ms, 2500);
	CU_ASSERT_EQUAL(pgm_arg_duration_ms(call, args, "far", 0, 1, &ms), -1);
	CU_ASSERT(failed_with(call, "argument \"far\": duration \"5 parsecs\": unknown unit \"parsecs\""));
	CU_ASSERT_EQUAL(pgm_arg_duration_ms(call, args, "flag", 0, 1, &ms), -1);
	CU_ASSERT(failed_with(call, "argument \"flag\" must be a duration"));
	/* issue 7: a number of seconds beyond 3650 days is refused */
	{
		pgm_call *c2 = pgm_call_new("t", "f");
		json_t *big = json_pack("{s:f}", "t", 1e15);
		CU_ASSERT_EQUAL(pgm_arg_duration_ms(c2, big, "t", 0, 1, &ms), -1);
		CU_ASSERT(failed_with(c2, "is not a valid number of seconds"));
		json_decref(big);
		pgm_call_free(c2);
	}
	/* the first error wins */
	pgm_arg_duration_ms(call, args, "far", 0, 1, &ms);
	pgm_arg_int(call, args, "name", 0, 0, &ms);
	CU_ASSERT(failed_with(call, "\"far\""));
	pgm_call_free(call);
}

int main(void)
{
	static const cu_test tests[] = {
		{"string", test_string},
		{"int", test_int},
		{"bool and number", test_bool_number},
		{"duration", test_duration},
		{NULL, NULL}};
	int rc;

	args = json_pack("{s:s, s:i, s:f, s:f, s:b, s:[], s:s, s:s, s:n}", "name", "orders",
			 "jobs", 4, "four", 4.0, "ratio", 0.5, "flag", 1, "list", "every",
			 "1h30m", "far", "5 parsecs", "nothing");
	rc = cu_run("args", tests);
	json_decref(args);
	return rc;
}
