/*
 * core/cli/cli.c - the command table, option parsing, help and the man page.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "exitcodes.h"
#include "host.h"
#include "loader.h"
#include "params.h"

static const cli_opt common_opts[] = {
	{ "state-dir", 0, "DIR", 0,
	  "Where runs are kept (default $PGMOVE_STATE_DIR, else ./.pgmove). A run lives in "
	  "DIR/RUNBOOK/RUN-ID/." },
	{ "log-format", 0, "FORMAT", 0,
	  "auto (colour and a progress line on a terminal, plain lines otherwise), plain, or json "
	  "(one JSON object per line)." },
	{ "verbose", 'v', NULL, 0, "Log debug messages too." },
	{ "quiet", 'q', NULL, 0, "Log warnings and errors only." },
	{ "help", 'h', NULL, 0, "Show this help." },
	{ NULL, 0, NULL, 0, NULL },
};

#define PARAM_OPT                                                                          \
	{                                                                                  \
		"param", 'p', "NAME=VALUE", 1,                                             \
			"Set a runbook parameter (repeatable). Give secrets through the "  \
			"environment variable the parameter declares instead: a command "  \
			"line is visible to other users."                                  \
	}
#define APPROVE_OPT                                                                        \
	{                                                                                  \
		"approve", 0, "NAME", 1,                                                   \
			"Give approval NAME in advance (repeatable); journaled with who "  \
			"gave it and when."                                                \
	}
#define BY_OPT                                                                             \
	{                                                                                  \
		"by", 0, "WHO", 0,                                                         \
			"Who is acting, for the journal (default $PGMOVE_USER, $SUDO_USER, " \
			"$USER)."                                                          \
	}
#define JSON_OPT { "json", 0, NULL, 0, "Print JSON for programs instead of text." }
#define RUNBOOK_OPT                                                                        \
	{                                                                                  \
		"runbook", 0, "FILE", 0,                                                   \
			"Use this runbook file instead of the one the run was started "    \
			"with."                                                            \
	}
#define ACCEPT_OPT                                                                         \
	{                                                                                  \
		"accept-changed-runbook", 0, NULL, 0,                                      \
			"Go on although the runbook changed since the run started; the "   \
			"change is journaled as a deviation."                              \
	}

static const cli_opt run_opts[] = {
	PARAM_OPT, APPROVE_OPT, BY_OPT,
	{ "run-id", 0, "ID", 0, "Use ID as the run's id instead of a generated one." },
	{ NULL, 0, NULL, 0, NULL },
};
static const cli_opt test_opts[] = {
	{ "junit", 0, "FILE", 0,
	  "Also write the results as JUnit XML to FILE: one testsuite per test file, one "
	  "testcase per test, a <failure> with the reason for a failed test, an <error> for a "
	  "test file that cannot be read." },
	{ NULL, 0, NULL, 0, NULL },
};
static const cli_opt plan_opts[] = { PARAM_OPT, JSON_OPT, { NULL, 0, NULL, 0, NULL } };
#define ACCEPT_PLUGINS_OPT                                                                 \
	{                                                                                  \
		"accept-changed-plugins", 0, NULL, 0,                                      \
			"Go on although a plugin changed (another file, version or "       \
			"SHA-256) since the run started; the change is journaled as a "    \
			"deviation."                                                       \
	}

static const cli_opt resume_opts[] = {
	PARAM_OPT, APPROVE_OPT, BY_OPT, RUNBOOK_OPT, ACCEPT_OPT, ACCEPT_PLUGINS_OPT,
	{ NULL, 0, NULL, 0, NULL },
};
static const cli_opt rollback_opts[] = {
	PARAM_OPT, BY_OPT, RUNBOOK_OPT, ACCEPT_OPT, ACCEPT_PLUGINS_OPT, { NULL, 0, NULL, 0, NULL },
};
static const cli_opt status_opts[] = {
	JSON_OPT,
	{ "all", 'a', NULL, 0, "List every run in the state directory instead." },
	{ NULL, 0, NULL, 0, NULL },
};
static const cli_opt report_opts[] = {
	JSON_OPT,
	{ "html", 0, NULL, 0,
	  "Write one self-contained HTML page instead (no network, no external files): the "
	  "timeline, gates with their evidence, approvals, breaker trips, deviations, decisions, "
	  "params and the runbook's hash." },
	{ "output", 'o', "FILE", 0, "With --html: write the page to FILE instead of stdout." },
	{ NULL, 0, NULL, 0, NULL },
};
static const cli_opt approve_opts[] = {
	BY_OPT,
	{ "comment", 'm', "TEXT", 0, "A comment kept with the decision." },
	{ "deny", 0, NULL, 0, "Refuse the approval: the run fails when it reaches it." },
	{ NULL, 0, NULL, 0, NULL },
};
static const cli_opt resolve_opts[] = {
	{ "succeeded", 0, NULL, 0, "The step did its work: mark it succeeded and go on." },
	{ "failed", 0, NULL, 0, "The step failed: mark it failed (resume then runs it again)." },
	{ "retry", 0, NULL, 0, "Run the step again on resume." },
	BY_OPT,
	{ "comment", 'm', "TEXT", 0, "Why; kept in the journal." },
	{ NULL, 0, NULL, 0, NULL },
};
static const cli_opt plugins_opts[] = { JSON_OPT, { NULL, 0, NULL, 0, NULL } };
static const cli_opt call_opts[] = {
	JSON_OPT,
	{ "timeout", 't', "DURATION", 0, "Cancel the call after DURATION (e.g. 30s, 5m)." },
	{ NULL, 0, NULL, 0, NULL },
};

const pgmove_command pgmove_commands[] = {
	{ "run", "RUNBOOK.lua [options]", "start a new run of a runbook",
	  "Loads the runbook, checks it and its parameters, creates a run directory with a "
	  "journal, and executes the runbook's steps, waits, gates and approvals in order. "
	  "Every transition is journaled (and fsync'd) before it takes effect, so a run that is "
	  "killed can be continued with pgmove resume.\n\n"
	  "The run stops at an approval that was not given in advance (exit 3), at a failed "
	  "gate whose on_fail is halt (exit 4), or at a failed step (exit 1, or 5 if the "
	  "runbook rolls back on failure). SIGINT or SIGTERM cancel the running call, journal "
	  "the interruption and exit 3.\n\n"
	  "The run directory is created atomically: its journal and first event are written "
	  "under a hidden name (RUNBOOK/.new-ID.PID) that is then renamed, so a kill leaves no "
	  "run or a whole one; a hidden directory left by a kill is removed by a later run. "
	  "Approvals given with --approve are journaled at once.",
	  run_opts, 1, 1, pgmove_cmd_run },
	{ "plan", "RUNBOOK.lua [options]", "check a runbook and print its side-effect plan",
	  "Loads the runbook without running anything (loading has no side effects) and prints "
	  "its phases, steps, waits, gates, approvals and breakers with their settings. Fails "
	  "(exit 6) on a Lua error (file:line), an unknown plugin or function, a name used "
	  "twice, a bad duration, an irreversible step without an earlier recovery step. With "
	  "-p the parameters are checked too.\n\n"
	  "The plan shows every side effect before anything runs: the plugins loaded (version, "
	  "SHA-256, path), the params in the order they are declared (type, required, secret, "
	  "env, default), and under each step (when, run and undo apart), wait, gate check, "
	  "breaker (condition, on_trip) and on_failure the plugin functions it may call with "
	  "their flags and runbook line: read-only, \"writes, idempotent\", \"writes, NOT "
	  "idempotent\" or IRREVERSIBLE (marked !!, and a step calling one without irreversible "
	  "= true is flagged). Calls are found in the runbook's text: written alias.fn(...) or "
	  "alias.fn { ... } on a local alias = plugin \"name\", in the function and in the "
	  "functions of the runbook file it reaches (local helpers, global functions: shown "
	  "\"via\" the helper); local f = alias.fn counts as a call of fn. Calls through other "
	  "names are not seen, and calls inside functions of required modules are listed as not "
	  "shown. --json prints the same data (calls, unresolved, check_locs, param_order, "
	  "side_effects, plugins), every loc the runbook's file:line.",
	  plan_opts, 1, 1, pgmove_cmd_plan },
	{ "resume", "RUN [options]", "continue a run",
	  "Continues a run after a crash, a kill, a pause, an approval, a resolve or a halted "
	  "gate. A step that was running when pgmove died runs again only if it is idempotent "
	  "(declared so, or every plugin function it called is); otherwise the run pauses until "
	  "pgmove resolve records the operator's decision. A failed step runs again. A halted "
	  "gate is evaluated again. A wait continues with its original deadline. A run that was "
	  "rolled back starts over from its first node. The runbook must be unchanged unless "
	  "--accept-changed-runbook is given, and so must the plugins it loads (name, version, "
	  "SHA-256 journaled at the start) unless --accept-changed-plugins is given. Secret "
	  "parameters, and parameters the runbook passes to a plugin parameter declared secret, "
	  "are read again from the environment (or -p). A completed run is reported as such. "
	  "When another pgmove holds the run, resume exits 7 at once.",
	  resume_opts, 1, 1, pgmove_cmd_resume },
	{ "status", "[RUN] [options]", "show a run's state",
	  "Shows a run as its journal tells it: phases, steps with attempts, start and "
	  "duration, waits, gates with each check's result, approvals with who and when, "
	  "breaker trips, operator decisions and deviations. RUN is a run id or a run directory; "
	  "without it, the newest run. status reads the journal without the lock, so it works "
	  "while the run is going. A run whose journal says running but that no process holds "
	  "(killed, crashed) is shown as \"interrupted (no process)\".",
	  status_opts, 0, 1, pgmove_cmd_status },
	{ "report", "RUN [--html [-o FILE]] [options]",
	  "print a run's execution log as Markdown, or as an HTML page",
	  "Prints the run as a Markdown document for a change record: the phase table "
	  "(started, gate attempted, gate result), every step, gate check and approval, "
	  "deviations and operator decisions.\n\n"
	  "With --html it writes one self-contained HTML page instead (to FILE with -o, written "
	  "whole and renamed into place): a timeline (a Gantt chart of every step attempt, gate "
	  "evaluation, wait and approval over wall time, failed attempts and retries marked, "
	  "breaker trips and the run's pauses as vertical lines), every evaluation of every gate "
	  "with each check's result and evidence, approvals with who, when and the comment, "
	  "breaker trips with their values, deviations, operator decisions, the params (secret "
	  "ones shown as ********) and the runbook's SHA-256 and plugins. The page loads nothing "
	  "(inline CSS and SVG, one inline script allowed by its hash in a "
	  "Content-Security-Policy of default-src 'none'), and every text from the journal is "
	  "HTML-escaped. Exit 8 when FILE cannot be written.",
	  report_opts, 0, 1, pgmove_cmd_report },
	{ "approve", "RUN NAME [options]", "give (or deny) an approval",
	  "Records in the run's journal that WHO approved NAME (or denied it, with --deny), "
	  "and when. Then pgmove resume RUN continues. An approval can be given before the run "
	  "reaches it. If the runbook lists approvers, WHO must be one of them.",
	  approve_opts, 2, 2, pgmove_cmd_approve },
	{ "resolve", "RUN STEP --succeeded|--failed|--retry [options]",
	  "record the operator's decision about a step",
	  "When a step that is not idempotent was running as pgmove died, or a step failed, the "
	  "operator checks what really happened and records it: --succeeded (the step's work "
	  "is done; its output is empty), --failed, or --retry (run it again). The decision is "
	  "journaled with who made it; then pgmove resume RUN continues.",
	  resolve_opts, 2, 2, pgmove_cmd_resolve },
	{ "rollback", "RUN [options]", "undo a run's steps",
	  "Runs the undo function of every succeeded step, newest first, journaled like steps. "
	  "Irreversible steps are not undone. If an undo fails the rollback stops there (exit 1); "
	  "run pgmove rollback again after fixing the cause. A rolled-back run can be resumed: "
	  "it starts over.",
	  rollback_opts, 1, 1, pgmove_cmd_rollback },
	{ "plugins", "[NAME] [options]", "list plugins and their functions",
	  "Lists every plugin found on the search path ($PGMOVE_PLUGIN_PATH, then the installed "
	  "plugin directory) with its version, functions, their flags (idempotent, read-only, "
	  "irreversible) and parameters. A plugin that fails to load is listed with the error.",
	  plugins_opts, 0, 1, pgmove_cmd_plugins },
	{ "call", "PLUGIN.FUNCTION [NAME=VALUE]... [options]", "run one plugin function by hand",
	  "Calls one plugin function with the given arguments and prints its JSON result. A "
	  "VALUE that parses as JSON (numbers, true, [\"a\",\"b\"], {\"k\":1}) is taken as JSON, "
	  "anything else as a string (a parameter declared string, conninfo or duration always takes the text as it is); NAME=@env:VAR takes the value of the environment variable "
	  "VAR, which keeps secrets off the command line. Exit 1 when the function fails (or the "
	  "plugin does not load), 2 for a bad target or arguments; with --json every failure, "
	  "the host's own included, prints {\"error\": {\"code\", \"message\", "
	  "\"retryable\"}} on stdout (codes call.usage, plugin.load, call.unknown_function, "
	  "args.invalid, or the function's own).",
	  call_opts, 1, -1, pgmove_cmd_call },
	{ "test", "TESTFILE.lua... [--junit FILE]",
	  "test a runbook with mocked plugins and a virtual clock",
	  "Runs each test of each test file through the real engine, with its journal in a "
	  "temporary directory, every plugin function call answered by the test's mocks and a "
	  "virtual clock: waits, every, stable_for, timeouts, retry delays and breakers' "
	  "sustained advance virtual time at once, so a 24-hour wait takes milliseconds. A test "
	  "file returns { runbook = FILE (relative to the test file), params = {...}, tests = "
	  "{...} }; pgmove-runbook(5) describes every key.\n\n"
	  "A test has name, params, mocks (\"plugin.function\" = { result = V } | { error = "
	  "{ code, retryable, message } } | { sequence = { mock, ... } } (the last repeats) | "
	  "function(args, virtual_ms, n, node)), approve (approvals given with the run), crash (one "
	  "point: before_call, after_call, in_wait, in_gate (nth poll or check) or in_rollback "
	  "= NODE; the process dies there and the run is resumed with pgmove resume; crash_after "
	  "= STEP is after_call), script (actions after the run, in order: \"resume\", "
	  "\"rollback\", { approve | deny = NAME, by, comment }, { resolve = STEP, decision = "
	  "\"succeeded\"|\"failed\"|\"retry\", by, comment }, { advance = DURATION } (time "
	  "passes), each with an optional exit asserted), rollback = true (pgmove rollback at "
	  "the end), by (who runs pgmove), expect and check.\n\n"
	  "expect = { exit (of the last run, resume or rollback), status (the run's final "
	  "status), steps (succeeded, in order), undone (undos, in order), breakers (tripped, in "
	  "order), called, not_called, call_count = { fn = n }, called_with = { { fn, args (a "
	  "subset), node } }, gates = { GATE = ok }, checks = { GATE = { CHECK = ok } }, nodes = "
	  "{ NODE = status }, min_virtual, max_virtual }; check = function(r) sees r.exit, "
	  "r.status, r.steps, r.undone, r.breakers, r.gates, r.nodes, r.phases, r.calls (fn, "
	  "args, node, t, undo), r.events (the journal), r.virtual_ms, and raises an error to "
	  "fail. An unknown key is an error, a call without a mock fails the test naming the "
	  "function and its arguments.\n\n"
	  "Prints TAP; exit 1 when a test failed, 2 when a test file cannot be read or the "
	  "--junit file cannot be written. PGMOVE_TEST_KEEP=1 keeps the temporary directories.",
	  test_opts, 1, -1, pgmove_cmd_test },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, NULL },
};

static const struct {
	int code;
	const char *meaning;
} exit_codes[] = {
	{ PGMOVE_EXIT_COMPLETED, "completed" },
	{ PGMOVE_EXIT_FAILED, "a step failed; the run stopped (or a rollback stopped)" },
	{ PGMOVE_EXIT_USAGE, "bad command line or parameters: also an argument or a value from the "
			     "environment that is not valid UTF-8, a run id that is not letters, "
			     "digits, '.', '_' and '-', an unknown plugin or function for call" },
	{ PGMOVE_EXIT_PAUSED,
	  "paused: waiting for an approval, an operator decision (resolve), a breaker, or "
	  "interrupted by a signal" },
	{ PGMOVE_EXIT_GATE_FAILED, "a gate failed and halted the run (or a wait timed out with "
				   "on_timeout = halt)" },
	{ PGMOVE_EXIT_ROLLED_BACK, "the run was rolled back" },
	{ PGMOVE_EXIT_RUNBOOK, "the runbook is invalid, or changed since the run started; also a "
			       "runbook that does not finish loading within its budget "
			       "(PGMOVE_LOAD_TIMEOUT)" },
	{ PGMOVE_EXIT_BUSY, "another pgmove process holds the run" },
	{ PGMOVE_EXIT_INTERNAL, "environment error: state directory, journal (permission denied, "
				"a journal that is corrupted: a seq gap, an event of the wrong "
				"shape, not a regular file; the message names the line)" },
	{ -1, NULL },
};

/* ------------------------------------------------------------------- */

