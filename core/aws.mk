# core/aws.mk - fragment of Makefile.am
