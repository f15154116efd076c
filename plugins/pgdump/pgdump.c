/*
 * plugins/pgdump/pgdump.c - the pgdump plugin: pg_dump and pg_restore as
 * child processes (pgm_child_run), for the pg_dump/pg_restore migration
 * path of the seeds (checklist 000 sections 5-6, 003's proof of concept).
 *
 * - dump: schema-only, data-only or full; custom, directory, tar or plain;
 *   parallel jobs (directory format), compression, include/exclude tables
 *   and schemas, no-owner, no-privileges.
 * - restore: sections (pre-data, data, post-data), parallel jobs,
 *   exit-on-error, single-transaction, no-owner, no-privileges.
 * - list: the archive's table of contents, counted by kind.
 * - clean: removes what restoring an archive created (its objects, or only
 *   the rows of its tables): the undo of restore.
 * - check: which pg_dump would be used against a server, and whether it
 *   is new enough.
 *
 * Passwords never reach a child's argv nor a file: the password is cut out
 * of the connection string and handed over as PGPASSWORD in the
 * environment of that child alone (pgm_child_run gives a child an explicit
 * environment without pgmove's PGMOVE_* variables).
 * A pg_dump older than the server is refused before it runs, with both
 * versions in the message; a newer one under /usr/lib/postgresql/N/bin is
 * used when PATH's is too old. Progress comes from --verbose output;
 * failure carries the exit status and the tail of stderr.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgmove/plugin.h"

#define PGDUMP_APP "pgdump"

/* ------------------------------------------------------------------------
 * argv building
 * ---------------------------------------------------------------------- */

typedef struct strv {
	char **v;
	size_t n, cap;
	int oom;
} strv;

static void sv_add(strv *s, const char *str)
{
	char *c;

	if (s->oom)
		return;
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **nv = realloc(s->v, cap * sizeof(char *));

		if (nv == NULL) {
			s->oom = 1;
			return;
		}
		s->v = nv;
		s->cap = cap;
	}
	c = strdup(str);
	if (c == NULL) {
		s->oom = 1;
		return;
	}
	s->v[s->n++] = c;
	s->v[s->n] = NULL;
}

static void sv_addf(strv *s, const char *fmt, ...) PGM_PRINTF(2, 3);
static void sv_addf(strv *s, const char *fmt, ...)
{
	char *str = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&str, fmt, ap);
	va_end(ap);
	if (r < 0) {
		s->oom = 1;
		return;
	}
	sv_add(s, str);
	free(str);
}

static void sv_free(strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------------
 * Connection strings and password files
 * ---------------------------------------------------------------------- */

typedef struct conn {
	char *dbname;   /* the connection string without the password (for argv) */
	char *env[2];   /* "PGPASSWORD=..." (or NULL) and NULL, for the child's env */
} conn;

static void conn_free(conn *c)
{
	if (c->env[0] != NULL)
		memset(c->env[0], 0, strlen(c->env[0]));
	free(c->dbname);
	free(c->env[0]);
	memset(c, 0, sizeof(*c));
}

/* conninfo_error - libpq's parse error without the pieces of the string it
 * quotes ("missing "=" after "7f3Q-pass""): an unparsable string's
 * password is not registered as a secret. Caller frees. */
static char *conninfo_error(const char *msg)
{
	char *out = pgm_redact(msg ? msg : "out of memory");
	char *r, *w;

	if (out == NULL)
		return NULL;
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
		*w++ = *r == '\n' ? ' ' : *r;
		r++;
	}
	*w = '\0';
	while (w > out && w[-1] == ' ')
		*--w = '\0';
	return out;
}

/* conn_prepare - splits conninfo into a password-free connection string
 * for the child's --dbname and, when it holds a password, PGPASSWORD for
 * the child's environment. -1 with the error set. */
