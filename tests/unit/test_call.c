/* tests/unit/test_call.c - the call's error slot, deadline, cancellation
 * (by request and by signal), pgm_sleep_ms, and worker calls for a
 * function's threads (own error slots, cancelled with the function's call,
 * no checkpoints). */
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

typedef struct sleeper {
	pgm_call *w;
	int rc;
	long long took;
} sleeper;

static void *sleep_long(void *arg)
{
	sleeper *s = arg;
	long long t0 = pgm_now_ms();

	pgm_info("worker %p sleeps", (void *)s);
	s->rc = pgm_sleep_ms(s->w, 10000);
	s->took = pgm_now_ms() - t0;
	return NULL;
}

static void test_workers(void)
{
	pgm_call *call = pgm_call_new("dynamodb", "copy_to_postgres");
	sleeper s[3];
	pthread_t t[3];
	json_t *v = json_pack("{s:i}", "segment", 1);
	int i;

	pgm_call_set_run(call, "run-1", "copy", 2);
	pgm_call_set_deadline_ms(call, pgm_now_ms() + 60000);
	for (i = 0; i < 3; i++) {
		s[i].w = pgm_call_worker(call);
		s[i].rc = 0;
	}
	CU_ASSERT_STRING_EQUAL(pgm_call_name(s[0].w), "dynamodb.copy_to_postgres");
	CU_ASSERT_STRING_EQUAL(pgm_call_run_id(s[0].w), "run-1");
	CU_ASSERT_STRING_EQUAL(pgm_call_step(s[0].w), "copy");
	CU_ASSERT_EQUAL(pgm_call_attempt(s[0].w), 2);
	CU_ASSERT(pgm_remaining_ms(s[0].w) > 50000);
	/* errors are per worker */
	pgm_fail(s[0].w, "aws.ThrottlingException", 1, "segment %d", 0);
	CU_ASSERT(pgm_failed(s[0].w));
	CU_ASSERT_FALSE(pgm_failed(s[1].w));
	CU_ASSERT_FALSE(pgm_failed(call));
	pgm_clear_error(s[0].w);
	/* no checkpoints on a worker call */
	CU_ASSERT_EQUAL(pgm_checkpoint_save(s[1].w, v), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(s[1].w), "pgmove.checkpoint");
	CU_ASSERT_PTR_NULL(pgm_checkpoint_get(s[1].w));
	pgm_clear_error(s[1].w);
	CU_ASSERT_EQUAL(pgm_checkpoint_save(call, v), 0);
	/* cancelling the function's call wakes every worker's sleep */
	for (i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, sleep_long, &s[i]);
	usleep(100 * 1000);
	CU_ASSERT_FALSE(pgm_cancelled(call));
	pgm_call_cancel(call);
	for (i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(s[i].rc, -1);
		CU_ASSERT(s[i].took < 1000);
		CU_ASSERT_STRING_EQUAL(pgm_error_code(s[i].w), "pgmove.cancelled");
		pgm_call_worker_free(s[i].w);
	}
	CU_ASSERT(pgm_cancelled(call));
	/* cancelling one worker stops that worker only */
	{
		pgm_call *c2 = pgm_call_new("p", "f"), *a = pgm_call_worker(c2),
			 *b = pgm_call_worker(c2);

		pgm_call_cancel(a);
		CU_ASSERT(pgm_cancelled(a));
		CU_ASSERT_FALSE(pgm_cancelled(b));
		CU_ASSERT_FALSE(pgm_cancelled(c2));
		pgm_call_worker_free(a);
		pgm_call_worker_free(b);
		pgm_call_worker_free(c2); /* not a worker: left alone */
		CU_ASSERT_STRING_EQUAL(pgm_call_name(c2), "p.f");
		pgm_call_free(c2);
	}
	json_decref(v);
	pgm_call_free(call);
}

int main(void)
{
	static const cu_test tests[] = {
		{"error slot", test_errors},
		{"deadline and sleep", test_deadline},
		{"cancellation", test_cancel},
		{"worker calls", test_workers},
		{NULL, NULL}};

	return cu_run("call", tests);
}
