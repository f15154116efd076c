#!/bin/sh
# tests/testwrapper.sh - runs one test of `make check`. With PGMOVE_VALGRIND=1
# a compiled test runs under valgrind (leaks and errors fail the test);
# shell tests pass the variable on to the pgmove binaries they start.
#
# In a build configured with --enable-asan, every process of the test
# (pgmove started by a shell test, in the background, or as a child, the
# compiled tests) writes its AddressSanitizer / LeakSanitizer / UBSan
# reports to files of one folder (log_path), and the test fails when that
# folder is not empty at its end, whatever the test's exit status: a report
# from a pgmove that a test expected to fail, or whose stderr it does not
# read, is not lost. The reports are copied into the test's log. Options the
# caller exported (ASAN_OPTIONS, UBSAN_OPTIONS) are kept; the suppressions
# of tests/sanitizer/ (reports in libraries that are not ours) are added.
san=
if [ -n "${top_builddir:-}" ] && grep -q -- '-fsanitize=address' "$top_builddir/Makefile" 2>/dev/null; then
	san=$(mktemp -d "${TMPDIR:-/tmp}/pgmove-san.XXXXXX") || exit 99
	supp=${top_srcdir:-.}/tests/sanitizer
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san/asan"
	LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$supp/lsan.supp:print_suppressions=0"
	UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$san/ubsan:suppressions=$supp/ubsan.supp"
	export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi
case "$1" in
*.sh) set -- sh "$@" ;;
*)
	if [ "${PGMOVE_VALGRIND:-0}" = 1 ]; then
		set -- "${top_builddir:-.}/libtool" --mode=execute valgrind -q --error-exitcode=99 \
			--leak-check=full --errors-for-leak-kinds=definite "$@"
	fi
	;;
esac
[ -n "$san" ] || exec "$@"
"$@"
rc=$?
if [ -n "$(ls -A "$san")" ]; then
	for f in "$san"/*; do
		echo "testwrapper: sanitizer report in $(basename "$f") (a process of this test):"
		cat "$f"
	done
	echo "testwrapper: FAIL: sanitizer reports (the test itself exited $rc)"
	rm -rf "$san"
	exit 1
fi
rm -rf "$san"
exit $rc
