# core/host/local.mk - libpgmove: the host services plugins link against
# (call, log, redact, duration, args, http, mail, child, pgconn). The AWS layer
# (core/aws/local.mk) is part of the same library. Nothing here may include
# an engine or cli header: its include path holds only include/, core/host
# and core/aws.
lib_LTLIBRARIES += core/host/libpgmove.la
core_host_libpgmove_la_SOURCES = core/host/host.h core/host/hostpriv.h \
	core/host/call.c core/host/log.c core/host/redact.c core/host/duration.c \
	core/host/args.c core/host/http.c core/host/mail.c core/host/child.c core/host/pgconn.c \
	core/host/utf8.c core/host/ptable.c
# the test host of <pgmove/plugin-test.h> (plugins' unit tests)
core_host_libpgmove_la_SOURCES += core/host/testhost.c
core_host_libpgmove_la_CPPFLAGS = $(HOST_CPPFLAGS)
core_host_libpgmove_la_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS) $(CURL_CFLAGS) $(XML_CFLAGS) \
	$(CRYPTO_CFLAGS) $(JANSSON_CFLAGS)
core_host_libpgmove_la_LIBADD = $(PQ_LIBS) $(CURL_LIBS) $(XML_LIBS) $(CRYPTO_LIBS) \
	$(JANSSON_LIBS) -lpthread
# Every exported symbol carries a version (core/host/libpgmove.map).
core_host_libpgmove_la_LDFLAGS = -version-info 0:0:0 -no-undefined \
	-Wl,--version-script=$(top_srcdir)/core/host/libpgmove.map
EXTRA_core_host_libpgmove_la_DEPENDENCIES = core/host/libpgmove.map
EXTRA_DIST += core/host/libpgmove.map
