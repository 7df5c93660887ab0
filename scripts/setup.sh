#!/usr/bin/env bash
# Installs everything Porthole needs to build, run and test, from Debian's
# package archive only. Idempotent: a second run installs nothing new.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev nlohmann-json3-dev libsqlite3-dev libcli11-dev
  libgtest-dev libgmock-dev
  runc tini busybox-static
  containernetworking-plugins iptables  # task network modes: CNI bridge, host-local, loopback, portmap
  awscli tmux openssl ca-certificates procps iproute2 bc python3
  clang libclang-rt-14-dev llvm-14  # scripts/fuzz.sh: clang++, libFuzzer and sanitizer runtimes, llvm-symbolizer
  openssh-server openssh-client bsdutils
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
