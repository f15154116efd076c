#!/bin/sh
# tests/unit/test_symbols.sh - libpgmove's symbol versions: every function
# of include/pgmove/plugin.h is exported as name@@PGMOVE_0.1, nothing is
# exported without a version or without the pgm_ prefix, a plugin built
# here binds to PGMOVE_0.1, and PGMOVE_VERSION_NUM / PGMOVE_VERSION_TEXT in
# plugin.h agree with the package version.
. "$(dirname "$0")/../engine/lib.sh"

LIB="$top_builddir/core/host/.libs/libpgmove.so"
readelf --dyn-syms -W "$LIB" | awk '$7 != "UND" && $5 == "GLOBAL" { print $8 }' >"$T/syms"
[ -s "$T/syms" ] && ok "libpgmove exports symbols" || bad "no symbols read from $LIB"
unversioned=$(grep -v '@@PGMOVE_' "$T/syms" | grep -v '^PGMOVE_' | tr '\n' ' ')
equals "$unversioned" "" "every exported symbol carries a PGMOVE_ version"
foreign=$(sed 's/@.*//' "$T/syms" | grep -v '^pgm_' | grep -v '^PGMOVE_' | tr '\n' ' ')
equals "$foreign" "" "only pgm_ symbols are exported"
missing=""
for f in $(cat "$top_srcdir/include/pgmove/plugin.h" "$top_srcdir/include/pgmove/plugin-test.h" |
	grep -o '\bpgm_[a-z0-9_]*(' | tr -d '(' | sort -u); do
	case $f in pgm_debug | pgm_info | pgm_notice | pgm_warn | pgm_error) continue ;; esac
	grep -qx "$f@@PGMOVE_0.1" "$T/syms" || missing="$missing $f"
done
equals "$missing" "" "every function of plugin.h and plugin-test.h is exported as @@PGMOVE_0.1"
private=$(grep '@@PGMOVE_PRIVATE' "$T/syms" | sed 's/@.*//' | while read -r s; do
	grep -q "\b$s(" "$top_srcdir/include/pgmove/plugin.h" && echo "$s"; done | tr '\n' ' ')
equals "$private" "" "no function of plugin.h is private"
PLUG="$top_builddir/tests/plugins/.libs/testplug.so"
if [ -f "$PLUG" ]; then
	n=$(readelf --dyn-syms -W "$PLUG" | grep -c 'UND pgm_[a-z_]*@PGMOVE_0.1')
	[ "$n" -gt 3 ] && ok "a plugin binds to PGMOVE_0.1 ($n symbols)" || bad "testplug binds $n symbols to PGMOVE_0.1"
fi
pkgver=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$top_builddir/config.h")
text=$(sed -n 's/^#define PGMOVE_VERSION_TEXT "\(.*\)"/\1/p' "$top_srcdir/include/pgmove/plugin.h")
num=$(sed -n 's/^#define PGMOVE_VERSION_NUM \([0-9]*\)/\1/p' "$top_srcdir/include/pgmove/plugin.h")
equals "$text" "$pkgver" "PGMOVE_VERSION_TEXT is the package version"
want=$(echo "$pkgver" | awk -F. '{ print $1 * 10000 + $2 * 100 + $3 }')
equals "$num" "$want" "PGMOVE_VERSION_NUM is the package version as a number"
finish
