/*
 * plugins/dms/dms_mappings.c - DMS table mappings built from a list of
 * rules (a Lua table), checked before anything is sent: selection rules
 * (include / exclude, % wildcards, source filters on columns),
 * transformations (rename, add / remove prefix and suffix, lower / upper
 * case, remove column) and table settings (parallel load); and task
 * settings: sane defaults with the caller's merged over them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dms.h"

/* The rule types a Lua rule may have, and what DMS calls them. */
static const struct {
	const char *type, *rule_type, *action;
} rule_types[] = {
	{"include", "selection", "include"},
	{"exclude", "selection", "exclude"},
	{"rename", "transformation", "rename"},
	{"add-prefix", "transformation", "add-prefix"},
	{"remove-prefix", "transformation", "remove-prefix"},
	{"add-suffix", "transformation", "add-suffix"},
	{"remove-suffix", "transformation", "remove-suffix"},
	{"lowercase", "transformation", "convert-lowercase"},
	{"uppercase", "transformation", "convert-uppercase"},
	{"remove-column", "transformation", "remove-column"},
	{"parallel-load", "table-settings", NULL},
	{NULL, NULL, NULL},
};

static const char *const filter_ops[] = {"eq",	    "noteq",	  "gte",  "ste",     "lte",
					 "between", "notbetween", "null", "notnull", NULL};

