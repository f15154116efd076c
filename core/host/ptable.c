/*
 * core/host/ptable.c - the checks of a plugin's parameter tables, shared by
 * pgmove's loader (core/engine/loader.c) and the test host of
 * <pgmove/plugin-test.h> (core/host/testhost.c), so a plugin's unit tests
 * see exactly what pgmove would refuse: the descriptor's tables at load
 * (names, function pointers, types, defaults, limits, allowed values, the
 * configuration table), and values against a table before a call or a
 * configure (unknown names, types, limits, allowed values, required ones,
 * defaults put in, secret and conninfo values registered for redaction).
 * PGMOVE_PRIVATE symbols (host.h): no plugin calls these.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

int pgm_ptable_name_ok(const char *name)
{
	if (!name || !*name || strlen(name) > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

int pgm_ptable_type_ok(const char *type, const json_t *v)
{
	if (!type || strcmp(type, "any") == 0)
		return 1;
	if (strcmp(type, "string") == 0 || strcmp(type, "conninfo") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v) ||
		       (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v));
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "duration") == 0) {
		long long ms;
		char e[8];
		if (json_is_number(v))
			return 1;
		return json_is_string(v) &&
		       pgm_duration_parse(json_string_value(v), &ms, e, sizeof(e)) == 0;
	}
	return 1;
}

/* is_measured - whether parameter q's values have a size (min / max). */
static int is_measured(const pgm_param *q)
{
	return strcmp(q->type, "integer") == 0 || strcmp(q->type, "number") == 0 ||
	       strcmp(q->type, "duration") == 0;
}

/* bound_value - a min / max text of parameter q as a number (a duration's
 * in ms). 0, or -1 when it is not one. */
static int bound_value(const pgm_param *q, const char *text, double *out)
{
	if (strcmp(q->type, "duration") == 0) {
		long long ms;
		char e[128];
		if (pgm_duration_parse(text, &ms, e, sizeof(e)) != 0)
			return -1;
		*out = (double)ms;
		return 0;
	}
	char *end = NULL;
	errno = 0;
	*out = strtod(text, &end);
	return (errno || end == text || *end) ? -1 : 0;
}

/* measure - the size of value v of parameter q for min / max (a duration's
 * in ms). 0, or -1 when it has none. */
static int measure(const pgm_param *q, const json_t *v, double *out)
{
	if (strcmp(q->type, "duration") == 0) {
		if (json_is_number(v)) {
			*out = json_number_value(v) * 1000.0;
			return 0;
		}
		return json_is_string(v) ? bound_value(q, json_string_value(v), out) : -1;
	}
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 0;
}

/* value_allowed - whether v is one of q's allowed values (or q has no list). */
static int value_allowed(const pgm_param *q, const json_t *v)
{
	if (!q->allowed || !json_is_string(v))
		return 1;
	for (const char *const *a = q->allowed; *a; a++)
		if (strcmp(*a, json_string_value(v)) == 0)
			return 1;
	return 0;
}

