/*
 * plugins/dms/dms.c - AWS Database Migration Service through its JSON 1.1
 * API (pgm_aws_json): the service, looking resources up by identifier or
 * ARN (DMS takes ARNs for every reference; users may give either), the
 * replication instances and endpoints (create / adopt, describe, wait,
 * modify, test the connection from the instance, delete) and the function
 * table. Tasks, table mappings, statistics, the replication state and the
 * premigration assessments are in dms_task.c and dms_mappings.c.
 *
 * Results are objects with lower-case keys ("id", "arn", "status", ...);
 * creating something that exists with the same settings adopts it
 * (adopted = true), with other settings it is "dms.conflict".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "dms.h"
#include "aws_region.h"

const pgm_aws_service dms_service = {
	.name = "dms",
	.endpoint_id = "dms",
	.env_id = "DATABASE_MIGRATION_SERVICE",
	.api_version = NULL,
	.json_prefix = "AmazonDMSv20160101",
};

const pgm_aws_service dms_cloudwatch = {
	.name = "monitoring",
	.endpoint_id = "monitoring",
	.env_id = "CLOUDWATCH",
	.api_version = "2010-08-01",
	.json_prefix = NULL,
};

const char *dms_sget(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

json_t *dms_call(pgm_call *call, json_t *args, const char *action, json_t *body)
{
	json_t *res;

	if (!body)
		body = json_object();
	res = pgm_aws_json(call, &dms_service, aws_region_arg(call, args), action, body);
	json_decref(body);
	return res;
}

static const struct {
	const char *name, *action, *list, *arn_filter, *id_filter;
} kinds[] = {
	[DMS_INSTANCE] = {"replication instance", "DescribeReplicationInstances",
			  "ReplicationInstances", "replication-instance-arn",
			  "replication-instance-id"},
	[DMS_ENDPOINT] = {"endpoint", "DescribeEndpoints", "Endpoints", "endpoint-arn",
			  "endpoint-id"},
	[DMS_TASK] = {"replication task", "DescribeReplicationTasks", "ReplicationTasks",
		      "replication-task-arn", "replication-task-id"},
};

const char *dms_kind_name(dms_kind kind)
{
	return kinds[kind].name;
}

json_t *dms_find(pgm_call *call, json_t *args, dms_kind kind, const char *ref)
{
	int is_arn = strncmp(ref, "arn:", 4) == 0;
	json_t *body, *res, *list, *found;

	body = json_pack("{s:[{s:s,s:[s]}]}", "Filters", "Name",
			 is_arn ? kinds[kind].arn_filter : kinds[kind].id_filter, "Values", ref);
	if (kind == DMS_TASK)
		json_object_set_new(body, "WithoutSettings", json_false());
	res = dms_call(call, args, kinds[kind].action, body);
	if (!res) {
		/* DMS answers a filter that matches nothing with this fault. */
		if (pgm_error_code(call) &&
		    strcmp(pgm_error_code(call), "dms.ResourceNotFoundFault") == 0) {
			pgm_clear_error(call);
			return NULL;
		}
		return NULL;
	}
	list = json_object_get(res, kinds[kind].list);
	if (list && !json_is_array(list)) {
		json_decref(res);
		return pgm_fail(call, "aws.bad_response", 0, "dms %s: %s is not a list",
				kinds[kind].action, kinds[kind].list);
	}
	found = json_array_get(list, 0);
	json_incref(found);
	json_decref(res);
	return found;
}

json_t *dms_need(pgm_call *call, json_t *args, dms_kind kind, const char *ref, const char *what)
{
	json_t *o = dms_find(call, args, kind, ref);

	if (!o && !pgm_failed(call))
		pgm_fail(call, "dms.ResourceNotFoundFault", 0, "dms: %s %s does not exist",
			 what ? what : kinds[kind].name, ref);
	return o;
}

int dms_poll_args(pgm_call *call, json_t *args, long long dflt_every, long long dflt_timeout,
		  long long *every, long long *timeout)
{
	if (pgm_arg_duration_ms(call, args, "every", dflt_every, 0, every) != 0 ||
	    pgm_arg_duration_ms(call, args, "timeout", dflt_timeout, 0, timeout) != 0)
		return -1;
	if (*every < 10)
		*every = 10;
	return 0;
}

/* string_array - a list argument given as an array of strings or a
 * comma-separated string, as a new array; NULL with the error set on a bad
 * value, a new empty array when absent. */
static json_t *string_array(pgm_call *call, json_t *args, const char *name)
{
	json_t *v = json_object_get(args, name), *out = json_array(), *x;
	size_t i;

	if (!v || json_is_null(v))
		return out;
	if (json_is_string(v)) {
		char *copy = strdup(json_string_value(v)), *save = NULL, *tok;

		for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
			json_array_append_new(out, json_string(tok));
		free(copy);
		return out;
	}
	if (!json_is_array(v))
		goto bad;
	json_array_foreach(v, i, x)
	{
		if (!json_is_string(x))
			goto bad;
		json_array_append(out, x);
	}
	return out;
bad:
	json_decref(out);
	return pgm_fail(call, "args.invalid", 0,
			"argument \"%s\" must be an array of strings or a comma-separated string",
			name);
}

/* tags_body - DMS Tags [{Key, Value}] from {key = value}; 0, or -1 with the
 * error set. */
static int tags_body(pgm_call *call, json_t *args, json_t *body)
{
	json_t *tags = json_object_get(args, "tags"), *v, *l;
	const char *k;

	if (!tags || json_is_null(tags))
		return 0;
	if (!json_is_object(tags)) {
		pgm_fail(call, "args.invalid", 0,
			 "argument \"tags\" must be an object key = value");
		return -1;
	}
	l = json_array();
	json_object_foreach(tags, k, v)
	{
		if (!json_is_string(v)) {
			json_decref(l);
			pgm_fail(call, "args.invalid", 0, "tags.%s must be a string", k);
			return -1;
		}
		json_array_append_new(l, json_pack("{s:s,s:O}", "Key", k, "Value", v));
	}
	json_object_set_new(body, "Tags", l);
	return 0;
}