static json_t *bad(pgm_call *call, const char *task, size_t i, const char *fmt, const char *a,
		   const char *b)
{
	char msg[512];

/* fmt is always one of this file's literals, with at most two %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
#pragma GCC diagnostic pop
	return pgm_fail(call, "args.invalid", 0, "dms: task %s: table mappings: rule %zu: %s",
			task ? task : "?", i, msg);
}

static const char *str(json_t *r, const char *k)
{
	return json_string_value(json_object_get(r, k));
}

/* text_of - a JSON string of v (strings as they are, numbers as text). */
static json_t *text_of(json_t *v)
{
	char *t;
	json_t *s;

	if (json_is_string(v))
		return json_incref(v);
	t = json_dumps(v, JSON_ENCODE_ANY);
	s = json_string(t ? t : "");
	free(t);
	return s;
}

/* filters - DMS source filters from {{column=, eq= | gte= | ste= |
 * between = {a, b} | null = true ...}, ...}; new array or NULL (error set). */
static json_t *filters(pgm_call *call, const char *task, size_t i, json_t *fl)
{
	json_t *out = json_array(), *f;
	size_t j;

	if (!json_is_array(fl) || json_array_size(fl) == 0) {
		json_decref(out);
		return bad(call, task, i, "filters must be a list of {column = ..., op = value}",
			   NULL, NULL);
	}
	json_array_foreach(fl, j, f)
	{
		const char *col = str(f, "column"), *k;
		json_t *conds = json_array(), *v;

		if (!json_is_object(f) || !col) {
			json_decref(conds);
			json_decref(out);
			return bad(call, task, i, "filters: each filter needs a column", NULL,
				   NULL);
		}
		json_object_foreach(f, k, v)
		{
			json_t *c;
			int known = 0;

			if (strcmp(k, "column") == 0)
				continue;
			for (int n = 0; filter_ops[n]; n++)
				known |= strcmp(k, filter_ops[n]) == 0;
			if (!known) {
				json_decref(conds);
				json_decref(out);
				return bad(call, task, i,
					   "filter on %s: unknown operator \"%s\" (eq, noteq, gte, "
					   "ste, between, notbetween, null, notnull)",
					   col, k);
			}
			c = json_pack("{s:s}", "filter-operator",
				      strcmp(k, "lte") == 0 ? "ste" : k);
			if (strcmp(k, "between") == 0 || strcmp(k, "notbetween") == 0) {
				if (!json_is_array(v) || json_array_size(v) != 2) {
					json_decref(c);
					json_decref(conds);
					json_decref(out);
					return bad(call, task, i,
						   "filter on %s: %s takes {start, end}", col, k);
				}
				json_object_set_new(c, "start-value",
						    text_of(json_array_get(v, 0)));
				json_object_set_new(c, "end-value", text_of(json_array_get(v, 1)));
			} else if (strcmp(k, "null") != 0 && strcmp(k, "notnull") != 0) {
				if (json_is_string(v)) {
					json_object_set(c, "value", v);
				} else if (json_is_number(v)) {
					char *t = json_dumps(v, JSON_ENCODE_ANY);

					json_object_set_new(c, "value", json_string(t));
					free(t);
				} else {
					json_decref(c);
					json_decref(conds);
					json_decref(out);
					return bad(call, task, i,
						   "filter on %s: %s needs a string or number", col,
						   k);
				}
			}
			json_array_append_new(conds, c);
		}
		if (!json_array_size(conds)) {
			json_decref(conds);
			json_decref(out);
			return bad(call, task, i, "filter on %s has no condition", col, NULL);
		}
		json_array_append_new(out,
				      json_pack("{s:s,s:s,s:o}", "filter-type", "source",
						"column-name", col, "filter-conditions", conds));
	}
	return out;
}

/* one_rule - the DMS rule for Lua rule r (number i, 1-based); new object or
 * NULL with the error set. *include is set for an include selection. */
static json_t *one_rule(pgm_call *call, const char *task, size_t i, json_t *r, int *include)
{
	const char *type = str(r, "type"), *schema, *table, *column, *target;
	const char *k;
	json_t *v, *loc, *out;
	int t = -1;
	char id[24];

	if (!json_is_object(r))
		return bad(call, task, i, "a rule must be a table {type = ..., ...}", NULL, NULL);
	if (!type)
		return bad(call, task, i,
			   "a rule needs a type (include, exclude, rename, add-prefix, ...)", NULL,
			   NULL);
	for (int n = 0; rule_types[n].type; n++)
		if (strcmp(type, rule_types[n].type) == 0)
			t = n;
	if (t < 0)
		return bad(call, task, i,
			   "unknown rule type \"%s\" (include, exclude, rename, add-prefix, "
			   "remove-prefix, add-suffix, remove-suffix, lowercase, uppercase, "
			   "remove-column, parallel-load)",
			   type, NULL);
	json_object_foreach(r, k, v)
	{
		static const char *const known[] = {
			"type",	   "schema", "table",	"column",     "target", "to", "value",
			"filters", "load",   "columns", "boundaries", "name",	NULL};
		int ok = 0;

		for (int n = 0; known[n]; n++)
			ok |= strcmp(k, known[n]) == 0;
		if (!ok)
			return bad(call, task, i, "%s rule: unknown key \"%s\"", type, k);
	}
	schema = str(r, "schema");
	table = str(r, "table");
	column = str(r, "column");
	if (!schema || !*schema)
		return bad(call, task, i, "%s rule needs a schema (\"%%\" for all)", type, NULL);
	snprintf(id, sizeof(id), "%zu", i);
	loc = json_pack("{s:s}", "schema-name", schema);
	out = json_pack("{s:s,s:s,s:s}", "rule-type", rule_types[t].rule_type, "rule-id", id,
			"rule-name", str(r, "name") ? str(r, "name") : id);
	json_object_set_new(out, "object-locator", loc);
	if (strcmp(rule_types[t].rule_type, "selection") == 0) {
		json_object_set_new(loc, "table-name", json_string(table ? table : "%"));
		json_object_set_new(out, "rule-action", json_string(rule_types[t].action));
		if (json_object_get(r, "filters")) {
			json_t *f = filters(call, task, i, json_object_get(r, "filters"));

			if (!f) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, "filters", f);
		}
		if (strcmp(type, "include") == 0)
			*include = 1;
		return out;
	}
	if (strcmp(rule_types[t].rule_type, "table-settings") == 0) {
		static const char *const loads[] = {"partitions-auto",
						    "partitions-list",
						    "subpartitions-auto",
						    "ranges",
						    "none",
						    NULL};
		const char *load = str(r, "load");
		json_t *pl;
		int ok = 0;

		if (!table || strchr(table, '%')) {
			json_decref(out);
			return bad(call, task, i, "parallel-load needs one table (no wildcard)",
				   NULL, NULL);
		}
		json_object_set_new(loc, "table-name", json_string(table));
		load = load ? load : "partitions-auto";
		for (int n = 0; loads[n]; n++)
			ok |= strcmp(load, loads[n]) == 0;
		if (!ok) {
			json_decref(out);
			return bad(call, task, i,
				   "parallel-load: load \"%s\" must be partitions-auto, "
				   "partitions-list, subpartitions-auto, ranges or none",
				   load, NULL);
		}
		pl = json_pack("{s:s}", "type", load);
		if (strcmp(load, "ranges") == 0) {
			json_t *cols = json_object_get(r, "columns");
			json_t *bnd = json_object_get(r, "boundaries");

			if (!json_is_array(cols) || !json_array_size(cols) || !json_is_array(bnd) ||
			    !json_array_size(bnd)) {
				json_decref(pl);
				json_decref(out);
				return bad(call, task, i,
					   "parallel-load ranges needs columns = {...} and "
					   "boundaries = {{...}, ...}",
					   NULL, NULL);
			}
			json_object_set(pl, "columns", cols);
			json_object_set(pl, "boundaries", bnd);
		}
		json_object_set_new(out, "parallel-load", pl);
		return out;
	}
	/* A transformation: its target is schema, table or column. */
	target = str(r, "target");
	if (!target)
		target = column ? "column" : table ? "table" : "schema";
	if (strcmp(type, "remove-column") == 0)
		target = "column";
	if (strcmp(target, "schema") != 0 && strcmp(target, "table") != 0 &&
	    strcmp(target, "column") != 0) {
		json_decref(out);
		return bad(call, task, i, "%s: target \"%s\" must be schema, table or column", type,
			   target);
	}
	if (strcmp(target, "schema") != 0)
		json_object_set_new(loc, "table-name", json_string(table ? table : "%"));
	if (strcmp(target, "column") == 0) {
		if (!column) {
			json_decref(out);
			return bad(call, task, i, "%s of a column needs column = \"...\"", type,
				   NULL);
		}
		json_object_set_new(loc, "column-name", json_string(column));
	}
	json_object_set_new(out, "rule-target", json_string(target));
	json_object_set_new(out, "rule-action", json_string(rule_types[t].action));
	if (strcmp(type, "rename") == 0) {
		const char *to = str(r, "to");

		if (!to || !*to) {
			json_decref(out);
			return bad(call, task, i, "rename needs to = \"new name\"", NULL, NULL);
		}
		json_object_set_new(out, "value", json_string(to));
	} else if (strstr(type, "prefix") || strstr(type, "suffix")) {
		const char *val = str(r, "value");

		if (!val || !*val) {
			json_decref(out);
			return bad(call, task, i, "%s needs value = \"...\"", type, NULL);
		}
		json_object_set_new(out, "value", json_string(val));
	}
	return out;
}

