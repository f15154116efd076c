/* tests/unit/test_call.c - the call's error slot, deadline, cancellation
 * (by request and by signal) and pgm_sleep_ms. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "cu_host.h"

static void test_errors(void)
{
	pgm_call *call = pgm_call_new("rds_snapshot", "create_snapshot");
	pgm_call *host = pgm_call_new(NULL, NULL);
	json_t *e;

	CU_ASSERT_STRING_EQUAL(pgm_call_name(call), "rds_snapshot.create_snapshot");
	CU_ASSERT_STRING_EQUAL(pgm_call_name(host), "");
	CU_ASSERT_FALSE(pgm_failed(call));
	CU_ASSERT_PTR_NULL(pgm_error_code(call));
	CU_ASSERT_PTR_NULL(pgm_call_error_json(call));
	CU_ASSERT_PTR_NULL(pgm_fail(call, "aws.ThrottlingException", 1, "rate exceeded %d", 3));
	pgm_fail(call, "other", 0, "ignored: the first error wins");
	CU_ASSERT(pgm_failed(call));
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "aws.ThrottlingException");
	CU_ASSERT_STRING_EQUAL(pgm_error_message(call), "rate exceeded 3");
	CU_ASSERT_EQUAL(pgm_error_retryable(call), 1);
	e = pgm_call_error_json(call);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "code")), "aws.ThrottlingException");
	CU_ASSERT(json_is_true(json_object_get(e, "retryable")));
	json_decref(e);
	pgm_clear_error(call);
	CU_ASSERT_FALSE(pgm_failed(call));
	pgm_fail(call, "second", 0, "now it sticks");
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "second");
	CU_ASSERT_EQUAL(pgm_error_retryable(call), 0);
	pgm_call_free(call);
	pgm_call_free(host);
	pgm_call_free(NULL);
}

static void test_deadline(void)
{
	pgm_call *call = pgm_call_new("p", "f");
	long long t0;

	CU_ASSERT_EQUAL(pgm_remaining_ms(call), -1);
	CU_ASSERT_FALSE(pgm_cancelled(call));
	CU_ASSERT_EQUAL(pgm_check_cancel(call), 0);
	pgm_call_set_deadline_ms(call, pgm_now_ms() + 200);
	CU_ASSERT(pgm_remaining_ms(call) > 100 && pgm_remaining_ms(call) <= 200);
	t0 = pgm_now_ms();
	CU_ASSERT_EQUAL(pgm_sleep_ms(call, 5000), -1); /* wakes at the deadline */
	CU_ASSERT(pgm_now_ms() - t0 >= 150 && pgm_now_ms() - t0 < 1000);
	CU_ASSERT(pgm_cancelled(call));
	CU_ASSERT_EQUAL(pgm_remaining_ms(call), 0);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.timeout");
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), "p.f: timed out"));
	pgm_call_set_deadline_ms(call, 0);
	pgm_clear_error(call);
	CU_ASSERT_FALSE(pgm_cancelled(call));
	t0 = pgm_now_ms();
	CU_ASSERT_EQUAL(pgm_sleep_ms(call, 120), 0);
	CU_ASSERT(pgm_now_ms() - t0 >= 120);
	pgm_call_free(call);
}

static void *cancel_later(void *arg)
{
	usleep(150 * 1000);
	pgm_cancel_request(0);
	return NULL;
}

static void test_cancel(void)
{
	pgm_call *call = pgm_call_new("p", "f");
	pthread_t t;
	long long t0;

	/* from another thread, while sleeping */
	pthread_create(&t, NULL, cancel_later, NULL);
	t0 = pgm_now_ms();
	CU_ASSERT_EQUAL(pgm_sleep_ms(call, 10000), -1);
	CU_ASSERT(pgm_now_ms() - t0 < 1000);
	pthread_join(t, NULL);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.cancelled");
	CU_ASSERT_EQUAL(pgm_cancel_signal(), 0);
	pgm_cancel_reset();
	pgm_clear_error(call);
	CU_ASSERT_FALSE(pgm_cancelled(call));

	/* by a signal through the installed handlers */
	pgm_cancel_install();
	raise(SIGTERM);
	CU_ASSERT(pgm_cancelled(call));
	CU_ASSERT_EQUAL(pgm_cancel_signal(), SIGTERM);
	CU_ASSERT_EQUAL(pgm_check_cancel(call), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), "cancelled by SIGTERM"));
	pgm_cancel_reset();
	pgm_clear_error(call);
	raise(SIGINT);
	CU_ASSERT_EQUAL(pgm_cancel_signal(), SIGINT);
	{
		/* the second SIGINT would kill: the handler reset itself */
		struct sigaction sa;

		sigaction(SIGINT, NULL, &sa);
		CU_ASSERT(sa.sa_handler == SIG_DFL);
	}
	pgm_cancel_reset();
	signal(SIGTERM, SIG_DFL);
	pgm_call_free(call);
}

int main(void)
{
	static const cu_test tests[] = {
		{"error slot", test_errors},
		{"deadline and sleep", test_deadline},
		{"cancellation", test_cancel},
		{NULL, NULL}};

	return cu_run("call", tests);
}
