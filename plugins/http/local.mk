# plugins/http/local.mk - fragment of Makefile.am: the http plugin
# (requests, health checks, webhooks, mail, feature flags) through
# libpgmove's HTTP and SMTP client.
pkglib_LTLIBRARIES += plugins/http/http.la
plugins_http_http_la_SOURCES = plugins/http/http.c
plugins_http_http_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_http_http_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS)
# libcurl's URL parser (base_url, allowed_hosts); requests go through libpgmove
plugins_http_http_la_LIBADD = $(LIBPGMOVE) $(CURL_LIBS) $(JANSSON_LIBS)
