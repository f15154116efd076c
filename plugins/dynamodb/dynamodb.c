/*
 * plugins/dynamodb/dynamodb.c - Amazon DynamoDB through its JSON 1.0 API
 * (pgm_aws_json10): describing a table, on-demand backups, enabling the
 * table's stream, a parallel segmented Scan (one thread and one PostgreSQL
 * connection per worker, a shared read-capacity budget) loaded into
 * PostgreSQL with COPY (document or column mapping, resumable from the
 * segments' last evaluated keys through the host's durable checkpoints,
 * saved by the function's thread), change capture from the table's stream,
 * and an item-by-item verify of PostgreSQL against DynamoDB, parallel by
 * segment.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "pgmove/plugin.h"
#include "aws_region.h"

static const pgm_aws_service ddb = {
	.name = "dynamodb",
	.endpoint_id = "dynamodb",
	.env_id = "DYNAMODB",
	.api_version = NULL,
	.json_prefix = "DynamoDB_20120810",
};

#define PG_APP "pgmove-dynamodb"
#define MAX_LISTED 100 /* keys listed per kind of difference in verify */

static const char *sget(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ------------------------------------------------------------------------
 * A growable buffer
 * ---------------------------------------------------------------------- */
typedef struct buf {
	char *p;
	size_t len, cap;
	int oom;
} buf;

static void b_add(buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void b_str(buf *b, const char *s)
{
	b_add(b, s, strlen(s));
}

static void b_chr(buf *b, char c)
{
	b_add(b, &c, 1);
}

static void b_fmt(buf *b, const char *fmt, ...) PGM_PRINTF(2, 3);
static void b_fmt(buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	b_add(b, s, (size_t)n);
	free(s);
}

/* ------------------------------------------------------------------------
 * DynamoDB attribute values -> JSON text, COPY text
 * ---------------------------------------------------------------------- */

/* av_type - the one type key of an AttributeValue ({"S": "x"} -> "S"), and
 * its value through *val; NULL when av is not a one-key object. */
static const char *av_type(json_t *av, json_t **val)
{
	const char *k;
	json_t *v;

	if (!json_is_object(av) || json_object_size(av) != 1)
		return NULL;
	json_object_foreach(av, k, v)
	{
		*val = v;
		return k;
	}
	return NULL;
}

/* json_escaped - s as a JSON string literal appended to b. */
static void json_escaped(buf *b, const char *s)
{
	const unsigned char *p;

	b_chr(b, '"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			b_chr(b, '\\');
			b_chr(b, (char)*p);
		} else if (*p < 0x20)
			b_fmt(b, "\\u%04x", *p);
		else
			b_chr(b, (char)*p);
	}
	b_chr(b, '"');
}

/* valid_number - a DynamoDB N as JSON and numeric accept it: -?digits[.digits][e[+-]digits]. */
static int valid_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* av_json - appends the attribute value av as plain JSON to b: S -> string,
 * N -> the number's digits as they came (jsonb keeps them exactly, as
 * numeric), B -> its base64 text, BOOL, NULL -> null, L -> array, M ->
 * object, SS/NS/BS -> arrays. -1 with why in *err (static text) when av is
 * not a DynamoDB AttributeValue. */
static int av_json(buf *b, json_t *av, const char **err)
{
	json_t *v, *e;
	const char *t = av_type(av, &v), *k;
	size_t i;
	int first = 1;

	if (!t) {
		*err = "not an AttributeValue";
		return -1;
	}
	if (!strcmp(t, "S") || !strcmp(t, "B")) {
		if (!json_is_string(v))
			goto bad;
		json_escaped(b, json_string_value(v));
	} else if (!strcmp(t, "N")) {
		if (!json_is_string(v) || !valid_number(json_string_value(v)))
			goto bad;
		b_str(b, json_string_value(v));
	} else if (!strcmp(t, "BOOL")) {
		if (!json_is_boolean(v))
			goto bad;
		b_str(b, json_is_true(v) ? "true" : "false");
	} else if (!strcmp(t, "NULL")) {
		b_str(b, "null");
	} else if (!strcmp(t, "L")) {
		if (!json_is_array(v))
			goto bad;
		b_chr(b, '[');
		json_array_foreach(v, i, e)
		{
			if (i)
				b_chr(b, ',');
			if (av_json(b, e, err) < 0)
				return -1;
		}
		b_chr(b, ']');
	} else if (!strcmp(t, "M")) {
		if (!json_is_object(v))
			goto bad;
		b_chr(b, '{');
		json_object_foreach(v, k, e)
		{
			if (!first)
				b_chr(b, ',');
			first = 0;
			json_escaped(b, k);
			b_chr(b, ':');
			if (av_json(b, e, err) < 0)
				return -1;
		}
		b_chr(b, '}');
	} else if (!strcmp(t, "SS") || !strcmp(t, "NS") || !strcmp(t, "BS")) {
		if (!json_is_array(v))
			goto bad;
		b_chr(b, '[');
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e))
				goto bad;
			if (i)
				b_chr(b, ',');
			if (t[0] == 'N') {
				if (!valid_number(json_string_value(e)))
					goto bad;
				b_str(b, json_string_value(e));
			} else
				json_escaped(b, json_string_value(e));
		}
		b_chr(b, ']');
	} else {
		*err = "an unknown attribute type";
		return -1;
	}
	return 0;
bad:
	*err = "a malformed attribute value";
	return -1;
}

/* copy_escaped - s appended to b as a COPY text field (backslash escapes). */
static void copy_escaped(buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		switch (c) {
		case '\\':
			b_str(b, "\\\\");
			break;
		case '\n':
			b_str(b, "\\n");
			break;
		case '\r':
			b_str(b, "\\r");
			break;
		case '\t':
			b_str(b, "\\t");
			break;
		default:
			b_chr(b, c);
		}
	}
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* bytea_hex - base64 text s decoded and appended to b as \x hex (the bytea
 * input form); -1 when s is not base64. */
static int bytea_hex(buf *b, const char *s)
{
	unsigned acc = 0;
	int bits = 0, v;
	static const char hex[] = "0123456789abcdef";

	b_str(b, "\\x");
	for (; *s && *s != '='; s++) {
		if ((v = b64val((unsigned char)*s)) < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			unsigned byte = (acc >> (bits - 8)) & 0xff;

			bits -= 8;
			b_chr(b, hex[byte >> 4]);
			b_chr(b, hex[byte & 15]);
		}
	}
	return 0;
}

/* array_elem - one element of a PostgreSQL array literal, double-quoted. */
static void array_elem(buf *b, const char *s)
{
	b_chr(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			b_chr(b, '\\');
		b_chr(b, *s);
	}
	b_chr(b, '"');
}

/* The column types of the column mapping, with the DynamoDB type each takes. */
typedef enum { C_TEXT, C_NUMERIC, C_BYTEA, C_BOOL, C_JSONB, C_TEXTS, C_NUMERICS, C_BYTEAS } ctype;
static const struct {
	const char *name;
	ctype t;
	const char *ddb;
} ctypes[] = {{"text", C_TEXT, "S"},	       {"numeric", C_NUMERIC, "N"},
	      {"bytea", C_BYTEA, "B"},	       {"boolean", C_BOOL, "BOOL"},
	      {"jsonb", C_JSONB, NULL},	       {"text[]", C_TEXTS, "SS"},
	      {"numeric[]", C_NUMERICS, "NS"}, {"bytea[]", C_BYTEAS, "BS"}};

typedef struct column {
	const char *attr;
	char *qcol; /* quoted column name */
	const char *col;
	ctype t;
	int key;
} column;

/* The mapping of one copy: the columns (keys first), and for the document
 * mapping the column that takes the whole item. */
typedef struct mapping {
	column *cols;
	int ncols, nkeys;
	char *qdoc;  /* document mapping: quoted document column; NULL for columns */
	char *qrest; /* column mapping: jsonb column for unmapped attributes, or NULL */
	int ignore_unmapped;
	char *qtable;  /* "schema"."table" */
	char *collist; /* "a","b","item" */
	char *keylist; /* "a","b" */
} mapping;

/* field - appends the COPY field for av (NULL: absent) as column type t;
 * -1 with the reason in why when the value does not fit the column. */
static int field(buf *b, json_t *av, ctype t, char *why, size_t whylen)
{
	json_t *v, *e;
	const char *ty, *err = NULL;
	size_t i;
	int k;

	if (!av) {
		b_str(b, "\\N");
		return 0;
	}
	ty = av_type(av, &v);
	if (!ty) {
		snprintf(why, whylen, "not an AttributeValue");
		return -1;
	}
	if (!strcmp(ty, "NULL")) {
		b_str(b, "\\N");
		return 0;
	}
	if (t == C_JSONB) {
		buf j = {0};

		if (av_json(&j, av, &err) < 0) {
			snprintf(why, whylen, "%s", err);
			free(j.p);
			return -1;
		}
		copy_escaped(b, j.p, j.len);
		free(j.p);
		return 0;
	}
	for (k = 0; k < (int)(sizeof(ctypes) / sizeof(ctypes[0])); k++)
		if (ctypes[k].t == t)
			break;
	if (strcmp(ty, ctypes[k].ddb) != 0) {
		snprintf(why, whylen, "is of type %s, the column is %s (takes %s)", ty,
			 ctypes[k].name, ctypes[k].ddb);
		return -1;
	}
	switch (t) {
	case C_TEXT:
		if (!json_is_string(v))
			goto bad;
		copy_escaped(b, json_string_value(v), strlen(json_string_value(v)));
		return 0;
	case C_NUMERIC:
		if (!json_is_string(v) || !valid_number(json_string_value(v)))
			goto bad;
		b_str(b, json_string_value(v));
		return 0;
	case C_BYTEA: {
		buf h = {0};
		int rc = json_is_string(v) ? bytea_hex(&h, json_string_value(v)) : -1;

		if (rc == 0)
			copy_escaped(b, h.p, h.len);
		free(h.p);
		if (rc < 0)
			goto bad;
		return 0;
	}
	case C_BOOL:
		if (!json_is_boolean(v))
			goto bad;
		b_chr(b, json_is_true(v) ? 't' : 'f');
		return 0;
	case C_TEXTS:
	case C_NUMERICS:
	case C_BYTEAS: {
		buf a = {0};

		if (!json_is_array(v))
			goto bad;
		b_chr(&a, '{');
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e))
				break;
			if (i)
				b_chr(&a, ',');
			if (t == C_BYTEAS) {
				buf h = {0};

				if (bytea_hex(&h, json_string_value(e)) < 0) {
					free(h.p);
					break;
				}
				array_elem(&a, h.p);
				free(h.p);
			} else {
				if (t == C_NUMERICS && !valid_number(json_string_value(e)))
					break;
				array_elem(&a, json_string_value(e));
			}
		}
		b_chr(&a, '}');
		if (i < json_array_size(v)) {
			free(a.p);
			goto bad;
		}
		copy_escaped(b, a.p, a.len);
		free(a.p);
		return 0;
	}
	default:
		break;
	}
bad:
	snprintf(why, whylen, "is a malformed %s value", ty);
	return -1;
}

/* item_row - appends the COPY line of item (a DynamoDB item, borrowed) under
 * mapping m to b. -1 with the reason in why (b unchanged) when it does not fit. */
