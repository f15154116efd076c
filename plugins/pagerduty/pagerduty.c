/*
 * plugins/pagerduty/pagerduty.c - PagerDuty's Events API v2 through
 * libpgmove's HTTP client: alert events (trigger, acknowledge, resolve)
 * correlated by dedup keys, and change events (a migration's start,
 * cutover and end on the service's timeline). Events are validated as
 * PagerDuty documents them before anything is sent; 429 and 5xx answers
 * and transport errors are retried with exponential backoff within the
 * call's deadline; a 400 is an error carrying PagerDuty's `errors`.
 *
 * The routing key is a secret (a declared secret parameter, registered
 * before the call). The endpoint is the `url` argument, else the run's
 * configuration's, else $PAGERDUTY_EVENTS_URL (EU accounts, tests), else
 * https://events.pagerduty.com.
 *
 * A runbook may configure the plugin once for the run
 * (`plugin "pagerduty" { url = ..., routing_key = params.pd_key,
 * source = "aurora-1", component = "replication" }`): the keys of
 * config_params are defaults for every call, which a call's own argument
 * overrides.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pgmove/plugin.h"

#define DEFAULT_URL "https://events.pagerduty.com"
#define MAX_SUMMARY 1024
#define MAX_DEDUP 255
#define MAX_EVENT_BYTES (512 * 1024)
#define ROUTING_KEY_LEN 32

static const char *sget(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The run's configuration (pagerduty_configure), a copy; NULL when the
 * runbook gave none. Written before any function runs, then only read. */
static json_t *config;

/* with_config - args with the configuration's values for the keys args
 * lacks (or holds null), as a new object the caller decrefs. */
static json_t *with_config(json_t *args)
{
	json_t *a = config ? json_deep_copy(config) : json_object(), *v;
	const char *k;

	if (a == NULL)
		abort();
	json_object_foreach(args, k, v)
	{
		if (!json_is_null(v))
			json_object_set(a, k, v);
	}
	return a;
}

/* base_url - the events endpoint's base: the url argument, else
 * $PAGERDUTY_EVENTS_URL, else PagerDuty's. A trailing "/v2/enqueue" or
 * "/v2/change/enqueue" and slashes are dropped. Caller frees. */
static char *base_url(pgm_call *call, json_t *args)
{
	const char *u = sget(args, "url");
	char *b;
	size_t n;

	if (!u || !*u)
		u = getenv("PAGERDUTY_EVENTS_URL");
	if (!u || !*u)
		u = DEFAULT_URL;
	if ((strncasecmp(u, "https://", 8) != 0 && strncasecmp(u, "http://", 7) != 0) ||
	    strpbrk(u, "\r\n \t?#")) {
		pgm_fail(call, "args.invalid", 0,
			 "PagerDuty endpoint '%s' is not an http(s) URL without a query", u);
		return NULL;
	}
	b = strdup(u);
	if (b == NULL)
		abort();
	n = strlen(b);
	if (n > 18 && strcmp(b + n - 18, "/v2/change/enqueue") == 0)
		b[n -= 18] = '\0';
	else if (n > 11 && strcmp(b + n - 11, "/v2/enqueue") == 0)
		b[n -= 11] = '\0';
	while (n > 0 && b[n - 1] == '/')
		b[--n] = '\0';
	return b;
}

