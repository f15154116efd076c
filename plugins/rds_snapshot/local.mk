# plugins/rds_snapshot/local.mk - fragment of Makefile.am: the rds_snapshot
# plugin (RDS Query API through libpgmove's AWS layer).
pkglib_LTLIBRARIES += plugins/rds_snapshot/rds_snapshot.la
plugins_rds_snapshot_rds_snapshot_la_CFLAGS = $(AM_CFLAGS) -I$(srcdir)/plugins
plugins_rds_snapshot_rds_snapshot_la_SOURCES = plugins/aws_region.c plugins/aws_region.h plugins/rds_snapshot/rds_snapshot.c
plugins_rds_snapshot_rds_snapshot_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_rds_snapshot_rds_snapshot_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
