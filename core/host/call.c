/*
 * core/host/call.c - the call context of one plugin function: its error slot,
 * deadline and cancellation; process-wide cancellation by signal; sleeping
 * that wakes on cancellation; the monotonic clock.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostpriv.h"

/* The process-wide cancellation: the signal number that asked for it (or
 * -1 when requested without a signal), 0 when none. Written by signal
 * handlers, so nothing else is touched there. */
static volatile sig_atomic_t cancel_signo;

/* pgm_now_ms - the monotonic clock in milliseconds. */
long long pgm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pgm_call_new - a call for plugin.function; either may be NULL. Caller
 * frees with pgm_call_free. Aborts on out of memory: there is nothing
 * sensible to report it on. */
pgm_call *pgm_call_new(const char *plugin, const char *function)
{
	pgm_call *call = calloc(1, sizeof(*call));
	size_t len;

	if (call == NULL)
		abort();
	len = (plugin ? strlen(plugin) : 0) + (function ? strlen(function) : 0) + 2;
	call->name = malloc(len);
	if (call->name == NULL)
		abort();
	if (plugin && function)
		snprintf(call->name, len, "%s.%s", plugin, function);
	else
		snprintf(call->name, len, "%s", plugin ? plugin : function ? function : "");
	call->created_ms = pgm_now_ms();
	call->progress_ms = call->created_ms;
	return call;
}

/* pgm_call_free - frees the call and its recorded error; NULL is fine. */
void pgm_call_free(pgm_call *call)
{
	if (call == NULL)
		return;
	free(call->name);
	free(call->code);
	free(call->message);
	json_decref(call->checkpoint);
	free(call->run_id);
	free(call->step);
	free(call);
}

/* pgm_call_worker - a call for a thread of the function running call: a
 * copy of its name, clock, deadline and run, a link back to call for
 * cancellation; no checkpoint. Caller frees with pgm_call_worker_free. */
pgm_call *pgm_call_worker(pgm_call *call)
{
	pgm_call *w;

	if (call == NULL)
		return NULL;
	w = pgm_call_new(NULL, call->name);
	w->created_ms = call->created_ms;
	w->progress_ms = call->progress_ms;
	w->deadline = call->deadline;
	pgm_call_set_run(w, call->run_id, call->step, call->attempt);
	if ((call->run_id && !w->run_id) || (call->step && !w->step))
		abort();
	w->parent = call->parent ? call->parent : call;
	return w;
}

void pgm_call_worker_free(pgm_call *worker)
{
	if (worker && worker->parent)
		pgm_call_free(worker);
}

/* pgm_call_cancel - sets the call's stop flag (atomically: any thread). */
void pgm_call_cancel(pgm_call *call)
{
	if (call)
		__atomic_store_n(&call->stop, 1, __ATOMIC_RELEASE);
}

/* call_stopped - pgm_call_cancel was called on call or on its function's call. */
static int call_stopped(const pgm_call *call)
{
	return call && (__atomic_load_n(&call->stop, __ATOMIC_ACQUIRE) ||
			(call->parent && __atomic_load_n(&call->parent->stop, __ATOMIC_ACQUIRE)));
}

void pgm_call_set_deadline_ms(pgm_call *call, long long deadline)
{
	if (call)
		call->deadline = deadline > 0 ? deadline : 0;
}

const char *pgm_call_name(const pgm_call *call)
{
	return call && call->name ? call->name : "";
}

/* Checkpoints and the run --------------------------------------------- */

/* pgm_call_set_checkpoint - the call keeps its own copy of last. */
void pgm_call_set_checkpoint(pgm_call *call, const json_t *last, pgm_checkpoint_fn fn,
			     void *user)
{
	if (call == NULL)
		return;
	json_decref(call->checkpoint);
	call->checkpoint = last ? json_deep_copy(last) : NULL;
	call->checkpoint_fn = fn;
	call->checkpoint_user = user;
}

void pgm_call_set_run(pgm_call *call, const char *run_id, const char *step, int attempt)
{
	if (call == NULL)
		return;
	free(call->run_id);
	free(call->step);
	call->run_id = run_id ? strdup(run_id) : NULL;
	call->step = step ? strdup(step) : NULL;
	call->attempt = attempt;
}

