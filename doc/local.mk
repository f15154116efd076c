# doc/local.mk - man pages and guides.
# pgmove(1) is generated from the command table (core/cli/cli.c), so --help and
# the man page say the same thing.
nodist_man_MANS = doc/pgmove.1
doc/pgmove.1: pgmove$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) doc && ./pgmove$(EXEEXT) __man > $@-t && mv $@-t $@
CLEANFILES += doc/pgmove.1
dist_man_MANS += doc/pgmove-runbook.5
# the sandbox script's page (pgmove(1) refers to it)
dist_man_MANS += doc/pgmove-sandbox.1

# pgmove-plugin(3) and the plugin author's guide with its example plugin
# (doc/examples/hello); the test builds the example out of tree against a
# staged install of pgmove and runs it with the installed program.
dist_man_MANS += doc/pgmove-plugin.3
# The guide, the design note of the core's layers and the example are
# installed under $(docdir), so a vendor has them with an installed pgmove.
dist_doc_DATA = doc/plugin-guide.md doc/DESIGN-core.md
helloexampledir = $(docdir)/examples/hello
dist_helloexample_DATA = doc/examples/hello/hello.c doc/examples/hello/Makefile \
	doc/examples/hello/hello.lua doc/examples/hello/test_hello.c
# the C++ and Rust examples (doc/plugin-guide.md, "Plugins in C++ and Rust")
cxxexampledir = $(docdir)/examples/cxx
dist_cxxexample_DATA = doc/examples/cxx/flags.cc doc/examples/cxx/test_flags.cc \
	doc/examples/cxx/Makefile
rustexampledir = $(docdir)/examples/rust
dist_rustexample_DATA = doc/examples/rust/hello_rs.rs doc/examples/rust/Makefile
EXTRA_DIST += tests/engine/test_example_plugin.sh
TESTS += tests/engine/test_example_plugin.sh
