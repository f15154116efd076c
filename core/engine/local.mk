# core/engine/local.mk - the runbook engine: journal, state, params, the Lua
# bridge and runbook language, the plugin loader, the engine. A convenience
# library so the program and the unit tests link the same modules. It may
# include host headers, never cli ones.
noinst_LTLIBRARIES += core/engine/libengine.la
core_engine_libengine_la_SOURCES = \
	core/engine/journal.c core/engine/journal.h \
	core/engine/luajson.c core/engine/luajson.h \
	core/engine/params.c core/engine/params.h \
	core/engine/state.c core/engine/state.h \
	core/engine/loader.c core/engine/loader.h \
	core/engine/runbook.c core/engine/runbook.h core/engine/prelude.lua \
	core/engine/notify.c core/engine/notify.h \
	core/engine/eclock.c core/engine/eclock.h \
	core/engine/engine.c core/engine/engine.h core/engine/exitcodes.h
nodist_core_engine_libengine_la_SOURCES = core/engine/prelude_lua.h
core_engine_libengine_la_CPPFLAGS = $(ENGINE_CPPFLAGS)
core_engine_libengine_la_CFLAGS = $(AM_CFLAGS) $(LUA_CFLAGS) $(PQ_CFLAGS) $(JANSSON_CFLAGS) \
	$(CRYPTO_CFLAGS)
core_engine_libengine_la_LIBADD = $(LIBPGMOVE) $(LUA_LIBS) $(PQ_LIBS) $(JANSSON_LIBS) \
	$(CRYPTO_LIBS) $(LTDL_LIBS)

# The runbook language (core/engine/prelude.lua) is compiled into the binary.
core/engine/prelude_lua.h: $(top_srcdir)/core/engine/prelude.lua $(top_srcdir)/scripts/bin2c.sh
	$(AM_V_GEN)$(MKDIR_P) core/engine && \
	$(SHELL) $(top_srcdir)/scripts/bin2c.sh prelude_lua < $(top_srcdir)/core/engine/prelude.lua > $@-t && \
	mv $@-t $@
BUILT_SOURCES += core/engine/prelude_lua.h
CLEANFILES += core/engine/prelude_lua.h
EXTRA_DIST += scripts/bin2c.sh
# runbook.c includes the generated header: make sure it exists first even
# when a single target is built.
$(core_engine_libengine_la_OBJECTS): core/engine/prelude_lua.h