/* iso8601_ok - "2015-07-17T08:42:58.315+0000", "...Z", "...+00:00". */
static int iso8601_ok(const char *s)
{
	const char *p = s;
	int i;

	for (i = 0; i < 19; i++, p++) {
		int digit = i != 4 && i != 7 && i != 10 && i != 13 && i != 16;

		if (!*p)
			return 0;
		if (digit ? !isdigit((unsigned char)*p)
			  : *p != (i == 10		  ? 'T'
				   : (i == 13 || i == 16) ? ':'
							  : '-'))
			return 0;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z')
		return p[1] == '\0';
	if (*p == '+' || *p == '-') {
		p++;
		for (i = 0; i < 4; i++, p++) {
			if (i == 2 && *p == ':')
				p++;
			if (!isdigit((unsigned char)*p))
				return 0;
		}
		return *p == '\0';
	}
	return *p == '\0';
}

/* chars - the number of characters (code points) of UTF-8 text s: what
 * PagerDuty's limits count, not bytes. */
static size_t chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* copy_string - args[key] into o[key] when present: a string of at most
 * max characters (0 = any); -1 with the error set otherwise. */
static int copy_string(pgm_call *call, json_t *args, const char *key, json_t *o, size_t max)
{
	json_t *v = json_object_get(args, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		pgm_fail(call, "args.invalid", 0, "%s must be a string", key);
		return -1;
	}
	if (max && chars(json_string_value(v)) > max) {
		pgm_fail(call, "args.invalid", 0,
			 "%s is %zu characters long; PagerDuty allows %zu", key,
			 chars(json_string_value(v)), max);
		return -1;
	}
	json_object_set(o, key, v);
	return 0;
}

/* links_images - validated links ([{href, text}]) and images ([{src, href,
 * alt}], https only) into ev. */
static int links_images(pgm_call *call, json_t *args, json_t *ev, int images_ok)
{
	json_t *links = json_object_get(args, "links"), *images = json_object_get(args, "images"),
	       *x;
	size_t i;

	if (links && !json_is_null(links)) {
		if (!json_is_array(links)) {
			pgm_fail(call, "args.invalid", 0,
				 "links must be an array of {href=, text=}");
			return -1;
		}
		json_array_foreach(links, i, x)
		{
			const char *href = sget(x, "href");

			if (!json_is_object(x) || !href || !*href ||
			    (json_object_get(x, "text") &&
			     !json_is_string(json_object_get(x, "text")))) {
				pgm_fail(call, "args.invalid", 0,
					 "links[%zu] needs href (a URL) and an optional text",
					 i + 1);
				return -1;
			}
		}
		json_object_set(ev, "links", links);
	}
	if (images && !json_is_null(images)) {
		if (!images_ok) {
			pgm_fail(call, "args.invalid", 0, "change events take no images");
			return -1;
		}
		if (!json_is_array(images)) {
			pgm_fail(call, "args.invalid", 0,
				 "images must be an array of {src=, href=, alt=}");
			return -1;
		}
		json_array_foreach(images, i, x)
		{
			const char *src = sget(x, "src");

			if (!json_is_object(x) || !src || strncmp(src, "https://", 8) != 0) {
				pgm_fail(call, "args.invalid", 0,
					 "images[%zu] needs src, an https:// URL (PagerDuty shows "
					 "only "
					 "images served over HTTPS)",
					 i + 1);
				return -1;
			}
		}
		json_object_set(ev, "images", images);
	}
	return 0;
}

/* payload_common - summary, timestamp, custom_details, source. */
static int payload_common(pgm_call *call, json_t *args, json_t *p, int source_required)
{
	const char *summary = sget(args, "summary"), *ts = sget(args, "timestamp");
	json_t *cd = json_object_get(args, "custom_details");

	if (!summary || !*summary) {
		pgm_fail(call, "args.invalid", 0, "summary is required (a brief text, at most %d)",
			 MAX_SUMMARY);
		return -1;
	}
	if (copy_string(call, args, "summary", p, MAX_SUMMARY) != 0)
		return -1;
	if (source_required && (!sget(args, "source") || !*sget(args, "source"))) {
		pgm_fail(call, "args.invalid", 0,
			 "source is required (in the call or the plugin's configuration): the "
			 "affected system, e.g. a host name or cluster id");
		return -1;
	}
	if (copy_string(call, args, "source", p, 0) != 0)
		return -1;
	if (ts) {
		if (!iso8601_ok(ts)) {
			pgm_fail(call, "args.invalid", 0,
				 "timestamp '%s' is not ISO 8601 (2026-11-30T03:00:00.000Z)", ts);
			return -1;
		}
		json_object_set_new(p, "timestamp", json_string(ts));
	} else {
		char buf[40];
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf + 19, sizeof(buf) - 19, ".%03ldZ", now.tv_nsec / 1000000);
		json_object_set_new(p, "timestamp", json_string(buf));
	}
	if (cd && !json_is_null(cd)) {
		if (!json_is_object(cd)) {
			pgm_fail(call, "args.invalid", 0, "custom_details must be an object");
			return -1;
		}
		json_object_set(p, "custom_details", cd);
	}
	return 0;
}