static void copy_str(json_t *to, const char *key, json_t *from, const char *src)
{
	json_t *v = json_object_get(from, src);

	if (v && !json_is_null(v))
		json_object_set(to, key, v);
}

/* ---- replication instances -------------------------------------------------- */

/* norm_instance - our view of a ReplicationInstance (borrowed); new object. */
static json_t *norm_instance(json_t *r)
{
	json_t *o = json_object(), *sgs = json_array(), *g, *pending;
	size_t i;

	copy_str(o, "id", r, "ReplicationInstanceIdentifier");
	copy_str(o, "arn", r, "ReplicationInstanceArn");
	copy_str(o, "class", r, "ReplicationInstanceClass");
	copy_str(o, "status", r, "ReplicationInstanceStatus");
	copy_str(o, "storage", r, "AllocatedStorage");
	copy_str(o, "multi_az", r, "MultiAZ");
	copy_str(o, "engine_version", r, "EngineVersion");
	copy_str(o, "publicly_accessible", r, "PubliclyAccessible");
	copy_str(o, "availability_zone", r, "AvailabilityZone");
	copy_str(o, "private_ip", r, "ReplicationInstancePrivateIpAddress");
	copy_str(o, "kms_key", r, "KmsKeyId");
	if (json_object_get(r, "ReplicationSubnetGroup"))
		copy_str(o, "subnet_group", json_object_get(r, "ReplicationSubnetGroup"),
			 "ReplicationSubnetGroupIdentifier");
	json_array_foreach(json_object_get(r, "VpcSecurityGroups"), i, g)
		json_array_append(sgs, json_object_get(g, "VpcSecurityGroupId"));
	json_object_set_new(o, "security_groups", sgs);
	pending = json_object_get(r, "PendingModifiedValues");
	if (json_is_object(pending) && json_object_size(pending)) {
		json_t *p = json_object();

		copy_str(p, "class", pending, "ReplicationInstanceClass");
		copy_str(p, "storage", pending, "AllocatedStorage");
		copy_str(p, "multi_az", pending, "MultiAZ");
		copy_str(p, "engine_version", pending, "EngineVersion");
		json_object_set_new(o, "pending", p);
	}
	return o;
}

static json_t *fn_create_instance(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *cls = pgm_arg_string(call, args, "class", NULL, 1);
	const char *subnet = pgm_arg_string(call, args, "subnet_group", NULL, 0);
	const char *version = pgm_arg_string(call, args, "engine_version", NULL, 0);
	const char *kms = pgm_arg_string(call, args, "kms_key", NULL, 0);
	long long storage;
	int multi_az, public;
	json_t *sgs, *body, *res, *have, *out;

	if (!id || !cls || pgm_failed(call) ||
	    pgm_arg_int(call, args, "storage", 0, 0, &storage) != 0 ||
	    pgm_arg_bool(call, args, "multi_az", 0, &multi_az) != 0 ||
	    pgm_arg_bool(call, args, "publicly_accessible", 0, &public) != 0)
		return NULL;
	if (storage < 0 || storage > 6144)
		return pgm_fail(call, "args.invalid", 0,
				"replication instance %s: storage must be 5..6144 GB", id);
	if (strncmp(cls, "dms.", 4) != 0)
		return pgm_fail(call, "args.invalid", 0,
				"replication instance %s: class \"%s\" is not a DMS class "
				"(dms.r5.large, dms.c5.xlarge, ...)",
				id, cls);
	sgs = string_array(call, args, "security_groups");
	if (!sgs)
		return NULL;
	have = dms_find(call, args, DMS_INSTANCE, id);
	if (pgm_failed(call)) {
		json_decref(sgs);
		return NULL;
	}
	if (have) {
		json_t *p = json_object_get(have, "PendingModifiedValues");
		const char *hcls = dms_sget(have, "ReplicationInstanceClass");
		const char *pcls = dms_sget(p, "ReplicationInstanceClass");
		int hmaz = json_is_true(json_object_get(have, "MultiAZ"));

		json_decref(sgs);
		if (!((hcls && strcmp(hcls, cls) == 0) || (pcls && strcmp(pcls, cls) == 0)) ||
		    hmaz != multi_az) {
			out = pgm_fail(
				call, "dms.conflict", 0,
				"dms: replication instance %s exists with class %s%s, not %s%s "
				"as asked: modify it (modify_instance) or pick another id",
				id, hcls ? hcls : "?", hmaz ? " Multi-AZ" : "", cls,
				multi_az ? " Multi-AZ" : "");
			json_decref(have);
			return out;
		}
		out = norm_instance(have);
		json_decref(have);
		json_object_set_new(out, "adopted", json_true());
		return out;
	}
	body = json_pack("{s:s,s:s,s:b,s:b}", "ReplicationInstanceIdentifier", id,
			 "ReplicationInstanceClass", cls, "MultiAZ", multi_az, "PubliclyAccessible",
			 public);
	if (storage)
		json_object_set_new(body, "AllocatedStorage", json_integer(storage));
	if (subnet)
		json_object_set_new(body, "ReplicationSubnetGroupIdentifier", json_string(subnet));
	if (version)
		json_object_set_new(body, "EngineVersion", json_string(version));
	if (kms)
		json_object_set_new(body, "KmsKeyId", json_string(kms));
	if (json_array_size(sgs))
		json_object_set(body, "VpcSecurityGroupIds", sgs);
	json_decref(sgs);
	if (tags_body(call, args, body) != 0) {
		json_decref(body);
		return NULL;
	}
	res = dms_call(call, args, "CreateReplicationInstance", body);
	if (!res)
		return NULL;
	if (!json_is_object(json_object_get(res, "ReplicationInstance"))) {
		json_decref(res);
		return pgm_fail(
			call, "aws.bad_response", 0,
			"dms CreateReplicationInstance: no ReplicationInstance in the answer");
	}
	out = norm_instance(json_object_get(res, "ReplicationInstance"));
	json_decref(res);
	json_object_set_new(out, "adopted", json_false());
	return out;
}

