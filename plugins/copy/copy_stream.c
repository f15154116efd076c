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

/* ------------------------------------------------------------------------
 * PostgreSQL's hash functions (src/common/hashfn.c: Bob Jenkins' lookup3,
 * the extended 64-bit forms behind hash*extended), as a little-endian
 * server computes them: each row's typed SQL hash computed here from the
 * values the source sends, instead of by the source as one more column of
 * its COPY. copy.c checks them against the source's at the start of every
 * copy (a big-endian server's differ) and lets the source hash otherwise.
 * ---------------------------------------------------------------------- */

#define HROT(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
#define HMIX(a, b, c)                                                                              \
	do {                                                                                       \
		a -= c;                                                                            \
		a ^= HROT(c, 4);                                                                   \
		c += b;                                                                            \
		b -= a;                                                                            \
		b ^= HROT(a, 6);                                                                   \
		a += c;                                                                            \
		c -= b;                                                                            \
		c ^= HROT(b, 8);                                                                   \
		b += a;                                                                            \
		a -= c;                                                                            \
		a ^= HROT(c, 16);                                                                  \
		c += b;                                                                            \
		b -= a;                                                                            \
		b ^= HROT(a, 19);                                                                  \
		a += c;                                                                            \
		c -= b;                                                                            \
		c ^= HROT(b, 4);                                                                   \
		b += a;                                                                            \
	} while (0)
#define HFINAL(a, b, c)                                                                            \
	do {                                                                                       \
		c ^= b;                                                                            \
		c -= HROT(b, 14);                                                                  \
		a ^= c;                                                                            \
		a -= HROT(c, 11);                                                                  \
		b ^= a;                                                                            \
		b -= HROT(a, 25);                                                                  \
		c ^= b;                                                                            \
		c -= HROT(b, 16);                                                                  \
		a ^= c;                                                                            \
		a -= HROT(c, 4);                                                                   \
		b ^= a;                                                                            \
		b -= HROT(a, 14);                                                                  \
		c ^= b;                                                                            \
		c -= HROT(b, 24);                                                                  \
	} while (0)

