# tests/pg/local.mk - fragment of Makefile.am
