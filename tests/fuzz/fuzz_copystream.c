/*
 * tests/fuzz/fuzz_copystream.c - libFuzzer harness: the copy plugin's
 * parsers of binary COPY streams (plugins/copy/copy_stream.c, compiled in
 * here): copy_sfeed, which hashes each row's bytes (and finds its key's
 * chunk), copy_hstrip, which takes each row's SQL hash off in place, and
 * copy_tfeed, which computes each row's typed hash from its values (rows
 * of 8 columns, one of each kind, the kinds' order set by the first byte).
 * The input is a first byte (the key's field, and whether chunks are
 * counted) and then CopyData messages, each a 2-byte little-endian length
 * and its bytes. Whatever the bytes: no read or write outside a message, a
 * length that hstrip returns within the message (n, or n - 12 for a row),
 * row counts that never pass what the bytes can hold (hstrip: a row per
 * message), every row of a chunked stream counted in one chunk.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/copy/copy_stream.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long long ccnt[4] = {0}, ub[4] = {-100, 0, 1000, 1LL << 40};
	uint64_t csum[4] = {0};
	copy_shash s = {.kpos = -1, .nchunks = 4, .header = 1};
	copy_shash h = {.kpos = -1, .header = 1};
	unsigned char kinds[8];
	uint64_t nullh[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	copy_shash t = {.kpos = -1, .nchunks = 4, .header = 1, .ncols = 8, .kinds = kinds, .nullh = nullh};
	int k;
	size_t at = 1;
	long long msgs = 0;

	if (size < 1)
		return 0;
	s.kpos = (data[0] & 7) == 7 ? -1 : data[0] & 7;
	if (data[0] & 8) {
		s.ccnt = ccnt;
		s.csum = csum;
		s.ub = ub;
	}
	t.kpos = s.kpos;
	for (k = 0; k < 8; k++) /* every kind once, rotated by the first byte */
		kinds[k] = (unsigned char)(COPY_TK_INT2 + (k + (data[0] >> 4)) % 8);
	while (at + 2 <= size) {
		size_t n = (size_t)data[at] | (size_t)data[at + 1] << 8;
		char *a, *b;
		int r;

		at += 2;
		if (n > size - at)
			n = size - at;
		/* exact-size copies: ASan sees a read past the message */
		a = malloc(n ? n : 1);
		b = malloc(n ? n : 1);
		if (a == NULL || b == NULL)
			abort();
		memcpy(a, data + at, n);
		memcpy(b, data + at, n);
		at += n;
		msgs++;
		copy_sfeed(&s, a, (int)n);
		if (!t.bad)
			copy_tfeed(&t, a, (int)n);
		if (!h.bad) {
			r = copy_hstrip(&h, b, (int)n);
			if (r != -1 && r != (int)n && r != (int)n - 12)
				abort();
			if (r == -1 && !h.bad)
				abort();
		}
		free(a);
		free(b);
		/* hstrip takes one row per message; sfeed any number of whole
		 * rows (2 bytes at least: a row of no columns) */
		if (h.cnt > msgs || s.cnt > (long long)(size / 2) || t.cnt > s.cnt)
			abort();
	}
	if (s.ccnt != NULL && ccnt[0] + ccnt[1] + ccnt[2] + ccnt[3] != s.cnt)
		abort(); /* every row counted is in one chunk */
	return 0;
}
