/*
 * plugins/http/http.c - the application side of a migration over HTTP
 * through libpgmove's client (pgm_http_send, pgm_mail_send): general
 * requests with expected statuses, retries and a JSON pointer into the
 * answer; health checks a wait can poll; Slack-compatible and plain JSON
 * webhooks; mail through SMTP; and feature flags read and moved with
 * compare-and-set (ETag / If-Match, or a version field), so a retried step
 * never moves a flag twice and its undo restores the value it saw.
 *
 * Secrets: header values that carry credentials (Authorization, Cookie,
 * X-Api-Key, any name with token/secret/key/auth in it, and those named in
 * secret_headers), tokens, webhook URLs and SMTP passwords are registered
 * for redaction before anything is sent, so no log line, error or journal
 * event shows them.
 *
 * A runbook may configure the plugin once for the run (`plugin "http" {
 * base_url = ..., allowed_hosts = {...}, timeout = "5s", headers = {...},
 * token = params.flags_token }`, config_params): defaults for the HTTP
 * functions (request, health, webhook, flag_get, flag_set; not mail),
 * which a call's own arguments override, relative URLs resolved against
 * base_url, and every URL's host checked against allowed_hosts.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "pgmove/plugin.h"

#define MAX_BODY_KEPT (64 * 1024) /* a text answer kept in the result */
#define MAX_HEADERS 64

static const char *sget(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The run's configuration (http_configure), a copy; NULL when the runbook
 * gave none. Written before any function runs, then only read. */
static json_t *config;

/* ---- helpers -------------------------------------------------------------------- */

/* json_pointer - the value at an RFC 6901 pointer ("", "/status", "/a/0/b",
 * "~1" for '/', "~0" for '~') in doc, borrowed, or NULL when absent. */
static json_t *json_pointer(json_t *doc, const char *ptr)
{
	json_t *cur = doc;
	const char *p = ptr;

	if (p == NULL || *p == '\0')
		return doc;
	if (*p != '/')
		return NULL;
	while (cur && *p == '/') {
		char tok[256];
		size_t n = 0;

		p++;
		while (*p && *p != '/') {
			char c = *p++;

			if (c == '~' && (*p == '0' || *p == '1'))
				c = *p++ == '0' ? '~' : '/';
			if (n + 1 >= sizeof(tok))
				return NULL;
			tok[n++] = c;
		}
		tok[n] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			char *end;
			long idx = strtol(tok, &end, 10);

			if (n == 0 || *end || idx < 0 || (tok[0] == '0' && n > 1))
				return NULL;
			cur = json_array_get(cur, (size_t)idx);
		} else {
			return NULL;
		}
	}
	return cur;
}

/* secret_header - nonzero when a header of this name carries a credential. */
static int secret_header(const char *name, json_t *extra)
{
	static const char *const exact[] = {"authorization", "proxy-authorization", "cookie",
					    "x-api-key", NULL};
	static const char *const parts[] = {"token",	"secret",    "key", "auth",
					    "password", "signature", NULL};
	char low[128];
	size_t i, n = strlen(name);
	json_t *v;

	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	for (i = 0; exact[i]; i++)
		if (strcmp(low, exact[i]) == 0)
			return 1;
	for (i = 0; parts[i]; i++)
		if (strstr(low, parts[i]))
			return 1;
	json_array_foreach(extra, i, v)
	{
		if (json_is_string(v) && strcasecmp(json_string_value(v), name) == 0)
			return 1;
	}
	return 0;
}

/* Headers being built: "Name: value" strings, NULL-terminated. */
typedef struct hdrs {
	char *v[MAX_HEADERS + 1];
	int n;
} hdrs;

static void hdrs_free(hdrs *h)
{
	for (int i = 0; i < h->n; i++)
		free(h->v[i]);
	h->n = 0;
	h->v[0] = NULL;
}

/* hdrs_add - appends "name: value"; -1 with the error set when the name or
 * value could smuggle another header (CR, LF) or there are too many. */
static int hdrs_add(pgm_call *call, hdrs *h, const char *name, const char *value)
{
	const char *c;

	if (!*name || strpbrk(name, "\r\n: \t") || strpbrk(value, "\r\n")) {
		pgm_fail(call, "args.invalid", 0,
			 "header '%s': names may not hold ':', spaces or line breaks, values no "
			 "line breaks",
			 name);
		return -1;
	}
	for (c = name; *c; c++)
		if ((unsigned char)*c < 33 || (unsigned char)*c > 126) {
			pgm_fail(call, "args.invalid", 0, "header '%s': not a token", name);
			return -1;
		}
	if (h->n >= MAX_HEADERS) {
		pgm_fail(call, "args.invalid", 0, "at most %d headers", MAX_HEADERS);
		return -1;
	}
	if (asprintf(&h->v[h->n], "%s: %s", name, value) < 0)
		abort();
	h->n++;
	h->v[h->n] = NULL;
	return 0;
}

/* hdrs_from_args - the "headers" object (name -> string) of args, and a
 * bearer token; credential values are registered as secrets first. */
static int hdrs_from_args(pgm_call *call, json_t *args, hdrs *h)
{
	json_t *in = json_object_get(args, "headers"),
	       *extra = json_object_get(args, "secret_headers"), *v;
	const char *token = sget(args, "token"), *k;

	if (in && !json_is_null(in) && !json_is_object(in)) {
		pgm_fail(call, "args.invalid", 0, "headers must be an object { Name = \"value\" }");
		return -1;
	}
	if (extra && !json_is_null(extra) && !json_is_array(extra)) {
		pgm_fail(call, "args.invalid", 0,
			 "secret_headers must be an array of header names");
		return -1;
	}
	json_object_foreach(in, k, v)
	{
		if (!json_is_string(v)) {
			pgm_fail(call, "args.invalid", 0, "header '%s' must be a string", k);
			return -1;
		}
		if (secret_header(k, extra))
			pgm_secret_add(json_string_value(v));
	}
	json_object_foreach(in, k, v)
	{
		if (hdrs_add(call, h, k, json_string_value(v)) != 0)
			return -1;
	}
	if (token) {
		char *bearer;

		pgm_secret_add(token);
		if (asprintf(&bearer, "Bearer %s", token) < 0)
			abort();
		pgm_secret_add(bearer);
		if (hdrs_add(call, h, "Authorization", bearer) != 0) {
			free(bearer);
			return -1;
		}
		free(bearer);
	}
	return 0;
}

