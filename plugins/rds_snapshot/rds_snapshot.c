/*
 * plugins/rds_snapshot/rds_snapshot.c - Amazon RDS through the RDS Query
 * API (pgm_aws_query): DB snapshots and DB cluster snapshots (create,
 * describe, wait, copy, delete), restoring an Aurora PostgreSQL cluster from
 * an RDS PostgreSQL snapshot, adding instances to a cluster (a provisioned
 * class or db.serverless), describing clusters and instances, an Aurora
 * read-replica cluster of an RDS instance and its promotion, and deleting an
 * instance with a final snapshot.
 *
 * Results are normalised JSON objects with lower-case keys ("id", "status",
 * "progress", "endpoint", ...); "raw" keeps AWS's own answer. Creating
 * something that already exists with the same source adopts it, so the
 * create functions are idempotent.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgmove/plugin.h"
#include "aws_region.h"

static const pgm_aws_service rds = {
	.name = "rds",
	.endpoint_id = "rds",
	.env_id = "RDS",
	.api_version = "2014-10-31",
	.json_prefix = NULL,
};

/* ---- small helpers ------------------------------------------------------ */

static const char *sget(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void set_int(json_t *o, const char *key, const char *text)
{
	if (text && *text)
		json_object_set_new(o, key, json_integer(strtoll(text, NULL, 10)));
}

static void set_num(json_t *o, const char *key, const char *text)
{
	if (text && *text)
		json_object_set_new(o, key, json_real(strtod(text, NULL)));
}

static void set_str(json_t *o, const char *key, const char *text)
{
	if (text)
		json_object_set_new(o, key, json_string(text));
}

static void set_bool(json_t *o, const char *key, const char *text)
{
	if (text)
		json_object_set_new(o, key, json_boolean(strcmp(text, "true") == 0));
}

/* tags_params - Tags.Tag.N.Key/Value from a JSON object {key: value}. */
static int tags_params(pgm_call *call, json_t *args, json_t *params)
{
	json_t *tags = json_object_get(args, "tags"), *v;
	const char *k;
	int i = 0;
	char name[64];

	if (!tags || json_is_null(tags))
		return 0;
	if (!json_is_object(tags)) {
		pgm_fail(call, "args.invalid", 0,
			 "argument \"tags\" must be an object of key = value");
		return -1;
	}
	json_object_foreach(tags, k, v)
	{
		if (!json_is_string(v)) {
			pgm_fail(call, "args.invalid", 0, "tag \"%s\" must be a string", k);
			return -1;
		}
		i++;
		snprintf(name, sizeof(name), "Tags.Tag.%d.Key", i);
		json_object_set_new(params, name, json_string(k));
		snprintf(name, sizeof(name), "Tags.Tag.%d.Value", i);
		json_object_set(params, name, v);
	}
	return 0;
}

/* code_is - the call failed with "rds.<code>". */
static int code_is(pgm_call *call, const char *code)
{
	const char *c = pgm_error_code(call);

	return c && strncmp(c, "rds.", 4) == 0 && strcmp(c + 4, code) == 0;
}

/* result_item - res[key] (borrowed) when it is the element the action's
 * answer must hold; else fails the call with aws.bad_response naming what
 * is missing (an answer without it is never taken as success). */
static json_t *result_item(pgm_call *call, json_t *res, const char *key, const char *action)
{
	json_t *v = json_object_get(res, key);

	if (json_is_object(v))
		return v;
	pgm_fail(call, "aws.bad_response", 1, "rds: %s: the answer has no <%s> element", action,
		 key);
	return NULL;
}

/* ---- normalisers ---------------------------------------------------------- */

static json_t *norm_snapshot(json_t *s, int cluster)
{
	json_t *o = json_object();

	set_str(o, "id", sget(s, cluster ? "DBClusterSnapshotIdentifier" : "DBSnapshotIdentifier"));
	if (cluster)
		set_str(o, "cluster", sget(s, "DBClusterIdentifier"));
	else
		set_str(o, "instance", sget(s, "DBInstanceIdentifier"));
	set_str(o, "status", sget(s, "Status"));
	set_int(o, "progress", sget(s, "PercentProgress"));
	set_str(o, "arn", sget(s, cluster ? "DBClusterSnapshotArn" : "DBSnapshotArn"));
	set_str(o, "engine", sget(s, "Engine"));
	set_str(o, "engine_version", sget(s, "EngineVersion"));
	set_str(o, "type", sget(s, "SnapshotType"));
	set_str(o, "created", sget(s, "SnapshotCreateTime"));
	set_int(o, "allocated_storage_gb", sget(s, "AllocatedStorage"));
	set_str(o, "source",
		sget(s, cluster ? "SourceDBClusterSnapshotArn" : "SourceDBSnapshotIdentifier"));
	set_bool(o, "encrypted", sget(s, cluster ? "StorageEncrypted" : "Encrypted"));
	if (!json_object_get(o, "progress"))
		json_object_set_new(o, "progress", json_integer(0));
	json_object_set(o, "raw", s);
	return o;
}

static json_t *norm_cluster(json_t *c)
{
	json_t *o = json_object(), *members = json_array(), *ml, *m, *sc;
	size_t i;

	set_str(o, "id", sget(c, "DBClusterIdentifier"));
	set_str(o, "status", sget(c, "Status"));
	set_str(o, "endpoint", sget(c, "Endpoint"));
	set_str(o, "reader_endpoint", sget(c, "ReaderEndpoint"));
	set_int(o, "port", sget(c, "Port"));
	set_str(o, "engine", sget(c, "Engine"));
	set_str(o, "engine_version", sget(c, "EngineVersion"));
	set_str(o, "arn", sget(c, "DBClusterArn"));
	set_str(o, "replication_source", sget(c, "ReplicationSourceIdentifier"));
	ml = pgm_aws_list(json_object_get(c, "DBClusterMembers"));
	json_array_foreach(ml, i, m)
	{
		json_t *mo = json_object();

		set_str(mo, "id", sget(m, "DBInstanceIdentifier"));
		set_bool(mo, "writer", sget(m, "IsClusterWriter"));
		json_array_append_new(members, mo);
	}
	json_decref(ml);
	json_object_set_new(o, "members", members);
	sc = json_object_get(c, "ServerlessV2ScalingConfiguration");
	if (json_is_object(sc)) {
		json_t *so = json_object();

		set_num(so, "min_capacity", sget(sc, "MinCapacity"));
		set_num(so, "max_capacity", sget(sc, "MaxCapacity"));
		json_object_set_new(o, "serverless", so);
	}
	json_object_set(o, "raw", c);
	return o;
}

static json_t *norm_instance(json_t *d)
{
	json_t *o = json_object(), *ep = json_object_get(d, "Endpoint");

	set_str(o, "id", sget(d, "DBInstanceIdentifier"));
	set_str(o, "status", sget(d, "DBInstanceStatus"));
	set_str(o, "class", sget(d, "DBInstanceClass"));
	set_str(o, "engine", sget(d, "Engine"));
	set_str(o, "engine_version", sget(d, "EngineVersion"));
	set_str(o, "cluster", sget(d, "DBClusterIdentifier"));
	set_str(o, "arn", sget(d, "DBInstanceArn"));
	if (json_is_object(ep)) {
		set_str(o, "endpoint", sget(ep, "Address"));
		set_int(o, "port", sget(ep, "Port"));
	}
	json_object_set(o, "raw", d);
	return o;
}

/* first_item - the first element of result[list_key] (borrowed), or NULL. */
static json_t *first_item(json_t *result, const char *list_key)
{
	json_t *l = pgm_aws_list(json_object_get(result, list_key));
	json_t *first = json_array_get(l, 0);

	json_decref(l); /* the item stays alive in result */
	return first;
}

/* answer - the normalised object of the element key of an action's answer
 * res (DBSnapshot, DBClusterSnapshot, DBCluster or DBInstance); NULL with
 * the call failed when the answer lacks it. Releases res. */
static json_t *answer(pgm_call *call, json_t *res, const char *key, const char *action)
{
	json_t *v = result_item(call, res, key, action), *out = NULL;

	if (v && strcmp(key, "DBInstance") == 0)
		out = norm_instance(v);
	else if (v && strcmp(key, "DBCluster") == 0)
		out = norm_cluster(v);
	else if (v)
		out = norm_snapshot(v, strcmp(key, "DBClusterSnapshot") == 0);
	json_decref(res);
	return out;
}

/* ---- describe ------------------------------------------------------------- */

static json_t *describe_one(pgm_call *call, const char *region, const char *action,
			    const char *id_param, const char *id, const char *list_key)
{
	json_t *params = json_pack("{s:s}", id_param, id);
	json_t *res = pgm_aws_query(call, &rds, region, action, params);
	json_t *item, *out = NULL;

	json_decref(params);
	if (!res)
		return NULL;
	item = first_item(res, list_key);
	if (!item)
		pgm_fail(call, "rds.not_found", 0, "rds: %s %s: the answer lists nothing", action,
			 id);
	else
		out = json_incref(item);
	json_decref(res);
	return out;
}

static json_t *get_snapshot(pgm_call *call, const char *region, const char *id, int cluster)
{
	json_t *s = cluster ? describe_one(call, region, "DescribeDBClusterSnapshots",
					   "DBClusterSnapshotIdentifier", id, "DBClusterSnapshots")
			    : describe_one(call, region, "DescribeDBSnapshots",
					   "DBSnapshotIdentifier", id, "DBSnapshots");
	json_t *o;

	if (!s)
		return NULL;
	o = norm_snapshot(s, cluster);
	json_decref(s);
	return o;
}

static json_t *get_cluster(pgm_call *call, const char *region, const char *id)
{
	json_t *c = describe_one(call, region, "DescribeDBClusters", "DBClusterIdentifier", id,
				 "DBClusters");
	json_t *o;

	if (!c)
		return NULL;
	o = norm_cluster(c);
	json_decref(c);
	return o;
}

static json_t *get_instance(pgm_call *call, const char *region, const char *id)
{
	json_t *d = describe_one(call, region, "DescribeDBInstances", "DBInstanceIdentifier", id,
				 "DBInstances");
	json_t *o;

	if (!d)
		return NULL;
	o = norm_instance(d);
	json_decref(d);
	return o;
}

/* ---- waiting ---------------------------------------------------------------- */

typedef json_t *(*getter_fn)(pgm_call *, const char *, const char *);

static json_t *get_db_snapshot(pgm_call *c, const char *r, const char *id)
{
	return get_snapshot(c, r, id, 0);
}

static json_t *get_cluster_snapshot(pgm_call *c, const char *r, const char *id)
{
	return get_snapshot(c, r, id, 1);
}

/* wait_for - polls get until its "status" is want (or, for snapshots, a
 * failure state), reporting progress. Timeout: "rds.wait_timeout",
 * retryable. */
static json_t *wait_for(pgm_call *call, json_t *args, const char *what, getter_fn get,
			const char *want)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *region = aws_region_arg(call, args);
	long long every, timeout, t0 = pgm_now_ms();
	int polls = 0;

	if (!id || pgm_failed(call) ||
	    pgm_arg_duration_ms(call, args, "every", 30000, 0, &every) != 0 ||
	    pgm_arg_duration_ms(call, args, "timeout", 3 * 3600 * 1000LL, 0, &timeout) != 0)
		return NULL;
	for (;;) {
		json_t *o = get(call, region, id);
		const char *st;
		char label[160];

		if (!o)
			return NULL;
		polls++;
		st = sget(o, "status");
		snprintf(label, sizeof(label), "%s %s: %s", what, id, st ? st : "?");
		pgm_progress(call, (double)json_integer_value(json_object_get(o, "progress")),
			     json_object_get(o, "progress") ? 100 : 0, "%", label);
		if (st && strcmp(st, want) == 0) {
			json_object_set_new(o, "polls", json_integer(polls));
			return o;
		}
		if (st && (strcmp(st, "failed") == 0 || strcmp(st, "error") == 0 ||
			   strcmp(st, "incompatible-restore") == 0 ||
			   strcmp(st, "inaccessible-encryption-credentials") == 0)) {
			pgm_fail(call, "rds.wait_failed", 0, "rds: %s %s is %s, not %s", what, id,
				 st, want);
			json_decref(o);
			return NULL;
		}
		if (pgm_now_ms() - t0 + every > timeout) {
			char a[32], b[32];

			/* st points into o: format before o is released */
			pgm_fail(call, "rds.wait_timeout", 1,
				 "rds: %s %s is still %s after %s (timeout %s, %d polls)", what, id,
				 st ? st : "?",
				 pgm_duration_format(pgm_now_ms() - t0, a, sizeof(a)),
				 pgm_duration_format(timeout, b, sizeof(b)), polls);
			json_decref(o);
			return NULL;
		}
		json_decref(o);
		if (pgm_sleep_ms(call, every) != 0)
			return NULL;
	}
}

