/*
 * core/aws/aws_sigv4.c - AWS Signature Version 4, as specified in the AWS
 * General Reference ("Create a signed AWS API request"): canonical request,
 * string to sign, derived signing key, Authorization header. SHA-256 and
 * HMAC come from OpenSSL's libcrypto.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "aws_internal.h"

static const char hexdig[] = "0123456789ABCDEF";
static const char hexlow[] = "0123456789abcdef";

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

char *aws_uri_encode(const char *s, size_t len, int keep_slash)
{
	char *out = malloc(len * 3 + 1);
	size_t n = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hexdig[c >> 4];
			out[n++] = hexdig[c & 15];
		}
	}
	out[n] = '\0';
	return out;
}

void aws_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
		mdlen = 0;
	for (unsigned i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hexlow[md[i] >> 4];
		out[2 * i + 1] = hexlow[md[i] & 15];
	}
	out[mdlen == 32 ? 64 : 0] = '\0';
}

void aws_amz_date(long long t, char buf[17])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* percent_decode - decodes %XX and '+' (as a space, form style) of s[0..len)
 * into a new string; *outlen gets its length. */
static char *percent_decode(const char *s, size_t len, size_t *outlen)
{
	char *out = malloc(len + 1);
	size_t n = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hx[3] = {s[i + 1], s[i + 2], 0};

			out[n++] = (char)strtol(hx, NULL, 16);
			i += 2;
		} else if (s[i] == '+') {
			out[n++] = ' ';
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

typedef struct qpair {
	char *name;
	char *value;
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
	const qpair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

char *aws_sigv4_canonical_query(const char *query)
{
	qpair *pairs = NULL;
	size_t np = 0, cap = 0;
	char *buf = NULL;
	size_t buflen = 0;
	FILE *f;

	if (!query)
		query = "";
	for (const char *p = query; *p;) {
		const char *amp = strchr(p, '&');
		size_t seg = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', seg);
		size_t nl = eq ? (size_t)(eq - p) : seg;
		size_t dl;
		char *dn, *dv;

		if (seg > 0) {
			if (np == cap) {
				cap = cap ? cap * 2 : 8;
				pairs = realloc(pairs, cap * sizeof(*pairs));
				if (!pairs)
					return NULL;
			}
			dn = percent_decode(p, nl, &dl);
			pairs[np].name = aws_uri_encode(dn, dl, 0);
			free(dn);
			dv = eq ? percent_decode(eq + 1, seg - nl - 1, &dl) : strdup("");
			if (!eq)
				dl = 0;
			pairs[np].value = aws_uri_encode(dv, dl, 0);
			free(dv);
			np++;
		}
		p += seg;
		if (*p == '&')
			p++;
	}
	if (np)
		qsort(pairs, np, sizeof(*pairs), qpair_cmp);
	f = open_memstream(&buf, &buflen);
	if (f) {
		for (size_t i = 0; i < np; i++)
			fprintf(f, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
		fclose(f);
	}
	for (size_t i = 0; i < np; i++) {
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
	return buf;
}

typedef struct hdr {
	char *name;  /* lower case */
	char *value; /* trimmed, inner runs of spaces collapsed */
} hdr;

static int hdr_cmp(const void *a, const void *b)
{
	return strcmp(((const hdr *)a)->name, ((const hdr *)b)->name);
}

/* trim_value - the header value as SigV4 canonicalises it: leading and
 * trailing white space removed, each inner run of spaces and tabs collapsed
 * to one space; a value folded over several lines (obsolete HTTP line
 * folding: a newline followed by white space) gives one value per line,
 * joined with ',' as repeated headers are (the suite's
 * get-header-value-multiline). Caller frees. */
static char *trim_value(const char *v)
{
	char *out = malloc(strlen(v) + 1);
	size_t n = 0, line_start = 0;
	int space = 0;

	if (!out)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == '\r' || *v == '\n') {
			/* a line ends: drop its trailing space, start a new value */
			space = 0;
			while (v[1] == '\r' || v[1] == '\n' || v[1] == ' ' || v[1] == '\t')
				v++;
			if (n > line_start && v[1])
				out[n++] = ',';
			line_start = n;
			continue;
		}
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space && n > line_start)
			out[n++] = ' ';
		space = 0;
		out[n++] = *v;
	}
	out[n] = '\0';
	return out;
}

/* aws_sigv4_normalize_path - the path with its dot segments resolved and
 * runs of '/' collapsed (RFC 3986 section 5.2.4, as SigV4 wants for every
 * service but S3): "/a/./b/../c//" -> "/a/c/". A trailing '/' is kept;
 * the empty path is "/". Caller frees. */
char *aws_sigv4_normalize_path(const char *path)
{
	size_t len = path ? strlen(path) : 0, n = 0;
	char *out = malloc(len + 2);
	const char *p = path ? path : "";
	int trailing = 0;

	if (!out)
		return NULL;
	while (*p) {
		const char *seg;
		size_t sl;

		while (*p == '/')
			p++;
		seg = p;
		while (*p && *p != '/')
			p++;
		sl = (size_t)(p - seg);
		if (sl > 0)
			trailing = *p == '/' || (sl == 1 && seg[0] == '.') ||
				   (sl == 2 && seg[0] == '.' && seg[1] == '.');
		if (sl == 0 || (sl == 1 && seg[0] == '.'))
			continue;
		if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--; /* the '/' before the dropped segment */
			continue;
		}
		out[n++] = '/';
		memcpy(out + n, seg, sl);
		n += sl;
	}
	if (n == 0 || trailing)
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

char *aws_sigv4_canonical_request(const aws_sigv4_request *r, char **signed_headers)
{
	hdr *h = NULL;
	size_t nh = 0;
	char *buf = NULL, *sbuf = NULL, *uri = NULL, *cq = NULL;
	size_t buflen = 0, sbuflen = 0;
	char payload_hash[65];
	FILE *f, *sf;

	for (size_t i = 0; r->headers && r->headers[i]; i++)
		nh++;
	h = calloc(nh ? nh : 1, sizeof(*h));
	if (!h)
		return NULL;
	for (size_t i = 0; i < nh; i++) {
		const char *line = r->headers[i];
		const char *colon = strchr(line, ':');
		size_t nl = colon ? (size_t)(colon - line) : strlen(line);

		h[i].name = strndup(line, nl);
		for (char *c = h[i].name; c && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		h[i].value = trim_value(colon ? colon + 1 : "");
	}
	/* A stable sort keeps duplicates in the order given, which is the
	 * order their values are joined in. */
	for (size_t i = 1; i < nh; i++)
		for (size_t j = i; j > 0 && hdr_cmp(&h[j - 1], &h[j]) > 0; j--) {
			hdr t = h[j];

			h[j] = h[j - 1];
			h[j - 1] = t;
		}

	{
		char *np = aws_sigv4_normalize_path(r->path);

		uri = np ? aws_uri_encode(np, strlen(np), 1) : NULL;
		free(np);
	}
	cq = aws_sigv4_canonical_query(r->query);
	aws_sha256_hex(r->payload ? r->payload : "", r->payload ? r->payload_len : 0, payload_hash);

	f = open_memstream(&buf, &buflen);
	sf = open_memstream(&sbuf, &sbuflen);
	if (f && sf) {
		fprintf(f, "%s\n%s\n%s\n", r->method, uri ? uri : "/", cq ? cq : "");
		for (size_t i = 0; i < nh; i++) {
			if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
				fprintf(f, ",%s", h[i].value);
				continue;
			}
			if (i > 0)
				fputc('\n', f);
			fprintf(f, "%s:%s", h[i].name, h[i].value);
			fprintf(sf, "%s%s", i ? ";" : "", h[i].name);
		}
		fprintf(f, "\n\n");
		fflush(sf);
		fprintf(f, "%s\n%s", sbuf ? sbuf : "", payload_hash);
	}
	if (f)
		fclose(f);
	if (sf)
		fclose(sf);
	for (size_t i = 0; i < nh; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	free(uri);
	free(cq);
	if (signed_headers)
		*signed_headers = sbuf;
	else
		free(sbuf);
	return buf;
}

char *aws_sigv4_string_to_sign(const aws_sigv4_request *r, const char *creq)
{
	char hash[65];
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	aws_sha256_hex(creq, strlen(creq), hash);
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fprintf(f, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", r->amz_date, r->amz_date,
		r->region, r->service, hash);
	fclose(f);
	return out;
}

/* hmac - out = HMAC-SHA256(key, data); 0 or -1. */
static int hmac(const unsigned char *key, size_t keylen, const void *data, size_t len,
		unsigned char out[32])
{
	unsigned int outlen = 0;

	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) || outlen != 32)
		return -1;
	return 0;
}

