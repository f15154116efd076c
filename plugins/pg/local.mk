# plugins/pg/local.mk - fragment of Makefile.am
# pg: queries, assessment, read-only switch, sequences, ANALYZE.
pkglib_LTLIBRARIES += plugins/pg/pg.la
plugins_pg_pg_la_SOURCES = plugins/pg/pg.c
plugins_pg_pg_la_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS)
plugins_pg_pg_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_pg_pg_la_LIBADD = $(LIBPGMOVE) $(PQ_LIBS) $(JANSSON_LIBS)
# The reference section of the pg, pgdump and checksum plugins.
EXTRA_DIST += doc/plugins-local.md
