#!/bin/sh
# `cargo cinstall` (cargo-c, driven by Cargo.toml's [package.metadata.capi])
# must install the same tree as `make install`: the same files and links at
# the same paths, and a sockloop.pc that gives the same flags.
# usage: cinstall_check.sh STAGE CARGO   (STAGE/plain is a `make install
# DESTDIR=STAGE/plain prefix=/usr/local` tree). Skips where cargo-c is missing.
set -eu
stage=$1 cargo=$2
if ! $cargo cinstall --version >/dev/null 2>&1; then
    echo "SKIP cargo cinstall tree comparison: cargo-c is not installed (make deps installs it)"
    exit 0
fi
rm -rf "$stage/cinstall"
# Its own target dir: cargo-c builds with other flags, so this leaves the main build alone.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/cargo-c" $cargo cinstall --release \
    --destdir="$stage/cinstall" --prefix=/usr/local --libdir=/usr/local/lib
list() { (cd "$1" && find . \( -type f -o -type l \) -printf '%p %y %l\n' | sort); }
list "$stage/plain" > "$stage/plain.list"
list "$stage/cinstall" > "$stage/cinstall.list"
passed=0 failed=0
if diff -u "$stage/plain.list" "$stage/cinstall.list"; then
    echo "ok   cargo cinstall installs the same $(wc -l < "$stage/plain.list") files and links as make install"
    passed=$((passed + 1))
else
    echo "FAIL the trees differ (- make install, + cargo cinstall)"; failed=$((failed + 1))
fi
flags() { PKG_CONFIG_PATH="$1/usr/local/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$1" \
          pkg-config --modversion --cflags --libs sockloop | sed "s|$1||g"; }
if [ "$(flags "$stage/plain")" = "$(flags "$stage/cinstall")" ]; then
    echo "ok   sockloop.pc gives the same version, --cflags and --libs"; passed=$((passed + 1))
else
    echo "FAIL sockloop.pc differs: make install: $(flags "$stage/plain") / cargo cinstall: $(flags "$stage/cinstall")"
    failed=$((failed + 1))
fi
soname() { readelf -d "$1/usr/local/lib/libsockloop.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p'; }
if [ "$(soname "$stage/plain")" = "$(soname "$stage/cinstall")" ]; then
    echo "ok   the same soname, $(soname "$stage/plain")"; passed=$((passed + 1))
else
    echo "FAIL soname: make install $(soname "$stage/plain"), cargo cinstall $(soname "$stage/cinstall")"
    failed=$((failed + 1))
fi
# The one known difference: cargo-c writes rustc's native-static-libs as they
# are, -lgcc_s included, so its sockloop.pc cannot link fully -static.
if grep -q -- '-lgcc_s' "$stage/cinstall/usr/local/lib/pkgconfig/sockloop.pc"; then
    echo "note: cargo cinstall's Libs.private keeps -lgcc_s (make install drops it, for cc -static)"
fi
echo "cinstall-check: $passed passed, $failed failed"
[ "$failed" = 0 ]