/* ---- DB snapshots ------------------------------------------------------------ */

static json_t *fn_create_snapshot(pgm_call *call, json_t *args)
{
	const char *instance = pgm_arg_string(call, args, "instance", NULL, 1);
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *region = aws_region_arg(call, args);
	json_t *params, *res, *out;

	if (!instance || !id || pgm_failed(call))
		return NULL;
	params = json_pack("{s:s,s:s}", "DBInstanceIdentifier", instance, "DBSnapshotIdentifier",
			   id);
	if (tags_params(call, args, params) != 0) {
		json_decref(params);
		return NULL;
	}
	res = pgm_aws_query(call, &rds, region, "CreateDBSnapshot", params);
	json_decref(params);
	if (!res && code_is(call, "DBSnapshotAlreadyExists")) {
		/* Adopt it when it is a snapshot of the same instance. */
		char *first = strdup(pgm_error_message(call));

		pgm_clear_error(call);
		out = get_snapshot(call, region, id, 0);
		if (out && sget(out, "instance") && strcmp(sget(out, "instance"), instance) == 0) {
			pgm_info("snapshot %s of %s exists already (%s); adopting it", id, instance,
				 sget(out, "status"));
			json_object_set_new(out, "adopted", json_true());
			free(first);
			return out;
		}
		if (out)
			pgm_fail(call, "rds.DBSnapshotAlreadyExists", 0,
				 "rds: snapshot %s exists already but is of instance %s, not %s",
				 id, sget(out, "instance") ? sget(out, "instance") : "?", instance);
		else {
			pgm_clear_error(call);
			pgm_fail(call, "rds.DBSnapshotAlreadyExists", 0, "%s", first);
		}
		json_decref(out);
		free(first);
		return NULL;
	}
	if (!res)
		return NULL;
	out = answer(call, res, "DBSnapshot", "CreateDBSnapshot");
	if (!out)
		return NULL;
	json_object_set_new(out, "adopted", json_false());
	return out;
}

