# sdk/local.mk - what a vendor builds plugins with, installed beside the
# header and pgmove.pc: pgmove-plugin.mk (a plugin's Makefile includes it;
# pkg-config --variable=pluginmk pgmove) and pgmove.m4 (PGMOVE_PLUGIN for
# autoconf). tests/engine/test_example_plugin.sh builds plugins with both
# from a staged install.
pgmovesdkdir = $(pkgdatadir)
dist_pgmovesdk_DATA = sdk/pgmove-plugin.mk
aclocaldir = $(datadir)/aclocal
dist_aclocal_DATA = sdk/pgmove.m4
