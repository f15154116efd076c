/*
 * plugins/checksum/checksum_hash.c - the typed, injective column hashes of
 * checksum.compare, shared with the copy plugin's per-chunk verification.
 */
#include <string.h>

#include "checksum.h"
#include "checksum_hash.h"

const char checksum_session_sql[] =
	"SELECT pg_catalog.set_config('TimeZone', 'UTC', false), "
	"pg_catalog.set_config('DateStyle', 'ISO, YMD', false), "
	"pg_catalog.set_config('IntervalStyle', 'postgres', false), "
	"pg_catalog.set_config('extra_float_digits', '3', false), "
	"pg_catalog.set_config('bytea_output', 'hex', false), "
	"pg_catalog.set_config('client_encoding', 'UTF8', false), "
	"pg_catalog.set_config('lc_monetary', 'C', false), "
	"pg_catalog.set_config('xmloption', 'content', false), "
	"pg_catalog.set_config('search_path', 'pg_catalog', false), "
	"pg_catalog.set_config('max_parallel_workers_per_gather', '0', false), "
	"pg_catalog.set_config('jit', 'off', false), "
	"pg_catalog.set_config('enable_seqscan', 'off', false), "
	"pg_catalog.set_config('statement_timeout', '0', false), "
	"pg_catalog.set_config('idle_in_transaction_session_timeout', '0', false)";

/* checksum_mix64 - a fixed 64-bit constant per column position (splitmix64), the
 * hash a NULL contributes. */
long long checksum_mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (long long)(z >> 1); /* positive: no unary minus in SQL text */
}

/* text_form - the text form of column c as SQL: its output function's
 * (COPY's) form. The ::text cast is that form for every type but bpchar,
 * whose cast drops trailing spaces: bpchar (and domains over it) go
 * through bpcharout. */
static void text_form(FILE *f, const checksum_hcol *c)
{
	if (c->base == 1042)
		fprintf(f, "textin(bpcharout(%s))", c->qname);
	else
		fprintf(f, "%s::text", c->qname);
}

/* checksum_col_typed - see checksum_hash.h: the cases of checksum_col_hash
 * below that write no text form. */
int checksum_col_typed(const checksum_hcol *c, int float_binary, int same_encoding)
{
	if (c->type_tgt == NULL || strcmp(c->type_src, c->type_tgt) != 0)
		return 0;
	switch (c->typid) {
	case 20:
	case 1114:
	case 1184:
	case 1083:
	case 21:
	case 23:
	case 26:
	case 18:
	case 16:
	case 2950:
	case 869:
	case 829:
		return 1;
	case 1042:
	case 25:
	case 1043:
		return same_encoding;
	case 700:
	case 701:
		return float_binary;
	default:
		return 0;
	}
}

/* checksum_col_hash - the hash expression of one column, seeded by its position,
 * NULL-aware, and injective on the column's value before it is hashed
 * (PostgreSQL's own hash functions are not: they fold 64-bit values to 32
 * bits, and bpchar's ignores trailing spaces):
 * - int2, int4, oid, "char", bool: hashed whole by hash*extended;
 * - uuid, inet, macaddr: hash_any over all of their bytes;
 * - text, varchar (collation "C": the bytes): hashtextextended;
 * - int8: hashint8extended hashes lo ^ hi; the high half goes into the seed;
 * - bpchar: the hash of the value without trailing spaces, seeded with its
 *   length in bytes (which brings the trailing spaces back);
 * - timestamp, timestamptz, time: their binary send form (the 64-bit
 *   microseconds) in hex;
 * - everything else: its text form (numeric 1.0 vs 1.00 and float -0 vs 0
 *   differ).
 * When the two servers' encodings differ, text is compared decoded: the
 * hash is taken of its UTF-8 bytes (convert_to) on both sides. */
void checksum_col_hash(FILE *f, const checksum_hcol *c, int seed, int typed, int float_binary,
		       int same_encoding)
{
	const char *fn = NULL, *arg = "";
	int same = c->type_tgt != NULL && strcmp(c->type_src, c->type_tgt) == 0;
	long long nullh = checksum_mix64((uint64_t)seed);

	if (typed && same) {
		switch (c->typid) {
		case 20:
			fprintf(f, "coalesce(hashint8extended(%s, (%s >> 32) # %d), %lld)",
				c->qname, c->qname, seed, nullh);
			return;
		case 1114:
		case 1184:
		case 1083:
			fprintf(f, "coalesce(hashtextextended(encode(%s(%s), 'hex'), %d), %lld)",
				c->typid == 1114   ? "timestamp_send"
				: c->typid == 1184 ? "timestamptz_send"
						   : "time_send",
				c->qname, seed, nullh);
			return;
		case 1042:
			if (!same_encoding)
				break;
			fprintf(f,
				"coalesce(hashbpcharextended(%s COLLATE \"C\", "
				"(octet_length(%s)::int8 << 16) # %d), %lld)",
				c->qname, c->qname, seed, nullh);
			return;
		case 21:
			fn = "hashint2extended";
			break;
		case 23:
			fn = "hashint4extended";
			break;
		case 26:
			fn = "hashoidextended";
			break;
		case 18:
			fn = "hashcharextended";
			break;
		case 16:
			fn = "hashint4extended";
			arg = "::int4";
			break;
		case 25:
		case 1043:
			if (same_encoding) {
				fn = "hashtextextended";
				arg = " COLLATE \"C\"";
			}
			break;
		case 2950:
			fn = "uuid_hash_extended";
			break;
		case 869:
			fn = "hashinetextended";
			break;
		case 829:
			fn = "hashmacaddrextended";
			break;
		default:
			break;
		}
	}
	/* Before PostgreSQL 12, extra_float_digits=3 printed 17 digits where
	 * 12 and later print the shortest exact form: across such versions,
	 * floats are compared by their bits (-0 and 0 still differ). */
	if (fn == NULL && same && float_binary && (c->typid == 700 || c->typid == 701)) {
		fprintf(f,
			"coalesce(hashtextextended(encode(float8send(%s::float8), 'hex'), %d), "
			"%lld)",
			c->qname, seed, nullh);
		return;
	}
	if (fn != NULL) {
		fprintf(f, "coalesce(%s(%s%s, %d), %lld)", fn, c->qname, arg, seed, nullh);
	} else if (!same_encoding) {
		fputs("coalesce(hashtextextended(encode(convert_to(", f);
		text_form(f, c);
		fprintf(f, ", 'UTF8'), 'hex'), %d), %lld)", seed, nullh);
	} else {
		fputs("coalesce(hashtextextended(", f);
		text_form(f, c);
		fprintf(f, " COLLATE \"C\", %d), %lld)", seed, nullh);
	}
}