/* url_check - an http(s) URL without line breaks; -1 with the error set. */
static int url_check(pgm_call *call, const char *what, const char *url)
{
	if (url == NULL)
		return -1;
	if ((strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) ||
	    strpbrk(url, "\r\n \t")) {
		char *r = pgm_redact(url);

		pgm_fail(call, "args.invalid", 0, "%s '%s' is not an http:// or https:// URL", what,
			 r);
		free(r);
		return -1;
	}
	return 0;
}

/* url_public - the URL without query and fragment, redacted, for results
 * and messages. Caller frees. */
static char *url_public(const char *url)
{
	char *u = strdup(url), *q, *r;

	if (u == NULL)
		abort();
	q = strpbrk(u, "?#");
	if (q)
		*q = '\0';
	r = pgm_redact(u);
	free(u);
	return r;
}

/* status_expected - whether status is one of expect (an integer, an array
 * of integers, or NULL for any 2xx). */
static int status_expected(json_t *expect, long status)
{
	size_t i;
	json_t *v;

	if (expect == NULL || json_is_null(expect))
		return status >= 200 && status < 300;
	if (json_is_integer(expect))
		return json_integer_value(expect) == status;
	json_array_foreach(expect, i, v)
	{
		if (json_is_integer(v) && json_integer_value(v) == status)
			return 1;
	}
	return 0;
}

static int expect_valid(json_t *expect)
{
	size_t i;
	json_t *v;

	if (expect == NULL || json_is_null(expect) || json_is_integer(expect))
		return 1;
	if (!json_is_array(expect) || json_array_size(expect) == 0)
		return 0;
	json_array_foreach(expect, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 100 ||
		    json_integer_value(v) > 599)
			return 0;
	}
	return 1;
}

static long retry_after_ms(json_t *headers)
{
	const char *ra = sget(headers, "retry-after");
	char *end;
	long s;

	if (!ra)
		return 0;
	s = strtol(ra, &end, 10);
	if (*end || s < 0)
		return 0;
	return s > 60 ? 60000 : s * 1000;
}

/* send_retrying - one request, repeated up to attempts times on transport
 * errors a retry can help and on 429 / 5xx answers, with exponential
 * backoff (Retry-After honoured) within the call's deadline. 0 with resp
 * filled (whatever its status), or -1 with the error set. *tries gets the
 * number of attempts made. */
static int send_retrying(pgm_call *call, const pgm_http_request *req, int attempts,
			 pgm_http_response *resp, int *tries)
{
	long long delay = 200;

	for (*tries = 1;; (*tries)++) {
		int rc = pgm_http_send(call, req, resp);
		long wait;

		if (rc == 0 && resp->status != 429 && resp->status < 500)
			return 0;
		if (rc != 0 && !pgm_error_retryable(call))
			return -1;
		if (*tries >= attempts)
			return rc;
		wait = rc == 0 ? retry_after_ms(resp->headers) : 0;
		if (wait < delay)
			wait = (long)delay;
		if (pgm_remaining_ms(call) >= 0 && pgm_remaining_ms(call) < wait)
			return rc;
		pgm_debug("attempt %d: %s; again in %ld ms", *tries,
			  rc == 0 ? "throttled or server error" : pgm_error_message(call), wait);
		if (rc == 0)
			pgm_http_response_free(resp);
		else
			pgm_clear_error(call);
		if (pgm_sleep_ms(call, wait) != 0)
			return -1;
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
}

/* parse_body - the answer as JSON when it is JSON (by content type or by
 * its look), else NULL. New reference. */
static json_t *parse_body(const pgm_http_response *resp)
{
	const char *ct = sget(resp->headers, "content-type");
	const char *b = resp->body;

	while (b && isspace((unsigned char)*b))
		b++;
	if (!b || !*b)
		return NULL;
	if ((ct && strstr(ct, "json")) || *b == '{' || *b == '[')
		return json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, NULL);
	return NULL;
}

/* snippet - the start of a body for an error message, one line. Caller frees. */
static char *snippet(const char *body)
{
	char *s = strndup(body ? body : "", 300), *p;

	if (s == NULL)
		abort();
	for (p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return s;
}

/* ---- request ---------------------------------------------------------------------- */

static int method_ok(const char *m)
{
	static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", NULL};

	for (int i = 0; ok[i]; i++)
		if (strcmp(m, ok[i]) == 0)
			return 1;
	return 0;
}

/* form_encode - application/x-www-form-urlencoded from a flat object of
 * strings, numbers and booleans. Caller frees; NULL with the error set. */
static char *form_encode(pgm_call *call, json_t *form)
{
	const char *k;
	json_t *v;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		abort();
	json_object_foreach(form, k, v)
	{
		char *text = json_is_string(v) ? strdup(json_string_value(v))
			     : (json_is_number(v) || json_is_boolean(v))
				     ? json_dumps(v, JSON_ENCODE_ANY)
				     : NULL;
		const char *parts[2] = {k, text};

		if (text == NULL) {
			fclose(f);
			free(out);
			pgm_fail(call, "args.invalid", 0,
				 "form field '%s' must be a string, number or boolean", k);
			return NULL;
		}
		if (ftell(f) > 0)
			fputc('&', f);
		for (int p = 0; p < 2; p++) {
			for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++) {
				if (isalnum(*c) || strchr("-._~", *c))
					fputc(*c, f);
				else if (*c == ' ')
					fputc('+', f);
				else
					fprintf(f, "%%%02X", *c);
			}
			if (p == 0)
				fputc('=', f);
		}
		free(text);
	}
	fclose(f);
	return out;
}

/* ---- the run's configuration ---------------------------------------------------- */

/* host_allowed - whether host (as libcurl gives it: lower-case for names,
 * "[::1]" for IPv6) is one of the allowed_hosts: an exact name (case does
 * not matter) or "*.example.com", any name under example.com. */
static int host_allowed(const char *host, json_t *allowed)
{
	size_t i, hl = strlen(host);
	json_t *v;

	json_array_foreach(allowed, i, v)
	{
		const char *a = json_string_value(v);
		size_t al = a ? strlen(a) : 0;

		if (!a)
			continue;
		if (strcasecmp(a, host) == 0)
			return 1;
		if (al > 2 && a[0] == '*' && a[1] == '.' && hl > al - 1 &&
		    strcasecmp(host + hl - (al - 1), a + 1) == 0)
			return 1;
	}
	return 0;
}

/* resolve_url - url resolved against the configuration's base_url when it
 * is relative (RFC 3986, libcurl's URL parser), and its host checked
 * against allowed_hosts. Returns a new string (caller frees), or NULL with
 * the error set ("http.host_not_allowed", "args.invalid"). */
