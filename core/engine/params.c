/*
 * core/engine/params.c - runbook parameters: checking their declarations,
 * resolving their values (cli > journaled > env > default), converting
 * them to their types, registering secrets, and the public copy that may
 * be journaled. No message written here ever contains the value of a
 * secret param or a connection string.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "host.h"
#include "params.h"

static const char *const known_types[] = {
	"string", "number", "integer", "boolean", "conninfo", "duration", NULL
};
static const char *const known_fields[] = {
	"type", "env", "secret", "required", "default", "summary", NULL
};

/* in_list - whether s is one of the NULL-terminated list. */
static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* valid_name - letters, digits, '_' and '-', starting with a letter or '_'. */
static int valid_name(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* valid_env - an environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int valid_env(const char *s)
{
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

/* spec_type - the spec's declared type ("string" when it declares none). */
static const char *spec_type(const json_t *spec)
{
	const json_t *t = json_object_get(spec, "type");

	return json_is_string(t) ? json_string_value(t) : "string";
}

static int spec_flag(const json_t *spec, const char *field)
{
	return json_is_true(json_object_get(spec, field));
}

/* shows_value - whether messages may quote a value of this param: never
 * for secret params nor connection strings (which may hold a password). */
static int shows_value(const json_t *spec)
{
	return !spec_flag(spec, "secret") && strcmp(spec_type(spec), "conninfo") != 0;
}

/* describe_value - "'abc' (from -p)", "default 'abc'", "the value from
 * $X" ... into buf, for "param 'x': <described> is not an integer". */
static void describe_value(char *buf, size_t len, const json_t *spec,
			   const json_t *raw, const char *from)
{
	char shown[96];

	if (!shows_value(spec)) {
		if (from)
			snprintf(buf, len, "the value from %s", from);
		else
			snprintf(buf, len, "the default");
		return;
	}
	if (json_is_string(raw)) {
		const char *s = json_string_value(raw);

		if (strlen(s) > 64)
			snprintf(shown, sizeof(shown), "'%.60s...'", s);
		else
			snprintf(shown, sizeof(shown), "'%s'", s);
	} else {
		char *d = json_dumps(raw, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(shown, sizeof(shown), "%.80s", d ? d : "?");
		free(d);
	}
	if (from)
		snprintf(buf, len, "%s (from %s)", shown, from);
	else
		snprintf(buf, len, "default %s", shown);
}

/* mask_quoted - libpq's conninfo messages quote pieces of the string
 * ("missing "=" after "xyz""); a copy of msg with every quoted piece
 * longer than one character replaced by "...", so no part of a password
 * survives. The copy may be longer than msg ("ab" becomes "..."): it is
 * sized for the worst case. Caller frees; NULL without memory. */
static char *mask_quoted(const char *msg)
{
	size_t len = strlen(msg);
	char *out = malloc(len * 2 + 8), *w = out;
	const char *r = msg;

	if (!out)
		return NULL;
	while (*r) {
		const char *close;

		if (*r == '"' && (close = strchr(r + 1, '"'))) {
			if (close - r > 2) {
				memcpy(w, "\"...\"", 5);
				w += 5;
			} else {
				memcpy(w, r, (size_t)(close - r + 1));
				w += close - r + 1;
			}
			r = close + 1;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	/* trailing newline from libpq */
	while (w > out && (w[-1] == '\n' || w[-1] == ' '))
		*--w = '\0';
	return out;
}

/* parse_bool - true/false/yes/no/on/off/1/0, any case. 0/1, or -1. */
static int parse_bool(const char *s)
{
	static const char *const t[] = { "true", "yes", "on", "1", NULL };
	static const char *const f[] = { "false", "no", "off", "0", NULL };

	for (int i = 0; t[i]; i++)
		if (strcasecmp(s, t[i]) == 0)
			return 1;
	for (int i = 0; f[i]; i++)
		if (strcasecmp(s, f[i]) == 0)
			return 0;
	return -1;
}

/* convert - raw (a string from -p or the environment, or a JSON value
 * from the journal or a default) as the param's type. from names where it
 * came from ("-p", "$PGMOVE_X", "the journal"; NULL for the default).
 * register_secrets: register secret values and conninfo passwords.
 * New reference, or NULL with the message in err. */
static json_t *convert(const char *name, const json_t *spec, const json_t *raw,
		       const char *from, int register_secrets, char *err, size_t errlen)
{
	const char *type = spec_type(spec);
	char what[200];
	const char *s = json_string_value(raw); /* NULL when not a string */

	describe_value(what, sizeof(what), spec, raw, from);
	if (register_secrets && s && spec_flag(spec, "secret"))
		pgm_secret_add(s);

	if (strcmp(type, "string") == 0) {
		if (s)
			return json_string(s);
		snprintf(err, errlen, "param '%s': %s is not a string", name, what);
		return NULL;
	}
	if (strcmp(type, "integer") == 0) {
		if (json_is_integer(raw))
			return json_integer(json_integer_value(raw));
		if (s) {
			char *end;
			long long v;

			errno = 0;
			v = strtoll(s, &end, 10);
			if (*s && !isspace((unsigned char)*s) && *end == '\0' && errno == 0)
				return json_integer((json_int_t)v);
			if (errno == ERANGE) {
				snprintf(err, errlen, "param '%s': %s is out of range for an integer",
					 name, what);
				return NULL;
			}
		}
		snprintf(err, errlen, "param '%s': %s is not an integer", name, what);
		return NULL;
	}
	if (strcmp(type, "number") == 0) {
		if (json_is_number(raw))
			return json_real(json_number_value(raw));
		if (s) {
			char *end;
			double v;

			errno = 0;
			v = strtod(s, &end);
			if (*s && !isspace((unsigned char)*s) && *end == '\0' && errno == 0 &&
			    isfinite(v))
				return json_real(v);
		}
		snprintf(err, errlen, "param '%s': %s is not a number", name, what);
		return NULL;
	}
	if (strcmp(type, "boolean") == 0) {
		int b = -1;

		if (json_is_boolean(raw))
			b = json_is_true(raw);
		else if (s)
			b = parse_bool(s);
		if (b >= 0)
			return json_boolean(b);
		snprintf(err, errlen,
			 "param '%s': %s is not a boolean (true/false, yes/no, on/off, 1/0)",
			 name, what);
		return NULL;
	}
	if (strcmp(type, "duration") == 0) {
		char detail[200], buf[32];
		long long ms;

		if (json_is_integer(raw)) {
			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(raw));
			s = buf;
		}
		if (!s) {
			snprintf(err, errlen, "param '%s': %s is not a duration", name, what);
			return NULL;
		}
		if (pgm_duration_parse(s, &ms, detail, sizeof(detail)) != 0) {
			if (shows_value(spec))
				snprintf(err, errlen, "param '%s': %s is not a duration: %s",
					 name, what, detail);
			else
				snprintf(err, errlen,
					 "param '%s': %s is not a duration (\"30s\", \"5m\", \"1h30m\")",
					 name, what);
			return NULL;
		}
		return json_string(s);
	}
	if (strcmp(type, "conninfo") == 0) {
		char *msg = NULL;
		PQconninfoOption *opts;

		if (!s) {
			snprintf(err, errlen, "param '%s': %s is not a connection string", name, what);
			return NULL;
		}
		opts = PQconninfoParse(s, &msg);
		if (!opts) {
			if (msg) {
				char *masked = mask_quoted(msg);
				char *red = masked ? pgm_redact(masked) : NULL;

				free(masked);
				snprintf(err, errlen, "param '%s': %s is not a valid connection string: %s",
					 name, what, red ? red : "out of memory");
				free(red);
				PQfreemem(msg);
			} else {
				snprintf(err, errlen, "param '%s': %s cannot be parsed: out of memory",
					 name, what);
			}
			return NULL;
		}
		PQconninfoFree(opts);
		if (register_secrets)
			pgm_secret_add_conninfo(s);
		return json_string(s);
	}
	snprintf(err, errlen, "param '%s': unknown type '%s'", name, type);
	return NULL;
}

/* params_check_specs - see params.h. */
int params_check_specs(const json_t *specs, char *err, size_t errlen)
{
	const char *name, *field;
	json_t *spec, *val;

	if (!specs)
		return 0;
	if (!json_is_object(specs)) {
		snprintf(err, errlen, "params: expected a table of name = { type = ..., ... }");
		return -1;
	}
	json_object_foreach((json_t *)specs, name, spec) {
		const json_t *t, *dflt;
		json_t *conv;

		if (!valid_name(name, strlen(name))) {
			snprintf(err, errlen,
				 "param '%s': a name is letters, digits, '_' and '-', starting with a letter",
				 name);
			return -1;
		}
		if (!json_is_object(spec)) {
			snprintf(err, errlen, "param '%s': expected a table { type = ..., ... }", name);
			return -1;
		}
		json_object_foreach(spec, field, val) {
			if (!in_list(field, known_fields)) {
				snprintf(err, errlen,
					 "param '%s': unknown field '%s' (known: type, env, secret, required, default, summary)",
					 name, field);
				return -1;
			}
		}
		t = json_object_get(spec, "type");
		if (t && (!json_is_string(t) || !in_list(json_string_value(t), known_types))) {
			snprintf(err, errlen,
				 "param '%s': unknown type %s%s%s (types: string, number, integer, boolean, conninfo, duration)",
				 name, json_is_string(t) ? "'" : "",
				 json_is_string(t) ? json_string_value(t) : "(not a string)",
				 json_is_string(t) ? "'" : "");
			return -1;
		}
		val = json_object_get(spec, "env");
		if (val && (!json_is_string(val) || !valid_env(json_string_value(val)))) {
			snprintf(err, errlen,
				 "param '%s': env must be an environment variable name", name);
			return -1;
		}
		static const char *const flags[] = { "secret", "required", NULL };
		for (int i = 0; flags[i]; i++) {
			val = json_object_get(spec, flags[i]);
			if (val && !json_is_boolean(val)) {
				snprintf(err, errlen, "param '%s': %s must be true or false", name,
					 flags[i]);
				return -1;
			}
		}
		val = json_object_get(spec, "summary");
		if (val && !json_is_string(val)) {
			snprintf(err, errlen, "param '%s': summary must be a string", name);
			return -1;
		}
		dflt = json_object_get(spec, "default");
		if (!dflt)
			continue;
		if (spec_flag(spec, "secret")) {
			snprintf(err, errlen,
				 "param '%s': a secret param cannot have a default (a secret does not belong in a runbook)",
				 name);
			return -1;
		}
		conv = convert(name, spec, dflt, NULL, 0, err, errlen);
		if (!conv)
			return -1;
		json_decref(conv);
	}
	return 0;
}

/* params_resolve - see params.h. */
json_t *params_resolve(const json_t *specs, const json_t *cli,
		       const json_t *journaled, char *err, size_t errlen)
{
	const char *name;
	json_t *spec, *val, *out;

	if (params_check_specs(specs, err, errlen) != 0)
		return NULL;
	json_object_foreach((json_t *)cli, name, val) {
		if (!json_object_get(specs, name)) {
			snprintf(err, errlen, "-p %s=...: the runbook declares no param '%s'",
				 name, name);
			return NULL;
		}
		if (!json_is_string(val)) {
			snprintf(err, errlen, "-p %s=...: the value must be a string", name);
			return NULL;
		}
	}
	out = json_object();
	if (!out) {
		snprintf(err, errlen, "params: out of memory");
		return NULL;
	}
	json_object_foreach((json_t *)specs, name, spec) {
		const char *env = json_string_value(json_object_get(spec, "env"));
		const char *envval = env ? getenv(env) : NULL;
		char from[160];
		json_t *raw = NULL, *conv;
		int own = 0;

		if ((raw = json_object_get(cli, name))) {
			snprintf(from, sizeof(from), "-p %s", name);
		} else if ((raw = json_object_get(journaled, name)) && !json_is_null(raw)) {
			snprintf(from, sizeof(from), "the journal");
		} else if (envval && *envval) {
			if (!pgm_utf8_valid(envval, strlen(envval))) {
				snprintf(err, errlen, "param '%s': $%s is not valid UTF-8", name,
					 env);
				json_decref(out);
				return NULL;
			}
			raw = json_string(envval);
			own = 1;
			snprintf(from, sizeof(from), "$%s", env);
		} else if ((raw = json_object_get(spec, "default"))) {
			from[0] = '\0';
		} else {
			if (!spec_flag(spec, "required"))
				continue;
			if (env)
				snprintf(err, errlen,
					 "param '%s' is required: set %s or pass -p %s=...", name,
					 env, name);
			else
				snprintf(err, errlen, "param '%s' is required: pass -p %s=...",
					 name, name);
			json_decref(out);
			return NULL;
		}
		conv = convert(name, spec, raw, from[0] ? from : NULL, 1, err, errlen);
		if (own)
			json_decref(raw);
		if (!conv) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, name, conv);
	}
	return out;
}

/* append_quoted - appends " keyword='value'" (libpq quoting) to f. */
static void append_quoted(FILE *f, const char *kw, const char *val, int *first)
{
	fprintf(f, "%s%s='", *first ? "" : " ", kw);
	for (; *val; val++) {
		if (*val == '\'' || *val == '\\')
			fputc('\\', f);
		fputc(*val, f);
	}
	fputc('\'', f);
	*first = 0;
}

/* strip_password - the connection string without its password: rebuilt
 * as keyword='value' pairs when it holds one, else a copy as given.
 * Caller frees. */
static char *strip_password(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL), *o;
	int has_password = 0, first = 1;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!opts)
		return pgm_conninfo_describe(conninfo);
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			has_password = 1;
	if (!has_password) {
		PQconninfoFree(opts);
		return strdup(conninfo);
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		PQconninfoFree(opts);
		return NULL;
	}
	for (o = opts; o->keyword; o++)
		if (o->val && strcmp(o->keyword, "password") != 0)
			append_quoted(f, o->keyword, o->val, &first);
	fclose(f);
	PQconninfoFree(opts);
	return buf;
}

/* params_public - see params.h. Params that specs does not declare are
 * dropped too. */
json_t *params_public(const json_t *specs, const json_t *values)
{
	json_t *out = json_object(), *val, *spec;
	const char *name;

	if (!out)
		return NULL;
	json_object_foreach((json_t *)values, name, val) {
		spec = json_object_get(specs, name);
		if (!spec || spec_flag(spec, "secret"))
			continue;
		if (strcmp(spec_type(spec), "conninfo") == 0 && json_is_string(val)) {
			char *clean = strip_password(json_string_value(val));

			if (clean)
				json_object_set_new(out, name, json_string(clean));
			free(clean);
			continue;
		}
		json_object_set(out, name, val);
	}
	return out;
}

/* params_parse_assignment - see params.h. The argument is never quoted
 * in a message: it may be a secret typed without its name. */
int params_parse_assignment(const char *arg, char **name, char **value,
			    char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');

	*name = NULL;
	*value = NULL;
	if (!eq) {
		snprintf(err, errlen, "-p expects name=value, and the argument has no '='");
		return -1;
	}
	if (!valid_name(arg, (size_t)(eq - arg))) {
		if (eq == arg)
			snprintf(err, errlen, "-p expects name=value, and the name is empty");
		else
			snprintf(err, errlen,
				 "-p %.*s=...: a param name is letters, digits, '_' and '-'",
				 (int)(eq - arg > 64 ? 64 : eq - arg), arg);
		return -1;
	}
	*name = strndup(arg, (size_t)(eq - arg));
	*value = strdup(eq + 1);
	if (!*name || !*value) {
		free(*name);
		free(*value);
		*name = *value = NULL;
		snprintf(err, errlen, "-p: out of memory");
		return -1;
	}
	return 0;
}
