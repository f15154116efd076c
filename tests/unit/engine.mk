# tests/unit/engine.mk - fragment of Makefile.am: CUnit tests of the engine
# modules (journal, luajson, params), linked against $(LIBENGINE).
ENGINE_TEST_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(LUA_CFLAGS) $(PQ_CFLAGS) $(JANSSON_CFLAGS)
ENGINE_TEST_LDADD = $(LIBENGINE) $(CUNIT_LIBS) $(LUA_LIBS) $(PQ_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += tests/unit/test_journal tests/unit/test_luajson tests/unit/test_params
TESTS += tests/unit/test_journal tests/unit/test_luajson tests/unit/test_params

# issue 7: replay and state.json against bad input
check_PROGRAMS += tests/unit/test_state
TESTS += tests/unit/test_state
tests_unit_test_state_SOURCES = tests/unit/test_state.c
tests_unit_test_state_CFLAGS = $(ENGINE_TEST_CFLAGS)
tests_unit_test_state_LDADD = $(ENGINE_TEST_LDADD)

tests_unit_test_journal_SOURCES = tests/unit/test_journal.c
tests_unit_test_journal_CFLAGS = $(ENGINE_TEST_CFLAGS)
tests_unit_test_journal_LDADD = $(ENGINE_TEST_LDADD)

tests_unit_test_luajson_SOURCES = tests/unit/test_luajson.c
tests_unit_test_luajson_CFLAGS = $(ENGINE_TEST_CFLAGS)
tests_unit_test_luajson_LDADD = $(ENGINE_TEST_LDADD)

tests_unit_test_params_SOURCES = tests/unit/test_params.c
tests_unit_test_params_CFLAGS = $(ENGINE_TEST_CFLAGS)
tests_unit_test_params_LDADD = $(ENGINE_TEST_LDADD)

# the loader, against the test plugins of tests/engine/local.mk
check_PROGRAMS += tests/unit/test_loader
TESTS += tests/unit/test_loader
tests_unit_test_loader_SOURCES = tests/unit/test_loader.c
tests_unit_test_loader_CFLAGS = $(ENGINE_TEST_CFLAGS)
tests_unit_test_loader_LDADD = $(ENGINE_TEST_LDADD)
