/*
 * core/engine/eclock.h - the engine's clock and its plugin-call seam.
 *
 * The engine reads time and sleeps only through eclock_*, and calls plugin
 * functions only through eclock_dispatch, so `pgmove test` runs the same
 * engine with a virtual clock (sleeping advances time at once) and mocked
 * plugin functions (core/cli/cli_test.c).
 */
#ifndef PGMOVE_CORE_ECLOCK_H
#define PGMOVE_CORE_ECLOCK_H

#include <jansson.h>

#include <pgmove/plugin.h>

/* eclock_mono_ms - monotonic milliseconds (virtual when the clock is). */
long long eclock_mono_ms(void);
/* eclock_wall_ms - epoch milliseconds (virtual when the clock is). */
long long eclock_wall_ms(void);
/* eclock_sleep_ms - sleeps ms: real time, or advances the virtual clock.
 * Returns 0, or -1 when cancelled (or, for deadline_ms > 0 on the
 * monotonic clock, when the deadline passed first). */
int eclock_sleep_ms(long long ms, long long deadline_ms);
/* eclock_set_virtual - from now on the clock is virtual and starts at
 * wall_ms (epoch) with offset elapsed_ms already spent. */
void eclock_set_virtual(long long wall_ms, long long elapsed_ms);
/* eclock_virtual_elapsed - virtual milliseconds spent since the start, or
 * -1 when the clock is real. */
long long eclock_virtual_elapsed(void);

/* eclock_dispatch_fn - runs plugin function f (of plugin pname) on args
 * (borrowed). Returns a new reference, or NULL with the error set on call
 * (pgm_fail). */
typedef json_t *(*eclock_dispatch_fn)(void *user, const char *pname, const pgm_function *f,
				      pgm_call *call, json_t *args);
/* eclock_set_dispatch - replaces the real plugin call (NULL restores it). */
void eclock_set_dispatch(eclock_dispatch_fn fn, void *user);
/* eclock_dispatch - the replacement, or NULL when plugin calls are real;
 * *user receives its user pointer. */
eclock_dispatch_fn eclock_dispatch(void **user);

/* eclock_journal_fn - told of each event (borrowed) once the journal holds
 * it, before the engine acts on it: `pgmove test` injects crashes there. */
typedef void (*eclock_journal_fn)(void *user, const json_t *event);
/* eclock_set_journal_hook - sets the hook (NULL removes it). */
void eclock_set_journal_hook(eclock_journal_fn fn, void *user);
/* eclock_journaled - calls the hook, if any, on event (borrowed); the
 * journal calls it after each event it wrote. */
void eclock_journaled(const json_t *event);

#endif
