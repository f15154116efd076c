/*
 * core/host/args.c - typed access to a plugin function's JSON arguments. A
 * missing required argument or one of the wrong type fails the call with
 * "args.invalid" and a message naming the argument.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "hostpriv.h"

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* lookup - the argument's value, or NULL when absent or JSON null. Fails
 * the call when it is required and absent. */
static json_t *lookup(pgm_call *call, json_t *args, const char *name, int required,
		      int *failed)
{
	json_t *v = json_is_object(args) ? json_object_get(args, name) : NULL;

	*failed = 0;
	if (v == NULL || json_is_null(v)) {
		if (required) {
			pgm_fail(call, "args.invalid", 0, "argument \"%s\" is required", name);
			*failed = 1;
		}
		return NULL;
	}
	return v;
}

static void wrong_type(pgm_call *call, const char *name, const char *want, const json_t *v)
{
	pgm_fail(call, "args.invalid", 0, "argument \"%s\" must be %s, not %s", name,
		 want, type_name(v));
}

/* pgm_arg_string - borrowed from args (lives as long as args). */
const char *pgm_arg_string(pgm_call *call, json_t *args, const char *name,
			   const char *dflt, int required)
{
	int failed;
	json_t *v = lookup(call, args, name, required, &failed);

	if (failed)
		return NULL;
	if (v == NULL)
		return dflt;
	if (!json_is_string(v)) {
		wrong_type(call, name, "a string", v);
		return NULL;
	}
	return json_string_value(v);
}

/* pgm_arg_int - an integer, or a number with no fraction (Lua may send 4.0). */
int pgm_arg_int(pgm_call *call, json_t *args, const char *name,
		long long dflt, int required, long long *out)
{
	int failed;
	json_t *v = lookup(call, args, name, required, &failed);

	if (failed)
		return -1;
	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(long long)d) {
			*out = (long long)d;
			return 0;
		}
		pgm_fail(call, "args.invalid", 0, "argument \"%s\" must be an integer, not %g",
			 name, d);
		return -1;
	}
	wrong_type(call, name, "an integer", v);
	return -1;
}

int pgm_arg_bool(pgm_call *call, json_t *args, const char *name, int dflt, int *out)
{
	int failed;
	json_t *v = lookup(call, args, name, 0, &failed);

	if (v == NULL) {
		*out = dflt ? 1 : 0;
		return 0;
	}
	if (!json_is_boolean(v)) {
		wrong_type(call, name, "a boolean", v);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int pgm_arg_number(pgm_call *call, json_t *args, const char *name,
		   double dflt, int required, double *out)
{
	int failed;
	json_t *v = lookup(call, args, name, required, &failed);

	if (failed)
		return -1;
	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!json_is_number(v)) {
		wrong_type(call, name, "a number", v);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

/* pgm_arg_duration_ms - a duration string, or a number of seconds. */
int pgm_arg_duration_ms(pgm_call *call, json_t *args, const char *name,
			long long dflt_ms, int required, long long *out)
{
	int failed;
	json_t *v = lookup(call, args, name, required, &failed);
	char err[256];

	if (failed)
		return -1;
	if (v == NULL) {
		*out = dflt_ms;
		return 0;
	}
	if (json_is_number(v)) {
		double s = json_number_value(v);

		if (!(s >= 0 && s <= (double)(PGM_DURATION_MAX_MS / 1000))) {
			pgm_fail(call, "args.invalid", 0,
				 "argument \"%s\": %g is not a valid number of seconds", name, s);
			return -1;
		}
		*out = (long long)(s * 1000 + 0.5);
		return 0;
	}
	if (!json_is_string(v)) {
		wrong_type(call, name, "a duration (\"30s\", \"5m\", \"1h30m\")", v);
		return -1;
	}
	if (pgm_duration_parse(json_string_value(v), out, err, sizeof(err)) < 0) {
		pgm_fail(call, "args.invalid", 0, "argument \"%s\": %s", name, err);
		return -1;
	}
	return 0;
}