static int conn_prepare(pgm_call *call, const char *conninfo, conn *c)
{
	char *err = NULL, *buf = NULL, *pw = NULL;
	size_t len = 0;
	PQconninfoOption *opts, *o;
	FILE *f;
	int first = 1;

	memset(c, 0, sizeof(*c));
	pgm_secret_add_conninfo(conninfo);
	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL) {
		char *m = conninfo_error(err);

		pgm_fail(call, "args.invalid", 0, "invalid connection string: %s",
			 m ? m : "out of memory");
		free(m);
		PQfreemem(err);
		return -1;
	}
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		PQconninfoFree(opts);
		pgm_fail(call, "pgmove.nomem", 0, "out of memory");
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++) {
		const char *p;

		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			free(pw);
			pw = strdup(o->val);
			continue;
		}
		fprintf(f, "%s%s='", first ? "" : " ", o->keyword);
		for (p = o->val; *p; p++) {
			if (*p == '\'' || *p == '\\')
				fputc('\\', f);
			fputc(*p, f);
		}
		fputc('\'', f);
		first = 0;
	}
	PQconninfoFree(opts);
	if (fclose(f) != 0) {
		free(buf);
		free(pw);
		pgm_fail(call, "pgmove.nomem", 0, "out of memory");
		return -1;
	}
	c->dbname = buf;
	if (pw != NULL) {
		int r = asprintf(&c->env[0], "PGPASSWORD=%s", pw);

		memset(pw, 0, strlen(pw));
		free(pw);
		if (r < 0) {
			c->env[0] = NULL;
			pgm_fail(call, "pgmove.nomem", 0, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Tools and versions
 * ---------------------------------------------------------------------- */

typedef struct version_capture {
	char line[256];
} version_capture;

static void capture_first(void *user, int is_stderr, const char *line)
{
	version_capture *vc = user;

	if (!is_stderr && vc->line[0] == '\0')
		snprintf(vc->line, sizeof(vc->line), "%s", line);
}

/* tool_version - runs `path --version`; sets *major (e.g. 15) and the
 * version text ("15.14"). -1 with the error set. */
static int tool_version(pgm_call *call, const char *path, int *major, char *text, size_t textlen)
{
	const char *argv[] = { path, "--version", NULL };
	pgm_child_spec spec = { .argv = argv, .line_fn = capture_first };
	pgm_child_result res;
	version_capture vc;
	const char *p;

	vc.line[0] = '\0';
	spec.user = &vc;
	if (pgm_child_run(call, &spec, &res) < 0)
		return -1;
	if (!res.exited || res.status != 0) {
		pgm_fail(call, "pgdump.tool", 0, "%s --version failed (status %d)", path, res.status);
		pgm_child_result_free(&res);
		return -1;
	}
	pgm_child_result_free(&res);
	/* "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)" */
	p = strstr(vc.line, ") ");
	p = p ? p + 2 : vc.line;
	while (*p && !isdigit((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p)) {
		pgm_fail(call, "pgdump.tool", 0, "%s: cannot read the version from \"%s\"", path,
			 vc.line);
		return -1;
	}
	*major = atoi(p);
	snprintf(text, textlen, "%.*s", (int)strcspn(p, " "), p);
	return 0;
}

typedef struct tool {
	char *path;
	int major;
	char version[64];
} tool;

/* find_tool - the pg_dump / pg_restore to run: bindir/NAME when bindir is
 * given, else NAME from PATH, else the newest /usr/lib/postgresql/N/bin/NAME;
 * with need_major > 0 it must be at least that major version (a pg_dump
 * older than the server cannot dump it). -1 with the error set. */
static int find_tool(pgm_call *call, const char *name, const char *bindir, int need_major,
		     const char *server_version, tool *t)
{
	char *cand = NULL;
	glob_t g;
	size_t i;
	int best = -1, have_path;

	memset(t, 0, sizeof(*t));
	if (bindir != NULL) {
		if (asprintf(&cand, "%s/%s", bindir, name) < 0)
			return pgm_fail(call, "pgmove.nomem", 0, "out of memory"), -1;
		if (tool_version(call, cand, &t->major, t->version, sizeof(t->version)) < 0) {
			free(cand);
			return -1;
		}
		t->path = cand;
	} else {
		have_path = tool_version(call, name, &t->major, t->version, sizeof(t->version)) == 0;
		if (!have_path)
			pgm_clear_error(call);
		else
			t->path = strdup(name);
		if (!have_path || (need_major > 0 && t->major < need_major)) {
			/* Look for a newer one where Debian/Ubuntu install them. */
			memset(&g, 0, sizeof(g));
			if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0) {
				for (i = 0; i < g.gl_pathc; i++) {
					const char *v = g.gl_pathv[i] + strlen("/usr/lib/postgresql/");
					int m = atoi(v);

					if (m > best)
						best = m;
				}
			}
			globfree(&g);
			if (best > 0 && (!have_path || best > t->major)) {
				tool nt;

				memset(&nt, 0, sizeof(nt));
				if (asprintf(&cand, "/usr/lib/postgresql/%d/bin/%s", best, name) >= 0 &&
				    tool_version(call, cand, &nt.major, nt.version, sizeof(nt.version)) == 0) {
					free(t->path);
					*t = nt;
					t->path = cand;
					cand = NULL;
					have_path = 1;
				} else {
					pgm_clear_error(call);
				}
				free(cand);
			}
		}
		if (!have_path || t->path == NULL) {
			pgm_fail(call, "pgdump.tool", 0,
				 "%s not found in PATH or /usr/lib/postgresql/*/bin (install the "
				 "PostgreSQL client tools, or pass bindir)",
				 name);
			return -1;
		}
	}
	if (need_major > 0 && t->major < need_major) {
		pgm_fail(call, "pgdump.version", 0,
			 "%s %s (%s) is older than the server (PostgreSQL %s): it cannot dump it; "
			 "install PostgreSQL %d client tools or pass bindir",
			 name, t->version, t->path, server_version, need_major);
		free(t->path);
		t->path = NULL;
		return -1;
	}
	return 0;
}

/* server_version - connects once (checking the connection string and the
 * password early) and reads the server's version. */
static int server_version(pgm_call *call, const char *conninfo, int *major, char *text,
			  size_t textlen)
{
	pgm_pg *pg = pgm_pg_connect(call, conninfo, PGDUMP_APP);
	PGresult *res;

	if (pg == NULL)
		return -1;
	res = pgm_pg_exec(call, pg,
			  "SELECT current_setting('server_version_num')::int / 10000, "
			  "current_setting('server_version')",
			  0, NULL);
	if (res == NULL) {
		pgm_pg_close(pg);
		return -1;
	}
	*major = atoi(PQgetvalue(res, 0, 0));
	snprintf(text, textlen, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	pgm_pg_close(pg);
	return 0;
}

/* ------------------------------------------------------------------------
 * Running a tool
 * ---------------------------------------------------------------------- */

typedef struct run_state {
	pgm_call *call;
	const char *what;  /* "pg_dump" / "pg_restore" */
	long long done;    /* items finished          */
	long long total;   /* items expected, 0 unknown */
	long long errors;  /* "error:" lines          */
	long long tables;  /* table data items seen   */
	FILE *out;         /* stdout lines, or NULL   */
} run_state;

/* on_line - progress from --verbose lines:
 *   pg_dump: dumping contents of table "public.users"
 *   pg_restore: processing data for table "public.users"
 *   pg_restore: creating TABLE "public.users"
 *   pg_restore: finished item 3340 TABLE DATA users */
static void on_line(void *user, int is_stderr, const char *line)
{
	run_state *st = user;
	const char *m, *label = NULL;

	if (!is_stderr) {
		if (st->out != NULL)
			fprintf(st->out, "%s\n", line);
		return;
	}
	if (strstr(line, " error: ") != NULL || strncmp(line, "error: ", 7) == 0) {
		st->errors++; /* in the failure's stderr tail, or counted when ignored */
		pgm_debug("%s", line);
		return;
	}
	if ((m = strstr(line, "dumping contents of table ")) != NULL ||
	    (m = strstr(line, "processing data for table ")) != NULL) {
		st->tables++;
		st->done++;
		label = strchr(m, '"');
	} else if ((m = strstr(line, ": creating ")) != NULL) {
		st->done++;
		label = m + 11;
	} else if ((m = strstr(line, "finished item ")) != NULL) {
		label = m + 14;
	}
	if (label != NULL) {
		pgm_progress(st->call, (double)st->done,
			     st->total > st->done ? (double)st->total : 0, "items", label);
		pgm_debug("%s", line);
	}
}

/* run_tool - runs argv with the password file in the environment; fails
 * the call with the exit status and the tail of stderr when it fails. */
static int run_tool(pgm_call *call, const strv *argv, const conn *c, run_state *st)
{
	pgm_child_spec spec = { .argv = (const char *const *)argv->v,
				.env = c->env[0] ? (const char *const *)c->env : NULL,
				.line_fn = on_line,
				.user = st };
	pgm_child_result res;
	int rc = 0;

	if (argv->oom)
		return pgm_fail(call, "pgmove.nomem", 0, "out of memory"), -1;
	/* pgm_child_run has the kernel stop the child if pgmove dies */
	rc = pgm_child_run(call, &spec, &res);
	if (rc < 0)
		return -1;
	if (!res.exited || res.status != 0) {
		const char *tail = res.stderr_tail ? res.stderr_tail : "";
		int retry = strstr(tail, "could not connect") != NULL ||
			    strstr(tail, "server closed the connection") != NULL ||
			    strstr(tail, "connection to server") != NULL;

		if (res.exited)
			pgm_fail(call, "pgdump.exit", retry, "%s exited with status %d: %s", st->what,
				 res.status, tail);
		else
			pgm_fail(call, "pgdump.signal", 1, "%s was killed by signal %d: %s", st->what,
				 res.status, tail);
		rc = -1;
	}
	pgm_child_result_free(&res);
	return rc;
}

/* ------------------------------------------------------------------------
 * Argument helpers
 * ---------------------------------------------------------------------- */

/* add_list - "--opt=value" for each string of args[name]. */
static int add_list(pgm_call *call, json_t *args, const char *name, const char *opt, strv *argv)
{
	json_t *v = json_object_get(args, name), *e;
	size_t i;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		sv_addf(argv, "%s=%s", opt, json_string_value(v));
		return 0;
	}
	if (!json_is_array(v)) {
		pgm_fail(call, "args.invalid", 0, "argument \"%s\" must be an array of names", name);
		return -1;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e)) {
			pgm_fail(call, "args.invalid", 0, "argument \"%s\": element %zu is not a string",
				 name, i + 1);
			return -1;
		}
		sv_addf(argv, "%s=%s", opt, json_string_value(e));
	}
	return 0;
}

/* add_flag - opt when the boolean args[name] is true. */
static int add_flag(pgm_call *call, json_t *args, const char *name, int dflt, const char *opt,
		    strv *argv, int *out)
{
	int b;

	if (pgm_arg_bool(call, args, name, dflt, &b) < 0)
		return -1;
	if (b)
		sv_add(argv, opt);
	if (out)
		*out = b;
	return 0;
}

static int content_arg(pgm_call *call, json_t *args, const char **content)
{
	*content = pgm_arg_string(call, args, "content", "all", 0);
	if (*content == NULL)
		return -1;
	if (strcmp(*content, "all") != 0 && strcmp(*content, "schema") != 0 &&
	    strcmp(*content, "data") != 0) {
		pgm_fail(call, "args.invalid", 0,
			 "argument \"content\" must be \"all\", \"schema\" or \"data\"");
		return -1;
	}
	return 0;
}

static long long path_size(const char *path)
{
	struct stat st;
	glob_t g;
	long long total = 0;
	size_t i;
	char *pat = NULL;

	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return (long long)st.st_size;
	if (asprintf(&pat, "%s/*", path) < 0)
		return -1;
	memset(&g, 0, sizeof(g));
	if (glob(pat, 0, NULL, &g) == 0)
		for (i = 0; i < g.gl_pathc; i++)
			if (stat(g.gl_pathv[i], &st) == 0)
				total += (long long)st.st_size;
	globfree(&g);
	free(pat);
	return total;
}

/* make_parents - creates the missing parent directories of path (0700). */
static int make_parents(pgm_call *call, const char *path)
{
	char *copy = strdup(path), *p;

	if (copy == NULL)
		return pgm_fail(call, "pgmove.nomem", 0, "out of memory"), -1;
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
			pgm_fail(call, "pgdump.file", 0, "cannot create directory %s: %s", copy,
				 strerror(errno));
			free(copy);
			return -1;
		}
		*p = '/';
	}
	free(copy);
	return 0;
}

