#!/usr/bin/env bash
# README command (B): installs what is needed, builds, runs every test: unit,
# fuzz corpus replay and integration. (`scripts/build.sh --sanitize` and
# ctest in build-sanitize/ run the same suite under ASan and UBSan.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 "$@"
