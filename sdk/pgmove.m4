# pgmove.m4 - autoconf support for building pgmove plugins. Installed with
# pgmove into $(datadir)/aclocal.
#
# PGMOVE_PLUGIN([MIN-VERSION])
# Finds pgmove with pkg-config (at least MIN-VERSION when given) and sets
#   PGMOVE_CFLAGS, PGMOVE_LIBS    for compiling and linking the plugin
#   pgmoveplugindir               where `make install` puts it:
#                                 '${libdir}/pgmove', relative to this
#                                 package's prefix, so `make distcheck`
#                                 (which installs under a scratch prefix)
#                                 never writes into, or deletes from, the live
#                                 plugin directory
#   PGMOVE_PLUGIN_MK              pgmove-plugin.mk, for a Makefile.in to include
#   PGMOVE_LIVE_PLUGINDIR         the installed pgmove's own plugin directory
#                                 (pkg-config --variable=plugindir pgmove), for
#                                 messages and for --with-pgmove-plugindir=live
# --with-pgmove-plugindir=DIR installs elsewhere ("live": into the installed
# pgmove's directory). pgmove searches its own directory and $PGMOVE_PLUGIN_PATH:
# configure with pgmove's prefix, use --with-pgmove-plugindir=live, or add
# ${libdir}/pgmove to PGMOVE_PLUGIN_PATH.
AC_DEFUN([PGMOVE_PLUGIN],
[AC_REQUIRE([PKG_PROG_PKG_CONFIG])dnl
m4_ifval([$1],
  [PKG_CHECK_MODULES([PGMOVE], [pgmove >= $1])],
  [PKG_CHECK_MODULES([PGMOVE], [pgmove])])
PGMOVE_LIVE_PLUGINDIR=`$PKG_CONFIG --variable=plugindir pgmove`
PGMOVE_PLUGIN_MK=`$PKG_CONFIG --variable=pluginmk pgmove`
AC_ARG_WITH([pgmove-plugindir],
  [AS_HELP_STRING([--with-pgmove-plugindir=DIR],
    [install the plugin into DIR ("live": the installed pgmove's plugin directory)
     @<:@LIBDIR/pgmove@:>@])],
  [AS_CASE([$withval],
     [live], [pgmoveplugindir=$PGMOVE_LIVE_PLUGINDIR],
     [yes|no|""], [AC_MSG_ERROR([--with-pgmove-plugindir needs a directory or "live"])],
     [pgmoveplugindir=$withval])],
  [pgmoveplugindir='${libdir}/pgmove'])
AC_SUBST([pgmoveplugindir])
AC_SUBST([PGMOVE_LIVE_PLUGINDIR])
AC_SUBST([PGMOVE_PLUGIN_MK])
AC_MSG_NOTICE([the plugin installs into $pgmoveplugindir (the installed pgmove loads from $PGMOVE_LIVE_PLUGINDIR and \$PGMOVE_PLUGIN_PATH)])
])
