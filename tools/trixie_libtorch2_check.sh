#!/usr/bin/env bash
# Builds the CLI and the distributed suite against Debian trixie's libtorch 2.6 (CPU, its own
# shared libgloo, no libuv) in a trixie chroot, and runs the distributed suite there: the check
# of "1.13 and 2.x both work" that needs no GPU machine. Root; everything comes from Debian's
# archive (about 1.5 GB under ROOT; the build about 15 minutes on 2 cores).
#   sudo tools/trixie_libtorch2_check.sh [ROOT]     # ROOT: the chroot (default /work/trixie-root)
#   CTEST_REGEX=. tools/trixie_libtorch2_check.sh   # what ctest runs (default: distributed)
# The source tree is bind-mounted at ROOT/src while the script runs (read by the build, never
# written); the build folder is ROOT/build. Trixie's Catch2 is v3, so bookworm's Catch2 2 package goes in instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=${1:-/work/trixie-root}
src=$(pwd)
if [ ! -x "$root/usr/bin/apt-get" ]; then
  command -v debootstrap > /dev/null || apt-get install -y -q debootstrap
  debootstrap --variant=minbase trixie "$root" http://deb.debian.org/debian
fi
# Every mount is undone on exit: a bind-mounted source tree inside ROOT would go with an rm -rf ROOT.
trap 'for m in src usr/share/datasets/fashion-mnist proc; do mountpoint -q "$root/$m" && umount "$root/$m"; done' EXIT
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/"
if [ ! -f "$root/usr/include/catch2/catch.hpp" ]; then
  (cd "$root/tmp" && apt-get download catch2)
  chroot "$root" bash -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends g++ cmake ninja-build libtorch-dev libgloo-dev libyaml-cpp-dev \
    nlohmann-json3-dev libspdlog-dev libssl-dev libzip-dev libseccomp-dev zlib1g-dev libcli11-dev \
    python3-numpy openssl && dpkg -i /tmp/catch2_*.deb"
fi
mkdir -p "$root/src" "$root/build" "$root/usr/share/datasets/fashion-mnist"
mountpoint -q "$root/src" || mount --bind "$src" "$root/src"
fm=/usr/share/datasets/fashion-mnist
if [ -d $fm ] && ! mountpoint -q "$root$fm"; then mount --bind $fm "$root$fm"; fi
chroot "$root" bash -c "cd /build && cmake -G Ninja /src -DCMAKE_BUILD_TYPE=Release \
  -DRAMPART_WITH_OPENCV=OFF -DRAMPART_WITH_CUDA=OFF -DRAMPART_WITH_DISTRIBUTED=ON \
  -DRAMPART_GLOO_INCLUDE_DIR=/usr/include > /dev/null && \
  ninja rampart rampart_eval_worker tests/distributed/distributed_tests && \
  ctest -R '${CTEST_REGEX:-distributed}' --timeout 900 --output-on-failure"
