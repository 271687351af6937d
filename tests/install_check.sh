#!/bin/sh
# Checks an installed tree (make install DESTDIR=...): builds a program through
# pkg-config against the shared library and against the static one, and runs both.
# usage: install_check.sh DESTDIR PREFIX CC "CFLAGS"
set -eu
stage=$1 prefix=$2 cc=$3 cflags=$4
lib="$stage$prefix/lib"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sockloop.h>
int main(void) {
    int sv[2];
    char buf[5];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); return 1; }
    if (sl_send_all(sv[0], "hello", 5, 1000, NULL) != 5) { perror("sl_send_all"); return 1; }
    if (sl_recv_exact(sv[1], buf, 5, 1000, NULL) != 5) { perror("sl_recv_exact"); return 1; }
    if (memcmp(buf, "hello", 5) != 0 || sl_ntohs(sl_htons(0x1234)) != 0x1234) return 1;
    printf("sockloop %d.%d.%d works\n", SL_VERSION_MAJOR, SL_VERSION_MINOR, SL_VERSION_PATCH);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
C

export PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
pkg-config --exists sockloop
echo "pkg-config: $(pkg-config --modversion sockloop): $(pkg-config --cflags --libs sockloop)"
for f in "$lib/libsockloop.so" "$lib/libsockloop.so.0" "$lib/libsockloop.a" "$stage$prefix/include/sockloop.h"; do
    test -e "$f" || { echo "install-check: missing $f"; exit 1; }
done

# Shared: the program must need libsockloop.so.0 (the soname), found at run time.
$cc $cflags -o "$work/prog_shared" "$work/prog.c" $(pkg-config --cflags --libs sockloop)
readelf -d "$work/prog_shared" | grep -q 'NEEDED.*libsockloop.so.0' || { echo "install-check: soname not recorded"; exit 1; }
LD_LIBRARY_PATH="$lib" "$work/prog_shared"

# Static: libsockloop.a plus Libs.private, and no runtime dependency on the .so.
$cc $cflags -o "$work/prog_static" "$work/prog.c" $(pkg-config --cflags sockloop) \
    -L"$lib" -Wl,-Bstatic -lsockloop -Wl,-Bdynamic $(pkg-config --static --libs-only-l sockloop | sed 's/-lsockloop//')
if readelf -d "$work/prog_static" | grep -q libsockloop; then echo "install-check: static program needs the .so"; exit 1; fi
env -u LD_LIBRARY_PATH "$work/prog_static"

# Only sl_* symbols are exported.
others=$(nm -D --defined-only "$lib/libsockloop.so" | awk '{print $3}' | grep -v '^sl_' || true)
if [ -n "$others" ]; then echo "install-check: non-sl_ exports: $others"; exit 1; fi
echo "install-check: 4 passed, 0 failed"