static long retry_base_ms(void)
{
	const char *e = getenv("PGMOVE_PAGERDUTY_RETRY_BASE_MS");
	long v = e ? strtol(e, NULL, 10) : 0;

	return v > 0 ? v : 1000;
}

/* post_event - sends ev (borrowed) to base + path, retrying 429, 5xx and
 * transport errors up to attempts times with exponential backoff within
 * the deadline. Returns PagerDuty's answer (new reference) with "attempts"
 * added, or NULL with the error set. */
static json_t *post_event(pgm_call *call, const char *base, const char *path, json_t *ev,
			  int attempts, long long timeout_ms)
{
	static const char *const headers[] = {"Content-Type: application/json",
					      "Accept: application/json", NULL};
	char *body = json_dumps(ev, JSON_COMPACT), *url;
	long long delay = retry_base_ms();
	pgm_http_response resp;
	json_t *ans = NULL;
	int tries;

	if (body == NULL)
		abort();
	if (strlen(body) > MAX_EVENT_BYTES) {
		size_t n = strlen(body);

		free(body);
		return pgm_fail(call, "args.invalid", 0,
				"the event is %zu bytes; PagerDuty accepts at most 512 KB", n);
	}
	if (asprintf(&url, "%s%s", base, path) < 0)
		abort();
	for (tries = 1;; tries++) {
		pgm_http_request req = {.method = "POST",
					.url = url,
					.headers = headers,
					.body = body,
					.body_len = strlen(body),
					.timeout_ms = (long)timeout_ms};
		int rc = pgm_http_send(call, &req, &resp);
		int again;

		if (rc == 0 && resp.status >= 200 && resp.status < 300) {
			ans = json_loadb(resp.body, resp.body_len, 0, NULL);
			if (!json_is_object(ans) || !sget(ans, "status")) {
				json_decref(ans);
				ans = NULL;
				pgm_fail(call, "pagerduty.bad_answer", 1,
					 "PagerDuty answered %ld without a JSON status",
					 resp.status);
			} else {
				json_object_set_new(ans, "attempts", json_integer(tries));
			}
			pgm_http_response_free(&resp);
			break;
		}
		if (rc == 0 && resp.status == 400) {
			json_t *e = json_loadb(resp.body, resp.body_len, 0, NULL);
			json_t *errs = json_object_get(e, "errors");
			char *list = errs ? json_dumps(errs, JSON_COMPACT) : NULL;

			pgm_fail(call, "pagerduty.invalid_event", 0,
				 "PagerDuty refused the event: %s%s%s",
				 sget(e, "message") ? sget(e, "message") : "400 Bad Request",
				 list ? ": " : "", list ? list : "");
			free(list);
			json_decref(e);
			pgm_http_response_free(&resp);
			break;
		}
		again = rc == 0 ? (resp.status == 429 || resp.status >= 500)
				: pgm_error_retryable(call);
		if (rc == 0 && !again) {
			pgm_fail(call, "pagerduty.http", 0, "PagerDuty answered %ld", resp.status);
			pgm_http_response_free(&resp);
			break;
		}
		if (!again || tries >= attempts ||
		    (pgm_remaining_ms(call) >= 0 && pgm_remaining_ms(call) < delay)) {
			if (rc == 0) {
				pgm_fail(call,
					 resp.status == 429 ? "pagerduty.throttled"
							    : "pagerduty.http",
					 1, "PagerDuty answered %ld after %d attempt(s)",
					 resp.status, tries);
				pgm_http_response_free(&resp);
			}
			break;
		}
		pgm_info("PagerDuty: %s; attempt %d of %d in %lld ms",
			 rc == 0 ? (resp.status == 429 ? "throttled (429)" : "server error")
				 : pgm_error_message(call),
			 tries + 1, attempts, delay);
		if (rc == 0)
			pgm_http_response_free(&resp);
		else
			pgm_clear_error(call);
		if (pgm_sleep_ms(call, delay) != 0)
			break;
		delay = delay * 2 > 60000 ? 60000 : delay * 2;
	}
	free(url);
	free(body);
	return ans;
}

