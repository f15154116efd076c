/*
 * tests/unit/test_loader.c - the plugin loader: found plugins, and the
 * one-line errors for a missing plugin, a module without the descriptor, a
 * wrong ABI and a failing init; argument checks against a function's
 * parameter table. Uses the test plugins built under tests/plugins.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "host.h"
#include "loader.h"

static char err[4096];

static void test_found(void)
{
	const pgm_plugin *p = loader_get("testplug", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p->name, "testplug");
	CU_ASSERT_PTR_EQUAL(loader_get("testplug", err, sizeof(err)), p); /* cached */
	const pgm_function *f = loader_function(p, "destroy");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT(f->flags & PGM_FN_IRREVERSIBLE);
	CU_ASSERT_PTR_NULL(loader_function(p, "nope"));
	char flags[64];
	CU_ASSERT_STRING_EQUAL(loader_flags_string(PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY, flags,
						   sizeof(flags)),
			       "idempotent,read-only");
}

static void test_missing(void)
{
	CU_ASSERT_PTR_NULL(loader_get("nosuchplugin", err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "plugin nosuchplugin not found; tried "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "tests/plugins/nosuchplugin.{la,so}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, PGMOVE_PLUGIN_DIR "/nosuchplugin"));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	CU_ASSERT_PTR_NULL(loader_get("../etc", err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "lower-case letters"));
}

static void test_no_symbol(void)
{
	CU_ASSERT_PTR_NULL(loader_get("nosym", err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not export nosym_LTX_pgmove_plugin"));
}

static void test_wrong_abi(void)
{
	CU_ASSERT_PTR_NULL(loader_get("badabi", err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "built for plugin ABI 999"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "badabi"));
}

static void test_failing_init(void)
{
	CU_ASSERT_PTR_NULL(loader_get("badinit", err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "plugin badinit:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "init failed"));
}

static void test_check_args(void)
{
	const pgm_plugin *p = loader_get("testplug", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	const pgm_function *f = loader_function(p, "count");
	json_t *args = json_pack("{s:s, s:i}", "file", "/tmp/x", "fail_until", 2);
	CU_ASSERT_EQUAL(loader_check_args(p, f, args, err, sizeof(err)), 0);
	json_object_set_new(args, "fail_until", json_string("two"));
	CU_ASSERT_EQUAL(loader_check_args(p, f, args, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "testplug.count: argument 'fail_until' must be an integer");
	json_object_del(args, "fail_until");
	json_object_set_new(args, "fial_until", json_integer(1));
	CU_ASSERT_EQUAL(loader_check_args(p, f, args, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown argument 'fial_until' (arguments: file, "));
	json_decref(args);
	args = json_object();
	CU_ASSERT_EQUAL(loader_check_args(p, f, args, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "argument 'file' is required"));
	json_decref(args);
	/* a secret argument is registered for redaction */
	const pgm_function *s = loader_function(p, "secret");
	args = json_pack("{s:s}", "password", "correct-horse-battery");
	CU_ASSERT_EQUAL(loader_check_args(p, s, args, err, sizeof(err)), 0);
	char *r = pgm_redact("login with correct-horse-battery");
	CU_ASSERT_PTR_NULL(strstr(r, "correct-horse-battery"));
	free(r);
	json_decref(args);
}

static void test_list(void)
{
	json_t *list = loader_list();
	size_t i;
	json_t *p;
	int testplug = 0, badabi = 0;
	json_array_foreach(list, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		if (strcmp(name, "testplug") == 0 && json_array_size(json_object_get(p, "functions")) >= 8)
			testplug = 1;
		if (strcmp(name, "badabi") == 0 && json_object_get(p, "error"))
			badabi = 1;
	}
	CU_ASSERT(testplug);
	CU_ASSERT(badabi);
	json_decref(list);
}

int main(void)
{
	const char *top = getenv("top_builddir");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/plugins", top ? top : ".");
	setenv("PGMOVE_PLUGIN_PATH", path, 1);
	pgm_log_setup(PGM_LOG_FORMAT_PLAIN, PGM_LOG_ERROR);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("loader", NULL, NULL);
	CU_add_test(s, "a plugin on the path", test_found);
	CU_add_test(s, "a missing plugin names the paths tried", test_missing);
	CU_add_test(s, "a module without the descriptor", test_no_symbol);
	CU_add_test(s, "a plugin built for another ABI", test_wrong_abi);
	CU_add_test(s, "a plugin whose init fails", test_failing_init);
	CU_add_test(s, "arguments checked against the parameter table", test_check_args);
	CU_add_test(s, "loader_list", test_list);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	loader_shutdown();
	return failures ? 1 : 0;
}
