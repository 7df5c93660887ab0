#!/usr/bin/env bash
# README command (B): installs what is needed, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 "$@"
