# plugins/cloudwatch/local.mk - fragment of Makefile.am: the cloudwatch
# plugin (CloudWatch Query API through libpgmove's AWS layer).
pkglib_LTLIBRARIES += plugins/cloudwatch/cloudwatch.la
plugins_cloudwatch_cloudwatch_la_CFLAGS = $(AM_CFLAGS) -I$(srcdir)/plugins
plugins_cloudwatch_cloudwatch_la_SOURCES = plugins/aws_region.c plugins/aws_region.h plugins/cloudwatch/cloudwatch.c
plugins_cloudwatch_cloudwatch_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_cloudwatch_cloudwatch_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS) -lm
