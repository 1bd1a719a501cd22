#!/usr/bin/env bash
# The installed program finds a LibTorch that lives outside the system library folders, as an
# upstream download does. Without one at hand it builds against a stand-in: Debian's LibTorch
# (headers, compile flags) whose libraries are hard links in a temporary PREFIX/lib, linked from
# there by a TorchConfig.cmake of its own. It configures BUILD_DIR against it, builds the program
# (with the compiler cache, all hits after a CI build), installs it into a temporary prefix,
# and checks that the installed program's RUNPATH is PREFIX/lib and that the loader takes
# LibTorch from there.
# Usage: tests/packaging/upstream_rpath_test.sh [BUILD_DIR]   (default: build-upstream/)
# Exits 77 (skipped) without Debian's LibTorch, or where /tmp and /usr are not one file system.
set -euo pipefail
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(realpath -m -- "${1:-$src/build-upstream}")
debian_config=$(dpkg -L libtorch-dev 2>/dev/null | grep '/cmake/Torch/TorchConfig.cmake$' || true)
[ -n "$debian_config" ] || { echo "SKIP: needs Debian's libtorch-dev"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

stand_in=$work/libtorch
mkdir -p "$stand_in/lib" "$stand_in/share/cmake/Torch"
libdir=$(dirname "$(dirname "$(dirname "$debian_config")")")
for library in libtorch libtorch_cpu libc10; do
  real=$(realpath "$libdir/$library.so")
  soname=$(readelf -d "$real" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
  ln "$real" "$stand_in/lib/$(basename "$real")" 2>/dev/null ||
    { echo "SKIP: cannot hard-link $real into $stand_in (another file system)"; exit 77; }
  [ "$soname" = "$(basename "$real")" ] || ln -s "$(basename "$real")" "$stand_in/lib/$soname"
done
cat >"$stand_in/share/cmake/Torch/TorchConfig.cmake" <<EOF
# Debian's LibTorch, its libraries linked from this prefix's lib/.
include("$debian_config")
foreach(_target torch torch_cpu c10)
  get_target_property(_configurations \${_target} IMPORTED_CONFIGURATIONS)
  foreach(_configuration IN LISTS _configurations)
    get_target_property(_location \${_target} IMPORTED_LOCATION_\${_configuration})
    get_filename_component(_name "\${_location}" NAME)
    set_target_properties(\${_target} PROPERTIES
      IMPORTED_LOCATION_\${_configuration} "$stand_in/lib/\${_name}")
  endforeach()
endforeach()
EOF

echo "configuring $build against the stand-in LibTorch in $stand_in"
# The ci preset's settings, so that the compiler cache of a CI build holds every object.
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNORMTRAIN_WARNINGS_AS_ERRORS=ON \
  -DNORMTRAIN_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$stand_in" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; echo "FAIL: configuring"; exit 1; }
grep -q "^Torch_DIR:PATH=$stand_in/" "$build/CMakeCache.txt" ||
  { echo "FAIL: CMake did not take the stand-in LibTorch"; exit 1; }
cmake --build "$build" --target normtrain >"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log"; echo "FAIL: building"; exit 1; }
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; echo "FAIL: installing"; exit 1; }

program=$work/prefix/bin/normtrain
runpath=$(readelf -d "$program" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
echo "installed program's RUNPATH: $runpath"
[ "$runpath" = "$stand_in/lib" ] || { echo "FAIL: the RUNPATH should be $stand_in/lib"; exit 1; }
loaded=$(ldd "$program" | awk '$1 ~ /^libtorch_cpu\.so/ { print $3 }')
echo "libtorch_cpu loaded from: $loaded"
[ "$(dirname "$loaded")" = "$stand_in/lib" ] || { echo "FAIL: not from $stand_in/lib"; exit 1; }
"$program" --version
echo "upstream RUNPATH ok"
