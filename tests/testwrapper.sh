#!/bin/sh
# tests/testwrapper.sh - runs one test of `make check`. With PGMOVE_VALGRIND=1
# a compiled test runs under valgrind (leaks and errors fail the test);
# shell tests pass the variable on to the pgmove binaries they start.
case "$1" in
*.sh) exec sh "$@" ;;
esac
if [ "${PGMOVE_VALGRIND:-0}" = 1 ]; then
	exec "${top_builddir:-.}/libtool" --mode=execute valgrind -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite "$@"
fi
exec "$@"