/* ------------------------------------------------------------------------
 * dump
 * ---------------------------------------------------------------------- */

static const char *format_letter(const char *format)
{
	if (strcmp(format, "custom") == 0)
		return "c";
	if (strcmp(format, "directory") == 0)
		return "d";
	if (strcmp(format, "tar") == 0)
		return "t";
	if (strcmp(format, "plain") == 0)
		return "p";
	return NULL;
}

/* fn_dump - pg_dump of one database into file. */
static json_t *fn_dump(pgm_call *call, json_t *args)
{
	const char *conninfo = pgm_arg_string(call, args, "conninfo", NULL, 1);
	const char *file = pgm_arg_string(call, args, "file", NULL, 1);
	const char *format, *content, *bindir, *letter;
	json_t *compress = json_object_get(args, "compress"), *out = NULL;
	long long jobs;
	int smajor = 0;
	char sversion[64];
	conn c;
	tool t;
	strv argv = { 0 };
	run_state st = { .call = call, .what = "pg_dump" };
	long long t0 = pgm_now_ms();

	memset(&c, 0, sizeof(c));
	memset(&t, 0, sizeof(t));
	if (conninfo == NULL || file == NULL)
		return NULL;
	format = pgm_arg_string(call, args, "format", "custom", 0);
	bindir = pgm_arg_string(call, args, "bindir", NULL, 0);
	if (format == NULL || pgm_failed(call) || content_arg(call, args, &content) < 0 ||
	    pgm_arg_int(call, args, "jobs", 1, 0, &jobs) < 0)
		return NULL;
	letter = format_letter(format);
	if (letter == NULL)
		return pgm_fail(call, "args.invalid", 0,
				"argument \"format\" must be custom, directory, tar or plain");
	if (jobs < 1 || jobs > 128)
		return pgm_fail(call, "args.invalid", 0, "argument \"jobs\" must be 1..128");
	if (jobs > 1 && strcmp(format, "directory") != 0)
		return pgm_fail(call, "args.invalid", 0,
				"jobs > 1 needs format \"directory\" (pg_dump dumps in parallel only "
				"into a directory)");
	if (server_version(call, conninfo, &smajor, sversion, sizeof(sversion)) < 0 ||
	    find_tool(call, "pg_dump", bindir, smajor, sversion, &t) < 0 ||
	    conn_prepare(call, conninfo, &c) < 0)
		goto done;

	sv_add(&argv, t.path);
	sv_add(&argv, "--verbose");
	sv_addf(&argv, "--format=%s", letter);
	sv_addf(&argv, "--file=%s", file);
	if (strcmp(content, "schema") == 0)
		sv_add(&argv, "--schema-only");
	else if (strcmp(content, "data") == 0)
		sv_add(&argv, "--data-only");
	if (jobs > 1)
		sv_addf(&argv, "--jobs=%lld", jobs);
	if (compress != NULL && !json_is_null(compress)) {
		if (json_is_integer(compress))
			sv_addf(&argv, "--compress=%lld", (long long)json_integer_value(compress));
		else if (json_is_string(compress))
			sv_addf(&argv, "--compress=%s", json_string_value(compress));
		else {
			pgm_fail(call, "args.invalid", 0, "argument \"compress\" must be 0-9 or a string");
			goto done;
		}
	}
	if (add_list(call, args, "tables", "--table", &argv) < 0 ||
	    add_list(call, args, "exclude_tables", "--exclude-table", &argv) < 0 ||
	    add_list(call, args, "schemas", "--schema", &argv) < 0 ||
	    add_list(call, args, "exclude_schemas", "--exclude-schema", &argv) < 0 ||
	    add_flag(call, args, "no_owner", 0, "--no-owner", &argv, NULL) < 0 ||
	    add_flag(call, args, "no_privileges", 0, "--no-privileges", &argv, NULL) < 0 ||
	    add_flag(call, args, "no_tablespaces", 0, "--no-tablespaces", &argv, NULL) < 0 ||
	    add_flag(call, args, "large_objects", 0, "--blobs", &argv, NULL) < 0)
		goto done;
	sv_addf(&argv, "--dbname=%s", c.dbname);

	if (make_parents(call, file) < 0)
		goto done;
	if (strcmp(format, "directory") == 0) {
		/* pg_dump refuses an existing directory: a re-run replaces it. */
		struct stat sb;

		if (stat(file, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			const char *rm[] = { "rm", "-rf", "--", file, NULL };
			pgm_child_spec spec = { .argv = rm };
			pgm_child_result res;

			if (pgm_child_run(call, &spec, &res) < 0)
				goto done;
			pgm_child_result_free(&res);
		}
	}
	{
		char *desc = pgm_conninfo_describe(conninfo);

		pgm_info("pg_dump (%s) of %s into %s, %s format", content, desc ? desc : "", file,
			 format);
		free(desc);
	}
	if (run_tool(call, &argv, &c, &st) < 0)
		goto done;
	out = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s}", "file", file, "format", format,
			"content", content, "bytes", (json_int_t)path_size(file), "tables",
			(json_int_t)st.tables, "duration_ms", (json_int_t)(pgm_now_ms() - t0),
			"pg_dump", t.path, "pg_dump_version", t.version, "server_version", sversion);
