/*
 * plugins/logical/logical.h - shared between the files of the logical
 * plugin (native PostgreSQL logical replication). Not installed.
 */
#ifndef PGMOVE_LOGICAL_H
#define PGMOVE_LOGICAL_H

#include <stdint.h>

#include "pgmove/plugin.h"

#define LG_APP "logical"

/* lg_connect - connects to the conninfo in args[name]. NULL with the error
 * set (also when the argument is missing and required). */
pgm_pg *lg_connect(pgm_call *call, json_t *args, const char *name);
/* lg_name_arg - args[name] checked as a replication object name (1-63 of
 * [a-z0-9_], the form that needs no quoting anywhere). NULL with the error
 * set when missing (required) or malformed. Owned by args. */
const char *lg_name_arg(pgm_call *call, json_t *args, const char *name, int required);
/* lg_row - the first row of a query as a JSON object (new reference),
 * json_null() when there is none, NULL with the error set. */
json_t *lg_row(pgm_call *call, pgm_pg *pg, const char *sql, int nparams, const char *const *params);
/* lg_lsn_parse - "16/B374D848" -> 64-bit position; 0 for NULL or garbage. */
uint64_t lg_lsn_parse(const char *text);
/* lg_lsn_format - the text form of a position, in buf (>= 24 bytes). */
const char *lg_lsn_format(uint64_t lsn, char *buf, size_t len);
/* lg_json_lsn - the position in a JSON string member (0 when absent). */
uint64_t lg_json_lsn(json_t *obj, const char *key);
/* lg_command - pgm_pg_command of a statement built with printf. */
int lg_commandf(pgm_call *call, pgm_pg *pg, const char *fmt, ...) PGM_PRINTF(3, 4);
/* lg_writable_session - makes this session writable whatever the
 * database's default (a fenced database is read-only). 0 or -1. */
int lg_writable_session(pgm_call *call, pgm_pg *pg);
/* lg_sync_sequences - every sequence of sub set to at least pub's last
 * value + margin, never moved back. Returns the list as a new array, or
 * NULL with the error set. *changed counts what was moved. */
json_t *lg_sync_sequences(pgm_call *call, pgm_pg *pub, pgm_pg *sub, long long margin, int *changed,
			  int *missing);

/* The functions, one per file section. */
json_t *lg_fn_preflight(pgm_call *call, json_t *args);
json_t *lg_fn_status(pgm_call *call, json_t *args);
json_t *lg_fn_lsn(pgm_call *call, json_t *args);
json_t *lg_fn_wait_applied(pgm_call *call, json_t *args);
json_t *lg_fn_fence(pgm_call *call, json_t *args);

#endif
