/*
 * plugins/cloudwatch/cloudwatch.c - Amazon CloudWatch through its Query API
 * (pgm_aws_query): putting metrics (batched within PutMetricData's limits of
 * 1000 metrics and 1 MB per request), reading them with GetMetricData
 * (statistic, period, window), putting, describing and deleting alarms, the
 * state of a set of alarms as one result a gate can read, and the CloudWatch
 * Logs metric filters (JSON 1.1 protocol) that alarms on log lines need.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgmove/plugin.h"
#include "aws_region.h"

static const pgm_aws_service cloudwatch = {
	.name = "monitoring",
	.endpoint_id = "monitoring",
	.env_id = "CLOUDWATCH",
	.api_version = "2010-08-01",
	.json_prefix = NULL,
};

/* CloudWatch Logs (JSON 1.1): the metric filters that turn log lines into
 * the metrics alarms watch. */
static const pgm_aws_service logs = {
	.name = "logs",
	.endpoint_id = "logs",
	.env_id = "CLOUDWATCH_LOGS",
	.api_version = "2014-03-28",
	.json_prefix = "Logs_20140328",
};

#define MAX_METRICS_PER_REQUEST 1000
#define MAX_BODY_BYTES (900 * 1024) /* under the 1 MB request limit */

static const char *sget(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void iso_time(time_t t, char buf[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* dims_params - PREFIX.Dimensions.member.N.Name/Value from {name: value};
 * -1 with the error set on a bad value. Returns the number of bytes added
 * (roughly) through *bytes. */
static int dims_params(pgm_call *call, json_t *dims, const char *prefix, json_t *params,
		       size_t *bytes)
{
	const char *k;
	json_t *v;
	int i = 0;
	char name[160];

	if (!dims || json_is_null(dims))
		return 0;
	if (!json_is_object(dims)) {
		pgm_fail(call, "args.invalid", 0,
			 "dimensions must be an object {DBClusterIdentifier = \"...\"}");
		return -1;
	}
	if (json_object_size(dims) > 30) {
		pgm_fail(call, "args.invalid", 0, "at most 30 dimensions per metric");
		return -1;
	}
	json_object_foreach(dims, k, v)
	{
		char *text = json_is_string(v) ? strdup(json_string_value(v))
					       : json_dumps(v, JSON_ENCODE_ANY);

		i++;
		snprintf(name, sizeof(name), "%s%sDimensions.member.%d.Name", prefix,
			 *prefix ? "." : "", i);
		json_object_set_new(params, name, json_string(k));
		snprintf(name, sizeof(name), "%s%sDimensions.member.%d.Value", prefix,
			 *prefix ? "." : "", i);
		json_object_set_new(params, name, json_string(text ? text : ""));
		if (bytes)
			*bytes += 2 * strlen(name) + strlen(k) + (text ? strlen(text) : 0) + 8;
		free(text);
	}
	return 0;
}

/* ---- put_metrics -------------------------------------------------------------- */

static int send_batch(pgm_call *call, const char *region, json_t *params)
{
	json_t *res = pgm_aws_query(call, &cloudwatch, region, "PutMetricData", params);

	if (!res)
		return -1;
	json_decref(res);
	return 0;
}

static json_t *fn_put_metrics(pgm_call *call, json_t *args)
{
	const char *ns = pgm_arg_string(call, args, "namespace", NULL, 1);
	const char *region = aws_region_arg(call, args);
	json_t *metrics = json_object_get(args, "metrics"), *m, *params = NULL, *single = NULL;
	size_t i, bytes = 0;
	int n = 0, sent = 0, requests = 0;
	char prefix[64], name[160];

	if (!ns || pgm_failed(call))
		return NULL;
	if (!metrics || json_is_null(metrics)) {
		/* The one-metric form: name, value, unit, dimensions. */
		if (!json_object_get(args, "name") ||
		    !json_is_number(json_object_get(args, "value")))
			return pgm_fail(
				call, "args.invalid", 0,
				"put_metrics needs metrics = {{name=, value=, ...}, ...} or "
				"name = and value =");
		single = json_pack("[{s:O,s:O}]", "name", json_object_get(args, "name"), "value",
				   json_object_get(args, "value"));
		if (json_object_get(args, "unit"))
			json_object_set(json_array_get(single, 0), "unit",
					json_object_get(args, "unit"));
		if (json_object_get(args, "dimensions"))
			json_object_set(json_array_get(single, 0), "dimensions",
					json_object_get(args, "dimensions"));
		metrics = single;
	}
	if (!json_is_array(metrics) || json_array_size(metrics) == 0) {
		json_decref(single);
		return pgm_fail(call, "args.invalid", 0, "metrics must be a non-empty array");
	}
	json_array_foreach(metrics, i, m)
	{
		const char *mname = sget(m, "name");
		json_t *val = json_object_get(m, "value"), *vals = json_object_get(m, "values");
		const char *unit = sget(m, "unit");
		json_t *ts = json_object_get(m, "timestamp");

		if (!json_is_object(m) || !mname || !(json_is_number(val) || json_is_array(vals))) {
			pgm_fail(call, "args.invalid", 0,
				 "metrics[%zu] needs a name and a numeric value (or values)",
				 i + 1);
			goto fail;
		}
		if (!params) {
			params = json_pack("{s:s}", "Namespace", ns);
			n = 0;
			bytes = 64;
		}
		n++;
		snprintf(prefix, sizeof(prefix), "MetricData.member.%d", n);
		snprintf(name, sizeof(name), "%s.MetricName", prefix);
		json_object_set_new(params, name, json_string(mname));
		bytes += strlen(name) + strlen(mname) + 2;
		if (json_is_number(val)) {
			if (!isfinite(json_number_value(val))) {
				pgm_fail(call, "args.invalid", 0,
					 "metrics[%zu]: value is not finite", i + 1);
				goto fail;
			}
			snprintf(name, sizeof(name), "%s.Value", prefix);
			json_object_set_new(params, name, json_real(json_number_value(val)));
			bytes += strlen(name) + 24;
		} else {
			size_t j;
			json_t *x;

			if (json_array_size(vals) > 150) {
				pgm_fail(call, "args.invalid", 0,
					 "metrics[%zu]: at most 150 values per metric", i + 1);
				goto fail;
			}
			json_array_foreach(vals, j, x)
			{
				snprintf(name, sizeof(name), "%s.Values.member.%zu", prefix, j + 1);
				json_object_set_new(params, name, json_real(json_number_value(x)));
				bytes += strlen(name) + 24;
			}
		}
		if (unit) {
			snprintf(name, sizeof(name), "%s.Unit", prefix);
			json_object_set_new(params, name, json_string(unit));
		}
		if (json_is_string(ts)) {
			snprintf(name, sizeof(name), "%s.Timestamp", prefix);
			json_object_set(params, name, ts);
		}
		if (dims_params(call, json_object_get(m, "dimensions"), prefix, params, &bytes) !=
		    0)
			goto fail;
		if (n == MAX_METRICS_PER_REQUEST || bytes > MAX_BODY_BYTES ||
		    i + 1 == json_array_size(metrics)) {
			if (send_batch(call, region, params) != 0)
				goto fail;
			sent += n;
			requests++;
			json_decref(params);
			params = NULL;
		}
	}
	json_decref(single);
	return json_pack("{s:s,s:i,s:i}", "namespace", ns, "sent", sent, "requests", requests);
fail:
	if (sent)
		pgm_warn("%d metric(s) in %d request(s) were sent before the failure", sent,
			 requests);
	json_decref(params);
	json_decref(single);
	return NULL;
}

/* ---- get_metric ----------------------------------------------------------------- */

static json_t *fn_get_metric(pgm_call *call, json_t *args)
{
	const char *ns = pgm_arg_string(call, args, "namespace", NULL, 1);
	const char *mname = pgm_arg_string(call, args, "name", NULL, 1);
	const char *stat = pgm_arg_string(call, args, "stat", "Average", 0);
	const char *region = aws_region_arg(call, args);
	long long period_ms, window_ms;
	json_t *params, *values, *stamps, *r0 = NULL, *out;
	char st[32], en[32], *token = NULL;
	time_t now = time(NULL);
	size_t bytes = 0;
	int pages = 0;

	if (!ns || !mname || !stat || pgm_failed(call) ||
	    pgm_arg_duration_ms(call, args, "period", 60000, 0, &period_ms) != 0 ||
	    pgm_arg_duration_ms(call, args, "window", 600000, 0, &window_ms) != 0)
		return NULL;
	if (period_ms < 1000 || period_ms % 1000)
		return pgm_fail(call, "args.invalid", 0,
				"period must be whole seconds, at least 1s");
	iso_time(now - (time_t)(window_ms / 1000), st);
	iso_time(now + 1, en);
	values = json_array();
	stamps = json_array();
	do {
		json_t *res, *l, *label;

		params = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "StartTime", st, "EndTime", en,
				   "MetricDataQueries.member.1.Id", "m1",
				   "MetricDataQueries.member.1.MetricStat.Metric.Namespace", ns,
				   "MetricDataQueries.member.1.MetricStat.Metric.MetricName", mname,
				   "MetricDataQueries.member.1.MetricStat.Period",
				   (json_int_t)(period_ms / 1000),
				   "MetricDataQueries.member.1.MetricStat.Stat", stat);
		if (dims_params(call, json_object_get(args, "dimensions"),
				"MetricDataQueries.member.1.MetricStat.Metric", params,
				&bytes) != 0) {
			json_decref(params);
			goto fail;
		}
		if (token)
			json_object_set_new(params, "NextToken", json_string(token));
		free(token);
		token = NULL;
		res = pgm_aws_query(call, &cloudwatch, region, "GetMetricData", params);
		json_decref(params);
		if (!res)
			goto fail;
		pages++;
		l = pgm_aws_list(json_object_get(res, "MetricDataResults"));
		r0 = json_array_get(l, 0);
		if (r0) {
			json_t *vl = pgm_aws_list(json_object_get(r0, "Values"));
			json_t *tl = pgm_aws_list(json_object_get(r0, "Timestamps"));
			size_t i;
			json_t *x;

			json_array_foreach(vl, i, x) json_array_append_new(
				values, json_real(strtod(json_string_value(x) ? json_string_value(x)
									      : "nan",
							 NULL)));
			json_array_extend(stamps, tl);
			json_decref(vl);
			json_decref(tl);
			label = json_object_get(r0, "Label");
			(void)label;
		}
		json_decref(l);
		if (sget(res, "NextToken") && *sget(res, "NextToken"))
			token = strdup(sget(res, "NextToken"));
		json_decref(res);
	} while (token && pages < 100);
	free(token);
	/* Timestamps come newest first (TimestampDescending). */
	out = json_pack("{s:s,s:s,s:s,s:I,s:I,s:O,s:O,s:i}", "namespace", ns, "name", mname, "stat",
			stat, "period_s", (json_int_t)(period_ms / 1000), "window_s",
			(json_int_t)(window_ms / 1000), "values", values, "timestamps", stamps,
			"count", (int)json_array_size(values));
	if (json_array_size(values)) {
		double mx = -INFINITY, mn = INFINITY;
		size_t i;
		json_t *x;

		json_object_set(out, "value", json_array_get(values, 0));
		json_object_set(out, "timestamp", json_array_get(stamps, 0));
		json_array_foreach(values, i, x)
		{
			mx = fmax(mx, json_real_value(x));
			mn = fmin(mn, json_real_value(x));
		}
		json_object_set_new(out, "max", json_real(mx));
		json_object_set_new(out, "min", json_real(mn));
	} else {
		json_object_set_new(out, "value", json_null());
	}
	json_decref(values);
	json_decref(stamps);
	return out;
fail:
	free(token);
	json_decref(values);
	json_decref(stamps);
	return NULL;
}

/* ---- alarms ---------------------------------------------------------------------- */

static const char *comparison(const char *c)
{
	static const char *const map[][2] = {{">", "GreaterThanThreshold"},
					     {">=", "GreaterThanOrEqualToThreshold"},
					     {"<", "LessThanThreshold"},
					     {"<=", "LessThanOrEqualToThreshold"},
					     {NULL, NULL}};

	for (int i = 0; map[i][0]; i++)
		if (strcmp(c, map[i][0]) == 0 || strcmp(c, map[i][1]) == 0)
			return map[i][1];
	return NULL;
}

static int string_list(pgm_call *call, json_t *args, const char *arg, const char *prefix,
		       json_t *params)
{
	json_t *l = json_object_get(args, arg), *x;
	size_t i;
	char name[128];

	if (!l || json_is_null(l))
		return 0;
	if (json_is_string(l)) {
		snprintf(name, sizeof(name), "%s.member.1", prefix);
		json_object_set(params, name, l);
		return 0;
	}
	if (!json_is_array(l)) {
		pgm_fail(call, "args.invalid", 0, "argument \"%s\" must be an array of strings",
			 arg);
		return -1;
	}
	json_array_foreach(l, i, x)
	{
		if (!json_is_string(x)) {
			pgm_fail(call, "args.invalid", 0, "%s[%zu] must be a string", arg, i + 1);
			return -1;
		}
		snprintf(name, sizeof(name), "%s.member.%zu", prefix, i + 1);
		json_object_set(params, name, x);
	}
	return 0;
}

static json_t *fn_put_alarm(pgm_call *call, json_t *args)
{
	const char *name = pgm_arg_string(call, args, "name", NULL, 1);
	const char *ns = pgm_arg_string(call, args, "namespace", NULL, 1);
	const char *metric = pgm_arg_string(call, args, "metric", NULL, 1);
	const char *stat = pgm_arg_string(call, args, "stat", "Average", 0);
	const char *cmp = pgm_arg_string(call, args, "comparison", NULL, 1);
	const char *missing = pgm_arg_string(call, args, "treat_missing_data", NULL, 0);
	const char *desc = pgm_arg_string(call, args, "description", NULL, 0);
	const char *unit = pgm_arg_string(call, args, "unit", NULL, 0);
	const char *region = aws_region_arg(call, args);
	const char *op;
	long long period_ms, evals, dta;
	double threshold;
	json_t *params, *res;

	if (!name || !ns || !metric || !stat || !cmp || pgm_failed(call) ||
	    pgm_arg_number(call, args, "threshold", 0, 1, &threshold) != 0 ||
	    pgm_arg_duration_ms(call, args, "period", 60000, 0, &period_ms) != 0 ||
	    pgm_arg_int(call, args, "evaluation_periods", 1, 0, &evals) != 0 ||
	    pgm_arg_int(call, args, "datapoints_to_alarm", 0, 0, &dta) != 0)
		return NULL;
	op = comparison(cmp);
	if (!op)
		return pgm_fail(call, "args.invalid", 0,
				"comparison \"%s\": use >, >=, <, <= or CloudWatch's names", cmp);
	if (period_ms < 10000 || period_ms % 1000)
		return pgm_fail(call, "args.invalid", 0,
				"period must be whole seconds, at least 10s");
	params = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:f}", "AlarmName", name, "Namespace", ns,
			   "MetricName", metric, "Statistic", stat, "ComparisonOperator", op,
			   "Period", (json_int_t)(period_ms / 1000), "EvaluationPeriods",
			   (json_int_t)evals, "Threshold", threshold);
	if (dta > 0)
		json_object_set_new(params, "DatapointsToAlarm", json_integer(dta));
	if (missing)
		json_object_set_new(params, "TreatMissingData", json_string(missing));
	if (desc)
		json_object_set_new(params, "AlarmDescription", json_string(desc));
	if (unit)
		json_object_set_new(params, "Unit", json_string(unit));
	if (dims_params(call, json_object_get(args, "dimensions"), "", params, NULL) != 0 ||
	    string_list(call, args, "actions", "AlarmActions", params) != 0 ||
	    string_list(call, args, "ok_actions", "OKActions", params) != 0) {
		json_decref(params);
		return NULL;
	}
	res = pgm_aws_query(call, &cloudwatch, region, "PutMetricAlarm", params);
	json_decref(params);
	if (!res)
		return NULL;
	json_decref(res);
	return json_pack("{s:s,s:s,s:s,s:s,s:f}", "name", name, "metric", metric, "namespace", ns,
			 "comparison", op, "threshold", threshold);
}

