/*
 * core/host/hostpriv.h - what the modules of libpgmove share among themselves:
 * the layout of a call and a few internal helpers. Not installed, not
 * exported (libpgmove exports only pgm_* symbols).
 */
#ifndef PGMOVE_CORE_HOSTPRIV_H
#define PGMOVE_CORE_HOSTPRIV_H

#include "host.h"

struct pgm_call {
	char *name;           /* "plugin.function" or ""                   */
	long long created_ms; /* pgm_now_ms() at creation                  */
	long long deadline;   /* absolute, pgm_now_ms() clock; 0 = none    */
	int failed;
	int retryable;
	char *code;
	char *message;
	long long progress_ms; /* last throttled progress log line         */
	json_t *checkpoint;   /* last saved or handed-back checkpoint, owned */
	pgm_checkpoint_fn checkpoint_fn; /* the engine's journaling, or NULL */
	void *checkpoint_user;
	char *run_id;         /* the run, step and attempt (NULL / 0 outside a run) */
	char *step;
	int attempt;
	pgm_call *parent;     /* the function's call of a worker call, else NULL */
	int stop;             /* pgm_call_cancel: read and written atomically */
};

/* host_http_mock - when set (by the test host of <pgmove/plugin-test.h>),
 * pgm_http_send asks it instead of the network: same contract as
 * pgm_http_send. NULL in pgmove itself. */
typedef int (*host_http_mock_fn)(pgm_call *call, const pgm_http_request *req,
				 pgm_http_response *resp);
extern host_http_mock_fn host_http_mock;

/* host_curl_init - curl_global_init once per process (pthread_once), for
 * pgm_http_send and pgm_mail_send from any thread. 0, or -1 on failure. */
int host_curl_init(void);
/* host_cancel_requested - nonzero once pgm_cancel_request() ran. */
int host_cancel_requested(void);
/* host_deadline_passed - nonzero when the call has a deadline and it passed. */
int host_deadline_passed(const pgm_call *call);
/* host_fail_deadline - records "pgmove.timeout" for the call's deadline; -1. */
int host_fail_deadline(pgm_call *call);
/* host_poll_ms - how long a poll loop may sleep before checking the call
 * again: at most cap_ms, and no longer than the remaining time. */
int host_poll_ms(const pgm_call *call, int cap_ms);
/* host_secret_is_key - nonzero when a JSON key or header name names a
 * secret ("password", "authorization", "x-amz-security-token", ...). */
int host_secret_is_key(const char *key);
/* host_conninfo_error - libpq's message about a connection string it cannot
 * parse, fit for a message: one line, redacted, and every quoted piece of
 * the string ("missing "=" after "7f3Q-pass"") replaced by "...", since an
 * unparsable string's password is not registered as a secret. Caller frees. */
char *host_conninfo_error(const char *msg);

#endif
