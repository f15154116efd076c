# plugins/checksum/local.mk - fragment of Makefile.am