static char *resolve_url(pgm_call *call, const char *url)
{
	const char *base = sget(config, "base_url");
	json_t *allowed = json_object_get(config, "allowed_hosts");
	int absolute = strstr(url, "://") != NULL;
	CURLU *u = curl_url();
	char *full = NULL, *host = NULL, *out = NULL;

	if (u == NULL)
		abort();
	if (!absolute && !base) {
		pgm_fail(call, "args.invalid", 0,
			 "url '%s' is relative and the plugin's configuration has no base_url", url);
		goto done;
	}
	if ((!absolute && curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK) ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		char *r = pgm_redact(url);

		pgm_fail(call, "args.invalid", 0, "url '%s' is not a URL%s", r,
			 absolute ? "" : " relative to base_url");
		free(r);
		goto done;
	}
	if (json_array_size(allowed)) {
		if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
		    !host_allowed(host, allowed)) {
			char *pub = url_public(full);

			pgm_fail(call, "http.host_not_allowed", 0,
				 "%s: host %s is not in the configuration's allowed_hosts", pub,
				 host ? host : "(none)");
			free(pub);
			goto done;
		}
	}
	out = strdup(full);
	if (out == NULL)
		abort();
done:
	curl_free(full);
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

/* with_config - the arguments an HTTP function works with: args with the
 * configuration's timeout, token, headers and secret_headers where the
 * call gives none (a header the call names replaces the configuration's of
 * that name; no configured token where the call sends its own
 * Authorization), and url resolved and checked (resolve_url). A new object
 * the caller decrefs, or NULL with the error set. */
static json_t *with_config(pgm_call *call, json_t *args)
{
	json_t *a = json_deep_copy(args), *v, *hin = json_object_get(args, "headers");
	const char *k, *url = sget(args, "url");
	int own_auth = json_object_get(args, "token") && !json_is_null(json_object_get(args, "token"));
	char *full;

	if (a == NULL)
		abort();
	if (!config)
		return a;
	json_object_foreach(json_is_object(hin) ? hin : NULL, k, v)
	{
		if (strcasecmp(k, "authorization") == 0)
			own_auth = 1;
	}
	if (!json_object_get(a, "timeout") || json_is_null(json_object_get(a, "timeout")))
		if (json_object_get(config, "timeout"))
			json_object_set(a, "timeout", json_object_get(config, "timeout"));
	if (!own_auth && sget(config, "token"))
		json_object_set(a, "token", json_object_get(config, "token"));
	if (json_is_object(json_object_get(config, "headers")) &&
	    (!hin || json_is_null(hin) || json_is_object(hin))) {
		json_t *h = json_deep_copy(json_object_get(config, "headers"));

		json_object_foreach(json_is_object(hin) ? hin : NULL, k, v)
		{
			const char *ck;
			json_t *cv;
			void *tmp;

			json_object_foreach_safe(h, tmp, ck, cv)
			{
				if (strcasecmp(ck, k) == 0)
					json_object_del(h, ck);
			}
			json_object_set(h, k, v);
		}
		json_object_set_new(a, "headers", h);
	}
	if (json_is_array(json_object_get(config, "secret_headers"))) {
		json_t *sh = json_deep_copy(json_object_get(config, "secret_headers"));
		json_t *mine = json_object_get(args, "secret_headers");

		if (json_is_array(mine))
			json_array_extend(sh, mine);
		json_object_set_new(a, "secret_headers", sh);
	}
	if (url) {
		if ((full = resolve_url(call, url)) == NULL) {
			json_decref(a);
			return NULL;
		}
		json_object_set_new(a, "url", json_string(full));
		free(full);
	}
	return a;
}

/* http_configure - checks and keeps the run's configuration (the host
 * checked its keys and types against config_params): base_url an http(s)
 * URL, allowed_hosts names, headers strings that make valid header lines
 * (credential values registered as secrets). */
static int http_configure(pgm_call *call, json_t *cfg)
{
	const char *base = sget(cfg, "base_url");
	json_t *allowed = json_object_get(cfg, "allowed_hosts"), *v;
	size_t i;
	hdrs h = {.n = 0};

	if (base && url_check(call, "base_url", base) != 0)
		return -1;
	json_array_foreach(allowed, i, v)
	{
		const char *a = json_string_value(v);

		if (!a || !*a || strpbrk(a, "/@ ?#") || (strchr(a, ':') && a[0] != '[')) {
			pgm_fail(call, "args.invalid", 0,
				 "allowed_hosts[%zu] must be a host name (\"flags.example.com\", "
				 "\"*.example.com\", \"[::1]\")",
				 i + 1);
			return -1;
		}
	}
	if (hdrs_from_args(call, cfg, &h) != 0) {
		hdrs_free(&h);
		return -1;
	}
	hdrs_free(&h);
	json_decref(config);
	config = json_deep_copy(cfg);
	return 0;
}

static void http_fini(void)
{
	json_decref(config);
	config = NULL;
}

/* CONFIGURED(fn) - the function fn called with with_config's arguments. */
#define CONFIGURED(fn)                                                                             \
	static json_t *fn##_configured(pgm_call *call, json_t *args)                               \
	{                                                                                          \
		json_t *a = with_config(call, args), *res;                                         \
                                                                                                   \
		if (a == NULL)                                                                     \
			return NULL;                                                               \
		res = fn(call, a);                                                                 \
		json_decref(a);                                                                    \
		return res;                                                                        \
	}