static json_t *norm_alarm(json_t *a)
{
	json_t *o = json_object();
	const char *th = sget(a, "Threshold");

	json_object_set_new(o, "name",
			    json_string(sget(a, "AlarmName") ? sget(a, "AlarmName") : ""));
	json_object_set_new(o, "state",
			    json_string(sget(a, "StateValue") ? sget(a, "StateValue") : "?"));
	if (sget(a, "StateReason"))
		json_object_set_new(o, "reason", json_string(sget(a, "StateReason")));
	if (sget(a, "StateUpdatedTimestamp"))
		json_object_set_new(o, "updated", json_string(sget(a, "StateUpdatedTimestamp")));
	if (sget(a, "MetricName"))
		json_object_set_new(o, "metric", json_string(sget(a, "MetricName")));
	if (sget(a, "Namespace"))
		json_object_set_new(o, "namespace", json_string(sget(a, "Namespace")));
	if (sget(a, "ComparisonOperator"))
		json_object_set_new(o, "comparison", json_string(sget(a, "ComparisonOperator")));
	if (th)
		json_object_set_new(o, "threshold", json_real(strtod(th, NULL)));
	return o;
}

/* describe - every alarm matching names / prefix / state, all pages. */
static json_t *describe(pgm_call *call, json_t *args)
{
	const char *prefix = pgm_arg_string(call, args, "prefix", NULL, 0);
	const char *state = pgm_arg_string(call, args, "state", NULL, 0);
	json_t *params = json_object(), *res, *out, *a;
	size_t i;

	if (pgm_failed(call) || string_list(call, args, "names", "AlarmNames", params) != 0) {
		json_decref(params);
		return NULL;
	}
	if (prefix)
		json_object_set_new(params, "AlarmNamePrefix", json_string(prefix));
	if (state)
		json_object_set_new(params, "StateValue", json_string(state));
	json_object_set_new(params, "MaxRecords", json_integer(100));
	res = pgm_aws_query_all(call, &cloudwatch, aws_region_arg(call, args), "DescribeAlarms",
				params, "MetricAlarms", "NextToken", 0);
	json_decref(params);
	if (!res)
		return NULL;
	out = json_array();
	json_array_foreach(json_object_get(res, "MetricAlarms"), i, a)
		json_array_append_new(out, norm_alarm(a));
	json_decref(res);
	return out;
}