done:
	sv_free(&argv);
	conn_free(&c);
	free(t.path);
	return out;
}

/* ------------------------------------------------------------------------
 * list
 * ---------------------------------------------------------------------- */

/* Kinds of TOC entries, longest first so that a prefix match is right. */
static const char *const toc_kinds[] = {
	"MATERIALIZED VIEW DATA", "SEQUENCE OWNED BY", "MATERIALIZED VIEW", "DEFAULT ACL",
	"FK CONSTRAINT", "SEQUENCE SET", "TABLE DATA", "LARGE OBJECT", "TABLE ATTACH",
	"INDEX ATTACH", "SHELL TYPE", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY",
	"FOREIGN TABLE", "EVENT TRIGGER", "PUBLICATION TABLE", "ROW SECURITY",
	"CHECK CONSTRAINT", "CONSTRAINT", "SEQUENCE", "EXTENSION", "FUNCTION", "PROCEDURE",
	"AGGREGATE", "TRIGGER", "COMMENT", "DEFAULT", "DOMAIN", "SCHEMA", "POLICY", "INDEX",
	"TABLE", "VIEW", "TYPE", "RULE", "ACL", "BLOBS", "BLOB", "PUBLICATION", "COLLATION",
	"CONVERSION", "OPERATOR", "CAST", "STATISTICS", NULL
};

typedef struct toc {
	json_t *by_kind; /* kind -> count */
	json_t *tables;  /* [{schema, name}] of TABLE DATA entries */
	long long entries;
	json_t *lines; /* the raw lines, when not NULL before read_toc */
} toc;

