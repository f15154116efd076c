/*
 * core/aws/aws.c - the AWS request layer of libpgmove: endpoint resolution
 * (standard endpoints, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>),
 * the Query protocol (form POST, XML answer) and the JSON 1.1 protocol
 * (X-Amz-Target), SigV4 signing (aws_sigv4.c), credentials (aws_creds.c),
 * error mapping (aws_xml.c) and the SDKs' standard retry mode: throttling
 * and transient errors, 5xx and connection failures are retried with
 * exponential backoff and full jitter, up to AWS_MAX_ATTEMPTS (default 3)
 * attempts, within the call's deadline.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws_internal.h"

#define DEFAULT_MAX_ATTEMPTS 3
#define DEFAULT_BASE_MS 1000 /* first retry waits up to 1 s, then 2 s, 4 s ... */
#define MAX_BACKOFF_MS 20000 /* the SDKs' cap */
#define DEFAULT_TIMEOUT_MS 30000

static const char *const throttling_codes[] = {"Throttling",
					       "ThrottlingException",
					       "ThrottledException",
					       "RequestThrottledException",
					       "TooManyRequestsException",
					       "ProvisionedThroughputExceededException",
					       "TransactionInProgressException",
					       "RequestLimitExceeded",
					       "BandwidthLimitExceeded",
					       "LimitExceededException",
					       "RequestThrottled",
					       "SlowDown",
					       "PriorRequestNotComplete",
					       "EC2ThrottledException",
					       NULL};
static const char *const transient_codes[] = {"RequestTimeout",
					      "RequestTimeoutException",
					      "InternalError",
					      "InternalFailure",
					      "ServiceUnavailable",
					      "ServiceUnavailableException",
					      NULL};
static const char *const expired_codes[] = {"ExpiredToken", "ExpiredTokenException",
					    "RequestExpired", NULL};

static int in_list(const char *const *list, const char *code)
{
	for (int i = 0; code && list[i]; i++)
		if (strcmp(list[i], code) == 0)
			return 1;
	return 0;
}

int aws_retryable_code(const char *code)
{
	if (in_list(throttling_codes, code))
		return 2;
	return in_list(transient_codes, code);
}

static long env_long(const char *name, long dflt, long min, long max)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	n = strtol(v, &end, 10);
	if (*end || n < min || n > max) {
		pgm_warn("aws: ignoring %s=%s (expected an integer in [%ld, %ld])", name, v, min,
			 max);
		return dflt;
	}
	return n;
}

/* ---- requests ---------------------------------------------------------- */

typedef struct qparam {
	char *name;
	char *value;
} qparam;

static int qparam_cmp(const void *a, const void *b)
{
	return strcmp(((const qparam *)a)->name, ((const qparam *)b)->name);
}

static char *scalar_text(json_t *v)
{
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return strdup(buf);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		return strdup(buf);
	case JSON_TRUE:
		return strdup("true");
	case JSON_FALSE:
		return strdup("false");
	default:
		return NULL;
	}
}

char *aws_form_encode(const char *action, const char *version, json_t *params, const char **bad)
{
	size_t n = json_is_object(params) ? json_object_size(params) : 0, np = 0;
	qparam *ps = calloc(n + 2, sizeof(*ps));
	const char *key;
	json_t *val;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	if (!ps)
		return NULL;
	ps[np].name = strdup("Action");
	ps[np++].value = strdup(action);
	if (version) {
		ps[np].name = strdup("Version");
		ps[np++].value = strdup(version);
	}
	if (json_is_object(params)) {
		json_object_foreach(params, key, val)
		{
			if (json_is_null(val))
				continue;
			if (json_is_object(val) || json_is_array(val)) {
				if (bad)
					*bad = key;
				goto done;
			}
			ps[np].name = strdup(key);
			ps[np++].value = scalar_text(val);
		}
	}
	qsort(ps, np, sizeof(*ps), qparam_cmp);
	f = open_memstream(&out, &outlen);
	if (!f)
		goto done;
	for (size_t i = 0; i < np; i++) {
		char *en = aws_uri_encode(ps[i].name, strlen(ps[i].name), 0);
		char *ev = aws_uri_encode(ps[i].value, strlen(ps[i].value), 0);

		fprintf(f, "%s%s=%s", i ? "&" : "", en, ev);
		free(en);
		free(ev);
	}
	fclose(f);
done:
	for (size_t i = 0; i < np; i++) {
		free(ps[i].name);
		free(ps[i].value);
	}
	free(ps);
	return out;
}

