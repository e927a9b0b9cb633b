#!/usr/bin/env bash
# README command 1: install what is missing, build, and run `rampart quickstart`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tools/bootstrap.sh
exec build/rampart quickstart "$@"
