#!/bin/sh
# prebuildify's "node-gyp" (toolchain.md P5: prebuildify has no --backend; it runs
# `<this> rebuild --target=<node> --devdir=... --arch=x64 --release` and takes the first *.node,
# plus every *.so, from build/Release). An N-API addon needs no per-version Node headers, so the
# arguments are ignored: the addon is built from CMakeLists.txt inside the Debian 11 (bullseye,
# glibc 2.31, gcc 10) tree made by scripts/prebuild.sh, with the repository mounted read-only, and
# the result is placed in build/Release.
#   VLAC_BULLSEYE_ROOT  the tree (default .cache/bullseye)
#   VLAC_PREBUILD_JOBS  parallel compile jobs (default: nproc)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tree=${VLAC_BULLSEYE_ROOT:-$root/.cache/bullseye}
jobs=${VLAC_PREBUILD_JOBS:-$(nproc)}
out=$root/build/Release

# node-api-headers + node-addon-api (toolchain.md P3), as paths inside the tree.
inside() {
  case "$1" in
    "$root"/*) printf '/vlac/src/%s' "${1#"$root"/}" ;;
    *) echo "prebuild: $1 is outside the repository, so it is not visible in the build tree" >&2; exit 1 ;;
  esac
}
napi_headers=$(inside "$(cd "$root" && node -p "require('path').resolve(require('node-api-headers').include_dir)")")
addon_api=$(inside "$(cd "$root" && node -p "require('path').resolve(require('node-addon-api').include_dir)")")

mkdir -p "$out" "$tree/vlac/src" "$tree/vlac/build"
rm -f "$out"/*.node "$out"/*.so "$out"/*.so.*

# A private mount namespace: the bind mounts vanish with this process, whatever happens.
unshare --mount --propagation private /bin/sh -eu -c '
  tree=$1 root=$2 jobs=$3 include=$4
  mount --bind "$root" "$tree/vlac/src"
  mount -o remount,bind,ro "$tree/vlac/src"
  mount -t proc proc "$tree/proc"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 chroot "$tree" /bin/sh -eu -c "
    cmake -S /vlac/src -B /vlac/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DVLAC_STATIC_RUNTIME=ON \"-DNODE_API_INCLUDE=\$0\" >/vlac/build/configure.log
    targets=vlac
    if ninja -C /vlac/build -t targets all | grep -q \"^vlac_cli:\"; then targets=\"vlac vlac_cli\"; fi
    ninja -C /vlac/build -j $jobs \$targets
  " "$include"
' prebuild "$tree" "$root" "$jobs" "$napi_headers;$addon_api"

cp "$tree/vlac/build/vlac.node" "$out/vlac.node"
# The CUDA side library travels beside the .node (prebuildify copies build/Release/*.so); it
# exists only once the build makes one.
for lib in "$tree"/vlac/build/libvlac_cuda*.so; do
  [ -e "$lib" ] && cp "$lib" "$out/"
done
# The C++ CLI built at the same floor, for machines without Node (not part of the npm package).
if [ -e "$tree/vlac/build/vlac_cli" ]; then
  mkdir -p "$root/build/prebuild"
  cp "$tree/vlac/build/vlac_cli" "$root/build/prebuild/vlac_cli"
fi
