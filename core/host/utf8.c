/*
 * core/host/utf8.c - text from outside (Lua, argv, the environment, libpq,
 * children) made safe for JSON: checked, or repaired with U+FFFD.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "host.h"

/* seq_len - the length of the valid UTF-8 sequence at s (at most n bytes
 * left), or 0 when it is not one (overlong forms, surrogates and values
 * above U+10FFFF are not). */
static size_t seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && s[1] >= 0xA0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xF4 && s[1] >= 0x90)
			return 0; /* above U+10FFFF */
		return 4;
	}
	return 0;
}

/* pgm_utf8_valid - see host.h. */
int pgm_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t k = seq_len(p + i, len - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* pgm_utf8_repair - see host.h. Each bad byte becomes U+FFFD (3 bytes),
 * so the copy is at most three times as long. */
char *pgm_utf8_repair(const char *s, size_t len, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(len * 3 + 1);
	size_t i = 0, o = 0;
	if (!out)
		return NULL;
	while (i < len) {
		size_t k = seq_len(p + i, len - i);
		if (k) {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return out;
}

/* pgm_utf8_json - see host.h. */
json_t *pgm_utf8_json(const char *s, size_t len)
{
	if (!s)
		return json_null();
	if (pgm_utf8_valid(s, len))
		return json_stringn(s, len);
	size_t n;
	char *r = pgm_utf8_repair(s, len, &n);
	json_t *j = r ? json_stringn(r, n) : NULL;
	free(r);
	return j ? j : json_string("(out of memory)");
}
