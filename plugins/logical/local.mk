# plugins/logical/local.mk - fragment of Makefile.am
# logical: native PostgreSQL logical replication (preflight, publications,
# subscriptions, lag, the cutover fence, reverse replication).
pkglib_LTLIBRARIES += plugins/logical/logical.la
plugins_logical_logical_la_SOURCES = plugins/logical/logical.h plugins/logical/logical.c \
	plugins/logical/logical_preflight.c plugins/logical/logical_state.c
plugins_logical_logical_la_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS)
plugins_logical_logical_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_logical_logical_la_LIBADD = $(LIBPGMOVE) $(PQ_LIBS) $(JANSSON_LIBS)
