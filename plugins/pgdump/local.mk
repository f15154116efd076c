# plugins/pgdump/local.mk - fragment of Makefile.am
