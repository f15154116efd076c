/*
 * tests/fuzz/fuzz_common.h - what the harnesses that drive whole commands
 * share: a scratch directory, writing a file into it, quiet logs.
 */
#ifndef PGMOVE_FUZZ_COMMON_H
#define PGMOVE_FUZZ_COMMON_H

#include <ftw.h>
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

static char fuzz_dir[64];

static int fuzz_rm(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* fuzz_cleanup - removes the scratch directory at exit. */
static void fuzz_cleanup(void)
{
	if (fuzz_dir[0])
		nftw(fuzz_dir, fuzz_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* fuzz_scratch - a private directory for this process, made once. */
static const char *fuzz_scratch(void)
{
	char *dir = fuzz_dir;
	if (!dir[0]) {
		/* memory-backed when there is one: the harnesses write a file per input */
		struct stat st;
		snprintf(dir, sizeof(fuzz_dir), "%s/pgmove-fuzz-XXXXXX",
			 stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp");
		if (!mkdtemp(dir))
			abort();
		atexit(fuzz_cleanup);
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
