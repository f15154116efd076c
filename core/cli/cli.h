/*
 * core/cli/cli.h - the command line as data: each command with its usage,
 * help and options, so --help and pgmove(1) come from one table.
 */
#ifndef PGMOVE_CORE_CLI_H
#define PGMOVE_CORE_CLI_H

#include <jansson.h>

typedef struct cli_opt {
	const char *name;    /* long name without "--"                  */
	char short_name;     /* 0 when none                              */
	const char *arg;     /* argument name, NULL for a flag           */
	int repeat;          /* may be given several times (collected in an array) */
	const char *help;
} cli_opt;

typedef struct cli_args {
	json_t *opts;        /* name -> string | true | [strings]        */
	json_t *pos;         /* positional arguments                     */
	const char *state_dir;
	const char *user;
} cli_args;

typedef struct pgmove_command {
	const char *name;
	const char *usage;   /* after "pgmove NAME "                     */
	const char *summary; /* one line                                 */
	const char *help;    /* paragraphs, blank-line separated         */
	const cli_opt *opts; /* terminated by {NULL}                     */
	int min_pos, max_pos;/* positional arguments (max -1 = any)      */
	int (*run)(cli_args *a);
} pgmove_command;

extern const pgmove_command pgmove_commands[];

/* helpers for the commands */
const char *cli_opt_str(cli_args *a, const char *name);
int cli_opt_flag(cli_args *a, const char *name);
json_t *cli_opt_list(cli_args *a, const char *name); /* borrowed array, may be empty */
const char *cli_pos(cli_args *a, int i);
/* cli_valid_run_id - whether id can name a run: letters, digits, '.', '_'
 * and '-', starting with a letter or digit, at most 100 (never a path). */
int cli_valid_run_id(const char *id);
/* cli_find_run - the run directory for RUN (an id, a directory, or NULL /
 * "last" for the newest run). 0, or after logging -1 (usage: exit 2) or
 * PGMOVE_EXIT_INTERNAL (permission denied: exit 8). */
int cli_find_run(cli_args *a, const char *run, char *out, size_t outlen);
/* cli_params - -p assignments as an object name -> string; NULL after logging. */
json_t *cli_params(cli_args *a);
int cli_json_out(const json_t *v); /* prints v as JSON on stdout; returns 0 */
int cli_json_out_redacted(const json_t *v); /* the same, redacted like the journal */

int pgmove_cmd_run(cli_args *a);
int pgmove_cmd_plan(cli_args *a);
int pgmove_cmd_resume(cli_args *a);
int pgmove_cmd_rollback(cli_args *a);
int pgmove_cmd_status(cli_args *a);
int pgmove_cmd_report(cli_args *a);
int pgmove_cmd_approve(cli_args *a);
int pgmove_cmd_resolve(cli_args *a);
int pgmove_cmd_plugins(cli_args *a);
int pgmove_cmd_call(cli_args *a);
int pgmove_cmd_test(cli_args *a);

/* pgmove_main - parses argv and runs the command; the exit code. */
int pgmove_main(int argc, char **argv);

/* cli_print_plugins - "  plugin   NAME VERSION sha256 PREFIX PATH" lines
 * for identities ([{name, version, path, sha256}]; NULL: the plugins loaded
 * now). */
void cli_print_plugins(const json_t *identities);

/* cli_report_html - the run in dir as one self-contained HTML page
 * (core/cli/cli_report_html.c) on out (a file, written whole then renamed
 * into place; NULL or "-": stdout). The exit code; messages logged. */
int cli_report_html(const char *dir, const char *out);

#endif