static json_t *fn_describe_alarms(pgm_call *call, json_t *args)
{
	json_t *l = describe(call, args);

	return l ? json_pack("{s:o,s:i}", "alarms", l, "count", (int)json_array_size(l)) : NULL;
}

static json_t *fn_alarm_state(pgm_call *call, json_t *args)
{
	json_t *names = json_object_get(args, "names"), *l, *a, *states, *in_alarm, *insufficient,
	       *missing, *unevaluated, *out;
	int insufficient_ok = 1, ok;
	size_t i;

	if (pgm_arg_bool(call, args, "insufficient_ok", 1, &insufficient_ok) != 0)
		return NULL;
	if (!names && !json_object_get(args, "prefix"))
		return pgm_fail(call, "args.invalid", 0, "alarm_state needs names or prefix");
	l = describe(call, args);
	if (!l)
		return NULL;
	states = json_object();
	in_alarm = json_array();
	insufficient = json_array();
	missing = json_array();
	unevaluated = json_array();
	json_array_foreach(l, i, a)
	{
		const char *n = sget(a, "name"), *s = sget(a, "state"), *why = sget(a, "reason");

		json_object_set_new(states, n, json_string(s));
		/* CloudWatch's reason until the first evaluation */
		if (why && strncmp(why, "Unchecked", 9) == 0)
			json_array_append_new(unevaluated, json_string(n));
		if (strcmp(s, "ALARM") == 0)
			json_array_append_new(in_alarm, json_string(n));
		else if (strcmp(s, "INSUFFICIENT_DATA") == 0)
			json_array_append_new(insufficient, json_string(n));
	}
	if (json_is_array(names)) {
		json_array_foreach(names, i, a) if (json_is_string(a) &&
						    !json_object_get(states, json_string_value(a)))
			json_array_append(missing, a);
	} else if (json_is_string(names) && !json_object_get(states, json_string_value(names))) {
		json_array_append(missing, names);
	}
	ok = json_array_size(in_alarm) == 0 && json_array_size(missing) == 0 &&
	     (insufficient_ok ||
	      (json_array_size(insufficient) == 0 && json_array_size(unevaluated) == 0));
	/* A set that matched no alarm checks nothing: never ok (unless only
	 * alarms in a given state were asked for). */
	if (json_array_size(l) == 0 && !json_object_get(args, "state")) {
		ok = 0;
		out = json_pack("{s:s}", "reason", "no alarm matches the names or prefix given");
	} else {
		out = json_object();
	}
	json_object_update_missing_new(
		out, json_pack("{s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:i}", "ok", ok, "in_alarm", in_alarm,
			       "insufficient_data", insufficient, "unevaluated", unevaluated,
			       "missing", missing, "states", states, "alarms", l, "count",
			       (int)json_array_size(l)));
	return out;
}

