/*
 * core/host/log.c - the logger and the progress line. Lines go to stderr (or a
 * test sink): plain "2026-11-21T07:04:05.123Z INFO  context: message" on a
 * pipe, a coloured level on a terminal, JSON lines when configured. Every
 * line is redacted. One mutex keeps lines whole across threads.
 */
#define _GNU_SOURCE
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hostpriv.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pgm_log_format log_format = PGM_LOG_FORMAT_AUTO;
static pgm_log_level log_min = PGM_LOG_INFO;
static char *log_context;
static pgm_log_sink_fn log_sink;
static void *log_sink_user;
static pgm_progress_fn progress_sink;
static void *progress_sink_user;
static int progress_shown;         /* a progress line is on the terminal */
static long long progress_drawn_ms; /* last redraw                       */
static long long progress_host_ms;  /* throttle for calls that are NULL  */

static const char *const level_names[] = {"DEBUG", "INFO", "NOTICE", "WARN", "ERROR"};
static const char *const level_json[] = {"debug", "info", "notice", "warning", "error"};
static const char *const level_colours[] = {"\033[2m", "\033[32m", "\033[36m",
					    "\033[33m", "\033[1;31m"};

void pgm_log_setup(pgm_log_format format, pgm_log_level min_level)
{
	pthread_mutex_lock(&log_lock);
	log_format = format;
	log_min = min_level;
	pthread_mutex_unlock(&log_lock);
}

void pgm_log_set_context(const char *context)
{
	char *copy = context ? strdup(context) : NULL;

	pthread_mutex_lock(&log_lock);
	free(log_context);
	log_context = copy;
	pthread_mutex_unlock(&log_lock);
}

void pgm_log_set_sink(pgm_log_sink_fn fn, void *user)
{
	pthread_mutex_lock(&log_lock);
	log_sink = fn;
	log_sink_user = user;
	pthread_mutex_unlock(&log_lock);
}

void pgm_progress_set_sink(pgm_progress_fn fn, void *user)
{
	pthread_mutex_lock(&log_lock);
	progress_sink = fn;
	progress_sink_user = user;
	pthread_mutex_unlock(&log_lock);
}

int pgm_log_enabled(pgm_log_level level)
{
	return level >= log_min;
}

/* on_terminal - colour and the redrawn progress line: stderr is a
 * terminal, the format is AUTO, and NO_COLOR / TERM=dumb do not say no. */
static int on_terminal(void)
{
	const char *term = getenv("TERM");

	return log_format == PGM_LOG_FORMAT_AUTO && log_sink == NULL && isatty(2) &&
	       getenv("NO_COLOR") == NULL && !(term && strcmp(term, "dumb") == 0);
}

static void clear_progress_locked(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = 0;
	}
}

void pgm_progress_clear(void)
{
	pthread_mutex_lock(&log_lock);
	clear_progress_locked();
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

static void timestamp(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(tv.tv_usec / 1000));
}

/* emit_locked - formats one redacted message and writes it. */
static void emit_locked(pgm_log_level level, const char *msg)
{
	char ts[80];
	char *line = NULL;
	int n;

	if (level < PGM_LOG_DEBUG || level > PGM_LOG_ERROR)
		level = PGM_LOG_ERROR;
	timestamp(ts, sizeof(ts));
	if (log_format == PGM_LOG_FORMAT_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:s?, s:s}", "ts", ts, "level",
				      level_json[level], "context", log_context,
				      "msg", msg);

		line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
		json_decref(o);
		if (line == NULL)
			return;
	} else if (on_terminal()) {
		n = asprintf(&line, "%.8s %s%-5s\033[0m %s%s%s", ts + 11,
			     level_colours[level], level_names[level],
			     log_context ? log_context : "", log_context ? ": " : "", msg);
		if (n < 0)
			return;
	} else {
		n = asprintf(&line, "%s %-5s %s%s%s", ts, level_names[level],
			     log_context ? log_context : "", log_context ? ": " : "", msg);
		if (n < 0)
			return;
	}
	if (log_sink) {
		log_sink(log_sink_user, level, line);
	} else {
		clear_progress_locked();
		fputs(line, stderr);
		fputc('\n', stderr);
		fflush(stderr);
	}
	free(line);
}

