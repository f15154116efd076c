/*
 * tests/fuzz/fuzz_status.c - libFuzzer harness: `pgmove status`, `status
 * --json` and `report` (core/cli/cli_status.c) of a run whose journal is
 * the input. They answer or refuse with an exit code, never crash.
 */
#include "config.h"

#include <stdint.h>

#include "cli.h"
#include "exitcodes.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[160], path[224];
	const char *root = fuzz_scratch();
	snprintf(dir, sizeof(dir), "%s/rb", root);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/rb/r1", root);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	fuzz_write(path, data, size);
	char *cmds[][6] = {
		{"pgmove", "--state-dir", (char *)root, "status", "r1", NULL},
		{"pgmove", "--state-dir", (char *)root, "status", "--json", dir},
		{"pgmove", "--state-dir", (char *)root, "report", "r1", NULL},
		{"pgmove", "--state-dir", (char *)root, "status", "--all", NULL},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int argc = 0;
		while (argc < 6 && cmds[i][argc])
			argc++;
		int rc = pgmove_main(argc, cmds[i]);
		if (rc < 0 || rc > PGMOVE_EXIT_INTERNAL)
			abort();
	}
	return 0;
}
