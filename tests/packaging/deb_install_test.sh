#!/usr/bin/env bash
# The Debian package, installed where nothing else is: builds the .deb from a build folder
# (`cmake --build BUILD --target deb`), checks what it holds (its Depends names the Debian
# LibTorch the program links, no tests, no build-tree RUNPATH), installs it with
# `apt-get install ./normtrain_*.deb` into a fresh minbase root of this host's release, and
# there runs `normtrain --version`, one epoch on the committed subset and normtrain-plot.
#
# Usage: tests/packaging/deb_install_test.sh [BUILD_DIR]    (default: build/, configured)
#
# The pristine root (debootstrap --variant=minbase CODENAME from the archive apt uses here) is
# made once and kept as a tarball in $NORMTRAIN_PACKAGE_TEST_CACHE (default /var/cache/normtrain),
# outside the clone; each run unpacks a copy, which it deletes at the end. The packages the
# root downloads are kept there too (hard links, as are those of the host's apt cache), so a
# second run downloads only the archive's package lists. $NORMTRAIN_DEBIAN_MIRROR overrides the
# archive. Needs root (debootstrap, chroot, mounts) and the archive.
# Exit status: 0 passed, 1 failed, 77 skipped with the reason (not root, no debootstrap and no
# apt-get to install it, no right to mount).
set -euo pipefail
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(realpath -m -- "${1:-$src/build}")
cache=${NORMTRAIN_PACKAGE_TEST_CACHE:-/var/cache/normtrain}
started=$SECONDS

step() { echo "[$((SECONDS - started)) s] $*"; }
skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot and mounts); run it with sudo"
probe=$(mktemp -d)
if ! mount -t proc proc "$probe" 2>/dev/null; then
  rmdir "$probe"
  skip "cannot mount /proc for a chroot here (a container without the right to mount?)"
fi
umount "$probe"
rmdir "$probe"
if ! command -v debootstrap >/dev/null; then
  command -v apt-get >/dev/null || skip "no debootstrap, and no apt-get to install it"
  "$src/scripts/install_deps.sh" debootstrap
fi
[ -f "$build/CMakeCache.txt" ] ||
  fail "$build is not a configured build folder: run scripts/build.sh (or cmake --preset release)"
# shellcheck source=/dev/null
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || skip "/etc/os-release names no VERSION_CODENAME to debootstrap"
arch=$(dpkg --print-architecture)

mkdir -p "$cache"
work=$(mktemp -d "$cache/package-test.XXXXXX")
root=$work/root
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
  done
  # Never delete through a mount that is still there (the host's /dev).
  if grep -q " $work/" /proc/mounts; then
    echo "deb_install_test: something is still mounted under $work; left in place" >&2
  else
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- The package -----------------------------------------------------------------------------
step "building the package: cmake --build $build --target deb"
cmake --build "$build" --target deb >"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log"; fail "building the package failed (log above)"; }
version=$("$build/normtrain" --version | awk '{ print $2; exit }')
deb=$build/normtrain_${version}_$arch.deb
[ -f "$deb" ] || fail "no $deb after building the package"
depends=$(dpkg-deb --field "$deb" Depends)
echo "$(basename "$deb"): Depends: $depends"
echo "  Recommends: $(dpkg-deb --field "$deb" Recommends)"

dpkg-deb --contents "$deb" | awk '{ print $NF }' >"$work/contents"
for file in ./usr/bin/normtrain ./usr/bin/normtrain-plot ./usr/share/doc/normtrain/copyright \
  ./usr/share/doc/normtrain/README.md ./usr/share/doc/normtrain/LICENSE; do
  grep -qxF "$file" "$work/contents" || fail "the package lacks $file"
done
if grep -q '^HELP2MAN_PROGRAM:FILEPATH=/' "$build/CMakeCache.txt"; then
  for page in normtrain normtrain-plot; do
    grep -qxF "./usr/share/man/man1/$page.1.gz" "$work/contents" ||
      fail "the package lacks the man page $page.1.gz"
  done
fi
! grep -Ei 'test|fuzz|bench' "$work/contents" || fail "the package holds tests or tools (above)"