static int item_row(buf *b, const mapping *m, json_t *item, char *why, size_t whylen)
{
	size_t start = b->len;
	int i;
	char r[400];

	if (!json_is_object(item)) {
		snprintf(why, whylen, "the item is not an object");
		return -1;
	}
	for (i = 0; i < m->ncols; i++) {
		json_t *av = json_object_get(item, m->cols[i].attr);

		if (i)
			b_chr(b, '\t');
		if (m->cols[i].key && !av) {
			snprintf(why, whylen, "key attribute %s is missing", m->cols[i].attr);
			goto fail;
		}
		if (field(b, av, m->cols[i].t, r, sizeof(r)) < 0) {
			snprintf(why, whylen, "attribute %s %s", m->cols[i].attr, r);
			goto fail;
		}
	}
	if (m->qdoc || m->qrest) {
		buf j = {0};
		const char *k, *err = NULL;
		json_t *v;
		int first = 1;

		b_chr(b, '\t');
		b_chr(&j, '{');
		json_object_foreach(item, k, v)
		{
			if (!m->qdoc) {
				int mapped = 0;

				for (i = 0; i < m->ncols && !mapped; i++)
					mapped = !strcmp(m->cols[i].attr, k);
				if (mapped)
					continue;
			}
			if (!first)
				b_chr(&j, ',');
			first = 0;
			json_escaped(&j, k);
			b_chr(&j, ':');
			if (av_json(&j, v, &err) < 0) {
				snprintf(why, whylen, "attribute %s is %s", k, err);
				free(j.p);
				goto fail;
			}
		}
		b_chr(&j, '}');
		copy_escaped(b, j.p, j.len);
		free(j.p);
	} else if (!m->ignore_unmapped) {
		const char *k;
		json_t *v;

		json_object_foreach(item, k, v)
		{
			int mapped = 0;

			for (i = 0; i < m->ncols && !mapped; i++)
				mapped = !strcmp(m->cols[i].attr, k);
			if (!mapped) {
				snprintf(why, whylen,
					 "attribute %s has no column (map it, or set rest_column "
					 "or ignore_unmapped)",
					 k);
				goto fail;
			}
		}
	}
	b_chr(b, '\n');
	return 0;
fail:
	b->len = start;
	if (b->p)
		b->p[start] = '\0';
	return -1;
}

/* item_key_text - the item's key attributes as compact JSON text (plain
 * values), for messages and the misfits table. Caller frees. */