static json_t *fn_describe_snapshot(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);

	if (!id)
		return NULL;
	return get_snapshot(call, aws_region_arg(call, args), id, 0);
}

static json_t *fn_list_snapshots(pgm_call *call, json_t *args)
{
	const char *instance = pgm_arg_string(call, args, "instance", NULL, 0);
	const char *type = pgm_arg_string(call, args, "type", NULL, 0);
	json_t *params = json_object(), *res, *items, *out, *s;
	size_t i;

	if (pgm_failed(call)) {
		json_decref(params);
		return NULL;
	}
	if (instance)
		json_object_set_new(params, "DBInstanceIdentifier", json_string(instance));
	if (type)
		json_object_set_new(params, "SnapshotType", json_string(type));
	json_object_set_new(params, "MaxRecords", json_integer(100));
	res = pgm_aws_query_all(call, &rds, aws_region_arg(call, args), "DescribeDBSnapshots",
				params, "DBSnapshots", "Marker", 0);
	json_decref(params);
	if (!res)
		return NULL;
	items = json_object_get(res, "DBSnapshots");
	out = json_array();
	json_array_foreach(items, i, s) json_array_append_new(out, norm_snapshot(s, 0));
	s = json_pack("{s:o,s:O}", "snapshots", out, "pages", json_object_get(res, "pages"));
	json_decref(res);
	return s;
}

static json_t *fn_wait_snapshot(pgm_call *call, json_t *args)
{
	return wait_for(call, args, "snapshot", get_db_snapshot, "available");
}

/* COPY_TAG - the tag copy_snapshot puts on a copy, its value the source
 * as given. */
#define COPY_TAG "pgmove:copy-of"

/* is_copy_of - the normalised snapshot s is a copy of src: its
 * SourceDBSnapshotIdentifier names src (cross-region or cross-account
 * copies), or it carries the COPY_TAG tag with src. */
static int is_copy_of(json_t *s, const char *src)
{
	json_t *tags = pgm_aws_list(json_object_get(json_object_get(s, "raw"), "TagList")), *t;
	const char *from = sget(s, "source");
	size_t i;
	int yes = 0;

	if (from && *from) {
		size_t fl = strlen(from), sl = strlen(src);

		/* an identifier or an ARN ending in ":" + identifier */
		yes = strcmp(from, src) == 0 ||
		      (fl > sl && from[fl - sl - 1] == ':' && strcmp(from + fl - sl, src) == 0);
	}
	json_array_foreach(tags, i, t)
	{
		const char *k = sget(t, "Key"), *v = sget(t, "Value");

		if (k && v && strcmp(k, COPY_TAG) == 0 && strcmp(v, src) == 0)
			yes = 1;
	}
	json_decref(tags);
	return yes;
}