static json_t *fn_request(pgm_call *call, json_t *args)
{
	const char *url = pgm_arg_string(call, args, "url", NULL, 1);
	const char *method = pgm_arg_string(call, args, "method", "GET", 0);
	const char *pointer = pgm_arg_string(call, args, "pointer", NULL, 0);
	const char *text = pgm_arg_string(call, args, "body", NULL, 0);
	const char *ctype = pgm_arg_string(call, args, "content_type", NULL, 0);
	json_t *jbody = json_object_get(args, "json"), *form = json_object_get(args, "form");
	json_t *expect = json_object_get(args, "expect"), *out = NULL, *parsed;
	long long timeout_ms = 0, retries = 0;
	char *body = NULL, *pub;
	hdrs h = {.n = 0};
	pgm_http_request req;
	pgm_http_response resp;
	int tries = 0;

	if (pgm_arg_duration_ms(call, args, "timeout", 30000, 0, &timeout_ms) != 0 ||
	    pgm_arg_int(call, args, "retries", 0, 0, &retries) != 0 || pgm_failed(call))
		return NULL;
	if (url_check(call, "url", url) != 0)
		return NULL;
	if (!method_ok(method))
		return pgm_fail(call, "args.invalid", 0,
				"method '%s': use GET, POST, PUT, PATCH, DELETE or HEAD", method);
	if (!expect_valid(expect))
		return pgm_fail(call, "args.invalid", 0,
				"expect must be a status code or a non-empty array of them");
	if (retries < 0 || retries > 10)
		return pgm_fail(call, "args.invalid", 0, "retries must be between 0 and 10");
	if (!!text + !!(jbody && !json_is_null(jbody)) + !!(form && !json_is_null(form)) > 1)
		return pgm_fail(call, "args.invalid", 0, "give at most one of body, json and form");
	if (form && !json_is_null(form) && !json_is_object(form))
		return pgm_fail(call, "args.invalid", 0, "form must be an object");
	if (hdrs_from_args(call, args, &h) != 0)
		goto out;
	if (jbody && !json_is_null(jbody)) {
		body = json_dumps(jbody, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!ctype && hdrs_add(call, &h, "Content-Type", "application/json") != 0)
			goto out;
	} else if (form && !json_is_null(form)) {
		if ((body = form_encode(call, form)) == NULL)
			goto out;
		if (!ctype &&
		    hdrs_add(call, &h, "Content-Type", "application/x-www-form-urlencoded") != 0)
			goto out;
	} else if (text) {
		body = strdup(text);
	}
	if (ctype && hdrs_add(call, &h, "Content-Type", ctype) != 0)
		goto out;
	req = (pgm_http_request){.method = method,
				 .url = url,
				 .headers = (const char *const *)h.v,
				 .body = body,
				 .body_len = body ? strlen(body) : 0,
				 .timeout_ms = (long)timeout_ms};
	if (send_retrying(call, &req, (int)retries + 1, &resp, &tries) != 0) {
		pgm_http_response_free(&resp);
		goto out;
	}
	pub = url_public(url);
	if (!status_expected(expect, resp.status)) {
		char *s = snippet(resp.body);

		pgm_fail(call, "http.status", resp.status == 429 || resp.status >= 500,
			 "%s %s answered %ld after %d attempt(s): %s", method, pub, resp.status,
			 tries, s);
		free(s);
		free(pub);
		pgm_http_response_free(&resp);
		goto out;
	}
	out = json_pack("{s:I, s:O, s:s, s:i}", "status", (json_int_t)resp.status, "headers",
			resp.headers, "url", pub, "attempts", tries);
	free(pub);
	parsed = parse_body(&resp);
	if (parsed) {
		json_object_set_new(out, "json", parsed);
	} else {
		json_t *b = json_stringn(resp.body, resp.body_len > MAX_BODY_KEPT ? MAX_BODY_KEPT
										  : resp.body_len);

		json_object_set_new(out, "body", b ? b : json_string("(not UTF-8)"));
		if (resp.body_len > MAX_BODY_KEPT)
			json_object_set_new(out, "truncated", json_true());
	}
	if (pointer) {
		json_t *v = parsed ? json_pointer(parsed, pointer) : NULL;

		json_object_set(out, "value", v ? v : json_null());
	}
	pgm_http_response_free(&resp);
out:
	hdrs_free(&h);
	free(body);
	return out;
}

/* ---- health ---------------------------------------------------------------------- */

/* fn_health - GET url and judge it: the status (expect, default 200) and,
 * when field is given, the JSON value there equal to equals. An unhealthy
 * or unreachable service is a result with ok = false, not an error, so a
 * wait can keep polling it. */
static json_t *fn_health(pgm_call *call, json_t *args)
{
	const char *url = pgm_arg_string(call, args, "url", NULL, 1);
	const char *field = pgm_arg_string(call, args, "field", NULL, 0);
	json_t *equals = json_object_get(args, "equals"), *expect = json_object_get(args, "expect");
	json_t *out, *parsed = NULL, *got = NULL;
	long long timeout_ms = 0;
	hdrs h = {.n = 0};
	pgm_http_request req;
	pgm_http_response resp;
	char reason[512] = "";
	char *pub;
	int ok;

	if (pgm_arg_duration_ms(call, args, "timeout", 10000, 0, &timeout_ms) != 0 ||
	    pgm_failed(call) || url_check(call, "url", url) != 0)
		return NULL;
	if (!expect_valid(expect))
		return pgm_fail(call, "args.invalid", 0,
				"expect must be a status code or a non-empty array of them");
	if (equals && !field)
		return pgm_fail(call, "args.invalid", 0, "equals needs field (a JSON pointer)");
	if (field && *field && *field != '/')
		return pgm_fail(call, "args.invalid", 0,
				"field '%s' is not a JSON pointer: write \"/status\"", field);
	if (hdrs_from_args(call, args, &h) != 0) {
		hdrs_free(&h);
		return NULL;
	}
	req = (pgm_http_request){.method = "GET",
				 .url = url,
				 .headers = (const char *const *)h.v,
				 .timeout_ms = (long)timeout_ms};
	pub = url_public(url);
	if (pgm_http_send(call, &req, &resp) != 0) {
		if (pgm_cancelled(call)) {
			free(pub);
			hdrs_free(&h);
			return NULL;
		}
		snprintf(reason, sizeof(reason), "%s", pgm_error_message(call));
		pgm_clear_error(call);
		out = json_pack("{s:b, s:I, s:s, s:s}", "ok", 0, "status", (json_int_t)0, "url",
				pub, "reason", reason);
		free(pub);
		hdrs_free(&h);
		return out;
	}
	ok = expect ? status_expected(expect, resp.status) : resp.status == 200;
	if (!ok)
		snprintf(reason, sizeof(reason), "status %ld", resp.status);
	parsed = parse_body(&resp);
	if (field) {
		got = parsed ? json_pointer(parsed, field) : NULL;
		if (ok && !got) {
			ok = 0;
			snprintf(reason, sizeof(reason), "no %s in the answer", field);
		} else if (ok && equals && !json_equal(got, equals)) {
			char *g = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
			char *w = json_dumps(equals, JSON_ENCODE_ANY | JSON_COMPACT);

			ok = 0;
			snprintf(reason, sizeof(reason), "%s is %s, expected %s", field,
				 g ? g : "?", w ? w : "?");
			free(g);
			free(w);
		}
	}
	out = json_pack("{s:b, s:I, s:s}", "ok", ok, "status", (json_int_t)resp.status, "url", pub);
	if (field)
		json_object_set(out, "value", got ? got : json_null());
	if (!ok)
		json_object_set_new(out, "reason", json_string(reason));
	json_decref(parsed);
	pgm_http_response_free(&resp);
	hdrs_free(&h);
	free(pub);
	return out;
}

