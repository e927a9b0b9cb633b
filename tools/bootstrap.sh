#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages), configures and builds Rampart in build/.
# Idempotent: with everything installed and nothing changed it only checks and returns.
#   tools/bootstrap.sh             everything: every test's packages, every target (tools/test.sh)
#   tools/bootstrap.sh TARGET...   only what building TARGET needs (tools/quickstart.sh: rampart_cli)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
targets=("$@")

packages=(
  g++ cmake ninja-build pkg-config
  libtorch-dev libopencv-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libspdlog-dev
  libssl-dev zlib1g-dev libseccomp-dev catch2 libbenchmark-dev
  libgloo-dev             # c10d's Gloo backend (distributed training)
  libopenblas0-openmp     # becomes libtorch's BLAS: training 2.5x, the data audit 3x faster (README)
  dataset-fashion-mnist   # the default data: Fashion-MNIST under /usr/share/datasets
)
if ((${#targets[@]} == 0)); then
  packages+=(
    python3-torch           # TorchScript fixtures saved from Python, as users bring them
    python3-dev pybind11-dev python3-pytest python3-pip python3-venv  # `import rampart` and its tests
    chromium fonts-dejavu-core  # renders report.html headless and checks the screenshot
    clang libclang-rt-14-dev  # the libFuzzer targets (tools/fuzz.sh)
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "rampart bootstrap: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
if ((${#targets[@]})); then
  cmake --build build -j"$(nproc)" --target "${targets[@]}"
else
  cmake --build build -j"$(nproc)"
fi