static json_t *fn_copy_snapshot(pgm_call *call, json_t *args)
{
	const char *src = pgm_arg_string(call, args, "source", NULL, 1);
	const char *dst = pgm_arg_string(call, args, "target", NULL, 1);
	const char *kms = pgm_arg_string(call, args, "kms_key", NULL, 0);
	const char *region = aws_region_arg(call, args);
	int copy_tags = 0;
	json_t *params, *res, *out;

	if (!src || !dst || pgm_failed(call) ||
	    pgm_arg_bool(call, args, "copy_tags", 0, &copy_tags) != 0)
		return NULL;
	params = json_pack("{s:s,s:s}", "SourceDBSnapshotIdentifier", src,
			   "TargetDBSnapshotIdentifier", dst);
	if (kms)
		json_object_set_new(params, "KmsKeyId", json_string(kms));
	if (copy_tags)
		json_object_set_new(params, "CopyTags", json_true());
	if (tags_params(call, args, params) != 0) {
		json_decref(params);
		return NULL;
	}
	/* AWS sets SourceDBSnapshotIdentifier only on cross-region and
	 * cross-account copies: a tag says what the copy is of, so that a
	 * retry can adopt it. */
	{
		char name[64];
		int n = 1;

		for (;; n++) {
			snprintf(name, sizeof(name), "Tags.Tag.%d.Key", n);
			if (!json_object_get(params, name))
				break;
		}
		json_object_set_new(params, name, json_string(COPY_TAG));
		snprintf(name, sizeof(name), "Tags.Tag.%d.Value", n);
		json_object_set_new(params, name, json_string(src));
	}
	res = pgm_aws_query(call, &rds, region, "CopyDBSnapshot", params);
	json_decref(params);
	if (!res && code_is(call, "DBSnapshotAlreadyExists")) {
		pgm_clear_error(call);
		out = get_snapshot(call, region, dst, 0);
		if (out && is_copy_of(out, src)) {
			pgm_info("snapshot %s is a copy of %s already (%s); adopting it", dst, src,
				 sget(out, "status") ? sget(out, "status") : "?");
			json_object_set_new(out, "adopted", json_true());
			return out;
		}
		if (out)
			pgm_fail(call, "rds.DBSnapshotAlreadyExists", 0,
				 "rds: snapshot %s exists already and is not a copy of %s", dst,
				 src);
		json_decref(out);
		return NULL;
	}
	if (!res)
		return NULL;
	out = answer(call, res, "DBSnapshot", "CopyDBSnapshot");
	if (!out)
		return NULL;
	json_object_set_new(out, "adopted", json_false());
	return out;
}

static json_t *delete_snapshot(pgm_call *call, json_t *args, int cluster)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	json_t *params, *res, *out;

	if (!id)
		return NULL;
	params = json_pack("{s:s}",
			   cluster ? "DBClusterSnapshotIdentifier" : "DBSnapshotIdentifier", id);
	res = pgm_aws_query(call, &rds, aws_region_arg(call, args),
			    cluster ? "DeleteDBClusterSnapshot" : "DeleteDBSnapshot", params);
	json_decref(params);
	if (!res &&
	    code_is(call, cluster ? "DBClusterSnapshotNotFoundFault" : "DBSnapshotNotFound")) {
		pgm_clear_error(call);
		pgm_info("snapshot %s does not exist (deleted already)", id);
		return json_pack("{s:s,s:s,s:b}", "id", id, "status", "deleted", "existed", 0);
	}
	if (!res)
		return NULL;
	out = answer(call, res, cluster ? "DBClusterSnapshot" : "DBSnapshot",
		     cluster ? "DeleteDBClusterSnapshot" : "DeleteDBSnapshot");
	if (!out)
		return NULL;
	json_object_set_new(out, "existed", json_true());
	return out;
}

static json_t *fn_delete_snapshot(pgm_call *call, json_t *args)
{
	return delete_snapshot(call, args, 0);
}

/* ---- DB cluster snapshots ------------------------------------------------------- */

static json_t *fn_create_cluster_snapshot(pgm_call *call, json_t *args)
{
	const char *cluster = pgm_arg_string(call, args, "cluster", NULL, 1);
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *region = aws_region_arg(call, args);
	json_t *params, *res, *out;

	if (!cluster || !id || pgm_failed(call))
		return NULL;
	params = json_pack("{s:s,s:s}", "DBClusterIdentifier", cluster,
			   "DBClusterSnapshotIdentifier", id);
	if (tags_params(call, args, params) != 0) {
		json_decref(params);
		return NULL;
	}
	res = pgm_aws_query(call, &rds, region, "CreateDBClusterSnapshot", params);
	json_decref(params);
	if (!res && code_is(call, "DBClusterSnapshotAlreadyExistsFault")) {
		pgm_clear_error(call);
		out = get_snapshot(call, region, id, 1);
		if (out && sget(out, "cluster") && strcmp(sget(out, "cluster"), cluster) == 0) {
			json_object_set_new(out, "adopted", json_true());
			return out;
		}
		if (out)
			pgm_fail(call, "rds.DBClusterSnapshotAlreadyExistsFault", 0,
				 "rds: cluster snapshot %s exists already but is of cluster %s", id,
				 sget(out, "cluster") ? sget(out, "cluster") : "?");
		json_decref(out);
		return NULL;
	}
	if (!res)
		return NULL;
	out = answer(call, res, "DBClusterSnapshot", "CreateDBClusterSnapshot");
	if (!out)
		return NULL;
	json_object_set_new(out, "adopted", json_false());
	return out;
}

static json_t *fn_describe_cluster_snapshot(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);

	if (!id)
		return NULL;
	return get_snapshot(call, aws_region_arg(call, args), id, 1);
}

static json_t *fn_wait_cluster_snapshot(pgm_call *call, json_t *args)
{
	return wait_for(call, args, "cluster snapshot", get_cluster_snapshot, "available");
}

static json_t *fn_delete_cluster_snapshot(pgm_call *call, json_t *args)
{
	return delete_snapshot(call, args, 1);
}

/* ---- clusters and instances --------------------------------------------------- */

/* string_array - args[arg], an array of strings, as the flat Query params
 * PREFIX.N (N from 1); absent is fine. */
static int string_array(pgm_call *call, json_t *args, const char *arg, const char *prefix,
			json_t *params)
{
	json_t *l = json_object_get(args, arg), *x;
	size_t i;
	char name[96];

	if (!l || json_is_null(l))
		return 0;
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
		snprintf(name, sizeof(name), "%s.%zu", prefix, i + 1);
		json_object_set(params, name, x);
	}
	return 0;
}

/* cluster_options - the options shared by restore_cluster and
 * create_replica_cluster. */
