/*
 * tests/unit/cu_host.h - the CUnit main shared by the host services' tests:
 * one suite, the tests listed in a table, exit status 1 on any failure.
 */
#ifndef PGMOVE_TESTS_CU_HOST_H
#define PGMOVE_TESTS_CU_HOST_H

#include <CUnit/Basic.h>
#include <stdio.h>

typedef struct cu_test {
	const char *name;
	CU_TestFunc fn;
} cu_test;

/* cu_run - runs the tests of one suite; 0 when all passed. */
static inline int cu_run(const char *suite_name, const cu_test *tests)
{
	CU_pSuite suite;
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite(suite_name, NULL, NULL);
	for (; tests->name; tests++)
		CU_add_test(suite, tests->name, tests->fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}

#endif
