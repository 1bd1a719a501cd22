# shellcheck shell=bash
# Sourced by the script tests: a scratch folder removed on exit, a failure count, and the
# checks they share. The test ends with `finish`.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
  echo "FAIL: $1"
  failures=$((failures + 1))
}

# expect_status NAME SCRIPT STATUS MESSAGE_REGEX ARGS...: `bash SCRIPT ARGS` exits STATUS and
# prints a line matching MESSAGE_REGEX (on stdout or stderr); NAME is what the report calls it.
expect_status() {
  local name=$1 script=$2 want=$3 pattern=$4
  shift 4
  bash "$script" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ] || ! grep -Eq -- "$pattern" "$work/err" "$work/out"; then
    fail "$name $* -> exit $got (want $want), output:"
    cat "$work/err" "$work/out"
  else
    echo "ok:   $name $* -> $got"
  fi
}

# finish: exit 1 when a check failed.
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures case(s) failed"
    exit 1
  fi
}
