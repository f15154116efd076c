#!/bin/sh
# tests/fuzz/fuzz.sh SECONDS TARGET... - builds the libFuzzer harnesses
# (tests/fuzz/fuzz_TARGET.c) with clang, AddressSanitizer and UBSan, and
# runs each for SECONDS from its seed corpus (tests/fuzz/corpus/TARGET).
# Called by `make fuzz` (which passes srcdir, builddir and the library
# flags); new inputs go to $builddir/tests/fuzz/work/TARGET, crashes to
# $builddir/tests/fuzz/crashes/. Exits 1 when a harness found a crash.
set -eu
seconds=${1:-60}
shift
targets=${*:-awsxml duration luajson journal status args copystream}
: "${srcdir:?}" "${builddir:?}"
CC=${FUZZ_CC:-clang}
out="$builddir/tests/fuzz"
mkdir -p "$out/obj" "$out/work" "$out/crashes"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 $SAN -DPGMOVE_PLUGIN_DIR=\"${PLUGIN_DIR:-/nowhere}\" \
	-I$builddir -I$srcdir/include -I$srcdir/core/host -I$srcdir/core/aws \
	-I$srcdir/core/engine -I$builddir/core/engine -I$srcdir/core/cli ${FUZZ_LIBS_FLAGS:-}"
# the code under test, instrumented for coverage: every core source but main.c
objs=""
for src in "$srcdir"/core/host/*.c "$srcdir"/core/aws/*.c "$srcdir"/core/engine/*.c \
	"$srcdir"/core/cli/*.c; do
	case "$src" in */main.c) continue ;; esac
	o="$out/obj/$(echo "${src#"$srcdir"/}" | tr / _ | sed 's/\.c$/.o/')"
	if [ ! -f "$o" ] || [ "$src" -nt "$o" ]; then
		# shellcheck disable=SC2086
		$CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$o"
	fi
	objs="$objs $o"
done
rc=0
for t in $targets; do
	bin="$out/fuzz_$t"
	# shellcheck disable=SC2086
	$CC $CFLAGS -fsanitize=fuzzer "$srcdir/tests/fuzz/fuzz_$t.c" $objs -o "$bin" ${FUZZ_LIBS:-}
	mkdir -p "$out/work/$t"
	echo "fuzz: $t for ${seconds}s"
	start=$(date +%s)
	if "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$out/crashes/$t-" \
		"$out/work/$t" "$srcdir/tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1; then
		echo "fuzz: $t ran clean for $(($(date +%s) - start))s ($(grep -c '' "$out/$t.log") log lines; $out/$t.log)"
	else
		echo "fuzz: $t FAILED after $(($(date +%s) - start))s: see $out/$t.log and $out/crashes/"
		tail -30 "$out/$t.log"
		rc=1
	fi
done
exit $rc