static json_t *fn_describe_instance(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	json_t *r, *out;

	if (!id)
		return NULL;
	r = dms_need(call, args, DMS_INSTANCE, id, NULL);
	if (!r)
		return NULL;
	out = norm_instance(r);
	json_decref(r);
	return out;
}

static json_t *fn_wait_instance(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *want = pgm_arg_string(call, args, "status", "available", 0);
	long long every, timeout, start = pgm_now_ms();

	if (!id || !want || dms_poll_args(call, args, 30000, 3600000, &every, &timeout) != 0)
		return NULL;
	for (;;) {
		json_t *r = dms_need(call, args, DMS_INSTANCE, id, NULL), *out;
		const char *st;

		if (!r)
			return NULL;
		out = norm_instance(r);
		json_decref(r);
		st = dms_sget(out, "status");
		if (st && strcmp(st, want) == 0)
			return out;
		if (st && (strcmp(st, "failed") == 0 || strcmp(st, "storage-full") == 0 ||
			   strcmp(st, "incompatible-network") == 0 ||
			   strcmp(st, "inaccessible-encryption-credentials") == 0)) {
			json_decref(out);
			return pgm_fail(call, "dms.wait_failed", 0,
					"dms: replication instance %s is %s, not %s", id, st, want);
		}
		pgm_progress(call, 0, 0, "", st ? st : "?");
		json_decref(out);
		if (pgm_now_ms() - start + every > timeout)
			return pgm_fail(
				call, "dms.wait_timeout", 1,
				"dms: replication instance %s: not %s after %lld s (last %s)", id,
				want, timeout / 1000, st ? st : "?");
		if (pgm_sleep_ms(call, every) != 0)
			return NULL;
	}
}

static json_t *fn_modify_instance(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *cls = pgm_arg_string(call, args, "class", NULL, 0);
	long long storage;
	int now, changed = 0;
	json_t *have, *body, *res, *out;
	json_t *maz = json_object_get(args, "multi_az");

	if (!id || pgm_failed(call) || pgm_arg_int(call, args, "storage", 0, 0, &storage) != 0 ||
	    pgm_arg_bool(call, args, "apply_immediately", 1, &now) != 0)
		return NULL;
	if (maz && !json_is_boolean(maz))
		return pgm_fail(call, "args.invalid", 0, "argument \"multi_az\" must be a boolean");
	if (!cls && !storage && !maz)
		return pgm_fail(call, "args.invalid", 0,
				"modify_instance %s: nothing to change (class, storage, multi_az)",
				id);
	have = dms_need(call, args, DMS_INSTANCE, id, NULL);
	if (!have)
		return NULL;
	body = json_pack("{s:O,s:b}", "ReplicationInstanceArn",
			 json_object_get(have, "ReplicationInstanceArn"), "ApplyImmediately", now);
	if (cls && strcmp(cls, dms_sget(have, "ReplicationInstanceClass")
				       ? dms_sget(have, "ReplicationInstanceClass")
				       : "") != 0) {
		json_object_set_new(body, "ReplicationInstanceClass", json_string(cls));
		changed = 1;
	}
	if (storage && json_integer_value(json_object_get(have, "AllocatedStorage")) != storage) {
		json_object_set_new(body, "AllocatedStorage", json_integer(storage));
		changed = 1;
	}
	if (maz && json_is_true(maz) != json_is_true(json_object_get(have, "MultiAZ"))) {
		json_object_set(body, "MultiAZ", maz);
		changed = 1;
	}
	if (!changed) {
		json_decref(body);
		out = norm_instance(have);
		json_decref(have);
		json_object_set_new(out, "modified", json_false());
		return out;
	}
	json_decref(have);
	res = dms_call(call, args, "ModifyReplicationInstance", body);
	if (!res)
		return NULL;
	out = norm_instance(json_object_get(res, "ReplicationInstance"));
	json_decref(res);
	json_object_set_new(out, "modified", json_true());
	return out;
}

/* delete_by_arn - the Delete<kind> action on an existing resource, or
 * existed = false when it is gone already. */
static json_t *delete_resource(pgm_call *call, json_t *args, dms_kind kind, const char *action,
			       const char *arn_key, const char *result_key,
			       json_t *(*norm)(json_t *))
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	json_t *have, *res, *out;

	if (!id)
		return NULL;
	have = dms_find(call, args, kind, id);
	if (!have) {
		if (pgm_failed(call))
			return NULL;
		return json_pack("{s:s,s:b,s:s}", "id", id, "existed", 0, "status", "deleted");
	}
	res = dms_call(call, args, action,
		       json_pack("{s:O}", arn_key, json_object_get(have, arn_key)));
	json_decref(have);
	if (!res) {
		if (strcmp(pgm_error_code(call), "dms.ResourceNotFoundFault") == 0) {
			pgm_clear_error(call);
			return json_pack("{s:s,s:b,s:s}", "id", id, "existed", 0, "status",
					 "deleted");
		}
		return NULL;
	}
	out = norm(json_object_get(res, result_key));
	json_decref(res);
	json_object_set_new(out, "existed", json_true());
	return out;
}

static json_t *fn_delete_instance(pgm_call *call, json_t *args)
{
	return delete_resource(call, args, DMS_INSTANCE, "DeleteReplicationInstance",
			       "ReplicationInstanceArn", "ReplicationInstance", norm_instance);
}

/* ---- endpoints ------------------------------------------------------------------ */

/* norm_endpoint - our view of an Endpoint (borrowed); new object. DMS never
 * returns the password. */
