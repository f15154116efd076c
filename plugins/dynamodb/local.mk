# plugins/dynamodb/local.mk - fragment of Makefile.am: the dynamodb plugin
# (DynamoDB JSON 1.0 API through libpgmove's AWS layer, loaded into PostgreSQL).
pkglib_LTLIBRARIES += plugins/dynamodb/dynamodb.la
plugins_dynamodb_dynamodb_la_SOURCES = plugins/aws_region.c plugins/aws_region.h plugins/dynamodb/dynamodb.c
plugins_dynamodb_dynamodb_la_CFLAGS = $(AM_CFLAGS) -I$(srcdir)/plugins $(PQ_CFLAGS)
plugins_dynamodb_dynamodb_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_dynamodb_dynamodb_la_LIBADD = $(LIBPGMOVE) $(PQ_LIBS) $(JANSSON_LIBS) -lpthread
EXTRA_DIST += doc/plugins-dynamodb.md
