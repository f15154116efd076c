# plugins/dms/local.mk - fragment of Makefile.am: the dms plugin (AWS DMS
# through the JSON 1.1 protocol of libpgmove's AWS layer).
pkglib_LTLIBRARIES += plugins/dms/dms.la
plugins_dms_dms_la_CFLAGS = $(AM_CFLAGS) -I$(srcdir)/plugins
plugins_dms_dms_la_SOURCES = plugins/aws_region.c plugins/aws_region.h plugins/dms/dms.c plugins/dms/dms.h plugins/dms/dms_mappings.c \
	plugins/dms/dms_task.c
plugins_dms_dms_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_dms_dms_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
