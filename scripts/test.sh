#!/usr/bin/env bash
# README command (B): installs what is needed, builds under AddressSanitizer
# and UBSan (./build-sanitize; the static exec agent, which runs inside
# containers, is built uninstrumented), and runs every test there: unit (with
# leak detection), the fuzz corpus replays and integration. The same suite
# runs against the optimized build with `scripts/build.sh && cd build && ctest`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh --sanitize
cd build-sanitize
ctest --output-on-failure --timeout 600 "$@"
