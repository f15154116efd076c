# core/cli/local.mk - the pgmove program: one file per command group, built
# at the top of the build tree as ./pgmove.
bin_PROGRAMS += pgmove
pgmove_SOURCES = core/cli/main.c core/cli/cli.c core/cli/cli.h core/cli/cli_run.c \
	core/cli/cli_status.c core/cli/cli_ops.c core/cli/cli_plugins.c core/cli/cli_test.c \
	core/cli/cli_report_html.c
pgmove_CPPFLAGS = $(CLI_CPPFLAGS)
pgmove_CFLAGS = $(AM_CFLAGS) $(LUA_CFLAGS) $(JANSSON_CFLAGS)
pgmove_LDADD = $(LIBENGINE) $(LIBPGMOVE) $(JANSSON_LIBS)