static json_t *norm_endpoint(json_t *e)
{
	json_t *o = json_object(), *pg = json_object_get(e, "PostgreSQLSettings");

	copy_str(o, "id", e, "EndpointIdentifier");
	copy_str(o, "arn", e, "EndpointArn");
	if (dms_sget(e, "EndpointType")) {
		char *t = strdup(dms_sget(e, "EndpointType"));

		for (char *p = t; p && *p; p++)
			*p = (char)tolower((unsigned char)*p);
		json_object_set_new(o, "type", json_string(t ? t : ""));
		free(t);
	}
	copy_str(o, "engine", e, "EngineName");
	copy_str(o, "status", e, "Status");
	copy_str(o, "server", e, "ServerName");
	copy_str(o, "port", e, "Port");
	copy_str(o, "database", e, "DatabaseName");
	copy_str(o, "username", e, "Username");
	copy_str(o, "ssl_mode", e, "SslMode");
	copy_str(o, "certificate_arn", e, "CertificateArn");
	copy_str(o, "extra_connection_attributes", e, "ExtraConnectionAttributes");
	if (json_is_object(pg)) {
		json_t *s = json_deep_copy(pg);

		json_object_del(s, "Password");
		copy_str(o, "secret_arn", pg, "SecretsManagerSecretId");
		copy_str(o, "secret_role_arn", pg, "SecretsManagerAccessRoleArn");
		json_object_set_new(o, "settings", s);
	}
	return o;
}

static int one_of(const char *v, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return 1;
	return 0;
}

/* endpoint_diff - what differs between an existing endpoint and the body we
 * would create it with, as "field: have X, want Y; ..." into buf; 0 if same. */
static int endpoint_diff(json_t *have, json_t *body, char *buf, size_t len)
{
	static const char *const fields[] = {"EndpointType", "EngineName", "ServerName", "Port",
					     "DatabaseName", "Username",   "SslMode",	 NULL};
	size_t used = 0;
	int n = 0;

	buf[0] = 0;
	for (int i = 0; fields[i]; i++) {
		json_t *h = json_object_get(have, fields[i]), *w = json_object_get(body, fields[i]);
		char *hs, *ws;

		if (!w || (h && json_equal(h, w)))
			continue;
		/* DMS answers EndpointType in capitals (SOURCE). */
		if (h && json_is_string(h) && json_is_string(w) &&
		    strcasecmp(json_string_value(h), json_string_value(w)) == 0)
			continue;
		if (strcmp(fields[i], "SslMode") == 0 && !h &&
		    strcmp(json_string_value(w), "none") == 0)
			continue;
		hs = h ? json_dumps(h, JSON_ENCODE_ANY) : strdup("(none)");
		ws = json_dumps(w, JSON_ENCODE_ANY);
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s: has %s, wanted %s",
						 n ? "; " : "", fields[i], hs ? hs : "?",
						 ws ? ws : "?");
		free(hs);
		free(ws);
		n++;
	}
	{
		const char *hsec = dms_sget(json_object_get(have, "PostgreSQLSettings"),
					    "SecretsManagerSecretId");
		const char *wsec = dms_sget(json_object_get(body, "PostgreSQLSettings"),
					    "SecretsManagerSecretId");

		if ((hsec || wsec) && !(hsec && wsec && strcmp(hsec, wsec) == 0)) {
			if (used < len)
				used += (size_t)snprintf(buf + used, len - used,
							 "%ssecret: has %s, wanted %s",
							 n ? "; " : "", hsec ? hsec : "(none)",
							 wsec ? wsec : "(none)");
			n++;
		}
	}
	return n;
}

