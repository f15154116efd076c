# plugins/checksum/local.mk - fragment of Makefile.am
# checksum: compare two servers (content by key range, sequences, inventory).
pkglib_LTLIBRARIES += plugins/checksum/checksum.la
plugins_checksum_checksum_la_SOURCES = plugins/checksum/checksum.h \
	plugins/checksum/checksum.c plugins/checksum/checksum_compare.c \
	plugins/checksum/checksum_inventory.c plugins/checksum/checksum_live.c \
	plugins/checksum/checksum_hash.h plugins/checksum/checksum_hash.c
plugins_checksum_checksum_la_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS)
plugins_checksum_checksum_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_checksum_checksum_la_LIBADD = $(LIBPGMOVE) $(PQ_LIBS) $(JANSSON_LIBS) -lm