/* pgm_logv - one line at level, redacted, when the level is enabled. */
void pgm_logv(pgm_log_level level, const char *fmt, va_list ap)
{
	char *raw = NULL, *msg;
	size_t len;

	if (!pgm_log_enabled(level))
		return;
	if (fmt == NULL)
		raw = strdup("");
	else if (vasprintf(&raw, fmt, ap) < 0)
		raw = NULL;
	if (raw == NULL)
		return;
	len = strlen(raw);
	while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
		raw[--len] = '\0';
	msg = pgm_redact(raw);
	free(raw);
	pthread_mutex_lock(&log_lock);
	emit_locked(level, msg ? msg : "");
	pthread_mutex_unlock(&log_lock);
	free(msg);
}

void pgm_log(pgm_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgm_logv(level, fmt, ap);
	va_end(ap);
}

/* human - a quantity for people: bytes in KiB/MiB/GiB, others as they are. */
static void human(char *buf, size_t len, double v, const char *unit)
{
	static const char *const bin[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

	if (unit && strcmp(unit, "bytes") == 0) {
		int i = 0;

		while (v >= 1024 && i < 5) {
			v /= 1024;
			i++;
		}
		snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, bin[i]);
	} else if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
		snprintf(buf, len, "%.0f%s%s", v, unit ? " " : "", unit ? unit : "");
	} else {
		snprintf(buf, len, "%.2f%s%s", v, unit ? " " : "", unit ? unit : "");
	}
}

/* progress_text - "who: label 1.2 GiB of 4.0 GiB (30%)". Caller frees. */
static char *progress_text(const char *who, double done, double total,
			   const char *unit, const char *label)
{
	char d[64], t[64], pct[32] = "";
	char *s = NULL;

	human(d, sizeof(d), done, unit);
	if (total > 0) {
		human(t, sizeof(t), total, unit);
		snprintf(pct, sizeof(pct), " (%.0f%%)", 100.0 * done / total);
	}
	if (asprintf(&s, "%s%s%s%s%s%s%s", who, *who ? ": " : "", label ? label : "",
		     label && *label ? " " : "", d, total > 0 ? " of " : "",
		     total > 0 ? t : "") < 0)
		return NULL;
	if (*pct) {
		char *s2 = NULL;

		if (asprintf(&s2, "%s%s", s, pct) < 0) {
			free(s);
			return NULL;
		}
		free(s);
		s = s2;
	}
	return s;
}

/* pgm_progress - to the sink when one is set; on a terminal a redrawn line
 * (at most 10 redraws a second); elsewhere an INFO line at most every 5 s
 * per call. */
void pgm_progress(pgm_call *call, double done, double total,
		  const char *unit, const char *label)
{
	const char *who = pgm_call_name(call);
	long long now = pgm_now_ms();
	char *text, *red;
	long long *last;

	pthread_mutex_lock(&log_lock);
	if (progress_sink) {
		pgm_progress_fn fn = progress_sink;
		void *user = progress_sink_user;

		pthread_mutex_unlock(&log_lock);
		fn(user, who, done, total, unit, label);
		return;
	}
	if (on_terminal()) {
		if (progress_shown && now - progress_drawn_ms < 100 && done < total) {
			pthread_mutex_unlock(&log_lock);
			return;
		}
		text = progress_text(who, done, total, unit, label);
		red = text ? pgm_redact(text) : NULL;
		if (red) {
			fprintf(stderr, "\r\033[K%.*s", 200, red);
			fflush(stderr);
			progress_shown = 1;
			progress_drawn_ms = now;
		}
		free(text);
		free(red);
		pthread_mutex_unlock(&log_lock);
		return;
	}
	last = call ? &call->progress_ms : &progress_host_ms;
	if (now - *last < 5000) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	*last = now;
	pthread_mutex_unlock(&log_lock);
	text = progress_text(who, done, total, unit, label);
	if (text)
		pgm_log(PGM_LOG_INFO, "progress: %s", text);
	free(text);
}