# The LibTorch the program links: from a Debian package, the Depends must name that package
# and the program needs no RUNPATH; an upstream one is found through the RUNPATH.
dpkg-deb -x "$deb" "$work/extracted"
runpath=$(readelf -d "$work/extracted/usr/bin/normtrain" |
  sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
torch_lib=$(ldd "$build/normtrain" | awk '$1 ~ /^libtorch_cpu\.so/ { print $3 }')
[ -n "$torch_lib" ] || fail "$build/normtrain does not link libtorch_cpu.so"
if torch_package=$(dpkg-query --search "$(realpath "$torch_lib")" 2>/dev/null); then
  torch_package=${torch_package%%:*}
  echo "  LibTorch: $torch_lib from $torch_package"
  [[ ", $depends," == *", $torch_package "* || ", $depends," == *", $torch_package,"* ]] ||
    fail "Depends does not name $torch_package"
  [ -z "$runpath" ] ||
    fail "the installed program has a RUNPATH, $runpath, which Debian's LibTorch does not need"
else
  echo "  LibTorch: $torch_lib, from no package (upstream); RUNPATH $runpath"
  [[ ":$runpath:" == *":$(dirname "$torch_lib"):"* ]] ||
    fail "the installed program's RUNPATH ($runpath) lacks $(dirname "$torch_lib")"
  skip "the package checks passed; a package built against a LibTorch from no package does" \
    "not install in a clean root (it needs $(dirname "$torch_lib") there)"
fi

# --- A clean root of this release -------------------------------------------------------------
# The archive apt uses here: the first of the host's sources that serves the release itself.
archive_mirror() {
  if [ -n "${NORMTRAIN_DEBIAN_MIRROR:-}" ]; then
    echo "$NORMTRAIN_DEBIAN_MIRROR"
    return
  fi
  {
    awk -v suite="$codename" '
      function stanza_end() { if (uri != "" && found) print uri; uri = ""; found = 0 }
      FNR == 1 || /^[[:space:]]*$/ { stanza_end() }
      $1 == "URIs:" { uri = $2 }
      $1 == "Suites:" { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
      END { stanza_end() }' /etc/apt/sources.list.d/*.sources 2>/dev/null
    sed 's/\[[^]]*\]//' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk -v suite="$codename" '$1 == "deb" && $3 == suite { print $2 }'
    echo http://deb.debian.org/debian
  } | sed -n 1p
}

tarball=$cache/debootstrap-$codename-minbase-$arch.tar
exec 9>"$tarball.lock"
flock 9  # one run at a time: the pristine root and the package cache are shared
if [ ! -f "$tarball" ]; then
  mirror=$(archive_mirror)
  step "debootstrap --variant=minbase $codename from $mirror (the first run only)"
  fresh=$work/debootstrap
  debootstrap --variant=minbase "$codename" "$fresh" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log"; fail "debootstrap failed (log above)"; }
  find "$fresh/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -delete  # installed already
  tar -C "$fresh" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  rm -rf --one-file-system "$fresh"
fi

# The copy lives in memory where it can (unpacked, filled and gone in seconds), else on disk.
mkdir "$root"
where="on disk"
if mount -t tmpfs -o size=8g,mode=0755 normtrain-package-test "$root" 2>/dev/null; then
  mounts+=("$root")
  where="in a tmpfs"
fi
step "unpacking a copy of the pristine root $where: $root"
tar -C "$root" -xf "$tarball"
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
mount --bind /dev "$root/dev" && mounts+=("$root/dev")
[ ! -e /etc/resolv.conf ] || cp -L --remove-destination /etc/resolv.conf "$root/etc/resolv.conf"
# The root's apt reads and fills a package cache of this test's own, never the host's; what the
# host's apt cache already has comes into it as hard links (nothing is copied).
debs=$cache/debs-$codename-$arch
mkdir -p "$debs"
deb_names() { find "$1" -maxdepth 1 -name '*.deb' -printf '%f\n' 2>/dev/null | sort; }
comm -23 <(deb_names /var/cache/apt/archives) <(deb_names "$debs") |
  (cd /var/cache/apt/archives && xargs -r -d '\n' ln -t "$debs") 2>/dev/null ||
  echo "  (the host's apt cache is on another file system than $cache: not reused)"
mount --bind "$debs" "$root/var/cache/apt/archives" && mounts+=("$root/var/cache/apt/archives")

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

step "apt-get update in the root"
in_root apt-get update -qq >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; fail "apt-get update in the root failed (log above)"; }
cp "$deb" "$root/tmp/"
cp -r "$src/data/mnist-tiny" "$root/tmp/mnist-tiny"
step "apt-get install -y ./$(basename "$deb") in the root"
in_root sh -c 'cd /tmp && apt-get install -y ./normtrain_*.deb' >"$work/install.log" 2>&1 ||
  { tail -n 30 "$work/install.log"; fail "apt-get install failed (log above)"; }
grep -E '^[0-9]+ upgraded, [0-9]+ newly installed|^Need to get|^Fetched' "$work/install.log" |
  sed 's/^/  /' || true
# Keep the packages this install used for the next run, and only those.
# shellcheck disable=SC2016  # dpkg-query's own ${fields}
in_root dpkg-query --show --showformat '${Package}_${Version}_${Architecture}.deb\n' |
  sed 's/:/%3a/' | sort >"$work/installed"
deb_names "$debs" | comm -23 - "$work/installed" |
  while read -r unused; do rm -f "$debs/$unused"; done

# --- The installed program --------------------------------------------------------------------
step "normtrain --version in the root"
reported=$(in_root normtrain --version) || fail "normtrain --version failed in the root"
echo "  $reported"
[ "$reported" = "normtrain $version" ] ||
  fail "normtrain --version says '$reported', not 'normtrain $version'"

step "one epoch on data/mnist-tiny in the root"
in_root sh -c 'cd /tmp && normtrain --norm gn --groups 4 --epochs 1 --device cpu --threads 2 \
  --data-dir /tmp/mnist-tiny --no-download --out /tmp/run' >"$work/run.log" 2>&1 ||
  { cat "$work/run.log"; fail "the one-epoch run failed in the root (log above)"; }
grep 'epoch' "$work/run.log" | sed 's/^/  /' || true
metrics=$root/tmp/run/metrics.csv
[ -f "$metrics" ] || fail "the run wrote no metrics.csv"
if [ "$(wc -l <"$metrics")" -ne 2 ] || [ "$(sed -n '2s/,.*//p' "$metrics")" != 1 ]; then
  cat "$metrics"
  fail "metrics.csv should hold its header and the row of epoch 1"
fi

step "normtrain-plot on that run in the root (gnuplot, the package's Recommends)"
in_root sh -c 'cd /tmp && normtrain-plot -o /tmp/run.png /tmp/run' >"$work/plot.log" 2>&1 ||
  { cat "$work/plot.log"; fail "normtrain-plot failed in the root (log above)"; }
[ "$(head -c 8 "$root/tmp/run.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
  fail "normtrain-plot wrote no PNG"

step "PASS: the package installs and runs in a clean $codename root"
