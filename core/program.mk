# core/program.mk - the pgmove program and the engine it is built from.
# The engine is a convenience library so unit tests can link its modules.
noinst_LTLIBRARIES += core/libengine.la
core_libengine_la_SOURCES = \
	core/journal.c core/journal.h \
	core/luajson.c core/luajson.h \
	core/params.c core/params.h \
	core/state.c core/state.h \
	core/loader.c core/loader.h \
	core/runbook.c core/runbook.h core/prelude.lua \
	core/engine.c core/engine.h core/exitcodes.h
nodist_core_libengine_la_SOURCES = core/prelude_lua.h
core_libengine_la_CFLAGS = $(AM_CFLAGS) $(LUA_CFLAGS) $(PQ_CFLAGS) $(JANSSON_CFLAGS) $(CRYPTO_CFLAGS)
core_libengine_la_LIBADD = core/libpgmove.la $(LUA_LIBS) $(PQ_LIBS) $(JANSSON_LIBS) \
	$(CRYPTO_LIBS) $(LTDL_LIBS)

# The runbook language (core/prelude.lua) is compiled into the binary.
core/prelude_lua.h: $(top_srcdir)/core/prelude.lua $(top_srcdir)/scripts/bin2c.sh
	$(AM_V_GEN)$(MKDIR_P) core && \
	$(SHELL) $(top_srcdir)/scripts/bin2c.sh prelude_lua < $(top_srcdir)/core/prelude.lua > $@-t && \
	mv $@-t $@
BUILT_SOURCES += core/prelude_lua.h
CLEANFILES += core/prelude_lua.h
EXTRA_DIST += scripts/bin2c.sh

bin_PROGRAMS += core/pgmove
core_pgmove_SOURCES = core/main.c core/cli.c core/cli.h core/cli_run.c core/cli_status.c \
	core/cli_ops.c core/cli_plugins.c
core_pgmove_CFLAGS = $(AM_CFLAGS) $(LUA_CFLAGS) $(JANSSON_CFLAGS)
core_pgmove_LDADD = core/libengine.la core/libpgmove.la $(JANSSON_LIBS)
# runbook.c includes the generated header: make sure it exists first even
# when a single target is built.
$(core_libengine_la_OBJECTS): core/prelude_lua.h