/* ---- webhook ---------------------------------------------------------------------- */

/* fn_webhook - POSTs {"text": text} (Slack's incoming webhook format; with
 * blocks or extra fields from payload) or any JSON payload to url. The URL
 * is a secret (a Slack webhook URL is its own credential). */
static json_t *fn_webhook(pgm_call *call, json_t *args)
{
	const char *url = pgm_arg_string(call, args, "url", NULL, 1);
	const char *text = pgm_arg_string(call, args, "text", NULL, 0);
	json_t *payload = json_object_get(args, "payload"), *body, *out = NULL;
	long long timeout_ms = 0, retries = 0;
	hdrs h = {.n = 0};
	pgm_http_request req;
	pgm_http_response resp;
	char *data;
	int tries = 0;

	if (pgm_arg_duration_ms(call, args, "timeout", 10000, 0, &timeout_ms) != 0 ||
	    pgm_arg_int(call, args, "retries", 2, 0, &retries) != 0 || pgm_failed(call))
		return NULL;
	pgm_secret_add(url);
	if (url_check(call, "url", url) != 0)
		return NULL;
	if (payload && !json_is_null(payload) && !json_is_object(payload))
		return pgm_fail(call, "args.invalid", 0, "payload must be an object");
	if (!text && (!payload || json_is_null(payload)))
		return pgm_fail(call, "args.invalid", 0, "webhook needs text or payload");
	if (retries < 0 || retries > 10)
		return pgm_fail(call, "args.invalid", 0, "retries must be between 0 and 10");
	body = payload && !json_is_null(payload) ? json_deep_copy(payload) : json_object();
	if (text)
		json_object_set_new(body, "text", json_string(text));
	data = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (hdrs_from_args(call, args, &h) != 0 ||
	    hdrs_add(call, &h, "Content-Type", "application/json") != 0)
		goto out;
	req = (pgm_http_request){.method = "POST",
				 .url = url,
				 .headers = (const char *const *)h.v,
				 .body = data,
				 .body_len = strlen(data),
				 .timeout_ms = (long)timeout_ms};
	if (send_retrying(call, &req, (int)retries + 1, &resp, &tries) != 0) {
		pgm_http_response_free(&resp);
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		char *s = snippet(resp.body);

		pgm_fail(call, "http.status", resp.status == 429 || resp.status >= 500,
			 "webhook answered %ld after %d attempt(s): %s", resp.status, tries, s);
		free(s);
	} else {
		out = json_pack("{s:I, s:i}", "status", (json_int_t)resp.status, "attempts", tries);
	}
	pgm_http_response_free(&resp);
out:
	hdrs_free(&h);
	free(data);
	return out;
}

/* ---- mail ------------------------------------------------------------------------- */

/* addr_list - the addresses of a string or an array of strings, checked
 * (one '@', no angle brackets, spaces or line breaks), appended to a. */
static int addr_list(pgm_call *call, const char *what, json_t *v, json_t *a)
{
	size_t i;
	json_t *x;
	json_t *one = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);

	if (!json_is_array(one)) {
		json_decref(one);
		pgm_fail(call, "args.invalid", 0, "%s must be an address or an array of them",
			 what);
		return -1;
	}
	json_array_foreach(one, i, x)
	{
		const char *s = json_string_value(x), *at;

		if (!s || !(at = strchr(s, '@')) || at == s || !at[1] || strchr(at + 1, '@') ||
		    strpbrk(s, "<>\r\n \t,;\"")) {
			json_decref(one);
			pgm_fail(call, "args.invalid", 0, "%s: '%s' is not an email address", what,
				 s ? s : "(not a string)");
			return -1;
		}
		json_array_append(a, x);
	}
	json_decref(one);
	return 0;
}

/* put_header_text - a header value: as it is when printable ASCII, else
 * an RFC 2047 encoded word in base64 UTF-8. */
static void put_header_text(FILE *f, const char *s)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i;
	int plain = 1;

	for (i = 0; i < n; i++)
		if (p[i] < 32 || p[i] > 126)
			plain = 0;
	if (plain) {
		fputs(s, f);
		return;
	}
	fputs("=?UTF-8?B?", f);
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		fputc(b64[v >> 18 & 63], f);
		fputc(b64[v >> 12 & 63], f);
		fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
		fputc(i + 2 < n ? b64[v & 63] : '=', f);
	}
	fputs("?=", f);
}

static void put_addrs(FILE *f, const char *name, json_t *a)
{
	size_t i;
	json_t *x;

	fprintf(f, "%s: ", name);
	json_array_foreach(a, i, x)
	{
		fprintf(f, "%s<%s>", i ? ", " : "", json_string_value(x));
	}
	fputs("\r\n", f);
}

