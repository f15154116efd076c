/*
 * core/engine/params.h - runbook parameters: their declarations, the values given
 * on the command line (-p name=value) or in the environment, defaults,
 * types, and what of them may be written down.
 *
 * A spec set is a JSON object name -> spec, as the runbook declares it:
 *   { "source":   { "type": "conninfo", "env": "PGMOVE_SOURCE", "secret": true,
 *                   "required": true, "summary": "..." },
 *     "jobs":     { "type": "integer", "default": 4 },
 *     "window":   { "type": "duration", "default": "30m" } }
 * Types: string, number, integer, boolean, conninfo, duration.
 */
#ifndef PGMOVE_CORE_PARAMS_H
#define PGMOVE_CORE_PARAMS_H

#include <stddef.h>
#include <jansson.h>

/* params_check_specs - validates a spec set at load time: known types and
 * fields, a default of the declared type, a secret param with a default is
 * refused. 0, or -1 with the message ("param 'jobs': default 'x' is not an
 * integer") in err. */
int params_check_specs(const json_t *specs, char *err, size_t errlen);

/* params_resolve - the typed values of every param, taken in this order:
 * cli (object name -> string, from -p), then journaled (object of values
 * recorded by an earlier run of the same run, may be NULL), then the
 * param's env variable, then its default. Values are converted to their
 * type: "integer" -> JSON integer, "number" -> real, "boolean" from
 * true/false/yes/no/on/off/1/0, "duration" checked and kept as given
 * ("30m"), "conninfo" checked with PQconninfoParse and kept as given.
 * Secret values and passwords inside conninfo values are registered with
 * pgm_secret_add. Errors, in err: a -p name that no param declares, a
 * required param with no value ("param 'source' is required: set
 * PGMOVE_SOURCE or pass -p source=..."), a value of the wrong type. A
 * message never contains a secret value. New reference or NULL. */
json_t *params_resolve(const json_t *specs, const json_t *cli,
		       const json_t *journaled, char *err, size_t errlen);

/* params_public - a copy of values without the secret params (which must
 * be given again on resume), with passwords stripped from conninfo
 * values: what may be journaled and shown. New reference. */
json_t *params_public(const json_t *specs, const json_t *values);

/* params_parse_assignment - splits "name=value" from -p. 0, or -1 with the
 * message in err. *name and *value are malloc'd; caller frees. */
int params_parse_assignment(const char *arg, char **name, char **value,
			    char *err, size_t errlen);

#endif