/* start_event - the routing key (checked) and the common arguments. */
static json_t *start_event(pgm_call *call, json_t *args, int *attempts, long long *timeout_ms)
{
	const char *rk = pgm_arg_string(call, args, "routing_key", NULL, 0);
	long long a = 5;

	if (pgm_failed(call))
		return NULL;
	if (!rk)
		return pgm_fail(call, "args.invalid", 0,
				"routing_key is required (in the call or the plugin's configuration)");
	pgm_secret_add(rk);
	if (strlen(rk) != ROUTING_KEY_LEN)
		return pgm_fail(call, "args.invalid", 0,
				"routing_key must be the 32-character integration key (this one "
				"has %zu)",
				strlen(rk));
	if (pgm_arg_int(call, args, "attempts", 5, 0, &a) != 0 ||
	    pgm_arg_duration_ms(call, args, "timeout", 10000, 0, timeout_ms) != 0)
		return NULL;
	if (a < 1 || a > 20)
		return pgm_fail(call, "args.invalid", 0, "attempts must be between 1 and 20");
	*attempts = (int)a;
	return json_pack("{s:s}", "routing_key", rk);
}

static json_t *alert(pgm_call *call, json_t *args, const char *action)
{
	const char *dk = pgm_arg_string(call, args, "dedup_key", NULL, 0);
	long long timeout_ms = 0;
	int attempts = 5;
	json_t *ev, *ans, *p;
	char *base;

	if (pgm_failed(call))
		return NULL;
	if ((ev = start_event(call, args, &attempts, &timeout_ms)) == NULL)
		return NULL;
	json_object_set_new(ev, "event_action", json_string(action));
	if (dk && (strlen(dk) == 0 || chars(dk) > MAX_DEDUP)) {
		json_decref(ev);
		return pgm_fail(call, "args.invalid", 0,
				"dedup_key must be 1 to %d characters (this one has %zu)",
				MAX_DEDUP, chars(dk));
	}
	if (!dk && strcmp(action, "trigger") != 0) {
		json_decref(ev);
		return pgm_fail(call, "args.invalid", 0,
				"%s needs the dedup_key the trigger used (or PagerDuty returned)",
				action);
	}
	if (dk)
		json_object_set_new(ev, "dedup_key", json_string(dk));
	if (strcmp(action, "trigger") == 0) {
		const char *sev = pgm_arg_string(call, args, "severity", "error", 0);

		p = json_object();
		json_object_set_new(ev, "payload", p);
		if (payload_common(call, args, p, 1) != 0 ||
		    copy_string(call, args, "component", p, 0) ||
		    copy_string(call, args, "group", p, 0) ||
		    copy_string(call, args, "class", p, 0) ||
		    copy_string(call, args, "client", ev, 0) ||
		    copy_string(call, args, "client_url", ev, 0) ||
		    links_images(call, args, ev, 1) != 0) {
			json_decref(ev);
			return NULL;
		}
		if (!sev || (strcmp(sev, "critical") && strcmp(sev, "error") &&
			     strcmp(sev, "warning") && strcmp(sev, "info"))) {
			json_decref(ev);
			return pgm_fail(call, "args.invalid", 0,
					"severity '%s': use critical, error, warning or info",
					sev ? sev : "");
		}
		json_object_set_new(p, "severity", json_string(sev));
	}
	if ((base = base_url(call, args)) == NULL) {
		json_decref(ev);
		return NULL;
	}
	ans = post_event(call, base, "/v2/enqueue", ev, attempts, timeout_ms);
	free(base);
	json_decref(ev);
	if (!ans)
		return NULL;
	pgm_info("PagerDuty %s accepted (dedup key %s)", action,
		 sget(ans, "dedup_key") ? sget(ans, "dedup_key")
		 : dk			? dk
					: "?");
	json_object_set_new(ans, "action", json_string(action));
	return ans;
}

