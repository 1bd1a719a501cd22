#!/usr/bin/env bash
# Runs a command (default: the whole test suite, as CI runs it) on Debian 13 "trixie" with its
# LibTorch 2.6 and GCC 14, in a chroot that debootstrap makes from the archive apt already uses.
# The root is kept in $NORMTRAIN_DEBIAN13_ROOT (default /var/cache/normtrain/debian13), outside
# the clone, so that only the first run pays for debootstrap and the package downloads; the
# project's packages are installed there by its own scripts/install_deps.sh. Needs root.
# Usage: scripts/debian13.sh [COMMAND...]
#   scripts/debian13.sh                                    # install, build, run every test
#   scripts/debian13.sh build/normtrain --norm ln --epochs 1 --data-dir data/mnist-tiny
set -euo pipefail
cd "$(dirname "$0")/.."

root=${NORMTRAIN_DEBIAN13_ROOT:-/var/cache/normtrain/debian13}
# The clone's copy inside the root; several clones may share one root with different folders.
workdir=${NORMTRAIN_DEBIAN13_WORKDIR:-/normtrain/src}
[ "$(id -u)" -eq 0 ] || { echo "debian13: chroot needs root; run with sudo" >&2; exit 1; }

# The archive apt uses here (deb822 or one-line sources), or $NORMTRAIN_DEBIAN_MIRROR.
archive_mirror() {
  if [ -n "${NORMTRAIN_DEBIAN_MIRROR:-}" ]; then echo "$NORMTRAIN_DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
    | grep -v security | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1)
  echo "${uri:-http://deb.debian.org/debian}"
}

scripts/install_deps.sh debootstrap rsync
mkdir -p "$(dirname "$root")"
# One run at a time per root: two would debootstrap, copy and build into the same folders.
exec 8>"$root.lock"
flock 8
if [ ! -f "$root/.normtrain-root" ]; then
  mirror=$(archive_mirror)
  echo "debian13: debootstrap trixie from $mirror into $root (the first time: minutes)"
  rm -rf --one-file-system "$root.partial"
  debootstrap --variant=minbase trixie "$root.partial" "$mirror" >"$root.debootstrap.log" 2>&1 \
    || { tail -n 20 "$root.debootstrap.log" >&2; exit 1; }
  # Daemons installed later (munge, Slurm) must not start inside the chroot at install time.
  printf '#!/bin/sh\nexit 101\n' >"$root.partial/usr/sbin/policy-rc.d"
  chmod +x "$root.partial/usr/sbin/policy-rc.d"
  # A root without its mark is a failed attempt; never delete through a mount left in it.
  if grep -q " $root/" /proc/mounts; then
    echo "debian13: something is still mounted under $root; unmount it first" >&2
    exit 1
  fi
  rm -rf --one-file-system "$root"
  mv "$root.partial" "$root"
  touch "$root/.normtrain-root"
fi

# The clone's files (tracked and new, not ignored), copied where their content changed, with
# the time of the copy: a build folder kept from the last run then recompiles exactly what
# changed. (Copies with the clone's own times could be older than objects built from an
# earlier copy, and never be compiled.)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
git ls-files -z --cached --others --exclude-standard \
  | tar --null --files-from=- --ignore-failed-read -cf - | tar -xf - -C "$stage"
mkdir -p "$root$workdir"
rsync --recursive --links --perms --checksum --delete --exclude='/build*' "$stage/" "$root$workdir/"
rm -rf "$stage"
trap - EXIT
cp /etc/resolv.conf "$root/etc/resolv.conf"

mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -R -l "${mounts[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() { # bind SOURCE TARGET-IN-ROOT [ro]
  mkdir -p "$root$2"
  # Recursive, so that /sys/fs/cgroup (slurmd needs it) comes along; slave, so that
  # unmounting inside never propagates back to the host.
  mount --rbind "$1" "$root$2"
  mount --make-rslave "$root$2"
  mounts+=("$root$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$root$2"; fi
}
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
bind /sys /sys
bind /dev /dev
# The full data set, where this clone has one beside it, for the tests that need it.
if [ -d ../shared/data ]; then bind "$(cd ../shared && pwd)" /normtrain/shared ro; fi

if [ $# -eq 0 ]; then
  set -- bash -c 'scripts/install_slurm.sh && NORMTRAIN_PRESET=ci scripts/test.sh'
fi
# The lock's descriptor stays out: a daemon a test leaves behind must not hold the root locked.
chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c 'cd "$0" && exec "$@"' "$workdir" "$@" 8>&-