static json_t *fn_create_endpoint(pgm_call *call, json_t *args)
{
	static const char *const types[] = {"source", "target", NULL};
	static const char *const engines[] = {"postgres", "aurora-postgresql", NULL};
	static const char *const ssl_modes[] = {"none", "require", "verify-ca", "verify-full",
						NULL};
	static const char *const plugins[] = {"no-preference", "test-decoding", "pglogical", NULL};
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	const char *type = pgm_arg_string(call, args, "type", NULL, 1);
	const char *engine = pgm_arg_string(call, args, "engine", "postgres", 0);
	const char *server = pgm_arg_string(call, args, "server", NULL, 0);
	const char *database = pgm_arg_string(call, args, "database", NULL, 1);
	const char *user = pgm_arg_string(call, args, "username", NULL, 0);
	const char *password = pgm_arg_string(call, args, "password", NULL, 0);
	const char *secret = pgm_arg_string(call, args, "secret_arn", NULL, 0);
	const char *role = pgm_arg_string(call, args, "secret_role_arn", NULL, 0);
	const char *ssl = pgm_arg_string(call, args, "ssl_mode", "require", 0);
	const char *cert = pgm_arg_string(call, args, "certificate_arn", NULL, 0);
	const char *slot = pgm_arg_string(call, args, "slot_name", NULL, 0);
	const char *plugin = pgm_arg_string(call, args, "plugin", NULL, 0);
	const char *eca = pgm_arg_string(call, args, "extra_connection_attributes", NULL, 0);
	const char *kms = pgm_arg_string(call, args, "kms_key", NULL, 0);
	json_t *extra = json_object_get(args, "settings");
	long long port, hb_freq;
	int heartbeat, ddls;
	json_t *body, *pg, *have, *res, *out;
	char diff[1024];

	if (!id || !type || !engine || !database || !ssl || pgm_failed(call) ||
	    pgm_arg_int(call, args, "port", 5432, 0, &port) != 0 ||
	    pgm_arg_bool(call, args, "heartbeat", 1, &heartbeat) != 0 ||
	    pgm_arg_int(call, args, "heartbeat_frequency", 0, 0, &hb_freq) != 0 ||
	    pgm_arg_bool(call, args, "capture_ddls", 0, &ddls) != 0)
		return NULL;
	if (!json_object_get(args, "capture_ddls"))
		ddls = -1;
	if (!json_object_get(args, "heartbeat"))
		heartbeat = -1;
	if (!one_of(type, types))
		return pgm_fail(call, "args.invalid", 0,
				"endpoint %s: type \"%s\" must be source or target", id, type);
	if (!one_of(engine, engines))
		return pgm_fail(call, "args.invalid", 0,
				"endpoint %s: engine \"%s\" must be postgres or aurora-postgresql",
				id, engine);
	if (!one_of(ssl, ssl_modes))
		return pgm_fail(call, "args.invalid", 0,
				"endpoint %s: ssl_mode \"%s\" must be none, require, verify-ca or "
				"verify-full",
				id, ssl);
	if (plugin && !one_of(plugin, plugins))
		return pgm_fail(
			call, "args.invalid", 0,
			"endpoint %s: plugin \"%s\" must be no-preference, test-decoding or "
			"pglogical",
			id, plugin);
	if (port < 1 || port > 65535)
		return pgm_fail(call, "args.invalid", 0, "endpoint %s: port %lld is out of range",
				id, port);
	if (extra && !json_is_null(extra) && !json_is_object(extra))
		return pgm_fail(call, "args.invalid", 0,
				"endpoint %s: settings must be an object of PostgreSQLSettings",
				id);
	if (secret || role) {
		if (!secret || !role)
			return pgm_fail(call, "args.invalid", 0,
					"endpoint %s: secret_arn and secret_role_arn go together "
					"(the secret and the role DMS assumes to read it)",
					id);
		if (strncmp(secret, "arn:", 4) != 0 || strncmp(role, "arn:", 4) != 0)
			return pgm_fail(call, "args.invalid", 0,
					"endpoint %s: secret_arn and secret_role_arn must be ARNs",
					id);
		if (password || user || server)
			return pgm_fail(
				call, "args.invalid", 0,
				"endpoint %s: with secret_arn, server, username and password "
				"come from the secret; do not give them",
				id);
	} else if (!server || !user || !password) {
		return pgm_fail(
			call, "args.invalid", 0,
			"endpoint %s: give server, username and password, or secret_arn and "
			"secret_role_arn (AWS Secrets Manager)",
			id);
	}
	if (strcmp(ssl, "verify-ca") == 0 || strcmp(ssl, "verify-full") == 0) {
		if (!cert)
			return pgm_fail(call, "args.invalid", 0,
					"endpoint %s: ssl_mode %s needs certificate_arn", id, ssl);
	}
	body = json_pack("{s:s,s:s,s:s,s:s,s:s}", "EndpointIdentifier", id, "EndpointType", type,
			 "EngineName", engine, "DatabaseName", database, "SslMode", ssl);
	pg = json_object();
	if (extra && json_is_object(extra))
		json_object_update(pg, extra);
	json_object_del(pg, "Password");
	if (secret) {
		json_object_set_new(pg, "SecretsManagerSecretId", json_string(secret));
		json_object_set_new(pg, "SecretsManagerAccessRoleArn", json_string(role));
		json_object_set_new(pg, "DatabaseName", json_string(database));
	} else {
		json_object_set_new(body, "ServerName", json_string(server));
		json_object_set_new(body, "Port", json_integer(port));
		json_object_set_new(body, "Username", json_string(user));
		json_object_set_new(body, "Password", json_string(password));
	}
	if (strcmp(type, "source") == 0) {
		if (heartbeat != 0)
			json_object_set_new(pg, "HeartbeatEnable", json_true());
		if (hb_freq > 0)
			json_object_set_new(pg, "HeartbeatFrequency", json_integer(hb_freq));
		if (slot)
			json_object_set_new(pg, "SlotName", json_string(slot));
		if (plugin)
			json_object_set_new(pg, "PluginName", json_string(plugin));
		if (ddls >= 0)
			json_object_set_new(pg, "CaptureDdls", json_boolean(ddls));
	} else if (slot || plugin || heartbeat > 0) {
		json_decref(pg);
		json_decref(body);
		return pgm_fail(call, "args.invalid", 0,
				"endpoint %s: slot_name, plugin and heartbeat are for a source "
				"endpoint",
				id);
	}
	if (json_object_size(pg))
		json_object_set_new(body, "PostgreSQLSettings", pg);
	else
		json_decref(pg);
	if (cert)
		json_object_set_new(body, "CertificateArn", json_string(cert));
	if (eca)
		json_object_set_new(body, "ExtraConnectionAttributes", json_string(eca));
	if (kms)
		json_object_set_new(body, "KmsKeyId", json_string(kms));
	if (tags_body(call, args, body) != 0) {
		json_decref(body);
		return NULL;
	}
	have = dms_find(call, args, DMS_ENDPOINT, id);
	if (pgm_failed(call)) {
		json_decref(body);
		return NULL;
	}
	if (have) {
		int n = endpoint_diff(have, body, diff, sizeof(diff));

		json_decref(body);
		if (n) {
			json_decref(have);
			return pgm_fail(
				call, "dms.conflict", 0,
				"dms: endpoint %s exists with other settings (%s): delete it "
				"or pick another id",
				id, diff);
		}
		out = norm_endpoint(have);
		json_decref(have);
		json_object_set_new(out, "adopted", json_true());
		return out;
	}
	res = dms_call(call, args, "CreateEndpoint", body);
	if (!res)
		return NULL;
	if (!json_is_object(json_object_get(res, "Endpoint"))) {
		json_decref(res);
		return pgm_fail(call, "aws.bad_response", 0,
				"dms CreateEndpoint: no Endpoint in the answer");
	}
	out = norm_endpoint(json_object_get(res, "Endpoint"));
	json_decref(res);
	json_object_set_new(out, "adopted", json_false());
	return out;
}

static json_t *fn_describe_endpoint(pgm_call *call, json_t *args)
{
	const char *id = pgm_arg_string(call, args, "id", NULL, 1);
	json_t *e, *out;

	if (!id)
		return NULL;
	e = dms_need(call, args, DMS_ENDPOINT, id, NULL);
	if (!e)
		return NULL;
	out = norm_endpoint(e);
	json_decref(e);
	return out;
}

