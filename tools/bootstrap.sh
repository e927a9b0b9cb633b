#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages), configures and builds Rampart in build/.
# Idempotent: with everything installed and nothing changed it only checks and returns.
# Sourced by tools/quickstart.sh and tools/test.sh; usable on its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  g++ cmake ninja-build pkg-config
  libtorch-dev libopencv-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libspdlog-dev
  libssl-dev zlib1g-dev libseccomp-dev catch2 libbenchmark-dev
  dataset-fashion-mnist   # the default data: Fashion-MNIST under /usr/share/datasets
  python3-torch           # tests only: TorchScript fixtures saved from Python, as users bring them
  chromium fonts-dejavu-core  # tests only: renders report.html headless and checks the screenshot
  clang libclang-rt-14-dev  # tests only: the libFuzzer targets (tools/fuzz.sh)
)

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
cmake --build build -j"$(nproc)"
