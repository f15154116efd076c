/*
 * plugins/aws_region.c - the region of an AWS plugin's run configuration
 * (see aws_region.h).
 */
#include <stdlib.h>
#include <string.h>

#include "aws_region.h"

/* Written by configure before any function runs, then only read. */
static char *configured_region;

const pgm_param aws_region_config[] = {
	{"region", "string", 0, 0,
	 "AWS region of the calls that give none (default: AWS_REGION, the profile's)"},
	{NULL, NULL, 0, 0, NULL}};

const char *aws_region_arg(pgm_call *call, json_t *args)
{
	const char *r = pgm_arg_string(call, args, "region", NULL, 0);

	return r ? r : configured_region;
}

int aws_region_configure(pgm_call *call, json_t *cfg)
{
	const char *r = json_string_value(json_object_get(cfg, "region"));

	if (r && (!*r || strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(r))) {
		pgm_fail(call, "args.invalid", 0,
			 "region '%s' is not an AWS region name (like eu-west-1)", r);
		return -1;
	}
	free(configured_region);
	configured_region = r ? strdup(r) : NULL;
	return 0;
}

void aws_region_fini(void)
{
	free(configured_region);
	configured_region = NULL;
}