/* pgm_checkpoint_save - checks the size, lets the engine journal the value
 * (when there is an engine), then keeps a copy as the call's checkpoint. */
int pgm_checkpoint_save(pgm_call *call, const json_t *value)
{
	char *text;
	size_t len;
	json_t *copy;

	if (call == NULL)
		return -1;
	if (call->parent) {
		pgm_fail(call, "pgmove.checkpoint", 0,
			 "%s: pgm_checkpoint_save was called with a worker call (save "
			 "checkpoints from the function's thread)",
			 pgm_call_name(call));
		return -1;
	}
	if (value == NULL) {
		pgm_fail(call, "pgmove.checkpoint", 0,
			 "%s: pgm_checkpoint_save was given no value", pgm_call_name(call));
		return -1;
	}
	text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	len = text ? strlen(text) : 0;
	free(text);
	if (len == 0 || len > PGM_CHECKPOINT_MAX) {
		pgm_fail(call, "pgmove.checkpoint", 0,
			 "%s: checkpoint of %zu bytes%s (at most %d: keep positions, not data)",
			 pgm_call_name(call), len, len ? "" : " (not valid JSON)",
			 PGM_CHECKPOINT_MAX);
		return -1;
	}
	if (call->checkpoint_fn &&
	    call->checkpoint_fn(call->checkpoint_user, call, value) != 0) {
		pgm_fail(call, "pgmove.checkpoint", 0, "%s: the checkpoint could not be journaled",
			 pgm_call_name(call));
		return -1;
	}
	copy = json_deep_copy(value);
	if (copy == NULL)
		abort();
	json_decref(call->checkpoint);
	call->checkpoint = copy;
	return 0;
}

json_t *pgm_checkpoint_get(const pgm_call *call)
{
	return call ? call->checkpoint : NULL;
}

const char *pgm_call_run_id(const pgm_call *call)
{
	return call ? call->run_id : NULL;
}

const char *pgm_call_step(const pgm_call *call)
{
	return call ? call->step : NULL;
}

int pgm_call_attempt(const pgm_call *call)
{
	return call ? call->attempt : 0;
}

/* pgm_failv - records the first error of the call, redacted. With no call
 * (host-internal use) the error is logged instead. Returns NULL. */
json_t *pgm_failv(pgm_call *call, const char *code, int retryable,
		  const char *fmt, va_list ap)
{
	char *raw = NULL, *msg;

	if (call != NULL && call->failed)
		return NULL;
	if (fmt == NULL)
		raw = strdup("");
	else if (vasprintf(&raw, fmt, ap) < 0)
		raw = NULL;
	msg = pgm_redact(raw ? raw : "(out of memory)");
	free(raw);
	if (call == NULL) {
		pgm_error("%s: %s", code ? code : "error", msg ? msg : "");
		free(msg);
		return NULL;
	}
	call->failed = 1;
	call->retryable = retryable ? 1 : 0;
	call->code = strdup(code ? code : "error");
	call->message = msg;
	if (call->code == NULL || call->message == NULL)
		abort();
	return NULL;
}

json_t *pgm_fail(pgm_call *call, const char *code, int retryable,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgm_failv(call, code, retryable, fmt, ap);
	va_end(ap);
	return NULL;
}

int pgm_failed(const pgm_call *call)
{
	return call ? call->failed : 0;
}

const char *pgm_error_code(const pgm_call *call)
{
	return call && call->failed ? call->code : NULL;
}

const char *pgm_error_message(const pgm_call *call)
{
	return call && call->failed ? call->message : NULL;
}

int pgm_error_retryable(const pgm_call *call)
{
	return call && call->failed ? call->retryable : 0;
}

void pgm_clear_error(pgm_call *call)
{
	if (call == NULL)
		return;
	free(call->code);
	free(call->message);
	call->code = call->message = NULL;
	call->failed = call->retryable = 0;
}

/* pgm_call_error_json - {"code","message","retryable"}, new reference, or
 * NULL when no error is recorded. */
