# scripts/local.mk - fragment of Makefile.am

# pgmove-sandbox: two throw-away PostgreSQL servers with a sample database.
dist_bin_SCRIPTS += scripts/pgmove-sandbox

# the entry points of the README (not installed)
EXTRA_DIST += scripts/install-deps scripts/check scripts/demo

# The runbooks shipped with pgmove, installed under $(pkgdatadir)/runbooks.
runbooksdir = $(pkgdatadir)/runbooks
dist_runbooks_DATA = scripts/runbooks/pg-dump-restore.lua \
	scripts/runbooks/pg-copy.lua \
	scripts/runbooks/rds-to-aurora-snapshot.lua \
	scripts/runbooks/logical-cdc-cutover.lua \
	scripts/runbooks/dms-full-load-cdc.lua \
	scripts/runbooks/dynamodb-to-postgres.lua