static json_t *fn_delete_alarms(pgm_call *call, json_t *args)
{
	json_t *names = json_object_get(args, "names"), *existing, *params, *res, *a, *deleted;
	size_t i;
	int n = 0;
	char key[64];

	if (!json_is_array(names) && !json_is_string(names))
		return pgm_fail(call, "args.invalid", 0, "delete_alarms needs names");
	/* DeleteAlarms fails on a name that does not exist: delete the ones that do. */
	existing = describe(call, args);
	if (!existing)
		return NULL;
	params = json_object();
	deleted = json_array();
	json_array_foreach(existing, i, a)
	{
		snprintf(key, sizeof(key), "AlarmNames.member.%d", ++n);
		json_object_set(params, key, json_object_get(a, "name"));
		json_array_append(deleted, json_object_get(a, "name"));
	}
	json_decref(existing);
	if (n) {
		res = pgm_aws_query(call, &cloudwatch, aws_region_arg(call, args), "DeleteAlarms",
				    params);
		if (!res) {
			json_decref(params);
			json_decref(deleted);
			return NULL;
		}
		json_decref(res);
	}
	json_decref(params);
	return json_pack("{s:o,s:i}", "deleted", deleted, "count", n);
}

/* ---- CloudWatch Logs metric filters ------------------------------------------------ */

