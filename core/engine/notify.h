/*
 * core/engine/notify.h - where a run's events go: the `notify` rules of a
 * runbook (core/engine/prelude.lua) applied to the events the engine
 * journals. Targets are PagerDuty (an incident per run: triggered once,
 * resolved with the same dedup key when the node that caused it recovers
 * or the run completes), Slack-compatible webhooks, JSON webhooks, mail and
 * the log. Deliveries go through the pagerduty and http plugins, in the
 * engine's process; each one is journaled (notify.sent / notify.failed). A
 * failed delivery is logged and journaled, never stops the run, and is
 * retried when the run is resumed.
 */
#ifndef PGMOVE_CORE_NOTIFY_H
#define PGMOVE_CORE_NOTIFY_H

#include <jansson.h>
#include <lua.h>

typedef struct notify notify;

/* notify_journal_fn - journals ev (stolen) for notify; 0 or -1. */
typedef int (*notify_journal_fn)(void *user, json_t *ev);

/* notify_open - the notifier of a run: the rules of decl.notify (the
 * runbook's decl table at registry reference decl_ref in L), and what the
 * journal in run_dir says was delivered, failed or left open. NULL when
 * the runbook declares no target. Strings are copied. */
notify *notify_open(lua_State *L, int decl_ref, const char *runbook, const char *run_id,
		    const char *run_dir, notify_journal_fn journal_fn, void *user);

/* notify_event - called with every event the engine journaled (borrowed,
 * redacted, with its seq); sends what the rules ask for. The first call
 * first retries the deliveries an earlier process left failed. */
void notify_event(notify *n, const json_t *ev);

/* notify_close - frees; NULL is fine. */
void notify_close(notify *n);

#endif