static char *item_key_text(const mapping *m, json_t *item)
{
	buf b = {0};
	const char *err;
	int i;

	b_chr(&b, '{');
	for (i = 0; i < m->nkeys; i++) {
		json_t *av = json_object_get(item, m->cols[i].attr);

		if (i)
			b_chr(&b, ',');
		json_escaped(&b, m->cols[i].attr);
		b_chr(&b, ':');
		if (!av || av_json(&b, av, &err) < 0)
			b_str(&b, "null");
	}
	b_chr(&b, '}');
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ------------------------------------------------------------------------
 * describe_table
 * ---------------------------------------------------------------------- */

/* describe - DescribeTable's "Table", new reference, or NULL with the error set. */
static json_t *describe(pgm_call *call, const char *region, const char *table)
{
	json_t *body = json_pack("{s:s}", "TableName", table);
	json_t *r = pgm_aws_json10(call, &ddb, region, "DescribeTable", body);
	json_t *t;

	json_decref(body);
	if (!r)
		return NULL;
	t = json_object_get(r, "Table");
	if (!json_is_object(t) || !json_is_array(json_object_get(t, "KeySchema"))) {
		json_decref(r);
		return pgm_fail(
			call, "aws.bad_response", 1,
			"dynamodb: DescribeTable %s: the answer has no Table with a KeySchema",
			table);
	}
	json_incref(t);
	json_decref(r);
	return t;
}

/* key_schema - [{name, role (HASH/RANGE), type (S/N/B)}] of table t, HASH first. */
static json_t *key_schema(json_t *t)
{
	json_t *out = json_array(), *k, *a;
	size_t i, j;
	int pass;

	for (pass = 0; pass < 2; pass++)
		json_array_foreach(json_object_get(t, "KeySchema"), i, k)
		{
			const char *role = sget(k, "KeyType"), *name = sget(k, "AttributeName");
			const char *type = NULL;

			if (!role || !name || (pass == 0) != !strcmp(role, "HASH"))
				continue;
			json_array_foreach(json_object_get(t, "AttributeDefinitions"), j,
					   a) if (sget(a, "AttributeName") &&
						  !strcmp(sget(a, "AttributeName"), name)) type =
				sget(a, "AttributeType");
			json_array_append_new(out, json_pack("{s:s, s:s, s:s?}", "name", name,
							     "role", role, "type", type));
		}
	return out;
}

static json_t *index_names(json_t *list)
{
	json_t *out = json_array(), *ix;
	size_t i;

	json_array_foreach(list, i, ix) if (sget(ix, "IndexName")) json_array_append_new(
		out,
		json_pack("{s:s, s:O*, s:s?}", "name", sget(ix, "IndexName"), "keys",
			  json_object_get(ix, "KeySchema"), "status", sget(ix, "IndexStatus")));
	return out;
}

/* table_json - the plugin's view of a DescribeTable "Table"; takes pitr
 * (a new reference or NULL). */
static json_t *table_json(json_t *t, json_t *pitr)
{
	json_t *ss = json_object_get(t, "StreamSpecification");
	json_t *bm = json_object_get(t, "BillingModeSummary");
	json_t *pt = json_object_get(t, "ProvisionedThroughput");

	return json_pack(
		"{s:s?, s:s?, s:s?, s:o, s:O*, s:o, s:o, s:I, s:I, s:s, s:{s:b, s:s?, s:s?}, s:I, "
		"s:I, s:o*}", /* pitr is stolen */
		"name", sget(t, "TableName"), "status", sget(t, "TableStatus"), "arn",
		sget(t, "TableArn"), "keys", key_schema(t), "attributes",
		json_object_get(t, "AttributeDefinitions"), "global_indexes",
		index_names(json_object_get(t, "GlobalSecondaryIndexes")), "local_indexes",
		index_names(json_object_get(t, "LocalSecondaryIndexes")), "item_count",
		(json_int_t)json_integer_value(json_object_get(t, "ItemCount")), "size_bytes",
		(json_int_t)json_integer_value(json_object_get(t, "TableSizeBytes")),
		"billing_mode", sget(bm, "BillingMode") ? sget(bm, "BillingMode") : "PROVISIONED",
		"stream", "enabled", json_is_true(json_object_get(ss, "StreamEnabled")),
		"view_type", sget(ss, "StreamViewType"), "arn", sget(t, "LatestStreamArn"),
		"read_capacity",
		(json_int_t)json_integer_value(json_object_get(pt, "ReadCapacityUnits")),
		"write_capacity",
		(json_int_t)json_integer_value(json_object_get(pt, "WriteCapacityUnits")), "pitr",
		pitr);
}

static json_t *fn_describe_table(pgm_call *call, json_t *args)
{
	const char *table = pgm_arg_string(call, args, "table", NULL, 1);
	const char *region = aws_region_arg(call, args);
	json_t *t, *body, *cb, *pitr = NULL, *out;

	if (!table)
		return NULL;
	if (!(t = describe(call, region, table)))
		return NULL;
	body = json_pack("{s:s}", "TableName", table);
	cb = pgm_aws_json10(call, &ddb, region, "DescribeContinuousBackups", body);
	json_decref(body);
	if (!cb) {
		json_decref(t);
		return NULL;
	}
	pitr = json_object_get(json_object_get(json_object_get(cb, "ContinuousBackupsDescription"),
					       "PointInTimeRecoveryDescription"),
			       "PointInTimeRecoveryStatus");
	out = table_json(t, json_is_string(pitr) ? json_string(json_string_value(pitr)) : NULL);
	json_decref(cb);
	json_decref(t);
	return out;
}

/* ------------------------------------------------------------------------
 * backup
 * ---------------------------------------------------------------------- */
static json_t *backup_json(json_t *d)
{
	return json_pack("{s:s?, s:s?, s:s?, s:I}", "arn", sget(d, "BackupArn"), "name",
			 sget(d, "BackupName"), "status", sget(d, "BackupStatus"), "size_bytes",
			 (json_int_t)json_integer_value(json_object_get(d, "BackupSizeBytes")));
}

static json_t *fn_backup(pgm_call *call, json_t *args)
{
	const char *table = pgm_arg_string(call, args, "table", NULL, 1);
	const char *name = pgm_arg_string(call, args, "name", NULL, 1);
	const char *region = aws_region_arg(call, args);
	long long every, timeout, t0 = pgm_now_ms();
	json_t *body, *r, *d, *arn;
	char *barn = NULL;

	if (!table || !name || pgm_arg_duration_ms(call, args, "every", 5000, 0, &every) < 0 ||
	    pgm_arg_duration_ms(call, args, "timeout", 3600000, 0, &timeout) < 0)
		return NULL;
	body = json_pack("{s:s, s:s}", "TableName", table, "BackupName", name);
	r = pgm_aws_json10(call, &ddb, region, "CreateBackup", body);
	json_decref(body);
	if (!r)
		return NULL;
	arn = json_object_get(json_object_get(r, "BackupDetails"), "BackupArn");
	if (!json_is_string(arn)) {
		json_decref(r);
		return pgm_fail(
			call, "aws.bad_response", 1,
			"dynamodb: CreateBackup %s: the answer has no BackupDetails.BackupArn",
			table);
	}
	barn = strdup(json_string_value(arn));
	json_decref(r);
	for (;;) {
		const char *st;

		body = json_pack("{s:s}", "BackupArn", barn);
		r = pgm_aws_json10(call, &ddb, region, "DescribeBackup", body);
		json_decref(body);
		if (!r)
			break;
		d = json_object_get(json_object_get(r, "BackupDescription"), "BackupDetails");
		st = sget(d, "BackupStatus");
		if (!st) {
			json_decref(r);
			r = pgm_fail(call, "aws.bad_response", 1,
				     "dynamodb: DescribeBackup %s: no BackupDetails.BackupStatus",
				     barn);
			break;
		}
		if (!strcmp(st, "AVAILABLE")) {
			json_t *out = backup_json(d);

			json_object_set_new(out, "table", json_string(table));
			json_decref(r);
			r = out;
			break;
		}
		if (!strcmp(st, "DELETED")) {
			json_decref(r);
			r = pgm_fail(call, "dynamodb.backup_failed", 0,
				     "dynamodb: backup %s of table %s is DELETED", name, table);
			break;
		}
		json_decref(r);
		if (pgm_now_ms() - t0 > timeout) {
			r = pgm_fail(call, "dynamodb.wait_timeout", 1,
				     "dynamodb: backup %s of table %s still %s after %lld ms", name,
				     table, st, timeout);
			break;
		}
		if (pgm_sleep_ms(call, every) != 0) {
			r = pgm_fail(call, "pgmove.cancelled", 1,
				     "dynamodb: backup wait cancelled");
			break;
		}
	}
	free(barn);
	return r;
}

static json_t *fn_describe_backup(pgm_call *call, json_t *args)
{
	const char *arn = pgm_arg_string(call, args, "arn", NULL, 1);
	json_t *body, *r, *d, *out;

	if (!arn)
		return NULL;
	body = json_pack("{s:s}", "BackupArn", arn);
	r = pgm_aws_json10(call, &ddb, aws_region_arg(call, args), "DescribeBackup", body);
	json_decref(body);
	if (!r)
		return NULL;
	d = json_object_get(json_object_get(r, "BackupDescription"), "BackupDetails");
	if (!sget(d, "BackupStatus")) {
		json_decref(r);
		return pgm_fail(call, "aws.bad_response", 1,
				"dynamodb: DescribeBackup %s: no BackupDetails.BackupStatus", arn);
	}
	out = backup_json(d);
	json_object_set_new(
		out, "table",
		json_string(sget(json_object_get(json_object_get(r, "BackupDescription"),
						 "SourceTableDetails"),
				 "TableName")
				    ?: ""));
	json_decref(r);
	return out;
}

/* ------------------------------------------------------------------------
 * enable_stream
 * ---------------------------------------------------------------------- */
static json_t *fn_enable_stream(pgm_call *call, json_t *args)
{
	const char *table = pgm_arg_string(call, args, "table", NULL, 1);
	const char *region = aws_region_arg(call, args);
	json_t *t, *ss, *body, *r, *out;
	const char *vt;

	if (!table || !(t = describe(call, region, table)))
		return NULL;
	ss = json_object_get(t, "StreamSpecification");
	vt = sget(ss, "StreamViewType");
	if (json_is_true(json_object_get(ss, "StreamEnabled"))) {
		if (!vt || strcmp(vt, "NEW_AND_OLD_IMAGES") != 0) {
			out = pgm_fail(call, "dynamodb.stream_conflict", 0,
				       "dynamodb: table %s has a stream of view type %s; copying "
				       "needs NEW_AND_OLD_IMAGES (disable it first)",
				       table, vt ? vt : "(none)");
		} else
			out = json_pack("{s:s, s:s?, s:s, s:b}", "table", table, "arn",
					sget(t, "LatestStreamArn"), "view_type", vt, "adopted", 1);
		json_decref(t);
		return out;
	}
	json_decref(t);
	body = json_pack("{s:s, s:{s:b, s:s}}", "TableName", table, "StreamSpecification",
			 "StreamEnabled", 1, "StreamViewType", "NEW_AND_OLD_IMAGES");
	r = pgm_aws_json10(call, &ddb, region, "UpdateTable", body);
	json_decref(body);
	if (!r)
		return NULL;
	t = json_object_get(r, "TableDescription");
	out = json_pack("{s:s, s:s?, s:s, s:b}", "table", table, "arn", sget(t, "LatestStreamArn"),
			"view_type", "NEW_AND_OLD_IMAGES", "adopted", 0);
	json_decref(r);
	return out;
}

/* ------------------------------------------------------------------------
 * The mapping, from the arguments and the table's key schema
 * ---------------------------------------------------------------------- */
static void mapping_free(mapping *m)
{
	int i;

	for (i = 0; i < m->ncols; i++)
		PQfreemem(m->cols[i].qcol);
	free(m->cols);
	PQfreemem(m->qdoc);
	PQfreemem(m->qrest);
	free(m->qtable);
	free(m->collist);
	free(m->keylist);
	memset(m, 0, sizeof(*m));
}

static int ctype_of(const char *name, ctype *t)
{
	size_t k;

	for (k = 0; k < sizeof(ctypes) / sizeof(ctypes[0]); k++)
		if (!strcmp(ctypes[k].name, name)) {
			*t = ctypes[k].t;
			return 0;
		}
	if (!strcmp(name, "json")) {
		*t = C_JSONB;
		return 0;
	}
	return -1;
}

/* mapping_build - the mapping of args (document: key columns + document
 * column; columns: attr -> "type" or {column, type}) for a table whose keys
 * are keys ([{name, type}]). 0, or -1 with the error set. m is owned by the
 * caller (mapping_free). */
static int mapping_build(pgm_call *call, pgm_pg *pg, json_t *args, json_t *keys, mapping *m)
{
	json_t *cols = json_object_get(args, "columns"), *k, *v;
	const char *schema = pgm_arg_string(call, args, "schema", "public", 0);
	const char *into = pgm_arg_string(call, args, "into", NULL, 1);
	const char *docc = pgm_arg_string(call, args, "document_column", "item", 0);
	const char *rest = pgm_arg_string(call, args, "rest_column", NULL, 0);
	const char *attr;
	char *qs, *qt;
	size_t i, n;
	int ign = 0;
	buf cl = {0}, kl = {0};

	memset(m, 0, sizeof(*m));
	if (!into || !schema || !docc || pgm_arg_bool(call, args, "ignore_unmapped", 0, &ign) < 0)
		return -1;
	if (cols && !json_is_null(cols) && !json_is_object(cols)) {
		pgm_fail(call, "args.invalid", 0,
			 "dynamodb: columns must be an object {attribute = \"type\"} or {attribute "
			 "= {column = \"...\", type = \"...\"}}");
		return -1;
	}
	n = json_array_size(keys) + (json_is_object(cols) ? json_object_size(cols) : 0);
	m->cols = calloc(n ? n : 1, sizeof(column));
	m->ignore_unmapped = ign;
	json_array_foreach(keys, i, k)
	{
		column *c = &m->cols[m->ncols++];
		const char *kt = sget(k, "type");
		json_t *spec = json_is_object(cols) ? json_object_get(cols, sget(k, "name")) : NULL;

		c->attr = sget(k, "name");
		c->col = c->attr;
		c->key = 1;
		c->t = kt && !strcmp(kt, "N")	? C_NUMERIC
		       : kt && !strcmp(kt, "B") ? C_BYTEA
						: C_TEXT;
		if (json_is_object(spec) && sget(spec, "column"))
			c->col = sget(spec, "column");
	}
	m->nkeys = m->ncols;
	if (json_is_object(cols)) {
		json_object_foreach(cols, attr, v)
		{
			const char *tn = json_is_string(v) ? json_string_value(v) : sget(v, "type");
			const char *cn =
				json_is_object(v) && sget(v, "column") ? sget(v, "column") : attr;
			column *c;
			int j, dup = 0;
			ctype t;

			if (!tn || ctype_of(tn, &t) < 0) {
				pgm_fail(call, "args.invalid", 0,
					 "dynamodb: columns.%s: type must be one of text, numeric, "
					 "bytea, boolean, jsonb, text[], numeric[], bytea[]",
					 attr);
				goto fail;
			}
			for (j = 0; j < m->nkeys; j++)
				if (!strcmp(m->cols[j].attr, attr)) {
					dup = 1;
					if (t != m->cols[j].t) {
						pgm_fail(call, "args.invalid", 0,
							 "dynamodb: columns.%s: a key attribute's "
							 "column "
							 "has the key's type (%s)",
							 attr,
							 m->cols[j].t == C_NUMERIC ? "numeric"
							 : m->cols[j].t == C_BYTEA ? "bytea"
										   : "text");
						goto fail;
					}
				}
			if (dup)
				continue;
			c = &m->cols[m->ncols++];
			c->attr = attr;
			c->col = cn;
			c->t = t;
		}
	}
	for (i = 0; i < (size_t)m->ncols; i++) {
		m->cols[i].qcol = pgm_pg_quote_ident(pg, m->cols[i].col);
		if (!m->cols[i].qcol)
			goto oom;
		b_fmt(&cl, "%s%s", i ? "," : "", m->cols[i].qcol);
		if (m->cols[i].key)
			b_fmt(&kl, "%s%s", i ? "," : "", m->cols[i].qcol);
	}
	if (!json_is_object(cols)) {
		if (!(m->qdoc = pgm_pg_quote_ident(pg, docc)))
			goto oom;
		b_fmt(&cl, ",%s", m->qdoc);
	} else if (rest) {
		if (!(m->qrest = pgm_pg_quote_ident(pg, rest)))
			goto oom;
		b_fmt(&cl, ",%s", m->qrest);
	}
	qs = pgm_pg_quote_ident(pg, schema);
	qt = pgm_pg_quote_ident(pg, into);
	if (!qs || !qt || asprintf(&m->qtable, "%s.%s", qs, qt) < 0) {
		PQfreemem(qs);
		PQfreemem(qt);
		goto oom;
	}
	PQfreemem(qs);
	PQfreemem(qt);
	if (cl.oom || kl.oom)
		goto oom;
	m->collist = cl.p;
	m->keylist = kl.p;
	return 0;
oom:
	pgm_fail(call, "pgmove.nomem", 0, "out of memory");
fail:
	free(cl.p);
	free(kl.p);
	mapping_free(m);
	return -1;
}

/* ------------------------------------------------------------------------
 * The scan: one segment at a time, page by page, positions checkpointed
 * ---------------------------------------------------------------------- */

/* scan_page - one Scan page of segment seg of nseg, from start (borrowed,
 * may be NULL). New reference to the answer, or NULL with the error set. */
static json_t *scan_page(pgm_call *call, const char *region, const char *table, int seg, int nseg,
			 int limit, int consistent, json_t *start)
{
	json_t *body = json_pack("{s:s, s:i, s:i, s:i, s:b, s:s}", "TableName", table, "Segment",
				 seg, "TotalSegments", nseg, "Limit", limit, "ConsistentRead",
				 consistent, "ReturnConsumedCapacity", "TOTAL");
	json_t *r;

	if (start)
		json_object_set(body, "ExclusiveStartKey", start);
	r = pgm_aws_json10(call, &ddb, region, "Scan", body);
	json_decref(body);
	if (r && !json_is_array(json_object_get(r, "Items"))) {
		json_decref(r);
		return pgm_fail(call, "aws.bad_response", 1,
				"dynamodb: Scan %s segment %d: the answer has no Items", table,
				seg);
	}
	return r;
}

/* copy_cols - COPY stage (cols) FROM STDIN with the rows in b. 0 or -1 with the error set. */
static int copy_cols(pgm_call *call, pgm_pg *pg, const char *stage, const char *cols,
		     const mapping *m, const buf *b)
{
	PGconn *c = pgm_pg_conn(pg);
	char *sql = NULL;
	PGresult *res;
	int ok;

	if (asprintf(&sql, "COPY %s (%s) FROM STDIN", stage, cols) < 0)
		return -1;
	res = PQexec(c, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		pgm_fail(call, "pg.copy", 0, "dynamodb: COPY into %s: %s", m->qtable,
			 PQerrorMessage(c));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	ok = (b->len == 0 || PQputCopyData(c, b->p, (int)b->len) == 1) &&
	     PQputCopyEnd(c, NULL) == 1;
	res = PQgetResult(c);
	if (!ok || PQresultStatus(res) != PGRES_COMMAND_OK) {
		pgm_fail(call, "pg.copy", 0, "dynamodb: COPY into %s: %s", m->qtable,
			 PQerrorMessage(c));
		PQclear(res);
		while ((res = PQgetResult(c)))
			PQclear(res);
		return -1;
	}
	PQclear(res);
	while ((res = PQgetResult(c)))
		PQclear(res);
	return 0;
}

/* copy_in - copy_cols with the mapping's columns. */
static int copy_in(pgm_call *call, pgm_pg *pg, const char *stage, const mapping *m, const buf *b)
{
	return copy_cols(call, pg, stage, m->collist, m, b);
}

/* segment_state - the checkpoint's entry for segment i: {"done": bool,
 * "key": LastEvaluatedKey or null, "items": n}; borrowed from cp. */
static json_t *segment_state(json_t *cp, int i)
{
	return json_array_get(json_object_get(cp, "segments"), (size_t)i);
}

/* new_checkpoint - the checkpoint of a fresh scan of nseg segments, or cp
 * (borrowed, from an earlier attempt) copied when it is for nseg segments of
 * the same table. New reference. */
static json_t *new_checkpoint(const json_t *cp, const char *table, int nseg)
{
	json_t *out, *segs;
	int i;

	if (cp && json_is_object(cp) && sget((json_t *)cp, "table") &&
	    !strcmp(sget((json_t *)cp, "table"), table) &&
	    json_array_size(json_object_get((json_t *)cp, "segments")) == (size_t)nseg)
		return json_deep_copy(cp);
	segs = json_array();
	for (i = 0; i < nseg; i++)
		json_array_append_new(segs, json_pack("{s:b, s:n, s:I}", "done", 0, "key", "items",
						      (json_int_t)0));
	out = json_pack("{s:s, s:o}", "table", table, "segments", segs);
	return out;
}

/* ------------------------------------------------------------------------
 * Parallel segments: a pool of worker threads, one segment at a time each
 *
 * The function's thread builds a pool, starts `workers` threads (each with
 * its own worker call, PostgreSQL connection and buffers) and waits; the
 * workers take the segments in turn and scan them page by page. Only the
 * function's thread saves checkpoints (the engine that journals them is
 * single-threaded): a worker records its segment's position in the pool
 * under the lock and wakes it. The first failure is kept and every other
 * worker is cancelled (pgm_call_cancel), so host calls they wait in return.
 * ---------------------------------------------------------------------- */

/* bucket - the read-capacity budget shared by the workers: a token bucket
 * of rate units per second holding at most one second's worth. A page's
 * consumed units (ConsumedCapacity) are taken after it is read, so the
 * bucket may go below zero; a worker waits before its next page until it
 * is positive again. rate 0: no budget. */
typedef struct bucket {
	pthread_mutex_t mu;
	double rate, tokens, used;
	long long last;
} bucket;

static void bucket_init(bucket *b, double rate)
{
	pthread_mutex_init(&b->mu, NULL);
	b->rate = rate;
	b->tokens = rate;
	b->used = 0;
	b->last = pgm_now_ms();
}

/* bucket_wait - waits (on the worker's call: wakes on cancellation) until
 * the bucket holds tokens. 0, or -1 with w's error set. */
static int bucket_wait(bucket *b, pgm_call *w)
{
	for (;;) {
		long long now = pgm_now_ms(), need;

		pthread_mutex_lock(&b->mu);
		if (b->rate <= 0) {
			pthread_mutex_unlock(&b->mu);
			return 0;
		}
		b->tokens += (double)(now - b->last) * b->rate / 1000.0;
		if (b->tokens > b->rate)
			b->tokens = b->rate;
		b->last = now;
		if (b->tokens > 0) {
			pthread_mutex_unlock(&b->mu);
			return 0;
		}
		need = (long long)(-b->tokens / b->rate * 1000.0) + 1;
		pthread_mutex_unlock(&b->mu);
		if (pgm_sleep_ms(w, need) != 0)
			return -1;
	}
}

/* bucket_take - takes the units a Scan answer r (borrowed) says it consumed. */
static void bucket_take(bucket *b, json_t *r)
{
	json_t *cc = json_object_get(r, "ConsumedCapacity");
	double used = json_number_value(json_object_get(cc, "CapacityUnits"));

	pthread_mutex_lock(&b->mu);
	b->tokens -= used;
	b->used += used;
	pthread_mutex_unlock(&b->mu);
}

typedef struct pool {
	pthread_mutex_t mu; /* everything below the arguments */
	pthread_cond_t cv;  /* a worker ended or a position changed */
	/* the arguments, read-only while the workers run */
	pgm_call *call;
	const char *region, *table, *target;
	int nseg, limit, consistent, nworkers;
	const mapping *m;
	bucket rcu;
	/* the segments and their positions */
	json_t *cp;  /* {"table", "segments": [{done, key, items}]}: copy's positions */
	int next;    /* the next segment to hand out */
	int running; /* workers that have not ended */
	int dirty;   /* cp changed since it was last saved */
	int failed;  /* a worker failed (its error is below) or a save failed */
	char *code, *message;
	int retryable;
	pgm_call **workers;
	long long items, pages; /* items and pages done by the workers */
	/* copy */
	const char *upsert, *qmis;
	long long copied, misfit;
	/* verify */
	pgm_pg *seen_pg; /* the function's connection holding pgmove_ddb_seen */
	pthread_mutex_t seen_mu;
	const char *q_missing, *q_changed;
	long long n_missing, n_changed, n_unconv;
	json_t *missing, *changed, *unconv;
} pool;

typedef struct worker_arg {
	pool *p;
	pgm_call *w;
} worker_arg;

/* pool_next - the next segment a worker should scan (for copy, the next
 * one not done), or -1 when there is none or the pool failed. */
static int pool_next(pool *p)
{
	int seg = -1;

	pthread_mutex_lock(&p->mu);
	while (!p->failed && p->next < p->nseg) {
		int i = p->next++;

		if (!p->cp || !json_is_true(json_object_get(
				      json_array_get(json_object_get(p->cp, "segments"), (size_t)i),
				      "done"))) {
			seg = i;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return seg;
}

/* pool_fail - keeps w's error as the pool's when it is the first, and
 * cancels every worker. Called by a worker whose call failed. */
static void pool_fail(pool *p, pgm_call *w)
{
	int i;

	pthread_mutex_lock(&p->mu);
	if (!p->failed) {
		p->failed = 1;
		p->code = strdup(pgm_error_code(w) ? pgm_error_code(w) : "dynamodb.error");
		p->message = strdup(pgm_error_message(w) ? pgm_error_message(w)
							 : "a worker failed without saying why");
		p->retryable = pgm_error_retryable(w);
	}
	for (i = 0; i < p->nworkers; i++)
		pgm_call_cancel(p->workers[i]);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* pool_ended - a worker ends (whether it failed or not). */
static void pool_ended(pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->running--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* pool_save - saves a copy of the positions as the call's checkpoint, on
 * the function's thread, with the lock not held. -1 with the call's error
 * set (the journal could not be written). */
static int pool_save(pool *p)
{
	json_t *snap;
	int rc;

	snap = json_deep_copy(p->cp);
	p->dirty = 0;
	pthread_mutex_unlock(&p->mu);
	rc = snap ? pgm_checkpoint_save(p->call, snap) : -1;
	json_decref(snap);
	pthread_mutex_lock(&p->mu);
	return rc;
}

/* pool_run - runs fn on p->nworkers threads and waits for them all,
 * saving the positions whenever a worker moved one (copy). 0, or -1 with
 * the call's error set: the first worker's failure, the checkpoint's, or
 * a thread that could not start. */
static int pool_run(pool *p, void *(*fn)(void *))
{
	pthread_t *th = calloc((size_t)p->nworkers, sizeof(*th));
	worker_arg *wa = calloc((size_t)p->nworkers, sizeof(*wa));
	int i, started = 0, save_failed = 0;

	p->workers = calloc((size_t)p->nworkers, sizeof(*p->workers));
	if (!th || !wa || !p->workers) {
		free(th);
		free(wa);
		free(p->workers);
		p->workers = NULL;
		pgm_fail(p->call, "pgmove.nomem", 0, "out of memory");
		return -1;
	}
	for (i = 0; i < p->nworkers; i++)
		p->workers[i] = pgm_call_worker(p->call);
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nworkers; i++) {
		wa[i].p = p;
		wa[i].w = p->workers[i];
		if (pthread_create(&th[i], NULL, fn, &wa[i]) != 0) {
			pgm_fail(p->workers[i], "dynamodb.thread", 1,
				 "dynamodb: table %s: cannot start worker %d of %d", p->table,
				 i + 1, p->nworkers);
			pthread_mutex_unlock(&p->mu);
			pool_fail(p, p->workers[i]);
			pthread_mutex_lock(&p->mu);
			break;
		}
		started++;
		p->running++;
	}
	for (;;) {
		if (p->dirty && p->cp && !save_failed) {
			if (pool_save(p) < 0) {
				save_failed = 1;
				p->failed = 1;
				for (i = 0; i < p->nworkers; i++)
					pgm_call_cancel(p->workers[i]);
			}
			continue;
		}
		if (p->running == 0)
			break;
		{
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
		pgm_progress(p->call, (double)p->items, 0, "items", p->table);
	}
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < p->nworkers; i++)
		pgm_call_worker_free(p->workers[i]);
	free(p->workers);
	p->workers = NULL;
	free(th);
	free(wa);
	if (p->failed && !save_failed)
		pgm_fail(p->call, p->code ? p->code : "dynamodb.error", p->retryable, "%s",
			 p->message ? p->message : "a worker failed");
	return p->failed ? -1 : 0;
}

/* pool_init / pool_free - the pool's locks, lists and kept error. */
static void pool_init(pool *p, pgm_call *call)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->seen_mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->call = call;
}

static void pool_free(pool *p)
{
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->seen_mu);
	pthread_mutex_destroy(&p->rcu.mu);
	pthread_cond_destroy(&p->cv);
	free(p->code);
	free(p->message);
}

/* workers_arg - the workers argument: at most segments (and at most 64);
 * default 4. 0, or -1 with the error set. */
static int workers_arg(pgm_call *call, json_t *args, long long nseg, int *out)
{
	long long n = 4;

	if (pgm_arg_int(call, args, "workers", 4, 0, &n) < 0)
		return -1;
	if (n < 1 || n > 64) {
		pgm_fail(call, "args.invalid", 0, "dynamodb: workers must be 1 to 64, not %lld", n);
		return -1;
	}
	*out = (int)(n < nseg ? n : nseg);
	return 0;
}

/* ------------------------------------------------------------------------
 * copy_to_postgres
 * ---------------------------------------------------------------------- */

/* load_page - converts the items of one Scan page (borrowed) into rows
 * (COPY text) and loads them into p->m's table in one transaction on pg:
 * COPY into the worker's stage table, then the upsert; items that do not
 * fit go to the misfits table when there is one, else fail the call. *n
 * and *nm get the items loaded and set aside. 0, or -1 with w's error set. */
static int load_page(pool *p, pgm_call *w, pgm_pg *pg, json_t *items, buf *rows, long long *n,
		     long long *nm)
{
	json_t *item;
	size_t k;

	*n = *nm = 0;
	rows->len = 0;
	if (pgm_pg_command(w, pg, "BEGIN", 0, NULL) < 0)
		return -1;
	json_array_foreach(items, k, item)
	{
		char why[600], *kt, *ins = NULL;
		buf ij = {0};
		const char *err, *prm[4];
		json_t *wrap;
		int rc;

		if (item_row(rows, p->m, item, why, sizeof(why)) == 0) {
			(*n)++;
			continue;
		}
		kt = item_key_text(p->m, item);
		if (!p->qmis) {
			pgm_fail(w, "dynamodb.item_misfit", 0,
				 "dynamodb: table %s: item %s: %s (give misfits = \"table\" to set "
				 "such items aside)",
				 p->table, kt ? kt : "?", why);
			free(kt);
			pgm_pg_command(w, pg, "ROLLBACK", 0, NULL);
			return -1;
		}
		wrap = json_pack("{s:O}", "M", item);
		if (av_json(&ij, wrap, &err) < 0) {
			free(ij.p);
			ij.p = NULL;
		}
		json_decref(wrap);
		prm[0] = p->table;
		prm[1] = kt;
		prm[2] = why;
		prm[3] = ij.p ? ij.p : "{}";
		rc = asprintf(
			     &ins,
			     "INSERT INTO %s (source_table, key, reason, item) VALUES ($1, $2, $3, "
			     "$4)",
			     p->qmis) < 0
			     ? -1
			     : pgm_pg_command(w, pg, ins, 4, prm);
		free(ins);
		free(ij.p);
		free(kt);
		if (rc < 0)
			return -1;
		(*nm)++;
	}
	if (rows->oom) {
		pgm_fail(w, "pgmove.nomem", 0, "out of memory");
		return -1;
	}
	if (copy_in(w, pg, "pgmove_ddb_stage", p->m, rows) < 0 ||
	    pgm_pg_command(w, pg, p->upsert, 0, NULL) < 0 ||
	    pgm_pg_command(w, pg, "COMMIT", 0, NULL) < 0)
		return -1;
	return 0;
}

/* copy_worker - a worker of copy_to_postgres: its own connection and stage
 * table; scans the segments pool_next gives it page by page from their
 * positions, loads each page, then records the segment's new position in
 * the pool (the function's thread saves it). */
static void *copy_worker(void *arg)
{
	worker_arg *wa = arg;
	pool *p = wa->p;
	pgm_call *w = wa->w;
	pgm_pg *pg = pgm_pg_connect(w, p->target, PG_APP);
	char *sql = NULL;
	buf rows = {0};
	int seg;

	if (!pg)
		goto fail;
	if (asprintf(&sql,
		     "CREATE TEMP TABLE IF NOT EXISTS pgmove_ddb_stage AS SELECT %s FROM %s "
		     "WITH NO DATA",
		     p->m->collist, p->m->qtable) < 0 ||
	    pgm_pg_command(w, pg, sql, 0, NULL) < 0)
		goto fail;
	while ((seg = pool_next(p)) >= 0) {
		for (;;) {
			json_t *st, *key = NULL, *r, *lek;
			long long n, nm;
			int done;

			pthread_mutex_lock(&p->mu);
			st = segment_state(p->cp, seg);
			done = json_is_true(json_object_get(st, "done"));
			if (json_is_object(json_object_get(st, "key")))
				key = json_deep_copy(json_object_get(st, "key"));
			pthread_mutex_unlock(&p->mu);
			if (done)
				break;
			if (pgm_check_cancel(w) < 0 || bucket_wait(&p->rcu, w) < 0) {
				json_decref(key);
				goto fail;
			}
			r = scan_page(w, p->region, p->table, seg, p->nseg, p->limit, p->consistent,
				      key);
			json_decref(key);
			if (!r)
				goto fail;
			bucket_take(&p->rcu, r);
			if (load_page(p, w, pg, json_object_get(r, "Items"), &rows, &n, &nm) < 0) {
				json_decref(r);
				goto fail;
			}
			lek = json_object_get(r, "LastEvaluatedKey");
			pthread_mutex_lock(&p->mu);
			json_object_set(st, "key", json_is_object(lek) ? lek : json_null());
			json_object_set_new(st, "done", json_boolean(!json_is_object(lek)));
			json_object_set_new(
				st, "items",
				json_integer(json_integer_value(json_object_get(st, "items")) + n +
					     nm));
			p->copied += n;
			p->misfit += nm;
			p->items += n + nm;
			p->pages++;
			p->dirty = 1;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
			json_decref(r);
		}
	}
	goto end;
fail:
	pool_fail(p, w);
end:
	free(sql);
	free(rows.p);
	pgm_pg_close(pg);
	pool_ended(p);
	return NULL;
}

static json_t *fn_copy_to_postgres(pgm_call *call, json_t *args)
{
	const char *table = pgm_arg_string(call, args, "table", NULL, 1);
	const char *target = pgm_arg_string(call, args, "target", NULL, 1);
	const char *misfits = pgm_arg_string(call, args, "misfits", NULL, 0);
	const char *region = aws_region_arg(call, args);
	long long nseg = 4, limit = 1000;
	int consistent = 0, resumed = 0, nworkers = 4, seg, i, left = 0;
	double budget = 0;
	json_t *t = NULL, *keys = NULL, *cp = NULL, *out = NULL;
	pgm_pg *pg = NULL;
	mapping m = {0};
	char *sql = NULL, *upd = NULL, *qmis = NULL;
	long long t0 = pgm_now_ms();
	pool p;

	pool_init(&p, call);
	bucket_init(&p.rcu, 0);
	if (!table || !target || pgm_arg_int(call, args, "segments", 4, 0, &nseg) < 0 ||
	    pgm_arg_int(call, args, "page_size", 1000, 0, &limit) < 0 ||
	    pgm_arg_bool(call, args, "consistent_read", 0, &consistent) < 0 ||
	    pgm_arg_number(call, args, "read_capacity", 0, 0, &budget) < 0 ||
	    workers_arg(call, args, nseg, &nworkers) < 0)
		goto done;
	if (!(t = describe(call, region, table)))
		goto done;
	keys = key_schema(t);
	if (!(pg = pgm_pg_connect(call, target, PG_APP)))
		goto done;
	if (mapping_build(call, pg, args, keys, &m) < 0)
		goto done;
	if (misfits) {
		char *qs =
			pgm_pg_quote_ident(pg, pgm_arg_string(call, args, "schema", "public", 0));
		char *qt = pgm_pg_quote_ident(pg, misfits);

		if (!qs || !qt || asprintf(&qmis, "%s.%s", qs, qt) < 0)
			qmis = NULL;
		PQfreemem(qs);
		PQfreemem(qt);
		if (!qmis) {
			pgm_fail(call, "pgmove.nomem", 0, "out of memory");
			goto done;
		}
		if (asprintf(
			    &sql,
			    "CREATE TABLE IF NOT EXISTS %s (source_table text NOT NULL, key jsonb, "
			    "reason text NOT NULL, item jsonb NOT NULL, at timestamptz NOT NULL "
			    "DEFAULT now())",
			    qmis) < 0 ||
		    pgm_pg_command(call, pg, sql, 0, NULL) < 0)
			goto done;
		free(sql);
		sql = NULL;
	}
	{
		buf u = {0};

		for (i = m.nkeys; i < m.ncols; i++)
			b_fmt(&u, "%s%s = EXCLUDED.%s", u.len ? ", " : "", m.cols[i].qcol,
			      m.cols[i].qcol);
		if (m.qdoc || m.qrest)
			b_fmt(&u, "%s%s = EXCLUDED.%s", u.len ? ", " : "",
			      m.qdoc ? m.qdoc : m.qrest, m.qdoc ? m.qdoc : m.qrest);
		upd = u.p; /* NULL when there is nothing but keys */
	}
	if (asprintf(&sql,
		     "WITH s AS (DELETE FROM pgmove_ddb_stage RETURNING *) INSERT INTO %s (%s) "
		     "SELECT %s FROM s ON CONFLICT (%s) DO %s%s",
		     m.qtable, m.collist, m.collist, m.keylist, upd ? "UPDATE SET " : "NOTHING",
		     upd ? upd : "") < 0)
		goto done;

	cp = new_checkpoint(pgm_checkpoint_get(call), table, (int)nseg);
	for (seg = 0; seg < nseg; seg++) {
		json_t *st = segment_state(cp, seg);

		if (json_integer_value(json_object_get(st, "items")) > 0 ||
		    json_is_true(json_object_get(st, "done")))
			resumed = 1;
		if (!json_is_true(json_object_get(st, "done")))
			left++;
	}
	p.region = region;
	p.table = table;
	p.target = target;
	p.nseg = (int)nseg;
	p.limit = (int)limit;
	p.consistent = consistent;
	p.nworkers = nworkers < left ? nworkers : left;
	p.m = &m;
	p.cp = cp;
	p.upsert = sql;
	p.qmis = qmis;
	p.rcu.rate = p.rcu.tokens = budget;
	if (p.nworkers > 0 && pool_run(&p, copy_worker) < 0)
		goto done;
	{
		json_int_t total = 0;
		json_t *st;
		size_t k;

		json_array_foreach(json_object_get(cp, "segments"), k, st) total +=
			json_integer_value(json_object_get(st, "items"));
		out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:i, s:b, s:f, s:I}", "table",
				table, "into", m.qtable, "items", total, "copied_now",
				(json_int_t)p.copied, "misfits", (json_int_t)p.misfit, "pages",
				(json_int_t)p.pages, "segments", (int)nseg, "workers", p.nworkers,
				"resumed", resumed, "read_capacity_used", p.rcu.used, "duration_ms",
				(json_int_t)(pgm_now_ms() - t0));
	}
done:
	pool_free(&p);
	json_decref(cp);
	json_decref(t);
	json_decref(keys);
	free(sql);
	free(upd);
	free(qmis);
	mapping_free(&m);
	pgm_pg_close(pg);
	return out;
}

/* ------------------------------------------------------------------------
 * verify
 * ---------------------------------------------------------------------- */

/* keys_query - runs sql (which returns one column of JSON text) and appends
 * up to MAX_LISTED values to list; returns the row count or -1. */
static long long keys_query(pgm_call *call, pgm_pg *pg, const char *sql, json_t *list)
{
	PGresult *res = pgm_pg_exec(call, pg, sql, 0, NULL);
	int i, n;

	if (!res)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n && json_array_size(list) < MAX_LISTED; i++) {
		json_t *v = json_loads(PQgetvalue(res, i, 0), JSON_DECODE_ANY, NULL);

		json_array_append_new(list, v ? v : json_string(PQgetvalue(res, i, 0)));
	}
	PQclear(res);
	return n;
}

