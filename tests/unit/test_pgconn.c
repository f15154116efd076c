/* tests/unit/test_pgconn.c - the PostgreSQL wrapper against a real server.
 * test_pgconn.sh starts the server and passes PGMOVE_TEST_CONNINFO (with a
 * password; SCRAM over TCP) and PGMOVE_TEST_BADPORT (nothing listens). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "host.h"
#include "cu_host.h"

static const char *conninfo;

static pgm_pg *connect_ok(pgm_call *call)
{
	pgm_pg *pg = pgm_pg_connect(call, conninfo, "test");

	if (pg == NULL)
		fprintf(stderr, "connect: %s: %s\n", pgm_error_code(call), pgm_error_message(call));
	return pg;
}

static void test_connect(void)
{
	pgm_call *call = pgm_call_new("t", "pg");
	pgm_pg *pg = connect_ok(call);
	json_t *rows;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	CU_ASSERT_PTR_NOT_NULL(pgm_pg_conn(pg));
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_pg_describe(pg), "host=127.0.0.1 port="));
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_pg_describe(pg), "user=pgmove_test"));
	CU_ASSERT_PTR_NULL(strstr(pgm_pg_describe(pg), "password"));
	CU_ASSERT(pgm_secret_count() >= 1); /* the password was registered */
	rows = pgm_pg_query_json(call, pg, "select current_setting('application_name') as app", 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rows);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(rows, 0), "app")),
			       "pgmove/test");
	json_decref(rows);
	CU_ASSERT_EQUAL(pgm_pg_command(call, pg, "create temp table t (id int)", 0, NULL), 0);
	CU_ASSERT_STRING_EQUAL(pgm_pg_sqlstate(pg), "");
	pgm_pg_close(pg);
	pgm_pg_close(NULL);
	pgm_call_free(call);
}

static void test_types(void)
{
	pgm_call *call = pgm_call_new("t", "pg");
	pgm_pg *pg = connect_ok(call);
	const char *params[] = {"param value", NULL};
	json_t *rows, *r;
	char *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	rows = pgm_pg_query_json(call, pg,
				 "select 1::int2 a, 2::int4 b, 9007199254740993::int8 c, 26::oid d,"
				 " 1.5::float4 e, 2.25::float8 f, 'NaN'::float8 g, '-Infinity'::float8 h,"
				 " true i, false j, '{\"x\":[1,2]}'::json k, '{\"y\": null}'::jsonb l,"
				 " null::int m, 12345678901234567890.123456789::numeric n, $1::text o,"
				 " $2::text p, '2026-11-21'::date q, '\"str\"'::jsonb r",
				 2, params);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rows);
	CU_ASSERT_EQUAL(json_array_size(rows), 1);
	r = json_array_get(rows, 0);
	s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	CU_ASSERT_STRING_EQUAL(s,
			       "{\"a\":1,\"b\":2,\"c\":9007199254740993,\"d\":26,\"e\":1.5,\"f\":2.25,"
			       "\"g\":\"NaN\",\"h\":\"-Infinity\",\"i\":true,\"j\":false,"
			       "\"k\":{\"x\":[1,2]},\"l\":{\"y\":null},\"m\":null,"
			       "\"n\":\"12345678901234567890.123456789\",\"o\":\"param value\","
			       "\"p\":null,\"q\":\"2026-11-21\",\"r\":\"str\"}");
	if (s && strstr(s, "\"a\":1,") == NULL)
		fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(rows);
	rows = pgm_pg_query_json(call, pg, "select 1 where false", 0, NULL);
	CU_ASSERT(json_is_array(rows) && json_array_size(rows) == 0);
	json_decref(rows);
	pgm_pg_close(pg);
	pgm_call_free(call);
}

static void test_errors(void)
{
	pgm_call *call = pgm_call_new("t", "pg");
	pgm_pg *pg = connect_ok(call), *killer;
	const char *params[1];
	char pid[32];
	PGresult *res;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	res = pgm_pg_exec(call, pg, "selec 1", 0, NULL);
	CU_ASSERT_PTR_NULL(res);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pg.42601");
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), "syntax error at or near \"selec\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), pgm_pg_describe(pg)));
	CU_ASSERT_EQUAL(pgm_error_retryable(call), 0);
	CU_ASSERT_STRING_EQUAL(pgm_pg_sqlstate(pg), "42601");
	pgm_clear_error(call);
	/* the connection is still good */
	res = pgm_pg_exec(call, pg, "select 42", 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 0, 0), "42");
	PQclear(res);
	CU_ASSERT_EQUAL(pgm_pg_command(call, pg, "select 1/0", 0, NULL), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pg.22012");
	pgm_clear_error(call);

	/* the server ends the session: "pg.connection", retryable */
	killer = connect_ok(call);
	CU_ASSERT_PTR_NOT_NULL_FATAL(killer);
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(pgm_pg_conn(pg)));
	params[0] = pid;
	CU_ASSERT_EQUAL(pgm_pg_command(call, killer, "select pg_terminate_backend($1::int)", 1, params), 0);
	usleep(100 * 1000);
	CU_ASSERT_EQUAL(pgm_pg_command(call, pg, "select 1", 0, NULL), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pg.connection");
	CU_ASSERT_EQUAL(pgm_error_retryable(call), 1);
	pgm_pg_close(killer);
	pgm_pg_close(pg);
	pgm_call_free(call);
}

