/*
 * core/engine/journal.h - the run's durable journal and its lock.
 *
 * A run directory (0700) holds journal.jsonl: one JSON event per line,
 * appended and fsync'd before the engine acts on it, and `lock`, held with
 * flock() by the one process working on the run. State is derived by
 * replaying the events in order.
 */
#ifndef PGMOVE_CORE_JOURNAL_H
#define PGMOVE_CORE_JOURNAL_H

#include <stddef.h>
#include <jansson.h>

/* The journal format version written in every event as "v". A journal with
 * a larger "v" was written by a newer pgmove and is refused. */
#define PGMOVE_JOURNAL_VERSION 1

typedef struct journal journal;

/* journal_open - creates dir (0700, parents too) if needed, takes the run
 * lock without waiting, and opens dir/journal.jsonl for appending (0600).
 * A torn last line (no newline at the end, left by a crash) is moved aside
 * to dir/journal.torn.<n> and cut from the journal, so nothing is lost and
 * the next event starts on its own line; *torn (may be NULL) is set to 1.
 * When another process holds the lock, fails at once with a message naming
 * its pid ("run directory X is in use by pgmove pid 1234 since ..."). On
 * failure returns NULL and writes the reason into err. */
journal *journal_open(const char *dir, int *torn, char *err, size_t errlen);
/* journal_open_run - journal_open that also tells why it failed: *busy
 * (may be NULL) is set to 1 when another process held the lock, whether
 * or not that process still holds it by the time the caller looks (so the
 * loser of a race always learns it lost). */
journal *journal_open_run(const char *dir, int *torn, int *busy, char *err, size_t errlen);

/* journal_append - adds "v", "seq" (1, 2, ... continuing the file) and "ts"
 * (UTC, RFC 3339 with milliseconds) to a redacted copy of event, writes it
 * as one line and fsyncs. event is borrowed. 0, or -1 after logging. */
int journal_append(journal *j, const json_t *event);
/* journal_set_fsync - 0 stops journal_append fsyncing each event (for
 * pgmove test, whose journal is in a temporary directory); default 1. */
void journal_set_fsync(int on);

/* journal_move - renames j's run directory to newdir (same file system)
 * and fsyncs newdir's parent; j keeps its lock and goes on appending there.
 * Fails (errno EEXIST or ENOTEMPTY) when newdir is a directory that is not
 * empty. 0 or -1 with errno set. */
int journal_move(journal *j, const char *newdir);

/* journal_append_signal_safe - appends one event from a signal handler
 * (a plugin's crash): {"v", "seq", "ts", then members, then extra}, where
 * members and extra are JSON object members without braces, prepared
 * (escaped) beforehand ('"ev":"plugin.crashed","node":"copy"'). Uses only
 * write() and fsync(). 0, or -1 (nothing is logged). Never call it while
 * journal_append runs. */
int journal_append_signal_safe(journal *j, const char *members, const char *extra);

/* journal_seq - the seq of the last event in the journal (0 when empty). */
long long journal_seq(const journal *j);
/* journal_last_ts - the "ts" of the last event this handle appended. */
const char *journal_last_ts(const journal *j);
/* journal_size - the offset after the last complete event (bytes). */
long long journal_size(const journal *j);
/* journal_dir - the run directory. */
const char *journal_dir(const journal *j);
/* journal_close - releases the lock and frees; NULL is fine. */
void journal_close(journal *j);

/* journal_replay_fn - called with each event in order; event is borrowed
 * and freed after the call. Return 0 to go on, nonzero to stop. */
typedef int (*journal_replay_fn)(void *user, json_t *event);

/* journal_replay - reads dir/journal.jsonl without taking the lock (status
 * and report read a running run) and calls fn for each event, streaming:
 * memory does not grow with the journal. A torn last line is skipped and
 * *torn (may be NULL) set to 1. A bad line that is not the last one, or an
 * event with "v" above PGMOVE_JOURNAL_VERSION ("journal ... line 12 was
 * written by a newer pgmove (format 2; this one reads 1)"), is an error.
 * Every event's "seq" must be its line number (1, 2, 3 ...): a gap, a
 * repeat or disorder is an error naming the line. Only a regular file is
 * read (a FIFO is refused, never waited on), and a line longer than
 * JOURNAL_MAX_LINE is an error.
 * Returns the number of events read, or -1 with the reason in err. */
long long journal_replay(const char *dir, journal_replay_fn fn, void *user,
			 int *torn, char *err, size_t errlen);

/* journal_replay_from - journal_replay starting at byte offset, which must
 * be the start of a line (an offset journal_size or *end reported). *end
 * (may be NULL) is set to the offset after the last event read. */
long long journal_replay_from(const char *dir, long long offset, journal_replay_fn fn,
			      void *user, long long *end, int *torn, char *err, size_t errlen);

/* JOURNAL_MAX_LINE - the longest event line replay reads (256 MB); a
 * longer line is corruption, never a reason to grow memory without end. */
#define JOURNAL_MAX_LINE ((size_t)256 << 20)
/* journal_set_max_line - changes that bound (0: back to the default), for tests. */
void journal_set_max_line(size_t bytes);

/* journal_lock_holder - the pid holding dir's lock, 0 when none. */
long journal_lock_holder(const char *dir);

#endif