static int cluster_options(pgm_call *call, json_t *args, json_t *params)
{
	const char *ev = pgm_arg_string(call, args, "engine_version", NULL, 0);
	const char *subnet = pgm_arg_string(call, args, "subnet_group", NULL, 0);
	const char *kms = pgm_arg_string(call, args, "kms_key", NULL, 0);
	json_t *sgs = json_object_get(args, "security_groups"), *g;
	double lo = -1, hi = -1;
	long long port = 0;
	int dp = 0;
	size_t i;
	char name[80];

	if (pgm_failed(call) || pgm_arg_number(call, args, "min_capacity", -1, 0, &lo) != 0 ||
	    pgm_arg_number(call, args, "max_capacity", -1, 0, &hi) != 0 ||
	    pgm_arg_int(call, args, "port", 0, 0, &port) != 0 ||
	    pgm_arg_bool(call, args, "deletion_protection", 0, &dp) != 0)
		return -1;
	if (ev)
		json_object_set_new(params, "EngineVersion", json_string(ev));
	if (subnet)
		json_object_set_new(params, "DBSubnetGroupName", json_string(subnet));
	if (kms)
		json_object_set_new(params, "KmsKeyId", json_string(kms));
	if (port)
		json_object_set_new(params, "Port", json_integer(port));
	if (dp)
		json_object_set_new(params, "DeletionProtection", json_true());
	if ((lo >= 0) != (hi >= 0)) {
		pgm_fail(call, "args.invalid", 0,
			 "min_capacity and max_capacity go together (Aurora Serverless v2 ACUs)");
		return -1;
	}
	if (lo >= 0) {
		if (lo > hi) {
			pgm_fail(call, "args.invalid", 0,
				 "min_capacity %g is above max_capacity %g", lo, hi);
			return -1;
		}
		json_object_set_new(params, "ServerlessV2ScalingConfiguration.MinCapacity",
				    json_real(lo));
		json_object_set_new(params, "ServerlessV2ScalingConfiguration.MaxCapacity",
				    json_real(hi));
	}
	if (sgs && !json_is_null(sgs)) {
		if (!json_is_array(sgs)) {
			pgm_fail(call, "args.invalid", 0,
				 "argument \"security_groups\" must be an array of sg- ids");
			return -1;
		}
		json_array_foreach(sgs, i, g)
		{
			if (!json_is_string(g)) {
				pgm_fail(call, "args.invalid", 0,
					 "security_groups[%zu] must be a string", i + 1);
				return -1;
			}
			snprintf(name, sizeof(name), "VpcSecurityGroupIds.VpcSecurityGroupId.%zu",
				 i + 1);
			json_object_set(params, name, g);
		}
	}
	if (string_array(call, args, "log_exports", "EnableCloudwatchLogsExports.member", params) !=
	    0)
		return -1;
	return tags_params(call, args, params);
}

/* adopt_cluster - after DBClusterAlreadyExistsFault: the existing cluster
 * when its engine is the one asked for. */
static json_t *adopt_cluster(pgm_call *call, const char *region, const char *id, const char *engine)
{
	json_t *out;

	pgm_clear_error(call);
	out = get_cluster(call, region, id);
	if (out && sget(out, "engine") && strcmp(sget(out, "engine"), engine) == 0) {
		pgm_info("cluster %s exists already (%s); adopting it", id, sget(out, "status"));
		json_object_set_new(out, "adopted", json_true());
		return out;
	}
	if (out)
		pgm_fail(call, "rds.DBClusterAlreadyExistsFault", 0,
			 "rds: cluster %s exists already with engine %s, not %s", id,
			 sget(out, "engine") ? sget(out, "engine") : "?", engine);
	json_decref(out);
	return NULL;
}

static json_t *fn_restore_cluster(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *snap = pgm_arg_string(call, args, "snapshot", NULL, 1);
	const char *engine = pgm_arg_string(call, args, "engine", "aurora-postgresql", 0);
	const char *region = aws_region_arg(call, args);
	json_t *params, *res, *out;

	char *snap_arn = NULL;

	if (!id || !snap || !engine || pgm_failed(call))
		return NULL;
	/* RestoreDBClusterFromSnapshot takes a DB cluster snapshot by name or
	 * ARN, but a DB snapshot only by its ARN (botocore's rds model): a
	 * name is looked up as a DB snapshot first, and its ARN sent. */
	if (strncmp(snap, "arn:", 4) != 0) {
		json_t *s = get_snapshot(call, region, snap, 0);

		if (s) {
			snap_arn = sget(s, "arn") ? strdup(sget(s, "arn")) : NULL;
			json_decref(s);
			if (!snap_arn)
				return pgm_fail(call, "rds.no_arn", 0,
						"rds: DB snapshot %s has no ARN in the answer",
						snap);
		} else if (code_is(call, "DBSnapshotNotFound")) {
			pgm_clear_error(call); /* a cluster snapshot's name, then */
		} else {
			return NULL;
		}
	}
	params = json_pack("{s:s,s:s,s:s}", "DBClusterIdentifier", id, "SnapshotIdentifier",
			   snap_arn ? snap_arn : snap, "Engine", engine);
	free(snap_arn);
	if (cluster_options(call, args, params) != 0) {
		json_decref(params);
		return NULL;
	}
	res = pgm_aws_query(call, &rds, region, "RestoreDBClusterFromSnapshot", params);
	json_decref(params);
	if (!res && code_is(call, "DBClusterAlreadyExistsFault"))
		return adopt_cluster(call, region, id, engine);
	if (!res)
		return NULL;
	out = answer(call, res, "DBCluster", "RestoreDBClusterFromSnapshot");
	if (!out)
		return NULL;
	json_object_set_new(out, "adopted", json_false());
	return out;
}

static json_t *fn_create_replica_cluster(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *src = pgm_arg_string(call, args, "source_instance", NULL, 1);
	const char *engine = pgm_arg_string(call, args, "engine", "aurora-postgresql", 0);
	const char *region = aws_region_arg(call, args);
	json_t *params, *res, *out;
	char *arn = NULL;

	if (!id || !src || !engine || pgm_failed(call))
		return NULL;
	if (strncmp(src, "arn:", 4) != 0) {
		/* ReplicationSourceIdentifier wants the instance's ARN. */
		json_t *inst = get_instance(call, region, src);

		if (!inst)
			return NULL;
		arn = sget(inst, "arn") ? strdup(sget(inst, "arn")) : NULL;
		json_decref(inst);
		if (!arn) {
			pgm_fail(call, "rds.no_arn", 0, "rds: instance %s has no ARN in the answer",
				 src);
			return NULL;
		}
	}
	params = json_pack("{s:s,s:s,s:s}", "DBClusterIdentifier", id,
			   "ReplicationSourceIdentifier", arn ? arn : src, "Engine", engine);
	free(arn);
	if (cluster_options(call, args, params) != 0) {
		json_decref(params);
		return NULL;
	}
	res = pgm_aws_query(call, &rds, region, "CreateDBCluster", params);
	json_decref(params);
	if (!res && code_is(call, "DBClusterAlreadyExistsFault"))
		return adopt_cluster(call, region, id, engine);
	if (!res)
		return NULL;
	out = answer(call, res, "DBCluster", "CreateDBCluster");
	if (!out)
		return NULL;
	json_object_set_new(out, "adopted", json_false());
	return out;
}

