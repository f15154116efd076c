/* tests/unit/test_duration.c - pgm_duration_parse / pgm_duration_format. */
#include <string.h>

#include "host.h"
#include "cu_host.h"

static long long parse_ok(const char *text)
{
	char err[256];
	long long ms = -1;

	CU_ASSERT_EQUAL_FATAL(pgm_duration_parse(text, &ms, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	return ms;
}

static void test_parse(void)
{
	CU_ASSERT_EQUAL(parse_ok("250ms"), 250);
	CU_ASSERT_EQUAL(parse_ok("30s"), 30000);
	CU_ASSERT_EQUAL(parse_ok("5m"), 300000);
	CU_ASSERT_EQUAL(parse_ok("1h30m"), 5400000);
	CU_ASSERT_EQUAL(parse_ok("2d"), 172800000);
	CU_ASSERT_EQUAL(parse_ok("1w"), 604800000);
	CU_ASSERT_EQUAL(parse_ok("90"), 90000);
	CU_ASSERT_EQUAL(parse_ok("0"), 0);
	CU_ASSERT_EQUAL(parse_ok("1.5h"), 5400000);
	CU_ASSERT_EQUAL(parse_ok("0.25"), 250);
	CU_ASSERT_EQUAL(parse_ok(" 1h 30m 15s "), 5415000);
	CU_ASSERT_EQUAL(parse_ok("10 minutes"), 600000);
	CU_ASSERT_EQUAL(parse_ok("1H"), 3600000);
	CU_ASSERT_EQUAL(parse_ok("1d2h3m4s5ms"), 93784005);
}

static void parse_bad(const char *text, const char *needle)
{
	char err[256];
	long long ms = 12345;

	CU_ASSERT_EQUAL(pgm_duration_parse(text, &ms, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(ms, 12345); /* untouched */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
	if (strstr(err, needle) == NULL)
		fprintf(stderr, "parse(\"%s\"): error \"%s\" lacks \"%s\"\n", text, err, needle);
}

static void test_errors(void)
{
	parse_bad("5 parsecs", "parsecs");
	parse_bad("5 parsecs", "unknown unit");
	parse_bad("", "empty");
	parse_bad("   ", "empty");
	parse_bad("h", "expected a number");
	parse_bad("-5s", "expected a number");
	parse_bad("1h30", "missing unit");
	parse_bad("1.5.3s", "missing unit after \"1.5\"");
	parse_bad("99999999999999999999s", "too large");
	parse_bad("9223372036854775807s", "too large");
	parse_bad("100000000000w", "too large");
	parse_bad("9000000000000000000ms 9000000000000000000ms", "too large");
	/* issue 7: a duration beyond 3650 days is refused, so now + duration
	 * cannot overflow where it is used */
	parse_bad("3651d", "too large (at most 3650d)");
	parse_bad("9223372036854775807ms", "too large");
	{
		long long ms = 0;
		char err[256];
		CU_ASSERT_EQUAL(pgm_duration_parse("3650d", &ms, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(ms, PGM_DURATION_MAX_MS);
	}
}

static void test_format(void)
{
	char buf[64];
	static const long long values[] = {0,
					   1,
					   250,
					   1000,
					   61000,
					   5400000,
					   86400000,
					   183600000,
					   93784005,
					   604800000,
					   PGM_DURATION_MAX_MS};
	size_t i;

	CU_ASSERT_STRING_EQUAL(pgm_duration_format(0, buf, sizeof(buf)), "0s");
	CU_ASSERT_STRING_EQUAL(pgm_duration_format(250, buf, sizeof(buf)), "250ms");
	CU_ASSERT_STRING_EQUAL(pgm_duration_format(5400000, buf, sizeof(buf)), "1h30m");
	CU_ASSERT_STRING_EQUAL(pgm_duration_format(183600000, buf, sizeof(buf)), "2d3h");
	CU_ASSERT_STRING_EQUAL(pgm_duration_format(1500, buf, sizeof(buf)), "1s500ms");
	CU_ASSERT_STRING_EQUAL(pgm_duration_format(-30000, buf, sizeof(buf)), "-30s");
	/* what format writes, parse reads back */
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char err[256];
		long long back = -1;

		pgm_duration_format(values[i], buf, sizeof(buf));
		CU_ASSERT_EQUAL(pgm_duration_parse(buf, &back, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(back, values[i]);
	}
	/* a short buffer is truncated, never overrun */
	CU_ASSERT_EQUAL(strlen(pgm_duration_format(93784005, buf, 4)), 3);
}

int main(void)
{
	static const cu_test tests[] = {
		{"parse", test_parse},
		{"errors name the bad part", test_errors},
		{"format and round trip", test_format},
		{NULL, NULL}};

	return cu_run("duration", tests);
}
