/*
 * core/host/duration.c - durations as people write them: "250ms", "30s", "5m",
 * "1h30m", "2d", "1w", "1.5h", "90" (seconds), to and from milliseconds.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hostpriv.h"

static const struct unit {
	const char *name;
	long long ms;
} units[] = {
	{"ms", 1}, {"msec", 1}, {"msecs", 1}, {"millisecond", 1}, {"milliseconds", 1},
	{"s", 1000}, {"sec", 1000}, {"secs", 1000}, {"second", 1000}, {"seconds", 1000},
	{"m", 60000}, {"min", 60000}, {"mins", 60000}, {"minute", 60000}, {"minutes", 60000},
	{"h", 3600000}, {"hr", 3600000}, {"hrs", 3600000}, {"hour", 3600000}, {"hours", 3600000},
	{"d", 86400000}, {"day", 86400000}, {"days", 86400000},
	{"w", 604800000}, {"week", 604800000}, {"weeks", 604800000},
	{NULL, 0}
};

/* pgm_duration_parse - "<number><unit>..." with optional blanks between
 * the parts; a lone number without a unit means seconds. Fractions are
 * allowed ("1.5h") and rounded to the millisecond. */
int pgm_duration_parse(const char *text, long long *ms, char *err, size_t errlen)
{
	const char *p = text;
	long long total = 0;
	int parts = 0;

	if (err && errlen)
		err[0] = '\0';
	if (text == NULL) {
		if (err)
			snprintf(err, errlen, "empty duration");
		return -1;
	}
	for (;;) {
		long long ip = 0, frac = 0, fscale = 1, unit_ms = 0, v;
		const char *num, *u;
		size_t ulen;
		int digits = 0, i;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		num = p;
		if (!isdigit((unsigned char)*p) && *p != '.') {
			if (err)
				snprintf(err, errlen, "duration \"%s\": expected a number at \"%s\"",
					 text, p);
			return -1;
		}
		while (isdigit((unsigned char)*p)) {
			if (ip > (LLONG_MAX - 9) / 10)
				goto overflow;
			ip = ip * 10 + (*p++ - '0');
			digits++;
		}
		if (*p == '.') {
			p++;
			while (isdigit((unsigned char)*p)) {
				if (fscale < 1000000000LL) {
					frac = frac * 10 + (*p - '0');
					fscale *= 10;
				}
				p++;
				digits++;
			}
		}
		if (digits == 0) {
			if (err)
				snprintf(err, errlen, "duration \"%s\": expected a number at \"%s\"",
					 text, num);
			return -1;
		}
		while (isspace((unsigned char)*p))
			p++;
		u = p;
		while (isalpha((unsigned char)*p))
			p++;
		ulen = (size_t)(p - u);
		if (ulen == 0) {
			/* A bare number is seconds, and only alone. */
			if (parts > 0 || *p != '\0') {
				if (err)
					snprintf(err, errlen,
						 "duration \"%s\": missing unit after \"%.*s\" (use ms, s, m, h, d or w)",
						 text, (int)(p - num), num);
				return -1;
			}
			unit_ms = 1000;
		} else {
			for (i = 0; units[i].name; i++) {
				if (strlen(units[i].name) == ulen &&
				    strncasecmp(units[i].name, u, ulen) == 0) {
					unit_ms = units[i].ms;
					break;
				}
			}
			if (unit_ms == 0) {
				if (err)
					snprintf(err, errlen,
						 "duration \"%s\": unknown unit \"%.*s\" (use ms, s, m, h, d or w)",
						 text, (int)ulen, u);
				return -1;
			}
		}
		if (__builtin_mul_overflow(ip, unit_ms, &v))
			goto overflow;
		if (__builtin_add_overflow(v, (frac * unit_ms + fscale / 2) / fscale, &v))
			goto overflow;
		if (__builtin_add_overflow(total, v, &total))
			goto overflow;
		parts++;
	}
	if (parts == 0) {
		if (err)
			snprintf(err, errlen, "empty duration");
		return -1;
	}
	if (total > PGM_DURATION_MAX_MS)
		goto overflow;
	*ms = total;
	return 0;
overflow:
	if (err)
		snprintf(err, errlen, "duration \"%s\": too large (at most 3650d)", text);
	return -1;
}

/* pgm_duration_format - days, hours, minutes, seconds, milliseconds, the
 * zero parts left out: "2d3h", "1h30m", "250ms", "0s". */
const char *pgm_duration_format(long long ms, char *buf, size_t buflen)
{
	static const struct {
		const char *name;
		long long ms;
	} parts[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
	unsigned long long v;
	size_t off = 0;
	size_t i;

	if (buf == NULL || buflen == 0)
		return "";
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, buflen, "0s");
		return buf;
	}
	if (ms < 0) {
		off += (size_t)snprintf(buf, buflen, "-");
		v = (unsigned long long)(-(ms + 1)) + 1;
	} else {
		v = (unsigned long long)ms;
	}
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]) && off < buflen; i++) {
		unsigned long long n = v / (unsigned long long)parts[i].ms;

		if (n == 0)
			continue;
		v -= n * (unsigned long long)parts[i].ms;
		off += (size_t)snprintf(buf + off, buflen - off, "%llu%s", n, parts[i].name);
	}
	return buf;
}
