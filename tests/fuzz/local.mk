# tests/fuzz/local.mk - fragment of Makefile.am: the libFuzzer harnesses of
# issue 7 (tests/fuzz/fuzz_*.c) and their seed corpora (tests/fuzz/corpus/*).
# `make check` replays every corpus through the harness built with the
# normal compiler (tests/fuzz/replay.c as main); `make fuzz` builds the
# harnesses with clang -fsanitize=fuzzer,address,undefined and runs each
# for FUZZ_SECONDS (tests/fuzz/fuzz.sh).
FUZZ_CFLAGS = $(AM_CFLAGS) $(LUA_CFLAGS) $(PQ_CFLAGS) $(XML_CFLAGS) $(CRYPTO_CFLAGS) \
	$(JANSSON_CFLAGS) -Wno-unused-function
FUZZ_CLI = core/cli/cli.c core/cli/cli_run.c core/cli/cli_status.c core/cli/cli_ops.c \
	core/cli/cli_plugins.c core/cli/cli_test.c core/cli/cli_report_html.c
FUZZ_ENGINE_LDADD = $(LIBENGINE) $(LIBPGMOVE) $(LUA_LIBS) $(PQ_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += tests/fuzz/replay_awsxml tests/fuzz/replay_duration tests/fuzz/replay_luajson \
	tests/fuzz/replay_journal tests/fuzz/replay_status tests/fuzz/replay_args \
	tests/fuzz/replay_copystream
TESTS += tests/fuzz/replay_awsxml tests/fuzz/replay_duration tests/fuzz/replay_luajson \
	tests/fuzz/replay_journal tests/fuzz/replay_status tests/fuzz/replay_args \
	tests/fuzz/replay_copystream

tests_fuzz_replay_awsxml_SOURCES = tests/fuzz/fuzz_awsxml.c tests/fuzz/replay.c core/aws/aws_xml.c
tests_fuzz_replay_awsxml_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/awsxml"'
tests_fuzz_replay_awsxml_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_awsxml_LDADD = $(LIBPGMOVE) $(XML_LIBS) $(JANSSON_LIBS)

tests_fuzz_replay_duration_SOURCES = tests/fuzz/fuzz_duration.c tests/fuzz/replay.c
tests_fuzz_replay_duration_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/duration"'
tests_fuzz_replay_duration_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_duration_LDADD = $(LIBPGMOVE) $(JANSSON_LIBS)

tests_fuzz_replay_luajson_SOURCES = tests/fuzz/fuzz_luajson.c tests/fuzz/replay.c
tests_fuzz_replay_luajson_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/luajson"'
tests_fuzz_replay_luajson_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_luajson_LDADD = $(FUZZ_ENGINE_LDADD)

tests_fuzz_replay_journal_SOURCES = tests/fuzz/fuzz_journal.c tests/fuzz/replay.c
tests_fuzz_replay_journal_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/journal"'
tests_fuzz_replay_journal_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_journal_LDADD = $(FUZZ_ENGINE_LDADD)

tests_fuzz_replay_status_SOURCES = tests/fuzz/fuzz_status.c tests/fuzz/replay.c $(FUZZ_CLI)
tests_fuzz_replay_status_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/status"'
tests_fuzz_replay_status_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_status_LDADD = $(FUZZ_ENGINE_LDADD)

tests_fuzz_replay_args_SOURCES = tests/fuzz/fuzz_args.c tests/fuzz/replay.c $(FUZZ_CLI)
tests_fuzz_replay_args_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/args"'
tests_fuzz_replay_args_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_args_LDADD = $(FUZZ_ENGINE_LDADD)

# copy_stream.c is compiled into the harness (#include): it is the copy
# plugin's, not libpgmove's
tests_fuzz_replay_copystream_SOURCES = tests/fuzz/fuzz_copystream.c tests/fuzz/replay.c
tests_fuzz_replay_copystream_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS='"$(top_srcdir)/tests/fuzz/corpus/copystream"'
tests_fuzz_replay_copystream_CFLAGS = $(FUZZ_CFLAGS)
EXTRA_DIST += plugins/copy/copy_stream.c

EXTRA_DIST += tests/fuzz/fuzz.sh tests/fuzz/fuzz_common.h tests/fuzz/corpus

# make fuzz [FUZZ_SECONDS=600] [FUZZ_TARGETS="journal args"]: libFuzzer with
# ASan and UBSan (clang), each harness for FUZZ_SECONDS, crashes kept in
# tests/fuzz/crashes/ of the build tree.
FUZZ_SECONDS = 60
FUZZ_TARGETS = awsxml duration luajson journal status args copystream
fuzz: core/engine/prelude_lua.h
	srcdir='$(abs_top_srcdir)' builddir='$(abs_top_builddir)' \
	FUZZ_LIBS_FLAGS='$(LUA_CFLAGS) $(PQ_CFLAGS) $(XML_CFLAGS) $(CRYPTO_CFLAGS) $(JANSSON_CFLAGS)' \
	FUZZ_LIBS='$(LUA_LIBS) $(PQ_LIBS) $(XML_LIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS) $(CURL_LIBS) $(LTDL_LIBS) -lpthread' \
	PLUGIN_DIR='$(pkglibdir)' \
	$(SHELL) $(abs_top_srcdir)/tests/fuzz/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)
.PHONY: fuzz
