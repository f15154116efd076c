/*
 * plugins/copy/copy_stream.h - the copy plugin's parsers of binary COPY
 * streams (copy_stream.c): the stream hash of each row's bytes, and the
 * rows of a COPY whose last column is the row's SQL hash, taken off before
 * the rows go on, and that row hash computed by pgmove itself from the
 * values (copy_tfeed). Compiled into the copy plugin and the fuzz harness
 * tests/fuzz/fuzz_copystream.c; not installed.
 */
#ifndef PGMOVE_PLUGINS_COPY_STREAM_H
#define PGMOVE_PLUGINS_COPY_STREAM_H

#include <stdint.h>

/* copy_shash - a binary COPY stream being parsed: rows counted and their
 * hashes summed, per chunk too when ccnt is set (a key-split table). */
typedef struct copy_shash {
	int kpos;    /* the key's field among the row's, or -1       */
	int nchunks; /* with ccnt: the table's chunks                */
	int header;  /* the stream's header is still to come         */
	int bad;     /* the stream did not parse                     */
	int ended;   /* the trailer was seen                         */
	long long cnt;
	uint64_t sum;
	long long *ccnt; /* per chunk, or NULL */
	uint64_t *csum;
	const long long *ub; /* with ccnt: chunk c's upper bound (the first chunk
			      * whose bound is >= the row's key holds it) */
	/* copy_tfeed only: the row's columns, their kinds (COPY_TK_*) and
	 * the hash each contributes when NULL */
	int ncols;
	const unsigned char *kinds;
	const uint64_t *nullh;
} copy_shash;

/* The kinds of column whose typed SQL hash (checksum_col_hash, typed)
 * copy_tfeed computes from the value's binary send form. */
enum {
	COPY_TK_NONE = 0, /* not computed by pgmove                        */
	COPY_TK_INT2,	  /* int2: hashint2extended                        */
	COPY_TK_INT4,	  /* int4, oid: hashint4extended, hashoidextended  */
	COPY_TK_INT8,	  /* int8: hashint8extended, seed with the high half */
	COPY_TK_BOOL,	  /* bool: hashint4extended of 0 / 1               */
	COPY_TK_TEXT,	  /* text, varchar: hashtextextended, collation C  */
	COPY_TK_BPCHAR,	  /* bpchar: hashbpcharextended, seed with the length */
	COPY_TK_UUID,	  /* uuid: uuid_hash_extended                      */
	COPY_TK_TIME8	  /* timestamp, timestamptz, time: hashtextextended
			   * of the send form in hex                       */
};

/* copy_tkhash - the typed SQL hash (as its int8's bits) of one value of
 * kind kind (COPY_TK_*) whose binary send form is p[0..len): what
 * checksum_col_hash's expression gives for it on a little-endian server
 * whose text arrives unconverted; seed is the column's position. 0 with
 * *bad set when len does not fit the kind. */
uint64_t copy_tkhash(int kind, const unsigned char *p, int len, uint64_t seed, int *bad);

/* copy_tfeed - one CopyData message of a binary COPY of plain rows of
 * h->ncols columns: each row's typed SQL hash (the xor of its columns'
 * copy_tkhash, or nullh for a NULL) is counted and summed into h, as
 * copy_hstrip sums the hash the source computed; the bytes go on
 * unchanged. A message that does not parse sets h->bad. */
void copy_tfeed(copy_shash *h, const char *buf, int n);

/* copy_sfeed - hashes one CopyData message of a binary COPY stream into h
 * (SipHash-2-4 of each row's bytes); the first message holds the header. A
 * message that does not parse, a row cut across messages or a row after
 * the trailer sets h->bad. */
void copy_sfeed(copy_shash *h, const char *buf, int n);

/* copy_hstrip - one CopyData message of a binary COPY whose rows end with
 * their SQL hash (an int8): the hash is counted and summed into h and
 * taken off the row in place. Returns the bytes of buf to send on (n for
 * the trailer, n - 12 for a row), or -1 with h->bad set. */
int copy_hstrip(copy_shash *h, char *buf, int n);

#endif
