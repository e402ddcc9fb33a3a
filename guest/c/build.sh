#!/bin/sh
# build.sh: build C guests for ward with clang, lld and wasi-libc, as WASI
# reactors: ward's examples (guest/c/examples/*.c) or your own files.
#
#   guest/c/build.sh [-if-available] [OUTDIR [FILE.c ...]]
#   guest/c/build.sh -check
#
# Writes OUTDIR/NAME.wasm for each NAME.c; OUTDIR defaults to
# guest/c/examples and the files to guest/c/examples/*.c. Sources include
# "ward.h" (this directory is on the include path).
#
# With -if-available (how go generate runs it) a machine without the
# toolchain gets a warning and exit status 0 instead of a failure, so
# `go generate ./...` works everywhere; the committed .wasm files stay as
# they are. Without it, a missing toolchain is exit status 3 (a failed build
# is 1), which the Go tests that build C guests turn into a skip. -check
# builds nothing: exit status 0 if the toolchain works, else 3 and why.
#
# Toolchain, Debian 12 (what this was written and tested with):
#   apt-get install clang lld wasi-libc libclang-rt-dev-wasm32
# ./test.sh installs it (guest/c/install-toolchain.sh) where it is missing
# and it can: as root, or with sudo, and apt-get.
# Elsewhere, set CC to a clang that targets wasm32-wasi and WASI_SYSROOT to
# a wasi-libc sysroot (wasi-sdk: CC=$WASI_SDK/bin/clang
# WASI_SYSROOT=$WASI_SDK/share/wasi-sysroot).
set -eu

if_available=
check=
case "${1:-}" in
-if-available) if_available=1; shift ;;
-check) check=1; shift ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/examples}
if [ $# -gt 0 ]; then shift; fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
CC=${CC:-clang}
WASI_SYSROOT=${WASI_SYSROOT:-/usr}

# The flags: a reactor (an _initialize export runs wasi-libc's constructors;
# ward calls it before the entry export), exports named in the source with
# export_name, -O2, and no DWARF (Debian's wasi-libc brings 40 KB of it;
# the name section stays, for trap backtraces). Nothing depends on the build directory, so the output is
# the same bytes wherever it is built with the same clang and wasi-libc.
CFLAGS="--target=wasm32-wasi --sysroot=$WASI_SYSROOT -O2 -mexec-model=reactor -Wl,--strip-debug -Wall -Werror -I$here"

missing() {
  if [ -n "$if_available" ]; then
    echo "guest/c/build.sh: $1; not rebuilding the C guests (see guest/c/README.md)" >&2
    exit 0
  fi
  echo "guest/c/build.sh: $1 (see guest/c/README.md)" >&2
  exit 3
}
command -v "$CC" >/dev/null 2>&1 || missing "no $CC"
# Link a trivial reactor: that needs the compiler, wasm-ld, wasi-libc and
# the wasm32 compiler-rt.
probe=$(mktemp)
trap 'rm -f "$probe"' EXIT
printf '#include <stdlib.h>\nvoid *f(void) { return malloc(1); }\n' |
  "$CC" $CFLAGS -x c -o "$probe" - 2>/dev/null ||
  missing "$CC cannot build a wasm32-wasi reactor with sysroot $WASI_SYSROOT (lld, wasi-libc or libclang-rt-dev-wasm32 missing?)"
[ -z "$check" ] || exit 0

[ $# -gt 0 ] || set -- "$here"/examples/*.c
for src in "$@"; do
  name=$(basename "$src" .c)
  # Building from the source's directory keeps its path out of the build.
  (cd "$(dirname "$src")" && "$CC" $CFLAGS -o "$out/$name.wasm" "$name.c")
  chmod 644 "$out/$name.wasm" # wasm-ld marks it executable; it is not
  echo "built $out/$name.wasm"
done