/* toc_parse_line - "3340; 0 16390 TABLE DATA public users pgmove". */
static void toc_parse_line(toc *tc, const char *line)
{
	const char *p = line;
	int i;

	if (tc->lines != NULL)
		json_array_append_new(tc->lines, json_string(line));
	if (*p == ';' || *p == '\0')
		return;
	p = strchr(p, ';');
	if (p == NULL)
		return;
	p++;
	/* two numbers: catalog oid, object oid */
	for (i = 0; i < 2; i++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	for (i = 0; toc_kinds[i]; i++) {
		size_t n = strlen(toc_kinds[i]);

		if (strncmp(p, toc_kinds[i], n) == 0 && (p[n] == ' ' || p[n] == '\0')) {
			json_t *v = json_object_get(tc->by_kind, toc_kinds[i]);

			tc->entries++;
			json_object_set_new(tc->by_kind, toc_kinds[i],
					    json_integer((v ? json_integer_value(v) : 0) + 1));
			if (strcmp(toc_kinds[i], "TABLE DATA") == 0) {
				/* "public users pgmove": schema, name, owner */
				const char *rest = p + n + 1, *sp = strchr(rest, ' ');
				const char *last = strrchr(rest, ' ');

				if (sp != NULL && last != NULL && last > sp)
					json_array_append_new(
						tc->tables,
						json_pack("{s:s%, s:s%}", "schema", rest, (size_t)(sp - rest),
							  "name", sp + 1, (size_t)(last - sp - 1)));
			}
			return;
		}
	}
	tc->entries++;
}

typedef struct list_state {
	run_state st;
	toc tc;
} list_state;

static void on_list_line(void *user, int is_stderr, const char *line)
{
	list_state *ls = user;

	if (is_stderr)
		on_line(&ls->st, 1, line);
	else
		toc_parse_line(&ls->tc, line);
}

/* read_toc - pg_restore --list of file. -1 with the error set. */
static int read_toc(pgm_call *call, const char *file, const char *bindir, toc *tc)
{
	tool t;
	strv argv = { 0 };
	list_state ls;
	pgm_child_spec spec = { .line_fn = on_list_line };
	pgm_child_result res;
	int rc = -1;

	memset(&ls, 0, sizeof(ls));
	ls.st.call = call;
	ls.st.what = "pg_restore";
	ls.tc.by_kind = json_object();
	ls.tc.tables = json_array();
	ls.tc.lines = tc->lines;
	if (find_tool(call, "pg_restore", bindir, 0, "", &t) < 0)
		goto done;
	sv_add(&argv, t.path);
	sv_add(&argv, "--list");
	sv_add(&argv, file);
	free(t.path);
	if (argv.oom) {
		pgm_fail(call, "pgmove.nomem", 0, "out of memory");
		goto done;
	}
	spec.argv = (const char *const *)argv.v;
	spec.user = &ls;
	if (pgm_child_run(call, &spec, &res) < 0)
		goto done;
	if (!res.exited || res.status != 0) {
		pgm_fail(call, "pgdump.exit", 0, "pg_restore --list %s exited with status %d: %s", file,
			 res.status, res.stderr_tail ? res.stderr_tail : "");
		pgm_child_result_free(&res);
		goto done;
	}
	pgm_child_result_free(&res);
	*tc = ls.tc;
	ls.tc.by_kind = ls.tc.tables = ls.tc.lines = NULL;
	rc = 0;
done:
	json_decref(ls.tc.by_kind);
	json_decref(ls.tc.tables);
	sv_free(&argv);
	return rc;
}

/* fn_list - the archive's table of contents, counted by kind. */
static json_t *fn_list(pgm_call *call, json_t *args)
{
	const char *file = pgm_arg_string(call, args, "file", NULL, 1);
	const char *bindir = pgm_arg_string(call, args, "bindir", NULL, 0);
	toc tc = { NULL, NULL, 0, NULL };
	json_t *out;

	if (file == NULL || pgm_failed(call))
		return NULL;
	if (read_toc(call, file, bindir, &tc) < 0)
		return NULL;
	out = json_pack("{s:s, s:I, s:o, s:o}", "file", file, "entries", (json_int_t)tc.entries,
			"by_kind", tc.by_kind, "tables", tc.tables);
	return out;
}

/* ------------------------------------------------------------------------
 * restore
 * ---------------------------------------------------------------------- */

/* toc_key - "KIND schema name" of a --list line: the text after its two
 * OIDs (NULL for a comment). */
static const char *toc_key(const char *line)
{
	const char *p = strchr(line, ';');
	int i;

	if (*line == ';' || p == NULL)
		return NULL;
	p++;
	for (i = 0; i < 2; i++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	return p;
}

/* write_list - a --use-list file (in TMPDIR, its name in path) of the
 * archive's entries, those named in exclude ("INDEX public t_a_idx",
 * "CONSTRAINT public t t_pkey", "FK CONSTRAINT public t t_fk": the
 * --list text without the owner) commented out. */
static int write_list(pgm_call *call, json_t *lines, json_t *exclude, char *path, size_t pathlen,
		      long long *excluded)
{
	const char *tmp = getenv("TMPDIR");
	json_t *l, *e;
	size_t i, j;
	FILE *f;
	int fd;

	snprintf(path, pathlen, "%s/pgmove-list.XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	fd = mkstemp(path);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		pgm_fail(call, "pgdump.io", 0, "cannot write a pg_restore list file %s: %s", path,
			 strerror(errno));
		path[0] = '\0';
		return -1;
	}
	json_array_foreach(lines, i, l) {
		const char *line = json_string_value(l), *key = toc_key(line);
		int skip = 0;

		json_array_foreach(exclude, j, e) {
			const char *x = json_string_value(e);
			size_t n = x ? strlen(x) : 0;

			/* the key, then the owner: one more word */
			if (key && n > 0 && strncmp(key, x, n) == 0 &&
			    (key[n] == '\0' || (key[n] == ' ' && strchr(key + n + 1, ' ') == NULL))) {
				skip = 1;
				break;
			}
		}
		*excluded += skip;
		fprintf(f, "%s%s\n", skip ? ";" : "", line);
	}
	if (fclose(f) != 0) {
		pgm_fail(call, "pgdump.io", 0, "cannot write a pg_restore list file %s: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* fn_restore - pg_restore of an archive into a database. */
static json_t *fn_restore(pgm_call *call, json_t *args)
{
	const char *conninfo = pgm_arg_string(call, args, "conninfo", NULL, 1);
	const char *file = pgm_arg_string(call, args, "file", NULL, 1);
	const char *bindir, *content;
	json_t *sections = json_object_get(args, "sections"), *out = NULL, *e;
	long long jobs;
	int single = 0, exit_on_error = 1, smajor;
	char sversion[64];
	conn c;
	tool t;
	toc tc = { NULL, NULL, 0, NULL };
	strv argv = { 0 };
	run_state st = { .call = call, .what = "pg_restore" };
	json_t *exclude = json_object_get(args, "exclude_entries");
	char listfile[64] = "";
	long long excluded = 0;
	long long t0 = pgm_now_ms();
	size_t i;

	memset(&c, 0, sizeof(c));
	memset(&t, 0, sizeof(t));
	if (conninfo == NULL || file == NULL)
		return NULL;
	bindir = pgm_arg_string(call, args, "bindir", NULL, 0);
	if (pgm_failed(call) || content_arg(call, args, &content) < 0 ||
	    pgm_arg_int(call, args, "jobs", 1, 0, &jobs) < 0)
		return NULL;
	if (jobs < 1 || jobs > 128)
		return pgm_fail(call, "args.invalid", 0, "argument \"jobs\" must be 1..128");
	/* sections: an array, or one section as a string; owned copy. */
	if (json_is_string(sections))
		sections = json_pack("[O]", sections);
	else if (json_is_array(sections))
		sections = json_incref(sections);
	else if (sections != NULL && !json_is_null(sections))
		return pgm_fail(call, "args.invalid", 0,
				"argument \"sections\" must be an array of pre-data, data, post-data");
	else
		sections = NULL;
	json_array_foreach(sections, i, e) {
		const char *s = json_string_value(e);

		if (s == NULL || (strcmp(s, "pre-data") && strcmp(s, "data") && strcmp(s, "post-data"))) {
			pgm_fail(call, "args.invalid", 0,
				 "argument \"sections\": \"%s\" is not pre-data, data or post-data",
				 s ? s : "(not a string)");
			goto done;
		}
	}
	if (sections != NULL && strcmp(content, "all") != 0) {
		pgm_fail(call, "args.invalid", 0, "give either \"sections\" or \"content\", not both");
		goto done;
	}
	if (server_version(call, conninfo, &smajor, sversion, sizeof(sversion)) < 0 ||
	    find_tool(call, "pg_restore", bindir, 0, sversion, &t) < 0 ||
	    conn_prepare(call, conninfo, &c) < 0)
		goto done;
	if (exclude != NULL && !json_is_array(exclude)) {
		pgm_fail(call, "args.invalid", 0,
			 "argument \"exclude_entries\" must be an array of \"KIND schema name\"");
		goto done;
	}
	if (json_array_size(exclude) > 0)
		tc.lines = json_array();
	if (read_toc(call, file, bindir, &tc) < 0)
		goto done;
	if (tc.lines != NULL && write_list(call, tc.lines, exclude, listfile, sizeof(listfile),
					   &excluded) < 0)
		goto done;

	sv_add(&argv, t.path);
	sv_add(&argv, "--verbose");
	if (listfile[0] != '\0')
		sv_addf(&argv, "--use-list=%s", listfile);
	if (strcmp(content, "schema") == 0)
		sv_add(&argv, "--schema-only");
	else if (strcmp(content, "data") == 0)
		sv_add(&argv, "--data-only");
	json_array_foreach(sections, i, e)
		sv_addf(&argv, "--section=%s", json_string_value(e));
	if (add_flag(call, args, "single_transaction", 0, "--single-transaction", &argv, &single) < 0 ||
	    add_flag(call, args, "exit_on_error", 1, "--exit-on-error", &argv, &exit_on_error) < 0 ||
	    add_flag(call, args, "no_owner", 0, "--no-owner", &argv, NULL) < 0 ||
	    add_flag(call, args, "no_privileges", 0, "--no-privileges", &argv, NULL) < 0 ||
	    add_flag(call, args, "no_tablespaces", 0, "--no-tablespaces", &argv, NULL) < 0 ||
	    add_flag(call, args, "clean", 0, "--clean", &argv, NULL) < 0 ||
	    add_flag(call, args, "disable_triggers", 0, "--disable-triggers", &argv, NULL) < 0 ||
	    add_list(call, args, "tables", "--table", &argv) < 0 ||
	    add_list(call, args, "schemas", "--schema", &argv) < 0)
		goto done;
	if (single && jobs > 1) {
		pgm_fail(call, "args.invalid", 0, "single_transaction cannot be combined with jobs > 1");
		goto done;
	}
	if (json_is_true(json_object_get(args, "clean")))
		sv_add(&argv, "--if-exists");
	if (jobs > 1)
		sv_addf(&argv, "--jobs=%lld", jobs);
	sv_addf(&argv, "--dbname=%s", c.dbname);
	sv_add(&argv, file);
	st.total = tc.entries;
	pgm_info("pg_restore of %s (%lld entries, %s) with %lld job(s)", file, tc.entries,
		 strcmp(content, "all") ? content : "all content", jobs);
	if (run_tool(call, &argv, &c, &st) < 0)
		goto done;
	out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s}", "file", file, "content", content,
			"entries", (json_int_t)tc.entries, "tables", (json_int_t)st.tables,
			"errors_ignored", (json_int_t)st.errors, "duration_ms",
			(json_int_t)(pgm_now_ms() - t0), "pg_restore_version", t.version,
			"server_version", sversion);
	if (sections != NULL)
		json_object_set(out, "sections", sections);
	if (out != NULL && exclude != NULL)
		json_object_set_new(out, "entries_excluded", json_integer(excluded));
done:
	if (listfile[0] != '\0')
		unlink(listfile);
	json_decref(sections);
	json_decref(tc.by_kind);
	json_decref(tc.tables);
	json_decref(tc.lines);
	sv_free(&argv);
	conn_free(&c);
	free(t.path);
	return out;
}

/* ------------------------------------------------------------------------
 * clean
 * ---------------------------------------------------------------------- */

typedef struct clean_state {
	int in_drops; /* 0 before the header's end, 1 in the DROP part, 2 after */
	json_t *stmts;
} clean_state;

/* on_clean_line - keeps the statements of the clean (DROP) part that
 * pg_restore --clean prints before it creates anything. */
static void on_clean_line(void *user, int is_stderr, const char *line)
{
	clean_state *cs = user;

	if (is_stderr) {
		pgm_debug("%s", line);
		return;
	}
	if (cs->in_drops == 2)
		return;
	if (strncmp(line, "-- Name: ", 9) == 0 || strncmp(line, "-- Data for Name: ", 18) == 0) {
		cs->in_drops = 2; /* the create part starts */
		return;
	}
	if (strncmp(line, "--", 2) == 0 || line[0] == '\0')
		return;
	if (strncmp(line, "DROP ", 5) == 0 || strncmp(line, "ALTER TABLE ", 12) == 0 ||
	    strncmp(line, "ALTER ", 6) == 0) {
		cs->in_drops = 1;
		json_array_append_new(cs->stmts, json_string(line));
	}
}

/* fn_clean - the undo of restore. mode "objects": drops every object of the
 * archive (what pg_restore --clean --if-exists would drop); mode "data":
 * empties the tables whose data the archive holds. Idempotent. */
static json_t *fn_clean(pgm_call *call, json_t *args)
{
	const char *conninfo = pgm_arg_string(call, args, "conninfo", NULL, 1);
	const char *file = pgm_arg_string(call, args, "file", NULL, 1);
	const char *mode, *bindir;
	pgm_pg *pg = NULL;
	json_t *out = NULL, *e;
	toc tc = { NULL, NULL, 0 };
	clean_state cs = { 0, NULL };
	strv argv = { 0 };
	tool t;
	size_t i;
	long long done = 0;

	memset(&t, 0, sizeof(t));
	if (conninfo == NULL || file == NULL)
		return NULL;
	mode = pgm_arg_string(call, args, "mode", "objects", 0);
	bindir = pgm_arg_string(call, args, "bindir", NULL, 0);
	if (mode == NULL || pgm_failed(call))
		return NULL;
	if (strcmp(mode, "objects") != 0 && strcmp(mode, "data") != 0)
		return pgm_fail(call, "args.invalid", 0, "argument \"mode\" must be objects or data");
	pg = pgm_pg_connect(call, conninfo, PGDUMP_APP);
	if (pg == NULL)
		return NULL;
	if (pgm_pg_command(call, pg, "SET default_transaction_read_only = off", 0, NULL) < 0)
		goto done;
	if (strcmp(mode, "data") == 0) {
		if (read_toc(call, file, bindir, &tc) < 0)
			goto done;
		if (pgm_pg_command(call, pg, "BEGIN", 0, NULL) < 0)
			goto done;
		json_array_foreach(tc.tables, i, e) {
			const char *p[2] = { json_string_value(json_object_get(e, "schema")),
					     json_string_value(json_object_get(e, "name")) };
			PGresult *res = pgm_pg_exec(
				call, pg,
				"SELECT format('TRUNCATE ONLY %I.%I CASCADE', $1::text, $2::text), "
				"to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL",
				2, p);
			char *sql;

			if (res == NULL)
				goto done;
			if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
				PQclear(res);
				continue;
			}
			sql = strdup(PQgetvalue(res, 0, 0));
			PQclear(res);
			if (sql == NULL || pgm_pg_command(call, pg, sql, 0, NULL) < 0) {
				free(sql);
				goto done;
			}
			free(sql);
			done++;
		}
		if (pgm_pg_command(call, pg, "COMMIT", 0, NULL) < 0)
			goto done;
		out = json_pack("{s:s, s:s, s:I}", "file", file, "mode", mode, "tables_emptied",
				(json_int_t)done);
		goto done;
	}
	/* objects: the DROP statements of pg_restore --clean --if-exists. */
	if (find_tool(call, "pg_restore", bindir, 0, "", &t) < 0)
		goto done;
	sv_add(&argv, t.path);
	sv_add(&argv, "--clean");
	sv_add(&argv, "--if-exists");
	sv_add(&argv, "--schema-only");
	sv_add(&argv, "--file=-");
	sv_add(&argv, file);
	cs.stmts = json_array();
	{
		pgm_child_spec spec = { .argv = (const char *const *)argv.v, .line_fn = on_clean_line,
					.user = &cs };
		pgm_child_result res;

		if (argv.oom) {
			pgm_fail(call, "pgmove.nomem", 0, "out of memory");
			goto done;
		}
		if (pgm_child_run(call, &spec, &res) < 0)
			goto done;
		if (!res.exited || res.status != 0) {
			pgm_fail(call, "pgdump.exit", 0, "pg_restore --clean of %s exited with status %d: %s",
				 file, res.status, res.stderr_tail ? res.stderr_tail : "");
			pgm_child_result_free(&res);
			goto done;
		}
		pgm_child_result_free(&res);
	}
	if (pgm_pg_command(call, pg, "BEGIN", 0, NULL) < 0)
		goto done;
	json_array_foreach(cs.stmts, i, e) {
		if (pgm_pg_command(call, pg, json_string_value(e), 0, NULL) < 0) {
			PQclear(PQexec(pgm_pg_conn(pg), "ROLLBACK")); /* the error is recorded */
			goto done;
		}
		done++;
	}
	if (pgm_pg_command(call, pg, "COMMIT", 0, NULL) < 0)
		goto done;
	out = json_pack("{s:s, s:s, s:I}", "file", file, "mode", mode, "statements", (json_int_t)done);
done:
	json_decref(tc.by_kind);
	json_decref(tc.tables);
	json_decref(cs.stmts);
	sv_free(&argv);
	free(t.path);
	pgm_pg_close(pg);
	return out;
}

/* ------------------------------------------------------------------------
 * check
 * ---------------------------------------------------------------------- */

/* fn_check - the server's version and the pg_dump / pg_restore that would
 * be used; fails (pgdump.version) when pg_dump is older than the server. */
static json_t *fn_check(pgm_call *call, json_t *args)
{
	const char *conninfo = pgm_arg_string(call, args, "conninfo", NULL, 1);
	const char *bindir = pgm_arg_string(call, args, "bindir", NULL, 0);
	int smajor;
	char sversion[64];
	tool d, r;
	json_t *out = NULL;

	memset(&d, 0, sizeof(d));
	memset(&r, 0, sizeof(r));
	if (conninfo == NULL || pgm_failed(call))
		return NULL;
	if (server_version(call, conninfo, &smajor, sversion, sizeof(sversion)) < 0 ||
	    find_tool(call, "pg_dump", bindir, smajor, sversion, &d) < 0 ||
	    find_tool(call, "pg_restore", bindir, 0, sversion, &r) < 0)
		goto done;
	out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "server_version", sversion, "pg_dump", d.path,
			"pg_dump_version", d.version, "pg_restore", r.path, "pg_restore_version",
			r.version);
done:
	free(d.path);
	free(r.path);
	return out;
}

