/*
 * plugins/aws_region.h - the region of an AWS plugin's run configuration
 * (`plugin "NAME" { region = "eu-west-1" }`), for calls that give none.
 * plugins/aws_region.c is compiled into each AWS plugin (rds_snapshot,
 * cloudwatch, dms, dynamodb), so each keeps its own.
 */
#ifndef PGMOVE_PLUGINS_AWS_REGION_H
#define PGMOVE_PLUGINS_AWS_REGION_H

#include <jansson.h>

#include "pgmove/plugin.h"

/* aws_region_config - the configuration's keys, for the descriptor's .config. */
extern const pgm_param aws_region_config[];

/* aws_region_arg - the call's "region" argument, else the configured
 * region, else NULL (the AWS layer's default: AWS_REGION, the profile's). */
const char *aws_region_arg(pgm_call *call, json_t *args);

/* aws_region_configure - the descriptor's .configure: keeps the configured
 * region after checking it looks like one. 0, or -1 with the call failed. */
int aws_region_configure(pgm_call *call, json_t *cfg);

/* aws_region_fini - the descriptor's .fini: forgets it. */
void aws_region_fini(void);

#endif
