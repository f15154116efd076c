/*
 * plugins/copy/copy_stream.h - the copy plugin's parsers of binary COPY
 * streams (copy_stream.c): the stream hash of each row's bytes, and the
 * rows of a COPY whose last column is the row's SQL hash, taken off before
 * the rows go on. Compiled into the copy plugin and the fuzz harness
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
} copy_shash;

/* copy_sfeed - hashes one CopyData message of a binary COPY stream into h
 * (SipHash-2-4 of each row's bytes); the first message holds the header. A
 * message that does not parse, or a row cut across messages, sets h->bad. */
void copy_sfeed(copy_shash *h, const char *buf, int n);

/* copy_hstrip - one CopyData message of a binary COPY whose rows end with
 * their SQL hash (an int8): the hash is counted and summed into h and
 * taken off the row in place. Returns the bytes of buf to send on (n for
 * the trailer, n - 12 for a row), or -1 with h->bad set. */
int copy_hstrip(copy_shash *h, char *buf, int n);

#endif