/* endpoint - the endpoint URL for svc in region, and whence it came.
 * Caller frees. */
static char *endpoint(const pgm_aws_service *svc, const char *region, const char **from)
{
	char name[128], buf[512];
	const char *v = NULL, *ign = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

	if (!(ign && strcasecmp(ign, "true") == 0)) {
		if (svc->env_id) {
			snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", svc->env_id);
			v = getenv(name);
			if (v && *v) {
				*from = "AWS_ENDPOINT_URL_<service>";
				return strdup(v);
			}
		}
		v = getenv("AWS_ENDPOINT_URL");
		if (v && *v) {
			*from = "AWS_ENDPOINT_URL";
			return strdup(v);
		}
	}
	*from = "standard endpoint";
	snprintf(buf, sizeof(buf), "https://%s.%s.%s", svc->endpoint_id, region,
		 aws_region_dns_suffix(region));
	return strdup(buf);
}

/* split_url - authority (host[:port]) and path ("/" when none) of url.
 * -1 when it is not an http(s) URL. */
static int split_url(const char *url, char **authority, char **path)
{
	const char *p = strstr(url, "://"), *slash, *q;

	if (!p || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return -1;
	p += 3;
	slash = strchr(p, '/');
	q = strchr(p, '?');
	if (q && (!slash || q < slash))
		return -1;
	*authority = slash ? strndup(p, (size_t)(slash - p)) : strdup(p);
	*path = strdup(slash ? slash : "/");
	if (!**authority)
		return -1;
	return 0;
}

typedef struct attempt_result {
	long status;
	int transport_failed;
	int retryable;
	int throttled;
	int expired;
	char *code;    /* AWS's code or ours */
	char *message; /* AWS's message or ours */
	char *request_id;
	json_t *value; /* the answer on success */
} attempt_result;

static void attempt_clear(attempt_result *r)
{
	free(r->code);
	free(r->message);
	free(r->request_id);
	json_decref(r->value);
	memset(r, 0, sizeof(*r));
}

static const char *header(json_t *headers, const char *name)
{
	return json_string_value(json_object_get(headers, name));
}

/* snippet - the first SNIPPET_MAX characters of a body that is not what
 * was expected, white space collapsed, for a message; redacted. Caller
 * frees. */
#define SNIPPET_MAX 240
static char *snippet(const char *body, size_t len)
{
	char buf[SNIPPET_MAX + 4];
	size_t j = 0;

	for (size_t i = 0; i < len && j < SNIPPET_MAX; i++) {
		char c = isprint((unsigned char)body[i]) ? body[i] : ' ';

		if (c == ' ' && (j == 0 || buf[j - 1] == ' '))
			continue;
		buf[j++] = c;
	}
	if (j == SNIPPET_MAX) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return pgm_redact(buf);
}

/* interpret - turns one HTTP answer into a result or an error. */
static void interpret(const pgm_aws_service *svc, const char *action, int json_proto,
		      pgm_http_response *resp, attempt_result *r)
{
	aws_error e;
	int is_err;
	char result[256];

	r->status = resp->status;
	if (resp->status >= 200 && resp->status < 300) {
		if (json_proto) {
			json_error_t je;

			if (resp->body_len == 0) {
				r->value = json_object();
				return;
			}
			r->value = json_loadb(resp->body, resp->body_len, 0, &je);
			if (!r->value) {
				char *s = snippet(resp->body, resp->body_len);

				r->code = strdup("bad_response");
				if (asprintf(&r->message,
					     "HTTP %ld with a body that is not JSON (%s): %s",
					     resp->status, je.text, s) < 0)
					r->message = NULL;
				free(s);
				r->retryable = 1;
			}
			return;
		}
		/* An error document can arrive with 200 (seen behind proxies, and
		 * in some AWS answers): it is an error all the same. */
		if (aws_xml_error(resp->body, resp->body_len, &e)) {
			r->code = e.code;
			r->message = e.message;
			r->request_id = e.request_id;
			free(e.type);
			goto classify;
		}
		{
			char *err = NULL;

			snprintf(result, sizeof(result), "%sResult", action);
			r->value = aws_xml_to_json(resp->body, resp->body_len, result, &err);
			if (!r->value) {
				char *s = snippet(resp->body ? resp->body : "", resp->body_len);

				r->code = strdup("bad_response");
				if (asprintf(&r->message, "HTTP %ld with a body that is %s: \"%s\"",
					     resp->status, err ? err : "not XML", s) < 0)
					r->message = NULL;
				free(s);
				r->retryable = 1;
			}
			free(err);
		}
		return;
	}
	if (json_proto)
		is_err = aws_json_error(resp->body, resp->body_len,
					header(resp->headers, "x-amzn-errortype"), &e);
	else
		is_err = aws_xml_error(resp->body, resp->body_len, &e);
	if (is_err) {
		r->code = e.code;
		r->message = e.message;
		r->request_id = e.request_id;
		free(e.type);
	} else {
		char *s = snippet(resp->body ? resp->body : "", resp->body_len);

		r->code = strdup(resp->status == 429   ? "Throttling"
				 : resp->status == 503 ? "ServiceUnavailable"
				 : resp->status >= 500 ? "InternalError"
						       : "bad_response");
		if (asprintf(&r->message, "HTTP %ld with a body that is not an AWS error: \"%s\"",
			     resp->status, s) < 0)
			r->message = NULL;
		free(s);
	}
classify:
	if (!r->request_id) {
		const char *rid = header(resp->headers, "x-amzn-requestid");

		if (!rid)
			rid = header(resp->headers, "x-amz-request-id");
		r->request_id = rid ? strdup(rid) : NULL;
	}
	r->throttled = aws_retryable_code(r->code) == 2;
	r->retryable = aws_retryable_code(r->code) || resp->status >= 500 || resp->status == 429;
	r->expired = in_list(expired_codes, r->code);
	(void)svc;
}

/* one_attempt - signs and sends one request. */
static void one_attempt(pgm_call *call, const pgm_aws_service *svc, const char *region,
			const char *url, const char *authority, const char *path,
			const char *action, int json_proto, const char *body, size_t body_len,
			const aws_creds *cr, long timeout_ms, attempt_result *r)
{
	char amz_date[17], h_host[600], h_date[64], h_ct[128], h_target[256], *h_token = NULL;
	char *authz, *h_authz = NULL;
	const char *signed_h[6], *send_h[9];
	int ns = 0, nsend = 0;
	aws_sigv4_request sr;
	pgm_http_request req;
	pgm_http_response resp;

	aws_amz_date((long long)time(NULL), amz_date);
	snprintf(h_host, sizeof(h_host), "Host: %s", authority);
	snprintf(h_date, sizeof(h_date), "X-Amz-Date: %s", amz_date);
	snprintf(h_ct, sizeof(h_ct), "Content-Type: %s",
		 json_proto == 2 ? "application/x-amz-json-1.0"
		 : json_proto	 ? "application/x-amz-json-1.1"
			    : "application/x-www-form-urlencoded; charset=utf-8");
	signed_h[ns++] = h_ct;
	signed_h[ns++] = h_host;
	signed_h[ns++] = h_date;
	if (json_proto) {
		snprintf(h_target, sizeof(h_target), "X-Amz-Target: %s.%s", svc->json_prefix,
			 action);
		signed_h[ns++] = h_target;
	}
	if (cr->token) {
		if (asprintf(&h_token, "X-Amz-Security-Token: %s", cr->token) < 0)
			h_token = NULL;
		if (h_token)
			signed_h[ns++] = h_token;
	}
	signed_h[ns] = NULL;

	memset(&sr, 0, sizeof(sr));
	sr.method = "POST";
	sr.path = path;
	sr.query = NULL;
	sr.headers = signed_h;
	sr.payload = body;
	sr.payload_len = body_len;
	sr.amz_date = amz_date;
	sr.region = region;
	sr.service = svc->name;
	sr.access_key = cr->access_key;
	sr.secret_key = cr->secret_key;
	authz = aws_sigv4_authorization(&sr);
	if (!authz || asprintf(&h_authz, "Authorization: %s", authz) < 0) {
		r->code = strdup("signing_failed");
		r->message = strdup("SigV4 signing failed (libcrypto)");
		free(authz);
		free(h_token);
		return;
	}
	free(authz);
	for (int i = 0; i < ns; i++)
		send_h[nsend++] = signed_h[i];
	send_h[nsend++] = h_authz;
	send_h[nsend++] = "User-Agent: pgmove/" PACKAGE_VERSION;
	send_h[nsend] = NULL;

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = send_h;
	req.body = body;
	req.body_len = body_len;
	req.timeout_ms = timeout_ms;
	memset(&resp, 0, sizeof(resp));
	if (pgm_http_send(call, &req, &resp) != 0) {
		r->transport_failed = 1;
		r->retryable = pgm_error_retryable(call) && !pgm_cancelled(call);
		r->code = strdup(pgm_error_code(call) ? pgm_error_code(call) : "http.error");
		r->message =
			strdup(pgm_error_message(call) ? pgm_error_message(call) : "no answer");
		if (!pgm_cancelled(call))
			pgm_clear_error(call);
	} else {
		interpret(svc, action, json_proto, &resp, r);
	}
	pgm_http_response_free(&resp);
	memset(h_authz, 0, strlen(h_authz));
	free(h_authz);
	if (h_token) {
		memset(h_token, 0, strlen(h_token));
		free(h_token);
	}
}

static unsigned long long rng_state;

/* jitter01 - a uniform number in [0, 1) (xorshift; quality is not needed). */
static double jitter01(void)
{
	unsigned long long x = __atomic_load_n(&rng_state, __ATOMIC_RELAXED);

	if (!x)
		x = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32) ^
		    (unsigned long long)pgm_now_ms();
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	__atomic_store_n(&rng_state, x, __ATOMIC_RELAXED);
	return (double)(x >> 11) / 9007199254740992.0;
}