static json_t *norm_filter(json_t *f)
{
	json_t *o = json_object(),
	       *t = json_array_get(json_object_get(f, "metricTransformations"), 0);

	json_object_set(o, "name", json_object_get(f, "filterName"));
	json_object_set(o, "log_group", json_object_get(f, "logGroupName"));
	json_object_set(o, "pattern", json_object_get(f, "filterPattern"));
	if (t) {
		json_object_set(o, "namespace", json_object_get(t, "metricNamespace"));
		json_object_set(o, "metric", json_object_get(t, "metricName"));
		json_object_set(o, "value", json_object_get(t, "metricValue"));
		if (json_object_get(t, "defaultValue"))
			json_object_set(o, "default_value", json_object_get(t, "defaultValue"));
	}
	return o;
}

/* log_error_is - the call failed with "logs.<code>". */
static int log_error_is(pgm_call *call, const char *code)
{
	const char *c = pgm_error_code(call);

	return c && strncmp(c, "logs.", 5) == 0 && strcmp(c + 5, code) == 0;
}

static json_t *fn_put_metric_filter(pgm_call *call, json_t *args)
{
	const char *group = pgm_arg_string(call, args, "log_group", NULL, 1);
	const char *name = pgm_arg_string(call, args, "name", NULL, 1);
	const char *pattern = pgm_arg_string(call, args, "pattern", NULL, 1);
	const char *ns = pgm_arg_string(call, args, "namespace", NULL, 1);
	const char *metric = pgm_arg_string(call, args, "metric", NULL, 1);
	const char *value = pgm_arg_string(call, args, "value", "1", 0);
	const char *region = aws_region_arg(call, args);
	json_t *dflt = json_object_get(args, "default_value"), *body, *res, *t;
	int create = 0, created = 0;

	if (!group || !name || !pattern || !ns || !metric || !value || pgm_failed(call) ||
	    pgm_arg_bool(call, args, "create_log_group", 0, &create) != 0)
		return NULL;
	if (dflt && !json_is_null(dflt) && !json_is_number(dflt))
		return pgm_fail(call, "args.invalid", 0, "default_value must be a number");
	if (create) {
		/* The log group RDS publishes to appears with the first log line;
		 * creating it first is allowed, and already there is fine. */
		body = json_pack("{s:s}", "logGroupName", group);
		res = pgm_aws_json(call, &logs, region, "CreateLogGroup", body);
		json_decref(body);
		if (!res && log_error_is(call, "ResourceAlreadyExistsException"))
			pgm_clear_error(call);
		else if (!res)
			return NULL;
		else
			created = 1;
		json_decref(res);
	}
	t = json_pack("{s:s,s:s,s:s}", "metricName", metric, "metricNamespace", ns, "metricValue",
		      value);
	if (dflt && json_is_number(dflt))
		json_object_set_new(t, "defaultValue", json_real(json_number_value(dflt)));
	body = json_pack("{s:s,s:s,s:s,s:[o]}", "logGroupName", group, "filterName", name,
			 "filterPattern", pattern, "metricTransformations", t);
	res = pgm_aws_json(call, &logs, region, "PutMetricFilter", body);
	json_decref(body);
	if (!res)
		return NULL;
	json_decref(res);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "name", name, "log_group", group, "pattern",
			 pattern, "namespace", ns, "metric", metric, "log_group_created", created);
}

