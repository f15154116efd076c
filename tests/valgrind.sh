# tests/valgrind.sh - sourced by tests/engine/lib.sh and tests/aws/lib.sh, so
# by every shell test: time limits that scale, and pgmove under valgrind.
#   TIME_FACTOR   how many times longer than on an idle machine a test's time
#                 limit may be: PGMOVE_TIME_FACTOR, else 10 under valgrind, else 1
#   limit SECONDS SECONDS scaled by TIME_FACTOR (time limits that pass under load)
#   vg_wrap BIN   prints the command that runs the program BIN: BIN itself, or
#                 with PGMOVE_VALGRIND=1 a script that execs valgrind on BIN
#                 (same pid, so `kill` and `wait` reach pgmove itself), its
#                 report in a log of its own
#   vg_check      0 when no valgrind log names an error (invalid read or write,
#                 uninitialised value, bad free, definite leak...); otherwise
#                 prints the logs that do and returns 1. The libraries' finish
#                 calls it: an error fails the test even when the test did not
#                 look at pgmove's exit status (99 on a valgrind error).
#                 VG_EXPECTED, a regex, names the frames of errors a test
#                 causes on purpose (a plugin's deliberate crash).
#   vg_cleanup    removes the wrappers and logs (from the libraries' cleanup)
TIME_FACTOR=${PGMOVE_TIME_FACTOR:-1}
[ "${PGMOVE_VALGRIND:-0}" = 1 ] && [ -z "${PGMOVE_TIME_FACTOR:-}" ] && TIME_FACTOR=10
limit() { echo $(($1 * TIME_FACTOR)); }

VG_DIR=
if [ "${PGMOVE_VALGRIND:-0}" = 1 ]; then
	# Outside the test's own directory: some tests run pgmove as another
	# user (who must reach the wrapper and write a log) or count files.
	VG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/valgrind-pgmove.XXXXXX")
	mkdir "$VG_DIR/logs"
	chmod 0755 "$VG_DIR"
	chmod 1777 "$VG_DIR/logs"
fi

vg_wrap() {
	if [ -z "$VG_DIR" ]; then
		printf '%s\n' "$1"
		return 0
	fi
	vg_d=$(mktemp -d "$VG_DIR/bin.XXXXXX")
	chmod 0755 "$vg_d"
	vg_lt="$(cd "${top_builddir:-.}" && pwd)/libtool"
	# --vgdb=no: no FIFOs in TMPDIR (left behind by kill -9).
	cat >"$vg_d/pgmove" <<EOF
#!/bin/sh
exec "$vg_lt" --mode=execute valgrind -q --vgdb=no --error-exitcode=99 --leak-check=full \\
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \\
	--log-file="$VG_DIR/logs/pgmove.%p.log" "$1" "\$@"
EOF
	chmod 0755 "$vg_d/pgmove"
	printf '%s\n' "$vg_d/pgmove"
}

vg_check() {
	[ -n "$VG_DIR" ] || return 0
	vg_rc=0
	for vg_f in "$VG_DIR"/logs/*.log; do
		[ -s "$vg_f" ] || continue
		# one paragraph per report; VG_EXPECTED (a regex) names the frames
		# of a crash a test causes on purpose (a plugin's NULL write)
		if sed 's/^==[0-9]*== \{0,1\}//' "$vg_f" | awk -v ign="${VG_EXPECTED:-}" '
			BEGIN { RS = ""; bad = 0 }
			/Invalid (read|write|free)|[Uu]ninitialised|Conditional jump|Mismatched free|Syscall param|overlap|definitely lost|Jump to the invalid|fishy|Illegal opcode|Process terminating with default action of signal (4|6|7|8|11) / {
				if (ign == "" || $0 !~ ign) bad = 1
			}
			END { exit bad ? 0 : 1 }'; then
			echo "valgrind found errors in pgmove ($(basename "$vg_f")):"
			sed 's/^/    | /' "$vg_f" | head -80
			vg_rc=1
		fi
	done
	return $vg_rc
}

vg_cleanup() {
	[ -z "$VG_DIR" ] || rm -rf "$VG_DIR"
}