static json_t *fn_mail(pgm_call *call, json_t *args)
{
	const char *server = pgm_arg_string(call, args, "server", NULL, 1);
	const char *from = pgm_arg_string(call, args, "from", NULL, 1);
	const char *subject = pgm_arg_string(call, args, "subject", NULL, 1);
	const char *text = pgm_arg_string(call, args, "text", NULL, 1);
	const char *user = pgm_arg_string(call, args, "username", NULL, 0);
	const char *password = pgm_arg_string(call, args, "password", NULL, 0);
	const char *tls = pgm_arg_string(call, args, "starttls", "required", 0);
	const char *ca_file = pgm_arg_string(call, args, "ca_file", NULL, 0);
	json_t *to = json_array(), *cc = json_array(), *all = json_array(), *out = NULL, *x;
	const char **rcpt = NULL;
	long long timeout_ms = 0;
	char *msg = NULL, date[64], mid[128], *dummy;
	size_t len = 0, i;
	FILE *f;
	pgm_mail m;
	time_t now = time(NULL);
	struct tm tm;
	const char *l;

	if (password)
		pgm_secret_add(password);
	if (pgm_arg_duration_ms(call, args, "timeout", 30000, 0, &timeout_ms) != 0 ||
	    pgm_failed(call))
		goto out;
	memset(&m, 0, sizeof(m));
	if (strcmp(tls, "required") == 0)
		m.starttls = PGM_MAIL_STARTTLS_REQUIRED;
	else if (strcmp(tls, "try") == 0)
		m.starttls = PGM_MAIL_STARTTLS_TRY;
	else if (strcmp(tls, "none") == 0)
		m.starttls = PGM_MAIL_STARTTLS_NONE;
	else {
		pgm_fail(call, "args.invalid", 0, "starttls '%s': use required, try or none", tls);
		goto out;
	}
	if (password && !user) {
		pgm_fail(call, "args.invalid", 0, "password needs username");
		goto out;
	}
	if (!json_object_get(args, "to")) {
		pgm_fail(call, "args.invalid", 0, "argument 'to' is required");
		goto out;
	}
	if (addr_list(call, "to", json_object_get(args, "to"), to) != 0 ||
	    (json_object_get(args, "cc") &&
	     addr_list(call, "cc", json_object_get(args, "cc"), cc) != 0) ||
	    addr_list(call, "from", json_object_get(args, "from"), all) != 0)
		goto out;
	json_array_clear(all);
	if (json_array_size(to) == 0) {
		pgm_fail(call, "args.invalid", 0, "to names no recipient");
		goto out;
	}
	if (strpbrk(subject, "\r\n")) {
		pgm_fail(call, "args.invalid", 0, "subject may not hold line breaks");
		goto out;
	}
	json_array_extend(all, to);
	json_array_extend(all, cc);
	rcpt = calloc(json_array_size(all) + 1, sizeof(*rcpt));
	if (rcpt == NULL)
		abort();
	json_array_foreach(all, i, x) rcpt[i] = json_string_value(x);

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(mid, sizeof(mid), "<%lld.%d@pgmove>", (long long)now, (int)getpid());
	f = open_memstream(&msg, &len);
	if (f == NULL)
		abort();
	fprintf(f, "Date: %s\r\nFrom: <%s>\r\n", date, from);
	put_addrs(f, "To", to);
	if (json_array_size(cc))
		put_addrs(f, "Cc", cc);
	fputs("Subject: ", f);
	put_header_text(f, subject);
	fprintf(f,
		"\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
		"X-Mailer: pgmove\r\n\r\n",
		mid);
	/* the body with CRLF line ends */
	for (l = text; *l; l++) {
		if (*l == '\n' && (l == text || l[-1] != '\r'))
			fputc('\r', f);
		fputc(*l, f);
	}
	if (l == text || l[-1] != '\n')
		fputs("\r\n", f);
	fclose(f);

	m.url = server;
	m.from = from;
	m.rcpt = rcpt;
	m.message = msg;
	m.message_len = len;
	m.username = user;
	m.password = password;
	m.timeout_ms = (long)timeout_ms;
	m.ca_file = ca_file;
	if (pgm_mail_send(call, &m) == 0) {
		dummy = pgm_redact(server);
		out = json_pack("{s:s, s:O, s:i, s:s}", "server", dummy, "recipients", all, "bytes",
				(int)len, "message_id", mid);
		free(dummy);
	}
out:
	free(rcpt);
	free(msg);
	json_decref(to);
	json_decref(cc);
	json_decref(all);
	return out;
}

/* ---- feature flags ---------------------------------------------------------------- */

/* A flag as read: its value (at the value pointer), the ETag of the answer
 * and the version at the version pointer, when the service gives them. */
typedef struct flag_seen {
	json_t *value;	 /* borrowed from doc */
	json_t *doc;	 /* the whole answer, owned */
	char *etag;	 /* owned, may be NULL */
	json_t *version; /* borrowed from doc, may be NULL */
} flag_seen;

static void flag_seen_free(flag_seen *s)
{
	json_decref(s->doc);
	free(s->etag);
	memset(s, 0, sizeof(*s));
}

typedef struct flag_opts {
	const char *url;
	const char *value_ptr;	 /* "/value" */
	const char *version_ptr; /* "/version" */
	const char *body_key;	 /* "value" */
	const char *method;	 /* "PUT" */
	long long timeout_ms;
	hdrs h;
} flag_opts;

static int flag_opts_read(pgm_call *call, json_t *args, flag_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->url = pgm_arg_string(call, args, "url", NULL, 1);
	o->value_ptr = pgm_arg_string(call, args, "value_pointer", "/value", 0);
	o->version_ptr = pgm_arg_string(call, args, "version_pointer", "/version", 0);
	o->body_key = pgm_arg_string(call, args, "body_key", "value", 0);
	o->method = pgm_arg_string(call, args, "method", "PUT", 0);
	if (pgm_arg_duration_ms(call, args, "timeout", 10000, 0, &o->timeout_ms) != 0 ||
	    pgm_failed(call) || url_check(call, "url", o->url) != 0)
		return -1;
	if (strcmp(o->method, "PUT") != 0 && strcmp(o->method, "PATCH") != 0 &&
	    strcmp(o->method, "POST") != 0) {
		pgm_fail(call, "args.invalid", 0, "method '%s': use PUT, PATCH or POST", o->method);
		return -1;
	}
	if ((*o->value_ptr && *o->value_ptr != '/') ||
	    (*o->version_ptr && *o->version_ptr != '/')) {
		pgm_fail(call, "args.invalid", 0,
			 "value_pointer and version_pointer are JSON pointers (\"/value\")");
		return -1;
	}
	return hdrs_from_args(call, args, &o->h);
}

/* flag_read - GETs the flag; 0 with *s filled, or -1 with the error set. */
static int flag_read(pgm_call *call, flag_opts *o, flag_seen *s)
{
	pgm_http_request req = {.method = "GET",
				.url = o->url,
				.headers = (const char *const *)o->h.v,
				.timeout_ms = (long)o->timeout_ms};
	pgm_http_response resp;
	const char *etag;
	char *pub;
	int tries;

	memset(s, 0, sizeof(*s));
	if (send_retrying(call, &req, 3, &resp, &tries) != 0) {
		pgm_http_response_free(&resp);
		return -1;
	}
	pub = url_public(o->url);
	if (resp.status == 404) {
		pgm_fail(call, "flag.not_found", 0, "flag %s: not found (404)", pub);
		goto fail;
	}
	if (resp.status != 200) {
		char *sn = snippet(resp.body);

		pgm_fail(call, "http.status", resp.status == 429 || resp.status >= 500,
			 "flag %s: GET answered %ld: %s", pub, resp.status, sn);
		free(sn);
		goto fail;
	}
	s->doc = json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY, NULL);
	s->value = s->doc ? json_pointer(s->doc, o->value_ptr) : NULL;
	if (!s->value) {
		pgm_fail(call, "flag.bad_answer", 0, "flag %s: the answer has no JSON value at %s",
			 pub, *o->value_ptr ? o->value_ptr : "\"\"");
		goto fail;
	}
	etag = sget(resp.headers, "etag");
	s->etag = etag ? strdup(etag) : NULL;
	s->version = *o->version_ptr ? json_pointer(s->doc, o->version_ptr) : NULL;
	free(pub);
	pgm_http_response_free(&resp);
	return 0;
