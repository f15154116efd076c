# plugins/pgdump/local.mk - fragment of Makefile.am
# pgdump: pg_dump / pg_restore as child processes.
pkglib_LTLIBRARIES += plugins/pgdump/pgdump.la
plugins_pgdump_pgdump_la_SOURCES = plugins/pgdump/pgdump.c
plugins_pgdump_pgdump_la_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS)
plugins_pgdump_pgdump_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_pgdump_pgdump_la_LIBADD = $(LIBPGMOVE) $(PQ_LIBS) $(JANSSON_LIBS)
