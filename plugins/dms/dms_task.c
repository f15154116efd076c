/*
 * plugins/dms/dms_task.c - DMS replication tasks: create (adopting an
 * identical one), describe, wait, start / resume / reload, stop, modify,
 * reload tables, delete; per-table statistics; CDC latency from CloudWatch
 * (AWS/DMS CDCLatencySource, CDCLatencyTarget, CDCIncomingChanges); the
 * seed's REPLICATION_STATE derived from all of these; premigration
 * assessment runs and their individual results.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dms.h"
#include "aws_region.h"

static const char *const migration_types[] = {"full-load", "cdc", "full-load-and-cdc", NULL};

static int one_of(const char *v, const char *const *allowed)
{
	for (; v && *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return 1;
	return 0;
}

static void copy(json_t *to, const char *key, json_t *from, const char *src)
{
	json_t *v = json_object_get(from, src);

	if (v && !json_is_null(v))
		json_object_set(to, key, v);
}

static long long ival(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? (long long)json_number_value(v) : 0;
}

/* norm_task - our view of a ReplicationTask (borrowed); new object. */
static json_t *norm_task(json_t *t)
{
	json_t *o = json_object(), *st = json_object_get(t, "ReplicationTaskStats");

	copy(o, "id", t, "ReplicationTaskIdentifier");
	copy(o, "arn", t, "ReplicationTaskArn");
	copy(o, "status", t, "Status");
	copy(o, "type", t, "MigrationType");
	copy(o, "source", t, "SourceEndpointArn");
	copy(o, "target", t, "TargetEndpointArn");
	copy(o, "instance", t, "ReplicationInstanceArn");
	copy(o, "stop_reason", t, "StopReason");
	copy(o, "last_failure", t, "LastFailureMessage");
	copy(o, "recovery_checkpoint", t, "RecoveryCheckpoint");
	copy(o, "created", t, "ReplicationTaskCreationDate");
	copy(o, "started", t, "ReplicationTaskStartDate");
	if (json_is_object(st)) {
		copy(o, "full_load_percent", st, "FullLoadProgressPercent");
		copy(o, "tables_loaded", st, "TablesLoaded");
		copy(o, "tables_loading", st, "TablesLoading");
		copy(o, "tables_queued", st, "TablesQueued");
		copy(o, "tables_errored", st, "TablesErrored");
		copy(o, "elapsed_ms", st, "ElapsedTimeMillis");
		copy(o, "full_load_finished", st, "FullLoadFinishDate");
	}
	return o;
}

/* derive - the seed's REPLICATION_STATE of task t (raw, borrowed) given the
 * CDC latency (our cdc_latency result or NULL): sets state and reason on o. */
static void derive(json_t *o, json_t *t, json_t *lat, double caught_up_below)
{
	const char *status = dms_sget(t, "Status"), *stop = dms_sget(t, "StopReason");
	const char *type = dms_sget(t, "MigrationType"),
		   *failure = dms_sget(t, "LastFailureMessage");
	json_t *st = json_object_get(t, "ReplicationTaskStats");
	long long pct = ival(st, "FullLoadProgressPercent"), errored = ival(st, "TablesErrored");
	long long loading = ival(st, "TablesLoading"), queued = ival(st, "TablesQueued");
	int full_load_done = (type && strcmp(type, "cdc") == 0) ||
			     (pct >= 100 && loading == 0 && queued == 0) ||
			     json_object_get(st, "FullLoadFinishDate") != NULL;
	const char *state;
	char reason[600];

	status = status ? status : "?";
	if (strcmp(status, "failed") == 0 || errored > 0) {
		state = "REPLICATION_FAILED";
		if (strcmp(status, "failed") == 0)
			snprintf(reason, sizeof(reason), "task failed: %s",
				 failure && *failure ? failure
				 : stop		     ? stop
						     : "no message");
		else
			snprintf(reason, sizeof(reason), "%lld table(s) errored", errored);
	} else if (strcmp(status, "creating") == 0 || strcmp(status, "ready") == 0 ||
		   strcmp(status, "modifying") == 0 || strcmp(status, "deleting") == 0 ||
		   strcmp(status, "moving") == 0) {
		state = "NOT_STARTED";
		snprintf(reason, sizeof(reason), "task is %s", status);
	} else if (strcmp(status, "stopped") == 0 || strcmp(status, "stopping") == 0) {
		if (stop && (strstr(stop, "FULL_LOAD_ONLY_FINISHED") ||
			     strstr(stop, "CACHED_CHANGES_APPLIED") ||
			     strstr(stop, "CACHED_CHANGES_NOT_APPLIED") ||
			     strstr(stop, "STOPPED_AFTER_FULL_LOAD"))) {
			state = "FULL_LOAD_COMPLETE";
			snprintf(reason, sizeof(reason), "full load finished, task %s: %s", status,
				 stop);
		} else if (stop && strstr(stop, "RECOVERABLE_ERROR")) {
			state = "REPLICATION_FAILED";
			snprintf(reason, sizeof(reason), "task stopped on an error: %s%s%s", stop,
				 failure ? ": " : "", failure ? failure : "");
		} else {
			state = "STOPPED";
			snprintf(reason, sizeof(reason), "task %s%s%s", status, stop ? ": " : "",
				 stop ? stop : "");
		}
	} else if (!full_load_done) {
		state = "FULL_LOAD_RUNNING";
		snprintf(reason, sizeof(reason), "full load %lld%% (%lld loading, %lld queued)",
			 pct, loading, queued);
	} else if (type && strcmp(type, "full-load") == 0) {
		state = "FULL_LOAD_COMPLETE";
		snprintf(reason, sizeof(reason), "full load finished, task %s", status);
	} else {
		json_t *ls = json_object_get(lat, "source"), *lt = json_object_get(lat, "target");

		if (json_is_number(ls) && json_is_number(lt) &&
		    json_number_value(ls) < caught_up_below &&
		    json_number_value(lt) < caught_up_below) {
			state = "CDC_CAUGHT_UP";
			snprintf(reason, sizeof(reason),
				 "CDC latency source %.1f s, target %.1f s (< %g s)",
				 json_number_value(ls), json_number_value(lt), caught_up_below);
		} else {
			state = "CDC_ACTIVE";
			if (json_is_number(ls) && json_is_number(lt))
				snprintf(reason, sizeof(reason),
					 "CDC latency source %.1f s, target %.1f s (not < %g s)",
					 json_number_value(ls), json_number_value(lt),
					 caught_up_below);
			else
				snprintf(reason, sizeof(reason),
					 "task %s, CDC latency not known (no CloudWatch data)",
					 status);
		}
	}
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "reason", json_string(reason));
}

