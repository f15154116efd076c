#!/bin/sh
# tests/engine/test_example_plugin.sh - the plugin author's example
# (doc/examples/hello) builds OUT OF TREE against an installed pgmove, with
# nothing but its pkg-config file, and the installed pgmove loads and runs it.
#
# pgmove is installed with DESTDIR: the installed pgmove.pc names the
# configured prefix, so `make install prefix=...` would install a .pc file
# that points elsewhere; DESTDIR with PKG_CONFIG_SYSROOT_DIR is the staged
# install pkg-config understands. Only what a plugin author needs is
# installed: libpgmove, the pgmove program, plugin.h and pgmove.pc.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/engine/lib.sh"

# Make variables of an outer `make check` must not leak into ours.
unset MAKEFLAGS MFLAGS MAKELEVEL
# In a build configured with --enable-asan, libpgmove.so calls the
# sanitizers' runtime, which clang links into programs only: the examples'
# unit-test programs are linked with it (their plugins are not: pgmove has it).
SAN_LDFLAGS=
if grep -q -- '-fsanitize=address' "$top_builddir/Makefile"; then
	SAN_LDFLAGS='-fsanitize=address,undefined'
fi
DEST="$T/dest"
expect 0 "make install into a staging directory (DESTDIR)" \
	make -C "$top_builddir" install-libLTLIBRARIES install-binPROGRAMS \
	install-pkgincludeHEADERS install-pkgconfigDATA install-dist_docDATA \
	install-dist_helloexampleDATA install-dist_pgmovesdkDATA install-dist_aclocalDATA \
	install-dist_cxxexampleDATA install-dist_rustexampleDATA install-man install-dist_binSCRIPTS \
	DESTDIR="$DEST"

# Every pgmove page an installed man page refers to is installed too.
pages=$(find "$DEST" -path '*/share/man/man*' -type f | sort)
[ -n "$pages" ] && ok "man pages installed: $(echo "$pages" | sed 's|.*/||' | tr '\n' ' ')" || bad "no man page installed"
missing=""
for m in $pages; do
	for ref in $(grep -ohE '(\\fB|^\.BR )?pgmove(\\-|-)?[a-z-]*(\\fR)? ?\([1-8]\)' "$m" |
		sed -E 's/\\fB|\\fR|^\.BR |\\//g; s/ ?\(([1-8])\)/.\1/' | sort -u); do
		[ -f "$(dirname "$(dirname "$m")")/man${ref##*.}/$ref" ] || missing="$missing $(basename "$m")->$ref"
	done
done
equals "$missing" "" "every pgmove page the installed man pages refer to is installed"

pc=$(find "$DEST" -name pgmove.pc 2>/dev/null | head -1)
bin=$(find "$DEST" -path '*/bin/pgmove' -type f 2>/dev/null | head -1)
lib=$(find "$DEST" -name 'libpgmove.so.*' 2>/dev/null | head -1)
hdr=$(find "$DEST" -path '*/include/pgmove/plugin.h' 2>/dev/null | head -1)
if [ -n "$pc" ] && [ -n "$bin" ] && [ -n "$lib" ] && [ -n "$hdr" ]; then
	ok "installed pgmove.pc, bin/pgmove, libpgmove.so, include/pgmove/plugin.h"
else
	bad "installed files: pc='$pc' bin='$bin' lib='$lib' header='$hdr'"
	finish
	exit 1
fi
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR="$DEST"
LD_LIBRARY_PATH=$(dirname "$lib")
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR LD_LIBRARY_PATH

pkg-config --cflags pgmove >"$T/cflags" 2>"$T/err"
has "$T/cflags" "-I$DEST[^ ]*/include" "pkg-config --cflags pgmove points into the installed tree"
# Only jansson's .pc is needed besides pgmove's: not those of libpq, libcurl,
# libxml2 or libcrypto (libpgmove's private dependencies).
mkdir -p "$T/pconly"
cp "$(PKG_CONFIG_SYSROOT_DIR= pkg-config --variable=pcfiledir jansson)/jansson.pc" "$T/pconly/"
PKG_CONFIG_LIBDIR="$T/pconly" pkg-config --cflags --libs pgmove >"$T/out" 2>"$T/err"
equals "$?" 0 "pkg-config --cflags --libs pgmove works with only jansson.pc besides pgmove.pc"
has "$T/out" "-lpgmove" "and gives -lpgmove"
mkdir -p "$T/nopc"
cp "$top_srcdir/doc/examples/hello/hello.c" "$top_srcdir/doc/examples/hello/Makefile" "$T/nopc/"
PKG_CONFIG_PATH="$T/nopc" PKG_CONFIG_LIBDIR="$T/nopc" make -C "$T/nopc" >"$T/out" 2>"$T/err"
has "$T/err" "Package pgmove was not found" "without pgmove.pc the example's make shows pkg-config's own reason"
has "$T/err" "set PKG_CONFIG_PATH=<prefix>/lib/pkgconfig" "and what to do"