/* filters - the metric filters of log_group (prefix optional), all pages. */
static json_t *filters(pgm_call *call, json_t *args)
{
	const char *group = pgm_arg_string(call, args, "log_group", NULL, 1);
	const char *prefix = pgm_arg_string(call, args, "prefix", NULL, 0);
	const char *region = aws_region_arg(call, args);
	json_t *out, *body, *res, *f;
	char *token = NULL;
	int pages = 0;
	size_t i;

	if (!group || pgm_failed(call))
		return NULL;
	out = json_array();
	do {
		body = json_pack("{s:s,s:i}", "logGroupName", group, "limit", 50);
		if (prefix)
			json_object_set_new(body, "filterNamePrefix", json_string(prefix));
		if (token)
			json_object_set_new(body, "nextToken", json_string(token));
		free(token);
		token = NULL;
		res = pgm_aws_json(call, &logs, region, "DescribeMetricFilters", body);
		json_decref(body);
		if (!res) {
			json_decref(out);
			return NULL;
		}
		json_array_foreach(json_object_get(res, "metricFilters"), i, f)
			json_array_append_new(out, norm_filter(f));
		if (sget(res, "nextToken") && *sget(res, "nextToken"))
			token = strdup(sget(res, "nextToken"));
		json_decref(res);
	} while (token && ++pages < 100);
	free(token);
	return out;
}

