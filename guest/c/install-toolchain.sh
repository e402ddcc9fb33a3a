#!/bin/sh
# install-toolchain.sh: install the C guest toolchain (build.sh's clang, lld,
# wasi-libc and wasm32 compiler-rt) from Debian's archive when it is missing.
# test.sh runs it first, so that ./test.sh on a fresh Debian machine (CI is
# one) builds and runs the C guest tests instead of skipping them. A no-op
# where build.sh already works (these packages, or CC/WASI_SYSROOT set to
# another toolchain). Where it cannot install (no apt-get, not root and no
# sudo without a password) or the install fails, it says in one line that
# the C guest tests will skip, and why, and exits 0: the rest of the tests
# do not need it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pkgs="clang lld wasi-libc libclang-rt-dev-wasm32"

sh "$here/build.sh" -check 2>/dev/null && exit 0

skip() {
  echo "guest/c: the C guest tests will skip: $1 (apt-get install $pkgs)" >&2
  exit 0
}
command -v apt-get >/dev/null 2>&1 || skip "no C toolchain, and no apt-get to install it"
if [ "$(id -u)" = 0 ]; then
  sudo=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
else
  skip "no C toolchain, and installing it needs root"
fi

echo "guest/c: installing the C guest toolchain: $pkgs" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt="$sudo env DEBIAN_FRONTEND=noninteractive apt-get -q -y"
# A fresh container has no package lists; update only if some package is
# unknown, since an update costs a download every run.
for p in $pkgs; do
  apt-cache show "$p" >/dev/null 2>&1 || { $apt update >"$log" 2>&1 || { cat "$log" >&2; skip "apt-get update failed"; }; break; }
done
$apt install --no-install-recommends $pkgs >"$log" 2>&1 || { cat "$log" >&2; skip "apt-get install failed"; }
sh "$here/build.sh" -check || skip "installed $pkgs, but build.sh still cannot build"
