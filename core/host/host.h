/*
 * core/host/host.h - the parts of libpgmove that the pgmove program uses and
 * plugins do not: creating calls, configuring the logger, cancellation by
 * signal. Not installed.
 */
#ifndef PGMOVE_CORE_HOST_H
#define PGMOVE_CORE_HOST_H

#include "pgmove/plugin.h"

/* pgm_call_new - a call context for plugin.function (either may be NULL
 * for host-internal work, e.g. the CLI). Caller frees with pgm_call_free. */
pgm_call *pgm_call_new(const char *plugin, const char *function);
void pgm_call_free(pgm_call *call);
/* pgm_call_set_deadline_ms - an absolute deadline on pgm_now_ms()'s clock;
 * 0 removes it. */
void pgm_call_set_deadline_ms(pgm_call *call, long long deadline);
/* pgm_call_name - "plugin.function", or "" for a host call. */
const char *pgm_call_name(const pgm_call *call);
/* pgm_call_error_json - the recorded error as a new JSON object
 * {"code","message","retryable"}, or NULL when there is none. */
json_t *pgm_call_error_json(const pgm_call *call);

/* pgm_checkpoint_fn - how the engine makes a checkpoint durable: called by
 * pgm_checkpoint_save with the value (borrowed); returns 0 once it is in
 * the journal, or -1 after setting the call's error. */
typedef int (*pgm_checkpoint_fn)(void *user, pgm_call *call, const json_t *value);
/* pgm_call_set_checkpoint - hands the call the checkpoint saved by an
 * earlier run of the same call (last, borrowed; may be NULL) and the
 * function that journals new ones (fn may be NULL: values then live only
 * as long as the call). */
void pgm_call_set_checkpoint(pgm_call *call, const json_t *last, pgm_checkpoint_fn fn,
			     void *user);
/* pgm_call_set_run - the run id, step name and attempt a call belongs to
 * (copied; NULL / 0 outside a run), for pgm_call_run_id and friends. */
void pgm_call_set_run(pgm_call *call, const char *run_id, const char *step, int attempt);

/* Cancellation. pgm_cancel_request is async-signal-safe: the signal
 * handler calls it; every call's pgm_cancelled() then answers nonzero. */
void pgm_cancel_request(int signo);
int pgm_cancel_signal(void); /* the signal that cancelled, or 0 */
void pgm_cancel_reset(void);
/* pgm_cancel_install - installs SIGINT/SIGTERM handlers that call
 * pgm_cancel_request (a second SIGINT restores the default action). */
void pgm_cancel_install(void);

/* Logger configuration. */
typedef enum pgm_log_format {
	PGM_LOG_FORMAT_AUTO = 0, /* colour on a terminal, plain otherwise */
	PGM_LOG_FORMAT_PLAIN,
	PGM_LOG_FORMAT_JSON
} pgm_log_format;
void pgm_log_setup(pgm_log_format format, pgm_log_level min_level);
/* pgm_log_set_context - prefix for the following lines ("step snapshot",
 * "rds_snapshot.create_snapshot"); NULL clears it. The string is copied. */
void pgm_log_set_context(const char *context);
/* pgm_log_set_sink - for tests: lines go to fn instead of stderr. */
typedef void (*pgm_log_sink_fn)(void *user, pgm_log_level level, const char *line);
void pgm_log_set_sink(pgm_log_sink_fn fn, void *user);

/* pgm_progress_set_sink - where pgm_progress() goes; NULL = the default
 * terminal line / throttled log lines. */
typedef void (*pgm_progress_fn)(void *user, const char *who, double done,
				double total, const char *unit, const char *label);
void pgm_progress_set_sink(pgm_progress_fn fn, void *user);
/* pgm_progress_clear - erases a progress line left on the terminal. */
void pgm_progress_clear(void);

/* pgm_utf8_valid - whether the len bytes at s are valid UTF-8 (NUL bytes
 * are valid characters). */
int pgm_utf8_valid(const char *s, size_t len);
/* pgm_utf8_repair - a NUL-terminated copy of the len bytes at s with every
 * byte that is not part of a valid UTF-8 sequence replaced by U+FFFD;
 * *outlen (may be NULL) gets its length. Caller frees; NULL without memory. */
char *pgm_utf8_repair(const char *s, size_t len, size_t *outlen);
/* pgm_utf8_json - s as a JSON string, repaired when it is not valid UTF-8
 * (never NULL: JSON null for a NULL s). New reference. */
json_t *pgm_utf8_json(const char *s, size_t len);

/* pgm_redact_json - a deep copy of v with every string redacted (and the
 * values of keys that name secrets: "password", "secret", "token",
 * "secret_access_key", "routing_key", ... replaced). New reference. */
json_t *pgm_redact_json(const json_t *v);
/* pgm_secret_count - how many secrets are registered (for tests). */
size_t pgm_secret_count(void);
/* pgm_secret_reset - forgets all secrets (for tests). */
void pgm_secret_reset(void);

/* Parameter tables (core/host/ptable.c): the checks pgmove's loader and
 * the test host of <pgmove/plugin-test.h> share. */
/* pgm_ptable_name_ok - whether name is 1 to 64 lower-case letters, digits
 * and '_' (a plugin's or a function's name). */
int pgm_ptable_name_ok(const char *name);
/* pgm_ptable_type_ok - whether v has the JSON kind a parameter type asks for. */
int pgm_ptable_type_ok(const char *type, const json_t *v);
/* pgm_ptable_check_plugin - the checks of a descriptor that need no call
 * (p->functions is not NULL): every function named, with a function
 * pointer, no duplicates, known flags; for every parameter of every
 * function and of the configuration table a unique name, a known type, a
 * default of that type within the limits, limits only where values have a
 * size, allowed values only on strings; a configuration table only with a
 * configure function. name and path are for messages. 0, or -1 with a
 * message ("plugin x: PATH: greet: parameter n has type 'int'; ...") in err. */
int pgm_ptable_check_plugin(const char *name, const char *path, const pgm_plugin *p, char *err,
			    size_t errlen);
enum {
	PGM_PTABLE_DEFAULTS = 1u << 0, /* put the table's defaults into values       */
	PGM_PTABLE_REQUIRED = 1u << 1  /* refuse values without a required parameter */
};
/* pgm_ptable_check - checks values (an object) against table: no unknown
 * names, the types, limits and allowed values; with the flags, defaults
 * put in and required ones present. Registers secret and conninfo values
 * for redaction. what and noun make the message: "pg.query: unknown
 * argument 'x' (arguments: conninfo, sql)", "plugin http { ... }: key
 * 'timeout' must be a duration". 0, or -1 with the message in err. */
int pgm_ptable_check(const char *what, const char *noun, const pgm_param *table, json_t *values,
		     unsigned flags, char *err, size_t errlen);
/* pgm_ptable_describe - a table as a JSON array of {name, type, required,
 * secret, summary, default?, min?, max?, allowed?}. New reference. */
json_t *pgm_ptable_describe(const pgm_param *table);

#endif