static json_t *fn_promote_cluster(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	json_t *params, *res, *out;

	if (!id)
		return NULL;
	params = json_pack("{s:s}", "DBClusterIdentifier", id);
	res = pgm_aws_query(call, &rds, aws_region_arg(call, args), "PromoteReadReplicaDBCluster",
			    params);
	json_decref(params);
	if (!res)
		return NULL;
	out = answer(call, res, "DBCluster", "PromoteReadReplicaDBCluster");
	if (!out)
		return NULL;
	return out;
}

static json_t *fn_describe_cluster(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);

	if (!id)
		return NULL;
	return get_cluster(call, aws_region_arg(call, args), id);
}

static json_t *fn_wait_cluster(pgm_call *call, json_t *args)
{
	return wait_for(call, args, "cluster", get_cluster, "available");
}

static json_t *fn_add_instance(pgm_call *call, json_t *args)
{
	const char *cluster = pgm_arg_string(call, args, "cluster", NULL, 1);
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *cls = pgm_arg_string(call, args, "class", "db.serverless", 0);
	const char *engine = pgm_arg_string(call, args, "engine", "aurora-postgresql", 0);
	const char *region = aws_region_arg(call, args);
	long long tier = -1;
	int pub = 0;
	json_t *params, *res, *out;

	if (!cluster || !id || !cls || !engine || pgm_failed(call) ||
	    pgm_arg_int(call, args, "promotion_tier", -1, 0, &tier) != 0 ||
	    pgm_arg_bool(call, args, "publicly_accessible", 0, &pub) != 0)
		return NULL;
	params = json_pack("{s:s,s:s,s:s,s:s}", "DBClusterIdentifier", cluster,
			   "DBInstanceIdentifier", id, "DBInstanceClass", cls, "Engine", engine);
	if (tier >= 0)
		json_object_set_new(params, "PromotionTier", json_integer(tier));
	if (pub)
		json_object_set_new(params, "PubliclyAccessible", json_true());
	if (tags_params(call, args, params) != 0) {
		json_decref(params);
		return NULL;
	}
	res = pgm_aws_query(call, &rds, region, "CreateDBInstance", params);
	json_decref(params);
	if (!res && code_is(call, "DBInstanceAlreadyExists")) {
		pgm_clear_error(call);
		out = get_instance(call, region, id);
		if (out && sget(out, "cluster") && strcmp(sget(out, "cluster"), cluster) == 0) {
			json_object_set_new(out, "adopted", json_true());
			return out;
		}
		if (out)
			pgm_fail(call, "rds.DBInstanceAlreadyExists", 0,
				 "rds: instance %s exists already and is not in cluster %s", id,
				 cluster);
		json_decref(out);
		return NULL;
	}
	if (!res)
		return NULL;
	out = answer(call, res, "DBInstance", "CreateDBInstance");
	if (!out)
		return NULL;
	json_object_set_new(out, "adopted", json_false());
	return out;
}

static json_t *fn_describe_instance(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);

	if (!id)
		return NULL;
	return get_instance(call, aws_region_arg(call, args), id);
}

static json_t *fn_wait_instance(pgm_call *call, json_t *args)
{
	return wait_for(call, args, "instance", get_instance, "available");
}

static json_t *fn_delete_instance(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *final = pgm_arg_string(call, args, "final_snapshot", NULL, 0);
	const char *region = aws_region_arg(call, args);
	int skip = 0, del_backups = 0;
	json_t *params, *res, *out;

	if (!id || pgm_failed(call) ||
	    pgm_arg_bool(call, args, "skip_final_snapshot", 0, &skip) != 0 ||
	    pgm_arg_bool(call, args, "delete_automated_backups", 0, &del_backups) != 0)
		return NULL;
	if (!final && !skip)
		return pgm_fail(call, "args.invalid", 0,
				"deleting instance %s needs final_snapshot = \"<id>\" (or "
				"skip_final_snapshot = true, which loses the recovery point)",
				id);
	if (final && skip)
		return pgm_fail(
			call, "args.invalid", 0,
			"final_snapshot and skip_final_snapshot = true contradict each other");
	params = json_pack("{s:s,s:b}", "DBInstanceIdentifier", id, "SkipFinalSnapshot", skip);
	if (final)
		json_object_set_new(params, "FinalDBSnapshotIdentifier", json_string(final));
	if (del_backups)
		json_object_set_new(params, "DeleteAutomatedBackups", json_true());
	res = pgm_aws_query(call, &rds, region, "DeleteDBInstance", params);
	json_decref(params);
	if (!res && code_is(call, "DBInstanceNotFound")) {
		/* Deleted already (a retry after a lost reply, a resumed run). */
		pgm_clear_error(call);
		pgm_info("instance %s does not exist (deleted already)", id);
		out = json_pack("{s:s,s:s,s:b}", "id", id, "status", "deleted", "existed", 0);
		if (final)
			json_object_set_new(out, "final_snapshot", json_string(final));
		return out;
	}
	if (!res && code_is(call, "InvalidDBInstanceState")) {
		/* Being deleted already: that is what was asked for. */
		char *first = strdup(pgm_error_message(call));

		pgm_clear_error(call);
		out = get_instance(call, region, id);
		if (out && sget(out, "status") && strcmp(sget(out, "status"), "deleting") == 0) {
			free(first);
			pgm_info("instance %s is being deleted already", id);
			json_object_set_new(out, "existed", json_true());
			if (final)
				json_object_set_new(out, "final_snapshot", json_string(final));
			return out;
		}
		if (out || code_is(call, "DBInstanceNotFound")) {
			pgm_clear_error(call);
			pgm_fail(call, "rds.InvalidDBInstanceState", 0, "%s", first);
		}
		json_decref(out);
		free(first);
		return NULL;
	}
	if (!res)
		return NULL;
	out = answer(call, res, "DBInstance", "DeleteDBInstance");
	if (!out)
		return NULL;
	json_object_set_new(out, "existed", json_true());
	if (final)
		json_object_set_new(out, "final_snapshot", json_string(final));
	return out;
}