json_t *pgm_call_error_json(const pgm_call *call)
{
	if (!pgm_failed(call))
		return NULL;
	return json_pack("{s:s, s:s, s:b}", "code", call->code, "message",
			 call->message, "retryable", call->retryable);
}

/* Cancellation ------------------------------------------------------- */

/* pgm_cancel_request - async-signal-safe: only stores the signal. */
void pgm_cancel_request(int signo)
{
	cancel_signo = signo > 0 ? signo : -1;
}

int pgm_cancel_signal(void)
{
	return cancel_signo > 0 ? cancel_signo : 0;
}

void pgm_cancel_reset(void)
{
	cancel_signo = 0;
}

int host_cancel_requested(void)
{
	return cancel_signo != 0;
}

static void cancel_handler(int signo)
{
	pgm_cancel_request(signo);
}

/* pgm_cancel_install - SIGINT and SIGTERM cancel every call. SIGINT's
 * handler resets itself (SA_RESETHAND), so a second Ctrl-C kills. No
 * SA_RESTART: blocking system calls return EINTR and loops look again. */
void pgm_cancel_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cancel_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGINT, &sa, NULL);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
}

int host_deadline_passed(const pgm_call *call)
{
	return call && call->deadline > 0 && pgm_now_ms() >= call->deadline;
}

int pgm_cancelled(const pgm_call *call)
{
	return host_cancel_requested() || host_deadline_passed(call) || call_stopped(call);
}

/* host_fail_deadline - records "pgmove.timeout" for the call's deadline
 * and returns -1. */
int host_fail_deadline(pgm_call *call)
{
	char buf[64];

	pgm_fail(call, "pgmove.timeout", 1, "%s%stimed out after %s", pgm_call_name(call),
		 *pgm_call_name(call) ? ": " : "",
		 pgm_duration_format(call->deadline - call->created_ms, buf, sizeof(buf)));
	return -1;
}

/* pgm_check_cancel - records "pgmove.timeout" (the deadline passed; a
 * retry may help) or "pgmove.cancelled" and returns -1 when cancelled. */
int pgm_check_cancel(pgm_call *call)
{
	if (host_deadline_passed(call))
		return host_fail_deadline(call);
	if (host_cancel_requested()) {
		int sig = pgm_cancel_signal();

		pgm_fail(call, "pgmove.cancelled", 0, "%s%scancelled%s%s",
			 pgm_call_name(call), *pgm_call_name(call) ? ": " : "",
			 sig ? " by " : "", sig == SIGINT ? "SIGINT"
			 : sig == SIGTERM ? "SIGTERM" : sig ? "a signal" : "");
		return -1;
	}
	if (call_stopped(call)) {
		pgm_fail(call, "pgmove.cancelled", 0, "%s%scancelled by the function",
			 pgm_call_name(call), *pgm_call_name(call) ? ": " : "");
		return -1;
	}
	return 0;
}

long long pgm_remaining_ms(const pgm_call *call)
{
	long long left;

	if (call == NULL || call->deadline <= 0)
		return -1;
	left = call->deadline - pgm_now_ms();
	return left > 0 ? left : 0;
}

int host_poll_ms(const pgm_call *call, int cap_ms)
{
	long long left = pgm_remaining_ms(call);

	if (left >= 0 && left < cap_ms)
		return (int)left;
	return cap_ms;
}

/* pgm_sleep_ms - sleeps in slices of at most 50 ms so that cancellation
 * (a signal, another thread, the deadline) wakes it within one slice. */
int pgm_sleep_ms(pgm_call *call, long long ms)
{
	long long end = pgm_now_ms() + (ms > 0 ? ms > PGM_DURATION_MAX_MS ? PGM_DURATION_MAX_MS : ms
					: 0);

	for (;;) {
		long long now, slice;
		struct timespec ts;

		if (pgm_check_cancel(call) < 0)
			return -1;
		now = pgm_now_ms();
		if (now >= end)
			return 0;
		slice = end - now;
		if (slice > 50)
			slice = 50;
		ts.tv_sec = 0;
		ts.tv_nsec = slice * 1000000L;
		nanosleep(&ts, NULL); /* EINTR: look again */
	}
}