const char *cli_opt_str(cli_args *a, const char *name)
{
	return json_string_value(json_object_get(a->opts, name));
}

int cli_opt_flag(cli_args *a, const char *name)
{
	return json_is_true(json_object_get(a->opts, name));
}

json_t *cli_opt_list(cli_args *a, const char *name)
{
	json_t *v = json_object_get(a->opts, name);
	if (!v) {
		v = json_array();
		json_object_set_new(a->opts, name, v);
	}
	return v;
}

const char *cli_pos(cli_args *a, int i)
{
	return json_string_value(json_array_get(a->pos, (size_t)i));
}

int cli_json_out(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (s) {
		char *r = pgm_redact(s);
		fputs(r ? r : s, stdout);
		fputc('\n', stdout);
		free(r);
		free(s);
	}
	return 0;
}

/* cli_json_out_redacted - prints v as JSON with the journal's redaction
 * (pgm_redact_json: registered secrets, password forms, and the values of
 * secret-named keys), for what a plugin returns. */
int cli_json_out_redacted(const json_t *v)
{
	json_t *red = pgm_redact_json(v);
	char *s = red ? json_dumps(red, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
		      : NULL;
	json_decref(red);
	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
	return 0;
}

json_t *cli_params(cli_args *a)
{
	json_t *out = json_object();
	size_t i;
	json_t *v;
	json_array_foreach(cli_opt_list(a, "param"), i, v)
	{
		char *name, *value, err[512];
		if (params_parse_assignment(json_string_value(v), &name, &value, err, sizeof(err)) !=
		    0) {
			pgm_error("-p: %s", err);
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, name, json_string(value));
		free(name);
		free(value);
	}
	return out;
}

static int has_journal(const char *dir)
{
	char path[PATH_MAX + 32];
	struct stat st;
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	return stat(path, &st) == 0;
}

/* denied - whether path (or the way to it) cannot be read for want of
 * permission: said as such, exit 8, never "not found". */
static int denied(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return errno == EACCES;
	if (S_ISDIR(st.st_mode))
		return access(path, R_OK | X_OK) != 0 && errno == EACCES;
	return access(path, R_OK) != 0 && errno == EACCES;
}

/* cli_valid_run_id - see cli.h. */
int cli_valid_run_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > 100 || !(isalnum((unsigned char)id[0])))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)id[i]) || id[i] == '-' || id[i] == '_' ||
		      id[i] == '.'))
			return 0;
	return 1;
}