static json_t *fn_delete_endpoint(pgm_call *call, json_t *args)
{
	return delete_resource(call, args, DMS_ENDPOINT, "DeleteEndpoint", "EndpointArn",
			       "Endpoint", norm_endpoint);
}

/* connection - the Connection of endpoint from instance (ARNs), new ref, or
 * NULL (error set, or none tested yet when not). */
static json_t *connection(pgm_call *call, json_t *args, const char *inst, const char *ep)
{
	json_t *res, *c;

	res = dms_call(call, args, "DescribeConnections",
		       json_pack("{s:[{s:s,s:[s]},{s:s,s:[s]}]}", "Filters", "Name", "endpoint-arn",
				 "Values", ep, "Name", "replication-instance-arn", "Values", inst));
	if (!res) {
		if (strcmp(pgm_error_code(call), "dms.ResourceNotFoundFault") == 0)
			pgm_clear_error(call);
		return NULL;
	}
	c = json_array_get(json_object_get(res, "Connections"), 0);
	json_incref(c);
	json_decref(res);
	return c;
}

static json_t *fn_test_connection(pgm_call *call, json_t *args)
{
	const char *iref = pgm_arg_string(call, args, "instance", NULL, 1);
	const char *eref = pgm_arg_string(call, args, "endpoint", NULL, 1);
	long long every, timeout, start = pgm_now_ms();
	json_t *inst, *ep, *res, *c = NULL, *out;
	char iarn[512], earn[512], eid[256], iid[256];

	if (!iref || !eref || dms_poll_args(call, args, 5000, 600000, &every, &timeout) != 0)
		return NULL;
	inst = dms_need(call, args, DMS_INSTANCE, iref, "test_connection");
	if (!inst)
		return NULL;
	ep = dms_need(call, args, DMS_ENDPOINT, eref, "test_connection");
	if (!ep) {
		json_decref(inst);
		return NULL;
	}
	snprintf(iarn, sizeof(iarn), "%s", dms_sget(inst, "ReplicationInstanceArn"));
	snprintf(iid, sizeof(iid), "%s", dms_sget(inst, "ReplicationInstanceIdentifier"));
	snprintf(earn, sizeof(earn), "%s", dms_sget(ep, "EndpointArn"));
	snprintf(eid, sizeof(eid), "%s", dms_sget(ep, "EndpointIdentifier"));
	json_decref(inst);
	json_decref(ep);
	res = dms_call(call, args, "TestConnection",
		       json_pack("{s:s,s:s}", "ReplicationInstanceArn", iarn, "EndpointArn", earn));
	if (!res) {
		/* A test already running: wait for its result. */
		if (strcmp(pgm_error_code(call), "dms.InvalidResourceStateFault") != 0)
			return NULL;
		pgm_clear_error(call);
	}
	json_decref(res);
	for (;;) {
		const char *st;

		if (pgm_sleep_ms(call, c ? every : (every < 1000 ? every : 1000)) != 0)
			return NULL;
		json_decref(c);
		c = connection(call, args, iarn, earn);
		if (pgm_failed(call))
			return NULL;
		st = dms_sget(c, "Status");
		if (st && strcmp(st, "successful") == 0)
			break;
		if (st && strcmp(st, "failed") == 0) {
			const char *msg = dms_sget(c, "LastFailureMessage");

			out = pgm_fail(
				call, "dms.connection_failed", 0,
				"dms: endpoint %s: connection test from replication instance "
				"%s failed: %s",
				eid, iid, msg && *msg ? msg : "(DMS gave no message)");
			json_decref(c);
			return out;
		}
		pgm_progress(call, 0, 0, "", st ? st : "waiting");
		if (pgm_now_ms() - start + every > timeout) {
			json_decref(c);
			return pgm_fail(call, "dms.wait_timeout", 1,
					"dms: endpoint %s: connection test from %s still %s after "
					"%lld s",
					eid, iid, st ? st : "not started", timeout / 1000);
		}
	}
	out = json_pack("{s:s,s:s,s:s,s:s,s:s}", "endpoint", eid, "endpoint_arn", earn, "instance",
			iid, "instance_arn", iarn, "status", "successful");
	json_decref(c);
	return out;
}

/* ---- the function table -------------------------------------------------------- */

#define P_REGION                                                                                   \
	{                                                                                          \
		"region", "string", 0, 0, "AWS region (default: AWS_REGION, profile)"              \
	}
#define P_END                                                                                      \
	{                                                                                          \
		NULL, NULL, 0, 0, NULL                                                             \
	}
#define P_WAIT                                                                                     \
	{"every", "duration", 0, 0, "how often to ask DMS"},                                       \
	{                                                                                          \
		"timeout", "duration", 0, 0, "give up after (dms.wait_timeout, retryable)"         \
	}

static const pgm_param p_create_instance[] = {
	{"id", "string", 1, 0, "replication instance identifier"},
	{"class", "string", 1, 0, "dms.r5.large, dms.c5.xlarge, ..."},
	{"storage", "integer", 0, 0, "allocated storage in GB"},
	{"multi_az", "boolean", 0, 0, "Multi-AZ (default false)"},
	{"subnet_group", "string", 0, 0, "replication subnet group identifier"},
	{"security_groups", "any", 0, 0, "VPC security group ids (array or comma-separated)"},
	{"engine_version", "string", 0, 0, "DMS engine version, e.g. 3.5.3"},
	{"publicly_accessible", "boolean", 0, 0, "default false"},
	{"kms_key", "string", 0, 0, "KMS key for the storage"},
	{"tags", "object", 0, 0, "{key = value}"},
	P_REGION,
	P_END};
