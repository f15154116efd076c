# tests/unit/engine.mk - fragment of Makefile.am
