# doc/local.mk - man pages and guides.
# pgmove(1) is generated from the command table (core/cli.c), so --help and
# the man page say the same thing.
nodist_man_MANS = doc/pgmove.1
doc/pgmove.1: core/pgmove$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) doc && core/pgmove$(EXEEXT) __man > $@-t && mv $@-t $@
CLEANFILES += doc/pgmove.1
dist_man_MANS += doc/pgmove-runbook.5