static json_t *fn_describe_metric_filters(pgm_call *call, json_t *args)
{
	json_t *l = filters(call, args);

	return l ? json_pack("{s:o,s:i}", "filters", l, "count", (int)json_array_size(l)) : NULL;
}

static json_t *fn_delete_metric_filter(pgm_call *call, json_t *args)
{
	const char *group = pgm_arg_string(call, args, "log_group", NULL, 1);
	const char *name = pgm_arg_string(call, args, "name", NULL, 1);
	json_t *body, *res;

	if (!group || !name || pgm_failed(call))
		return NULL;
	body = json_pack("{s:s,s:s}", "logGroupName", group, "filterName", name);
	res = pgm_aws_json(call, &logs, aws_region_arg(call, args), "DeleteMetricFilter", body);
	json_decref(body);
	if (!res && log_error_is(call, "ResourceNotFoundException")) {
		pgm_clear_error(call);
		return json_pack("{s:s,s:b}", "name", name, "existed", 0);
	}
	if (!res)
		return NULL;
	json_decref(res);
	return json_pack("{s:s,s:b}", "name", name, "existed", 1);
}

#define P_REGION                                                                                   \
	{                                                                                          \
		"region", "string", 0, 0, "AWS region (default: AWS_REGION, profile)"              \
	}
#define P_END                                                                                      \
	{                                                                                          \
		NULL, NULL, 0, 0, NULL                                                             \
	}

static const pgm_param p_put_metrics[] = {
	{"namespace", "string", 1, 0, "metric namespace, e.g. pgmove/Migration"},
	{"metrics", "array", 0, 0, "{{name=, value= | values=, unit=, dimensions={}, timestamp=}}"},
	{"name", "string", 0, 0, "one metric: its name"},
	{"value", "number", 0, 0, "one metric: its value"},
	{"unit", "string", 0, 0, "one metric: Seconds, Count, Percent, ..."},
	{"dimensions", "object", 0, 0, "one metric: {name = value}"},
	P_REGION,
	P_END};
static const pgm_param p_get_metric[] = {
	{"namespace", "string", 1, 0, "e.g. AWS/RDS"},
	{"name", "string", 1, 0, "e.g. ReplicaLag, CPUUtilization, DatabaseConnections"},
	{"dimensions", "object", 0, 0, "{DBClusterIdentifier = \"...\"}"},
	{"stat", "string", 0, 0, "Average (default), Maximum, Minimum, Sum, SampleCount, p99"},
	{"period", "duration", 0, 0, "aggregation period (default 60s)"},
	{"window", "duration", 0, 0, "how far back (default 10m)"},
	P_REGION,
	P_END};
