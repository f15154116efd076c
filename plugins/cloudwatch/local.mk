# plugins/cloudwatch/local.mk - fragment of Makefile.am
