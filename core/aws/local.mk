# core/aws/local.mk - the AWS layer of libpgmove (SigV4, credentials,
# Query/JSON protocols, retries), built into core/host/libpgmove.la.
core_host_libpgmove_la_SOURCES += core/aws/aws.c core/aws/aws_sigv4.c core/aws/aws_xml.c \
	core/aws/aws_creds.c core/aws/aws_internal.h