static const pgm_param p_put_alarm[] = {
	{"name", "string", 1, 0, "alarm name"},
	{"namespace", "string", 1, 0, "metric namespace"},
	{"metric", "string", 1, 0, "metric name"},
	{"dimensions", "object", 0, 0, "{name = value}"},
	{"stat", "string", 0, 0, "Average (default), Maximum, ..."},
	{"period", "duration", 0, 0, "default 60s"},
	{"evaluation_periods", "integer", 0, 0, "default 1"},
	{"datapoints_to_alarm", "integer", 0, 0, "M of N (default N)"},
	{"threshold", "number", 1, 0, "threshold"},
	{"comparison", "string", 1, 0, ">, >=, <, <="},
	{"treat_missing_data", "string", 0, 0, "missing, notBreaching, breaching, ignore"},
	{"actions", "array", 0, 0, "ARNs notified on ALARM (SNS topics)"},
	{"ok_actions", "array", 0, 0, "ARNs notified on OK"},
	{"description", "string", 0, 0, "description"},
	{"unit", "string", 0, 0, "unit"},
	P_REGION,
	P_END};
static const pgm_param p_describe_alarms[] = {
	{"names", "any", 0, 0, "alarm names"},
	{"prefix", "string", 0, 0, "alarm name prefix"},
	{"state", "string", 0, 0, "OK, ALARM or INSUFFICIENT_DATA"},
	P_REGION,
	P_END};
static const pgm_param p_alarm_state[] = {
	{"names", "any", 0, 0, "alarm names"},
	{"prefix", "string", 0, 0, "alarm name prefix"},
	{"state", "string", 0, 0, "only alarms in this state"},
	{"insufficient_ok", "boolean", 0, 0,
	 "INSUFFICIENT_DATA and never evaluated (\"Unchecked\") count as ok (default true)"},
	P_REGION,
	P_END};
static const pgm_param p_put_metric_filter[] = {
	{"log_group", "string", 1, 0, "log group, e.g. /aws/rds/cluster/NAME/postgresql"},
	{"name", "string", 1, 0, "filter name"},
	{"pattern", "string", 1, 0,
	 "filter pattern, e.g. \"\\\"password authentication failed\\\"\""},
	{"namespace", "string", 1, 0, "namespace of the metric"},
	{"metric", "string", 1, 0, "metric name"},
	{"value", "string", 0, 0, "value published per matching line (default 1)"},
	{"default_value", "number", 0, 0, "value published when no line matches (e.g. 0)"},
	{"create_log_group", "boolean", 0, 0, "create the log group if it does not exist"},
	P_REGION,
	P_END};
static const pgm_param p_describe_metric_filters[] = {
	{"log_group", "string", 1, 0, "log group"},
	{"prefix", "string", 0, 0, "filter name prefix"},
	P_REGION,
	P_END};
static const pgm_param p_delete_metric_filter[] = {{"log_group", "string", 1, 0, "log group"},
						   {"name", "string", 1, 0, "filter name"},
						   P_REGION,
						   P_END};
static const pgm_param p_delete_alarms[] = {{"names", "any", 1, 0, "alarm names"}, P_REGION, P_END};

static const pgm_function functions[] = {
	{"put_metrics", fn_put_metrics, 0, "put metric data (batched within AWS's limits)",
	 p_put_metrics},
	{"get_metric", fn_get_metric, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "read one metric with GetMetricData: latest value, values, min, max", p_get_metric},
	{"put_alarm", fn_put_alarm, PGM_FN_IDEMPOTENT, "create or update a metric alarm",
	 p_put_alarm},
	{"describe_alarms", fn_describe_alarms, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "alarms with their state", p_describe_alarms},
	{"alarm_state", fn_alarm_state, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "the state of a set of alarms as one result (ok = some matched, none in ALARM, none "
	 "missing)",
	 p_alarm_state},
	{"delete_alarms", fn_delete_alarms, PGM_FN_IDEMPOTENT,
	 "delete alarms (absent ones skipped)", p_delete_alarms},
	{"put_metric_filter", fn_put_metric_filter, PGM_FN_IDEMPOTENT,
	 "create or update a CloudWatch Logs metric filter (and its log group if asked)",
	 p_put_metric_filter},
	{"describe_metric_filters", fn_describe_metric_filters,
	 PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY, "the metric filters of a log group",
	 p_describe_metric_filters},
	{"delete_metric_filter", fn_delete_metric_filter, PGM_FN_IDEMPOTENT,
	 "delete a metric filter (absent counts as deleted)", p_delete_metric_filter},
	{NULL, NULL, 0, NULL, NULL}};

PGMOVE_PLUGIN(cloudwatch) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "cloudwatch",
	.version = "1.0.0",
	.summary = "Amazon CloudWatch metrics and alarms (CloudWatch Query API)",
	.init = NULL,
	.fini = aws_region_fini,
	.functions = functions,
	.configure = aws_region_configure,
	.config = aws_region_config,
};
