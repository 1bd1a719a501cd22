#!/usr/bin/env bash
# `cmake --install` into a fresh prefix: the GNU layout (bin/, share/doc/normtrain/,
# share/man/man1/), nothing else (no tests, no tools), an installed program that runs and whose
# RUNPATH points into neither the build nor the source tree, and an installed normtrain-plot
# that finds the normtrain beside it (gnuplot permitting).
# Usage: install_test.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
failures=0

fail() {
  echo "FAIL: $1"
  failures=$((failures + 1))
}

if ! cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  echo "FAIL: cmake --install $build --prefix $prefix"
  exit 1
fi

expected=(bin/normtrain bin/normtrain-plot share/doc/normtrain/README.md
  share/doc/normtrain/LICENSE share/doc/normtrain/copyright)
if grep -q '^HELP2MAN_PROGRAM:FILEPATH=/' "$build/CMakeCache.txt"; then
  expected+=(share/man/man1/normtrain.1.gz share/man/man1/normtrain-plot.1.gz)
fi
for file in "${expected[@]}"; do
  [ -f "$prefix/$file" ] || fail "not installed: $file"
done
installed=$(cd "$prefix" && find . -type f | sed 's|^\./||' | sort)
unexpected=$(comm -13 <(printf '%s\n' "${expected[@]}" | sort) <(echo "$installed"))
[ -z "$unexpected" ] || fail "installed but not expected: $(echo "$unexpected" | tr '\n' ' ')"

version=$("$prefix/bin/normtrain" --version) || fail "the installed normtrain --version failed"
[[ "$version" == "normtrain "* ]] || fail "the installed normtrain --version printed '$version'"
runpath=$(readelf -d "$prefix/bin/normtrain" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
case ":$runpath:" in
  *":$build"* | *":$src"*) fail "the installed program's RUNPATH points into the tree: $runpath" ;;
  *) echo "ok:   installed normtrain runs ($version); RUNPATH: '${runpath}'" ;;
esac

if command -v gnuplot >/dev/null 2>&1; then
  # NORMTRAIN_BINARY unset: the installed script must find the installed program by itself.
  if (unset NORMTRAIN_BINARY && "$prefix/bin/normtrain-plot" -o "$work/plot.png" \
    "$src/tests/fixtures/runs/gn-8") >"$work/plot.log" 2>&1 && [ -s "$work/plot.png" ]; then
    echo "ok:   installed normtrain-plot drew a run"
  else
    cat "$work/plot.log"
    fail "the installed normtrain-plot failed"
  fi
  "$prefix/bin/normtrain-plot" --help | grep -q '^Usage: normtrain-plot ' ||
    fail "normtrain-plot --help does not name itself"
else
  echo "skip: gnuplot not installed, normtrain-plot not run"
fi

[ "$failures" -eq 0 ] || exit 1
echo "install layout ok"