/* drop_payload_defaults - takes out of a (with_config's) the trigger's
 * payload keys, and source when source_too: what a follow-up or a
 * change event does not have. */
static void drop_payload_defaults(json_t *a, int source_too)
{
	static const char *const keys[] = {"component", "group", "class", "severity", NULL};

	for (int i = 0; keys[i]; i++)
		json_object_del(a, keys[i]);
	if (source_too)
		json_object_del(a, "source");
}

/* configured_alert - alert() with the configuration's defaults. */
static json_t *configured_alert(pgm_call *call, json_t *args, const char *action)
{
	json_t *a = with_config(args), *res;

	if (strcmp(action, "trigger") != 0) /* only a trigger has a payload */
		drop_payload_defaults(a, 1);
	res = alert(call, a, action);
	json_decref(a);
	return res;
}

static json_t *fn_trigger(pgm_call *call, json_t *args)
{
	return configured_alert(call, args, "trigger");
}

static json_t *fn_acknowledge(pgm_call *call, json_t *args)
{
	return configured_alert(call, args, "acknowledge");
}

static json_t *fn_resolve(pgm_call *call, json_t *args)
{
	return configured_alert(call, args, "resolve");
}

static json_t *change(pgm_call *call, json_t *args);

/* fn_change - change() with the configuration's defaults (those a change
 * event has: the endpoint, key, attempts, timeout and source). */
static json_t *fn_change(pgm_call *call, json_t *args)
{
	json_t *a = with_config(args), *res;

	drop_payload_defaults(a, 0);
	res = change(call, a);
	json_decref(a);
	return res;
}

/* change - a change event on the service's timeline. */
static json_t *change(pgm_call *call, json_t *args)
{
	long long timeout_ms = 0;
	int attempts = 5;
	json_t *ev, *p, *ans;
	char *base;

	if ((ev = start_event(call, args, &attempts, &timeout_ms)) == NULL)
		return NULL;
	p = json_object();
	json_object_set_new(ev, "payload", p);
	if (payload_common(call, args, p, 0) != 0 || links_images(call, args, ev, 0) != 0 ||
	    (base = base_url(call, args)) == NULL) {
		json_decref(ev);
		return NULL;
	}
	ans = post_event(call, base, "/v2/change/enqueue", ev, attempts, timeout_ms);
	free(base);
	json_decref(ev);
	return ans;
}

#define COMMON_PARAMS                                                                              \
	{"routing_key", "string", 0, 1,                                                            \
	 "the service's 32-character integration key (required here or in the configuration)"},   \
		{"url", "string", 0, 0,                                                            \
		 "events endpoint (default: the configuration's, $PAGERDUTY_EVENTS_URL or "        \
		 "https://events.pagerduty.com)"},                                                 \
		{"attempts", "integer", 0, 0, "attempts on 429, 5xx and network errors (5)", NULL, \
		 "1", "20"},                                                                       \
	{                                                                                          \
		"timeout", "duration", 0, 0, "per attempt (10s)"                                   \
	}

static const char *const severities[] = {"critical", "error", "warning", "info", NULL};

static const pgm_param trigger_params[] = {
	COMMON_PARAMS,
	{"dedup_key", "string", 0, 0, "correlates trigger, acknowledge and resolve (<= 255)"},
	{"summary", "string", 1, 0, "the alert's title (<= 1024)"},
	{"source", "string", 0, 0,
	 "the affected system (host name, cluster id); required here or in the configuration"},
	{"severity", "string", 0, 0, "critical, error (default), warning or info", NULL, NULL, NULL,
	 severities},
	{"timestamp", "string", 0, 0, "ISO 8601 (default now)"},
	{"component", "string", 0, 0, "the broken part (\"replication\")"},
	{"group", "string", 0, 0, "a grouping of sources (\"aurora-migration\")"},
	{"class", "string", 0, 0, "the type of event (\"replication lag\")"},
	{"custom_details", "object", 0, 0, "free-form details"},
	{"links", "array", 0, 0, "[{href=, text=}]"},
	{"images", "array", 0, 0, "[{src= (https), href=, alt=}]"},
	{"client", "string", 0, 0, "the monitoring client's name"},
	{"client_url", "string", 0, 0, "the monitoring client's URL"},
	{NULL, NULL, 0, 0, NULL}};