# Build a copy of the example, as a vendor would: away from the source and
# build trees (which may be read-only, as under distcheck), with warnings
# as errors so the example stays clean.
# The guide and the example are installed under $docdir: build the
# installed copy, as a vendor who has only the installed pgmove would.
guide=$(find "$DEST" -path '*/doc/pgmove/plugin-guide.md' 2>/dev/null | head -1)
design=$(find "$DEST" -path '*/doc/pgmove/DESIGN-core.md' 2>/dev/null | head -1)
example=$(find "$DEST" -path '*/doc/pgmove/examples/hello' -type d 2>/dev/null | head -1)
[ -n "$guide" ] && [ -n "$design" ] && [ -n "$example" ] &&
	ok "the guide, the design note and the example are installed under docdir" ||
	bad "installed docs: guide='$guide' design='$design' example='$example'"
mkdir -p "$T/hello"
cp "$example/hello.c" "$example/Makefile" "$example/hello.lua" "$example/test_hello.c" "$T/hello/"
# its unit tests on the installed test host (<pgmove/plugin-test.h>), no pgmove program
expect 0 "make test: the example's unit tests on the test host" \
	make -C "$T/hello" test CFLAGS='-O1 -g -std=c11 -Wall -Wextra -Werror' LDFLAGS="$SAN_LDFLAGS"
has "$T/out" "test_hello: all checks passed" "the example's unit tests pass"
make -C "$T/hello" clean >/dev/null 2>&1
expect 0 "the example builds with make and pkg-config, out of tree" \
	make -C "$T/hello" CFLAGS='-O1 -g -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Werror'
has "$T/out" "-I$DEST" "the compile line took the installed header's directory from pkg-config"
lacks "$T/out" "$top_srcdir/include|$top_builddir" "the compile line does not use the source or build tree"
has "$T/out" "-Wl,-z,defs" "the plugin is linked with -z defs (pgmove-plugin.mk)"
exported=$(nm -D --defined-only "$T/hello/hello.so" | awk '{ print $3 }' | tr '\n' ' ')
equals "$exported" "hello_LTX_pgmove_plugin " "hello.so exports only its descriptor"
# an undefined symbol is a link error with pgmove-plugin.mk, never a load error
mkdir -p "$T/undef"
cat >"$T/undef/undef.c" <<'CEOF'
#include <pgmove/plugin.h>
extern int undef_helper(void);
static json_t *x(pgm_call *call, json_t *args)
{
	(void)call;
	(void)args;
	return json_integer(undef_helper());
}
static const pgm_function fns[] = { { "x", x, 0, "x", NULL }, { NULL, NULL, 0, NULL, NULL } };
PGMOVE_PLUGIN(undef) = { .abi = PGMOVE_PLUGIN_ABI, .name = "undef", .functions = fns };
CEOF
printf 'PLUGIN = undef\nSRCS = undef.c\ninclude $(shell pkg-config --variable=pluginmk pgmove)\n' >"$T/undef/Makefile"
expect 2 "pgmove-plugin.mk refuses to link a plugin with an undefined symbol" make -C "$T/undef"
has "$T/err" "undefined reference to .undef_helper" "the linker names the symbol"
expect 0 "make install PLUGINDIR=..." make -C "$T/hello" install PLUGINDIR="$T/plugins"
if [ -f "$T/plugins/hello.so" ]; then ok "hello.so installed"; else bad "no $T/plugins/hello.so"; fi

# From here on: the installed pgmove, with only the example on the path.
PGMOVE_BIN=$(vg_wrap "$bin")
export PGMOVE_PLUGIN_PATH="$T/plugins"

expect 0 "pgmove plugins" pgmove plugins
has "$T/out" "^hello 1\\.0\\.0 - an example plugin" "plugins lists hello with its version and summary"
has "$T/out" "$T/plugins/hello\\.so" "plugins shows where hello was loaded from"
has "$T/out" "greet +\\[idempotent,read-only\\]" "greet is idempotent and read-only"
has "$T/out" "delete_file +\\[idempotent,irreversible\\]" "delete_file is irreversible"
has "$T/out" "token +string +secret" "the token parameter is marked secret"