static void test_bad_connect(void)
{
	pgm_call *call = pgm_call_new("t", "pg");
	char *bad = NULL;
	const char *badport = getenv("PGMOVE_TEST_BADPORT");
	long long t0;
	pgm_pg *pg;

	/* a wrong password: no password in the message, not retried */
	CU_ASSERT(asprintf(&bad, "%s password=WrongPassw0rd", conninfo) > 0);
	t0 = pgm_now_ms();
	pg = pgm_pg_connect(call, bad, "test");
	CU_ASSERT_PTR_NULL(pg);
	CU_ASSERT(pgm_now_ms() - t0 < 8000); /* retries would go on for 10 s */
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pg.28P01");
	CU_ASSERT_EQUAL(pgm_error_retryable(call), 0);
	CU_ASSERT_PTR_NULL(strstr(pgm_error_message(call), "WrongPassw0rd"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), "password authentication failed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), "host=127.0.0.1"));
	free(bad);
	pgm_clear_error(call);

	/* connection refused: retried until the deadline, then pg.connect */
	CU_ASSERT_PTR_NOT_NULL_FATAL(badport);
	CU_ASSERT(asprintf(&bad, "host=127.0.0.1 port=%s dbname=x user=y password=Secr3tPw", badport) > 0);
	t0 = pgm_now_ms();
	pgm_call_set_deadline_ms(call, t0 + 1200);
	pg = pgm_pg_connect(call, bad, "test");
	CU_ASSERT_PTR_NULL(pg);
	CU_ASSERT(pgm_now_ms() - t0 >= 500 && pgm_now_ms() - t0 < 3000);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pg.connect");
	CU_ASSERT_EQUAL(pgm_error_retryable(call), 1);
	CU_ASSERT_PTR_NULL(strstr(pgm_error_message(call), "Secr3tPw"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), "dbname=x user=y"));
	free(bad);
	pgm_call_free(call);
}

/* STOP_MS - how soon a cancelled pg_sleep(60) must have stopped: far less
 * than its 60 s, with room for a loaded machine (the cancel request is a
 * new connection to the server, and the wait for it scales with how long
 * connecting took: pgconn.c cancel_wait_ms). */
#define STOP_MS 15000

static void *cancel_later(void *arg)
{
	usleep(300 * 1000);
	pgm_cancel_request(0);
	return NULL;
}

static void test_cancel(void)
{
	pgm_call *call = pgm_call_new("t", "pg");
	pgm_pg *pg = connect_ok(call);
	long long t0;
	pthread_t t;
	json_t *rows;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	/* the deadline */
	t0 = pgm_now_ms();
	pgm_call_set_deadline_ms(call, t0 + 400);
	CU_ASSERT_EQUAL(pgm_pg_command(call, pg, "select pg_sleep(60)", 0, NULL), -1);
	CU_ASSERT(pgm_now_ms() - t0 < STOP_MS);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.timeout");
	CU_ASSERT_FALSE(pgm_pg_busy(pg));
	pgm_clear_error(call);
	pgm_call_set_deadline_ms(call, 0);
	if (pgm_pg_conn(pg) == NULL) {
		/* on a loaded machine the cancel request can outlast the cancel
		 * wait, and the connection is dropped (as documented): reconnect */
		fprintf(stderr, "test_cancel: the connection was dropped after the deadline\n");
		pgm_pg_close(pg);
		pg = connect_ok(call);
		CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	}
	/* Ctrl-C from elsewhere */
	pthread_create(&t, NULL, cancel_later, NULL);
	t0 = pgm_now_ms();
	CU_ASSERT_EQUAL(pgm_pg_command(call, pg, "select pg_sleep(60)", 0, NULL), -1);
	CU_ASSERT(pgm_now_ms() - t0 < STOP_MS);
	pthread_join(t, NULL);
	if (strcmp(pgm_error_code(call) ? pgm_error_code(call) : "", "pgmove.cancelled") != 0)
		fprintf(stderr, "test_cancel: Ctrl-C gave %s: %s\n", pgm_error_code(call),
			pgm_error_message(call));
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.cancelled");
	pgm_cancel_reset();
	pgm_clear_error(call);
	/* still usable, and the server really stopped the statement */
	rows = pgm_pg_query_json(call, pg,
				 "select count(*) as n from pg_stat_activity where query like 'select pg_sleep(60)%' and state = 'active'",
				 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rows);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
	json_decref(rows);
	pgm_pg_close(pg);
	pgm_call_free(call);
}