/* le32 - four bytes as a little-endian word (lookup3's reads on x86) */
static uint32_t le32(const unsigned char *k)
{
	return (uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 24;
}

/* pg_hash_bytes - hash_bytes_extended: hash_any_extended of k[0..len) */
static uint64_t pg_hash_bytes(const unsigned char *k, int len, uint64_t seed)
{
	uint32_t a, b, c;

	a = b = c = 0x9e3779b9U + (uint32_t)len + 3923095U;
	if (seed != 0) {
		a += (uint32_t)(seed >> 32);
		b += (uint32_t)seed;
		HMIX(a, b, c);
	}
	for (; len >= 12; len -= 12, k += 12) {
		a += le32(k);
		b += le32(k + 4);
		c += le32(k + 8);
		HMIX(a, b, c);
	}
	switch (len) { /* the last 11 bytes; c's lowest byte is left for the length */
	case 11:
		c += (uint32_t)k[10] << 24;
		/* fall through */
	case 10:
		c += (uint32_t)k[9] << 16;
		/* fall through */
	case 9:
		c += (uint32_t)k[8] << 8;
		/* fall through */
	case 8:
		b += (uint32_t)k[7] << 24;
		/* fall through */
	case 7:
		b += (uint32_t)k[6] << 16;
		/* fall through */
	case 6:
		b += (uint32_t)k[5] << 8;
		/* fall through */
	case 5:
		b += k[4];
		/* fall through */
	case 4:
		a += (uint32_t)k[3] << 24;
		/* fall through */
	case 3:
		a += (uint32_t)k[2] << 16;
		/* fall through */
	case 2:
		a += (uint32_t)k[1] << 8;
		/* fall through */
	case 1:
		a += k[0];
		/* fall through */
	default:
		break;
	}
	HFINAL(a, b, c);
	return (uint64_t)b << 32 | c;
}

/* pg_hash_u32 - hash_bytes_uint32_extended: hash_uint32_extended(k) */
static uint64_t pg_hash_u32(uint32_t k, uint64_t seed)
{
	uint32_t a, b, c;

	a = b = c = 0x9e3779b9U + (uint32_t)sizeof(uint32_t) + 3923095U;
	if (seed != 0) {
		a += (uint32_t)(seed >> 32);
		b += (uint32_t)seed;
		HMIX(a, b, c);
	}
	a += k;
	HFINAL(a, b, c);
	return (uint64_t)b << 32 | c;
}

static int64_t be64s(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* copy_tkhash - see copy_stream.h; the SQL of each kind is in
 * checksum_col_hash (plugins/checksum/checksum_hash.c). */
uint64_t copy_tkhash(int kind, const unsigned char *p, int len, uint64_t seed, int *bad)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char hex[16];
	int64_t v;
	uint32_t lo;
	int i;

	switch (kind) {
	case COPY_TK_INT2:
		if (len != 2)
			break;
		return pg_hash_u32((uint32_t)(int32_t)(int16_t)(p[0] << 8 | p[1]), seed);
	case COPY_TK_INT4:
		if (len != 4)
			break;
		return pg_hash_u32(be32(p), seed);
	case COPY_TK_BOOL:
		if (len != 1)
			break;
		return pg_hash_u32(p[0] != 0, seed);
	case COPY_TK_INT8:
		/* hashint8extended(x, (x >> 32) # seed): the low half xor the
		 * high half (its complement for negatives), hashed as a uint32 */
		if (len != 8)
			break;
		v = be64s(p);
		lo = (uint32_t)v;
		lo ^= v >= 0 ? (uint32_t)(v >> 32) : ~(uint32_t)(v >> 32);
		return pg_hash_u32(lo, (uint64_t)((v >> 32) ^ (int64_t)seed));
	case COPY_TK_TEXT:
		if (len < 0)
			break;
		return pg_hash_bytes(p, len, seed);
	case COPY_TK_BPCHAR:
		/* hashbpcharextended(x, (octet_length(x) << 16) # seed): the bytes
		 * without trailing spaces */
		if (len < 0)
			break;
		for (i = len; i > 0 && p[i - 1] == ' '; i--)
			;
		return pg_hash_bytes(p, i, (uint64_t)(((int64_t)len << 16) ^ (int64_t)seed));
	case COPY_TK_UUID:
		if (len != 16)
			break;
		return pg_hash_bytes(p, 16, seed);
	case COPY_TK_TIME8:
		if (len != 8)
			break;
		for (i = 0; i < 8; i++) {
			hex[2 * i] = (unsigned char)hexd[p[i] >> 4];
			hex[2 * i + 1] = (unsigned char)hexd[p[i] & 15];
		}
		return pg_hash_bytes(hex, 16, seed);
	default:
		break;
	}
	*bad = 1;
	return 0;
}

/* feed - one buffer of a binary COPY stream: the header (first buffer),
 * then whole rows (libpq hands out one row at a time), then the trailer;
 * each row counted and its hash summed into h (and into its key's chunk
 * with ccnt). The row's hash: typed, the xor of its columns' copy_tkhash
 * (rows of h->ncols fields); else SipHash of its bytes. A row cut across
 * buffers, a row after the trailer or a bad header marks h bad. */
static void feed(copy_shash *h, const char *buf, int n, int typed)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + n;

	if (h->header) {
		if (n < 19 || memcmp(p, "PGCOPY\n\377\r\n\0", 11) != 0 ||
		    (long long)be32(p + 15) > end - p - 19) {
			h->bad = 1;
			return;
		}
		p += 19 + be32(p + 15);
		h->header = 0;
	}
	while (p < end && !h->bad) {
		const unsigned char *row = p;
		uint64_t hv = 0;
		long long key = 0;
		int nf, f, haskey = 0;

		if (end - p < 2 || h->ended) {
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
		if (typed && nf != h->ncols) {
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
			if (typed)
				hv ^= len == -1 ? h->nullh[f]
						: copy_tkhash(h->kinds[f], p, len, (uint64_t)f + 1,
							      &h->bad);
			if (f == h->kpos && (len == 2 || len == 4 || len == 8)) {
				key = len == 2	 ? (int16_t)((p[0] << 8) | p[1])
				      : len == 4 ? (int32_t)be32(p)
						 : be64s(p);
				haskey = 1;
			}
			if (len > 0)
				p += len;
		}
		if (h->bad)
			return;
		if (!typed)
			hv = siphash(row, (size_t)(p - row));
		h->cnt++;
		h->sum += hv;
		if (h->ccnt != NULL) {
			int c = haskey ? key_chunk(h->ub, h->nchunks, key) : 0;

			h->ccnt[c]++;
			h->csum[c] += hv;
		}
	}
}

/* copy_sfeed - see copy_stream.h */
void copy_sfeed(copy_shash *h, const char *buf, int n)
{
	feed(h, buf, n, 0);
}

/* copy_tfeed - see copy_stream.h */
void copy_tfeed(copy_shash *h, const char *buf, int n)
{
	feed(h, buf, n, 1);
}
