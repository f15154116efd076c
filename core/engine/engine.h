/*
 * core/engine/engine.h - executing a runbook: run, resume, rollback.
 *
 * Every transition is journaled (and fsync'd) before the engine acts on
 * it; the run's state is the replay of its journal (core/state.h).
 */
#ifndef PGMOVE_CORE_ENGINE_H
#define PGMOVE_CORE_ENGINE_H

#include <jansson.h>

typedef struct engine_opts {
	const char *state_dir;   /* the state directory (runs live below it)  */
	const char *run_id;      /* for run: the id to use; NULL = generated   */
	const char *runbook;     /* for resume/rollback: a runbook file to use instead of the journaled one */
	json_t *cli_params;      /* object name -> string from -p; borrowed    */
	json_t *approvals;       /* array of approve names from --approve      */
	const char *user;        /* who runs it (approvals, deviations)        */
	int accept_changed;      /* resume: accept a changed runbook           */
	int accept_changed_plugins; /* resume: accept changed plugins         */
} engine_opts;

/* engine_run - starts a new run of the runbook at path. Returns the exit
 * code (core/exitcodes.h); messages have been logged. */
int engine_run(const char *path, const engine_opts *o);
/* engine_resume - continues the run in run_dir. */
int engine_resume(const char *run_dir, const engine_opts *o);
/* engine_rollback - runs the undo of every succeeded step of the run in
 * run_dir, newest first. */
int engine_rollback(const char *run_dir, const engine_opts *o);

/* engine_run_dir - run_dir for runbook name and run id under state_dir. */
void engine_run_dir(const char *state_dir, const char *rb_name, const char *run_id, char *out,
		    size_t outlen);
/* engine_new_run_id - "20261121-070405-3fa9" into out. */
void engine_new_run_id(char *out, size_t outlen);
/* engine_wall_ms - the wall clock in epoch milliseconds. */
long long engine_wall_ms(void);

#endif
