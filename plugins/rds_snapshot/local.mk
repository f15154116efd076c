# plugins/rds_snapshot/local.mk - fragment of Makefile.am
