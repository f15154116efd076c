# doc/local.mk - fragment of Makefile.am