expect 0 "pgmove plugins hello --json" pgmove plugins hello --json
has "$T/out" '"name": "http_status"' "the JSON listing has http_status"

expect 0 "pgmove call hello.greet name=x" pgmove call hello.greet name=x
has "$T/out" '"message": "Hello, x!"' "greet answers Hello, x!"
expect 0 "greet with greeting and shout" pgmove call hello.greet name=x greeting=Hi shout=true
has "$T/out" '"message": "Hi, x!!!"' "greet uses its optional parameters"

expect 2 "greet without its required argument" pgmove call hello.greet
has "$T/err" "hello.greet: argument 'name' is required" "the host checks required arguments"
expect 2 "greet with an unknown argument" pgmove call hello.greet name=x colour=red
has "$T/err" "unknown argument 'colour'" "the host refuses unknown arguments"
expect 1 "greet with an empty name" pgmove call hello.greet name= --json
has "$T/out" '"code": "args.invalid"' "the plugin's own check fails with args.invalid"

HELLO_GREETING=
export HELLO_GREETING
expect 1 "init refuses an empty HELLO_GREETING" pgmove call hello.greet name=x
unset HELLO_GREETING
has "$T/err" "plugin hello: .*init failed" "a failed init is a loader error"

expect 1 "countdown past its deadline" pgmove call hello.countdown ticks=200 every=50ms \
	--timeout 300ms --json
has "$T/out" '"code": "pgmove.timeout"' "countdown stops between ticks at the deadline"

# http_status against a small local HTTP server: / answers 200, /down 503,
# /auth 200 only with the right bearer token.
cat >"$T/server.py" <<'PYEOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200
        if self.path == "/down":
            code = 503
        elif self.path == "/auth" and self.headers.get("Authorization") != "Bearer s3cr3t-t0ken":
            code = 401
        body = b"hello\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PYEOF
"$PY" "$T/server.py" "$T/port" >"$T/server.log" 2>&1 &
server=$!
if wait_for "$T/port" 10; then
	base="http://127.0.0.1:$(cat "$T/port")"
	expect 0 "http_status of a page" pgmove call hello.http_status url="$base/"
	has "$T/out" '"status": 200' "http_status reports 200"
	has "$T/out" '"content_type": "text/plain"' "http_status reads the response headers"
	expect 1 "http_status of a failing page" pgmove call hello.http_status url="$base/down"
	has "$T/err" "hello.server_error: .*HTTP 503 \\(retryable\\)" "a 5xx is a retryable hello.server_error"
	expect 1 "http_status with expect" pgmove call hello.http_status url="$base/auth" expect=200
	has "$T/err" "hello.unexpected_status: .*HTTP 401, expected 200" "a wrong status is hello.unexpected_status"
	HELLO_TOKEN=s3cr3t-t0ken
	export HELLO_TOKEN
	expect 0 "http_status with a token from the environment" \
		pgmove call hello.http_status url="$base/auth" token=@env:HELLO_TOKEN expect=200 -v
	has "$T/out" '"status": 200' "the token reached the server in the header"
	lacks "$T/err" "s3cr3t-t0ken" "the token never reaches the log"
else
	bad "the local HTTP server did not start"
fi
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
expect 1 "http_status of a closed port" pgmove call hello.http_status url=http://127.0.0.1:1/
has "$T/err" "http\\.connect: .*\\(retryable\\)" "a refused connection is a retryable http.connect"

# The runbook of the guide (doc/plugin-guide.md) with the installed pgmove.
cp "$T/hello/hello.lua" "$T/hello.lua"
expect 0 "the guide's runbook runs" pgmove run "$T/hello.lua" -p dir="$T"
if [ -f "$T/greeting.txt" ] && grep -q "Hello, runbook!" "$T/greeting.txt"; then
	ok "the runbook's step wrote the greeting"
else
	bad "no greeting in $T/greeting.txt"
fi
expect 5 "pgmove rollback undoes the write (exit 5: rolled back)" pgmove rollback "$(run_dir hello-example)"
if [ -f "$T/greeting.txt" ]; then bad "greeting.txt is still there"; else ok "the undo deleted the file"; fi

