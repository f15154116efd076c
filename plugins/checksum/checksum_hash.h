/*
 * plugins/checksum/checksum_hash.h - the typed, injective row hash of the
 * checksum plugin, shared with the copy plugin (which verifies each chunk
 * it copies with it). Not installed; compiled into both modules.
 */
#ifndef PGMOVE_PLUGINS_CHECKSUM_HASH_H
#define PGMOVE_PLUGINS_CHECKSUM_HASH_H

#include <stdint.h>
#include <stdio.h>

/* checksum_hcol - what the hash of one column depends on (all borrowed). */
typedef struct checksum_hcol {
	const char *qname;    /* the quoted column name                      */
	const char *type_src; /* format_type() on the source                 */
	const char *type_tgt; /* ... on the target; NULL: absent there       */
	long long typid;      /* the column's type oid                       */
	long long base;	      /* the type under any domains                  */
} checksum_hcol;

/* checksum_mix64 - a fixed positive 64-bit constant for z (splitmix64):
 * the hash a NULL in column position z contributes. */
long long checksum_mix64(uint64_t z);

/* checksum_col_hash - writes to f the SQL expression (an int8) hashing
 * column c, seeded by its position, NULL-aware and injective on the
 * value before it is hashed. typed: binary hashes where exact (else every
 * value through its text form); float_binary: floats by their bits (a side
 * older than 12); same_encoding: both servers use the same encoding. The
 * session must run checksum_session_sql first. */
void checksum_col_hash(FILE *f, const checksum_hcol *c, int seed, int typed, int float_binary,
		       int same_encoding);

/* checksum_col_typed - 1 when checksum_col_hash(f, c, seed, 1,
 * float_binary, same_encoding) hashes column c without going through its
 * text form (an output function per value: numeric, jsonb, dates, arrays,
 * ...), so that hashing it costs the server about as much as reading it;
 * 0 otherwise. */
int checksum_col_typed(const checksum_hcol *c, int float_binary, int same_encoding);

#endif
