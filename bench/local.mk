# bench/local.mk - fragment of Makefile.am
