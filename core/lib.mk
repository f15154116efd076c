# core/lib.mk - libpgmove: the host services plugins link against.
lib_LTLIBRARIES += core/libpgmove.la
core_libpgmove_la_SOURCES = core/host.h core/hostpriv.h \
	core/call.c core/log.c core/redact.c core/duration.c core/args.c \
	core/http.c core/child.c core/pgconn.c
core_libpgmove_la_CFLAGS = $(AM_CFLAGS) $(PQ_CFLAGS) $(CURL_CFLAGS) $(XML_CFLAGS) \
	$(CRYPTO_CFLAGS) $(JANSSON_CFLAGS)
core_libpgmove_la_LIBADD = $(PQ_LIBS) $(CURL_LIBS) $(XML_LIBS) $(CRYPTO_LIBS) \
	$(JANSSON_LIBS) -lpthread
core_libpgmove_la_LDFLAGS = -version-info 0:0:0 -no-undefined \
	-export-symbols-regex '^pgm_'
