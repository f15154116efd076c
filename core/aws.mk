# core/aws.mk - fragment of Makefile.am: the AWS layer of libpgmove
# (SigV4, credentials, Query/JSON protocols, retries).
core_libpgmove_la_SOURCES += core/aws.c core/aws_sigv4.c core/aws_xml.c core/aws_creds.c \
	core/aws_internal.h