/* task_arg - the raw task named by the "task" argument; NULL with the error set. */
static json_t *task_arg(pgm_call *call, json_t *args, const char **ref)
{
	const char *t = pgm_arg_string(call, args, "task", NULL, 1);

	if (ref)
		*ref = t;
	if (!t)
		return NULL;
	return dms_need(call, args, DMS_TASK, t, NULL);
}

/* ---- create / modify ----------------------------------------------------------- */

json_t *dms_fn_create_task(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *iref = pgm_arg_string(call, args, "instance", NULL, 1);
	const char *sref = pgm_arg_string(call, args, "source", NULL, 1);
	const char *tref = pgm_arg_string(call, args, "target", NULL, 1);
	const char *type = pgm_arg_string(call, args, "type", "full-load-and-cdc", 0);
	const char *cdcpos = pgm_arg_string(call, args, "cdc_start_position", NULL, 0);
	json_t *maps = NULL, *sets = NULL, *inst = NULL, *src = NULL, *dst = NULL, *have = NULL;
	json_t *body = NULL, *res = NULL, *out = NULL, *tags;
	char what[300], *mtext = NULL, *stext = NULL;

	if (!id || !iref || !sref || !tref || !type || pgm_failed(call))
		return NULL;
	if (!one_of(type, migration_types))
		return pgm_fail(call, "args.invalid", 0,
				"dms: task %s: type \"%s\" must be full-load, cdc or "
				"full-load-and-cdc",
				id, type);
	/* Everything the caller gave is checked before anything is sent. */
	maps = dms_mappings_build(call, json_object_get(args, "mappings"), id);
	if (!maps)
		return NULL;
	sets = dms_settings_build(call, json_object_get(args, "settings"), id);
	if (!sets)
		goto done;
	snprintf(what, sizeof(what), "task %s: replication instance", id);
	inst = dms_need(call, args, DMS_INSTANCE, iref, what);
	if (!inst)
		goto done;
	snprintf(what, sizeof(what), "task %s: source endpoint", id);
	src = dms_need(call, args, DMS_ENDPOINT, sref, what);
	if (!src)
		goto done;
	snprintf(what, sizeof(what), "task %s: target endpoint", id);
	dst = dms_need(call, args, DMS_ENDPOINT, tref, what);
	if (!dst)
		goto done;
	if (strcasecmp(dms_sget(src, "EndpointType") ? dms_sget(src, "EndpointType") : "",
		       "source") != 0) {
		pgm_fail(call, "args.invalid", 0, "dms: task %s: endpoint %s is not a source", id,
			 sref);
		goto done;
	}
	if (strcasecmp(dms_sget(dst, "EndpointType") ? dms_sget(dst, "EndpointType") : "",
		       "target") != 0) {
		pgm_fail(call, "args.invalid", 0, "dms: task %s: endpoint %s is not a target", id,
			 tref);
		goto done;
	}
	have = dms_find(call, args, DMS_TASK, id);
	if (pgm_failed(call))
		goto done;
	if (have) {
		json_t *hm = json_loads(
			dms_sget(have, "TableMappings") ? dms_sget(have, "TableMappings") : "null",
			0, NULL);
		char diff[600] = "";
		size_t used = 0;
		static const char *const keys[][2] = {
			{"SourceEndpointArn", "source endpoint"},
			{"TargetEndpointArn", "target endpoint"},
			{"ReplicationInstanceArn", "replication instance"},
			{"MigrationType", "migration type"}};
		json_t *want[4];

		want[0] = json_object_get(src, "EndpointArn");
		want[1] = json_object_get(dst, "EndpointArn");
		want[2] = json_object_get(inst, "ReplicationInstanceArn");
		want[3] = json_string(type);
		for (int k = 0; k < 4; k++)
			if (!json_equal(json_object_get(have, keys[k][0]), want[k]) &&
			    used < sizeof(diff))
				used += (size_t)snprintf(
					diff + used, sizeof(diff) - used, "%s%s is %s, not %s",
					used ? "; " : "", keys[k][1],
					dms_sget(have, keys[k][0]) ? dms_sget(have, keys[k][0])
								   : "?",
					json_string_value(want[k]));
		json_decref(want[3]);
		if (!json_equal(hm, maps) && used < sizeof(diff))
			used += (size_t)snprintf(diff + used, sizeof(diff) - used,
						 "%stable mappings differ", used ? "; " : "");
		json_decref(hm);
		if (used) {
			pgm_fail(call, "dms.conflict", 0,
				 "dms: task %s exists with other settings: %s; delete it or pick "
				 "another id",
				 id, diff);
			goto done;
		}
		out = norm_task(have);
		derive(out, have, NULL, 10);
		json_object_set_new(out, "adopted", json_true());
		goto done;
	}
	mtext = json_dumps(maps, JSON_COMPACT | JSON_SORT_KEYS);
	stext = json_dumps(sets, JSON_COMPACT | JSON_SORT_KEYS);
	body = json_pack("{s:s,s:O,s:O,s:O,s:s,s:s,s:s}", "ReplicationTaskIdentifier", id,
			 "SourceEndpointArn", json_object_get(src, "EndpointArn"),
			 "TargetEndpointArn", json_object_get(dst, "EndpointArn"),
			 "ReplicationInstanceArn", json_object_get(inst, "ReplicationInstanceArn"),
			 "MigrationType", type, "TableMappings", mtext ? mtext : "",
			 "ReplicationTaskSettings", stext ? stext : "");
	if (cdcpos)
		json_object_set_new(body, "CdcStartPosition", json_string(cdcpos));
	tags = json_object_get(args, "tags");
	if (json_is_object(tags) && json_object_size(tags)) {
		const char *k;
		json_t *v, *l = json_array();

		json_object_foreach(tags, k, v) json_array_append_new(
			l, json_pack("{s:s,s:s}", "Key", k, "Value",
				     json_is_string(v) ? json_string_value(v) : ""));
		json_object_set_new(body, "Tags", l);
	}
	res = dms_call(call, args, "CreateReplicationTask", body);
	if (!res)
		goto done;
	if (!json_is_object(json_object_get(res, "ReplicationTask"))) {
		pgm_fail(call, "aws.bad_response", 0,
			 "dms CreateReplicationTask: no ReplicationTask in the answer");
		goto done;
	}
	out = norm_task(json_object_get(res, "ReplicationTask"));
	derive(out, json_object_get(res, "ReplicationTask"), NULL, 10);
	json_object_set_new(out, "adopted", json_false());
done:
	free(mtext);
	free(stext);
	json_decref(res);
	json_decref(have);
	json_decref(inst);
	json_decref(src);
	json_decref(dst);
	json_decref(maps);
	json_decref(sets);
	return out;
}

