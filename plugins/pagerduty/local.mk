# plugins/pagerduty/local.mk - fragment of Makefile.am: the pagerduty plugin
# (Events API v2 alerts and change events) through libpgmove's HTTP client.
pkglib_LTLIBRARIES += plugins/pagerduty/pagerduty.la
plugins_pagerduty_pagerduty_la_SOURCES = plugins/pagerduty/pagerduty.c
plugins_pagerduty_pagerduty_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_pagerduty_pagerduty_la_LIBADD = $(LIBPGMOVE) $(JANSSON_LIBS)