static void test_parallel(void)
{
	pgm_call *call = pgm_call_new("t", "pg");
	pgm_pg *pgs[3];
	static const char *const sleeps[3] = {"0.6", "0.2", "0.4"};
	int order[3], i;
	long long t0;

	for (i = 0; i < 3; i++) {
		pgs[i] = connect_ok(call);
		CU_ASSERT_PTR_NOT_NULL_FATAL(pgs[i]);
	}
	t0 = pgm_now_ms();
	for (i = 0; i < 3; i++) {
		const char *p[1] = {sleeps[i]};

		CU_ASSERT_EQUAL(pgm_pg_send(call, pgs[i], "select $1::float8 as s, pg_sleep($1::float8)", 1, p), 0);
		CU_ASSERT(pgm_pg_busy(pgs[i]));
	}
	CU_ASSERT_EQUAL(pgm_pg_send(call, pgs[0], "select 1", 0, NULL), -1); /* one at a time */
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pg.busy");
	pgm_clear_error(call);
	for (i = 0; i < 3; i++) {
		PGresult *res;
		int k = pgm_pg_wait_any(call, pgs, 3);

		CU_ASSERT_FATAL(k >= 0 && k < 3);
		order[i] = k;
		res = pgm_pg_result(call, pgs[k]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(res);
		CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 0, 0), sleeps[k]);
		PQclear(res);
		CU_ASSERT_FALSE(pgm_pg_busy(pgs[k]));
	}
	CU_ASSERT_EQUAL(order[0], 1);
	CU_ASSERT_EQUAL(order[1], 2);
	CU_ASSERT_EQUAL(order[2], 0);
	CU_ASSERT(pgm_now_ms() - t0 < 1100); /* in parallel, not 1.2 s in a row */
	/* nothing left to wait for */
	CU_ASSERT_EQUAL(pgm_pg_wait_any(call, pgs, 3), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pg.busy");
	pgm_clear_error(call);

	/* cancellation reaches every busy connection */
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(pgm_pg_send(call, pgs[i], "select pg_sleep(60)", 0, NULL), 0);
	t0 = pgm_now_ms();
	pgm_call_set_deadline_ms(call, t0 + 300);
	CU_ASSERT_EQUAL(pgm_pg_wait_any(call, pgs, 3), -1);
	CU_ASSERT(pgm_now_ms() - t0 < STOP_MS);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.timeout");
	for (i = 0; i < 3; i++) {
		CU_ASSERT_FALSE(pgm_pg_busy(pgs[i]));
		pgm_pg_close(pgs[i]);
	}
	pgm_call_free(call);
}

static void test_quote(void)
{
	pgm_call *call = pgm_call_new("t", "pg");
	pgm_pg *pg = connect_ok(call);
	char *q;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	q = pgm_pg_quote_ident(pg, "Order");
	CU_ASSERT_STRING_EQUAL(q, "\"Order\"");
	free(q);
	q = pgm_pg_quote_ident(pg, "a\"b");
	CU_ASSERT_STRING_EQUAL(q, "\"a\"\"b\"");
	free(q);
	q = pgm_pg_quote_ident(NULL, "a\"b");
	CU_ASSERT_STRING_EQUAL(q, "\"a\"\"b\"");
	free(q);
	pgm_pg_close(pg);
	pgm_call_free(call);
}

int main(void)
{
	static const cu_test tests[] = {
		{"connect, describe, application_name", test_connect},
		{"query_json types", test_types},
		{"errors: SQLSTATE, lost connection", test_errors},
		{"wrong password, refused connection", test_bad_connect},
		{"cancel a running statement", test_cancel},
		{"send / wait_any on 3 connections", test_parallel},
		{"quote_ident", test_quote},
		{NULL, NULL}};
	int rc;

	conninfo = getenv("PGMOVE_TEST_CONNINFO");
	if (conninfo == NULL) {
		fprintf(stderr, "test_pgconn: PGMOVE_TEST_CONNINFO is not set (run test_pgconn.sh)\n");
		return 77;
	}
	rc = cu_run("pgconn", tests);
	pgm_secret_reset();
	return rc;
}
