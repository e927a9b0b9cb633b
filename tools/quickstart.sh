#!/usr/bin/env bash
# README command 1: install what is missing, build, and run `rampart quickstart`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ! -x build/rampart ]]; then
  echo "rampart quickstart: building the rampart binary first (about 11 minutes on 2 cores the" \
       "first time, then seconds); ninja shows [done/total] as it goes" >&2
fi
# Only the binary the quickstart runs (and its evaluation worker), not the tests and benchmarks.
tools/bootstrap.sh rampart_cli
source tools/openblas_env.sh
exec build/rampart quickstart "$@"
