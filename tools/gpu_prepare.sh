#!/bin/bash
# Run here, in the project's root, before a GPU run of tools/gpu_cli_runs.sh: fills the ignored
# folder .gpu-deps/ with what the GPU machine lacks (no network there):
#  - the Debian packages of ../shared/gpu/fetch-debs.sh and its device-env.sh;
#  - Gloo's headers, for c10d on the machine's libtorch 2.x when its wheel ships none: from a
#    local clone of github.com/pytorch/gloo (GLOO_GIT, at GLOO_REV), with the config.h that
#    PyTorch's build of Gloo generates (CUDA on, TCP transport only, Torch's dtypes);
#  - Fashion-MNIST's IDX files from dataset-fashion-mnist (31 MB).
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shared=${RAMPART_SHARED:-../shared}
bash "$shared/gpu/fetch-debs.sh" || true
cp "$shared/gpu/device-env.sh" .gpu-deps/
gloo_git=${GLOO_GIT:-/work/.mirror/pytorch+gloo/repo}
inc=.gpu-deps/gloo-include
rm -rf "$inc" && mkdir -p "$inc"
git --git-dir="$gloo_git" archive "${GLOO_REV:-HEAD}" gloo | tar -x -C "$inc" --wildcards '*.h'
rm -rf "$inc/gloo/test" "$inc/gloo/benchmark"
sed -e 's/@GLOO_VERSION_MAJOR@/0/; s/@GLOO_VERSION_MINOR@/5/; s/@GLOO_VERSION_PATCH@/0/' \
    -e 's/#cmakedefine01 \(GLOO_USE_CUDA\|GLOO_HAVE_TRANSPORT_TCP\|GLOO_USE_TORCH_DTYPES\)$/#define \1 1/' \
    -e 's/#cmakedefine01 \([A-Z_]*\)$/#define \1 0/' \
    <(git --git-dir="$gloo_git" show "${GLOO_REV:-HEAD}:gloo/config.h.in") >"$inc/gloo/config.h"
mkdir -p .gpu-deps/fashion-mnist
cp /usr/share/datasets/fashion-mnist/*-idx[13]-ubyte.gz .gpu-deps/fashion-mnist/
du -sh .gpu-deps
