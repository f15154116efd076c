/*
 * core/engine/loader.h - finds and loads plugins with libltdl.
 *
 * Search order: each directory of $PGMOVE_PLUGIN_PATH (colon-separated),
 * then the installed plugin directory. In each directory D the loader
 * tries D/NAME and D/NAME/NAME (a build tree's plugins/NAME/NAME.la), with
 * the extensions libltdl knows (.la, .so).
 */
#ifndef PGMOVE_CORE_LOADER_H
#define PGMOVE_CORE_LOADER_H

#include <stddef.h>
#include "pgmove/plugin.h"

/* loader_get - the plugin NAME, loaded and initialised on first use and
 * kept until loader_shutdown. NULL with a one-line message in err naming
 * the plugin and every path tried (missing file, missing symbol, wrong ABI,
 * failed init). */
const pgm_plugin *loader_get(const char *name, char *err, size_t errlen);

/* loader_function - the function FN of plugin P, or NULL. */
const pgm_function *loader_function(const pgm_plugin *p, const char *fn);

/* loader_crash_fn - told (from a signal handler: async-signal-safe code
 * only) that the plugin function crashed with signo. */
typedef void (*loader_crash_fn)(void *user, int signo);

/* loader_invoke - runs f(call, args) of plugin p under the crash guard:
 * a SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT or SIGSYS while it runs
 * writes "pgmove: plugin function P.F crashed with SIGSEGV" to stderr,
 * calls on_crash(user, signo) (may be NULL), and then the process dies of
 * that signal, as it would have (core dumps stay possible). Returns what
 * f returns. */
json_t *loader_invoke(const pgm_plugin *p, const pgm_function *f, pgm_call *call, json_t *args,
		      loader_crash_fn on_crash, void *user);
/* loader_crash_pause / loader_crash_resume - host code that runs inside a
 * plugin call and must not be interrupted by on_crash (the journal being
 * appended to) pauses the guard's journaling around it. */
int loader_crash_pause(void);
void loader_crash_resume(int was);
/* loader_signal_name - "SIGSEGV", ... for the crash signals. */
const char *loader_signal_name(int signo);

/* loader_check_args - checks args (an object) against fn's parameter
 * table: required ones present, types right, no unknown names. Registers
 * secret and conninfo values for redaction. 0, or -1 with the message
 * ("checksum.compare: argument 'tables' must be an array") in err. */
int loader_check_args(const pgm_plugin *p, const pgm_function *fn, json_t *args,
		      char *err, size_t errlen);

/* loader_check_config - checks a runbook's configuration of plugin p
 * (config, an object) against p's configuration table (nothing to check
 * when p has none): unknown keys, types, limits, allowed values; when
 * complete (the run's values, not plan's), also required keys, and the
 * defaults are put in. Registers secret values for redaction. 0, or -1
 * with the message ("plugin http { ... }: unknown key 'timout' (keys:
 * ...)") in err. */
int loader_check_config(const pgm_plugin *p, json_t *config, int complete, char *err,
			size_t errlen);

/* loader_list - every plugin found on the search path, sorted by name, as a
 * JSON array of {name, version, summary, path, functions: [{name, flags,
 * summary, params}]} or {name, path, error} for one that fails to load.
 * New reference. */
json_t *loader_list(void);

/* loader_describe_function - one function as JSON (as in loader_list). */
json_t *loader_describe_function(const pgm_function *fn);

/* loader_flags_string - "idempotent,read-only" for PGM_FN_* flags. */
const char *loader_flags_string(unsigned flags, char *buf, size_t len);

/* loader_identities - what identifies each loaded plugin, sorted by name:
 * [{name, version, path, sha256}] (sha256 of the shared object that was
 * loaded). New reference. */
json_t *loader_identities(void);

/* loader_shutdown - calls every loaded plugin's fini and unloads them. */
void loader_shutdown(void);

#endif
