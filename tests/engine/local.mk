# tests/engine/local.mk - end-to-end tests of the engine through the real
# pgmove binary, with the test plugin tests/plugins/testplug.
check_LTLIBRARIES += tests/plugins/testplug.la
tests_plugins_testplug_la_SOURCES = tests/plugins/testplug.c
tests_plugins_testplug_la_LDFLAGS = $(PLUGIN_LDFLAGS) $(NOINST_MODULE)
tests_plugins_testplug_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)

ENGINE_TESTS = \
	tests/engine/test_cli.sh \
	tests/engine/test_steps.sh \
	tests/engine/test_crash.sh \
	tests/engine/test_hardening.sh \
	tests/engine/test_checkpoint.sh \
	tests/engine/test_plugin_crash.sh \
	tests/engine/test_loader_checks.sh \
	tests/engine/test_plugin_identity.sh \
	tests/engine/test_call_errors.sh \
	tests/engine/test_plugin_config.sh \
	tests/engine/test_input.sh \
	tests/engine/test_escape.sh \
	tests/engine/test_secret_flow.sh \
	tests/engine/test_pgmove_test.sh \
	tests/engine/test_runbook_tests.sh \
	tests/engine/test_plan.sh \
	tests/engine/test_report_html.sh
TESTS += $(ENGINE_TESTS)
EXTRA_DIST += $(ENGINE_TESTS) tests/engine/lib.sh tests/engine/runbooks \
	scripts/runbooks/tests

# plugins that must fail to load, for the loader's error messages
check_LTLIBRARIES += tests/plugins/badabi.la tests/plugins/badinit.la tests/plugins/nosym.la
tests_plugins_badabi_la_SOURCES = tests/plugins/badplugs.c
tests_plugins_badabi_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_ABI
tests_plugins_badabi_la_LDFLAGS = -module -avoid-version -no-undefined $(NOINST_MODULE)
tests_plugins_badabi_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
tests_plugins_badinit_la_SOURCES = tests/plugins/badplugs.c
tests_plugins_badinit_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_INIT
tests_plugins_badinit_la_LDFLAGS = -module -avoid-version -no-undefined $(NOINST_MODULE)
tests_plugins_badinit_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
tests_plugins_nosym_la_SOURCES = tests/plugins/badplugs.c
tests_plugins_nosym_la_LDFLAGS = -module -avoid-version -no-undefined $(NOINST_MODULE)
tests_plugins_nosym_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)

# plugins that fail the load-time checks (tests/engine/test_loader_checks.sh)
BADPLUG_LDFLAGS = -module -avoid-version $(NOINST_MODULE)
check_LTLIBRARIES += tests/plugins/undefsym.la tests/plugins/nullfn.la tests/plugins/dupfn.la \
	tests/plugins/badtype.la tests/plugins/baddefault.la tests/plugins/newer.la
tests_plugins_undefsym_la_SOURCES = tests/plugins/badplugs.c
tests_plugins_undefsym_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_UNDEF
tests_plugins_undefsym_la_LDFLAGS = $(BADPLUG_LDFLAGS)
tests_plugins_undefsym_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
tests_plugins_nullfn_la_SOURCES = tests/plugins/badplugs.c
tests_plugins_nullfn_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_NULLFN
tests_plugins_nullfn_la_LDFLAGS = $(BADPLUG_LDFLAGS)
tests_plugins_nullfn_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
tests_plugins_dupfn_la_SOURCES = tests/plugins/badplugs.c
tests_plugins_dupfn_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_DUP
tests_plugins_dupfn_la_LDFLAGS = $(BADPLUG_LDFLAGS)
tests_plugins_dupfn_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
tests_plugins_badtype_la_SOURCES = tests/plugins/badplugs.c
tests_plugins_badtype_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_TYPE
tests_plugins_badtype_la_LDFLAGS = $(BADPLUG_LDFLAGS)
tests_plugins_badtype_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
tests_plugins_baddefault_la_SOURCES = tests/plugins/badplugs.c
tests_plugins_baddefault_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_DEFAULT
tests_plugins_baddefault_la_LDFLAGS = $(BADPLUG_LDFLAGS)
tests_plugins_baddefault_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
tests_plugins_newer_la_SOURCES = tests/plugins/badplugs.c
tests_plugins_newer_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_NEWER
tests_plugins_newer_la_LDFLAGS = $(BADPLUG_LDFLAGS)
tests_plugins_newer_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