char *aws_sigv4_authorization(const aws_sigv4_request *r)
{
	char *signed_headers = NULL, *creq, *sts, *kkey, *out = NULL;
	unsigned char k[32], sig[32];
	char sighex[65];
	size_t klen;
	size_t outlen = 0;
	FILE *f;
	int rc = 0;

	creq = aws_sigv4_canonical_request(r, &signed_headers);
	sts = creq ? aws_sigv4_string_to_sign(r, creq) : NULL;
	klen = strlen(r->secret_key) + 4;
	kkey = malloc(klen + 1);
	if (!creq || !sts || !kkey)
		goto done;
	snprintf(kkey, klen + 1, "AWS4%s", r->secret_key);
	rc |= hmac((unsigned char *)kkey, klen, r->amz_date, 8, k);
	rc |= hmac(k, 32, r->region, strlen(r->region), k);
	rc |= hmac(k, 32, r->service, strlen(r->service), k);
	rc |= hmac(k, 32, "aws4_request", 12, k);
	rc |= hmac(k, 32, sts, strlen(sts), sig);
	if (rc)
		goto done;
	for (int i = 0; i < 32; i++) {
		sighex[2 * i] = hexlow[sig[i] >> 4];
		sighex[2 * i + 1] = hexlow[sig[i] & 15];
	}
	sighex[64] = '\0';
	f = open_memstream(&out, &outlen);
	if (f) {
		fprintf(f,
			"AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
			"SignedHeaders=%s, Signature=%s",
			r->access_key, r->amz_date, r->region, r->service, signed_headers, sighex);
		fclose(f);
	}
done:
	if (kkey) {
		memset(kkey, 0, klen);
		free(kkey);
	}
	memset(k, 0, sizeof(k));
	free(creq);
	free(sts);
	free(signed_headers);
	return out;
}