# The example's configuration block, checked when the runbook loads.
cat >"$T/hellocfg.lua" <<'LUA'
runbook "hello-cfg" {}
local hello = plugin "hello" { greeting = "Howdy" }
step "greet" { run = function(ctx) return hello.greet { name = "config" } end }
LUA
expect 0 "a runbook configures the example plugin" pgmove run "$T/hellocfg.lua"
expect 0 "status --json" pgmove status --json
has "$T/out" '"message": "Howdy, config!"' "greet used the configured greeting"
printf 'runbook "hello-cfg2" {}\nlocal hello = plugin "hello" { greting = "Howdy" }\n' >"$T/hellobad.lua"
expect 6 "a misspelt configuration key is refused by plan" pgmove plan "$T/hellobad.lua"
has "$T/err" "hellobad.lua:2: plugin hello \\{ ... \\}: unknown key 'greting' \\(keys: greeting, token\\)" "naming the key and the known ones"

# An autoconf build with pgmove.m4: the plugin directory is relative to the
# package's prefix, so an install under a scratch prefix (what distcheck
# does) never touches the installed pgmove's plugin directory.
aclocal_dir=$(find "$DEST" -name pgmove.m4 -path '*/aclocal/*' | head -1 | xargs dirname)
live=$(pkg-config --variable=plugindir pgmove)
mkdir -p "$T/ac"
cp "$T/hello/hello.c" "$T/ac/"
cat >"$T/ac/configure.ac" <<'ACEOF'
AC_INIT([pgmove-hello], [1.0])
PGMOVE_PLUGIN([0.1.0])
AC_CONFIG_FILES([Makefile])
AC_OUTPUT
ACEOF
cat >"$T/ac/Makefile.in" <<'MKEOF'
prefix = @prefix@
exec_prefix = @exec_prefix@
libdir = @libdir@
PLUGINDIR = @pgmoveplugindir@
PLUGIN = hello
SRCS = hello.c
include @PGMOVE_PLUGIN_MK@
MKEOF
(cd "$T/ac" && aclocal -I "$aclocal_dir" && autoconf) >"$T/out" 2>"$T/err"
equals "$?" 0 "aclocal and autoconf take PGMOVE_PLUGIN from the installed pgmove.m4"
(cd "$T/ac" && ./configure --prefix="$T/vendor") >"$T/out" 2>"$T/err"
equals "$?" 0 "configure finds pgmove"
has "$T/out" "the plugin installs into \\$\{libdir\}/pgmove" "configure says where the plugin goes"
expect 0 "make install under the package's prefix" make -C "$T/ac" install
[ -f "$T/vendor/lib/pgmove/hello.so" ] && ok "installed under the package's prefix" ||
	bad "no $T/vendor/lib/pgmove/hello.so"
[ ! -e "$live/hello.so" ] && ok "nothing went into the live plugin directory $live" ||
	bad "hello.so appeared in $live"
expect 0 "make uninstall" make -C "$T/ac" uninstall
[ ! -e "$T/vendor/lib/pgmove/hello.so" ] && ok "uninstall removes the plugin" || bad "uninstall left it"
(cd "$T/ac" && ./configure --prefix="$T/vendor" --with-pgmove-plugindir=live) >"$T/out" 2>&1
has "$T/ac/Makefile" "^PLUGINDIR = $live\$" "--with-pgmove-plugindir=live installs into pgmove's own directory"
sed -i 's/PGMOVE_PLUGIN(\[0.1.0\])/PGMOVE_PLUGIN([99.0])/' "$T/ac/configure.ac"
(cd "$T/ac" && rm -rf autom4te.cache && aclocal --force -I "$aclocal_dir" && autoconf --force && ./configure) >"$T/out" 2>"$T/err"
[ $? -ne 0 ] && ok "configure fails when pgmove is older than the plugin needs" || bad "configure accepted pgmove >= 99.0"
has "$T/err" "pgmove >= 99.0" "and says which version it needs"

