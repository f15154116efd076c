/*
 * tests/unit/test_params.c - CUnit tests of core/engine/params.c: spec checks,
 * each type's conversion and errors, the order cli > journal > env >
 * default, required params, secrets kept out of messages and the public
 * copy, and -p parsing.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "host.h"
#include "params.h"

#define SECRET "S3cr3t-Value-9f8e7d"
#define PASSWORD "Pa55w0rd-xyz-4321"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fprintf(stderr, "bad test JSON: %s: %s\n", text, e.text);
	return j;
}

/* check_err - params_check_specs on specs text gives exactly want. */
static void check_err(const char *specs, const char *want)
{
	char err[512] = "";
	json_t *s = J(specs);
	int rc = params_check_specs(s, err, sizeof(err));

	if (rc != -1 || strcmp(err, want) != 0)
		fprintf(stderr, "\n%s: rc %d, '%s', want '%s'\n", specs, rc, err, want);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	json_decref(s);
}

static void test_check_specs(void)
{
	char err[512];
	json_t *s = J("{\"source\": {\"type\": \"conninfo\", \"env\": \"PGMOVE_SOURCE\", "
		      "\"secret\": true, \"required\": true, \"summary\": \"the source\"},"
		      "\"jobs\": {\"type\": \"integer\", \"default\": 4},"
		      "\"ratio\": {\"type\": \"number\", \"default\": 0.5},"
		      "\"dry\": {\"type\": \"boolean\", \"default\": false},"
		      "\"window\": {\"type\": \"duration\", \"default\": \"30m\"},"
		      "\"label\": {\"default\": \"x\"},"
		      "\"target\": {\"type\": \"conninfo\", \"default\": \"host=localhost\"}}");

	CU_ASSERT_EQUAL(params_check_specs(s, err, sizeof(err)), 0);
	json_decref(s);
	CU_ASSERT_EQUAL(params_check_specs(NULL, err, sizeof(err)), 0);

	check_err("{\"jobs\": {\"type\": \"integer\", \"default\": \"x\"}}",
		  "param 'jobs': default 'x' is not an integer");
	check_err("{\"jobs\": {\"type\": \"integer\", \"default\": 1.5}}",
		  "param 'jobs': default 1.5 is not an integer");
	check_err("{\"r\": {\"type\": \"number\", \"default\": \"fast\"}}",
		  "param 'r': default 'fast' is not a number");
	check_err("{\"b\": {\"type\": \"boolean\", \"default\": \"maybe\"}}",
		  "param 'b': default 'maybe' is not a boolean (true/false, yes/no, on/off, 1/0)");
	check_err("{\"s\": {\"type\": \"string\", \"default\": 3}}",
		  "param 's': default 3 is not a string");
	check_err("{\"w\": {\"type\": \"duration\", \"default\": true}}",
		  "param 'w': default true is not a duration");
	check_err("{\"x\": {\"type\": \"float\"}}",
		  "param 'x': unknown type 'float' (types: string, number, integer, boolean, conninfo, duration)");
	check_err("{\"x\": {\"type\": 3}}",
		  "param 'x': unknown type (not a string) (types: string, number, integer, boolean, conninfo, duration)");
	check_err("{\"x\": {\"type\": \"string\", \"defualt\": \"a\"}}",
		  "param 'x': unknown field 'defualt' (known: type, env, secret, required, default, summary)");
	check_err("{\"x\": {\"secret\": true, \"default\": \"" SECRET "\"}}",
		  "param 'x': a secret param cannot have a default (a secret does not belong in a runbook)");
	check_err("{\"x\": {\"env\": \"NOT VALID\"}}",
		  "param 'x': env must be an environment variable name");
	check_err("{\"x\": {\"required\": \"yes\"}}", "param 'x': required must be true or false");
	check_err("{\"x\": {\"secret\": 1}}", "param 'x': secret must be true or false");
	check_err("{\"x\": {\"summary\": 1}}", "param 'x': summary must be a string");
	check_err("{\"x\": 3}", "param 'x': expected a table { type = ..., ... }");
	check_err("{\"1x\": {}}",
		  "param '1x': a name is letters, digits, '_' and '-', starting with a letter");
	check_err("[1]", "params: expected a table of name = { type = ..., ... }");
	/* the default of a conninfo param is never quoted */
	check_err("{\"c\": {\"type\": \"conninfo\", \"default\": \"host=a password=" PASSWORD " port\"}}",
		  "param 'c': the default is not a valid connection string: missing \"=\" after \"...\" in connection info string");
}