int cli_find_run(cli_args *a, const char *run, char *out, size_t outlen)
{
	if (run && strcmp(run, "last") != 0 && strcmp(run, "latest") != 0) {
		if (strchr(run, '/') || has_journal(run)) {
			char jp[PATH_MAX + 32];
			snprintf(jp, sizeof(jp), "%s/journal.jsonl", run);
			if (denied(run) || denied(jp)) {
				pgm_error("%s: permission denied", run);
				return PGMOVE_EXIT_INTERNAL;
			}
			if (!has_journal(run)) {
				pgm_error("%s is not a run directory (no journal.jsonl in it)", run);
				return -1;
			}
			snprintf(out, outlen, "%s", run);
			return 0;
		}
	}
	if (run && strcmp(run, "last") != 0 && strcmp(run, "latest") != 0 &&
	    !cli_valid_run_id(run)) {
		pgm_error("'%s' is not a run id (letters, digits, '.', '_' and '-', at most 100) "
			  "nor a run directory",
			  run);
		return -1;
	}
	DIR *d = opendir(a->state_dir);
	if (!d && errno == EACCES) {
		pgm_error("state directory %s: permission denied", a->state_dir);
		return PGMOVE_EXIT_INTERNAL;
	}
	if (!d) {
		pgm_error("no runs: state directory %s does not exist (--state-dir or "
			  "PGMOVE_STATE_DIR names another)",
			  a->state_dir);
		return -1;
	}
	struct dirent *rb;
	int found = 0;
	long long newest = 0;
	while ((rb = readdir(d))) {
		if (rb->d_name[0] == '.')
			continue;
		char rbdir[PATH_MAX];
		snprintf(rbdir, sizeof(rbdir), "%s/%s", a->state_dir, rb->d_name);
		DIR *d2 = opendir(rbdir);
		if (!d2 && errno == EACCES) {
			pgm_error("%s: permission denied", rbdir);
			closedir(d);
			return PGMOVE_EXIT_INTERNAL;
		}
		if (!d2)
			continue;
		struct dirent *r;
		while ((r = readdir(d2))) {
			char dir[PATH_MAX + 256], jp[PATH_MAX + 300];
			struct stat st;
			if (r->d_name[0] == '.')
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", rbdir, r->d_name);
			snprintf(jp, sizeof(jp), "%s/journal.jsonl", dir);
			if (stat(jp, &st) != 0 && errno == EACCES) {
				pgm_error("%s: permission denied", dir);
				closedir(d2);
				closedir(d);
				return PGMOVE_EXIT_INTERNAL;
			}
			if (stat(jp, &st) != 0)
				continue;
			if (run && strcmp(run, "last") != 0 && strcmp(run, "latest") != 0) {
				if (strcmp(r->d_name, run) == 0) {
					snprintf(out, outlen, "%s", dir);
					found++;
				}
			} else if (!found || (long long)st.st_mtim.tv_sec * 1000000000LL +
							  st.st_mtim.tv_nsec > newest) {
				newest = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
				snprintf(out, outlen, "%s", dir);
				found = 1;
			}
		}
		closedir(d2);
	}
	closedir(d);
	if (!found) {
		if (run && strcmp(run, "last") != 0)
			pgm_error("run %s not found under %s", run, a->state_dir);
		else
			pgm_error("no runs under %s", a->state_dir);
		return -1;
	}
	if (found > 1) {
		pgm_error("run id %s is ambiguous under %s: give the run directory", run,
			  a->state_dir);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------- */

static void print_opt(FILE *f, const cli_opt *o)
{
	char left[128];
	if (o->short_name)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
	fprintf(f, "  %-32s %s\n", left, o->help);
}

/* print_wrapped - prints text wrapped at 78 columns with an indent. */
static void print_wrapped(FILE *f, const char *text, int indent)
{
	const char *p = text;
	while (*p) {
		const char *para_end = strstr(p, "\n\n");
		size_t plen = para_end ? (size_t)(para_end - p) : strlen(p);
		int col = 0;
		const char *q = p;
		while (q < p + plen) {
			while (q < p + plen && *q == ' ')
				q++;
			const char *w = q;
			while (q < p + plen && *q != ' ')
				q++;
			int wl = (int)(q - w);
			if (wl == 0)
				break;
			if (col && col + 1 + wl > 78 - indent) {
				fputc('\n', f);
				col = 0;
			}
			if (!col)
				fprintf(f, "%*s", indent, "");
			else
				fputc(' ', f), col++;
			fwrite(w, 1, (size_t)wl, f);
			col += wl;
		}
		fputc('\n', f);
		p += plen;
		if (*p)
			p += 2, fputc('\n', f);
	}
}

static void command_help(FILE *f, const pgmove_command *c)
{
	fprintf(f, "usage: pgmove %s %s\n\n", c->name, c->usage);
	print_wrapped(f, c->help, 0);
	fprintf(f, "\noptions:\n");
	for (const cli_opt *o = c->opts; o && o->name; o++)
		print_opt(f, o);
	for (const cli_opt *o = common_opts; o->name; o++)
		print_opt(f, o);
}

static void main_help(FILE *f)
{
	fprintf(f, "pgmove %s - run database-migration runbooks\n\n"
		   "usage: pgmove [--state-dir DIR] COMMAND [ARGS] [OPTIONS]\n\ncommands:\n",
		VERSION);
	for (const pgmove_command *c = pgmove_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "  %-10s %s\n", "help", "show help for a command");
	fprintf(f, "  %-10s %s\n\n", "version", "print the version");
	fprintf(f, "pgmove COMMAND --help shows a command's options.\n\nexit status:\n");
	for (int i = 0; exit_codes[i].meaning; i++)
		fprintf(f, "  %d  %s\n", exit_codes[i].code, exit_codes[i].meaning);
	fprintf(f, "\nenvironment: PGMOVE_STATE_DIR, PGMOVE_PLUGIN_PATH, PGMOVE_USER, "
		   "PGMOVE_LOAD_TIMEOUT.\n"
		   "See pgmove(1), pgmove-runbook(5) and pgmove-plugin(3).\n");
}

/* man_escape - troff-safe text: backslashes doubled, leading dots guarded. */
static void man_text(FILE *f, const char *s)
{
	int bol = 1;
	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else if (s[0] == '\n' && s[1] == '\n') {
			fputs("\n.PP\n", f);
			s++;
			bol = 1;
			continue;
		} else
			fputc(*s, f);
		bol = (*s == '\n');
	}
	fputc('\n', f);
}

static void man_opt(FILE *f, const cli_opt *o)
{
	fputs(".TP\n", f);
	if (o->short_name)
		fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
	fprintf(f, "\\fB\\-\\-%s\\fR", o->name);
	if (o->arg)
		fprintf(f, " \\fI%s\\fR", o->arg);
	fputc('\n', f);
	man_text(f, o->help);
}

/* print_man - pgmove(1) in troff, generated from the command table. */
static void print_man(FILE *f)
{
	fprintf(f, ".\\\" Generated by `pgmove __man` from core/cli.c; do not edit.\n"
		   ".TH PGMOVE 1 \"\" \"pgmove %s\" \"User Commands\"\n"
		   ".SH NAME\npgmove \\- run database\\-migration runbooks\n"
		   ".SH SYNOPSIS\n\\fBpgmove\\fR [\\fB\\-\\-state\\-dir\\fR \\fIDIR\\fR] "
		   "\\fICOMMAND\\fR [\\fIARGS\\fR] [\\fIOPTIONS\\fR]\n"
		   ".SH DESCRIPTION\n",
		VERSION);
	man_text(f, "pgmove runs migration runbooks: Lua 5.4 files that declare phases, steps, "
		    "waits, gates, approvals and breakers, whose steps call functions of plugins "
		    "(pgdump, checksum, pg, rds_snapshot, cloudwatch, ...). Every transition is "
		    "kept in a durable journal in the run's directory, so a migration that takes "
		    "days survives crashes, waits for conditions, asks humans for approval at "
		    "gates, and rolls back. The runbook language is described in "
		    "pgmove-runbook(5); writing plugins in pgmove-plugin(3).\n\n"
		    "Log lines go to standard error: plain lines on a pipe, colour and a progress "
		    "line on a terminal, JSON lines with --log-format json. Secrets (secret "
		    "parameters, passwords inside connection strings, keys) never reach the "
		    "journal, logs, reports or error messages.");
	fputs(".SH COMMANDS\n", f);
	for (const pgmove_command *c = pgmove_commands; c->name; c++) {
		fprintf(f, ".SS \"pgmove %s ", c->name);
		for (const char *p = c->usage; *p; p++)
			fputs(*p == '-' ? "\\-" : (char[]){ *p, 0 }, f);
		fputs("\"\n", f);
		man_text(f, c->help);
		for (const cli_opt *o = c->opts; o && o->name; o++)
			man_opt(f, o);
	}
	fputs(".SH COMMON OPTIONS\n", f);
	for (const cli_opt *o = common_opts; o->name; o++)
		man_opt(f, o);
	fputs(".SH EXIT STATUS\n", f);
	for (int i = 0; exit_codes[i].meaning; i++) {
		fprintf(f, ".TP\n.B %d\n", exit_codes[i].code);
		man_text(f, exit_codes[i].meaning);
	}
	fputs(".SH ENVIRONMENT\n.TP\n.B PGMOVE_STATE_DIR\n", f);
	man_text(f, "The state directory when --state-dir is not given (default ./.pgmove).");
	fputs(".TP\n.B PGMOVE_PLUGIN_PATH\n", f);
	man_text(f, "Colon-separated directories searched for plugins before the installed "
		    "plugin directory " PGMOVE_PLUGIN_DIR ". In each directory D, a plugin NAME is "
		    "D/NAME.la, D/NAME.so, or D/NAME/NAME.la.");
	fputs(".TP\n.B PGMOVE_LOAD_TIMEOUT\n", f);
	man_text(f, "How long a runbook may take to load (a duration, default 10s); see "
		    "pgmove-runbook(5).");
	fputs(".TP\n.B PGMOVE_USER\n", f);
	man_text(f, "Who is acting, for approvals, decisions and deviations (else $SUDO_USER, "
		    "$USER).");
	fputs(".SH FILES\n.TP\n.I STATE/RUNBOOK/RUN\\-ID/journal.jsonl\n", f);
	man_text(f, "The run's journal: one JSON event per line, appended and fsync'd before the "
		    "engine acts. A torn last line left by a crash is moved aside to journal.torn.N "
		    "and ignored.");
	fputs(".TP\n.I STATE/RUNBOOK/RUN\\-ID/lock\n", f);
	man_text(f, "Held (flock) by the one pgmove process working on the run; names its pid.");
	fputs(".SH EXAMPLES\n.nf\n"
	      "pgmove plan scripts/runbooks/pg\\-dump\\-restore.lua\n"
	      "PGMOVE_SOURCE=... PGMOVE_TARGET=... pgmove run pg\\-dump\\-restore.lua \\-p jobs=4\n"
	      "pgmove status\n"
	      "pgmove approve 20261121\\-070405\\-3fa9 cutover \\-\\-by alice \\-m \"writes "
	      "stopped\"\n"
	      "pgmove resume 20261121\\-070405\\-3fa9\n"
	      "pgmove call checksum.compare source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET\n"
	      ".fi\n"
	      ".SH SEE ALSO\npgmove\\-runbook(5), pgmove\\-plugin(3), pgmove\\-sandbox(1)\n",
	      f);
}

/* ------------------------------------------------------------------- */

static const cli_opt *find_opt(const pgmove_command *c, const char *lname, char sname)
{
	const cli_opt *sets[2] = { c->opts, common_opts };
	for (int s = 0; s < 2; s++)
		for (const cli_opt *o = sets[s]; o && o->name; o++)
			if ((lname && strcmp(o->name, lname) == 0) ||
			    (!lname && sname && o->short_name == sname))
				return o;
	return NULL;
}

static int store_opt(cli_args *a, const cli_opt *o, const char *value)
{
	if (o->repeat) {
		json_array_append_new(cli_opt_list(a, o->name), json_string(value));
	} else if (o->arg) {
		json_object_set_new(a->opts, o->name, json_string(value));
	} else {
		json_object_set_new(a->opts, o->name, json_true());
	}
	return 0;
}

/* parse - options anywhere among the positional arguments; "--" ends them. */
static int parse(const pgmove_command *c, int argc, char **argv, cli_args *a)
{
	int only_pos = 0;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (only_pos || arg[0] != '-' || arg[1] == '\0') {
			json_array_append_new(a->pos, json_string(arg));
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = 1;
			continue;
		}
		const cli_opt *o;
		const char *value = NULL;
		char lname[64];
		if (arg[1] == '-') {
			const char *eq = strchr(arg + 2, '=');
			snprintf(lname, sizeof(lname), "%.*s",
				 (int)(eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)), arg + 2);
			o = find_opt(c, lname, 0);
			if (eq)
				value = eq + 1;
		} else {
			o = find_opt(c, NULL, arg[1]);
			if (o && arg[2])
				value = arg + 2;
		}
		if (!o) {
			fprintf(stderr, "pgmove %s: unknown option %s (see pgmove %s --help)\n",
				c->name, arg, c->name);
			return -1;
		}
		if (o->arg && !value) {
			if (i + 1 >= argc) {
				fprintf(stderr, "pgmove %s: option --%s needs %s\n", c->name, o->name,
					o->arg);
				return -1;
			}
			value = argv[++i];
		} else if (!o->arg && value) {
			fprintf(stderr, "pgmove %s: option --%s takes no value\n", c->name, o->name);
			return -1;
		}
		store_opt(a, o, value);
	}
	return 0;
}

