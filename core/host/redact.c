/*
 * core/host/redact.c - keeping secrets out of everything pgmove writes: the
 * registry of secrets, redaction of text (registered secrets, password=...
 * in connection strings, user:pass@ in URIs) and of JSON values, and
 * password-free descriptions of connection strings.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "hostpriv.h"

#define MASK "********"
#define MASK_LEN 8

static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets; /* sorted longest first, so a secret that contains
			* another is replaced whole */
static size_t nsecrets, secrets_cap;

/* pgm_secret_add - copies secret into the registry (ignored when shorter
 * than 4 bytes or already known). */
void pgm_secret_add(const char *secret)
{
	size_t len, i;
	char *copy;

	if (secret == NULL || (len = strlen(secret)) < 4)
		return;
	pthread_mutex_lock(&secrets_lock);
	for (i = 0; i < nsecrets; i++) {
		if (strcmp(secrets[i], secret) == 0) {
			pthread_mutex_unlock(&secrets_lock);
			return;
		}
	}
	if (nsecrets == secrets_cap) {
		size_t cap = secrets_cap ? secrets_cap * 2 : 16;
		char **n = realloc(secrets, cap * sizeof(*n));

		if (n == NULL)
			abort();
		secrets = n;
		secrets_cap = cap;
	}
	copy = strdup(secret);
	if (copy == NULL)
		abort();
	for (i = nsecrets; i > 0 && strlen(secrets[i - 1]) < len; i--)
		secrets[i] = secrets[i - 1];
	secrets[i] = copy;
	nsecrets++;
	pthread_mutex_unlock(&secrets_lock);
}

size_t pgm_secret_count(void)
{
	size_t n;

	pthread_mutex_lock(&secrets_lock);
	n = nsecrets;
	pthread_mutex_unlock(&secrets_lock);
	return n;
}

