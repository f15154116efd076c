/* tests/unit/test_redact.c - the secret registry, pgm_redact and
 * pgm_redact_json, pgm_conninfo_describe, and that no secret reaches an
 * error message or a log line. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "cu_host.h"

/* redacts - asserts that pgm_redact(text) equals want. */
static void redacts(const char *text, const char *want)
{
	char *r = pgm_redact(text);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r, want);
	if (strcmp(r, want) != 0)
		fprintf(stderr, "redact(%s) = %s, want %s\n", text, r, want);
	free(r);
}

static void test_registered(void)
{
	pgm_secret_reset();
	CU_ASSERT_EQUAL(pgm_secret_count(), 0);
	pgm_secret_add("s3cr3t-token");
	pgm_secret_add("s3cr3t-token"); /* once */
	pgm_secret_add("abc");          /* too short */
	pgm_secret_add(NULL);
	CU_ASSERT_EQUAL(pgm_secret_count(), 1);
	redacts("before s3cr3t-token after", "before ******** after");
	redacts("s3cr3t-tokens3cr3t-token", "****************");
	redacts("no secret here abc", "no secret here abc");
	/* a longer secret containing a shorter one is masked whole */
	pgm_secret_add("xx-s3cr3t-token-yy");
	redacts("[xx-s3cr3t-token-yy]", "[********]");
	pgm_secret_reset();
	redacts("before s3cr3t-token after", "before s3cr3t-token after");
}

static void test_conninfo_text(void)
{
	pgm_secret_reset();
	redacts("host=db1 password=hunter22 user=app", "host=db1 password=******** user=app");
	redacts("host=db1 password = 'a b c' user=app", "host=db1 password = ******** user=app");
	redacts("password='it\\'s' dbname=x", "password=******** dbname=x");
	redacts("PGPASSWORD=hunter22", "PGPASSWORD=********");
	redacts("{\"password\": \"hunter22\", \"user\": \"u\"}",
		"{\"password\": ********, \"user\": \"u\"}");
	redacts("{\"db_password\": {\"secret\": true}, \"x\": [1]}",
		"{\"db_password\": {\"secret\": true}, \"x\": [1]}");
	redacts("\"password\": [\"a\"]", "\"password\": [\"a\"]");
	redacts("password authentication failed for user \"app\"",
		"password authentication failed for user \"app\"");
	redacts("postgresql://u:p4ss@h/db", "postgresql://u:********@h/db");
	redacts("connect postgres://admin:hunter22@db1:5432,db2/app?sslmode=require failed",
		"connect postgres://admin:********@db1:5432,db2/app?sslmode=require failed");
	redacts("postgresql://u@h/db", "postgresql://u@h/db");
	redacts("https://example.com/a:b@c", "https://example.com/a:b@c");
}

static void test_add_conninfo(void)
{
	char *r;

	pgm_secret_reset();
	pgm_secret_add_conninfo("host=db1 user=app password='pa ss word'");
	CU_ASSERT_EQUAL(pgm_secret_count(), 1);
	r = pgm_redact("server said: pa ss word is wrong");
	CU_ASSERT_PTR_NULL(strstr(r, "pa ss word"));
	free(r);
	/* from a URI, percent-decoded as libpq reads it */
	pgm_secret_add_conninfo("postgresql://app:p%40ssw0rd@db1/app");
	CU_ASSERT_EQUAL(pgm_secret_count(), 2);
	r = pgm_redact("echo p@ssw0rd");
	CU_ASSERT_STRING_EQUAL(r, "echo ********");
	free(r);
	pgm_secret_add_conninfo("host=db1 user=app"); /* no password: nothing */
	pgm_secret_add_conninfo("this is = not valid '");
	CU_ASSERT_EQUAL(pgm_secret_count(), 2);
	pgm_secret_reset();
}

static void test_describe(void)
{
	char *d;

	d = pgm_conninfo_describe("host=db1 port=5433 dbname=app user=admin password=hunter22");
	CU_ASSERT_STRING_EQUAL(d, "host=db1 port=5433 dbname=app user=admin");
	free(d);
	d = pgm_conninfo_describe("postgresql://admin:hunter22@db1:5433/app?sslmode=require");
	CU_ASSERT_STRING_EQUAL(d, "host=db1 port=5433 dbname=app user=admin");
	free(d);
	d = pgm_conninfo_describe("dbname='my db'");
	CU_ASSERT_STRING_EQUAL(d, "dbname='my db'");
	free(d);
	d = pgm_conninfo_describe("host=db1 password='unterminated");
	CU_ASSERT_STRING_EQUAL(d, "(invalid connection string)");
	free(d);
}

static void test_json(void)
{
	json_t *in, *out;
	char *s;

	pgm_secret_reset();
	pgm_secret_add("AKIAEXAMPLESECRET");
	in = json_pack("{s:s, s:s, s:{s:s, s:[s, {s:s}]}, s:i, s:s, s:s, s:n, s:s}",
		       "conninfo", "host=db1 password=hunter22",
		       "password", "plain",
		       "nested", "SecretAccessKey", "wJalr", "list", "key AKIAEXAMPLESECRET",
		       "routing_key", "R0UT1NG",
		       "count", 3,
		       "api-token", "tok",
		       "NextToken", "page2",
		       "session_token",
		       "uri", "postgresql://u:pw12@h/db");
	out = pgm_redact_json(in);
	s = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
	CU_ASSERT_STRING_EQUAL(s,
			       "{\"NextToken\":\"page2\",\"api-token\":\"********\","
			       "\"conninfo\":\"host=db1 password=********\",\"count\":3,"
			       "\"nested\":{\"SecretAccessKey\":\"********\",\"list\":[\"key ********\","
			       "{\"routing_key\":\"********\"}]},\"password\":\"********\","
			       "\"session_token\":null,\"uri\":\"postgresql://u:********@h/db\"}");
	free(s);
	/* the input is left alone */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(in, "password")), "plain");
	json_decref(in);
	json_decref(out);
	pgm_secret_reset();
}

