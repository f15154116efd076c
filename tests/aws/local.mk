# tests/aws/local.mk - fragment of Makefile.am: tests of the AWS layer, the
# rds_snapshot and cloudwatch plugins and the snapshot runbook, against the
# fake AWS in tests/aws/fake_aws.py (run with Debian's /usr/bin/python3), and
# against moto (tests/aws/moto.sh, with the python3 that has moto).
AWS_TEST_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(XML_CFLAGS) $(CRYPTO_CFLAGS) $(JANSSON_CFLAGS)

check_PROGRAMS += tests/aws/test_aws_unit
tests_aws_test_aws_unit_SOURCES = tests/aws/test_aws_unit.c \
	core/aws/aws.c core/aws/aws_sigv4.c core/aws/aws_xml.c core/aws/aws_creds.c
tests_aws_test_aws_unit_CFLAGS = $(AWS_TEST_CFLAGS)
tests_aws_test_aws_unit_LDADD = $(LIBPGMOVE) $(CUNIT_LIBS) $(XML_LIBS) $(CRYPTO_LIBS) \
	$(JANSSON_LIBS)

TESTS += tests/aws/test_aws_unit tests/aws/rds.sh tests/aws/creds.sh tests/aws/cloudwatch.sh tests/aws/json.sh \
	tests/aws/runbook.sh tests/aws/dms.sh tests/aws/dms_moto.sh tests/aws/dms_runbook.sh tests/aws/moto.sh
EXTRA_DIST += tests/aws/fake_aws.py tests/aws/fake_dms.py tests/aws/dms.sh tests/aws/dms_moto.sh tests/aws/dms_runbook.sh tests/aws/lib.sh tests/aws/rds.sh tests/aws/creds.sh tests/aws/json.sh \
	tests/aws/cloudwatch.sh tests/aws/runbook.sh tests/aws/moto.sh
# The snapshot runbook and the AWS plugin reference ship in the tarball.
EXTRA_DIST += doc/plugins-aws.md
