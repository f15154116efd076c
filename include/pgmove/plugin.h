/*
 * pgmove/plugin.h - the one header a pgmove plugin is built against.
 *
 * It holds the plugin ABI (the descriptor a plugin exports, the function
 * table, the structured error) and the host API of libpgmove (logging,
 * progress, cancellation and deadlines, secret redaction, HTTP, child
 * processes, PostgreSQL connections, AWS requests). A plugin links against
 * libpgmove and never re-implements one of these services.
 *
 * Build a plugin out of tree with:
 *     cc -shared -fPIC $(pkg-config --cflags pgmove) -o myplug.so myplug.c \
 *        $(pkg-config --libs pgmove)
 * and export exactly one symbol with PGMOVE_PLUGIN(myplug).
 *
 * Ownership, once for the whole header: a json_t passed IN to a plugin
 * function is borrowed (do not decref it); a json_t a plugin function
 * RETURNS is a new reference that the host takes over. Strings returned
 * by the host API are owned by the host unless the comment says "caller
 * frees".
 */
#ifndef PGMOVE_PLUGIN_H
#define PGMOVE_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version. Bumped on any incompatible change of the structs below
 * or of the host API; the loader refuses a plugin built for another one.
 * 2: pgm_param gained dflt/min/max/allowed, pgm_plugin gained min_pgmove.
 * 3: pgm_plugin gained configure.
 * 4: pgm_plugin gained config (the configuration's parameter table). */
#define PGMOVE_PLUGIN_ABI 4

/* The version of pgmove this header belongs to, as a number:
 * major * 10000 + minor * 100 + patch (0.1.0 is 100). A plugin compares it
 * at compile time (#if PGMOVE_VERSION_NUM >= 200) and states the oldest
 * pgmove whose host API it needs in pgm_plugin.min_pgmove, which the loader
 * checks. libpgmove's symbols carry versions (PGMOVE_0.1, ...) too, so a
 * plugin that uses a newer function never loads on an older pgmove. */
#define PGMOVE_VERSION_NUM 100
#define PGMOVE_VERSION_TEXT "0.1.0"

#if defined(__GNUC__)
#define PGM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PGM_PRINTF(f, a)
#endif

/* ------------------------------------------------------------------------
 * The call: one invocation of one plugin function.
 *
 * The host creates a pgm_call for each invocation and passes it to the
 * function and to every host service the function uses. It carries the
 * deadline, the cancellation flag, the progress sink and the error slot.
 * ---------------------------------------------------------------------- */
typedef struct pgm_call pgm_call;

/* Function flags, shown by `pgmove plugins` and used by the engine. */
enum {
	PGM_FN_IDEMPOTENT   = 1u << 0, /* running it twice has the effect of once */
	PGM_FN_READ_ONLY    = 1u << 1, /* changes nothing anywhere               */
	PGM_FN_IRREVERSIBLE = 1u << 2  /* cannot be undone (deletes, promotes)   */
};

/* pgm_param - one parameter of a plugin function, for documentation and
 * for checking arguments before the function runs.
 * type is one of "string", "integer", "number", "boolean", "object",
 * "array", "conninfo", "duration", "any"; the loader refuses any other. A
 * "conninfo" or secret param's value is registered for redaction before
 * the call. The last four members are optional (NULL: none) and checked
 * at load: a default of the right type, limits only on integer, number
 * and duration parameters, allowed values only on string ones. */
typedef struct pgm_param {
	const char *name;
	const char *type;
	int required;
	int secret;
	const char *summary;
	/* dflt - the value used when the argument is absent or null, as JSON
	 * text: "5", "\"public\"", "true", "[]"; a duration's as "30s" in quotes. */
	const char *dflt;
	/* min / max - the smallest / largest value allowed, as a JSON number
	 * ("1", "0.5"), or a duration ("30s") for a duration parameter. */
	const char *min;
	const char *max;
	/* allowed - the only values a string parameter may take, NULL-terminated. */
	const char *const *allowed;
} pgm_param;

/* pgm_fn - a plugin function. args is a JSON object, borrowed. Returns a
 * new reference to a JSON value (the result) or NULL after pgm_fail(). */
typedef json_t *(*pgm_fn)(pgm_call *call, json_t *args);

typedef struct pgm_function {
	const char *name;        /* "create_snapshot"                          */
	pgm_fn fn;
	unsigned flags;          /* PGM_FN_*                                    */
	const char *summary;     /* one line                                   */
	const pgm_param *params; /* terminated by an entry whose name is NULL  */
} pgm_function;

/* pgm_plugin - the descriptor. A plugin exports exactly one, with
 * PGMOVE_PLUGIN(name), as a const object with designated initializers. */
typedef struct pgm_plugin {
	int abi;                       /* PGMOVE_PLUGIN_ABI                   */
	const char *name;              /* must equal the file's base name     */
	const char *version;
	const char *summary;
	/* init - optional; called once after loading. Returns 0, or -1 after
	 * logging why (the loader reports the plugin as failed). */
	int (*init)(void);
	/* fini - optional; called once before unloading. */
	void (*fini)(void);
	const pgm_function *functions; /* terminated by an entry whose name is NULL */
	/* min_pgmove - the oldest pgmove the plugin works with, as a
	 * PGMOVE_VERSION_NUM (0: any with this ABI). The loader refuses the
	 * plugin on an older pgmove, naming both versions. */
	unsigned long min_pgmove;
	/* configure - optional; the runbook's configuration of the plugin
	 * (`local x = plugin "name" { key = value, ... }`), once per process
	 * working on a run (run, resume, rollback), before any of its
	 * functions is called: config is a JSON object, borrowed. Keep what is
	 * needed (copy it). Returns 0, or -1 after pgm_fail() on call (the run
	 * does not start: exit 6). A runbook that configures a plugin without
	 * configure is refused when it is loaded. The test host calls it
	 * through pgm_test_configure (<pgmove/plugin-test.h>). */
	int (*configure)(pgm_call *call, json_t *config);
	/* config - optional; the keys the configuration may have, as a
	 * parameter table (terminated by an entry whose name is NULL), checked
	 * at load like a function's and needing configure. With it pgmove
	 * checks a runbook's `plugin "name" { ... }` when the runbook loads
	 * (unknown keys, types, limits, allowed values: `pgmove plan` refuses
	 * them by name) and again before configure (required keys; defaults
	 * put in); secret keys' values are registered for redaction before
	 * configure runs. NULL: configure checks the table itself. */
	const pgm_param *config;
} pgm_plugin;

/* The exported symbol is <name>_LTX_pgmove_plugin: libltdl strips the
 * prefix, and the same plugins can be preloaded into one test binary. */
#define PGMOVE_PLUGIN_SYMBOL "pgmove_plugin"
#define PGMOVE_PLUGIN(name) \
	extern const pgm_plugin name##_LTX_pgmove_plugin; \
	const pgm_plugin name##_LTX_pgmove_plugin

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

/* pgm_fail - records the call's error: a stable code ("aws.ThrottlingException",
 * "pg.08006", "dms.task_failed", "args.invalid"), whether retrying can help,
 * and a message. The message is redacted. The first error set wins; later
 * calls are ignored, so a helper may fail and its caller fail again safely.
 * Always returns NULL so a plugin can write `return pgm_fail(...)`. */
json_t *pgm_fail(pgm_call *call, const char *code, int retryable,
		 const char *fmt, ...) PGM_PRINTF(4, 5);
json_t *pgm_failv(pgm_call *call, const char *code, int retryable,
		  const char *fmt, va_list ap) PGM_PRINTF(4, 0);

/* pgm_failed - nonzero when an error has been recorded on the call. */
int pgm_failed(const pgm_call *call);
/* pgm_error_code / pgm_error_message / pgm_error_retryable - the recorded
 * error, or NULL / 0 when there is none. Owned by the call. */
const char *pgm_error_code(const pgm_call *call);
const char *pgm_error_message(const pgm_call *call);
int pgm_error_retryable(const pgm_call *call);
/* pgm_clear_error - forgets the recorded error (for a caller that handled it). */
void pgm_clear_error(pgm_call *call);

/* Argument helpers: fetch a typed argument, failing the call with code
 * "args.invalid" and a message naming the argument when it is missing
 * (required) or has the wrong type. On failure they return NULL / -1. */
const char *pgm_arg_string(pgm_call *call, json_t *args, const char *name,
			   const char *dflt, int required);
int pgm_arg_int(pgm_call *call, json_t *args, const char *name,
		long long dflt, int required, long long *out);
int pgm_arg_bool(pgm_call *call, json_t *args, const char *name, int dflt,
		 int *out);
int pgm_arg_number(pgm_call *call, json_t *args, const char *name,
		   double dflt, int required, double *out);
/* pgm_arg_duration_ms - a duration given as "30s", "5m", "1h30m", "2d",
 * "250ms" or a number of seconds. */
int pgm_arg_duration_ms(pgm_call *call, json_t *args, const char *name,
			long long dflt_ms, int required, long long *out);

/* PGM_DURATION_MAX_MS - the longest duration pgmove accepts (3650 days),
 * so deadlines computed from it (now + duration) cannot overflow. */
#define PGM_DURATION_MAX_MS (3650LL * 86400000LL)
/* pgm_duration_parse - parses "250ms", "30s", "5m", "1h30m", "2d", "1w"
 * (units may be combined; a bare number is seconds). Returns 0 and sets
 * *ms, or -1 and writes a message naming the bad part to err (also for
 * more than PGM_DURATION_MAX_MS). */
int pgm_duration_parse(const char *text, long long *ms, char *err, size_t errlen);
/* pgm_duration_format - "1h30m", "250ms", "2d3h"; writes into buf. */
const char *pgm_duration_format(long long ms, char *buf, size_t buflen);

/* ------------------------------------------------------------------------
 * Logging and progress
 *
 * Lines go to stderr: plain on a pipe, coloured on a terminal, JSON lines
 * when the user asked for them. Every line passes through redaction. The
 * host prefixes the current plugin function ("checksum.compare: ...").
 * ---------------------------------------------------------------------- */
typedef enum pgm_log_level {
	PGM_LOG_DEBUG = 0,
	PGM_LOG_INFO,
	PGM_LOG_NOTICE,
	PGM_LOG_WARNING,
	PGM_LOG_ERROR
} pgm_log_level;

void pgm_log(pgm_log_level level, const char *fmt, ...) PGM_PRINTF(2, 3);
void pgm_logv(pgm_log_level level, const char *fmt, va_list ap)
	PGM_PRINTF(2, 0);
#define pgm_debug(...) pgm_log(PGM_LOG_DEBUG, __VA_ARGS__)
#define pgm_info(...) pgm_log(PGM_LOG_INFO, __VA_ARGS__)
#define pgm_notice(...) pgm_log(PGM_LOG_NOTICE, __VA_ARGS__)
#define pgm_warn(...) pgm_log(PGM_LOG_WARNING, __VA_ARGS__)
#define pgm_error(...) pgm_log(PGM_LOG_ERROR, __VA_ARGS__)
int pgm_log_enabled(pgm_log_level level);

/* pgm_progress - reports how far the call is: done of total units (total 0
 * when unknown), unit "rows", "bytes", "tables", ..., and a short label.
 * On a terminal it redraws one line; elsewhere it logs at most every few
 * seconds. Cheap enough to call per chunk. */
void pgm_progress(pgm_call *call, double done, double total,
		  const char *unit, const char *label);

/* ------------------------------------------------------------------------
 * Cancellation and deadline
 * ---------------------------------------------------------------------- */

/* pgm_cancelled - nonzero once the call should stop: the user pressed
 * Ctrl-C, the process got SIGTERM, or the deadline passed. A plugin checks
 * it between units of work; host services check it themselves. */
int pgm_cancelled(const pgm_call *call);
/* pgm_check_cancel - when cancelled, records the error ("pgmove.cancelled"
 * or "pgmove.timeout") and returns -1; else 0. */
int pgm_check_cancel(pgm_call *call);
/* pgm_remaining_ms - milliseconds left before the deadline; -1 when none. */
long long pgm_remaining_ms(const pgm_call *call);
/* pgm_sleep_ms - sleeps, waking early on cancellation. 0 if it slept the
 * whole time, -1 (with the error recorded) if cancelled. */
int pgm_sleep_ms(pgm_call *call, long long ms);
/* pgm_now_ms - monotonic clock in milliseconds. */
long long pgm_now_ms(void);

/* ------------------------------------------------------------------------
 * Threads
 *
 * A function may run work on threads it starts (and joins before it
 * returns). Each thread uses its own worker call (pgm_call_worker) with the
 * host services listed in pgmove-plugin(3), THREADS: logging, progress,
 * errors, cancellation, sleeping, secrets, HTTP, AWS, and PostgreSQL (a
 * connection per thread). Checkpoints are saved from the function's own
 * thread only: workers hand their positions back to it.
 * ---------------------------------------------------------------------- */

/* pgm_call_worker - a new call for one thread started by the function
 * running call: the same name, deadline, run, step and attempt, its own
 * error slot; cancelled with call (a signal, the deadline, pgm_call_cancel
 * on call or on the worker). Create it on the function's thread, free it
 * with pgm_call_worker_free after the thread is joined. It has no
 * checkpoint: pgm_checkpoint_get answers NULL, pgm_checkpoint_save fails.
 * Aborts on out of memory. */
pgm_call *pgm_call_worker(pgm_call *call);
/* pgm_call_worker_free - frees a worker call; NULL is fine. Does nothing
 * to a call that is not a worker call. */
void pgm_call_worker_free(pgm_call *worker);
/* pgm_call_cancel - cancels call (from any thread): pgm_cancelled answers
 * nonzero for it and, when it is a function's call, for all its worker
 * calls, so host services waiting in other threads (HTTP, PostgreSQL,
 * sleeps) return within their polling slice with "pgmove.cancelled". For
 * stopping sibling workers after one failed. */
void pgm_call_cancel(pgm_call *call);

/* ------------------------------------------------------------------------
 * Durable checkpoints and the call's place in the run
 *
 * A long function (a 1 TB copy, a scan of a big table) records how far it
 * got; when its step runs again - a retry, or `pgmove resume` after a
 * crash, a kill -9 or a power loss - it gets that record back and goes on
 * from there instead of starting over.
 * ---------------------------------------------------------------------- */

/* The largest checkpoint, as compact JSON: keep positions, not data. */
#define PGM_CHECKPOINT_MAX 65536

/* pgm_checkpoint_save - records value (any JSON value, borrowed; at most
 * PGM_CHECKPOINT_MAX bytes as compact JSON) as the call's checkpoint. In a
 * runbook step the engine appends it to the run's journal (fsync'd) before
 * this returns, so once it returns 0 the value survives anything. It is
 * kept for the same function called at the same position in the same step
 * (the n-th call of plugin.function in the step), across attempts and
 * resumes, and forgotten when the step succeeds or is undone. Like every
 * journal event it is redacted: never put a secret in it. Outside a step
 * (`pgmove call`, wait conditions, gate checks) the value lives only as
 * long as the call. Returns 0, or -1 with the call's error set
 * ("pgmove.checkpoint": too large, not JSON, or the journal cannot be
 * written). Call it from the thread that runs the function: the engine
 * that journals it is single-threaded (see pgm_call_worker). */
int pgm_checkpoint_save(pgm_call *call, const json_t *value);

/* pgm_checkpoint_get - the call's checkpoint: the last value saved by this
 * call, else the one saved by an earlier run of the same call in the same
 * step, else NULL. Borrowed: owned by the call, valid until the next
 * pgm_checkpoint_save or the end of the call. */
json_t *pgm_checkpoint_get(const pgm_call *call);

/* pgm_call_run_id / pgm_call_step / pgm_call_attempt - the run, the step
 * (or wait, gate) and its attempt (1, 2, ...) the call belongs to, e.g.
 * for idempotency keys ("<run id>/<step>") that stay the same across
 * retries. NULL / NULL / 0 outside a run (`pgmove call`). Owned by the call. */
const char *pgm_call_run_id(const pgm_call *call);
const char *pgm_call_step(const pgm_call *call);
int pgm_call_attempt(const pgm_call *call);

/* ------------------------------------------------------------------------
 * Secrets
 * ---------------------------------------------------------------------- */

/* pgm_secret_add - registers a secret (a password, a key, a token). From
 * then on it is replaced by "********" in every log line, error message,
 * journal event and report. Strings shorter than 4 bytes are ignored. The
 * string is copied. */
void pgm_secret_add(const char *secret);
/* pgm_secret_add_conninfo - registers the password inside a libpq
 * connection string or URI (and nothing else of it). */
void pgm_secret_add_conninfo(const char *conninfo);
/* pgm_redact - a copy of text with every registered secret and every
 * password=... / user:pass@ form replaced. Caller frees. */
char *pgm_redact(const char *text);
/* pgm_conninfo_describe - "host=db1 port=5432 dbname=app user=admin": a
 * password-free description of a connection string for messages. Caller
 * frees. Returns a copy of "(invalid connection string)" on parse error. */
char *pgm_conninfo_describe(const char *conninfo);

/* ------------------------------------------------------------------------
 * HTTP (libcurl). TLS verification is always on unless the URL is plain
 * http (used for local fakes and the EC2 metadata service).
 * ---------------------------------------------------------------------- */
typedef struct pgm_http_request {
	const char *method;            /* "GET", "POST", "PUT", "DELETE"     */
	const char *url;
	const char *const *headers;    /* "Name: value" strings, NULL-terminated; may be NULL */
	const char *body;              /* may be NULL                         */
	size_t body_len;
	long timeout_ms;               /* per attempt; 0 = 30 s, capped by the call's deadline */
} pgm_http_request;

typedef struct pgm_http_response {
	long status;                   /* HTTP status, 0 when no response     */
	char *body;                    /* NUL-terminated, owned; free with pgm_http_response_free */
	size_t body_len;
	json_t *headers;               /* object of lower-case name -> value (last wins) */
} pgm_http_response;

/* pgm_http_send - one HTTP exchange, no retries. Returns 0 when a response
 * arrived (whatever its status); -1 with the call's error set on a
 * transport failure ("http.timeout", "http.connect", "http.reset", ...,
 * retryable where a retry can help) or cancellation. resp is filled in on
 * 0 and must be released with pgm_http_response_free either way. */
int pgm_http_send(pgm_call *call, const pgm_http_request *req,
		  pgm_http_response *resp);
void pgm_http_response_free(pgm_http_response *resp);

/* pgm_mail - one email for pgm_mail_send. message is the whole RFC 5322
 * message (headers, a blank line, the body; CRLF line ends); the envelope
 * is from and rcpt, which need not match its headers. */
enum {
	PGM_MAIL_STARTTLS_NONE = 0,    /* plain SMTP (a local relay)              */
	PGM_MAIL_STARTTLS_TRY = 1,     /* STARTTLS when the server offers it      */
	PGM_MAIL_STARTTLS_REQUIRED = 2 /* fail unless the session is encrypted    */
};
typedef struct pgm_mail {
	const char *url;            /* "smtp://host:587" or "smtps://host:465"     */
	const char *from;           /* envelope sender: "pgmove@example.com"        */
	const char *const *rcpt;    /* envelope recipients, NULL-terminated         */
	const char *message;
	size_t message_len;         /* 0 = strlen(message)                         */
	const char *username;       /* may be NULL (no AUTH)                       */
	const char *password;       /* may be NULL; registered as a secret         */
	int starttls;               /* PGM_MAIL_STARTTLS_*                          */
	long timeout_ms;            /* 0 = 30 s, capped by the call's deadline     */
	const char *ca_file;        /* PEM CA certificates to trust instead of the
				       system's (a relay with a private CA); may be NULL */
} pgm_mail;

/* pgm_mail_send - sends one email through SMTP (libcurl). TLS certificates
 * are verified. Returns 0 once the server accepted the message, or -1 with
 * the call's error set: "mail.connect", "mail.timeout", "mail.reset"
 * (retryable), "mail.auth", "mail.starttls", "mail.tls", "mail.url",
 * "mail.rejected" (retryable when the server's reply was a 4xx one). The
 * password never appears in a message or log line. */
int pgm_mail_send(pgm_call *call, const pgm_mail *mail);

/* ------------------------------------------------------------------------
 * Child processes
 * ---------------------------------------------------------------------- */

/* pgm_child_line_fn - called for each line the child writes to stdout
 * (is_stderr 0) or stderr (1), without the newline. */
typedef void (*pgm_child_line_fn)(void *user, int is_stderr, const char *line);

typedef struct pgm_child_spec {
	const char *const *argv;   /* argv[0] is looked up in PATH; no shell   */
	const char *const *env;    /* "NAME=value" added to the child's environment, NULL-terminated; may be NULL */
	const char *cwd;           /* may be NULL                              */
	const char *stdin_path;    /* file to read stdin from; NULL = /dev/null */
	const char *stdout_path;   /* file to write stdout to (0600, truncated); NULL = lines to line_fn */
	pgm_child_line_fn line_fn; /* may be NULL                              */
	void *user;
} pgm_child_spec;

typedef struct pgm_child_result {
	int exited;        /* 1 if it exited, 0 if killed by a signal          */
	int status;        /* exit status, or the signal number                */
	char *stderr_tail; /* the last lines of stderr (<= 4 KiB), redacted; free with pgm_child_result_free */
} pgm_child_result;

/* pgm_child_run - runs a child to completion, feeding its output lines to
 * line_fn. Cancellation sends SIGTERM, then SIGKILL after 5 s. Returns 0
 * when the child ran (check res->exited and res->status), -1 with the
 * call's error set when it could not be started or was cancelled. The
 * argv is logged at debug level, redacted; never put a secret in argv:
 * pass it through spec->env (PGPASSWORD for libpq tools). The child's
 * environment is explicit: PATH, HOME, USER, LOGNAME, SHELL, LANG,
 * LANGUAGE, LC_*, TZ, TMPDIR and libpq's PG* variables of pgmove's
 * environment (never PGMOVE_*), plus spec->env. The child runs with umask
 * 077, so the files it creates are private to the user. */
int pgm_child_run(pgm_call *call, const pgm_child_spec *spec,
		  pgm_child_result *res);
void pgm_child_result_free(pgm_child_result *res);

/* pgm_tempfile - creates a 0600 file in the private temp directory of this
 * process (removed at exit) holding data; returns its path. Caller frees
 * the path and may unlink the file early. NULL with the error set on
 * failure. A pgmove killed with SIGKILL cannot remove it: do not put a
 * secret in one; give a child its password through spec->env. */
char *pgm_tempfile(pgm_call *call, const char *prefix, const char *data, size_t len);

/* ------------------------------------------------------------------------
 * PostgreSQL (libpq)
 * ---------------------------------------------------------------------- */
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef struct pgm_pg pgm_pg;

/* pgm_pg_connect - opens a connection, retrying connection failures that a
 * retry can help (server starting up, too many connections) with backoff
 * and jitter within the call's deadline. application_name is set to
 * "pgmove/<app>". NULL with the error set ("pg.<SQLSTATE>", or
 * "pg.connect" with a password-free message naming the server). */
pgm_pg *pgm_pg_connect(pgm_call *call, const char *conninfo, const char *app);
/* pgm_pg_close - closes and frees; NULL is fine. */
void pgm_pg_close(pgm_pg *pg);
/* pgm_pg_conn - the libpq connection, for direct use within one function. */
PGconn *pgm_pg_conn(pgm_pg *pg);
/* pgm_pg_describe - "host=... port=... dbname=... user=..." (no password). */
const char *pgm_pg_describe(const pgm_pg *pg);
/* pgm_pg_sqlstate - the SQLSTATE of the last failed command, or "". */
const char *pgm_pg_sqlstate(const pgm_pg *pg);

/* pgm_pg_exec - runs one statement with text parameters (NULL for SQL
 * NULL), asynchronously, so that cancellation and the deadline cancel it
 * on the server (PQcancel). Returns the result, which the caller consumes
 * and PQclear()s where it called this, or NULL with the error set:
 * "pg.<SQLSTATE>" and the server's message, prefixed by the server's
 * description. Retryable for connection loss and serialization failures. */
PGresult *pgm_pg_exec(pgm_call *call, pgm_pg *pg, const char *sql,
		      int nparams, const char *const *params);
/* pgm_pg_command - pgm_pg_exec for statements whose result is not needed.
 * 0 or -1. */
int pgm_pg_command(pgm_call *call, pgm_pg *pg, const char *sql,
		   int nparams, const char *const *params);
/* pgm_pg_query_json - runs a query and returns its rows as a JSON array of
 * objects keyed by column name. Integers, floats, booleans, json/jsonb and
 * NULL become JSON values of their kind; numeric and everything else stay
 * strings, so no precision is lost. New reference or NULL with the error set. */
json_t *pgm_pg_query_json(pgm_call *call, pgm_pg *pg, const char *sql,
			  int nparams, const char *const *params);
/* pgm_pg_quote_ident - one quoted identifier ("Order") for SQL text, via
 * libpq's PQescapeIdentifier: the whole string is one name, so quote a
 * schema and a table separately. Caller frees. */
char *pgm_pg_quote_ident(pgm_pg *pg, const char *ident);

/* pgm_pg_send / pgm_pg_wait - the two halves of pgm_pg_exec for running
 * statements on several connections at once: send on each, then wait on
 * any of them. pgm_pg_wait_any returns the index of a connection whose
 * result is ready (the caller then calls pgm_pg_result on it), or -1 with
 * the error set. */
int pgm_pg_send(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
		const char *const *params);
int pgm_pg_wait_any(pgm_call *call, pgm_pg *const *pgs, int n);
/* pgm_pg_result - the result of the statement last sent on pg (after
 * pgm_pg_wait_any says it is ready), NULL with the error set on failure. */
PGresult *pgm_pg_result(pgm_call *call, pgm_pg *pg);
/* pgm_pg_busy - nonzero while a sent statement's result is pending. */
int pgm_pg_busy(const pgm_pg *pg);

/* ------------------------------------------------------------------------
 * AWS (Signature Version 4, credentials chain, endpoints, retries)
 * ---------------------------------------------------------------------- */
typedef struct pgm_aws_service {
	const char *name;        /* signing name: "rds", "monitoring", "dms"  */
	const char *endpoint_id; /* "rds", "monitoring", "dms": the host prefix */
	const char *env_id;      /* AWS_ENDPOINT_URL_<env_id>: "RDS", "CLOUDWATCH", "DATABASE_MIGRATION_SERVICE" */
	const char *api_version; /* Query protocol: "2014-10-31"; NULL for JSON */
	const char *json_prefix; /* JSON 1.1 protocol: "AmazonDMSv20160101"; NULL for Query */
} pgm_aws_service;

/* pgm_aws_query - a Query-protocol action (form-encoded POST, XML answer).
 * params is a flat JSON object of the request parameters as AWS names them
 * ("DBSnapshotIdentifier", "Tags.member.1.Key"); region may be NULL for
 * the configured one. Returns the <ActionResult> element converted to JSON
 * (elements -> keys, repeated "member"/item lists -> arrays, text -> strings),
 * new reference, or NULL with the error set: "<service>.<AWS code>" with
 * AWS's message, retryable as the SDKs' standard mode says; a 200 whose root
 * element is not <ActionResponse> (a proxy's page, another action's answer)
 * is "aws.bad_response". Retries throttling, 5xx and transport errors with
 * exponential backoff and jitter. */
json_t *pgm_aws_query(pgm_call *call, const pgm_aws_service *svc,
		      const char *region, const char *action, json_t *params);
/* pgm_aws_list - the items of a list in a pgm_aws_query answer, as an
 * array: lists arrive as arrays, a one-item list may arrive as
 * {"Member": {...}}, an empty one as "" or absent. v is borrowed (may be
 * NULL); returns a new reference, never NULL. */
json_t *pgm_aws_list(json_t *v);

/* pgm_aws_json - a JSON 1.1 action (X-Amz-Target: <json_prefix>.<action>).
 * body is borrowed. New reference to the parsed answer, or NULL as above. */
json_t *pgm_aws_json(pgm_call *call, const pgm_aws_service *svc,
		     const char *region, const char *action, json_t *body);
/* pgm_aws_json10 - pgm_aws_json with the JSON 1.0 protocol
 * (application/x-amz-json-1.0): DynamoDB ("DynamoDB_20120810") and
 * DynamoDB Streams ("DynamoDBStreams_20120810", signing name "dynamodb",
 * endpoint_id "streams.dynamodb"). body is borrowed; as pgm_aws_json. */
json_t *pgm_aws_json10(pgm_call *call, const pgm_aws_service *svc,
		       const char *region, const char *action, json_t *body);
/* pgm_aws_query_all - pgm_aws_query repeated while the answer carries a
 * pagination token (token_key: "Marker" when NULL, or "NextToken"), which
 * is sent back as the same parameter. Returns a new object
 * {list_key: [every page's items], "pages": N}, or NULL with the error set
 * (also after max_pages pages; 0 means 1000). params is borrowed. */
json_t *pgm_aws_query_all(pgm_call *call, const pgm_aws_service *svc,
			  const char *region, const char *action, json_t *params,
			  const char *list_key, const char *token_key, int max_pages);

#ifdef __cplusplus
}
#endif
#endif /* PGMOVE_PLUGIN_H */
