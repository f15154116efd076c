# tests/engine/local.mk - fragment of Makefile.am
