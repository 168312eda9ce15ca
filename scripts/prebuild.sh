#!/bin/sh
# `npm run prebuildify`: the prebuilt binaries the npm package ships (README, Platforms), in
# prebuilds/linux-x64/, built in a Debian 11 (bullseye) tree so that they need no symbol newer than
# GLIBC_2.31, then checked against that floor and loaded once.
#   - makes the tree with debootstrap when it is missing (~1 minute, ~660 MB, git-ignored .cache/),
#     from the Debian mirror apt uses here;
#   - runs prebuildify (N-API, stripped, tagged glibc) with scripts/prebuild-gyp.sh as its node-gyp;
#   - fails when a shipped binary needs a newer GLIBC symbol, libstdc++ or libgcc_s.
# Needs root (debootstrap, chroot, mount). Environment: VLAC_BULLSEYE_ROOT, VLAC_PREBUILD_JOBS.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
export VLAC_BULLSEYE_ROOT="${VLAC_BULLSEYE_ROOT:-$root/.cache/bullseye}"
tree=$VLAC_BULLSEYE_ROOT
floor=2.31

die() { echo "prebuild: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root: the build runs in a chroot (debootstrap, chroot, mount)"
for tool in unshare chroot strip; do
  command -v "$tool" >/dev/null || die "needs '$tool' on PATH"
done

if [ ! -x "$tree/usr/bin/g++" ] || [ ! -x "$tree/usr/bin/cmake" ]; then
  command -v debootstrap >/dev/null || die "no build tree at $tree and no debootstrap to make one (apt-get install debootstrap)"
  mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  [ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\{1,\}\([^[:space:]]*\/debian\)[[:space:]].*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "prebuild: making the Debian 11 build tree at $tree from $mirror"
  debootstrap --variant=minbase --include=build-essential,cmake,ninja-build,ca-certificates \
    bullseye "$tree" "$mirror" >"$root/.cache/debootstrap.log" 2>&1 ||
    die "debootstrap failed (log: $root/.cache/debootstrap.log)"
fi
echo "prebuild: build tree $(chroot "$tree" ldd --version | head -n 1), $(chroot "$tree" g++ --version | head -n 1)"

cd "$root"
rm -rf prebuilds/linux-x64
node node_modules/prebuildify/bin.js --napi --strip --tag-libc --node-gyp "$root/scripts/prebuild-gyp.sh"

set -- prebuilds/linux-x64/*
[ -e "$1" ] || die "prebuildify produced nothing in prebuilds/linux-x64"
node scripts/prebuild-check.mjs --floor "$floor" "$@"
# It must also load here, in this Node, before anyone ships it.
node -e '
  const a = require(process.argv[1]);
  const i = a.nativeInfo();
  console.log(`${process.argv[1]}: loads (N-API ${i.napiVersion}, ${i.compiler ?? "compiler unknown"})`);
' "$root/$(ls prebuilds/linux-x64/*.node | head -n 1)"
ls -l prebuilds/linux-x64
if [ -e build/prebuild/vlac_cli ]; then
  echo "prebuild: the C++ CLI at the same floor (not shipped): build/prebuild/vlac_cli"
  node scripts/prebuild-check.mjs --floor "$floor" --glibc-only build/prebuild/vlac_cli
fi
