/*
 * core/host/http.c - one HTTP exchange through libcurl: an easy handle per
 * request, TLS verification on, a progress callback that honours
 * cancellation and the call's deadline, transport failures mapped to
 * stable codes, response headers lower-cased into a JSON object. Header
 * values are never logged.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "hostpriv.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 10000L

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_cleanup(void)
{
	curl_global_cleanup();
}

static void curl_init(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	if (curl_ok)
		atexit(curl_cleanup);
}

/* host_curl_init - libcurl's global initialisation, once per process
 * whatever the thread (curl_global_init is not safe to race). 0, or -1
 * when it failed. */
int host_curl_init(void)
{
	pthread_once(&curl_once, curl_init);
	return curl_ok ? 0 : -1;
}

typedef struct xfer {
	pgm_call *call;
	char *body;
	size_t len, cap;
	json_t *headers;
} xfer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	xfer *x = user;
	size_t n = size * nmemb;

	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *b;

		while (x->len + n + 1 > cap)
			cap *= 2;
		b = realloc(x->body, cap);
		if (b == NULL)
			return 0; /* curl reports CURLE_WRITE_ERROR */
		x->body = b;
		x->cap = cap;
	}
	memcpy(x->body + x->len, data, n);
	x->len += n;
	x->body[x->len] = '\0';
	return n;
}

/* on_header - "Name: value" lines into x->headers, names lower-cased; a
 * status line (a redirect, "100 Continue") starts the set over. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
	xfer *x = user;
	size_t n = size * nmemb, i, vstart, vend;
	char *name, *value;
	const char *colon;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		json_object_clear(x->headers);
		return n;
	}
	colon = memchr(data, ':', n);
	if (colon == NULL)
		return n;
	name = strndup(data, (size_t)(colon - data));
	if (name == NULL)
		return 0;
	for (i = 0; name[i]; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	vstart = (size_t)(colon - data) + 1;
	while (vstart < n && (data[vstart] == ' ' || data[vstart] == '\t'))
		vstart++;
	vend = n;
	while (vend > vstart && isspace((unsigned char)data[vend - 1]))
		vend--;
	value = strndup(data + vstart, vend - vstart);
	if (value == NULL) {
		free(name);
		return 0;
	}
	{
		json_t *js = json_string(value); /* NULL when not UTF-8 */

		json_object_set_new(x->headers, name, js ? js : json_string("(not UTF-8)"));
	}
	free(name);
	free(value);
	return n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	xfer *x = user;

	return pgm_cancelled(x->call) ? 1 : 0;
}

/* url_for_message - the URL without its query (which may carry a
 * presigned signature) and without user:password. Caller frees. */
static char *url_for_message(const char *url)
{
	char *u = strdup(url ? url : ""), *q, *r;

	if (u == NULL)
		abort();
	q = strpbrk(u, "?#");
	if (q)
		*q = '\0';
	r = pgm_redact(u);
	free(u);
	return r;
}

/* fail_transport - maps a curl error to a code and retryability. */
static void fail_transport(pgm_call *call, CURLcode rc, const char *method,
			   const char *url, const char *errbuf)
{
	const char *code = "http.error";
	int retryable = 0;
	char *u;

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		code = "http.timeout";
		retryable = 1;
		break;
	case CURLE_COULDNT_CONNECT:
		code = "http.connect";
		retryable = 1;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		code = "http.resolve";
		retryable = 1;
		break;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		code = "http.reset";
		retryable = 1;
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
		code = "http.tls";
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		code = "http.url";
		break;
	case CURLE_WRITE_ERROR:
	case CURLE_OUT_OF_MEMORY:
		code = "http.memory";
		break;
	default:
		break;
	}
	u = url_for_message(url);
	pgm_fail(call, code, retryable, "http: %s %s: %s", method, u,
		 errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
	free(u);
}

/* pgm_http_send - see plugin.h. */
host_http_mock_fn host_http_mock;

int pgm_http_send(pgm_call *call, const pgm_http_request *req, pgm_http_response *resp)
{
	const char *method = req && req->method ? req->method : "GET";
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	long timeout, left, status = 0;
	int by_deadline = 0; /* the call's deadline, not the request's, set the timeout */
	long long t0 = pgm_now_ms();
	xfer x;
	CURL *h;
	CURLcode rc;
	int i;

	memset(resp, 0, sizeof(*resp));
	if (req == NULL || req->url == NULL) {
		pgm_fail(call, "http.url", 0, "http: no URL");
		return -1;
	}
	if (pgm_check_cancel(call) < 0)
		return -1;
	if (host_http_mock)
		return host_http_mock(call, req, resp);
	if (host_curl_init() < 0 || (h = curl_easy_init()) == NULL) {
		pgm_fail(call, "http.error", 0, "http: cannot initialise libcurl");
		return -1;
	}
	memset(&x, 0, sizeof(x));
	x.call = call;
	x.headers = json_object();
	errbuf[0] = '\0';

	timeout = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	left = (long)pgm_remaining_ms(call);
	if (left >= 0 && left < timeout) {
		timeout = left > 0 ? left : 1;
		by_deadline = 1;
	}

	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 timeout < CONNECT_TIMEOUT_MS ? timeout : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pgmove/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");

	if (strcasecmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcasecmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else {
		if (strcasecmp(method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		if (req->body || strcasecmp(method, "POST") == 0 || strcasecmp(method, "PUT") == 0) {
			curl_easy_setopt(h, CURLOPT_POST, 1L);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)(req->body ? req->body_len : 0));
		}
	}
	/* no "Expect: 100-continue" round trip, and no default form type */
	hdrs = curl_slist_append(hdrs, "Expect:");
	for (i = 0; req->headers && req->headers[i]; i++) {
		struct curl_slist *n = curl_slist_append(hdrs, req->headers[i]);

		if (n == NULL)
			break;
		hdrs = n;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);

	if (rc != CURLE_OK) {
		char *u = url_for_message(req->url);

		if (rc == CURLE_ABORTED_BY_CALLBACK || pgm_cancelled(call))
			pgm_check_cancel(call);
		/* curl's clock may end the transfer a moment before ours says the
		 * deadline passed: a timeout the deadline set is the deadline's */
		if (!pgm_failed(call) && by_deadline && rc == CURLE_OPERATION_TIMEDOUT &&
		    pgm_remaining_ms(call) < 100)
			host_fail_deadline(call);
		if (!pgm_failed(call))
			fail_transport(call, rc, method, req->url, errbuf);
		pgm_debug("http: %s %s: failed after %lld ms (%s)", method, u,
			  pgm_now_ms() - t0, curl_easy_strerror(rc));
		free(u);
		free(x.body);
		json_decref(x.headers);
		return -1;
	}
	if (pgm_log_enabled(PGM_LOG_DEBUG)) {
		char *u = url_for_message(req->url);

		pgm_debug("http: %s %s -> %ld (%zu bytes, %lld ms)", method, u, status, x.len,
			  pgm_now_ms() - t0);
		free(u);
	}
	resp->status = status;
	resp->body = x.body ? x.body : strdup("");
	resp->body_len = x.len;
	resp->headers = x.headers;
	if (resp->body == NULL)
		abort();
	return 0;
}

void pgm_http_response_free(pgm_http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	json_decref(resp->headers);
	memset(resp, 0, sizeof(*resp));
}
