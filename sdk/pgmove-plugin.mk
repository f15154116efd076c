# pgmove-plugin.mk - builds a pgmove plugin out of tree (like PostgreSQL's
# PGXS). Installed with pgmove; a plugin's Makefile sets a few variables and
# includes it:
#
#   PLUGIN = hello                 # the plugin's name: hello.so, PGMOVE_PLUGIN(hello)
#   SRCS = hello.c                 # its sources (C, or C++ .cc/.cpp)
#   TEST_SRCS = test_hello.c       # optional: unit tests on <pgmove/plugin-test.h>
#   include $(shell pkg-config --variable=pluginmk pgmove)
#
# Targets:
#   all        $(PLUGIN).so, linked with -Wl,-z,defs (an undefined symbol is a
#              link error, never a load error) and exporting only the
#              descriptor $(PLUGIN)_LTX_pgmove_plugin
#   test       builds and runs the unit tests (TEST_SRCS) as $(PLUGIN)-tests
#   check      the unit tests (TEST_SRCS), then the installed pgmove lists the
#              plugin from the build directory (skipped when pgmove is not on PATH)
#   install    $(DESTDIR)$(PLUGINDIR)/$(PLUGIN).so
#   uninstall  removes exactly that file
#   clean
# Variables: PKG_CONFIG, CC, CXX, CFLAGS, CXXFLAGS, CPPFLAGS, LDFLAGS, LIBS,
# PGMOVE (the program for check), PLUGINDIR (default: pgmove's plugindir
# from pkg-config; an autoconf build sets it from PGMOVE_PLUGIN, see
# pgmove.m4), DESTDIR.

ifndef PLUGIN
$(error pgmove-plugin.mk: set PLUGIN (the plugin's name) before including it)
endif
ifndef SRCS
$(error pgmove-plugin.mk: set SRCS (the plugin's sources) before including it)
endif

PKG_CONFIG ?= pkg-config
PGMOVE ?= pgmove
CFLAGS ?= -O2 -g -Wall -Wextra
CXXFLAGS ?= -O2 -g -Wall -Wextra
PGMOVE_CFLAGS := $(shell $(PKG_CONFIG) --cflags pgmove 2>/dev/null)
PGMOVE_LIBS := $(shell $(PKG_CONFIG) --libs pgmove 2>/dev/null)
PLUGINDIR ?= $(shell $(PKG_CONFIG) --variable=plugindir pgmove 2>/dev/null)

PGMOVE_OBJS = $(addsuffix .o,$(basename $(SRCS)))
PGMOVE_TEST_OBJS = $(addsuffix .o,$(basename $(TEST_SRCS)))
# C++ sources link with the C++ compiler
PGMOVE_LINK = $(if $(filter %.cc %.cpp %.cxx,$(SRCS) $(TEST_SRCS)),$(CXX) $(CXXFLAGS),$(CC) $(CFLAGS))

all: $(PLUGIN).so

pgmove-pc-check:
	@$(PKG_CONFIG) --exists --print-errors pgmove || \
	  { echo "$(PLUGIN): pkg-config cannot use pgmove (its reason is above); when" \
	    "pgmove is installed under a prefix pkg-config does not search, set" \
	    "PKG_CONFIG_PATH=<prefix>/lib/pkgconfig" >&2; exit 1; }

%.o: %.c | pgmove-pc-check
	$(CC) -fPIC $(CPPFLAGS) $(CFLAGS) $(PGMOVE_CFLAGS) -c -o $@ $<
%.o: %.cc | pgmove-pc-check
	$(CXX) -fPIC $(CPPFLAGS) $(CXXFLAGS) $(PGMOVE_CFLAGS) -c -o $@ $<
%.o: %.cpp | pgmove-pc-check
	$(CXX) -fPIC $(CPPFLAGS) $(CXXFLAGS) $(PGMOVE_CFLAGS) -c -o $@ $<

# Only the descriptor is exported (pgmove-plugin(3): keep the rest static).
$(PLUGIN).exports:
	printf '{ global: %s_LTX_pgmove_plugin; local: *; };\n' '$(PLUGIN)' > $@

$(PLUGIN).so: $(PGMOVE_OBJS) $(PLUGIN).exports
	$(PGMOVE_LINK) -shared -o $@ $(PGMOVE_OBJS) $(LDFLAGS) -Wl,-z,defs \
	  -Wl,--version-script=$(PLUGIN).exports $(PGMOVE_LIBS) $(LIBS)

$(PLUGIN)-tests: $(PGMOVE_OBJS) $(PGMOVE_TEST_OBJS)
	$(PGMOVE_LINK) -o $@ $(PGMOVE_OBJS) $(PGMOVE_TEST_OBJS) $(LDFLAGS) $(PGMOVE_LIBS) $(LIBS)

test: $(PLUGIN)-tests
	./$(PLUGIN)-tests

check: $(PLUGIN).so $(if $(TEST_SRCS),$(PLUGIN)-tests)
	$(if $(TEST_SRCS),./$(PLUGIN)-tests)
	@if command -v $(PGMOVE) >/dev/null 2>&1; then \
	  echo "PGMOVE_PLUGIN_PATH=$(CURDIR) $(PGMOVE) plugins $(PLUGIN)"; \
	  PGMOVE_PLUGIN_PATH=$(CURDIR) $(PGMOVE) plugins $(PLUGIN) >/dev/null; \
	else echo "$(PLUGIN): $(PGMOVE) not found: not asking pgmove to load the plugin"; fi

install: $(PLUGIN).so
	@test -n "$(PLUGINDIR)" || { echo "$(PLUGIN): PLUGINDIR is empty (pkg-config" \
	  "--variable=plugindir pgmove gave nothing): set PLUGINDIR" >&2; exit 1; }
	install -d $(DESTDIR)$(PLUGINDIR)
	install -m 0755 $(PLUGIN).so $(DESTDIR)$(PLUGINDIR)/$(PLUGIN).so

uninstall:
	rm -f $(DESTDIR)$(PLUGINDIR)/$(PLUGIN).so

clean:
	rm -f $(PLUGIN).so $(PLUGIN).exports $(PLUGIN)-tests $(PGMOVE_OBJS) $(PGMOVE_TEST_OBJS)

.PHONY: all test check install uninstall clean pgmove-pc-check