/* resolve1 - resolves one param declared by spec from cli value (NULL for
 * none); returns the value (new ref) or NULL with err. */
static json_t *resolve1(const char *spec, const char *cli, char *err, size_t errlen)
{
	char text[1024];
	json_t *specs, *clij = json_object(), *out, *v = NULL;

	snprintf(text, sizeof(text), "{\"p\": %s}", spec);
	specs = J(text);
	if (cli)
		json_object_set_new(clij, "p", json_string(cli));
	err[0] = '\0';
	out = params_resolve(specs, clij, NULL, err, errlen);
	if (out) {
		v = json_incref(json_object_get(out, "p"));
		json_decref(out);
	}
	json_decref(specs);
	json_decref(clij);
	return v;
}

static void expect_value(const char *spec, const char *cli, const char *want)
{
	char err[512];
	json_t *v = resolve1(spec, cli, err, sizeof(err));
	char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

	if (!text || strcmp(text, want) != 0)
		fprintf(stderr, "\n%s / %s: got %s (%s), want %s\n", spec, cli ? cli : "-",
			text ? text : "NULL", err, want);
	CU_ASSERT_PTR_NOT_NULL(text);
	if (text)
		CU_ASSERT_STRING_EQUAL(text, want);
	free(text);
	json_decref(v);
}

static void expect_fail(const char *spec, const char *cli, const char *want)
{
	char err[512];
	json_t *v = resolve1(spec, cli, err, sizeof(err));

	if (v || strcmp(err, want) != 0)
		fprintf(stderr, "\n%s / %s: got '%s', want error '%s'\n", spec, cli ? cli : "-",
			err, want);
	CU_ASSERT_PTR_NULL(v);
	CU_ASSERT_STRING_EQUAL(err, want);
	json_decref(v);
}

