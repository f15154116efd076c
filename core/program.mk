# core/program.mk - the pgmove program and the engine it is built from.
# The engine is a convenience library so unit tests can link its modules.
noinst_LTLIBRARIES += core/libengine.la
core_libengine_la_SOURCES = \
	core/journal.c core/journal.h \
	core/luajson.c core/luajson.h \
	core/params.c core/params.h
core_libengine_la_CFLAGS = $(AM_CFLAGS) $(LUA_CFLAGS) $(PQ_CFLAGS) $(JANSSON_CFLAGS) $(CRYPTO_CFLAGS)
core_libengine_la_LIBADD = core/libpgmove.la $(LUA_LIBS) $(PQ_LIBS) $(JANSSON_LIBS) \
	$(CRYPTO_LIBS) $(LTDL_LIBS)
