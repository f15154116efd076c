# tests/pg/local.mk - fragment of Makefile.am
# Tests against real PostgreSQL servers, started by each test with
# scripts/pgmove-sandbox on free ports (and stopped even when it fails).
PG_TESTS = \
	tests/pg/test_checksum.sh \
	tests/pg/test_checksum_hash.sh \
	tests/pg/test_checksum_live.sh \
	tests/pg/test_copy.sh \
	tests/pg/test_copy_indexes.sh \
	tests/pg/test_copy_runbook.sh \
	tests/pg/test_pgdump.sh \
	tests/pg/test_pg.sh \
	tests/pg/test_pg_frozen.sh \
	tests/pg/test_logical.sh \
	tests/pg/test_logical_runbook.sh \
	tests/pg/test_runbook.sh \
	tests/pg/test_sandbox.sh \
	tests/pg/test_secrets.sh
TESTS += $(PG_TESTS)
EXTRA_DIST += $(PG_TESTS) tests/pg/lib.sh tests/pg/logical_replay.py

# logical: an application of ours writing through the whole migration.
check_PROGRAMS += tests/pg/logical-writer
tests_pg_logical_writer_SOURCES = tests/pg/logical_writer.c
tests_pg_logical_writer_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS)
tests_pg_logical_writer_LDADD = $(PQ_LIBS)