void pgm_secret_reset(void)
{
	size_t i;

	pthread_mutex_lock(&secrets_lock);
	for (i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	secrets = NULL;
	nsecrets = secrets_cap = 0;
	pthread_mutex_unlock(&secrets_lock);
}

/* pgm_secret_add_conninfo - registers the password of a connection string
 * or URI, as libpq parses it (URI percent-decoding included). */
void pgm_secret_add_conninfo(const char *conninfo)
{
	PQconninfoOption *opts, *o;

	if (conninfo == NULL)
		return;
	opts = PQconninfoParse(conninfo, NULL);
	if (opts == NULL)
		return;
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			pgm_secret_add(o->val);
	PQconninfoFree(opts);
}

/* A growing output buffer. */
typedef struct sbuf {
	char *s;
	size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->s = realloc(b->s, cap);
		if (b->s == NULL)
			abort();
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* redact_secrets - text with every registered secret masked. Caller frees. */
static char *redact_secrets(const char *text)
{
	sbuf out = {0};
	const char *p = text;

	pthread_mutex_lock(&secrets_lock);
	if (nsecrets == 0) {
		pthread_mutex_unlock(&secrets_lock);
		sb_add(&out, text, strlen(text));
		return out.s;
	}
	while (*p) {
		size_t i, hit = 0;

		for (i = 0; i < nsecrets; i++) {
			size_t l = strlen(secrets[i]);

			if (secrets[i][0] == *p && strncmp(p, secrets[i], l) == 0) {
				hit = l;
				break;
			}
		}
		if (hit) {
			sb_add(&out, MASK, MASK_LEN);
			p += hit;
		} else {
			sb_add(&out, p, 1);
			p++;
		}
	}
	pthread_mutex_unlock(&secrets_lock);
	if (out.s == NULL)
		sb_add(&out, "", 0);
	return out.s;
}

/* password_value - when p starts a password value ("password = 'a b'",
 * "PGPASSWORD=x", "\"password\": \"x\""), returns the length of the
 * keyword-and-separator part in *klen and of the value in *vlen. */
static int password_value(const char *text, const char *p, size_t *klen, size_t *vlen)
{
	const char *q = p + 8, *v;
	int json = 0;

	if (strncasecmp(p, "password", 8) != 0)
		return 0;
	if (*q == '"') {
		json = 1;
		q++;
	}
	while (*q == ' ' || *q == '\t')
		q++;
	if (*q != '=' && !(json && *q == ':'))
		return 0;
	q++;
	while (*q == ' ' || *q == '\t')
		q++;
	v = q;
	/* a JSON key naming a password whose value is an object or an array
	 * (a param's declaration: "db_password": {"secret": true}) holds no
	 * password itself; its strings are redacted on their own */
	if (json && (*q == '{' || *q == '['))
		return 0;
	if (*q == '\'') {
		q++;
		while (*q && *q != '\'') {
			if (*q == '\\' && q[1])
				q++;
			q++;
		}
		if (*q == '\'')
			q++;
	} else if (*q == '"') {
		q++;
		while (*q && *q != '"') {
			if (*q == '\\' && q[1])
				q++;
			q++;
		}
		if (*q == '"')
			q++;
	} else {
		while (*q && !isspace((unsigned char)*q) && *q != '"' && *q != ',')
			q++;
	}
	if (q == v)
		return 0;
	(void)text;
	*klen = (size_t)(v - p);
	*vlen = (size_t)(q - v);
	return 1;
}

/* uri_password - when p starts "scheme://user:pass@", the offset of pass
 * in *off and its length in *len. */
static int uri_password(const char *p, size_t *off, size_t *len)
{
	const char *a = p + 3, *end, *at = NULL, *colon = NULL, *q;

	if (strncmp(p, "://", 3) != 0)
		return 0;
	for (end = a; *end && *end != '/' && *end != '?' && *end != '#' &&
		      !isspace((unsigned char)*end) && *end != '"' && *end != '\'';
	     end++)
		if (*end == '@')
			at = end;
	if (at == NULL)
		return 0;
	for (q = a; q < at; q++)
		if (*q == ':') {
			colon = q;
			break;
		}
	if (colon == NULL || colon + 1 >= at)
		return 0;
	*off = (size_t)(colon + 1 - p);
	*len = (size_t)(at - colon - 1);
	return 1;
}

/* pgm_redact - registered secrets first, then password=... and URI
 * passwords. Caller frees. */
char *pgm_redact(const char *text)
{
	char *stage;
	const char *p;
	sbuf out = {0};

	if (text == NULL)
		return strdup("");
	stage = redact_secrets(text);
	for (p = stage; *p;) {
		size_t a, b;

		if ((*p == 'p' || *p == 'P') && password_value(stage, p, &a, &b)) {
			sb_add(&out, p, a);
			sb_add(&out, MASK, MASK_LEN);
			p += a + b;
		} else if (*p == ':' && uri_password(p, &a, &b)) {
			sb_add(&out, p, a);
			sb_add(&out, MASK, MASK_LEN);
			p += a + b;
		} else {
			sb_add(&out, p, 1);
			p++;
		}
	}
	free(stage);
	if (out.s == NULL)
		sb_add(&out, "", 0);
	return out.s;
}

/* host_secret_is_key - key names whose values are secrets, whatever they
 * hold: password, *_password, secret, *_secret, token, *_token (but not
 * pagination tokens), secret_access_key, session_token, routing_key,
 * api_key, private_key, authorization, cookies. Case, '-' and '_' are
 * ignored. */
int host_secret_is_key(const char *key)
{
	static const char *const exact[] = {
		"token", "secret", "authorization", "cookie", "setcookie",
		"routingkey", "apikey", "privatekey", "accesstoken", "authtoken",
		"xamzsecuritytoken", "integrationkey", "sessiontoken", NULL};
	static const char *const contains[] = {
		"password", "passwd", "secretaccesskey", "sessiontoken",
		"securitytoken", "privatekey", "apikey", "routingkey", NULL};
	char k[128];
	size_t n = 0, i;

	if (key == NULL)
		return 0;
	for (; *key && n + 1 < sizeof(k); key++)
		if (*key != '_' && *key != '-' && *key != ' ')
			k[n++] = (char)tolower((unsigned char)*key);
	k[n] = '\0';
	for (i = 0; exact[i]; i++)
		if (strcmp(k, exact[i]) == 0)
			return 1;
	for (i = 0; contains[i]; i++)
		if (strstr(k, contains[i]))
			return 1;
	if (n > 6 && strcmp(k + n - 6, "secret") == 0)
		return 1;
	if (n > 5 && strcmp(k + n - 5, "token") == 0 && strncmp(k, "next", 4) != 0 &&
	    strncmp(k, "continuation", 12) != 0 && strncmp(k, "pagination", 10) != 0 &&
	    strncmp(k, "idempotency", 11) != 0 && strncmp(k, "client", 6) != 0)
		return 1;
	return 0;
}

/* pgm_redact_json - deep copy, strings redacted, secret keys masked. */
/* redact_nul - a string with NUL bytes, redacted piece by piece between
 * them, the NULs kept (they are data: never cut the string there). */
static json_t *redact_nul(const char *s, size_t len)
{
	sbuf out = {0};
	size_t i = 0;
	json_t *j;

	while (i <= len) {
		size_t n = strlen(s + i); /* up to the next NUL or the end */
		char *piece = strndup(s + i, n);
		char *r = piece ? pgm_redact(piece) : NULL;

		free(piece);
		if (!r) {
			free(out.s);
			return json_string(MASK);
		}
		sb_add(&out, r, strlen(r));
		free(r);
		i += n + 1;
		if (i <= len)
			sb_add(&out, "", 1);
	}
	j = out.s ? json_stringn(out.s, out.len) : json_string("");
	free(out.s);
	return j ? j : json_string(MASK);
}

json_t *pgm_redact_json(const json_t *v)
{
	json_t *out;

	if (v == NULL)
		return NULL;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *val;

		out = json_object();
		json_object_foreach((json_t *)v, key, val) {
			char *rk = pgm_redact(key);

			if (host_secret_is_key(key) && !json_is_null(val))
				json_object_set_new(out, rk, json_string(MASK));
			else
				json_object_set_new(out, rk, pgm_redact_json(val));
			free(rk);
		}
		return out;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *val;

		out = json_array();
		json_array_foreach(v, i, val)
			json_array_append_new(out, pgm_redact_json(val));
		return out;
	}
	case JSON_STRING: {
		if (strlen(json_string_value(v)) != json_string_length(v))
			return redact_nul(json_string_value(v), json_string_length(v));
		char *r = pgm_redact(json_string_value(v));

		out = json_string(r);
		free(r);
		return out ? out : json_string(MASK);
	}
	default:
		return json_deep_copy(v);
	}
}

