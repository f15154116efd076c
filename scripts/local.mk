# scripts/local.mk - fragment of Makefile.am

# pgmove-sandbox: two throw-away PostgreSQL servers with a sample database.
dist_bin_SCRIPTS += scripts/pgmove-sandbox
