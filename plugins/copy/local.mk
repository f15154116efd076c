# plugins/copy/local.mk - fragment of Makefile.am
# copy: table data streamed between servers with COPY, verified per chunk
# with the checksum plugin's row hash (its checksum_hash.c is compiled in).
pkglib_LTLIBRARIES += plugins/copy/copy.la
plugins_copy_copy_la_SOURCES = plugins/copy/copy.c \
	plugins/copy/copy_stream.h plugins/copy/copy_stream.c \
	plugins/checksum/checksum.h plugins/checksum/checksum_hash.h \
	plugins/checksum/checksum_hash.c
plugins_copy_copy_la_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS) -I$(srcdir)/plugins/checksum -pthread
plugins_copy_copy_la_LDFLAGS = $(PLUGIN_LDFLAGS) -pthread
plugins_copy_copy_la_LIBADD = $(LIBPGMOVE) $(PQ_LIBS) $(JANSSON_LIBS) -lm