static const pgm_param p_id[] = {{"id", "string", 1, 0, "identifier or ARN"}, P_REGION, P_END};
static const pgm_param p_wait_instance[] = {
	{"id", "string", 1, 0, "identifier or ARN"},
	{"status", "string", 0, 0, "status to wait for (default available)"},
	P_WAIT,
	P_REGION,
	P_END};
static const pgm_param p_modify_instance[] = {
	{"id", "string", 1, 0, "identifier or ARN"},
	{"class", "string", 0, 0, "new class (the seed's \"scale the DMS instance\")"},
	{"storage", "integer", 0, 0, "new allocated storage in GB"},
	{"multi_az", "boolean", 0, 0, "Multi-AZ"},
	{"apply_immediately", "boolean", 0, 0, "default true"},
	P_REGION,
	P_END};
static const pgm_param p_create_endpoint[] = {
	{"id", "string", 1, 0, "endpoint identifier"},
	{"type", "string", 1, 0, "source or target"},
	{"engine", "string", 0, 0, "postgres (default) or aurora-postgresql"},
	{"server", "string", 0, 0, "host name"},
	{"port", "integer", 0, 0, "default 5432"},
	{"database", "string", 1, 0, "database name"},
	{"username", "string", 0, 0, "user name"},
	{"password", "string", 0, 1, "password (or secret_arn)"},
	{"secret_arn", "string", 0, 0, "AWS Secrets Manager secret ARN with the credentials"},
	{"secret_role_arn", "string", 0, 0, "IAM role ARN DMS assumes to read the secret"},
	{"ssl_mode", "string", 0, 0, "none, require (default), verify-ca, verify-full"},
	{"certificate_arn", "string", 0, 0, "CA certificate for verify-ca / verify-full"},
	{"heartbeat", "boolean", 0, 0, "source: WAL heartbeat (default on)"},
	{"heartbeat_frequency", "integer", 0, 0, "source: heartbeat minutes"},
	{"slot_name", "string", 0, 0, "source: an existing logical replication slot"},
	{"plugin", "string", 0, 0, "source: no-preference, test-decoding, pglogical"},
	{"capture_ddls", "boolean", 0, 0, "source: capture DDL with event triggers"},
	{"settings", "object", 0, 0, "more PostgreSQLSettings, as DMS names them"},
	{"extra_connection_attributes", "string", 0, 0, "DMS extra connection attributes"},
	{"kms_key", "string", 0, 0, "KMS key for the connection parameters"},
	{"tags", "object", 0, 0, "{key = value}"},
	P_REGION,
	P_END};
static const pgm_param p_test_connection[] = {
	{"instance", "string", 1, 0, "replication instance identifier or ARN"},
	{"endpoint", "string", 1, 0, "endpoint identifier or ARN"},
	P_WAIT,
	P_REGION,
	P_END};
static const pgm_param p_table_mappings[] = {
	{"mappings", "any", 1, 0, "rules (see the plugin's documentation) or DMS's JSON"},
	{"task", "string", 0, 0, "task name for messages"},
	P_END};
static const pgm_param p_task_settings[] = {
	{"settings", "object", 0, 0, "settings merged over the defaults"},
	{"task", "string", 0, 0, "task name for messages"},
	P_END};
static const pgm_param p_create_task[] = {
	{"id", "string", 1, 0, "replication task identifier"},
	{"instance", "string", 1, 0, "replication instance identifier or ARN"},
	{"source", "string", 1, 0, "source endpoint identifier or ARN"},
	{"target", "string", 1, 0, "target endpoint identifier or ARN"},
	{"type", "string", 0, 0, "full-load, cdc, full-load-and-cdc (default)"},
	{"mappings", "any", 1, 0, "table mappings: rules or DMS's JSON"},
	{"settings", "object", 0, 0, "task settings merged over the defaults"},
	{"cdc_start_position", "string", 0, 0, "cdc: where to start (LSN or checkpoint)"},
	{"tags", "object", 0, 0, "{key = value}"},
	P_REGION,
	P_END};
static const pgm_param p_task[] = {
	{"task", "string", 1, 0, "task identifier or ARN"}, P_REGION, P_END};
static const pgm_param p_wait_task[] = {
	{"task", "string", 1, 0, "task identifier or ARN"},
	{"status", "any", 0, 0, "status or statuses to wait for (default ready)"},
	{"state", "any", 0, 0, "replication state(s) to wait for instead"},
	P_WAIT,
	P_REGION,
	P_END};
static const pgm_param p_start_task[] = {
	{"task", "string", 1, 0, "task identifier or ARN"},
	{"type", "string", 0, 0, "start-replication (default), resume-processing, reload-target"},
	{"cdc_start_position", "string", 0, 0, "cdc: where to start"},
	P_REGION,
	P_END};
static const pgm_param p_modify_task[] = {
	{"task", "string", 1, 0, "task identifier or ARN"},
	{"type", "string", 0, 0, "new migration type"},
	{"mappings", "any", 0, 0, "new table mappings"},
	{"settings", "object", 0, 0, "task settings merged over the defaults"},
	P_REGION,
	P_END};
static const pgm_param p_reload_tables[] = {
	{"task", "string", 1, 0, "task identifier or ARN"},
	{"tables", "array", 1, 0, "{\"schema.table\", ...} or {{schema=, table=}, ...}"},
	{"option", "string", 0, 0, "data-reload (default) or validate-only"},
	P_REGION,
	P_END};
static const pgm_param p_table_statistics[] = {{"task", "string", 1, 0, "task identifier or ARN"},
					       {"schema", "string", 0, 0, "only this schema"},
					       {"table", "string", 0, 0, "only this table"},
					       P_REGION,
					       P_END};
static const pgm_param p_cdc_latency[] = {
	{"task", "string", 1, 0, "task identifier or ARN"},
	{"window", "duration", 0, 0, "how far back (default 5m)"},
	{"period", "duration", 0, 0, "aggregation period (default 60s)"},
	P_REGION,
	P_END};
