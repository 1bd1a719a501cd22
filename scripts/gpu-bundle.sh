#!/usr/bin/env bash
# Gathers, on a Debian machine with its package archive, what scripts/gpu-check.sh needs on a GPU
# machine that reaches no archive: the Debian packages of normtrain's header-only libraries
# (CLI11, fmt, spdlog, stb, nlohmann-json), GoogleTest's sources and the zlib, OpenSSL and
# libcurl headers, downloaded with apt-get (not installed), and the four full-MNIST files.
# Only headers and sources travel: gpu-check.sh compiles every C++ object on the GPU machine,
# with that machine's glibc and its LibTorch's C++ ABI, and links the C libraries it has.
# Usage: scripts/gpu-bundle.sh OUT_DIR
#   OUT_DIR gets debs/, mnist/ and MANIFEST.txt (about 17 MB). Inside the clone, name it
#   build-gpu-bundle (ignored by git) and carry it to the GPU machine; see docs/gpu-check.md.
#   The MNIST files come from $NORMTRAIN_MNIST_DIR (default ../shared/data/mnist).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: scripts/gpu-bundle.sh OUT_DIR}
mnist=${NORMTRAIN_MNIST_DIR:-../shared/data/mnist}
# What cmake/Dependencies.cmake and tests/CMakeLists.txt look for, as Debian packages.
packages=(
  libcli11-dev libfmt-dev libspdlog-dev libstb-dev nlohmann-json3-dev  # header-only C++
  googletest                                                           # sources, built there
  zlib1g-dev libssl-dev libcurl4-openssl-dev                           # C headers (+ static libs)
)
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz
  t10k-labels-idx1-ubyte.gz)
# The device machine carries at most 64 MiB of ignored files; leave room for the rest.
max_bytes=$((60 * 1024 * 1024))

command -v apt-get >/dev/null || { echo "gpu-bundle: needs apt-get (Debian or Ubuntu)" >&2; exit 1; }
for file in "${files[@]}"; do
  [ -s "$mnist/$file" ] || { echo "gpu-bundle: $mnist/$file is missing; set NORMTRAIN_MNIST_DIR" >&2; exit 1; }
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# apt downloads as its own user (_apt) when it can; let it write here.
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$stage"; fi
download() { (cd "$stage" && apt-get download -q "${packages[@]}"); }
echo "gpu-bundle: downloading ${#packages[@]} packages: ${packages[*]}"
if ! download; then
  # Stale package lists name versions the archive no longer has.
  [ "$(id -u)" -eq 0 ] || { echo "gpu-bundle: apt-get download failed; run apt-get update as root" >&2; exit 1; }
  apt-get update -qq
  download
fi

mkdir -p "$out/debs" "$out/mnist"
rm -f "$out"/debs/*.deb
mv "$stage"/*.deb "$out/debs/"
rm -f "${files[@]/#/$out/mnist/}"
cp "${files[@]/#/$mnist/}" "$out/mnist/"
chmod 0644 "$out"/mnist/*  # the shared copies are read-only; a later run replaces these

{
  echo "normtrain GPU bundle, made $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/gpu-bundle.sh"
  # shellcheck source=/dev/null
  echo "on $(. /etc/os-release && echo "$PRETTY_NAME") ($(dpkg --print-architecture))"
  echo
  echo "packages:"
  for deb in "$out"/debs/*.deb; do
    # shellcheck disable=SC2016 # dpkg-deb's format, not the shell's
    echo "  $(dpkg-deb --show --showformat='${Package} ${Version} ${Architecture}' "$deb")"
  done
  echo
  echo "sha256:"
  (cd "$out" && sha256sum debs/*.deb mnist/*.gz | sed 's/^/  /')
} >"$out/MANIFEST.txt"

bytes=$(du -sb "$out" | cut -f1)
echo "gpu-bundle: $out holds $((bytes / 1024 / 1024)) MiB ($(find "$out" -type f | wc -l) files)"
if [ "$bytes" -gt "$max_bytes" ]; then
  echo "gpu-bundle: more than $((max_bytes / 1024 / 1024)) MiB: too much to carry with the clone" >&2
  exit 1
fi
