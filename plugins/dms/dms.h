/*
 * plugins/dms/dms.h - what the files of the dms plugin share: the service,
 * calls through pgm_aws_json, looking resources up by identifier or ARN,
 * the normalised views, table mappings and task settings.
 */
#ifndef PGMOVE_DMS_H
#define PGMOVE_DMS_H

#include "pgmove/plugin.h"

/* The kinds of resource a reference (identifier or ARN) can name. */
typedef enum dms_kind { DMS_INSTANCE, DMS_ENDPOINT, DMS_TASK } dms_kind;

extern const pgm_aws_service dms_service;
extern const pgm_aws_service dms_cloudwatch;

const char *dms_sget(json_t *o, const char *key);
const char *dms_kind_name(dms_kind kind);

/* dms_call - one DMS action; body is stolen (may be NULL for {}). New
 * reference to the answer or NULL with the call's error set. */
json_t *dms_call(pgm_call *call, json_t *args, const char *action, json_t *body);

/* dms_find - the raw DMS object of kind named by ref (an identifier or an
 * ARN), a new reference. NULL with no error set when it does not exist; NULL
 * with the error set when AWS failed. */
json_t *dms_find(pgm_call *call, json_t *args, dms_kind kind, const char *ref);
/* dms_need - dms_find, failing "dms.ResourceNotFoundFault" naming what
 * (e.g. "task orders: source endpoint") when it does not exist. */
json_t *dms_need(pgm_call *call, json_t *args, dms_kind kind, const char *ref, const char *what);

/* dms_poll_every - the every / timeout arguments of a waiting function. */
int dms_poll_args(pgm_call *call, json_t *args, long long dflt_every, long long dflt_timeout,
		  long long *every, long long *timeout);

/* dms_mappings_build - the DMS table-mapping document for the "mappings"
 * argument (a list of rules, or DMS's own JSON as a string or object),
 * validated. task names the task in messages. New reference or NULL with
 * "args.invalid" set naming the rule. */
json_t *dms_mappings_build(pgm_call *call, json_t *mappings, const char *task);
/* dms_settings_build - task settings: sane defaults with the "settings"
 * argument merged over them. New reference or NULL with the error set. */
json_t *dms_settings_build(pgm_call *call, json_t *settings, const char *task);

/* The task functions (dms_task.c) and assessment functions. */
json_t *dms_fn_table_mappings(pgm_call *call, json_t *args);
json_t *dms_fn_task_settings(pgm_call *call, json_t *args);
json_t *dms_fn_create_task(pgm_call *call, json_t *args);
json_t *dms_fn_describe_task(pgm_call *call, json_t *args);
json_t *dms_fn_wait_task(pgm_call *call, json_t *args);
json_t *dms_fn_start_task(pgm_call *call, json_t *args);
json_t *dms_fn_stop_task(pgm_call *call, json_t *args);
json_t *dms_fn_modify_task(pgm_call *call, json_t *args);
json_t *dms_fn_reload_tables(pgm_call *call, json_t *args);
json_t *dms_fn_delete_task(pgm_call *call, json_t *args);
json_t *dms_fn_table_statistics(pgm_call *call, json_t *args);
json_t *dms_fn_cdc_latency(pgm_call *call, json_t *args);
json_t *dms_fn_replication_state(pgm_call *call, json_t *args);
json_t *dms_fn_start_assessment(pgm_call *call, json_t *args);
json_t *dms_fn_assessment_result(pgm_call *call, json_t *args);
json_t *dms_fn_wait_assessment(pgm_call *call, json_t *args);

#endif