/* ------------------------------------------------------------------------
 * The descriptor
 * ---------------------------------------------------------------------- */

static const pgm_param dump_params[] = {
	{ "conninfo", "conninfo", 1, 1, "database to dump" },
	{ "file", "string", 1, 0, "output file (directory for format directory)" },
	{ "format", "string", 0, 0, "custom (default), directory, tar or plain" },
	{ "content", "string", 0, 0, "all (default), schema or data" },
	{ "jobs", "integer", 0, 0, "parallel jobs (format directory only; default 1)" },
	{ "compress", "any", 0, 0, "compression level 0-9 (or a pg_dump --compress spec)" },
	{ "tables", "array", 0, 0, "dump only these tables (patterns)" },
	{ "exclude_tables", "array", 0, 0, "leave out these tables (patterns)" },
	{ "schemas", "array", 0, 0, "dump only these schemas (patterns)" },
	{ "exclude_schemas", "array", 0, 0, "leave out these schemas (patterns)" },
	{ "no_owner", "boolean", 0, 0, "no ownership commands" },
	{ "no_privileges", "boolean", 0, 0, "no GRANT/REVOKE" },
	{ "no_tablespaces", "boolean", 0, 0, "no tablespace assignments" },
	{ "large_objects", "boolean", 0, 0, "include large objects" },
	{ "bindir", "string", 0, 0, "directory of pg_dump (default: PATH, else newest /usr/lib/postgresql/N/bin)" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_param restore_params[] = {
	{ "conninfo", "conninfo", 1, 1, "database to restore into" },
	{ "file", "string", 1, 0, "archive (file, or directory)" },
	{ "content", "string", 0, 0, "all (default), schema or data" },
	{ "sections", "array", 0, 0, "restore only these sections: pre-data, data, post-data" },
	{ "jobs", "integer", 0, 0, "parallel jobs (default 1)" },
	{ "single_transaction", "boolean", 0, 0, "all in one transaction (not with jobs > 1)" },
	{ "exit_on_error", "boolean", 0, 0, "stop at the first error (default true)" },
	{ "no_owner", "boolean", 0, 0, "do not set ownership" },
	{ "no_privileges", "boolean", 0, 0, "do not restore GRANT/REVOKE" },
	{ "no_tablespaces", "boolean", 0, 0, "ignore tablespaces" },
	{ "clean", "boolean", 0, 0, "drop objects before creating them (with IF EXISTS)" },
	{ "disable_triggers", "boolean", 0, 0, "disable triggers during data-only restore (superuser)" },
	{ "tables", "array", 0, 0, "restore only these tables" },
	{ "schemas", "array", 0, 0, "restore only these schemas" },
	{ "exclude_entries", "array", 0, 0,
	  "leave out these entries (\"KIND schema name\" as pg_restore --list shows them, "
	  "without the owner; e.g. copy.data's post_data)" },
	{ "bindir", "string", 0, 0, "directory of pg_restore" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_param list_params[] = {
	{ "file", "string", 1, 0, "archive (file, or directory)" },
	{ "bindir", "string", 0, 0, "directory of pg_restore" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_param clean_params[] = {
	{ "conninfo", "conninfo", 1, 1, "database to clean" },
	{ "file", "string", 1, 0, "the archive that was restored" },
	{ "mode", "string", 0, 0, "objects (default: drop them) or data (empty the tables)" },
	{ "bindir", "string", 0, 0, "directory of pg_restore" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_param check_params[] = {
	{ "conninfo", "conninfo", 1, 1, "server to check against" },
	{ "bindir", "string", 0, 0, "directory of pg_dump / pg_restore" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_function pgdump_functions[] = {
	{ "dump", fn_dump, PGM_FN_IDEMPOTENT, "pg_dump a database into a file or directory",
	  dump_params },
	{ "restore", fn_restore, 0, "pg_restore an archive into a database", restore_params },
	{ "list", fn_list, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "the table of contents of an archive, counted by kind", list_params },
	{ "clean", fn_clean, PGM_FN_IDEMPOTENT | PGM_FN_IRREVERSIBLE,
	  "drop what restoring an archive created (objects, or only the rows)", clean_params },
	{ "check", fn_check, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "which pg_dump / pg_restore would run, and whether pg_dump is new enough", check_params },
	{ NULL, NULL, 0, NULL, NULL }
};

PGMOVE_PLUGIN(pgdump) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "pgdump",
	.version = "0.1.0",
	.summary = "pg_dump / pg_restore as child processes, with progress and password files",
	.functions = pgdump_functions,
};