fail:
	free(pub);
	pgm_http_response_free(&resp);
	flag_seen_free(s);
	return -1;
}

static void seen_into(json_t *out, const flag_seen *s)
{
	if (s->etag)
		json_object_set_new(out, "etag", json_string(s->etag));
	if (s->version)
		json_object_set(out, "version", s->version);
}

static json_t *fn_flag_get(pgm_call *call, json_t *args)
{
	flag_opts o;
	flag_seen s;
	json_t *out = NULL;
	char *pub;

	if (flag_opts_read(call, args, &o) == 0 && flag_read(call, &o, &s) == 0) {
		pub = url_public(o.url);
		out = json_pack("{s:s, s:O}", "url", pub, "value", s.value);
		seen_into(out, &s);
		free(pub);
		flag_seen_free(&s);
	}
	hdrs_free(&o.h);
	return out;
}

/* fn_flag_set - moves the flag to value with compare-and-set:
 *  - reads it; when it already holds value, changes nothing (a retried
 *    step; previous is then expect when given);
 *  - when expect is given and the flag holds neither expect nor value,
 *    refuses (flag.conflict): someone else moved it;
 *  - writes with If-Match: <etag> (or the version read, in the body), so a
 *    concurrent change makes the service answer 412 / 409; then it reads
 *    again and decides again, up to 3 times.
 * The result says what it saw (previous) so an undo can put it back with
 * flag_set { value = out.previous, expect = out.value }. */
static json_t *fn_flag_set(pgm_call *call, json_t *args)
{
	json_t *value = json_object_get(args, "value"), *expect = json_object_get(args, "expect");
	json_t *out = NULL, *body;
	flag_opts o;
	flag_seen s;
	char *pub = NULL, *data;
	int round;

	if (flag_opts_read(call, args, &o) != 0)
		goto done;
	if (value == NULL) {
		pgm_fail(call, "args.invalid", 0, "argument 'value' is required");
		goto done;
	}
	pub = url_public(o.url);
	for (round = 1; round <= 3; round++) {
		pgm_http_request req;
		pgm_http_response resp;
		hdrs h = {.n = 0};
		int tries;

		if (flag_read(call, &o, &s) != 0)
			goto done;
		if (json_equal(s.value, value)) {
			out = json_pack("{s:s, s:O, s:O, s:b}", "url", pub, "value", value,
					"previous", expect ? expect : value, "changed", 0);
			seen_into(out, &s);
			pgm_info("flag %s already holds the value", pub);
			flag_seen_free(&s);
			goto done;
		}
		if (expect && !json_equal(s.value, expect)) {
			char *g = json_dumps(s.value, JSON_ENCODE_ANY | JSON_COMPACT);
			char *w = json_dumps(expect, JSON_ENCODE_ANY | JSON_COMPACT);

			pgm_fail(call, "flag.conflict", 0,
				 "flag %s holds %s, not the expected %s: someone else moved it",
				 pub, g ? g : "?", w ? w : "?");
			free(g);
			free(w);
			flag_seen_free(&s);
			goto done;
		}
		if (!s.etag && !s.version) {
			pgm_fail(call, "flag.no_cas", 0,
				 "flag %s: the service gives neither an ETag nor a version at %s, "
				 "so "
				 "it cannot be set with compare-and-set",
				 pub, o.version_ptr);
			flag_seen_free(&s);
			goto done;
		}
		body = json_object();
		json_object_set(body, o.body_key, value);
		if (!s.etag && s.version)
			json_object_set(body, o.version_ptr + 1, s.version);
		data = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		for (int i = 0; i < o.h.n; i++) {
			h.v[h.n] = strdup(o.h.v[i]);
			h.n++;
		}
		h.v[h.n] = NULL;
		if (hdrs_add(call, &h, "Content-Type", "application/json") != 0 ||
		    (s.etag && hdrs_add(call, &h, "If-Match", s.etag) != 0)) {
			hdrs_free(&h);
			free(data);
			flag_seen_free(&s);
			goto done;
		}
		req = (pgm_http_request){.method = o.method,
					 .url = o.url,
					 .headers = (const char *const *)h.v,
					 .body = data,
					 .body_len = strlen(data),
					 .timeout_ms = (long)o.timeout_ms};
		if (send_retrying(call, &req, 3, &resp, &tries) != 0) {
			pgm_http_response_free(&resp);
			hdrs_free(&h);
			free(data);
			flag_seen_free(&s);
			goto done;
		}
		hdrs_free(&h);
		free(data);
		if (resp.status == 412 || resp.status == 409) {
			pgm_info("flag %s changed while being set (%ld); reading it again", pub,
				 resp.status);
			pgm_http_response_free(&resp);
			flag_seen_free(&s);
			continue;
		}
		if (resp.status < 200 || resp.status >= 300) {
			char *sn = snippet(resp.body);

			pgm_fail(call, "http.status", resp.status == 429 || resp.status >= 500,
				 "flag %s: %s answered %ld: %s", pub, o.method, resp.status, sn);
			free(sn);
			pgm_http_response_free(&resp);
			flag_seen_free(&s);
			goto done;
		}
		out = json_pack("{s:s, s:O, s:O, s:b}", "url", pub, "value", value, "previous",
				s.value, "changed", 1);
		{
			const char *etag = sget(resp.headers, "etag");

			if (etag)
				json_object_set_new(out, "etag", json_string(etag));
		}
		pgm_http_response_free(&resp);
		flag_seen_free(&s);
		goto done;
	}
	pgm_fail(call, "flag.conflict", 1, "flag %s kept changing while being set (3 attempts)",
		 pub);
done:
	free(pub);
	hdrs_free(&o.h);
	return out;
}

/* ---- the descriptor ---------------------------------------------------------------- */

CONFIGURED(fn_request)
CONFIGURED(fn_health)
CONFIGURED(fn_webhook)
CONFIGURED(fn_flag_get)
CONFIGURED(fn_flag_set)

