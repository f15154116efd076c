# tests/aws/local.mk - fragment of Makefile.am