static json_t *fn_delete_cluster(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *final = pgm_arg_string(call, args, "final_snapshot", NULL, 0);
	const char *region = aws_region_arg(call, args);
	int skip = 0;
	json_t *params, *res, *out, *cl, *deleted, *m;
	size_t i;

	if (!id || pgm_failed(call) ||
	    pgm_arg_bool(call, args, "skip_final_snapshot", 0, &skip) != 0)
		return NULL;
	if (!final == !skip)
		return pgm_fail(
			call, "args.invalid", 0,
			"deleting cluster %s needs exactly one of final_snapshot = \"<id>\" "
			"and skip_final_snapshot = true",
			id);
	/* The cluster's instances first: AWS refuses to delete a cluster that
	 * has an instance not being deleted. */
	cl = get_cluster(call, region, id);
	if (!cl && code_is(call, "DBClusterNotFoundFault")) {
		pgm_clear_error(call);
		pgm_info("cluster %s does not exist (deleted already)", id);
		return json_pack("{s:s,s:s,s:b,s:[]}", "id", id, "status", "deleted", "existed", 0,
				 "instances_deleted");
	}
	if (!cl)
		return NULL;
	deleted = json_array();
	json_array_foreach(json_object_get(cl, "members"), i, m)
	{
		const char *iid = sget(m, "id");
		json_t *ip, *ir;

		if (!iid)
			continue;
		ip = json_pack("{s:s,s:b}", "DBInstanceIdentifier", iid, "SkipFinalSnapshot", 1);
		ir = pgm_aws_query(call, &rds, region, "DeleteDBInstance", ip);
		json_decref(ip);
		if (!ir && (code_is(call, "DBInstanceNotFound") ||
			    code_is(call, "InvalidDBInstanceState"))) {
			/* gone, or being deleted already */
			pgm_debug("cluster %s: instance %s: %s", id, iid, pgm_error_code(call));
			pgm_clear_error(call);
			continue;
		}
		if (!ir) {
			json_decref(cl);
			json_decref(deleted);
			return NULL;
		}
		pgm_info("cluster %s: deleting its instance %s", id, iid);
		json_array_append_new(deleted, json_string(iid));
		json_decref(ir);
	}
	json_decref(cl);
	params = json_pack("{s:s,s:b}", "DBClusterIdentifier", id, "SkipFinalSnapshot", skip);
	if (final)
		json_object_set_new(params, "FinalDBSnapshotIdentifier", json_string(final));
	res = pgm_aws_query(call, &rds, region, "DeleteDBCluster", params);
	json_decref(params);
	if (!res && code_is(call, "DBClusterNotFoundFault")) {
		pgm_clear_error(call);
		pgm_info("cluster %s does not exist (deleted already)", id);
		return json_pack("{s:s,s:s,s:b,s:o}", "id", id, "status", "deleted", "existed", 0,
				 "instances_deleted", deleted);
	}
	if (!res) {
		json_decref(deleted);
		return NULL;
	}
	out = answer(call, res, "DBCluster", "DeleteDBCluster");
	if (!out) {
		json_decref(deleted);
		return NULL;
	}
	json_object_set_new(out, "existed", json_true());
	json_object_set_new(out, "instances_deleted", deleted);
	return out;
}

/* ---- the descriptor ------------------------------------------------------------- */

#define P_REGION                                                                                   \
	{                                                                                          \
		"region", "string", 0, 0, "AWS region (default: AWS_REGION, profile)"              \
	}
#define P_WAIT                                                                                     \
	{"every", "duration", 0, 0, "poll interval (default 30s)"},                                \
	{                                                                                          \
		"timeout", "duration", 0, 0, "give up after (default 3h)"                          \
	}
#define P_END                                                                                      \
	{                                                                                          \
		NULL, NULL, 0, 0, NULL                                                             \
	}
#define P_CLUSTER_OPTS                                                                             \
	{"engine", "string", 0, 0, "default aurora-postgresql"},                                   \
		{"engine_version", "string", 0, 0, "e.g. 15.4"},                                   \
		{"subnet_group", "string", 0, 0, "DB subnet group name"},                          \
		{"security_groups", "array", 0, 0, "VPC security group ids"},                      \
		{"kms_key", "string", 0, 0, "KMS key for encryption"},                             \
		{"port", "integer", 0, 0, "port"},                                                 \
		{"min_capacity", "number", 0, 0, "Serverless v2 minimum ACUs (e.g. 0.5)"},         \
		{"max_capacity", "number", 0, 0, "Serverless v2 maximum ACUs (e.g. 16)"},          \
		{"deletion_protection", "boolean", 0, 0, "protect the cluster"},                   \
		{"log_exports", "array", 0, 0,                                                     \
		 "logs to publish to CloudWatch Logs: {\"postgresql\"}"},                          \
	{                                                                                          \
		"tags", "object", 0, 0, "tags {key = value}"                                       \
	}

static const pgm_param p_create_snapshot[] = {
	{"instance", "string", 1, 0, "DB instance identifier"},
	{"id", "string", 1, 0, "snapshot identifier"},
	{"tags", "object", 0, 0, "tags {key = value}"},
	P_REGION,
	P_END};
static const pgm_param p_id[] = {{"id", "string", 1, 0, "identifier"}, P_REGION, P_END};
static const pgm_param p_wait[] = {{"id", "string", 1, 0, "identifier"}, P_WAIT, P_REGION, P_END};
static const pgm_param p_list_snapshots[] = {
	{"instance", "string", 0, 0, "only snapshots of this instance"},
	{"type", "string", 0, 0, "manual, automated, ..."},
	P_REGION,
	P_END};