/* action_known - whether act is a rule-action DMS documents for rule type
 * rt (selection or transformation). */
static int action_known(const char *rt, const char *act)
{
	static const char *const selection[] = {"include", "exclude", "explicit", NULL};
	static const char *const transformation[] = {"rename",
						     "remove-column",
						     "add-column",
						     "include-column",
						     "convert-lowercase",
						     "convert-uppercase",
						     "add-prefix",
						     "remove-prefix",
						     "replace-prefix",
						     "add-suffix",
						     "remove-suffix",
						     "replace-suffix",
						     "define-primary-key",
						     "change-data-type",
						     "add-before-image-columns",
						     "data-masking-digits-mask",
						     "data-masking-digits-randomize",
						     "data-masking-hash-mask",
						     NULL};
	const char *const *list = strcmp(rt, "selection") == 0 ? selection : transformation;

	if (act == NULL)
		return 0;
	for (int n = 0; list[n]; n++)
		if (strcmp(act, list[n]) == 0)
			return 1;
	return 0;
}

/* check_dms_json - a mapping document given in DMS's own form: rules with
 * known rule types and actions, and at least one include selection. */
static json_t *check_dms_json(pgm_call *call, json_t *doc, const char *task)
{
	json_t *rules = json_object_get(doc, "rules"), *r;
	size_t i;
	int include = 0;

	if (!json_is_array(rules))
		return pgm_fail(call, "args.invalid", 0,
				"dms: task %s: table mappings: DMS's form needs \"rules\": [...]",
				task ? task : "?");
	json_array_foreach(rules, i, r)
	{
		const char *rt = str(r, "rule-type"), *act = str(r, "rule-action");

		if (!rt || (strcmp(rt, "selection") != 0 && strcmp(rt, "transformation") != 0 &&
			    strcmp(rt, "table-settings") != 0))
			return bad(call, task, i + 1,
				   "unknown rule-type \"%s\" (selection, transformation, "
				   "table-settings)",
				   rt ? rt : "(none)", NULL);
		if (strcmp(rt, "table-settings") != 0 && !action_known(rt, act))
			return bad(call, task, i + 1,
				   strcmp(rt, "selection") == 0
					   ? "unknown selection rule-action \"%s\" (include, exclude, "
					     "explicit)"
					   : "unknown transformation rule-action \"%s\" (rename, "
					     "remove-column, add-column, convert-lowercase, "
					     "add-prefix, ... as DMS documents them)",
				   act ? act : "(none)", NULL);
		if (strcmp(rt, "selection") == 0 &&
		    (strcmp(act, "include") == 0 || strcmp(act, "explicit") == 0))
			include = 1;
	}
	if (!include)
		return pgm_fail(call, "args.invalid", 0,
				"dms: task %s: table mappings select no table: add an include rule",
				task ? task : "?");
	return json_incref(doc);
}