#define AUTH_PARAMS                                                                                \
	{"headers", "object", 0, 0,                                                                \
	 "request headers {Name = \"value\"}; credential values are treated as secrets"},          \
		{"secret_headers", "array", 0, 0, "more header names whose values are secret"},    \
	{                                                                                          \
		"token", "string", 0, 1, "a bearer token (Authorization: Bearer ...)"              \
	}

static const pgm_param request_params[] = {
	{"url", "string", 1, 0, "http:// or https:// URL"},
	{"method", "string", 0, 0, "GET (default), POST, PUT, PATCH, DELETE, HEAD"},
	AUTH_PARAMS,
	{"json", "any", 0, 0, "a body sent as JSON"},
	{"form", "object", 0, 0, "a body sent as application/x-www-form-urlencoded"},
	{"body", "string", 0, 0, "a body sent as it is"},
	{"content_type", "string", 0, 0, "the body's Content-Type"},
	{"expect", "any", 0, 0, "expected status code(s); default any 2xx"},
	{"timeout", "duration", 0, 0, "per attempt (default 30s)"},
	{"retries", "integer", 0, 0, "extra attempts on 429, 5xx and transport errors (0)"},
	{"pointer", "string", 0, 0, "a JSON pointer: the value there is returned as value"},
	{NULL, NULL, 0, 0, NULL}};

static const pgm_param health_params[] = {
	{"url", "string", 1, 0, "the health endpoint"},
	AUTH_PARAMS,
	{"expect", "any", 0, 0, "healthy status code(s) (default 200)"},
	{"field", "string", 0, 0, "a JSON pointer into the answer (\"/status\")"},
	{"equals", "any", 0, 0, "the value field must hold (\"healthy\")"},
	{"timeout", "duration", 0, 0, "default 10s"},
	{NULL, NULL, 0, 0, NULL}};

static const pgm_param webhook_params[] = {
	{"url", "string", 1, 1, "the webhook URL (a secret: Slack's carries its credential)"},
	{"text", "string", 0, 0, "the message (Slack's \"text\")"},
	{"payload", "object", 0, 0, "more JSON fields (blocks, username, ...) or the whole body"},
	AUTH_PARAMS,
	{"timeout", "duration", 0, 0, "default 10s"},
	{"retries", "integer", 0, 0, "extra attempts on 429, 5xx and transport errors (2)"},
	{NULL, NULL, 0, 0, NULL}};

static const pgm_param mail_params[] = {
	{"server", "string", 1, 0, "smtp://host:587 or smtps://host:465"},
	{"from", "string", 1, 0, "sender address"},
	{"to", "any", 1, 0, "an address or an array of them"},
	{"cc", "any", 0, 0, "an address or an array of them"},
	{"subject", "string", 1, 0, "the subject (UTF-8)"},
	{"text", "string", 1, 0, "the plain-text body (UTF-8)"},
	{"username", "string", 0, 0, "SMTP AUTH user"},
	{"password", "string", 0, 1, "SMTP AUTH password"},
	{"starttls", "string", 0, 0, "required (default), try or none"},
	{"ca_file", "string", 0, 0, "PEM CA certificates to trust instead of the system's"},
	{"timeout", "duration", 0, 0, "default 30s"},
	{NULL, NULL, 0, 0, NULL}};

#define FLAG_PARAMS                                                                                \
	{"url", "string", 1, 0, "the flag's URL in the flag service (GET reads, PUT writes)"},     \
		AUTH_PARAMS,                                                                       \
		{"value_pointer", "string", 0, 0, "JSON pointer of the value (\"/value\")"},       \
		{"version_pointer", "string", 0, 0,                                                \
		 "JSON pointer of a version field used when there is no ETag (\"/version\")"},     \
	{                                                                                          \
		"timeout", "duration", 0, 0, "per request (default 10s)"                           \
	}

static const pgm_param flag_get_params[] = {FLAG_PARAMS, {NULL, NULL, 0, 0, NULL}};

static const pgm_param flag_set_params[] = {
	FLAG_PARAMS,
	{"value", "any", 1, 0, "the value to set"},
	{"expect", "any", 0, 0, "the value the flag must hold before (else flag.conflict)"},
	{"body_key", "string", 0, 0, "the body's field for the value (\"value\")"},
	{"method", "string", 0, 0, "PUT (default), PATCH or POST"},
	{NULL, NULL, 0, 0, NULL}};

static const pgm_function http_functions[] = {
	{.name = "request",
	 .fn = fn_request_configured,
	 .flags = 0,
	 .summary = "an HTTP request: status, headers, JSON body, a value by JSON pointer",
	 .params = request_params},
	{.name = "health",
	 .fn = fn_health_configured,
	 .flags = PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 .summary = "GET a health endpoint and judge it (status, a JSON field's value)",
	 .params = health_params},
	{.name = "webhook",
	 .fn = fn_webhook_configured,
	 .flags = 0,
	 .summary = "post a message to a Slack-compatible or JSON webhook",
	 .params = webhook_params},
	{.name = "mail",
	 .fn = fn_mail,
	 .flags = 0,
	 .summary = "send a plain-text email through SMTP (STARTTLS, AUTH)",
	 .params = mail_params},
	{.name = "flag_get",
	 .fn = fn_flag_get_configured,
	 .flags = PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 .summary = "read a feature flag (value, ETag or version)",
	 .params = flag_get_params},
	{.name = "flag_set",
	 .fn = fn_flag_set_configured,
	 .flags = PGM_FN_IDEMPOTENT,
	 .summary = "set a feature flag with compare-and-set; returns the value it saw",
	 .params = flag_set_params},
	{.name = NULL}};

/* The keys of `plugin "http" { ... }`. */
static const pgm_param config_params[] = {
	{"base_url", "string", 0, 0, "relative URLs of the calls are resolved against it"},
	{"allowed_hosts", "array", 0, 0,
	 "the only hosts calls may reach (\"flags.example.com\", \"*.example.com\")"},
	{"timeout", "duration", 0, 0, "default per-attempt timeout of the HTTP functions", NULL,
	 "100ms", "1h"},
	{"headers", "object", 0, 0, "headers sent with every request (a call's own replace them)"},
	{"secret_headers", "array", 0, 0, "more header names whose values are secret"},
	{"token", "string", 0, 1, "a bearer token for every request that sends no Authorization"},
	{NULL, NULL, 0, 0, NULL}};

PGMOVE_PLUGIN(http) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "http",
	.version = "1.0.0",
	.summary = "HTTP requests, health checks, webhooks, mail (SMTP), feature flags",
	.init = NULL,
	.fini = http_fini,
	.functions = http_functions,
	.configure = http_configure,
	.config = config_params,
};
