/*
 * core/host/mail.c - sending one email through SMTP with libcurl: the
 * envelope (MAIL FROM, RCPT TO), the message uploaded as it is (libcurl
 * dot-stuffs it), STARTTLS when asked, AUTH with a username and password
 * that never reach a log line, and the same deadline, cancellation and
 * transport error codes as pgm_http_send.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "hostpriv.h"

#define DEFAULT_TIMEOUT_MS 30000L

typedef struct upload {
	pgm_call *call;
	const char *data;
	size_t len, off;
} upload;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *user)
{
	upload *u = user;
	size_t room = size * nmemb, n = u->len - u->off;

	if (n > room)
		n = room;
	memcpy(buf, u->data + u->off, n);
	u->off += n;
	return n;
}

static size_t on_discard(char *data, size_t size, size_t nmemb, void *user)
{
	(void)data;
	(void)user;
	return size * nmemb;
}

static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	upload *u = user;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return pgm_cancelled(u->call) ? 1 : 0;
}

/* mail_code - a stable code and retryability for a curl error of an SMTP
 * exchange. */
static const char *mail_code(CURLcode rc, int *retryable)
{
	*retryable = 0;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		*retryable = 1;
		return "mail.timeout";
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		*retryable = 1;
		return "mail.connect";
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		*retryable = 1;
		return "mail.reset";
	case CURLE_LOGIN_DENIED:
		return "mail.auth";
	case CURLE_USE_SSL_FAILED:
		return "mail.starttls";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return "mail.tls";
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return "mail.url";
	case CURLE_SEND_FAIL_REWIND:
	case CURLE_WEIRD_SERVER_REPLY:
		return "mail.protocol";
	default:
		return "mail.rejected";
	}
}

/* pgm_mail_send - see plugin.h. */
int pgm_mail_send(pgm_call *call, const pgm_mail *m)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *rcpt = NULL;
	long timeout, left, smtp_code = 0;
	upload u;
	CURL *h;
	CURLcode rc;
	int i;

	if (m == NULL || m->url == NULL || m->from == NULL || m->rcpt == NULL ||
	    m->rcpt[0] == NULL || m->message == NULL) {
		pgm_fail(call, "mail.invalid", 0,
			 "mail: an SMTP URL, a sender, a recipient and a "
			 "message are required");
		return -1;
	}
	if (strncasecmp(m->url, "smtp://", 7) != 0 && strncasecmp(m->url, "smtps://", 8) != 0) {
		pgm_fail(call, "mail.url", 0,
			 "mail: the server URL must start with smtp:// or smtps://");
		return -1;
	}
	if (pgm_check_cancel(call) < 0)
		return -1;
	if (m->password)
		pgm_secret_add(m->password);
	if (host_curl_init() < 0 || (h = curl_easy_init()) == NULL) {
		pgm_fail(call, "mail.error", 0, "mail: cannot initialise libcurl");
		return -1;
	}
	for (i = 0; m->rcpt[i]; i++) {
		struct curl_slist *n = curl_slist_append(rcpt, m->rcpt[i]);

		if (n == NULL)
			abort();
		rcpt = n;
	}
	memset(&u, 0, sizeof(u));
	u.call = call;
	u.data = m->message;
	u.len = m->message_len ? m->message_len : strlen(m->message);
	errbuf[0] = '\0';
	timeout = m->timeout_ms > 0 ? m->timeout_ms : DEFAULT_TIMEOUT_MS;
	left = (long)pgm_remaining_ms(call);
	if (left >= 0 && left < timeout)
		timeout = left > 0 ? left : 1;

	curl_easy_setopt(h, CURLOPT_URL, m->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#endif
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_USE_SSL,
			 m->starttls == PGM_MAIL_STARTTLS_REQUIRED ? (long)CURLUSESSL_ALL
			 : m->starttls == PGM_MAIL_STARTTLS_TRY	   ? (long)CURLUSESSL_TRY
								   : (long)CURLUSESSL_NONE);
	if (m->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, m->ca_file);
	if (m->username)
		curl_easy_setopt(h, CURLOPT_USERNAME, m->username);
	if (m->password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, m->password);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, m->from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u.len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &u);

	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &smtp_code);
	curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	if (rc != CURLE_OK) {
		int retryable;
		const char *code = mail_code(rc, &retryable);
		char *url = pgm_redact(m->url);

		if (rc == CURLE_ABORTED_BY_CALLBACK || pgm_cancelled(call)) {
			pgm_check_cancel(call);
		} else {
			/* a 4xx SMTP reply is temporary, a 5xx one permanent */
			if (smtp_code >= 400 && smtp_code < 500)
				retryable = 1;
			char reply[32] = "";

			if (smtp_code)
				snprintf(reply, sizeof(reply), " (SMTP %ld)", smtp_code);
			pgm_fail(call, code, retryable, "mail: %s: %s%s", url,
				 *errbuf ? errbuf : curl_easy_strerror(rc), reply);
		}
		free(url);
		return -1;
	}
	pgm_debug("mail: sent %zu bytes to %d recipient(s)", u.len, i);
	return 0;
}
