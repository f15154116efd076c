/*
 * core/engine/state.h - a run's state, derived by replaying its journal.
 *
 * The engine, `status`, `report`, `approve` and `resolve` all read a run
 * through this one replay, so they agree on what happened.
 */
#ifndef PGMOVE_CORE_STATE_H
#define PGMOVE_CORE_STATE_H

#include <jansson.h>

typedef enum run_status {
	RUN_NEW = 0,     /* no run.start yet                               */
	RUN_RUNNING,     /* a process is (or was, if it died) working on it */
	RUN_COMPLETED,
	RUN_FAILED,
	RUN_PAUSED,      /* approval pending, resolve needed, breaker        */
	RUN_HALTED,      /* a gate (or wait) failed with on_fail = halt       */
	RUN_INTERRUPTED, /* stopped by SIGINT / SIGTERM                       */
	RUN_ROLLING_BACK,
	RUN_ROLLED_BACK
} run_status;

typedef enum node_status {
	NODE_PENDING = 0,
	NODE_RUNNING,     /* step attempt, gate evaluation, wait polling   */
	NODE_SUCCEEDED,   /* step done, wait satisfied, gate passed         */
	NODE_FAILED,      /* step failed (after its attempts), wait timed out, gate failed */
	NODE_SKIPPED,
	NODE_INTERRUPTED, /* a step attempt stopped by a signal             */
	NODE_WAITING,     /* approval pending                               */
	NODE_APPROVED,
	NODE_DENIED,
	NODE_UNDONE,
	NODE_UNDO_FAILED
} node_status;

typedef struct node_state {
	char *name;
	char *kind;        /* step wait gate approve                     */
	char *phase;       /* may be NULL                                */
	node_status status;
	int attempts;      /* step attempts / gate evaluations / polls   */
	long long first_start_ms, last_start_ms, end_ms; /* epoch ms, 0 = never */
	long long duration_ms;
	int nonidem_call;  /* the current attempt called a non-idempotent function */
	int calls;         /* plugin calls in the current attempt        */
	long long done_seq;/* seq of the event that finished it (rollback order) */
	json_t *output;    /* step output / wait's last value            */
	json_t *error;     /* last error {code, message, retryable}      */
	json_t *checks;    /* gate: [{check, ok, detail}] of the last evaluation */
	json_t *approval;  /* {by, at, comment, via}                     */
	json_t *history;   /* step: [{attempt, start, error}] of the last 20 failed attempts */
	json_t *checkpoints; /* step: {"plugin.function#n": value} saved by its calls, or NULL */
	/* waits */
	long long wait_start_ms, last_poll_ms, stable_since_ms;
	int last_ok;
} node_state;

typedef struct run_state {
	char *run_id, *runbook, *file, *hash, *version;
	long long started_ms, last_event_ms;
	json_t *params;      /* public params                           */
	json_t *plan;        /* the plan journaled at start (or the last accepted deviation) */
	json_t *plugins;     /* [{name, version, path, sha256}] at start (or the last accepted deviation); NULL when not journaled */
	run_status status;
	char *reason;        /* why paused / halted / failed            */
	char *reason_node;
	json_t *deviations;  /* [{ts, what, ...}]                      */
	json_t *breakers;    /* [{ts, breaker, node, action, value}]   */
	json_t *resolutions; /* [{ts, node, decision, by, comment}]    */
	json_t *interruptions;
	node_state *nodes;
	int nnodes;
	long long events;
	long long last_seq;
	int torn;
	int resumes;
	int in_rollback;     /* a rollback started and has not finished */
	json_t *index;       /* node name -> index in nodes */
} run_state;

/* state_new - an empty state (for a new run). */
run_state *state_new(void);
/* state_load - replays dir's journal. NULL with the reason in err. */
run_state *state_load(const char *dir, char *err, size_t errlen);
/* state_load_at - state_load that also tells the journal offset the state
 * covers (for state_snapshot_save). It starts from the snapshot when one
 * matches the journal. */
run_state *state_load_at(const char *dir, long long *end, char *err, size_t errlen);
/* state_snapshot_save - writes dir/state.json (atomically: a temporary file
 * renamed): st as of the journal's first offset bytes. A cache for status
 * and resume; state_load ignores it unless it matches the journal. 0 or -1. */
int state_snapshot_save(const run_state *st, const char *dir, long long offset);
/* state_check_event - whether event (borrowed) has the shape replay needs,
 * given the state so far: a type; run.start first and once, with run,
 * runbook and a plan whose nodes have unique names and known kinds; node
 * events naming a node of the plan. 0, or -1 with why (no line number). */
int state_check_event(run_state *st, const json_t *event, char *why, size_t len);
/* state_apply - applies one event (borrowed) to st (for the engine, which
 * appends and applies as it goes). */
void state_apply(run_state *st, const json_t *event);
void state_free(run_state *st);

node_state *state_node(run_state *st, const char *name);
const char *state_run_status_name(run_status s);
const char *state_node_status_name(node_status s);
/* state_to_json - the whole state, for `status --json`. New reference. */
json_t *state_to_json(const run_state *st);
/* state_ts_ms - parses the journal's "ts" (RFC 3339 UTC) into epoch ms; 0 on error. */
long long state_ts_ms(const char *ts);
/* state_format_ts - "2026-11-21 07:04:05Z" for epoch ms into buf. */
const char *state_format_ts(long long ms, char *buf, size_t len);

#endif
