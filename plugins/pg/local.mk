# plugins/pg/local.mk - fragment of Makefile.am