/* key_object - SQL text json_build_object('attr', alias."col", ...)::text of
 * m's key columns, for listing keys. Caller frees; NULL when out of memory. */
static char *key_object(const mapping *m, const char *alias)
{
	buf b = {0};
	const char *p;
	int i;

	b_str(&b, "json_build_object(");
	for (i = 0; i < m->nkeys; i++) {
		b_str(&b, i ? ", '" : "'");
		for (p = m->cols[i].attr; *p; p++) {
			if (*p == '\'')
				b_chr(&b, '\'');
			b_chr(&b, *p);
		}
		b_fmt(&b, "', %s.%s", alias, m->cols[i].qcol);
	}
	b_str(&b, ")::text");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* row_keys - appends the first nkeys fields of each COPY text row in rows
 * (the key columns: the mapping puts them first) to out, one row a line.
 * Tabs and newlines inside values are escaped in COPY text, so they split. */
static void row_keys(buf *out, const buf *rows, int nkeys)
{
	const char *s = rows->p, *end = rows->p + rows->len;

	while (s && s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *q = s;
		int k = 0;

		if (!nl)
			break;
		while (q < nl && !(*q == '\t' && ++k == nkeys))
			q++;
		b_add(out, s, (size_t)(q - s));
		b_chr(out, '\n');
		s = nl + 1;
	}
}

/* merge_list - appends the values of from (borrowed) to to while it holds
 * fewer than MAX_LISTED. */
static void merge_list(json_t *to, json_t *from)
{
	size_t i;
	json_t *v;

	json_array_foreach(from, i, v)
	{
		if (json_array_size(to) >= MAX_LISTED)
			break;
		json_array_append(to, v);
	}
}

/* verify_worker - a worker of verify: its own connection and stage table;
 * for each page of the segments pool_next gives it, loads the converted
 * items into the stage, lists the missing and changed keys there, and
 * adds the page's keys to pgmove_ddb_seen on the function's connection
 * (under seen_mu) for the extra rows found at the end. */
static void *verify_worker(void *arg)
{
	worker_arg *wa = arg;
	pool *p = wa->p;
	pgm_call *w = wa->w;
	const mapping *m = p->m;
	pgm_pg *pg = pgm_pg_connect(w, p->target, PG_APP);
	json_t *missing = json_array(), *changed = json_array(), *unconv = json_array();
	long long n_missing = 0, n_changed = 0, n_unconv = 0;
	char *sql = NULL;
	buf rows = {0}, keys = {0};
	int seg;

	if (!pg)
		goto fail;
	if (asprintf(&sql, "CREATE TEMP TABLE pgmove_ddb_stage AS SELECT %s FROM %s WITH NO DATA",
		     m->collist, m->qtable) < 0 ||
	    pgm_pg_command(w, pg, sql, 0, NULL) < 0)
		goto fail;
	while ((seg = pool_next(p)) >= 0) {
		json_t *key = NULL;

		do {
			json_t *r, *item;
			size_t k;
			long long c, items = 0;
			int rc;

			if (pgm_check_cancel(w) < 0 || bucket_wait(&p->rcu, w) < 0) {
				json_decref(key);
				goto fail;
			}
			r = scan_page(w, p->region, p->table, seg, p->nseg, p->limit, 1, key);
			json_decref(key);
			key = NULL;
			if (!r)
				goto fail;
			bucket_take(&p->rcu, r);
			rows.len = 0;
			keys.len = 0;
			json_array_foreach(json_object_get(r, "Items"), k, item)
			{
				char why[600];

				items++;
				if (item_row(&rows, m, item, why, sizeof(why)) < 0) {
					char *kt = item_key_text(m, item);

					n_unconv++;
					if (json_array_size(unconv) < MAX_LISTED)
						json_array_append_new(
							unconv, json_pack("{s:s?, s:s}", "key", kt,
									  "reason", why));
					free(kt);
				}
			}
			if (json_is_object(json_object_get(r, "LastEvaluatedKey")))
				key = json_incref(json_object_get(r, "LastEvaluatedKey"));
			json_decref(r);
			row_keys(&keys, &rows, m->nkeys);
			if (rows.oom || keys.oom) {
				json_decref(key);
				pgm_fail(w, "pgmove.nomem", 0, "out of memory");
				goto fail;
			}
			if (copy_in(w, pg, "pgmove_ddb_stage", m, &rows) < 0 ||
			    (c = keys_query(w, pg, p->q_missing, missing)) < 0) {
				json_decref(key);
				goto fail;
			}
			n_missing += c;
			if ((c = keys_query(w, pg, p->q_changed, changed)) < 0 ||
			    pgm_pg_command(w, pg, "TRUNCATE pgmove_ddb_stage", 0, NULL) < 0) {
				json_decref(key);
				goto fail;
			}
			n_changed += c;
			pthread_mutex_lock(&p->seen_mu);
			rc = copy_cols(w, p->seen_pg, "pgmove_ddb_seen", m->keylist, m, &keys);
			pthread_mutex_unlock(&p->seen_mu);
			if (rc < 0) {
				json_decref(key);
				goto fail;
			}
			pthread_mutex_lock(&p->mu);
			p->items += items;
			p->pages++;
			pthread_mutex_unlock(&p->mu);
		} while (key);
	}
	goto end;
fail:
	pool_fail(p, w);
end:
	pthread_mutex_lock(&p->mu);
	p->n_missing += n_missing;
	p->n_changed += n_changed;
	p->n_unconv += n_unconv;
	merge_list(p->missing, missing);
	merge_list(p->changed, changed);
	merge_list(p->unconv, unconv);
	pthread_mutex_unlock(&p->mu);
	json_decref(missing);
	json_decref(changed);
	json_decref(unconv);
	free(sql);
	free(rows.p);
	free(keys.p);
	pgm_pg_close(pg);
	pool_ended(p);
	return NULL;
}

static json_t *fn_verify(pgm_call *call, json_t *args)
{
	const char *table = pgm_arg_string(call, args, "table", NULL, 1);
	const char *target = pgm_arg_string(call, args, "target", NULL, 1);
	const char *region = aws_region_arg(call, args);
	long long nseg = 4, limit = 1000;
	json_t *t = NULL, *keys = NULL, *out = NULL;
	json_t *extra = json_array();
	pgm_pg *pg = NULL;
	mapping m = {0};
	buf cmp = {0}, join = {0};
	char *sql = NULL, *q_missing = NULL, *q_changed = NULL, *q_extra = NULL;
	long long n_extra = 0, t0 = pgm_now_ms();
	double budget = 0;
	int i, nworkers = 4;
	pool p;

	pool_init(&p, call);
	bucket_init(&p.rcu, 0);
	p.missing = json_array();
	p.changed = json_array();
	p.unconv = json_array();
	if (!table || !target || pgm_arg_int(call, args, "segments", 4, 0, &nseg) < 0 ||
	    pgm_arg_int(call, args, "page_size", 1000, 0, &limit) < 0 ||
	    pgm_arg_number(call, args, "read_capacity", 0, 0, &budget) < 0 ||
	    workers_arg(call, args, nseg, &nworkers) < 0)
		goto done;
	if (!(t = describe(call, region, table)))
		goto done;
	keys = key_schema(t);
	if (!(pg = pgm_pg_connect(call, target, PG_APP)) ||
	    mapping_build(call, pg, args, keys, &m) < 0)
		goto done;
	for (i = 0; i < m.nkeys; i++)
		b_fmt(&join, "%ss.%s = t.%s", i ? " AND " : "", m.cols[i].qcol, m.cols[i].qcol);
	for (i = m.nkeys; i < m.ncols; i++)
		b_fmt(&cmp, "%ss.%s IS DISTINCT FROM t.%s", cmp.len ? " OR " : "", m.cols[i].qcol,
		      m.cols[i].qcol);
	if (m.qdoc || m.qrest)
		b_fmt(&cmp, "%ss.%s IS DISTINCT FROM t.%s", cmp.len ? " OR " : "",
		      m.qdoc ? m.qdoc : m.qrest, m.qdoc ? m.qdoc : m.qrest);
	if (!cmp.len)
		b_str(&cmp, "false");
	if (join.oom || cmp.oom) {
		pgm_fail(call, "pgmove.nomem", 0, "out of memory");
		goto done;
	}
	{
		char *ks = key_object(&m, "s"), *kt = key_object(&m, "t");

		if (!ks || !kt ||
		    asprintf(&q_missing,
			     "SELECT %s FROM pgmove_ddb_stage s WHERE NOT EXISTS (SELECT 1 FROM %s "
			     "t "
			     "WHERE %s)",
			     ks, m.qtable, join.p) < 0 ||
		    asprintf(&q_changed,
			     "SELECT %s FROM pgmove_ddb_stage s JOIN %s t ON %s WHERE %s", ks,
			     m.qtable, join.p, cmp.p) < 0 ||
		    asprintf(
			    &q_extra,
			    "SELECT %s FROM %s t WHERE NOT EXISTS (SELECT 1 FROM pgmove_ddb_seen s "
			    "WHERE %s)",
			    kt, m.qtable, join.p) < 0) {
			free(ks);
			free(kt);
			pgm_fail(call, "pgmove.nomem", 0, "out of memory");
			goto done;
		}
		free(ks);
		free(kt);
	}
	if (asprintf(&sql, "CREATE TEMP TABLE pgmove_ddb_seen AS SELECT %s FROM %s WITH NO DATA",
		     m.keylist, m.qtable) < 0 ||
	    pgm_pg_command(call, pg, sql, 0, NULL) < 0)
		goto done;
	free(sql);
	sql = NULL;
	p.region = region;
	p.table = table;
	p.target = target;
	p.nseg = (int)nseg;
	p.limit = (int)limit;
	p.consistent = 1;
	p.nworkers = nworkers;
	p.m = &m;
	p.seen_pg = pg;
	p.q_missing = q_missing;
	p.q_changed = q_changed;
	p.rcu.rate = p.rcu.tokens = budget;
	if (pool_run(&p, verify_worker) < 0)
		goto done;
	if (asprintf(&sql, "CREATE INDEX ON pgmove_ddb_seen (%s)", m.keylist) < 0 ||
	    pgm_pg_command(call, pg, sql, 0, NULL) < 0 ||
	    pgm_pg_command(call, pg, "ANALYZE pgmove_ddb_seen", 0, NULL) < 0)
		goto done;
	if ((n_extra = keys_query(call, pg, q_extra, extra)) < 0)
		goto done;
	out = json_pack(
		"{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:O, s:o, s:O, s:i, s:I}",
		"table", table, "into", m.qtable, "equal",
		!(p.n_missing || p.n_changed || n_extra || p.n_unconv), "items",
		(json_int_t)p.items, "differences",
		(json_int_t)(p.n_missing + p.n_changed + n_extra + p.n_unconv), "missing_count",
		(json_int_t)p.n_missing, "changed_count", (json_int_t)p.n_changed, "extra_count",
		(json_int_t)n_extra, "unconvertible_count", (json_int_t)p.n_unconv, "missing",
		p.missing, "changed", p.changed, "extra", extra, "unconvertible", p.unconv,
		"workers", nworkers, "duration_ms", (json_int_t)(pgm_now_ms() - t0));
	extra = NULL;
done:
	json_decref(p.missing);
	json_decref(p.changed);
	json_decref(p.unconv);
	pool_free(&p);
	json_decref(extra);
	json_decref(t);
	json_decref(keys);
	free(cmp.p);
	free(join.p);
	free(sql);
	free(q_missing);
	free(q_changed);
	free(q_extra);
	mapping_free(&m);
	pgm_pg_close(pg);
	return out;
}

/* ------------------------------------------------------------------------
 * catch_up: the table's stream applied to PostgreSQL
 * ---------------------------------------------------------------------- */
static const pgm_aws_service streams = {
	.name = "dynamodb",
	.endpoint_id = "streams.dynamodb",
	.env_id = "DYNAMODB_STREAMS",
	.api_version = NULL,
	.json_prefix = "DynamoDBStreams_20120810",
};

/* stream_shards - every shard of the stream (DescribeStream, all pages), as
 * a new array of AWS's Shard objects, or NULL with the error set. */
static json_t *stream_shards(pgm_call *call, const char *region, const char *arn)
{
	json_t *all = json_array();
	char *start = NULL;
	int pages = 0;

	for (;;) {
		json_t *body = json_pack("{s:s}", "StreamArn", arn), *r, *d, *sh;
		const char *last;
		size_t i;

		if (start)
			json_object_set_new(body, "ExclusiveStartShardId", json_string(start));
		r = pgm_aws_json10(call, &streams, region, "DescribeStream", body);
		json_decref(body);
		free(start);
		start = NULL;
		if (!r) {
			json_decref(all);
			return NULL;
		}
		d = json_object_get(r, "StreamDescription");
		if (!json_is_array(json_object_get(d, "Shards"))) {
			json_decref(r);
			json_decref(all);
			return pgm_fail(call, "aws.bad_response", 1,
					"dynamodb: DescribeStream %s: no StreamDescription.Shards",
					arn);
		}
		json_array_foreach(json_object_get(d, "Shards"), i, sh) if (sget(sh, "ShardId"))
			json_array_append(all, sh);
		last = sget(d, "LastEvaluatedShardId");
		if (last && ++pages < 10000)
			start = strdup(last);
		json_decref(r);
		if (!start)
			return all;
	}
}

/* shard_iterator - a new iterator for shard id: after seq, or from the trim
 * horizon when seq is NULL. Caller frees; NULL with the error set. */
static char *shard_iterator(pgm_call *call, const char *region, const char *arn, const char *id,
			    const char *seq)
{
	json_t *body =
		json_pack("{s:s, s:s, s:s}", "StreamArn", arn, "ShardId", id, "ShardIteratorType",
			  seq ? "AFTER_SEQUENCE_NUMBER" : "TRIM_HORIZON");
	json_t *r;
	char *it = NULL;

	if (seq)
		json_object_set_new(body, "SequenceNumber", json_string(seq));
	r = pgm_aws_json10(call, &streams, region, "GetShardIterator", body);
	json_decref(body);
	if (!r)
		return NULL;
	if (!sget(r, "ShardIterator"))
		pgm_fail(call, "aws.bad_response", 1,
			 "dynamodb: GetShardIterator %s: the answer has no ShardIterator", id);
	else
		it = strdup(sget(r, "ShardIterator"));
	json_decref(r);
	return it;
}

typedef struct apply_ctx {
	pgm_call *call;
	pgm_pg *pg;
	const mapping *m;
	const char *table;
	const char *upsert_sql, *delete_sql;
	long long inserts, modifies, removes;
	double newest; /* ApproximateCreationDateTime of the newest record applied */
} apply_ctx;

/* apply_records - applies one GetRecords batch in one transaction: the last
 * record of each key wins (records of a key are in order within a shard),
 * images upserted, removed keys deleted. 0 or -1 with the error set. */
static int apply_records(apply_ctx *a, json_t *records)
{
	json_t *last = json_object(), *rec, *v;
	buf up = {0}, del = {0};
	const char *k;
	size_t i;
	int rc = -1;

	json_array_foreach(records, i, rec)
	{
		json_t *d = json_object_get(rec, "dynamodb");
		char *kt = item_key_text(a->m, json_object_get(d, "Keys"));
		double t = json_number_value(json_object_get(d, "ApproximateCreationDateTime"));

		if (!kt || !json_is_object(json_object_get(d, "Keys"))) {
			free(kt);
			pgm_fail(a->call, "aws.bad_response", 1,
				 "dynamodb: GetRecords: a record without dynamodb.Keys");
			goto done;
		}
		json_object_set(last, kt, rec);
		free(kt);
		if (t > a->newest)
			a->newest = t;
	}
	json_object_foreach(last, k, rec)
	{
		json_t *d = json_object_get(rec, "dynamodb");
		const char *ev = sget(rec, "eventName");
		char why[600];

		if (ev && !strcmp(ev, "REMOVE")) {
			int c;

			for (c = 0; c < a->m->nkeys; c++) {
				if (c)
					b_chr(&del, '\t');
				if (field(&del,
					  json_object_get(json_object_get(d, "Keys"),
							  a->m->cols[c].attr),
					  a->m->cols[c].t, why, sizeof(why)) < 0) {
					pgm_fail(a->call, "dynamodb.item_misfit", 0,
						 "dynamodb: table %s: stream record for %s: key %s "
						 "%s",
						 a->table, k, a->m->cols[c].attr, why);
					goto done;
				}
			}
			b_chr(&del, '\n');
			a->removes++;
		} else if (ev && (!strcmp(ev, "INSERT") || !strcmp(ev, "MODIFY"))) {
			v = json_object_get(d, "NewImage");
			if (!json_is_object(v)) {
				pgm_fail(a->call, "dynamodb.stream_view", 0,
					 "dynamodb: table %s: stream record for %s has no NewImage "
					 "(the "
					 "stream's view type must be NEW_AND_OLD_IMAGES or "
					 "NEW_IMAGE)",
					 a->table, k);
				goto done;
			}
			if (item_row(&up, a->m, v, why, sizeof(why)) < 0) {
				pgm_fail(a->call, "dynamodb.item_misfit", 0,
					 "dynamodb: table %s: item %s (from the stream): %s",
					 a->table, k, why);
				goto done;
			}
			if (!strcmp(ev, "INSERT"))
				a->inserts++;
			else
				a->modifies++;
		} else {
			pgm_fail(a->call, "aws.bad_response", 1,
				 "dynamodb: GetRecords: record for %s has eventName %s", k,
				 ev ? ev : "(none)");
			goto done;
		}
	}
	if (up.oom || del.oom) {
		pgm_fail(a->call, "pgmove.nomem", 0, "out of memory");
		goto done;
	}
	if (pgm_pg_command(a->call, a->pg, "BEGIN", 0, NULL) < 0)
		goto done;
	if ((up.len && (copy_in(a->call, a->pg, "pgmove_ddb_stage", a->m, &up) < 0 ||
			pgm_pg_command(a->call, a->pg, a->upsert_sql, 0, NULL) < 0)) ||
	    (del.len &&
	     (copy_cols(a->call, a->pg, "pgmove_ddb_del", a->m->keylist, a->m, &del) < 0 ||
	      pgm_pg_command(a->call, a->pg, a->delete_sql, 0, NULL) < 0)) ||
	    pgm_pg_command(a->call, a->pg, "COMMIT", 0, NULL) < 0) {
		pgm_pg_command(a->call, a->pg, "ROLLBACK", 0, NULL);
		goto done;
	}
	rc = 0;
done:
	json_decref(last);
	free(up.p);
	free(del.p);
	return rc;
}

/* shard_ready - nonzero when shard sh may be read: its parent is done, or
 * is not in the stream any more (trimmed), or it has none. */
static int shard_ready(json_t *sh, json_t *shards, json_t *pos)
{
	const char *parent = sget(sh, "ParentShardId");
	json_t *p;
	size_t i;

	if (!parent)
		return 1;
	json_array_foreach(
		shards, i,
		p) if (!strcmp(sget(p, "ShardId"),
			       parent)) return json_is_true(json_object_get(json_object_get(pos,
											    parent),
									    "done"));
	return 1;
}

/* closed_shards - how many shards of pos were read to their end. */
static long long closed_shards(json_t *pos)
{
	const char *k;
	json_t *p;
	long long n = 0;

	json_object_foreach(pos, k, p) n += json_is_true(json_object_get(p, "done"));
	return n;
}

/* wall_s - the wall clock in seconds since the epoch (ApproximateCreationDateTime's
 * clock; pgm_now_ms is monotonic and has another origin). */
static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* batch_newest - the largest ApproximateCreationDateTime (epoch seconds, a
 * number in the JSON 1.0 protocol) of the records, 0 when none has one. */
static double batch_newest(json_t *recs)
{
	json_t *rec;
	size_t i;
	double newest = 0;

	json_array_foreach(recs, i, rec)
	{
		json_t *t = json_object_get(json_object_get(rec, "dynamodb"),
					    "ApproximateCreationDateTime");

		if (json_is_number(t) && json_number_value(t) > newest)
			newest = json_number_value(t);
	}
	return newest;
}

/* shard_lag - the lag entry of shard id in lag (an object), created empty
 * when absent. Borrowed from lag. */
static json_t *shard_lag(json_t *lag, const char *id)
{
	json_t *l = json_object_get(lag, id);

	if (!l) {
		l = json_pack("{s:s, s:I, s:n, s:b, s:b, s:n, s:n}", "shard", id, "records_read",
			      (json_int_t)0, "last_get_records", "at_tip", 0, "closed", 0,
			      "last_sequence", "newest_age_s");
		json_object_set_new(lag, id, l);
	}
	return l;
}

/* lag_json - the lag part of catch_up's result from the per-shard entries
 * (lag, borrowed), the stream's shards and the positions: a shard is
 * behind unless it is closed and read to its end, or its last GetRecords
 * answered no records (at the tip: DynamoDB Streams gives no other sign,
 * no latest sequence number and no MillisBehindLatest). records_behind is
 * 0 when no shard is behind, else null: how many records remain is not
 * known. New reference. */
static json_t *lag_json(json_t *lag, json_t *shards, json_t *pos, double newest)
{
	json_t *list = json_array(), *sh;
	size_t k;
	long long behind = 0;
	double now = wall_s();

	json_array_foreach(shards, k, sh)
	{
		const char *id = sget(sh, "ShardId");
		json_t *l = json_object_get(lag, id ? id : "");
		int done =
			json_is_true(json_object_get(json_object_get(pos, id ? id : ""), "done"));

		if (!id)
			continue;
		if (!done && !(l && json_is_true(json_object_get(l, "at_tip"))))
			behind++;
		if (l) {
			double t = json_number_value(json_object_get(l, "newest_at"));

			l = json_deep_copy(l);
			json_object_del(l, "newest_at");
			json_object_set_new(l, "closed", json_boolean(done));
			if (t > 0)
				json_object_set_new(l, "newest_age_s", json_real(now - t));
		} else {
			l = json_pack("{s:s, s:I, s:n, s:b, s:b, s:n, s:n}", "shard", id,
				      "records_read", (json_int_t)0, "last_get_records", "at_tip",
				      0, "closed", done, "last_sequence", "newest_age_s");
		}
		json_array_append_new(list, l);
	}
	return json_pack("{s:o, s:I, s:o, s:o}", "records_behind",
			 behind ? json_null() : json_integer(0), "shards_behind",
			 (json_int_t)behind, "newest_age_s",
			 newest > 0 ? json_real(now - newest) : json_null(), "shards", list);
}

static json_t *fn_catch_up(pgm_call *call, json_t *args)
{
	const char *table = pgm_arg_string(call, args, "table", NULL, 1);
	const char *target = pgm_arg_string(call, args, "target", NULL, 1);
	const char *region = aws_region_arg(call, args);
	const char *arn = pgm_arg_string(call, args, "stream_arn", NULL, 0);
	long long follow = 0, every = 1000, limit = 1000, t0 = pgm_now_ms();
	long long expired = 0, batches = 0;
	json_t *t = NULL, *keys = NULL, *cp = NULL, *pos = NULL, *shards = NULL, *out = NULL;
	json_t *lag = json_object();
	pgm_pg *pg = NULL;
	mapping m = {0};
	char *upd = NULL, *upsert = NULL, *delsql = NULL, *sql = NULL, *sarn = NULL;
	apply_ctx a = {0};
	int caught_up = 0, i;

	if (!table || !target || pgm_arg_duration_ms(call, args, "follow", 0, 0, &follow) < 0 ||
	    pgm_arg_duration_ms(call, args, "every", 1000, 0, &every) < 0 ||
	    pgm_arg_int(call, args, "page_size", 1000, 0, &limit) < 0)
		goto done;
	if (!(t = describe(call, region, table)))
		goto done;
	keys = key_schema(t);
	if (!arn)
		arn = sget(t, "LatestStreamArn");
	if (!arn) {
		pgm_fail(call, "dynamodb.no_stream", 0,
			 "dynamodb: table %s has no stream (enable_stream before the copy)", table);
		goto done;
	}
	sarn = strdup(arn);
	if (!(pg = pgm_pg_connect(call, target, PG_APP)) ||
	    mapping_build(call, pg, args, keys, &m) < 0)
		goto done;
	{
		buf u = {0}, j = {0};

		for (i = m.nkeys; i < m.ncols; i++)
			b_fmt(&u, "%s%s = EXCLUDED.%s", u.len ? ", " : "", m.cols[i].qcol,
			      m.cols[i].qcol);
		if (m.qdoc || m.qrest)
			b_fmt(&u, "%s%s = EXCLUDED.%s", u.len ? ", " : "",
			      m.qdoc ? m.qdoc : m.qrest, m.qdoc ? m.qdoc : m.qrest);
		for (i = 0; i < m.nkeys; i++)
			b_fmt(&j, "%st.%s = d.%s", i ? " AND " : "", m.cols[i].qcol,
			      m.cols[i].qcol);
		upd = u.p;
		if (j.oom || u.oom ||
		    asprintf(&upsert,
			     "WITH s AS (DELETE FROM pgmove_ddb_stage RETURNING *) INSERT INTO %s "
			     "(%s) "
			     "SELECT %s FROM s ON CONFLICT (%s) DO %s%s",
			     m.qtable, m.collist, m.collist, m.keylist,
			     upd ? "UPDATE SET " : "NOTHING", upd ? upd : "") < 0 ||
		    asprintf(&delsql,
			     "WITH d AS (DELETE FROM pgmove_ddb_del RETURNING *) DELETE FROM %s t "
			     "USING d WHERE %s",
			     m.qtable, j.p) < 0) {
			free(j.p);
			pgm_fail(call, "pgmove.nomem", 0, "out of memory");
			goto done;
		}
		free(j.p);
	}
	if (asprintf(&sql,
		     "CREATE TEMP TABLE IF NOT EXISTS pgmove_ddb_stage AS SELECT %s FROM %s "
		     "WITH NO DATA",
		     m.collist, m.qtable) < 0 ||
	    pgm_pg_command(call, pg, sql, 0, NULL) < 0)
		goto done;
	free(sql);
	sql = NULL;
	if (asprintf(&sql,
		     "CREATE TEMP TABLE IF NOT EXISTS pgmove_ddb_del AS SELECT %s FROM %s "
		     "WITH NO DATA",
		     m.keylist, m.qtable) < 0 ||
	    pgm_pg_command(call, pg, sql, 0, NULL) < 0)
		goto done;
	a.call = call;
	a.pg = pg;
	a.m = &m;
	a.table = table;
	a.upsert_sql = upsert;
	a.delete_sql = delsql;

	cp = pgm_checkpoint_get(call);
	if (json_is_object(cp) && sget(cp, "stream") && !strcmp(sget(cp, "stream"), sarn))
		cp = json_deep_copy(cp);
	else if (json_is_object(json_object_get(args, "from")) &&
		 sget(json_object_get(args, "from"), "stream") &&
		 !strcmp(sget(json_object_get(args, "from"), "stream"), sarn) &&
		 json_is_object(json_object_get(json_object_get(args, "from"), "shards")))
		cp = json_deep_copy(json_object_get(args, "from"));
	else
		cp = json_pack("{s:s, s:{}}", "stream", sarn, "shards");
	pos = json_object_get(cp, "shards");

	for (;;) {
		size_t k;
		json_t *sh;
		int pending = 0, progressed;

		json_decref(shards);
		if (!(shards = stream_shards(call, region, sarn)))
			goto done;
		do {
			progressed = 0;
			pending = 0;
			json_array_foreach(shards, k, sh)
			{
				const char *id = sget(sh, "ShardId");
				json_t *p = json_object_get(pos, id);
				char *it;

				if (json_is_true(json_object_get(p, "done")))
					continue;
				if (!shard_ready(sh, shards, pos)) {
					pending = 1;
					continue;
				}
				if (!p) {
					p = json_pack("{s:n, s:b}", "seq", "done", 0);
					json_object_set_new(pos, id, p);
				}
				it = shard_iterator(call, region, sarn, id, sget(p, "seq"));
				if (!it)
					goto done;
				for (;;) {
					json_t *body = json_pack("{s:s, s:I}", "ShardIterator", it,
								 "Limit", (json_int_t)limit);
					json_t *r = pgm_aws_json10(call, &streams, region,
								   "GetRecords", body);
					json_t *recs, *lastrec, *sl;
					const char *next;
					double bn;

					json_decref(body);
					if (!r && pgm_error_code(call) &&
					    !strcmp(pgm_error_code(call),
						    "dynamodb.ExpiredIteratorException") &&
					    expired < 100) {
						pgm_clear_error(call);
						expired++;
						free(it);
						if (!(it = shard_iterator(call, region, sarn, id,
									  sget(p, "seq"))))
							goto done;
						continue;
					}
					if (!r) {
						free(it);
						goto done;
					}
					recs = json_object_get(r, "Records");
					if (!json_is_array(recs)) {
						json_decref(r);
						free(it);
						pgm_fail(call, "aws.bad_response", 1,
							 "dynamodb: GetRecords %s: no Records", id);
						goto done;
					}
					next = sget(r, "NextShardIterator");
					sl = shard_lag(lag, id);
					json_object_set_new(
						sl, "records_read",
						json_integer(json_integer_value(json_object_get(
								     sl, "records_read")) +
							     (json_int_t)json_array_size(recs)));
					json_object_set_new(
						sl, "last_get_records",
						json_integer((json_int_t)json_array_size(recs)));
					json_object_set_new(
						sl, "at_tip",
						json_boolean(next && !json_array_size(recs)));
					bn = batch_newest(recs);
					if (bn >
					    json_number_value(json_object_get(sl, "newest_at")))
						json_object_set_new(sl, "newest_at", json_real(bn));
					if (json_array_size(recs)) {
						if (apply_records(&a, recs) < 0) {
							json_decref(r);
							free(it);
							goto done;
						}
						lastrec = json_array_get(recs,
									 json_array_size(recs) - 1);
						json_object_set(
							p, "seq",
							json_object_get(json_object_get(lastrec,
											"dynamodb"),
									"SequenceNumber"));
						json_object_set(sl, "last_sequence",
								json_object_get(p, "seq"));
						batches++;
						progressed = 1;
					}
					if (!next)
						json_object_set_new(p, "done", json_true());
					if ((json_array_size(recs) || !next) &&
					    pgm_checkpoint_save(call, cp) < 0) {
						json_decref(r);
						free(it);
						goto done;
					}
					if (!next || !json_array_size(recs)) {
						json_decref(r);
						break;
					}
					free(it);
					it = strdup(next);
					json_decref(r);
					if (pgm_cancelled(call)) {
						free(it);
						pgm_fail(call, "pgmove.cancelled", 1,
							 "dynamodb: catch_up cancelled");
						goto done;
					}
				}
				free(it);
				if (json_is_true(json_object_get(p, "done")))
					progressed = 1; /* its children may be read now */
			}
		} while (pending && progressed);
		caught_up = !pending;
		pgm_progress(call, (double)(a.inserts + a.modifies + a.removes), 0, "records",
			     table);
		if (pgm_now_ms() - t0 >= follow)
			break;
		if (pgm_sleep_ms(call, every) != 0) {
			pgm_fail(call, "pgmove.cancelled", 1, "dynamodb: catch_up cancelled");
			goto done;
		}
	}
	{
		double age = a.newest > 0 ? wall_s() - a.newest : -1;

		out = json_pack(
			"{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:O, s:I, "
			"s:o}",
			"table", table, "stream_arn", sarn, "caught_up", caught_up, "records",
			(json_int_t)(a.inserts + a.modifies + a.removes), "inserts",
			(json_int_t)a.inserts, "modifies", (json_int_t)a.modifies, "removes",
			(json_int_t)a.removes, "shards", (json_int_t)json_array_size(shards),
			"expired_iterators", (json_int_t)expired, "batches", (json_int_t)batches,
			"newest_age_s", age >= 0 ? json_real(age) : json_null(), "duration_ms",
			(json_int_t)(pgm_now_ms() - t0), "positions", cp, "closed_shards",
			(json_int_t)closed_shards(pos), "lag",
			lag_json(lag, shards, pos, a.newest));
	}
done:
	json_decref(lag);
	json_decref(cp);
	json_decref(shards);
	json_decref(t);
	json_decref(keys);
	free(upd);
	free(upsert);
	free(delsql);
	free(sql);
	free(sarn);
	mapping_free(&m);
	pgm_pg_close(pg);
	return out;
}

/* ------------------------------------------------------------------------
 * The descriptor
 * ---------------------------------------------------------------------- */
static const pgm_param p_describe[] = {
	{"table", "string", 1, 0, "DynamoDB table name", NULL, NULL, NULL, NULL},
	{"region", "string", 0, 0, "AWS region (default: the configured one)", NULL, NULL, NULL,
	 NULL},
	{NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const pgm_param p_backup[] = {
	{"table", "string", 1, 0, "DynamoDB table name", NULL, NULL, NULL, NULL},
	{"name", "string", 1, 0, "backup name", NULL, NULL, NULL, NULL},
	{"every", "duration", 0, 0, "poll interval while CREATING", "\"5s\"", NULL, NULL, NULL},
	{"timeout", "duration", 0, 0, "give up after", "\"1h\"", NULL, NULL, NULL},
	{"region", "string", 0, 0, "AWS region", NULL, NULL, NULL, NULL},
	{NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const pgm_param p_describe_backup[] = {
	{"arn", "string", 1, 0, "the backup's ARN (backup's arn)", NULL, NULL, NULL, NULL},
	{"region", "string", 0, 0, "AWS region", NULL, NULL, NULL, NULL},
	{NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

#define MAPPING_PARAMS                                                                             \
	{"table", "string", 1, 0, "DynamoDB table name", NULL, NULL, NULL, NULL},                  \
		{"target", "conninfo", 1,    1,	  "PostgreSQL connection string",                  \
		 NULL,	   NULL,       NULL, NULL},                                                \
		{"into",                                                                           \
		 "string",                                                                         \
		 1,                                                                                \
		 0,                                                                                \
		 "PostgreSQL table (with a primary key or unique index on the key columns)",       \
		 NULL,                                                                             \
		 NULL,                                                                             \
		 NULL,                                                                             \
		 NULL},                                                                            \
		{"schema", "string", 0, 0, "its schema", "\"public\"", NULL, NULL, NULL},          \
		{"columns",                                                                        \
		 "object",                                                                         \
		 0,                                                                                \
		 0,                                                                                \
		 "column mapping {attr = \"type\" | {column, type}}; absent: document mapping",    \
		 NULL,                                                                             \
		 NULL,                                                                             \
		 NULL,                                                                             \
		 NULL},                                                                            \
		{"document_column",                                                                \
		 "string",                                                                         \
		 0,                                                                                \
		 0,                                                                                \
		 "document mapping: the jsonb column for the whole item",                          \
		 "\"item\"",                                                                       \
		 NULL,                                                                             \
		 NULL,                                                                             \
		 NULL},                                                                            \
		{"rest_column",                                                                    \
		 "string",                                                                         \
		 0,                                                                                \
		 0,                                                                                \
		 "column mapping: a jsonb column for attributes without a column",                 \
		 NULL,                                                                             \
		 NULL,                                                                             \
		 NULL,                                                                             \
		 NULL},                                                                            \
		{"ignore_unmapped",                                                                \
		 "boolean",                                                                        \
		 0,                                                                                \
		 0,                                                                                \
		 "column mapping: drop attributes without a column",                               \
		 "false",                                                                          \
		 NULL,                                                                             \
		 NULL,                                                                             \
		 NULL},                                                                            \
		{"segments", "integer", 0, 0, "Scan TotalSegments", "4", "1", "1000000", NULL},    \
		{"page_size", "integer", 0,	   0,	"Scan Limit (items per page)",             \
		 "1000",      "1",	 "100000", NULL},                                          \
	{                                                                                          \
		"region", "string", 0, 0, "AWS region", NULL, NULL, NULL, NULL                     \
	}

static const pgm_param p_copy[] = {
	MAPPING_PARAMS,
	{"misfits", "string", 0, 0,
	 "a table (created if absent) for items that do not fit the mapping, instead of failing",
	 NULL, NULL, NULL, NULL},
	{"read_capacity", "number", 0, 0,
	 "read capacity units per second to stay under, shared by the workers (0: none)", "0", "0",
	 NULL, NULL},
	{"consistent_read", "boolean", 0, 0, "strongly consistent Scan", "false", NULL, NULL, NULL},
	{"workers", "integer", 0, 0,
	 "segments scanned at once, each by its own thread and connection (at most segments)", "4",
	 "1", "64", NULL},
	{NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const pgm_param p_verify[] = {
	MAPPING_PARAMS,
	{"read_capacity", "number", 0, 0,
	 "read capacity units per second to stay under, shared by the workers (0: none)", "0", "0",
	 NULL, NULL},
	{"workers", "integer", 0, 0,
	 "segments scanned at once, each by its own thread and connection (at most segments)", "4",
	 "1", "64", NULL},
	{NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const pgm_param p_catch_up[] = {
	MAPPING_PARAMS,
	{"stream_arn", "string", 0, 0, "the stream (default: the table's latest)", NULL, NULL, NULL,
	 NULL},
	{"follow", "duration", 0, 0,
	 "keep applying for this long (0: until every open shard is caught up)", "\"0s\"", NULL,
	 NULL, NULL},
	{"from", "object", 0, 0,
	 "positions to start from: the positions output of an earlier catch_up (default: the "
	 "stream's trim horizon)",
	 NULL, NULL, NULL, NULL},
	{"every", "duration", 0, 0, "poll interval while following", "\"1s\"", NULL, NULL, NULL},
	{NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const pgm_function functions[] = {
	{"describe_table", fn_describe_table, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "keys, indexes, item count and size, billing mode, stream, point-in-time recovery",
	 p_describe},
	{"backup", fn_backup, 0, "CreateBackup, then wait until it is AVAILABLE", p_backup},
	{"describe_backup", fn_describe_backup, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "a backup's status and size (DescribeBackup)", p_describe_backup},
	{"enable_stream", fn_enable_stream, PGM_FN_IDEMPOTENT,
	 "enable the table's stream with NEW_AND_OLD_IMAGES (adopts one that is)", p_describe},
	{"copy_to_postgres", fn_copy_to_postgres, PGM_FN_IDEMPOTENT,
	 "parallel segmented Scan loaded into PostgreSQL with COPY (upsert by key), resumable "
	 "per segment and page",
	 p_copy},
	{"catch_up", fn_catch_up, PGM_FN_IDEMPOTENT,
	 "apply the table's stream (inserts, modifies, removes, in order per key) to PostgreSQL, "
	 "resumable per shard",
	 p_catch_up},
	{"verify", fn_verify, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "every item against its row: missing, changed, extra, unconvertible, by key", p_verify},
	{NULL, NULL, 0, NULL, NULL}};

PGMOVE_PLUGIN(dynamodb) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "dynamodb",
	.version = "0.1.0",
	.summary = "Amazon DynamoDB to PostgreSQL: describe, backup, stream, copy, verify",
	.init = NULL,
	.fini = aws_region_fini,
	.functions = functions,
	.configure = aws_region_configure,
	.config = aws_region_config,
};
