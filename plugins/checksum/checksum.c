/*
 * plugins/checksum/checksum.c - the checksum plugin's descriptor: compare
 * (row counts and content checksums of two servers, narrowed down to keys),
 * sequences and inventory. The work is in checksum_compare.c and
 * checksum_inventory.c.
 */
#include "checksum.h"

static const pgm_param compare_params[] = {
	{ "source", "conninfo", 1, 1, "source connection string" },
	{ "target", "conninfo", 1, 1, "target connection string" },
	{ "tables", "array", 0, 0, "tables to compare (\"schema.table\" or \"table\", wildcards); default all" },
	{ "schemas", "array", 0, 0, "compare only these schemas (when tables is not given)" },
	{ "exclude", "array", 0, 0, "tables to leave out" },
	{ "jobs", "integer", 0, 0, "connections to each server (default 4)" },
	{ "chunk_rows", "integer", 0, 0, "rows per key-range chunk (default 100000)" },
	{ "leaf_rows", "integer", 0, 0, "range size at which differing keys are fetched (default 2000)" },
	{ "max_differences", "integer", 0, 0, "differences listed at most, 0..10000 (default 100); all are counted" },
	{ "large_objects", "boolean", 0, 0, "compare large objects when no tables / schemas filter is given (default true)" },
	{ "snapshot", "boolean", 0, 0, "one consistent snapshot per server (default true)" },
	{ "hash", "string", 0, 0, "\"typed\" (default: binary hashes where exact) or \"text\" (every value through its text form)" },
	{ "check_types", "boolean", 0, 0, "column type differences make a table unequal (default true)" },
	{ "counts_only", "boolean", 0, 0, "compare row counts per chunk only (default false)" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_param compare_live_params[] = {
	{ "source", "conninfo", 1, 1, "source connection string (being written)" },
	{ "target", "conninfo", 1, 1, "target connection string (replicating from the source)" },
	{ "marker", "string", 1, 0, "replicated table (id int primary key, n bigint) written on the source and waited for on the target" },
	{ "rounds", "integer", 0, 0, "re-check rounds at most, 2..1000 (default 10)" },
	{ "catch_up_timeout", "duration", 0, 0, "how long a round waits for the target to show the marker (default 60s)" },
	{ "interval", "duration", 0, 0, "pause between rounds (default 100ms)" },
	{ "lock", "boolean", 0, 0, "decide keys still unsettled after lock_after rounds by locking their rows on the source for a moment (FOR SHARE; default true)" },
	{ "lock_timeout", "duration", 0, 0, "how long the lock statement may wait for writers, below the source's deadlock_timeout (default 200ms)" },
	{ "lock_hold", "duration", 0, 0, "how long rows stay locked waiting for the target to show the marker (default 2s)" },
	{ "lock_attempts", "integer", 0, 0, "lock statements tried at most, 1..100 (default 5)" },
	{ "lock_after", "integer", 0, 0, "rounds before the lock round, 1..rounds (default rounds)" },
	{ "tables", "array", 0, 0, "tables to compare (\"schema.table\" or \"table\", wildcards); default all" },
	{ "schemas", "array", 0, 0, "compare only these schemas (when tables is not given)" },
	{ "exclude", "array", 0, 0, "tables to leave out" },
	{ "jobs", "integer", 0, 0, "connections to each server (default 4)" },
	{ "chunk_rows", "integer", 0, 0, "rows per key-range chunk (default 100000)" },
	{ "leaf_rows", "integer", 0, 0, "range size at which differing keys are fetched (default 2000)" },
	{ "max_differences", "integer", 0, 0, "differences listed at most, 0..10000 (default 100); all are counted" },
	{ "large_objects", "boolean", 0, 0, "compare large objects when no tables / schemas filter is given (default true)" },
	{ "hash", "string", 0, 0, "\"typed\" (default) or \"text\"" },
	{ "check_types", "boolean", 0, 0, "column type differences make a table unequal (default true)" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_param sequences_params[] = {
	{ "source", "conninfo", 1, 1, "source connection string" },
	{ "target", "conninfo", 1, 1, "target connection string" },
	{ "target_ahead_ok", "boolean", 0, 0, "a target value above the source's is equal (default false)" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_param inventory_params[] = {
	{ "source", "conninfo", 1, 1, "source connection string" },
	{ "target", "conninfo", 1, 1, "target connection string" },
	{ "ignore", "array", 0, 0, "kinds to leave out (\"extension\", \"function\", ...)" },
	{ "max_differences", "integer", 0, 0, "entries listed at most per list (default 200)" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_function checksum_functions[] = {
	{ "compare", checksum_compare, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "row counts and content checksums of the tables, materialized views and large objects "
	  "of two servers, narrowed down to keys",
	  compare_params },
	{ "compare_live", checksum_compare_live, PGM_FN_IDEMPOTENT,
	  "compare while the source is written and the target replicates: differing keys are "
	  "re-checked in rounds until each is proven in flight or real, rows that never settle "
	  "under a short row lock (writes a marker row)",
	  compare_live_params },
	{ "sequences", checksum_sequences, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "the next values (what nextval returns) of the sequences of two servers", sequences_params },
	{ "inventory", checksum_inventory, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "tables, columns, indexes, constraints, sequences, views, functions, triggers, types "
	  "and extensions of two databases, compared by name",
	  inventory_params },
	{ NULL, NULL, 0, NULL, NULL }
};

PGMOVE_PLUGIN(checksum) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "checksum",
	.version = "0.1.0",
	.summary = "compare two servers: content checksums by key range, sequences, inventory",
	.functions = checksum_functions,
};
