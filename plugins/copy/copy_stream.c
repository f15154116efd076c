/*
 * plugins/copy/copy_stream.c - the parsers of binary COPY streams of the
 * copy plugin (copy_stream.h).
 *
 * Streamed verification (binary COPY): the hash of each row's bytes as
 * COPY sends them, on the source as they pass through pgmove and on the
 * target by one COPY of the stored rows. Both sides' bytes are the
 * servers' binary send functions applied to the stored values, in the
 * same client encoding: equal rows give equal bytes, and a row whose
 * stored value differs (a trigger, a conversion, a lost or doubled row)
 * gives different ones. Columns whose binary form embeds type OIDs
 * (composites, arrays or ranges of user types), which differ between
 * servers, make a table fall back to the SQL hash (streamable false).
 */
#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "copy_stream.h"

/* siphash - SipHash-2-4 of n bytes under a fixed key: a 64-bit hash of a
 * row's length-prefixed fields (so the encoding is injective), summed
 * over the rows of a chunk mod 2^64. */
#define ROTL(v, b) (uint64_t)(((v) << (b)) | ((v) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t siphash(const unsigned char *in, size_t n)
{
	const uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = ((uint64_t)n) << 56, m;
	size_t i, left = n & 7;
	const unsigned char *end = in + n - left;

	for (; in != end; in += 8) {
		memcpy(&m, in, 8); /* one load, not eight */
		m = le64toh(m);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < left; i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}


static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* key_chunk - the chunk of a key-split table (n chunks, upper bounds ub)
 * that holds key: the first chunk c with key <= ub[c]. */
static int key_chunk(const long long *ub, int n, long long key)
{
	int a = 0, b = n - 1;

	while (a < b) {
		int c = a + (b - a) / 2;

		if (key <= ub[c])
			b = c;
		else
			a = c + 1;
	}
	return a;
}

/* copy_sfeed - hashes one buffer of a binary COPY stream: the header (first
 * buffer), then whole rows (libpq hands out one row at a time), then the
 * trailer. A row cut across buffers or a bad header marks it bad. */
void copy_sfeed(copy_shash *h, const char *buf, int n)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + n;

	if (h->header) {
		if (n < 19 || memcmp(p, "PGCOPY\n\377\r\n\0", 11) != 0) {
			h->bad = 1;
			return;
		}
		if ((long long)be32(p + 15) > end - p - 19) {
			h->bad = 1;
			return;
		}
		p += 19 + be32(p + 15);
		h->header = 0;
	}
	while (p < end && !h->bad) {
		const unsigned char *row = p;
		int nf, f;
		long long key = 0;
		int haskey = 0;

		if (end - p < 2) {
			h->bad = 1;
			return;
		}
		nf = (int16_t)((p[0] << 8) | p[1]);
		p += 2;
		if (nf == -1) {
			h->ended = 1;
			if (p != end)
				h->bad = 1;
			return;
		}
		for (f = 0; f < nf; f++) {
			int32_t len;

			if (end - p < 4) {
				h->bad = 1;
				return;
			}
			len = (int32_t)be32(p);
			p += 4;
			if (len < -1 || (len > 0 && end - p < len)) {
				h->bad = 1;
				return;
			}
			if (f == h->kpos && (len == 2 || len == 4 || len == 8)) {
				key = len == 2	 ? (int16_t)((p[0] << 8) | p[1])
				      : len == 4 ? (int32_t)be32(p)
						 : (long long)(int64_t)((uint64_t)be32(p) << 32 |
									be32(p + 4));
				haskey = 1;
			}
			if (len > 0)
				p += len;
		}
		{
			uint64_t hv = siphash(row, (size_t)(p - row));

			h->cnt++;
			h->sum += hv;
			if (h->ccnt != NULL) {
				int c = haskey ? key_chunk(h->ub, h->nchunks, key) : 0;

				h->ccnt[c]++;
				h->csum[c] += hv;
			}
		}
	}
}

/* copy_hstrip - one buffer of a binary COPY stream whose rows end with their
 * SQL hash (copy_out_hashed): the header (in the first buffer) is kept;
 * each row's hash is counted and summed into h and taken off the row (its
 * field count lowered by one, its last 12 bytes left out: the server sends
 * one row per CopyData message); the trailer is passed on. Returns the
 * bytes of buf to send to the target, or -1 when the stream does not
 * parse (h->bad). */
int copy_hstrip(copy_shash *h, char *buf, int n)
{
	unsigned char *p = (unsigned char *)buf, *end = p + n, *row;
	int nf, f;

	if (h->header) {
		if (n < 19 || memcmp(p, "PGCOPY\n\377\r\n\0", 11) != 0 ||
		    (long long)be32(p + 15) > end - p - 19)
			goto bad;
		p += 19 + be32(p + 15);
		h->header = 0;
	}
	if (end - p < 2)
		goto bad;
	row = p;
	nf = (int16_t)((p[0] << 8) | p[1]);
	p += 2;
	if (nf == -1) {
		h->ended = 1;
		return p == end ? n : (h->bad = 1, -1);
	}
	if (nf < 2 || h->ended)
		goto bad;
	for (f = 0; f < nf - 1; f++) {
		int32_t len;

		if (end - p < 4)
			goto bad;
		len = (int32_t)be32(p);
		p += 4;
		if (len < -1 || (len > 0 && end - p < len))
			goto bad;
		if (len > 0)
			p += len;
	}
	if (end - p != 12 || be32(p) != 8)
		goto bad;
	h->sum += (uint64_t)be32(p + 4) << 32 | be32(p + 8);
	h->cnt++;
	nf--;
	row[0] = (unsigned char)(nf >> 8);
	row[1] = (unsigned char)(nf & 0xff);
	return n - 12;
bad:
	h->bad = 1;
	return -1;
}