static const pgm_param p_replication_state[] = {
	{"task", "string", 1, 0, "task identifier or ARN"},
	{"latency", "boolean", 0, 0, "read CDC latency from CloudWatch (default true)"},
	{"caught_up_below", "number", 0, 0, "CDC_CAUGHT_UP below this latency, s (default 10)"},
	{"window", "duration", 0, 0, "latency window (default 5m)"},
	{"period", "duration", 0, 0, "latency period (default 60s)"},
	P_REGION,
	P_END};
static const pgm_param p_start_assessment[] = {
	{"task", "string", 1, 0, "task identifier or ARN"},
	{"bucket", "string", 1, 0, "S3 bucket for the results"},
	{"role", "string", 1, 0, "IAM role ARN DMS assumes to write them"},
	{"name", "string", 0, 0, "run name (default TASK-assessment)"},
	{"folder", "string", 0, 0, "S3 folder"},
	{"include", "array", 0, 0, "only these individual assessments"},
	{"exclude", "array", 0, 0, "not these individual assessments"},
	P_REGION,
	P_END};
static const pgm_param p_assessment[] = {
	{"run", "string", 0, 0, "assessment run ARN"},
	{"task", "string", 0, 0, "or: task identifier or ARN (its newest run, or the one named)"},
	{"name", "string", 0, 0, "run name"},
	{"fail_on_blocking", "boolean", 0, 0,
	 "wait: failed assessments are an error (default true)"},
	P_WAIT,
	P_REGION,
	P_END};

#define RO (PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY)
static const pgm_function functions[] = {
	{"create_instance", fn_create_instance, PGM_FN_IDEMPOTENT,
	 "create a replication instance (adopts one with the same class)", p_create_instance},
	{"describe_instance", fn_describe_instance, RO, "a replication instance", p_id},
	{"wait_instance", fn_wait_instance, RO, "wait until a replication instance is available",
	 p_wait_instance},
	{"modify_instance", fn_modify_instance, PGM_FN_IDEMPOTENT,
	 "change a replication instance's class, storage or Multi-AZ", p_modify_instance},
	{"delete_instance", fn_delete_instance, PGM_FN_IDEMPOTENT | PGM_FN_IRREVERSIBLE,
	 "delete a replication instance (absent counts as deleted)", p_id},
	{"create_endpoint", fn_create_endpoint, PGM_FN_IDEMPOTENT,
	 "create a PostgreSQL / Aurora PostgreSQL endpoint (adopts an identical one)",
	 p_create_endpoint},
	{"describe_endpoint", fn_describe_endpoint, RO, "an endpoint (without its password)", p_id},
	{"test_connection", fn_test_connection, PGM_FN_IDEMPOTENT,
	 "test an endpoint from a replication instance and wait for the result", p_test_connection},
	{"delete_endpoint", fn_delete_endpoint, PGM_FN_IDEMPOTENT | PGM_FN_IRREVERSIBLE,
	 "delete an endpoint (absent counts as deleted)", p_id},
	{"table_mappings", dms_fn_table_mappings, RO,
	 "build and check table mappings (what create_task sends)", p_table_mappings},
	{"task_settings", dms_fn_task_settings, RO,
	 "task settings: the defaults with yours merged over them", p_task_settings},
	{"create_task", dms_fn_create_task, PGM_FN_IDEMPOTENT,
	 "create a replication task (adopts an identical one)", p_create_task},
	{"describe_task", dms_fn_describe_task, RO,
	 "a task: status, stop reason, statistics, replication state", p_task},
	{"wait_task", dms_fn_wait_task, RO, "wait for a task status or replication state",
	 p_wait_task},
	{"start_task", dms_fn_start_task, PGM_FN_IDEMPOTENT,
	 "start-replication, resume-processing or reload-target (a running task is left alone)",
	 p_start_task},
	{"stop_task", dms_fn_stop_task, PGM_FN_IDEMPOTENT, "stop a task (a stopped one is left)",
	 p_task},
	{"modify_task", dms_fn_modify_task, PGM_FN_IDEMPOTENT,
	 "change a stopped task's mappings, settings or type", p_modify_task},
	{"reload_tables", dms_fn_reload_tables, 0, "reload (or re-validate) tables of a task",
	 p_reload_tables},
	{"delete_task", dms_fn_delete_task, PGM_FN_IDEMPOTENT | PGM_FN_IRREVERSIBLE,
	 "delete a task (absent counts as deleted)", p_task},
	{"table_statistics", dms_fn_table_statistics, RO,
	 "per-table state, rows, changes and validation of a task", p_table_statistics},
	{"cdc_latency", dms_fn_cdc_latency, RO,
	 "CDC source / target latency and incoming changes from CloudWatch AWS/DMS", p_cdc_latency},
	{"replication_state", dms_fn_replication_state, RO,
	 "NOT_STARTED, FULL_LOAD_RUNNING, FULL_LOAD_COMPLETE, CDC_ACTIVE, CDC_CAUGHT_UP, "
	 "REPLICATION_FAILED (or STOPPED) with the reason",
	 p_replication_state},
	{"start_assessment", dms_fn_start_assessment, PGM_FN_IDEMPOTENT,
	 "start a premigration assessment run (adopts one with the same name)", p_start_assessment},
	{"assessment_result", dms_fn_assessment_result, RO,
	 "an assessment run and each individual assessment's status", p_assessment},
	{"wait_assessment", dms_fn_wait_assessment, RO,
	 "wait for an assessment run; blocking findings are dms.assessment_failed", p_assessment},
	{NULL, NULL, 0, NULL, NULL}};

PGMOVE_PLUGIN(dms) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "dms",
	.version = "1.0.0",
	.summary = "AWS DMS: replication instances, endpoints, tasks, statistics, assessments "
		   "(DMS JSON API)",
	.init = NULL,
	.fini = aws_region_fini,
	.functions = functions,
	.configure = aws_region_configure,
	.config = aws_region_config,
};
