/*
 * plugins/checksum/checksum.h - what the files of the checksum plugin share.
 * Not installed; nothing here is exported from the module.
 */
#ifndef PGMOVE_PLUGINS_CHECKSUM_H
#define PGMOVE_PLUGINS_CHECKSUM_H

#include "pgmove/plugin.h"

#define CHECKSUM_APP "checksum"

/* The most differences checksum.compare lists (all are counted): the
 * list is what grows with the number of differences. */
#define CHECKSUM_MAX_LISTED 10000

/* Schemas that never hold user objects (SQL condition on n.nspname). */
#define CHECKSUM_USER_SCHEMAS \
	"n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') " \
	"AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'"

/* checksum_session_sql - one statement that forces the session settings
 * that decide the text form of values (TimeZone, DateStyle, IntervalStyle,
 * extra_float_digits, bytea_output, ...) to the same values on both sides,
 * and keeps the planner from parallel plans and JIT per chunk. */
extern const char checksum_session_sql[];

/* checksum_compare / checksum_sequences / checksum_inventory - the plugin
 * functions (see checksum.c for the descriptor). */
json_t *checksum_compare(pgm_call *call, json_t *args);
json_t *checksum_compare_live(pgm_call *call, json_t *args);
json_t *checksum_sequences(pgm_call *call, json_t *args);
json_t *checksum_inventory(pgm_call *call, json_t *args);

#endif
