/*
 * tests/fuzz/fuzz_common.h - what the harnesses that drive whole commands
 * share: a scratch directory, writing a file into it, quiet logs.
 */
#ifndef PGMOVE_FUZZ_COMMON_H
#define PGMOVE_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

static void fuzz_quiet(void *user, pgm_log_level level, const char *line)
{
	(void)user;
	(void)level;
	(void)line;
}

/* fuzz_scratch - a private directory for this process, made once. */
static const char *fuzz_scratch(void)
{
	static char dir[64];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/pgmove-fuzz-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		pgm_log_set_sink(fuzz_quiet, NULL);
		/* commands print to stdout: not into the fuzzer's output */
		if (!freopen("/dev/null", "w", stdout))
			abort();
	}
	return dir;
}

/* fuzz_write - path gets exactly the size bytes of data. */
static void fuzz_write(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

#endif
