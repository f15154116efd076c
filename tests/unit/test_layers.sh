#!/bin/sh
# tests/unit/test_layers.sh - the core's dependency direction, cli -> engine
# -> host (doc/DESIGN-core.md), in what was built and in what is included:
#  - no symbol a host object (core/host, core/aws: libpgmove) needs is
#    defined by an engine or cli object, and none an engine object needs is
#    defined by a cli object (nm of the objects make built);
#  - a host source includes only headers of include/, core/host, core/aws;
#    an engine source not those of core/cli; a plugin none of core/ (only
#    include/ and plugins' own: copy shares checksum's hashing) (plus
#    config.h, which configure writes);
#  - the check itself catches a host object that calls into the engine;
#  - configure's cleanup was not stopped by the core/ directory (its `rm -f
#    core ...` once failed there and left confdefs.h behind, configure.ac).
. "$(dirname "$0")/../engine/lib.sh"

B=$top_builddir
S=$top_srcdir
host_objs=$(ls "$B"/core/host/.libs/libpgmove_la-*.o "$B"/core/aws/.libs/host_libpgmove_la-*.o 2>/dev/null)
engine_objs=$(ls "$B"/core/engine/.libs/libengine_la-*.o 2>/dev/null)
cli_objs=$(ls "$B"/core/cli/pgmove-*.o 2>/dev/null)
if [ -z "$host_objs" ] || [ -z "$engine_objs" ] || [ -z "$cli_objs" ]; then
	bad "objects of each layer: host='$host_objs' engine='$engine_objs' cli='$cli_objs'"
	finish
	exit 1
fi

# defined OBJ... / needed OBJ... - the global symbols the objects define / need.
defined() { nm -g --defined-only "$@" | awk 'NF == 3 { print $3 }' | sort -u; }
needed() { nm -g -u "$@" | awk 'NF == 2 && $1 == "U" { print $2 }' | sort -u; }
defined $host_objs >"$T/host.def"
defined $engine_objs >"$T/engine.def"
defined $cli_objs >"$T/cli.def"
needed $host_objs >"$T/host.und"
needed $engine_objs >"$T/engine.und"
needed $cli_objs >"$T/cli.und"
[ -s "$T/host.def" ] && [ -s "$T/engine.def" ] && [ -s "$T/cli.def" ] &&
	ok "each layer's objects define symbols" || bad "nm read no symbols"

# upward FROM UPPER... - the symbols FROM's objects need that UPPER layers define.
upward() {
	from=$1
	shift
	for upper in "$@"; do comm -12 "$T/$from.und" "$T/$upper.def"; done | sort -u | tr '\n' ' '
}
equals "$(upward host engine cli)" "" "host objects (libpgmove) need nothing the engine or the cli defines"
equals "$(upward engine cli)" "" "engine objects need nothing the cli defines"
# the arrows that must exist do: the check sees references across layers
n=$(comm -12 "$T/engine.und" "$T/host.def" | wc -l)
[ "$n" -gt 10 ] && ok "engine objects use the host ($n symbols)" || bad "engine uses $n host symbols"
n=$(comm -12 "$T/cli.und" "$T/engine.def" | wc -l)
[ "$n" -gt 10 ] && ok "cli objects use the engine ($n symbols)" || bad "cli uses $n engine symbols"

# The check catches a host object that calls up: an object that needs
# engine_run, as a host file calling the engine would.
cat >"$T/up.c" <<'EOF'
extern int engine_run(const char *path, const void *opts);
int pgm_calls_up(void);
int pgm_calls_up(void)
{
	return engine_run("x", 0);
}
EOF
if cc -c -o "$T/up.o" "$T/up.c" 2>"$T/err"; then
	needed "$T/up.o" >"$T/host.und"
	equals "$(upward host engine cli)" "engine_run " "a host object calling the engine is caught"
else
	bad "cannot compile the negative case"
fi

# includes FILE... - the quoted headers FILE includes, one per line.
includes() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$@" | sort -u; }
# strays DIRS -- FILES... - the headers FILES include that none of DIRS holds.
strays() {
	dirs=
	while [ "$1" != -- ]; do dirs="$dirs $1"; shift; done
	shift
	for h in $(includes "$@"); do
		[ "$h" = config.h ] && continue
		found=
		for d in $dirs; do [ -f "$d/$h" ] && found=1; done
		[ -n "$found" ] || echo "$h"
	done | tr '\n' ' '
}
equals "$(strays "$S/include" "$S/core/host" "$S/core/aws" -- "$S"/core/host/*.[ch] "$S"/core/aws/*.[ch])" "" \
	"host sources include only include/, core/host and core/aws headers"
equals "$(strays "$S/include" "$S/core/host" "$S/core/aws" "$S/core/engine" "$B/core/engine" -- "$S"/core/engine/*.[ch])" "" \
	"engine sources include no cli header"
for d in "$S"/plugins/*/; do
	name=$(basename "$d")
	equals "$(strays "$S/include" "$S/plugins" "$S"/plugins/*/ -- "$d"*.[ch])" "" "plugin $name includes no core header (include/ and plugins/ only)"
done
left=$(cd "$B" && ls -d confdefs.h conftest* 2>/dev/null | tr '\n' ' ')
equals "$left" "" "configure left no confdefs.h or conftest* beside core/ in the build tree"
# and the include check catches a stray: an engine header in a host file
printf '#include "journal.h"\n' >"$T/stray.c"
equals "$(strays "$S/include" "$S/core/host" "$S/core/aws" -- "$T/stray.c")" "journal.h " \
	"a host file including an engine header is caught"
finish