static const char *whoami(void)
{
	const char *u = getenv("PGMOVE_USER");
	if (!u || !*u)
		u = getenv("SUDO_USER");
	if (!u || !*u)
		u = getenv("USER");
	if (!u || !*u) {
		struct passwd *pw = getpwuid(getuid());
		u = pw ? pw->pw_name : "unknown";
	}
	return u;
}

static int setup_logging(cli_args *a)
{
	pgm_log_format fmt = PGM_LOG_FORMAT_AUTO;
	const char *lf = cli_opt_str(a, "log-format");
	if (lf) {
		if (strcmp(lf, "plain") == 0)
			fmt = PGM_LOG_FORMAT_PLAIN;
		else if (strcmp(lf, "json") == 0)
			fmt = PGM_LOG_FORMAT_JSON;
		else if (strcmp(lf, "auto") != 0) {
			fprintf(stderr, "pgmove: --log-format must be auto, plain or json, not '%s'\n",
				lf);
			return -1;
		}
	}
	pgm_log_level lvl = PGM_LOG_INFO;
	if (cli_opt_flag(a, "verbose"))
		lvl = PGM_LOG_DEBUG;
	if (cli_opt_flag(a, "quiet"))
		lvl = PGM_LOG_WARNING;
	pgm_log_setup(fmt, lvl);
	return 0;
}