/* aws_request - the shared body of pgm_aws_query and pgm_aws_json. */
static json_t *aws_request(pgm_call *call, const pgm_aws_service *svc, const char *region_param,
			   const char *action, int json_proto, const char *body, size_t body_len)
{
	char *region = NULL, *url = NULL, *authority = NULL, *path = NULL;
	const char *from = NULL;
	long max_attempts, base_ms, timeout_ms;
	int attempt, refreshed = 0;
	char earlier[128] = "";
	attempt_result r;
	json_t *out = NULL;

	memset(&r, 0, sizeof(r));
	region = aws_region_resolve(call, region_param);
	if (!region)
		return NULL;
	url = endpoint(svc, region, &from);
	if (!url || split_url(url, &authority, &path) != 0) {
		pgm_fail(call, "aws.endpoint_invalid", 0,
			 "aws: %s endpoint \"%s\" (from %s) is not an http(s) URL", svc->name,
			 url ? url : "", from);
		goto done;
	}
	max_attempts = env_long("AWS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1, 50);
	base_ms = env_long("PGMOVE_AWS_RETRY_BASE_MS", DEFAULT_BASE_MS, 0, 60000);
	timeout_ms = env_long("PGMOVE_AWS_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, 1, 3600000);

	for (attempt = 1;; attempt++) {
		aws_creds cr;
		long long t0 = pgm_now_ms(), delay;

		if (pgm_check_cancel(call) != 0)
			goto done;
		if (aws_creds_get(call, &cr) != 0)
			goto done;
		pgm_debug("aws: %s %s: attempt %d/%ld: POST %s (%s; credentials from %s)",
			  svc->name, action, attempt, max_attempts, url, from, cr.source);
		attempt_clear(&r);
		one_attempt(call, svc, region, url, authority, path, action, json_proto, body,
			    body_len, &cr, timeout_ms, &r);
		if (r.value) {
			pgm_debug("aws: %s %s: HTTP %ld in %lld ms", svc->name, action, r.status,
				  pgm_now_ms() - t0);
			out = r.value;
			r.value = NULL;
			aws_creds_clear(&cr);
			goto done;
		}
		if (r.transport_failed)
			pgm_debug("aws: %s %s: %s after %lld ms", svc->name, action, r.code,
				  pgm_now_ms() - t0);
		else
			pgm_debug("aws: %s %s: HTTP %ld %s after %lld ms", svc->name, action,
				  r.status, r.code, pgm_now_ms() - t0);
		if (pgm_cancelled(call)) {
			aws_creds_clear(&cr);
			goto done;
		}
		/* Expired temporary credentials: fetch new ones once. */
		if (r.expired && cr.refreshable && !refreshed) {
			refreshed = 1;
			aws_creds_clear(&cr);
			aws_creds_invalidate();
			pgm_info("aws: %s %s: %s: refreshing credentials from %s", svc->name,
				 action, r.code, "their source");
			attempt--;
			continue;
		}
		aws_creds_clear(&cr);
		if (!r.retryable || attempt >= max_attempts)
			break;
		snprintf(earlier, sizeof(earlier), "%s", r.code ? r.code : "?");
		delay = (long long)(jitter01() * (double)base_ms * (double)(1LL << (attempt - 1)));
		if (delay > MAX_BACKOFF_MS)
			delay = MAX_BACKOFF_MS;
		if (pgm_remaining_ms(call) >= 0 && pgm_remaining_ms(call) < delay + 1)
			break; /* no time left for another attempt */
		pgm_info("aws: %s %s: %s (%s); retrying in %lld ms (attempt %d of %ld)", svc->name,
			 action, r.code, r.transport_failed ? "no answer" : "retryable", delay,
			 attempt + 1, max_attempts);
		if (pgm_sleep_ms(call, delay) != 0)
			goto done;
	}

	{
		char code[192], tail[192];
		const char *svcname = svc->name;

		if (r.transport_failed)
			snprintf(code, sizeof(code), "%s", r.code);
		else if (strcmp(r.code, "bad_response") == 0)
			snprintf(code, sizeof(code), "aws.bad_response");
		else
			snprintf(code, sizeof(code), "%s.%s", svcname, r.code);
		tail[0] = '\0';
		/* "gave up" only of an error that a retry could have helped;
		 * a final answer after retries says what the earlier ones were. */
		if (attempt > 1 && r.retryable)
			snprintf(tail, sizeof(tail), " (gave up after %d attempts)", attempt);
		else if (attempt > 1)
			snprintf(tail, sizeof(tail),
				 " (on attempt %d; the one before failed with %s)", attempt,
				 earlier);
		if (r.transport_failed)
			pgm_fail(call, code, r.retryable, "aws: %s %s: %s%s", svcname, action,
				 r.message ? r.message : "no answer", tail);
		else
			pgm_fail(call, code, r.retryable, "aws: %s %s: %s%s%s (HTTP %ld%s%s)%s",
				 svcname, action, r.transport_failed ? "" : r.code,
				 r.message ? ": " : "", r.message ? r.message : "", r.status,
				 r.request_id ? ", request id " : "",
				 r.request_id ? r.request_id : "", tail);
	}
done:
	attempt_clear(&r);
	free(region);
	free(url);
	free(authority);
	free(path);
	return out;
}

json_t *pgm_aws_query(pgm_call *call, const pgm_aws_service *svc, const char *region,
		      const char *action, json_t *params)
{
	const char *bad = NULL;
	char *body;
	json_t *out;

	if (!svc || !svc->name || !svc->endpoint_id || !svc->api_version || !action) {
		pgm_fail(call, "aws.invalid_service", 0,
			 "aws: pgm_aws_query needs a service with a name, endpoint_id and "
			 "api_version, and an action");
		return NULL;
	}
	body = aws_form_encode(action, svc->api_version, params, &bad);
	if (!body) {
		pgm_fail(call, "args.invalid", 0,
			 "aws: %s %s: parameter %s is an object or array; Query parameters are "
			 "flat (\"Tags.member.1.Key\")",
			 svc->name, action, bad ? bad : "?");
		return NULL;
	}
	out = aws_request(call, svc, region, action, 0, body, strlen(body));
	free(body);
	return out;
}

/* aws_json - what pgm_aws_json (protocol 1: JSON 1.1) and pgm_aws_json10
 * (protocol 2: JSON 1.0) share: check the service, encode the body, send.
 * fn names the public function in messages. */
static json_t *aws_json(pgm_call *call, const pgm_aws_service *svc, const char *region,
			const char *action, json_t *body, int protocol, const char *fn)
{
	char *text;
	json_t *out;

	if (!svc || !svc->name || !svc->endpoint_id || !svc->json_prefix || !action) {
		pgm_fail(call, "aws.invalid_service", 0,
			 "aws: %s needs a service with a name, endpoint_id and json_prefix, and an "
			 "action",
			 fn);
		return NULL;
	}
	text = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
	if (!text) {
		pgm_fail(call, "args.invalid", 0, "aws: %s %s: the body cannot be encoded",
			 svc->name, action);
		return NULL;
	}
	out = aws_request(call, svc, region, action, protocol, text, strlen(text));
	free(text);
	return out;
}

json_t *pgm_aws_json(pgm_call *call, const pgm_aws_service *svc, const char *region,
		     const char *action, json_t *body)
{
	return aws_json(call, svc, region, action, body, 1, "pgm_aws_json");
}

json_t *pgm_aws_json10(pgm_call *call, const pgm_aws_service *svc, const char *region,
		       const char *action, json_t *body)
{
	return aws_json(call, svc, region, action, body, 2, "pgm_aws_json10");
}

json_t *pgm_aws_list(json_t *v)
{
	if (json_is_array(v))
		return json_incref(v);
	if (json_is_object(v) && json_object_size(v) == 1) {
		json_t *inner = json_object_iter_value(json_object_iter(v));

		if (json_is_array(inner))
			return json_incref(inner);
		return json_pack("[O]", inner);
	}
	return json_array();
}

json_t *pgm_aws_query_all(pgm_call *call, const pgm_aws_service *svc, const char *region,
			  const char *action, json_t *params, const char *list_key,
			  const char *token_key, int max_pages)
{
	json_t *p = params ? json_deep_copy(params) : json_object();
	json_t *all = json_array(), *out = NULL;
	int page;

	if (!token_key)
		token_key = "Marker";
	if (max_pages <= 0)
		max_pages = 1000;
	for (page = 0; page < max_pages; page++) {
		json_t *res = pgm_aws_query(call, svc, region, action, p);
		json_t *items;
		const char *next;

		if (!res)
			goto fail;
		items = json_object_get(res, list_key);
		/* <DBSnapshots><DBSnapshot/></DBSnapshots> may come as an object
		 * holding the one element; an empty list comes as "". */
		if (json_is_object(items) && json_object_size(items) == 1)
			items = json_object_iter_value(json_object_iter(items));
		if (json_is_array(items))
			json_array_extend(all, items);
		else if (json_is_object(items))
			json_array_append(all, items);
		next = json_string_value(json_object_get(res, token_key));
		if (!next || !*next) {
			out = json_pack("{s:O,s:i}", list_key, all, "pages", page + 1);
			json_decref(res);
			break;
		}
		json_object_set_new(p, token_key, json_string(next));
		json_decref(res);
	}
	if (!out)
		pgm_fail(call, "aws.too_many_pages", 0, "aws: %s %s: more than %d pages", svc->name,
			 action, max_pages);
fail:
	json_decref(p);
	json_decref(all);
	return out;
}