/* The log sink collects every line. */
static char *log_seen;

static void sink(void *user, pgm_log_level level, const char *line)
{
	char *n = NULL;

	if (asprintf(&n, "%s%s\n", log_seen ? log_seen : "", line) >= 0) {
		free(log_seen);
		log_seen = n;
	}
}

static void test_never_leaks(void)
{
	pgm_call *call = pgm_call_new("pg", "query");
	json_t *err;
	char *s;

	pgm_secret_reset();
	pgm_secret_add("Tr0ub4dor&3");
	pgm_fail(call, "pg.28P01", 0, "login with %s failed (password=%s)", "Tr0ub4dor&3", "other1");
	CU_ASSERT_PTR_NULL(strstr(pgm_error_message(call), "Tr0ub4dor"));
	CU_ASSERT_PTR_NULL(strstr(pgm_error_message(call), "other1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), "login with ********"));
	err = pgm_call_error_json(call);
	s = json_dumps(err, 0);
	CU_ASSERT_PTR_NULL(strstr(s, "Tr0ub4dor"));
	free(s);
	json_decref(err);

	pgm_log_set_sink(sink, NULL);
	pgm_log_setup(PGM_LOG_FORMAT_PLAIN, PGM_LOG_INFO);
	pgm_log_set_context("step connect");
	pgm_info("using %s and postgresql://a:b1234@h/db", "Tr0ub4dor&3");
	pgm_debug("not shown %s", "at info level");
	CU_ASSERT_PTR_NOT_NULL_FATAL(log_seen);
	CU_ASSERT_PTR_NULL(strstr(log_seen, "Tr0ub4dor"));
	CU_ASSERT_PTR_NULL(strstr(log_seen, "b1234"));
	CU_ASSERT_PTR_NULL(strstr(log_seen, "not shown"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log_seen, " INFO  step connect: using ******** and postgresql://a:********@h/db\n"));
	/* "2026-11-21T07:04:05.123Z INFO  ..." */
	CU_ASSERT(strlen(log_seen) > 24 && log_seen[4] == '-' && log_seen[10] == 'T' &&
		  log_seen[19] == '.' && log_seen[23] == 'Z');
	free(log_seen);
	log_seen = NULL;

	pgm_log_setup(PGM_LOG_FORMAT_JSON, PGM_LOG_DEBUG);
	pgm_warn("json %s", "Tr0ub4dor&3");
	{
		json_t *j = json_loads(log_seen, 0, NULL);

		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "level")), "warning");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "context")), "step connect");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "msg")), "json ********");
		CU_ASSERT_PTR_NOT_NULL(json_object_get(j, "ts"));
		json_decref(j);
	}
	free(log_seen);
	log_seen = NULL;
	pgm_log_set_context(NULL);
	pgm_log_set_sink(NULL, NULL);
	pgm_log_setup(PGM_LOG_FORMAT_AUTO, PGM_LOG_INFO);
	pgm_call_free(call);
	pgm_secret_reset();
}

/* progress goes to the sink with the call's name */
static int progress_calls;
static double progress_done;
static char progress_who[64];

static void progress_sink(void *user, const char *who, double done, double total,
			  const char *unit, const char *label)
{
	progress_calls++;
	progress_done = done;
	snprintf(progress_who, sizeof(progress_who), "%s", who);
}

static void test_progress(void)
{
	pgm_call *call = pgm_call_new("checksum", "compare");
	int i;

	pgm_progress_set_sink(progress_sink, NULL);
	pgm_progress(call, 10, 100, "rows", "public.orders");
	CU_ASSERT_EQUAL(progress_calls, 1);
	CU_ASSERT_EQUAL(progress_done, 10);
	CU_ASSERT_STRING_EQUAL(progress_who, "checksum.compare");
	pgm_progress_set_sink(NULL, NULL);
	/* not a terminal: throttled to one line every 5 s per call */
	pgm_log_set_sink(sink, NULL);
	pgm_log_setup(PGM_LOG_FORMAT_PLAIN, PGM_LOG_INFO);
	for (i = 0; i < 1000; i++)
		pgm_progress(call, i, 1000, "rows", "public.orders");
	CU_ASSERT_PTR_NULL(log_seen); /* the call began less than 5 s ago */
	pgm_call_free(call);
	pgm_log_set_sink(NULL, NULL);
	pgm_log_setup(PGM_LOG_FORMAT_AUTO, PGM_LOG_INFO);
	free(log_seen);
	log_seen = NULL;
}

int main(void)
{
	static const cu_test tests[] = {
		{"registered secrets", test_registered},
		{"password= and user:pass@ in text", test_conninfo_text},
		{"secret_add_conninfo", test_add_conninfo},
		{"conninfo_describe", test_describe},
		{"redact_json", test_json},
		{"no secret in errors or log lines", test_never_leaks},
		{"progress", test_progress},
		{NULL, NULL}};

	return cu_run("redact", tests);
}