/* host_conninfo_error - see hostpriv.h. */
char *host_conninfo_error(const char *msg)
{
	char *out = pgm_redact(msg ? msg : "out of memory");
	char *r, *w;

	if (out == NULL)
		abort();
	for (r = w = out; *r;) {
		char *close;

		if (*r == '"' && (close = strchr(r + 1, '"')) != NULL) {
			if (close - r > 2) {
				memcpy(w, "\"...\"", 5);
				w += 5;
			} else {
				memmove(w, r, (size_t)(close - r + 1));
				w += close - r + 1;
			}
			r = close + 1;
			continue;
		}
		*w++ = (*r == '\n' || *r == '\t') ? ' ' : *r;
		r++;
	}
	*w = '\0';
	while (w > out && w[-1] == ' ')
		*--w = '\0';
	return out;
}

/* pgm_conninfo_describe - host, port, dbname and user of a connection
 * string, whatever form it has. Caller frees. */
char *pgm_conninfo_describe(const char *conninfo)
{
	static const char *const keys[] = {"host", "hostaddr", "port", "dbname", "user", NULL};
	PQconninfoOption *opts, *o;
	char *err = NULL;
	sbuf out = {0};
	int i;

	opts = PQconninfoParse(conninfo ? conninfo : "", &err);
	if (opts == NULL) {
		PQfreemem(err);
		return strdup("(invalid connection string)");
	}
	for (i = 0; keys[i]; i++) {
		for (o = opts; o->keyword; o++) {
			if (strcmp(o->keyword, keys[i]) != 0 || o->val == NULL || !*o->val)
				continue;
			if (strcmp(keys[i], "hostaddr") == 0) {
				/* shown only when there is no host name */
				PQconninfoOption *h;
				int has_host = 0;

				for (h = opts; h->keyword; h++)
					if (strcmp(h->keyword, "host") == 0 && h->val && *h->val)
						has_host = 1;
				if (has_host)
					continue;
			}
			if (out.len)
				sb_add(&out, " ", 1);
			sb_add(&out, o->keyword, strlen(o->keyword));
			sb_add(&out, "=", 1);
			if (strpbrk(o->val, " '\\") || !*o->val) {
				const char *c;

				sb_add(&out, "'", 1);
				for (c = o->val; *c; c++) {
					if (*c == '\'' || *c == '\\')
						sb_add(&out, "\\", 1);
					sb_add(&out, c, 1);
				}
				sb_add(&out, "'", 1);
			} else {
				sb_add(&out, o->val, strlen(o->val));
			}
		}
	}
	PQconninfoFree(opts);
	if (out.s == NULL)
		sb_add(&out, "(default connection)", 20);
	/* A password can never be here, but a secret may be (a user name that
	 * is also a secret is unlikely; redact anyway). */
	{
		char *r = pgm_redact(out.s);

		free(out.s);
		return r;
	}
}
