/*
 * pgmove/plugin-test.h - a test host for unit tests of plugins, without the
 * pgmove program (collectd's plugin_mock.c is the model).
 *
 * A plugin's unit test links the plugin's own sources and libpgmove
 * ($(pkg-config --cflags --libs pgmove)) and drives its functions through
 * this header: calls with a deadline, run id, step and attempt; captured
 * log lines and progress; secrets registered by the call's arguments or the
 * plugin; HTTP answered from a table (also what pgm_aws_* send), with every
 * request recorded; checkpoints handed in as a resume would; the run's
 * configuration given to the plugin's configure. The host services
 * themselves are the real ones (argument helpers, redaction, durations,
 * PostgreSQL, child processes), and so are pgmove's checks of descriptors,
 * arguments and configurations (the loader's own code): only the network
 * and the engine are replaced.
 *
 *     #include <pgmove/plugin-test.h>
 *     extern const pgm_plugin hello_LTX_pgmove_plugin;
 *
 *     pgm_test_reset();
 *     pgm_test_http_answer("GET", "http://example.test/health", 200, "ok", NULL);
 *     pgm_call *c = pgm_test_call("hello", "http_status", 5000);
 *     json_t *args = json_pack("{s:s}", "url", "http://example.test/health");
 *     json_t *res = pgm_test_invoke(&hello_LTX_pgmove_plugin, "http_status", c, args);
 *     assert(res && json_integer_value(json_object_get(res, "status")) == 200);
 *     assert(pgm_test_http_count() == 1);
 *     json_decref(res); json_decref(args); pgm_test_call_free(c);
 *
 * Not thread-safe: one test thread drives the host. Ownership as in
 * plugin.h; strings and JSON returned here are owned by the test host and
 * valid until the next pgm_test_reset.
 */
#ifndef PGMOVE_PLUGIN_TEST_H
#define PGMOVE_PLUGIN_TEST_H

#include <pgmove/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* pgm_test_reset - forgets captured log lines, progress, registered
 * secrets, HTTP answers and recorded requests, and captures logs and
 * progress from now on (instead of writing them to stderr). Call it at the
 * start of each test. */
void pgm_test_reset(void);

/* pgm_test_call - a call of plugin.function; timeout_ms > 0 gives it a
 * deadline that far from now. Free with pgm_test_call_free. */
pgm_call *pgm_test_call(const char *plugin, const char *function, long long timeout_ms);
void pgm_test_call_free(pgm_call *call);
/* pgm_test_call_set_run - the run id, step and attempt the call reports
 * (pgm_call_run_id, ...), as in a runbook step. Strings are copied. */
void pgm_test_call_set_run(pgm_call *call, const char *run_id, const char *step, int attempt);
/* pgm_test_call_set_checkpoint - hands the call a checkpoint (borrowed,
 * copied), as a resume after a crash would; pgm_checkpoint_get returns it
 * until the plugin saves another. */
void pgm_test_call_set_checkpoint(pgm_call *call, const json_t *value);
/* pgm_test_checkpoint_saves - how many checkpoints calls saved since
 * pgm_test_reset (pgm_checkpoint_get(call) is the last one). */
size_t pgm_test_checkpoint_saves(void);

/* pgm_test_invoke - runs function of the plugin descriptor with args
 * (borrowed; NULL is an empty object) and returns what it returns (a new
 * reference, or NULL with the error on the call). Before a descriptor is
 * first used, the test host checks it as pgmove's loader does (the same
 * code: ABI, function table, parameter and configuration tables; a
 * failure is "test.bad_plugin" with the loader's message) and runs its
 * init ("test.init" when it fails). A function the descriptor does not
 * have fails the call with "test.unknown_function". As pgmove does before
 * a call, args is checked against the function's parameter table (the
 * same code: unknown names, types, limits, allowed values, required ones;
 * a failure is "args.invalid" with pgmove's message and the function does
 * not run), the table's defaults are put into args, and the values of
 * secret and conninfo parameters are registered for redaction. */
json_t *pgm_test_invoke(const pgm_plugin *plugin, const char *function, pgm_call *call,
			json_t *args);

/* pgm_test_configure - gives the plugin a runbook's configuration, as
 * `plugin "name" { ... }` would (config borrowed, not changed; NULL is an
 * empty table): the descriptor is made ready as for pgm_test_invoke, config
 * is checked against the plugin's configuration table (pgm_plugin.config)
 * with pgmove's code (unknown keys, types, limits, allowed values, required
 * keys; "args.invalid" and configure is not called), its defaults put in and
 * its secret values registered, then the plugin's configure runs on call.
 * Returns 0, or -1 with the call's error set ("test.no_configure" for a
 * plugin without configure). */
int pgm_test_configure(const pgm_plugin *plugin, pgm_call *call, const json_t *config);

/* Logs: every line logged since pgm_test_reset, "LEVEL text" (levels DEBUG,
 * INFO, NOTICE, WARN, ERROR; debug lines included), already redacted. */
size_t pgm_test_log_count(void);
const char *pgm_test_log_line(size_t i);
/* pgm_test_log_contains - how many captured lines contain text. */
size_t pgm_test_log_contains(const char *text);

/* Progress: how many pgm_progress reports were made, and the last one
 * (unit and label owned by the test host). 0 when there was none. */
size_t pgm_test_progress_count(void);
int pgm_test_progress_last(double *done, double *total, const char **unit, const char **label);

/* pgm_test_secret_registered - nonzero when secret is registered for
 * redaction (pgm_redact hides it), e.g. after a call with a secret
 * argument the plugin registered with pgm_secret_add. */
int pgm_test_secret_registered(const char *secret);

/* pgm_test_http_answer - from now on, pgm_http_send (and so pgm_aws_*)
 * answers a request whose method equals method and whose URL equals url -
 * or starts with it when url ends with '*' - with status, body (may be
 * NULL) and headers ("Name: value", NULL-terminated; may be NULL), instead
 * of using the network. The first matching entry of the table answers;
 * status 0 makes the request fail as a refused connection
 * ("http.connect", retryable). A request no entry matches fails the call
 * with "test.no_answer", naming method and URL. Strings are copied. */
void pgm_test_http_answer(const char *method, const char *url, long status, const char *body,
			  const char *const *headers);
/* pgm_test_http_count - requests pgm_http_send made since pgm_test_reset. */
size_t pgm_test_http_count(void);
/* pgm_test_http_request - request i as {"method", "url", "headers": [...],
 * "body"} (borrowed; NULL past the end). */
json_t *pgm_test_http_request(size_t i);

#ifdef __cplusplus
}
#endif
#endif /* PGMOVE_PLUGIN_TEST_H */