static void test_types(void)
{
	expect_value("{\"type\": \"string\"}", "hello world", "\"hello world\"");
	expect_value("{}", "", "\"\"");
	expect_value("{\"type\": \"integer\"}", "42", "42");
	expect_value("{\"type\": \"integer\"}", "-7", "-7");
	expect_fail("{\"type\": \"integer\"}", "4x", "param 'p': '4x' (from -p p) is not an integer");
	expect_fail("{\"type\": \"integer\"}", " 4", "param 'p': ' 4' (from -p p) is not an integer");
	expect_fail("{\"type\": \"integer\"}", "", "param 'p': '' (from -p p) is not an integer");
	expect_fail("{\"type\": \"integer\"}", "99999999999999999999",
		    "param 'p': '99999999999999999999' (from -p p) is out of range for an integer");
	expect_value("{\"type\": \"number\"}", "1.5", "1.5");
	expect_value("{\"type\": \"number\"}", "2", "2.0");
	expect_fail("{\"type\": \"number\"}", "abc", "param 'p': 'abc' (from -p p) is not a number");
	expect_fail("{\"type\": \"number\"}", "inf", "param 'p': 'inf' (from -p p) is not a number");
	expect_fail("{\"type\": \"number\"}", "nan", "param 'p': 'nan' (from -p p) is not a number");
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE", "Yes", NULL };
	static const char *const no[] = { "false", "no", "off", "0", "OFF", NULL };
	for (int i = 0; yes[i]; i++)
		expect_value("{\"type\": \"boolean\"}", yes[i], "true");
	for (int i = 0; no[i]; i++)
		expect_value("{\"type\": \"boolean\"}", no[i], "false");
	expect_fail("{\"type\": \"boolean\"}", "maybe",
		    "param 'p': 'maybe' (from -p p) is not a boolean (true/false, yes/no, on/off, 1/0)");
	expect_value("{\"type\": \"duration\"}", "1h30m", "\"1h30m\"");
	expect_value("{\"type\": \"duration\"}", "250ms", "\"250ms\"");
	expect_value("{\"type\": \"duration\", \"default\": 30}", NULL, "\"30\"");
	{
		char err[512];
		json_t *v = resolve1("{\"type\": \"duration\"}", "5x", err, sizeof(err));

		CU_ASSERT_PTR_NULL(v);
		CU_ASSERT_EQUAL(strncmp(err, "param 'p': '5x' (from -p p) is not a duration: ", 47), 0);
		json_decref(v);
	}
	expect_value("{\"type\": \"conninfo\"}", "host=db port=5432 dbname=app",
		     "\"host=db port=5432 dbname=app\"");
	expect_value("{\"type\": \"conninfo\"}", "postgresql://u@db:5432/app",
		     "\"postgresql://u@db:5432/app\"");
	expect_fail("{\"type\": \"conninfo\"}", "host=db nosuchoption=1",
		    "param 'p': the value from -p p is not a valid connection string: invalid connection option \"...\"");
	/* defaults are typed too */
	expect_value("{\"type\": \"integer\", \"default\": 4}", NULL, "4");
	expect_value("{\"type\": \"integer\", \"default\": \"8\"}", NULL, "8");
	expect_value("{\"type\": \"boolean\", \"default\": \"yes\"}", NULL, "true");
	expect_value("{\"type\": \"number\", \"default\": 3}", NULL, "3.0");
}