json_t *dms_fn_modify_task(pgm_call *call, json_t *args)
{
	const char *ref, *type = pgm_arg_string(call, args, "type", NULL, 0);
	json_t *t, *body, *res, *out, *m = json_object_get(args, "mappings");
	json_t *s = json_object_get(args, "settings");
	char *text;

	if (pgm_failed(call))
		return NULL;
	if (type && !one_of(type, migration_types))
		return pgm_fail(call, "args.invalid", 0,
				"dms: type \"%s\" must be full-load, cdc or full-load-and-cdc",
				type);
	if (!type && !m && !s)
		return pgm_fail(call, "args.invalid", 0,
				"modify_task: nothing to change (type, mappings, settings)");
	t = task_arg(call, args, &ref);
	if (!t)
		return NULL;
	body = json_pack("{s:O}", "ReplicationTaskArn", json_object_get(t, "ReplicationTaskArn"));
	json_decref(t);
	if (type)
		json_object_set_new(body, "MigrationType", json_string(type));
	if (m) {
		json_t *doc = dms_mappings_build(call, m, ref);

		if (!doc) {
			json_decref(body);
			return NULL;
		}
		text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		json_object_set_new(body, "TableMappings", json_string(text ? text : ""));
		free(text);
		json_decref(doc);
	}
	if (s) {
		json_t *doc = dms_settings_build(call, s, ref);

		if (!doc) {
			json_decref(body);
			return NULL;
		}
		text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		json_object_set_new(body, "ReplicationTaskSettings", json_string(text ? text : ""));
		free(text);
		json_decref(doc);
	}
	res = dms_call(call, args, "ModifyReplicationTask", body);
	if (!res)
		return NULL;
	out = norm_task(json_object_get(res, "ReplicationTask"));
	json_decref(res);
	return out;
}

/* ---- reading ------------------------------------------------------------------- */

/* resource_id - the last part of an ARN ("...:task:ABC" -> "ABC"). */
static const char *resource_id(const char *arn)
{
	const char *p = arn ? strrchr(arn, ':') : NULL;

	return p ? p + 1 : arn ? arn : "";
}

/* latency - CDCLatencySource / CDCLatencyTarget / CDCIncomingChanges of
 * task t (raw, borrowed), newest values in the window; new object or NULL. */