json_t *dms_mappings_build(pgm_call *call, json_t *m, const char *task)
{
	json_t *rules, *r;
	size_t i;
	int include = 0;

	if (json_is_string(m)) {
		json_error_t err;
		json_t *doc = json_loads(json_string_value(m), 0, &err), *out;

		if (!doc)
			return pgm_fail(call, "args.invalid", 0,
					"dms: task %s: table mappings are not JSON: %s (line %d)",
					task ? task : "?", err.text, err.line);
		out = check_dms_json(call, doc, task);
		json_decref(doc);
		return out;
	}
	if (json_is_object(m))
		return check_dms_json(call, m, task);
	if (!json_is_array(m))
		return pgm_fail(call, "args.invalid", 0,
				"dms: task %s: table mappings must be a list of rules",
				task ? task : "?");
	if (json_array_size(m) == 0)
		return pgm_fail(call, "args.invalid", 0,
				"dms: task %s: table mappings are empty: add an include rule",
				task ? task : "?");
	rules = json_array();
	json_array_foreach(m, i, r)
	{
		json_t *d = one_rule(call, task, i + 1, r, &include);

		if (!d) {
			json_decref(rules);
			return NULL;
		}
		json_array_append_new(rules, d);
	}
	if (!include) {
		json_decref(rules);
		return pgm_fail(call, "args.invalid", 0,
				"dms: task %s: table mappings select no table: add an include rule",
				task ? task : "?");
	}
	return json_pack("{s:o}", "rules", rules);
}

json_t *dms_fn_table_mappings(pgm_call *call, json_t *args)
{
	const char *task = pgm_arg_string(call, args, "task", "?", 0);
	json_t *doc = dms_mappings_build(call, json_object_get(args, "mappings"), task);
	char *text;
	json_t *out;

	if (!doc)
		return NULL;
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	out = json_pack("{s:O,s:s,s:i}", "mappings", doc, "json", text ? text : "", "rules",
			(int)json_array_size(json_object_get(doc, "rules")));
	free(text);
	json_decref(doc);
	return out;
}

/* ---- task settings ----------------------------------------------------------- */

/* merge - deep-merges src into dst (objects merge, everything else replaces). */
static void merge(json_t *dst, json_t *src)
{
	const char *k;
	json_t *v;

	json_object_foreach(src, k, v)
	{
		json_t *d = json_object_get(dst, k);

		if (json_is_object(d) && json_is_object(v))
			merge(d, v);
		else
			json_object_set(dst, k, v);
	}
}

static const char DEFAULTS[] =
	"{\"TargetMetadata\": {\"TargetSchema\": \"\", \"SupportLobs\": true,"
	" \"FullLobMode\": false, \"LobChunkSize\": 64, \"LimitedSizeLobMode\": true,"
	" \"LobMaxSize\": 32, \"BatchApplyEnabled\": false},"
	" \"FullLoadSettings\": {\"TargetTablePrepMode\": \"DO_NOTHING\","
	" \"StopTaskCachedChangesApplied\": true, \"StopTaskCachedChangesNotApplied\": false,"
	" \"MaxFullLoadSubTasks\": 8, \"CommitRate\": 10000},"
	" \"Logging\": {\"EnableLogging\": true},"
	" \"ValidationSettings\": {\"EnableValidation\": true, \"ValidationMode\": \"ROW_LEVEL\","
	" \"ThreadCount\": 5, \"FailureMaxCount\": 10000},"
	" \"ChangeProcessingTuning\": {\"BatchApplyTimeoutMin\": 1, \"BatchApplyTimeoutMax\": 30,"
	" \"CommitTimeout\": 1, \"MemoryLimitTotal\": 1024}}";