static void test_order(void)
{
	char err[512];
	json_t *specs = J("{\"jobs\": {\"type\": \"integer\", \"env\": \"PGMOVE_TEST_JOBS\", \"default\": 1},"
			  "\"name\": {\"env\": \"PGMOVE_TEST_NAME\"},"
			  "\"opt\": {\"type\": \"integer\"}}");
	json_t *cli = J("{\"jobs\": \"4\"}");
	json_t *jour = J("{\"jobs\": 3, \"name\": \"from-journal\", \"gone\": 1}");
	json_t *out;

	setenv("PGMOVE_TEST_JOBS", "2", 1);
	setenv("PGMOVE_TEST_NAME", "from-env", 1);
	/* cli beats the journal, the journal beats env */
	out = params_resolve(specs, cli, jour, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(out, "jobs")), 4);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(out, "name")), "from-journal");
	CU_ASSERT_PTR_NULL(json_object_get(out, "opt")); /* optional, no value: absent */
	CU_ASSERT_PTR_NULL(json_object_get(out, "gone"));
	json_decref(out);
	/* the journal beats env */
	out = params_resolve(specs, NULL, jour, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(out, "jobs")), 3);
	json_decref(out);
	/* env beats the default */
	out = params_resolve(specs, NULL, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(out, "jobs")), 2);
	CU_ASSERT(json_is_integer(json_object_get(out, "jobs")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(out, "name")), "from-env");
	json_decref(out);
	/* an empty env variable counts as unset: the default */
	setenv("PGMOVE_TEST_JOBS", "", 1);
	out = params_resolve(specs, NULL, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(out, "jobs")), 1);
	json_decref(out);
	/* a bad env value names the variable */
	setenv("PGMOVE_TEST_JOBS", "many", 1);
	out = params_resolve(specs, NULL, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_STRING_EQUAL(err, "param 'jobs': 'many' (from $PGMOVE_TEST_JOBS) is not an integer");
	/* a bad journaled value says so */
	json_decref(jour);
	jour = J("{\"jobs\": \"x\"}");
	out = params_resolve(specs, NULL, jour, err, sizeof(err));
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_STRING_EQUAL(err, "param 'jobs': 'x' (from the journal) is not an integer");
	/* an undeclared -p */
	json_decref(cli);
	cli = J("{\"jbos\": \"4\"}");
	out = params_resolve(specs, cli, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_STRING_EQUAL(err, "-p jbos=...: the runbook declares no param 'jbos'");
	unsetenv("PGMOVE_TEST_JOBS");
	unsetenv("PGMOVE_TEST_NAME");
	json_decref(specs);
	json_decref(cli);
	json_decref(jour);
	/* a bad spec set is refused by resolve too */
	specs = J("{\"x\": {\"type\": \"float\"}}");
	CU_ASSERT_PTR_NULL(params_resolve(specs, NULL, NULL, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown type 'float'"));
	json_decref(specs);
}

static void test_required(void)
{
	char err[512];
	json_t *specs = J("{\"source\": {\"type\": \"conninfo\", \"env\": \"PGMOVE_TEST_SOURCE\", "
			  "\"secret\": true, \"required\": true}}");
	json_t *out;

	unsetenv("PGMOVE_TEST_SOURCE");
	out = params_resolve(specs, NULL, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_STRING_EQUAL(err, "param 'source' is required: set PGMOVE_TEST_SOURCE or pass -p source=...");
	json_decref(specs);
	specs = J("{\"count\": {\"type\": \"integer\", \"required\": true}}");
	out = params_resolve(specs, NULL, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_STRING_EQUAL(err, "param 'count' is required: pass -p count=...");
	json_decref(specs);
}

/* Secret values never appear in a message, and are registered. */
static void test_secrets(void)
{
	char err[512], *red;
	json_t *specs, *cli, *out;

	pgm_secret_reset();
	/* a secret of the wrong type */
	specs = J("{\"token\": {\"type\": \"integer\", \"secret\": true, \"env\": \"PGMOVE_TEST_TOKEN\"}}");
	cli = json_pack("{s:s}", "token", SECRET);
	out = params_resolve(specs, cli, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_PTR_NULL(strstr(err, SECRET));
	CU_ASSERT_STRING_EQUAL(err, "param 'token': the value from -p token is not an integer");
	json_decref(cli);
	setenv("PGMOVE_TEST_TOKEN", SECRET, 1);
	out = params_resolve(specs, NULL, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_STRING_EQUAL(err, "param 'token': the value from $PGMOVE_TEST_TOKEN is not an integer");
	unsetenv("PGMOVE_TEST_TOKEN");
	json_decref(specs);
	/* a secret string is registered */
	specs = J("{\"key\": {\"secret\": true}, \"src\": {\"type\": \"conninfo\"}}");
	cli = json_pack("{s:s, s:s}", "key", SECRET, "src", "host=db user=u password=" PASSWORD);
	out = params_resolve(specs, cli, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(out, "key")), SECRET);
	red = pgm_redact("key " SECRET " and " PASSWORD);
	CU_ASSERT_PTR_NULL(strstr(red, SECRET));
	CU_ASSERT_PTR_NULL(strstr(red, PASSWORD));
	free(red);
	json_decref(out);
	json_decref(cli);
	/* a broken conninfo: no part of it in the message */
	static const char *const bad[] = {
		"host=db password=" PASSWORD " port",
		"host=db " PASSWORD,
		"host=db password='" PASSWORD,
		"postgresql://u:" PASSWORD "@db/app?" PASSWORD "=1",
		"host=db password=" PASSWORD " " PASSWORD "x=1",
		"postgresql://u:" PASSWORD "@[db/app",
		NULL
	};
	for (int i = 0; bad[i]; i++) {
		cli = json_pack("{s:s}", "src", bad[i]);
		out = params_resolve(specs, cli, NULL, err, sizeof(err));
		CU_ASSERT_PTR_NULL(out);
		if (strstr(err, PASSWORD) || strstr(err, "Pa55"))
			fprintf(stderr, "\nleak: %s\n", err);
		CU_ASSERT_PTR_NULL(strstr(err, PASSWORD));
		CU_ASSERT_PTR_NULL(strstr(err, "Pa55"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "param 'src': the value from -p src is not a valid connection string"));
		json_decref(out);
		json_decref(cli);
	}
	json_decref(specs);
	pgm_secret_reset();
}

static void test_public(void)
{
	json_t *specs = J("{\"key\": {\"secret\": true}, \"src\": {\"type\": \"conninfo\"},"
			  "\"uri\": {\"type\": \"conninfo\"}, \"plain\": {\"type\": \"conninfo\"},"
			  "\"jobs\": {\"type\": \"integer\"}}");
	json_t *values = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "key", SECRET,
				   "src", "host=db user=u password=" PASSWORD " sslmode=require",
				   "uri", "postgresql://u:" PASSWORD "@db:5433/app",
				   "plain", "host=db dbname=app", "jobs", 4, "undeclared", "x");
	json_t *pub = params_public(specs, values);
	char *text = json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS);
	const char *src, *uri;
	char err[256];
	json_t *again;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NULL(strstr(text, SECRET));
	CU_ASSERT_PTR_NULL(strstr(text, PASSWORD));
	CU_ASSERT_PTR_NULL(strstr(text, "password"));
	CU_ASSERT_PTR_NULL(json_object_get(pub, "key"));
	CU_ASSERT_PTR_NULL(json_object_get(pub, "undeclared"));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(pub, "jobs")), 4);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pub, "plain")), "host=db dbname=app");
	src = json_string_value(json_object_get(pub, "src"));
	uri = json_string_value(json_object_get(pub, "uri"));
	CU_ASSERT_PTR_NOT_NULL(strstr(src, "host='db'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(src, "user='u'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(src, "sslmode='require'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(uri, "port='5433'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(uri, "dbname='app'"));
	/* the public copy resolves again as the journaled values */
	json_object_del(specs, "key");
	again = params_resolve(specs, NULL, pub, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(again);
	json_decref(again);
	free(text);
	json_decref(pub);
	json_decref(values);
	json_decref(specs);
	pgm_secret_reset();
}

static void test_assignment(void)
{
	char err[256], *name, *value;

	CU_ASSERT_EQUAL(params_parse_assignment("jobs=4", &name, &value, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(name, "jobs");
	CU_ASSERT_STRING_EQUAL(value, "4");
	free(name);
	free(value);
	CU_ASSERT_EQUAL(params_parse_assignment("source=host=db port=5", &name, &value, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(name, "source");
	CU_ASSERT_STRING_EQUAL(value, "host=db port=5");
	free(name);
	free(value);
	CU_ASSERT_EQUAL(params_parse_assignment("x-y_z=", &name, &value, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(name, "x-y_z");
	CU_ASSERT_STRING_EQUAL(value, "");
	free(name);
	free(value);
	CU_ASSERT_EQUAL(params_parse_assignment(SECRET, &name, &value, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NULL(name);
	CU_ASSERT_PTR_NULL(value);
	CU_ASSERT_STRING_EQUAL(err, "-p expects name=value, and the argument has no '='");
	CU_ASSERT_EQUAL(params_parse_assignment("=" SECRET, &name, &value, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "-p expects name=value, and the name is empty");
	CU_ASSERT_EQUAL(params_parse_assignment("bad name=" SECRET, &name, &value, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "-p bad name=...: a param name is letters, digits, '_' and '-'");
}

int main(void)
{
	CU_pSuite s;
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("params", NULL, NULL);
	CU_add_test(s, "spec checks", test_check_specs);
	CU_add_test(s, "types and conversion errors", test_types);
	CU_add_test(s, "cli > journal > env > default", test_order);
	CU_add_test(s, "required params", test_required);
	CU_add_test(s, "secrets stay out of messages", test_secrets);
	CU_add_test(s, "public copy", test_public);
	CU_add_test(s, "-p name=value", test_assignment);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	pgm_secret_reset();
	return failures ? 1 : 0;
}