static json_t *latency(pgm_call *call, json_t *args, json_t *t)
{
	static const char *const metrics[] = {"CDCLatencySource", "CDCLatencyTarget",
					      "CDCIncomingChanges"};
	static const char *const keys[] = {"source", "target", "incoming_changes"};
	long long window_ms, period_ms;
	json_t *inst, *params, *res, *results, *out;
	const char *iid;
	char st[32], en[32], name[160];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	if (pgm_arg_duration_ms(call, args, "window", 300000, 0, &window_ms) != 0 ||
	    pgm_arg_duration_ms(call, args, "period", 60000, 0, &period_ms) != 0)
		return NULL;
	if (period_ms < 1000 || period_ms % 1000)
		return pgm_fail(call, "args.invalid", 0, "period must be whole seconds");
	inst = dms_need(call, args, DMS_INSTANCE, dms_sget(t, "ReplicationInstanceArn"),
			"the task's replication instance");
	if (!inst)
		return NULL;
	iid = dms_sget(inst, "ReplicationInstanceIdentifier");
	gmtime_r(&(time_t){now - (time_t)(window_ms / 1000)}, &tm);
	strftime(st, sizeof(st), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gmtime_r(&(time_t){now + 1}, &tm);
	strftime(en, sizeof(en), "%Y-%m-%dT%H:%M:%SZ", &tm);
	params = json_pack("{s:s,s:s}", "StartTime", st, "EndTime", en);
	for (int m = 0; m < 3; m++) {
		char pre[64], id[8];

		snprintf(pre, sizeof(pre), "MetricDataQueries.member.%d", m + 1);
		snprintf(id, sizeof(id), "m%d", m);
		snprintf(name, sizeof(name), "%s.Id", pre);
		json_object_set_new(params, name, json_string(id));
		snprintf(name, sizeof(name), "%s.MetricStat.Metric.Namespace", pre);
		json_object_set_new(params, name, json_string("AWS/DMS"));
		snprintf(name, sizeof(name), "%s.MetricStat.Metric.MetricName", pre);
		json_object_set_new(params, name, json_string(metrics[m]));
		snprintf(name, sizeof(name), "%s.MetricStat.Metric.Dimensions.member.1.Name", pre);
		json_object_set_new(params, name, json_string("ReplicationInstanceIdentifier"));
		snprintf(name, sizeof(name), "%s.MetricStat.Metric.Dimensions.member.1.Value", pre);
		json_object_set_new(params, name, json_string(iid ? iid : ""));
		snprintf(name, sizeof(name), "%s.MetricStat.Metric.Dimensions.member.2.Name", pre);
		json_object_set_new(params, name, json_string("ReplicationTaskIdentifier"));
		snprintf(name, sizeof(name), "%s.MetricStat.Metric.Dimensions.member.2.Value", pre);
		json_object_set_new(params, name,
				    json_string(resource_id(dms_sget(t, "ReplicationTaskArn"))));
		snprintf(name, sizeof(name), "%s.MetricStat.Period", pre);
		json_object_set_new(params, name, json_integer(period_ms / 1000));
		snprintf(name, sizeof(name), "%s.MetricStat.Stat", pre);
		json_object_set_new(params, name, json_string("Maximum"));
	}
	json_decref(inst);
	res = pgm_aws_query(call, &dms_cloudwatch, aws_region_arg(call, args), "GetMetricData",
			    params);
	json_decref(params);
	if (!res)
		return NULL;
	out = json_pack("{s:n,s:n,s:n,s:b}", "source", "target", "incoming_changes", "has_data", 0);
	results = pgm_aws_list(json_object_get(res, "MetricDataResults"));
	json_array_foreach(results, i, t)
	{
		const char *id = dms_sget(t, "Id");
		json_t *vals = pgm_aws_list(json_object_get(t, "Values"));
		json_t *ts = pgm_aws_list(json_object_get(t, "Timestamps"));
		const char *v0 = json_string_value(json_array_get(vals, 0));

		if (id && id[0] == 'm' && id[1] >= '0' && id[1] <= '2' && v0) {
			json_object_set_new(out, keys[id[1] - '0'], json_real(strtod(v0, NULL)));
			json_object_set_new(out, "has_data", json_true());
			if (json_array_get(ts, 0))
				json_object_set(out, "timestamp", json_array_get(ts, 0));
		}
		json_decref(vals);
		json_decref(ts);
	}
	json_decref(results);
	json_decref(res);
	return out;
}

json_t *dms_fn_cdc_latency(pgm_call *call, json_t *args)
{
	json_t *t = task_arg(call, args, NULL), *out;

	if (!t)
		return NULL;
	out = latency(call, args, t);
	if (out)
		json_object_set(out, "task", json_object_get(t, "ReplicationTaskIdentifier"));
	json_decref(t);
	return out;
}

/* describe - the task's view with its replication state; with_latency reads
 * CloudWatch when the task is in CDC. New object or NULL. */
static json_t *describe(pgm_call *call, json_t *args, int with_latency)
{
	json_t *t = task_arg(call, args, NULL), *o, *lat = NULL;
	double below;
	const char *state;

	if (!t)
		return NULL;
	if (pgm_arg_number(call, args, "caught_up_below", 10, 0, &below) != 0) {
		json_decref(t);
		return NULL;
	}
	o = norm_task(t);
	derive(o, t, NULL, below);
	state = dms_sget(o, "state");
	if (with_latency && strcmp(state, "CDC_ACTIVE") == 0) {
		lat = latency(call, args, t);
		if (!lat) {
			json_decref(o);
			json_decref(t);
			return NULL;
		}
		derive(o, t, lat, below);
		json_object_set(o, "latency_source", json_object_get(lat, "source"));
		json_object_set(o, "latency_target", json_object_get(lat, "target"));
		json_object_set(o, "incoming_changes", json_object_get(lat, "incoming_changes"));
		json_decref(lat);
	}
	json_decref(t);
	return o;
}

json_t *dms_fn_describe_task(pgm_call *call, json_t *args)
{
	return describe(call, args, 0);
}

json_t *dms_fn_replication_state(pgm_call *call, json_t *args)
{
	int with;

	if (pgm_arg_bool(call, args, "latency", 1, &with) != 0)
		return NULL;
	return describe(call, args, with);
}

/* wanted - whether v (a string) is in want (a string or an array of them). */
static int wanted(json_t *want, const char *v)
{
	json_t *x;
	size_t i;

	if (!v)
		return 0;
	if (json_is_string(want))
		return strcmp(json_string_value(want), v) == 0;
	json_array_foreach(want, i, x) if (json_is_string(x) &&
					   strcmp(json_string_value(x), v) == 0) return 1;
	return 0;
}

json_t *dms_fn_wait_task(pgm_call *call, json_t *args)
{
	json_t *status = json_object_get(args, "status"), *state = json_object_get(args, "state");
	json_t *dflt = NULL;
	long long every, timeout, start = pgm_now_ms();

	if (dms_poll_args(call, args, 30000, 86400000, &every, &timeout) != 0)
		return NULL;
	if ((status && !json_is_string(status) && !json_is_array(status)) ||
	    (state && !json_is_string(state) && !json_is_array(state)))
		return pgm_fail(call, "args.invalid", 0,
				"wait_task: status and state are a string or a list of them");
	if (!status && !state)
		status = dflt = json_string("ready");
	for (;;) {
		json_t *o = describe(call, args, state != NULL);
		const char *st, *rs;

		if (!o)
			break;
		st = dms_sget(o, "status");
		rs = dms_sget(o, "state");
		if ((status && wanted(status, st)) || (state && wanted(state, rs))) {
			json_decref(dflt);
			return o;
		}
		if (st && strcmp(st, "failed") == 0) {
			pgm_fail(call, "dms.task_failed", 0, "dms: task %s failed: %s",
				 dms_sget(o, "id"),
				 dms_sget(o, "last_failure")  ? dms_sget(o, "last_failure")
				 : dms_sget(o, "stop_reason") ? dms_sget(o, "stop_reason")
							      : "no message");
			json_decref(o);
			break;
		}
		if (state && rs && strcmp(rs, "REPLICATION_FAILED") == 0) {
			pgm_fail(call, "dms.task_failed", 0, "dms: task %s: %s", dms_sget(o, "id"),
				 dms_sget(o, "reason"));
			json_decref(o);
			break;
		}
		pgm_progress(call, json_number_value(json_object_get(o, "full_load_percent")), 100,
			     "%", rs ? rs : "?");
		if (pgm_now_ms() - start + every > timeout) {
			pgm_fail(call, "dms.wait_timeout", 1,
				 "dms: task %s: still %s (%s) after %lld s", dms_sget(o, "id"),
				 st ? st : "?", rs ? rs : "?", timeout / 1000);
			json_decref(o);
			break;
		}
		json_decref(o);
		if (pgm_sleep_ms(call, every) != 0)
			break;
	}
	json_decref(dflt);
	return NULL;
}

/* ---- start / stop / reload / delete ------------------------------------------- */

json_t *dms_fn_start_task(pgm_call *call, json_t *args)
{
	static const char *const types[] = {"start-replication", "resume-processing",
					    "reload-target", NULL};
	const char *type = pgm_arg_string(call, args, "type", "start-replication", 0);
	const char *cdcpos = pgm_arg_string(call, args, "cdc_start_position", NULL, 0);
	const char *st;
	json_t *t, *body, *res, *out;

	if (!type || pgm_failed(call))
		return NULL;
	if (!one_of(type, types))
		return pgm_fail(call, "args.invalid", 0,
				"start_task: type \"%s\" must be start-replication, "
				"resume-processing or reload-target",
				type);
	t = task_arg(call, args, NULL);
	if (!t)
		return NULL;
	st = dms_sget(t, "Status");
	if (st && (strcmp(st, "running") == 0 || strcmp(st, "starting") == 0) &&
	    strcmp(type, "reload-target") != 0) {
		/* Re-run after a crash: it is started already. */
		out = norm_task(t);
		derive(out, t, NULL, 10);
		json_object_set_new(out, "already", json_true());
		json_decref(t);
		return out;
	}
	body = json_pack("{s:O,s:s}", "ReplicationTaskArn",
			 json_object_get(t, "ReplicationTaskArn"), "StartReplicationTaskType",
			 type);
	json_decref(t);
	if (cdcpos)
		json_object_set_new(body, "CdcStartPosition", json_string(cdcpos));
	res = dms_call(call, args, "StartReplicationTask", body);
	if (!res)
		return NULL;
	out = norm_task(json_object_get(res, "ReplicationTask"));
	derive(out, json_object_get(res, "ReplicationTask"), NULL, 10);
	json_object_set_new(out, "already", json_false());
	json_object_set_new(out, "started_as", json_string(type));
	json_decref(res);
	return out;
}

json_t *dms_fn_stop_task(pgm_call *call, json_t *args)
{
	json_t *t = task_arg(call, args, NULL), *res, *out;
	const char *st;

	if (!t)
		return NULL;
	st = dms_sget(t, "Status");
	if (st && (strcmp(st, "stopped") == 0 || strcmp(st, "stopping") == 0 ||
		   strcmp(st, "ready") == 0 || strcmp(st, "failed") == 0)) {
		out = norm_task(t);
		json_object_set_new(out, "already", json_true());
		json_decref(t);
		return out;
	}
	res = dms_call(
		call, args, "StopReplicationTask",
		json_pack("{s:O}", "ReplicationTaskArn", json_object_get(t, "ReplicationTaskArn")));
	json_decref(t);
	if (!res)
		return NULL;
	out = norm_task(json_object_get(res, "ReplicationTask"));
	json_object_set_new(out, "already", json_false());
	json_decref(res);
	return out;
}

json_t *dms_fn_reload_tables(pgm_call *call, json_t *args)
{
	const char *opt = pgm_arg_string(call, args, "option", "data-reload", 0);
	json_t *tables = json_object_get(args, "tables"), *list, *x, *t, *res, *out;
	size_t i;

	if (!opt || pgm_failed(call))
		return NULL;
	if (strcmp(opt, "data-reload") != 0 && strcmp(opt, "validate-only") != 0)
		return pgm_fail(call, "args.invalid", 0,
				"reload_tables: option \"%s\" must be data-reload or validate-only",
				opt);
	if (!json_is_array(tables) || json_array_size(tables) == 0)
		return pgm_fail(call, "args.invalid", 0,
				"reload_tables: tables must be a non-empty list");
	list = json_array();
	json_array_foreach(tables, i, x)
	{
		const char *s = NULL, *n = NULL;
		char buf[256];

		if (json_is_string(x)) {
			const char *dot = strchr(json_string_value(x), '.');

			snprintf(buf, sizeof(buf), "%s", json_string_value(x));
			if (dot) {
				buf[dot - json_string_value(x)] = 0;
				s = buf;
				n = buf + (dot - json_string_value(x)) + 1;
			}
		} else {
			s = dms_sget(x, "schema");
			n = dms_sget(x, "table");
		}
		if (!s || !n || !*s || !*n) {
			json_decref(list);
			return pgm_fail(call, "args.invalid", 0,
					"reload_tables: tables[%zu] must be \"schema.table\" or "
					"{schema =, table =}",
					i + 1);
		}
		json_array_append_new(list,
				      json_pack("{s:s,s:s}", "SchemaName", s, "TableName", n));
	}
	t = task_arg(call, args, NULL);
	if (!t) {
		json_decref(list);
		return NULL;
	}
	res = dms_call(call, args, "ReloadTables",
		       json_pack("{s:O,s:O,s:s}", "ReplicationTaskArn",
				 json_object_get(t, "ReplicationTaskArn"), "TablesToReload", list,
				 "ReloadOption", opt));
	out = res ? json_pack("{s:O,s:o,s:s}", "task",
			      json_object_get(t, "ReplicationTaskIdentifier"), "tables", list,
			      "option", opt)
		  : NULL;
	if (!res)
		json_decref(list);
	json_decref(res);
	json_decref(t);
	return out;
}

json_t *dms_fn_delete_task(pgm_call *call, json_t *args)
{
	const char *ref = pgm_arg_string(call, args, "task", NULL, 1);
	json_t *t, *res, *out;

	if (!ref)
		return NULL;
	t = dms_find(call, args, DMS_TASK, ref);
	if (!t)
		return pgm_failed(call) ? NULL
					: json_pack("{s:s,s:b,s:s}", "id", ref, "existed", 0,
						    "status", "deleted");
	res = dms_call(
		call, args, "DeleteReplicationTask",
		json_pack("{s:O}", "ReplicationTaskArn", json_object_get(t, "ReplicationTaskArn")));
	json_decref(t);
	if (!res)
		return NULL;
	out = norm_task(json_object_get(res, "ReplicationTask"));
	json_object_set_new(out, "existed", json_true());
	json_decref(res);
	return out;
}

/* ---- table statistics ---------------------------------------------------------- */

json_t *dms_fn_table_statistics(pgm_call *call, json_t *args)
{
	const char *schema = pgm_arg_string(call, args, "schema", NULL, 0);
	const char *table = pgm_arg_string(call, args, "table", NULL, 0);
	json_t *t, *tables = json_array(), *errored = json_array(), *out;
	char *marker = NULL;
	int pages = 0, loaded = 0, loading = 0, validated = 0, other = 0;
	long long vfailed = 0, vpending = 0, vsusp = 0, rows = 0;

	if (pgm_failed(call) || !(t = task_arg(call, args, NULL))) {
		json_decref(tables);
		json_decref(errored);
		return NULL;
	}
	do {
		json_t *body =
			json_pack("{s:O,s:i}", "ReplicationTaskArn",
				  json_object_get(t, "ReplicationTaskArn"), "MaxRecords", 500);
		json_t *f = json_array(), *res, *x;
		size_t i;

		if (schema)
			json_array_append_new(f, json_pack("{s:s,s:[s]}", "Name", "schema-name",
							   "Values", schema));
		if (table)
			json_array_append_new(
				f, json_pack("{s:s,s:[s]}", "Name", "table-name", "Values", table));
		if (json_array_size(f))
			json_object_set_new(body, "Filters", f);
		else
			json_decref(f);
		if (marker)
			json_object_set_new(body, "Marker", json_string(marker));
		free(marker);
		marker = NULL;
		res = dms_call(call, args, "DescribeTableStatistics", body);
		if (!res)
			goto fail;
		json_array_foreach(json_object_get(res, "TableStatistics"), i, x)
		{
			const char *ts = dms_sget(x, "TableState"),
				   *vs = dms_sget(x, "ValidationState");
			json_t *o = json_object();
			char name[300];

			copy(o, "schema", x, "SchemaName");
			copy(o, "table", x, "TableName");
			copy(o, "state", x, "TableState");
			copy(o, "full_load_rows", x, "FullLoadRows");
			copy(o, "full_load_error_rows", x, "FullLoadErrorRows");
			copy(o, "inserts", x, "Inserts");
			copy(o, "updates", x, "Updates");
			copy(o, "deletes", x, "Deletes");
			copy(o, "ddls", x, "Ddls");
			copy(o, "validation_state", x, "ValidationState");
			copy(o, "validation_pending", x, "ValidationPendingRecords");
			copy(o, "validation_failed", x, "ValidationFailedRecords");
			copy(o, "validation_suspended", x, "ValidationSuspendedRecords");
			copy(o, "last_update", x, "LastUpdateTime");
			json_array_append_new(tables, o);
			rows += ival(x, "FullLoadRows");
			vfailed += ival(x, "ValidationFailedRecords");
			vpending += ival(x, "ValidationPendingRecords");
			vsusp += ival(x, "ValidationSuspendedRecords");
			if (ts && strcmp(ts, "Table completed") == 0)
				loaded++;
			else if (ts &&
				 (strcmp(ts, "Before load") == 0 || strcmp(ts, "Full load") == 0))
				loading++;
			else if (ts && strcmp(ts, "Table error") == 0) {
				snprintf(name, sizeof(name), "%s.%s",
					 dms_sget(x, "SchemaName") ? dms_sget(x, "SchemaName")
								   : "?",
					 dms_sget(x, "TableName") ? dms_sget(x, "TableName") : "?");
				json_array_append_new(errored, json_string(name));
			} else
				other++;
			if (vs && strcmp(vs, "Validated") == 0)
				validated++;
		}
		if (dms_sget(res, "Marker") && *dms_sget(res, "Marker"))
			marker = strdup(dms_sget(res, "Marker"));
		json_decref(res);
		pages++;
	} while (marker && pages < 100);
	if (marker) {
		pgm_fail(call, "aws.too_many_pages", 0,
			 "dms DescribeTableStatistics: more than 100 pages");
		goto fail;
	}
	out = json_pack("{s:O,s:o,s:i,s:i,s:i,s:i,s:o,s:i,s:I,s:I,s:I,s:I,s:b}", "task",
			json_object_get(t, "ReplicationTaskIdentifier"), "tables", tables, "count",
			(int)json_array_size(tables), "loaded", loaded, "loading", loading, "other",
			other, "errored", errored, "validated", validated, "validation_failed",
			(json_int_t)vfailed, "validation_pending", (json_int_t)vpending,
			"validation_suspended", (json_int_t)vsusp, "full_load_rows",
			(json_int_t)rows, "ok",
			json_array_size(errored) == 0 && vfailed == 0 && vsusp == 0);
	json_decref(t);
	return out;
fail:
	free(marker);
	json_decref(t);
	json_decref(tables);
	json_decref(errored);
	return NULL;
}

/* ---- premigration assessments ------------------------------------------------- */

static json_t *norm_run(json_t *r)
{
	json_t *o = json_object(), *p = json_object_get(r, "AssessmentProgress");

	copy(o, "arn", r, "ReplicationTaskAssessmentRunArn");
	copy(o, "name", r, "AssessmentRunName");
	copy(o, "status", r, "Status");
	copy(o, "task_arn", r, "ReplicationTaskArn");
	copy(o, "last_failure", r, "LastFailureMessage");
	copy(o, "bucket", r, "ResultLocationBucket");
	copy(o, "folder", r, "ResultLocationFolder");
	copy(o, "created", r, "ReplicationTaskAssessmentRunCreationDate");
	if (json_is_object(p)) {
		copy(o, "assessments_total", p, "IndividualAssessmentCount");
		copy(o, "assessments_completed", p, "IndividualAssessmentCompletedCount");
	}
	return o;
}

/* runs - the assessment runs matching one filter; new array or NULL. */
static json_t *runs(pgm_call *call, json_t *args, const char *filter, const char *value)
{
	json_t *res = dms_call(
		       call, args, "DescribeReplicationTaskAssessmentRuns",
		       json_pack("{s:[{s:s,s:[s]}]}", "Filters", "Name", filter, "Values", value)),
	       *l;

	if (!res) {
		if (strcmp(pgm_error_code(call), "dms.ResourceNotFoundFault") == 0) {
			pgm_clear_error(call);
			return json_array();
		}
		return NULL;
	}
	l = json_object_get(res, "ReplicationTaskAssessmentRuns");
	l = json_is_array(l) ? json_incref(l) : json_array();
	json_decref(res);
	return l;
}

json_t *dms_fn_start_assessment(pgm_call *call, json_t *args)
{
	const char *bucket = pgm_arg_string(call, args, "bucket", NULL, 1);
	const char *role = pgm_arg_string(call, args, "role", NULL, 1);
	const char *name = pgm_arg_string(call, args, "name", NULL, 0);
	const char *folder = pgm_arg_string(call, args, "folder", NULL, 0);
	json_t *t, *have, *r, *body, *res, *out = NULL;
	char dflt[300];
	size_t i;

	if (!bucket || !role || pgm_failed(call))
		return NULL;
	if (strncmp(role, "arn:", 4) != 0)
		return pgm_fail(call, "args.invalid", 0,
				"start_assessment: role must be an IAM role ARN, not \"%s\"", role);
	t = task_arg(call, args, NULL);
	if (!t)
		return NULL;
	if (!name) {
		snprintf(dflt, sizeof(dflt), "%s-assessment",
			 dms_sget(t, "ReplicationTaskIdentifier"));
		name = dflt;
	}
	have = runs(call, args, "replication-task-arn", dms_sget(t, "ReplicationTaskArn"));
	if (!have)
		goto done;
	json_array_foreach(have, i, r)
	{
		if (dms_sget(r, "AssessmentRunName") &&
		    strcmp(dms_sget(r, "AssessmentRunName"), name) == 0) {
			out = norm_run(r);
			json_object_set_new(out, "adopted", json_true());
			break;
		}
	}
	json_decref(have);
	if (out)
		goto done;
	body = json_pack("{s:O,s:s,s:s,s:s}", "ReplicationTaskArn",
			 json_object_get(t, "ReplicationTaskArn"), "ServiceAccessRoleArn", role,
			 "ResultLocationBucket", bucket, "AssessmentRunName", name);
	if (folder)
		json_object_set_new(body, "ResultLocationFolder", json_string(folder));
	if (json_is_array(json_object_get(args, "include")))
		json_object_set(body, "IncludeOnly", json_object_get(args, "include"));
	if (json_is_array(json_object_get(args, "exclude")))
		json_object_set(body, "Exclude", json_object_get(args, "exclude"));
	res = dms_call(call, args, "StartReplicationTaskAssessmentRun", body);
	if (!res)
		goto done;
	out = norm_run(json_object_get(res, "ReplicationTaskAssessmentRun"));
	json_object_set_new(out, "adopted", json_false());
	json_decref(res);
done:
	json_decref(t);
	return out;
}

static int run_done(const char *st)
{
	static const char *const running[] = {"provisioning", "running", "starting", "cancelling",
					      "deleting",     "pending", NULL};
	return st && !one_of(st, running);
}

/* result - the run named by args ("run" ARN, or "task" [+ "name"]) with its
 * individual assessments; new object or NULL. */
static json_t *result(pgm_call *call, json_t *args)
{
	const char *run = pgm_arg_string(call, args, "run", NULL, 0);
	const char *name = pgm_arg_string(call, args, "name", NULL, 0);
	json_t *l, *r = NULL, *x, *out, *list, *blocking, *warnings, *res;
	size_t i;
	char *marker = NULL;
	int pages = 0;

	if (pgm_failed(call))
		return NULL;
	if (run) {
		l = runs(call, args, "replication-task-assessment-run-arn", run);
	} else if (json_object_get(args, "task")) {
		json_t *t = task_arg(call, args, NULL);

		if (!t)
			return NULL;
		l = runs(call, args, "replication-task-arn", dms_sget(t, "ReplicationTaskArn"));
		json_decref(t);
	} else {
		return pgm_fail(call, "args.invalid", 0, "give run (an ARN) or task");
	}
	if (!l)
		return NULL;
	json_array_foreach(l, i, x)
	{
		if (name && !(dms_sget(x, "AssessmentRunName") &&
			      strcmp(dms_sget(x, "AssessmentRunName"), name) == 0))
			continue;
		if (!r || json_number_value(
				  json_object_get(x, "ReplicationTaskAssessmentRunCreationDate")) >=
				  json_number_value(json_object_get(
					  r, "ReplicationTaskAssessmentRunCreationDate")))
			r = x;
	}
	if (!r) {
		json_decref(l);
		return pgm_fail(call, "dms.ResourceNotFoundFault", 0,
				"dms: no premigration assessment run %s%s%s", run ? run : "",
				name ? " named " : "", name ? name : "");
	}
	out = norm_run(r);
	json_decref(l);
	list = json_array();
	blocking = json_array();
	warnings = json_array();
	do {
		json_t *body = json_pack("{s:[{s:s,s:[O]}],s:i}", "Filters", "Name",
					 "replication-task-assessment-run-arn", "Values",
					 json_object_get(out, "arn"), "MaxRecords", 100);

		if (marker)
			json_object_set_new(body, "Marker", json_string(marker));
		free(marker);
		marker = NULL;
		res = dms_call(call, args, "DescribeReplicationTaskIndividualAssessments", body);
		if (!res) {
			if (strcmp(pgm_error_code(call), "dms.ResourceNotFoundFault") != 0) {
				json_decref(out);
				json_decref(list);
				json_decref(blocking);
				json_decref(warnings);
				return NULL;
			}
			pgm_clear_error(call);
			break;
		}
		json_array_foreach(json_object_get(res, "ReplicationTaskIndividualAssessments"), i,
				   x)
		{
			const char *n = dms_sget(x, "IndividualAssessmentName");
			const char *st = dms_sget(x, "Status");

			json_array_append_new(list, json_pack("{s:s,s:s}", "name", n ? n : "?",
							      "status", st ? st : "?"));
			if (st && (strcmp(st, "failed") == 0 || strcmp(st, "error") == 0))
				json_array_append_new(blocking, json_string(n ? n : "?"));
			else if (st && strcmp(st, "warning") == 0)
				json_array_append_new(warnings, json_string(n ? n : "?"));
		}
		if (dms_sget(res, "Marker") && *dms_sget(res, "Marker"))
			marker = strdup(dms_sget(res, "Marker"));
		json_decref(res);
	} while (marker && ++pages < 100);
	free(marker);
	{
		const char *st = dms_sget(out, "status");
		int done = run_done(st);
		int passed = done && json_array_size(blocking) == 0 && st &&
			     (strcmp(st, "passed") == 0 || strcmp(st, "warning") == 0);

		json_object_set_new(out, "done", json_boolean(done));
		json_object_set_new(out, "passed", json_boolean(passed));
	}
	json_object_set_new(out, "assessments", list);
	json_object_set_new(out, "blocking", blocking);
	json_object_set_new(out, "warnings", warnings);
	return out;
}

json_t *dms_fn_assessment_result(pgm_call *call, json_t *args)
{
	return result(call, args);
}

json_t *dms_fn_wait_assessment(pgm_call *call, json_t *args)
{
	long long every, timeout, start = pgm_now_ms();
	int fail_blocking;

	if (dms_poll_args(call, args, 30000, 7200000, &every, &timeout) != 0 ||
	    pgm_arg_bool(call, args, "fail_on_blocking", 1, &fail_blocking) != 0)
		return NULL;
	for (;;) {
		json_t *o = result(call, args);

		if (!o)
			return NULL;
		if (json_is_true(json_object_get(o, "done"))) {
			if (fail_blocking && !json_is_true(json_object_get(o, "passed"))) {
				json_t *b = json_object_get(o, "blocking"), *x;
				char list[800] = "";
				size_t i, used = 0;

				json_array_foreach(b, i, x) if (used < sizeof(list)) used +=
					(size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 i ? ", " : "", json_string_value(x));
				pgm_fail(call, "dms.assessment_failed", 0,
					 "dms: premigration assessment %s is %s%s%s%s%s",
					 dms_sget(o, "name"), dms_sget(o, "status"),
					 used ? "; blocking: " : "", list,
					 dms_sget(o, "last_failure") ? "; " : "",
					 dms_sget(o, "last_failure") ? dms_sget(o, "last_failure")
								     : "");
				json_decref(o);
				return NULL;
			}
			return o;
		}
		if (pgm_now_ms() - start + every > timeout) {
			pgm_fail(call, "dms.wait_timeout", 1,
				 "dms: premigration assessment %s still %s after %lld s",
				 dms_sget(o, "name"), dms_sget(o, "status"), timeout / 1000);
			json_decref(o);
			return NULL;
		}
		pgm_progress(call, json_number_value(json_object_get(o, "assessments_completed")),
			     json_number_value(json_object_get(o, "assessments_total")),
			     "assessments", dms_sget(o, "status"));
		json_decref(o);
		if (pgm_sleep_ms(call, every) != 0)
			return NULL;
	}
}