static const pgm_param p_copy_snapshot[] = {
	{"source", "string", 1, 0, "source snapshot identifier or ARN"},
	{"target", "string", 1, 0, "new snapshot identifier"},
	{"kms_key", "string", 0, 0, "KMS key to encrypt the copy"},
	{"copy_tags", "boolean", 0, 0, "copy the source's tags"},
	{"tags", "object", 0, 0, "tags {key = value}"},
	P_REGION,
	P_END};
static const pgm_param p_create_cluster_snapshot[] = {
	{"cluster", "string", 1, 0, "DB cluster identifier"},
	{"id", "string", 1, 0, "cluster snapshot identifier"},
	{"tags", "object", 0, 0, "tags {key = value}"},
	P_REGION,
	P_END};
static const pgm_param p_restore_cluster[] = {
	{"id", "string", 1, 0, "new cluster identifier"},
	{"snapshot", "string", 1, 0,
	 "DB snapshot identifier or ARN (a name is sent as its ARN), or cluster snapshot"},
	P_CLUSTER_OPTS,
	P_REGION,
	P_END};
static const pgm_param p_create_replica_cluster[] = {
	{"id", "string", 1, 0, "new cluster identifier"},
	{"source_instance", "string", 1, 0, "RDS instance identifier or ARN to replicate"},
	P_CLUSTER_OPTS,
	P_REGION,
	P_END};
static const pgm_param p_add_instance[] = {
	{"cluster", "string", 1, 0, "DB cluster identifier"},
	{"id", "string", 1, 0, "new instance identifier"},
	{"class", "string", 0, 0, "db.serverless (default) or a provisioned class"},
	{"engine", "string", 0, 0, "default aurora-postgresql"},
	{"promotion_tier", "integer", 0, 0, "failover priority 0-15"},
	{"publicly_accessible", "boolean", 0, 0, "default false"},
	{"tags", "object", 0, 0, "tags {key = value}"},
	P_REGION,
	P_END};
static const pgm_param p_delete_instance[] = {
	{"id", "string", 1, 0, "DB instance identifier"},
	{"final_snapshot", "string", 0, 0, "identifier of the final snapshot (the recovery point)"},
	{"skip_final_snapshot", "boolean", 0, 0, "delete without a final snapshot"},
	{"delete_automated_backups", "boolean", 0, 0, "also delete automated backups"},
	P_REGION,
	P_END};

static const pgm_param p_delete_cluster[] = {
	{"id", "string", 1, 0, "DB cluster identifier"},
	{"final_snapshot", "string", 0, 0, "identifier of a final cluster snapshot"},
	{"skip_final_snapshot", "boolean", 0, 0, "delete without a final snapshot"},
	P_REGION,
	P_END};

static const pgm_function functions[] = {
	{"create_snapshot", fn_create_snapshot, PGM_FN_IDEMPOTENT,
	 "create a DB snapshot of an instance (adopts an existing one of the same instance)",
	 p_create_snapshot},
	{"describe_snapshot", fn_describe_snapshot, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "status and percent progress of a DB snapshot", p_id},
	{"list_snapshots", fn_list_snapshots, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "DB snapshots, all pages", p_list_snapshots},
	{"wait_snapshot", fn_wait_snapshot, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "wait until a DB snapshot is available", p_wait},
	{"copy_snapshot", fn_copy_snapshot, PGM_FN_IDEMPOTENT, "copy a DB snapshot",
	 p_copy_snapshot},
	{"delete_snapshot", fn_delete_snapshot, PGM_FN_IDEMPOTENT | PGM_FN_IRREVERSIBLE,
	 "delete a DB snapshot (absent counts as deleted)", p_id},
	{"create_cluster_snapshot", fn_create_cluster_snapshot, PGM_FN_IDEMPOTENT,
	 "create a DB cluster snapshot", p_create_cluster_snapshot},
	{"describe_cluster_snapshot", fn_describe_cluster_snapshot,
	 PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY, "status and progress of a DB cluster snapshot",
	 p_id},
	{"wait_cluster_snapshot", fn_wait_cluster_snapshot, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "wait until a DB cluster snapshot is available", p_wait},
	{"delete_cluster_snapshot", fn_delete_cluster_snapshot,
	 PGM_FN_IDEMPOTENT | PGM_FN_IRREVERSIBLE, "delete a DB cluster snapshot", p_id},
	{"restore_cluster", fn_restore_cluster, PGM_FN_IDEMPOTENT,
	 "restore an Aurora cluster from an RDS (or cluster) snapshot", p_restore_cluster},
	{"add_instance", fn_add_instance, PGM_FN_IDEMPOTENT,
	 "add an instance (db.serverless or provisioned) to a cluster", p_add_instance},
	{"describe_cluster", fn_describe_cluster, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "status, endpoints, members and engine of a cluster", p_id},
	{"wait_cluster", fn_wait_cluster, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "wait until a cluster is available", p_wait},
	{"describe_instance", fn_describe_instance, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "status, endpoint and class of an instance", p_id},
	{"wait_instance", fn_wait_instance, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "wait until an instance is available", p_wait},
	{"create_replica_cluster", fn_create_replica_cluster, PGM_FN_IDEMPOTENT,
	 "create an Aurora read-replica cluster of an RDS instance", p_create_replica_cluster},
	{"promote_cluster", fn_promote_cluster, PGM_FN_IRREVERSIBLE,
	 "promote an Aurora read-replica cluster to a standalone cluster", p_id},
	{"delete_cluster", fn_delete_cluster, PGM_FN_IDEMPOTENT | PGM_FN_IRREVERSIBLE,
	 "delete a cluster (its instances first), with a final snapshot unless told otherwise",
	 p_delete_cluster},
	{"delete_instance", fn_delete_instance, PGM_FN_IDEMPOTENT | PGM_FN_IRREVERSIBLE,
	 "delete an instance, with a final snapshot unless told otherwise (absent or being "
	 "deleted counts as done)",
	 p_delete_instance},
	{NULL, NULL, 0, NULL, NULL}};

PGMOVE_PLUGIN(rds_snapshot) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "rds_snapshot",
	.version = "1.0.0",
	.summary = "Amazon RDS snapshots, Aurora restore, clusters and instances (RDS Query API)",
	.init = NULL,
	.fini = aws_region_fini,
	.functions = functions,
	.configure = aws_region_configure,
	.config = aws_region_config,
};
