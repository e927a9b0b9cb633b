#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, build, and run the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tools/bootstrap.sh
source tools/openblas_env.sh
# Every fixture is installed above, so a test may not skip for want of one.
export RAMPART_REQUIRE_FIXTURES=1
exec ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