# A vendor's automake + libtool package with PGMOVE_PLUGIN: `make distcheck`
# (install, uninstall, VPATH build, all under a scratch prefix) passes and
# leaves the live plugin directories alone.
mkdir -p "$T/am/m4"
cp "$T/hello/hello.c" "$T/am/"
cat >"$T/am/configure.ac" <<'ACEOF'
AC_INIT([pgmove-hello], [1.0])
AC_CONFIG_AUX_DIR([build-aux])
AC_CONFIG_MACRO_DIRS([m4])
AM_INIT_AUTOMAKE([foreign -Wall -Werror])
AM_PROG_AR
AC_PROG_CC
LT_INIT([disable-static])
PGMOVE_PLUGIN([0.1.0])
AC_CONFIG_FILES([Makefile])
AC_OUTPUT
ACEOF
cat >"$T/am/Makefile.am" <<'MKEOF'
ACLOCAL_AMFLAGS = -I m4
pgmoveplugin_LTLIBRARIES = hello.la
hello_la_SOURCES = hello.c
hello_la_CFLAGS = $(PGMOVE_CFLAGS)
hello_la_LIBADD = $(PGMOVE_LIBS)
hello_la_LDFLAGS = -module -avoid-version -no-undefined -export-symbols-regex '^hello_LTX_pgmove_plugin$$'
MKEOF
staged_live=$(dirname "$lib")/pgmove
# pkg-config may prefix the sysroot to plugindir: look at the unstaged path too
snapshot() { for d in "$live" "${live#"$DEST"}" "$staged_live"; do ls -la --time-style=full-iso "$d" 2>&1; done; }
snapshot >"$T/live.before"
(cd "$T/am" && libtoolize -q && aclocal -I m4 -I "$aclocal_dir" && autoconf && automake -a) >"$T/out" 2>"$T/err"
equals "$?" 0 "a vendor's automake package takes PGMOVE_PLUGIN from the installed pgmove.m4"
(cd "$T/am" && ./configure --prefix="$T/vendor2") >"$T/out" 2>"$T/err"
equals "$?" 0 "and configures"
expect 0 "make distcheck of the vendor's plugin package" make -C "$T/am" distcheck
has "$T/out" "pgmove-hello-1.0 archives ready for distribution" "distcheck passes"
snapshot >"$T/live.after"
if cmp -s "$T/live.before" "$T/live.after"; then
	ok "distcheck wrote nothing into (and removed nothing from) $live, ${live#"$DEST"} or $staged_live"
else
	bad "a live plugin directory changed: $(diff "$T/live.before" "$T/live.after" | head -5)"
fi

# The C++ and Rust examples, from their installed copies, loaded and called
# by the installed pgmove.
cxx=$(find "$DEST" -path '*/doc/pgmove/examples/cxx' -type d | head -1)
rs=$(find "$DEST" -path '*/doc/pgmove/examples/rust' -type d | head -1)
mkdir -p "$T/cxx" "$T/rs"
cp "$cxx"/* "$T/cxx/" && cp "$rs"/* "$T/rs/"
CXXW='-O1 -g -std=c++17 -Wall -Wextra -Werror'
expect 0 "the C++ example builds with pgmove-plugin.mk" make -C "$T/cxx" CXXFLAGS="$CXXW"
has "$T/out" "^(g\+\+|c\+\+) .*-shared -o flags.so" "it is linked with the C++ compiler"
equals "$(nm -D --defined-only "$T/cxx/flags.so" | awk '{ print $3 }' | tr '\n' ' ')" \
	"flags_LTX_pgmove_plugin " "flags.so exports only its descriptor"
expect 0 "the C++ example's unit tests (C++ on the test host)" make -C "$T/cxx" test CXXFLAGS="$CXXW" \
	LDFLAGS="$SAN_LDFLAGS"
has "$T/out" "test_flags: all checks passed" "they pass"
cp "$T/cxx/flags.so" "$T/plugins/"
expect 1 "pgmove calls the C++ plugin: a thrown exception is the call's error" \
	pgmove call flags.get flag=a/b --json
has "$T/out" '"code": "args.invalid"' "std::invalid_argument became args.invalid"
expect 1 "the C++ plugin's HTTP goes through the host" pgmove call flags.get flag=x url=http://127.0.0.1:1 --json
has "$T/out" '"code": "http.connect"' "a refused connection is http.connect"
expect 0 "the Rust example builds with rustc alone (no cargo, no crates)" make -C "$T/rs"
equals "$(nm -D --defined-only "$T/rs/hello_rs.so" | awk '{ print $3 }' | tr '\n' ' ')" \
	"hello_rs_LTX_pgmove_plugin " "hello_rs.so exports only its descriptor"
cp "$T/rs/hello_rs.so" "$T/plugins/"
expect 0 "pgmove calls the Rust plugin" pgmove call hello_rs.greet name=Rust --json
has "$T/out" '"message": "Hello, Rust! \(from Rust\)"' "it answers"
# Without RUST_BACKTRACE: with it, Rust's std symbolizes the panic's
# backtrace and keeps that cache (~250 KB) in statics of hello_rs.so, which
# pgmove unloads at exit, so valgrind reports std's cache "definitely lost".
expect 1 "a Rust panic is the call's error, not a crash" \
	env -u RUST_BACKTRACE "$PGMOVE_BIN" call hello_rs.greet name=panic --json
has "$T/out" '"code": "hello_rs.panic"' "the panic became hello_rs.panic"

finish
