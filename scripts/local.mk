# scripts/local.mk - fragment of Makefile.am
