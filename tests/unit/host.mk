# tests/unit/host.mk - fragment of Makefile.am