/* allowed_list - "GET, HEAD" into buf. */
static const char *allowed_list(const pgm_param *q, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (const char *const *a = q->allowed; a && *a && used < len; a++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", *a);
	return buf;
}

/* value_problem - why value v breaks q's limits or allowed values, into
 * buf ("must be at least 1"), or NULL when it keeps them. */
static const char *value_problem(const pgm_param *q, const json_t *v, char *buf, size_t len)
{
	double x, lim;
	char list[512];
	if (!value_allowed(q, v)) {
		snprintf(buf, len, "must be one of %s", allowed_list(q, list, sizeof(list)));
		return buf;
	}
	if (!is_measured(q) || measure(q, v, &x) != 0)
		return NULL;
	if (q->min && bound_value(q, q->min, &lim) == 0 && x < lim) {
		snprintf(buf, len, "must be at least %s", q->min);
		return buf;
	}
	if (q->max && bound_value(q, q->max, &lim) == 0 && x > lim) {
		snprintf(buf, len, "must be at most %s", q->max);
		return buf;
	}
	return NULL;
}

/* check_param_extras - the load-time checks of a parameter's default,
 * limits and allowed values; owner names the table ("greet",
 * "configuration"). 0, or -1 with err set. */
static int check_param_extras(const char *name, const char *path, const char *owner,
			      const pgm_param *q, char *err, size_t errlen)
{
	double lo = 0, hi = 0;
	const char *bad = NULL;
	if ((q->min || q->max) && !is_measured(q))
		bad = "has min/max but is not an integer, number or duration";
	else if (q->min && bound_value(q, q->min, &lo) != 0)
		bad = "has a min that is not a number (a duration for a duration)";
	else if (q->max && bound_value(q, q->max, &hi) != 0)
		bad = "has a max that is not a number (a duration for a duration)";
	else if (q->min && q->max && lo > hi)
		bad = "has min above max";
	else if (q->allowed && strcmp(q->type, "string") != 0)
		bad = "has allowed values but is not a string";
	else if (q->allowed && !q->allowed[0])
		bad = "has an empty list of allowed values";
	else if (q->dflt && q->required)
		bad = "is required and has a default";
	if (bad) {
		snprintf(err, errlen, "plugin %s: %s: %s: parameter %s %s", name, path, owner,
			 q->name, bad);
		return -1;
	}
	if (!q->dflt)
		return 0;
	json_error_t je;
	json_t *d = json_loads(q->dflt, JSON_DECODE_ANY, &je);
	char why[256];
	if (!d)
		snprintf(err, errlen, "plugin %s: %s: %s: parameter %s: default '%s' is not JSON (%s)",
			 name, path, owner, q->name, q->dflt, je.text);
	else if (!pgm_ptable_type_ok(q->type, d))
		snprintf(err, errlen, "plugin %s: %s: %s: parameter %s: default %s is not a %s", name,
			 path, owner, q->name, q->dflt, q->type);
	else if (value_problem(q, d, why, sizeof(why)))
		snprintf(err, errlen, "plugin %s: %s: %s: parameter %s: default %s %s", name, path,
			 owner, q->name, q->dflt, why);
	else {
		json_decref(d);
		return 0;
	}
	json_decref(d);
	return -1;
}

static const char *const known_types[] = { "string", "integer", "number", "boolean", "object",
					    "array", "conninfo", "duration", "any", NULL };

/* check_params - the load-time checks of one parameter table (of a
 * function, or the configuration): a known type, a unique non-empty name,
 * a sound default, limits and allowed values. 0, or -1 with err set. */
static int check_params(const char *name, const char *path, const char *owner,
			const pgm_param *params, char *err, size_t errlen)
{
	int npar = 0;
	for (const pgm_param *q = params; q && q->name; q++, npar++) {
		int ok = 0;
		for (int t = 0; q->type && known_types[t]; t++)
			if (strcmp(q->type, known_types[t]) == 0)
				ok = 1;
		if (!ok) {
			snprintf(err, errlen,
				 "plugin %s: %s: %s: parameter %s has type '%s'; a type is "
				 "one of string, integer, number, boolean, object, array, "
				 "conninfo, duration, any",
				 name, path, owner, q->name, q->type ? q->type : "(null)");
			return -1;
		}
		if (!*q->name) {
			snprintf(err, errlen, "plugin %s: %s: %s: parameter #%d has an empty name",
				 name, path, owner, npar + 1);
			return -1;
		}
		for (const pgm_param *r = params; r < q; r++)
			if (strcmp(r->name, q->name) == 0) {
				snprintf(err, errlen, "plugin %s: %s: %s: parameter %s is declared twice",
					 name, path, owner, q->name);
				return -1;
			}
		if (check_param_extras(name, path, owner, q, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int pgm_ptable_check_plugin(const char *name, const char *path, const pgm_plugin *p, char *err,
			    size_t errlen)
{
	const unsigned known_flags = PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY | PGM_FN_IRREVERSIBLE;
	int nfn = 0;
	for (const pgm_function *f = p->functions; f->name; f++, nfn++) {
		if (!pgm_ptable_name_ok(f->name)) {
			snprintf(err, errlen,
				 "plugin %s: %s: function #%d is named '%s' (lower-case letters, "
				 "digits and '_')",
				 name, path, nfn + 1, f->name);
			return -1;
		}
		if (!f->fn) {
			snprintf(err, errlen, "plugin %s: %s: function %s has no function pointer (NULL)",
				 name, path, f->name);
			return -1;
		}
		for (const pgm_function *g = p->functions; g < f; g++)
			if (strcmp(g->name, f->name) == 0) {
				snprintf(err, errlen, "plugin %s: %s: function %s is declared twice",
					 name, path, f->name);
				return -1;
			}
		if (f->flags & ~known_flags) {
			snprintf(err, errlen, "plugin %s: %s: function %s has unknown flags 0x%x", name,
				 path, f->name, f->flags & ~known_flags);
			return -1;
		}
		if (check_params(name, path, f->name, f->params, err, errlen) != 0)
			return -1;
	}
	if (p->config && !p->configure) {
		snprintf(err, errlen,
			 "plugin %s: %s: has a configuration table (config) but no configure function",
			 name, path);
		return -1;
	}
	return check_params(name, path, "configuration", p->config, err, errlen);
}

/* known_names - "a, b, c" (or "none") of a table's names into buf. */
static void known_names(const pgm_param *table, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (const pgm_param *p = table; p && p->name && used < len; p++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", p->name);
	if (!used)
		snprintf(buf, len, "none");
}

int pgm_ptable_check(const char *what, const char *noun, const pgm_param *table, json_t *values,
		     unsigned flags, char *err, size_t errlen)
{
	if (!json_is_object(values)) {
		snprintf(err, errlen, "%s: %ss must be a table of name = value", what, noun);
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(values, key, v)
	{
		const pgm_param *par = NULL;
		for (const pgm_param *q = table; q && q->name; q++)
			if (strcmp(q->name, key) == 0)
				par = q;
		if (!par) {
			char known[1024];
			known_names(table, known, sizeof(known));
			snprintf(err, errlen, "%s: unknown %s '%s' (%ss: %s)", what, noun, key, noun,
				 known);
			return -1;
		}
		if (json_is_null(v))
			continue;
		if (!pgm_ptable_type_ok(par->type, v)) {
			snprintf(err, errlen, "%s: %s '%s' must be %s %s", what, noun, key,
				 (par->type && strchr("aeiou", par->type[0])) ? "an" : "a",
				 par->type);
			return -1;
		}
		char why[600];
		if (value_problem(par, v, why, sizeof(why))) {
			char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			snprintf(err, errlen, "%s: %s '%s' %s (not %s)", what, noun, key, why,
				 par->secret ? "shown: secret" : shown ? shown : "?");
			free(shown);
			return -1;
		}
		if (json_is_string(v)) {
			if (par->secret)
				pgm_secret_add(json_string_value(v));
			if (par->type && strcmp(par->type, "conninfo") == 0)
				pgm_secret_add_conninfo(json_string_value(v));
		}
	}
	for (const pgm_param *q = table; q && q->name; q++) {
		json_t *a = json_object_get(values, q->name);
		if (q->dflt && (!a || json_is_null(a))) {
			/* checked at load: parses, has the type, keeps the limits */
			if (flags & PGM_PTABLE_DEFAULTS)
				json_object_set_new(values, q->name,
						    json_loads(q->dflt, JSON_DECODE_ANY, NULL));
			continue;
		}
		if ((flags & PGM_PTABLE_REQUIRED) && q->required && (!a || json_is_null(a))) {
			snprintf(err, errlen, "%s: %s '%s' is required (%s)", what, noun, q->name,
				 q->summary ? q->summary : q->type);
			return -1;
		}
	}
	return 0;
}

json_t *pgm_ptable_describe(const pgm_param *table)
{
	json_t *params = json_array();
	for (const pgm_param *q = table; q && q->name; q++) {
		json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s}", "name", q->name, "type",
				      q->type ? q->type : "any", "required", q->required, "secret",
				      q->secret, "summary", q->summary ? q->summary : "");
		if (q->dflt)
			json_object_set_new(o, "default", json_loads(q->dflt, JSON_DECODE_ANY, NULL));
		if (q->min)
			json_object_set_new(o, "min", json_string(q->min));
		if (q->max)
			json_object_set_new(o, "max", json_string(q->max));
		if (q->allowed) {
			json_t *al = json_array();
			for (const char *const *a = q->allowed; *a; a++)
				json_array_append_new(al, json_string(*a));
			json_object_set_new(o, "allowed", al);
		}
		json_array_append_new(params, o);
	}
	return params;
}
