# tests/unit/host.mk - fragment of Makefile.am: CUnit tests of libpgmove's
# host services (one program per module; test_pgconn runs against a
# PostgreSQL server that test_pgconn.sh starts).
HOST_TEST_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(JANSSON_CFLAGS)
HOST_TEST_LDADD = $(LIBPGMOVE) $(CUNIT_LIBS) $(JANSSON_LIBS)
HOST_TESTS = tests/unit/test_duration tests/unit/test_redact tests/unit/test_args \
	tests/unit/test_call tests/unit/test_child tests/unit/test_http
check_PROGRAMS += $(HOST_TESTS) tests/unit/test_pgconn
TESTS += $(HOST_TESTS) tests/unit/test_pgconn.sh tests/unit/test_symbols.sh tests/unit/test_layers.sh
EXTRA_DIST += tests/unit/test_pgconn.sh tests/unit/cu_host.h tests/unit/test_symbols.sh \
	tests/unit/test_layers.sh

tests_unit_test_duration_SOURCES = tests/unit/test_duration.c
tests_unit_test_duration_CFLAGS = $(HOST_TEST_CFLAGS)
tests_unit_test_duration_LDADD = $(HOST_TEST_LDADD)
tests_unit_test_redact_SOURCES = tests/unit/test_redact.c
tests_unit_test_redact_CFLAGS = $(HOST_TEST_CFLAGS)
tests_unit_test_redact_LDADD = $(HOST_TEST_LDADD)
tests_unit_test_args_SOURCES = tests/unit/test_args.c
tests_unit_test_args_CFLAGS = $(HOST_TEST_CFLAGS)
tests_unit_test_args_LDADD = $(HOST_TEST_LDADD)
tests_unit_test_call_SOURCES = tests/unit/test_call.c
tests_unit_test_call_CFLAGS = $(HOST_TEST_CFLAGS)
tests_unit_test_call_LDADD = $(HOST_TEST_LDADD) -lpthread
tests_unit_test_child_SOURCES = tests/unit/test_child.c
tests_unit_test_child_CFLAGS = $(HOST_TEST_CFLAGS)
tests_unit_test_child_LDADD = $(HOST_TEST_LDADD)
tests_unit_test_http_SOURCES = tests/unit/test_http.c
tests_unit_test_http_CFLAGS = $(HOST_TEST_CFLAGS)
tests_unit_test_http_LDADD = $(HOST_TEST_LDADD)
# our plugins' unit tests on the test host (<pgmove/plugin-test.h>), built as a
# vendor's would be: the public include path, the plugin's source, libpgmove
HOST_TESTS += tests/unit/test_plugin_mock
tests_unit_test_plugin_mock_SOURCES = tests/unit/test_plugin_mock.c plugins/pagerduty/pagerduty.c \
	plugins/http/http.c
tests_unit_test_plugin_mock_CPPFLAGS = -I$(top_srcdir)/include $(JANSSON_CFLAGS)
tests_unit_test_plugin_mock_CFLAGS = $(HOST_TEST_CFLAGS) $(CURL_CFLAGS)
tests_unit_test_plugin_mock_LDADD = $(HOST_TEST_LDADD) $(CURL_LIBS)
tests_unit_test_pgconn_SOURCES = tests/unit/test_pgconn.c
tests_unit_test_pgconn_CFLAGS = $(HOST_TEST_CFLAGS) $(PQ_CFLAGS)
tests_unit_test_pgconn_LDADD = $(HOST_TEST_LDADD) $(PQ_LIBS)