static const pgm_param followup_params[] = {COMMON_PARAMS,
					    {"dedup_key", "string", 1, 0, "the key of the alert"},
					    {NULL, NULL, 0, 0, NULL}};

static const pgm_param change_params[] = {COMMON_PARAMS,
					  {"summary", "string", 1, 0, "what changed (<= 1024)"},
					  {"source", "string", 0, 0, "where it changed"},
					  {"timestamp", "string", 0, 0, "ISO 8601 (default now)"},
					  {"custom_details", "object", 0, 0, "free-form details"},
					  {"links", "array", 0, 0, "[{href=, text=}]"},
					  {NULL, NULL, 0, 0, NULL}};

static const pgm_function pagerduty_functions[] = {
	{.name = "trigger",
	 .fn = fn_trigger,
	 .flags = PGM_FN_IDEMPOTENT,
	 .summary = "open (or add to) the alert of a dedup key",
	 .params = trigger_params},
	{.name = "acknowledge",
	 .fn = fn_acknowledge,
	 .flags = PGM_FN_IDEMPOTENT,
	 .summary = "acknowledge the alert of a dedup key",
	 .params = followup_params},
	{.name = "resolve",
	 .fn = fn_resolve,
	 .flags = PGM_FN_IDEMPOTENT,
	 .summary = "resolve the alert of a dedup key",
	 .params = followup_params},
	{.name = "change",
	 .fn = fn_change,
	 .flags = 0,
	 .summary = "a change event on the service's timeline",
	 .params = change_params},
	{.name = NULL}};

/* The keys of `plugin "pagerduty" { ... }`: defaults for every call. */
static const pgm_param config_params[] = {
	{"url", "string", 0, 0, "events endpoint (default $PAGERDUTY_EVENTS_URL or PagerDuty's)"},
	{"routing_key", "string", 0, 1, "the integration key every call uses unless it gives one"},
	{"source", "string", 0, 0, "a trigger's and a change event's default source"},
	{"component", "string", 0, 0, "a trigger's default component"},
	{"group", "string", 0, 0, "a trigger's default group"},
	{"class", "string", 0, 0, "a trigger's default class"},
	{"severity", "string", 0, 0, "a trigger's default severity (error)", NULL, NULL, NULL,
	 severities},
	{"attempts", "integer", 0, 0, "attempts on 429, 5xx and network errors (5)", NULL, "1",
	 "20"},
	{"timeout", "duration", 0, 0, "per attempt (10s)", NULL, "1s", "10m"},
	{NULL, NULL, 0, 0, NULL}};

/* pagerduty_configure - keeps the run's configuration (the host checked it
 * against config_params) after checking what the table cannot: the key's
 * length and the endpoint's form. */
static int pagerduty_configure(pgm_call *call, json_t *cfg)
{
	const char *rk = sget(cfg, "routing_key");
	char *base;

	if (rk && strlen(rk) != ROUTING_KEY_LEN) {
		pgm_fail(call, "args.invalid", 0,
			 "routing_key must be the 32-character integration key (this one has %zu)",
			 strlen(rk));
		return -1;
	}
	if (sget(cfg, "url")) {
		if ((base = base_url(call, cfg)) == NULL)
			return -1;
		free(base);
	}
	json_decref(config);
	config = json_deep_copy(cfg);
	return 0;
}

static void pagerduty_fini(void)
{
	json_decref(config);
	config = NULL;
}

PGMOVE_PLUGIN(pagerduty) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "pagerduty",
	.version = "1.0.0",
	.summary = "PagerDuty Events API v2: alerts with dedup keys, change events",
	.init = NULL,
	.fini = pagerduty_fini,
	.functions = pagerduty_functions,
	.configure = pagerduty_configure,
	.config = config_params,
};