json_t *dms_settings_build(pgm_call *call, json_t *s, const char *task)
{
	json_t *out = json_loads(DEFAULTS, 0, NULL), *v;
	const char *k;

	if (!s || json_is_null(s))
		return out;
	if (json_is_string(s)) {
		json_t *doc = json_loads(json_string_value(s), 0, NULL);

		if (!json_is_object(doc)) {
			json_decref(doc);
			json_decref(out);
			return pgm_fail(call, "args.invalid", 0,
					"dms: task %s: settings are not a JSON object", task);
		}
		merge(out, doc);
		json_decref(doc);
		return out;
	}
	if (!json_is_object(s)) {
		json_decref(out);
		return pgm_fail(call, "args.invalid", 0, "dms: task %s: settings must be a table",
				task);
	}
	json_object_foreach(s, k, v)
	{
		json_t *tm = json_object_get(out, "TargetMetadata");
		json_t *fl = json_object_get(out, "FullLoadSettings");

		if (*k >= 'A' && *k <= 'Z') {
			/* DMS's own name: merged as given. */
			json_t *one = json_pack("{s:O}", k, v);

			merge(out, one);
			json_decref(one);
		} else if (strcmp(k, "lob_mode") == 0) {
			const char *m = json_string_value(v);

			if (!m || (strcmp(m, "limited") && strcmp(m, "full") && strcmp(m, "none")))
				goto badval;
			json_object_set_new(tm, "SupportLobs", json_boolean(strcmp(m, "none")));
			json_object_set_new(tm, "FullLobMode", json_boolean(!strcmp(m, "full")));
			json_object_set_new(tm, "LimitedSizeLobMode",
					    json_boolean(!strcmp(m, "limited")));
		} else if (strcmp(k, "lob_max_size_kb") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1)
				goto badval;
			json_object_set(tm, "LobMaxSize", v);
		} else if (strcmp(k, "prep_mode") == 0) {
			const char *m = json_string_value(v);

			if (!m || (strcmp(m, "DO_NOTHING") && strcmp(m, "DROP_AND_CREATE") &&
				   strcmp(m, "TRUNCATE_BEFORE_LOAD")))
				goto badval;
			json_object_set(fl, "TargetTablePrepMode", v);
		} else if (strcmp(k, "stop_after_cached_changes") == 0) {
			if (!json_is_boolean(v))
				goto badval;
			json_object_set(fl, "StopTaskCachedChangesApplied", v);
		} else if (strcmp(k, "parallel_tables") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 49)
				goto badval;
			json_object_set(fl, "MaxFullLoadSubTasks", v);
		} else if (strcmp(k, "validation") == 0) {
			if (!json_is_boolean(v))
				goto badval;
			json_object_set(json_object_get(out, "ValidationSettings"),
					"EnableValidation", v);
		} else if (strcmp(k, "logging") == 0) {
			if (!json_is_boolean(v))
				goto badval;
			json_object_set(json_object_get(out, "Logging"), "EnableLogging", v);
		} else {
			json_decref(out);
			return pgm_fail(call, "args.invalid", 0,
					"dms: task %s: unknown setting \"%s\" (lob_mode, "
					"lob_max_size_kb, prep_mode, stop_after_cached_changes, "
					"parallel_tables, validation, logging, or DMS's own names)",
					task, k);
		}
		continue;
	badval : {
		char *t = json_dumps(v, JSON_ENCODE_ANY);

		pgm_fail(call, "args.invalid", 0, "dms: task %s: setting %s = %s is not valid",
			 task, k, t ? t : "?");
		free(t);
		json_decref(out);
		return NULL;
	}
	}
	return out;
}

json_t *dms_fn_task_settings(pgm_call *call, json_t *args)
{
	const char *task = pgm_arg_string(call, args, "task", "?", 0);

	return dms_settings_build(call, json_object_get(args, "settings"), task);
}