int pgmove_main(int argc, char **argv)
{
	int i = 1;
	const char *state_dir = NULL;
	/* text that is not UTF-8 cannot reach JSON: refuse it here, once */
	for (int k = 1; k < argc; k++)
		if (!pgm_utf8_valid(argv[k], strlen(argv[k]))) {
			char *shown = pgm_utf8_repair(argv[k], strlen(argv[k]), NULL);
			fprintf(stderr, "pgmove: argument %d ('%s') is not valid UTF-8\n", k,
				shown ? shown : "?");
			free(shown);
			return PGMOVE_EXIT_USAGE;
		}
	/* global options before the command */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			main_help(stdout);
			return PGMOVE_EXIT_COMPLETED;
		}
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("pgmove %s (plugin ABI %d)\n", VERSION, PGMOVE_PLUGIN_ABI);
			return PGMOVE_EXIT_COMPLETED;
		}
		if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc) {
			state_dir = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--state-dir=", 12) == 0) {
			state_dir = argv[i] + 12;
			continue;
		}
		fprintf(stderr, "pgmove: unknown option %s before the command (see pgmove --help)\n",
			argv[i]);
		return PGMOVE_EXIT_USAGE;
	}
	if (i >= argc) {
		main_help(stderr);
		return PGMOVE_EXIT_USAGE;
	}
	const char *name = argv[i++];
	if (strcmp(name, "version") == 0) {
		printf("pgmove %s (plugin ABI %d)\n", VERSION, PGMOVE_PLUGIN_ABI);
		return PGMOVE_EXIT_COMPLETED;
	}
	if (strcmp(name, "__man") == 0) {
		print_man(stdout);
		return PGMOVE_EXIT_COMPLETED;
	}
	int help_cmd = strcmp(name, "help") == 0;
	if (help_cmd) {
		if (i >= argc) {
			main_help(stdout);
			return PGMOVE_EXIT_COMPLETED;
		}
		name = argv[i++];
	}
	const pgmove_command *c = NULL;
	for (const pgmove_command *k = pgmove_commands; k->name; k++)
		if (strcmp(k->name, name) == 0)
			c = k;
	if (!c) {
		fprintf(stderr, "pgmove: unknown command '%s' (see pgmove --help)\n", name);
		return PGMOVE_EXIT_USAGE;
	}
	if (help_cmd) {
		command_help(stdout, c);
		return PGMOVE_EXIT_COMPLETED;
	}
	cli_args a = { json_object(), json_array(), NULL, NULL };
	int rc;
	if (parse(c, argc - i, argv + i, &a) != 0) {
		rc = PGMOVE_EXIT_USAGE;
		goto out;
	}
	if (cli_opt_flag(&a, "help")) {
		command_help(stdout, c);
		rc = PGMOVE_EXIT_COMPLETED;
		goto out;
	}
	int npos = (int)json_array_size(a.pos);
	if (npos < c->min_pos || (c->max_pos >= 0 && npos > c->max_pos)) {
		fprintf(stderr, "usage: pgmove %s %s\n(pgmove %s --help for more)\n", c->name,
			c->usage, c->name);
		rc = PGMOVE_EXIT_USAGE;
		goto out;
	}
	if (setup_logging(&a) != 0) {
		rc = PGMOVE_EXIT_USAGE;
		goto out;
	}
	a.state_dir = cli_opt_str(&a, "state-dir");
	if (!a.state_dir)
		a.state_dir = state_dir;
	if (!a.state_dir)
		a.state_dir = getenv("PGMOVE_STATE_DIR");
	if (!a.state_dir || !*a.state_dir)
		a.state_dir = ".pgmove";
	a.user = cli_opt_str(&a, "by");
	if (!a.user)
		a.user = whoami();
	rc = c->run(&a);
	pgm_progress_clear();
	loader_shutdown();
out:
	json_decref(a.opts);
	json_decref(a.pos);
	return rc;
}
