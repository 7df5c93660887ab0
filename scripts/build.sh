#!/usr/bin/env bash
# Configures and builds Porthole.
#   scripts/build.sh             ./build, RelWithDebInfo (what the demo and bench/ run)
#   scripts/build.sh --sanitize  ./build-sanitize, with AddressSanitizer and UBSan
#                                (what scripts/test.sh tests; the static exec agent
#                                is built uninstrumented, see src/main)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = --sanitize ]; then
  dir=build-sanitize
  flags+=(-DPORTHOLE_SANITIZE=address,undefined)
fi
jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
fi
cmake --build "$dir" -j "$jobs"
