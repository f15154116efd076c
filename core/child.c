/* core/child.c - child processes (being written). */
#define _GNU_SOURCE
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hostpriv.h"

int pgm_child_run(pgm_call *call, const pgm_child_spec *spec, pgm_child_result *res)
{
	memset(res, 0, sizeof(*res));
	pgm_fail(call, "child.unavailable", 0, "child: not implemented yet");
	return -1;
}

void pgm_child_result_free(pgm_child_result *res)
{
	if (res == NULL)
		return;
	free(res->stderr_tail);
	res->stderr_tail = NULL;
}

char *pgm_tempfile(pgm_call *call, const char *prefix, const char *data, size_t len)
{
	pgm_fail(call, "child.unavailable", 0, "tempfile: not implemented yet");
	return NULL;
}
