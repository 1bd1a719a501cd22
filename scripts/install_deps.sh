#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages normtrain needs to build, test, fuzz and plot, or the
# packages named. Skips apt entirely when everything is already there.
# Usage: scripts/install_deps.sh [PACKAGE...]
set -euo pipefail

packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(
  cmake g++ ninja-build ccache pkg-config
  libtorch-dev libcli11-dev libfmt-dev libspdlog-dev libstb-dev libgtest-dev
  libcurl4-openssl-dev libssl-dev zlib1g-dev nlohmann-json3-dev
  gnuplot-nox
  help2man dpkg-dev file  # man pages; `--target deb`: dpkg-shlibdeps and file for CPack
  python3-torch  # scripts/to_pytorch.py and its test: exported models in plain PyTorch
  python3-torchvision  # scripts/bench.sh: the seed's loop, a Python peer
  clang libclang-rt-dev  # scripts/fuzz.sh: libFuzzer and clang's sanitizer runtimes
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install_deps: installing ${#missing[@]} packages (the first time LibTorch and its dependencies: minutes): ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
