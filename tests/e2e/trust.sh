#!/usr/bin/env bash
# Numbers a user can trust: a run folder is never silently replaced, one normtrain writes to a
# folder at a time, divergence stops the run with exit 3, and degenerate designs are announced.
# Usage: e2e_trust.sh NORMTRAIN_BINARY TINY_DATA_DIR
set -euo pipefail
bin=$1
data=$2
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
quick=(--epochs 1 --limit-train 256 --limit-test 100 --threads 1 --device cpu --data-dir "$data"
  --quiet)
fail() { echo "FAIL: $*"; exit 1; }
# status_of ARGS...: runs normtrain, keeps stderr in $work/err, prints the exit status.
status_of() {
  local status=0
  "$bin" "$@" >"$work/out" 2>"$work/err" || status=$?
  echo "$status"
}

# 1. A second fresh run into the same folder is refused before it touches anything.
"$bin" --norm gn "${quick[@]}" --out "$work/run"
before=$(cd "$work/run" && sha256sum run.json metrics.csv steps.csv checkpoint.pt model.pt)
[ "$(status_of --norm gn --seed 2 "${quick[@]}" --out "$work/run")" -eq 2 ] ||
  fail "second run into a used folder: $(cat "$work/err")"
grep -q "already holds a run" "$work/err" && grep -q -- "--resume $work/run" "$work/err" &&
  grep -q -- "--overwrite" "$work/err" || fail "refusal message: $(cat "$work/err")"
[ "$before" = "$(cd "$work/run" && sha256sum run.json metrics.csv steps.csv checkpoint.pt model.pt)" ] ||
  fail "the refused run changed the folder"
echo "ok: a used folder is refused"

# 2. --overwrite deletes the old run's files (not the user's) and trains afresh.
echo "my notes" >"$work/run/notes.txt"
"$bin" --norm ln "${quick[@]}" --out "$work/run" --overwrite
grep -q '"norm": "ln"' "$work/run/run.json" || fail "--overwrite did not train the new run"
[ "$(cat "$work/run/notes.txt")" = "my notes" ] || fail "--overwrite removed a file of the user's"
[ "$(wc -l <"$work/run/metrics.csv")" -eq 2 ] || fail "--overwrite kept old metrics rows"
echo "ok: --overwrite"

# 3. The default folder names the seed when it is not 1.
(cd "$work" && "$bin" --norm gn "${quick[@]}" --seed 2 && "$bin" --norm gn "${quick[@]}")
[ -f "$work/runs/gn-8-seed-2/run.json" ] && [ -f "$work/runs/gn-8/run.json" ] ||
  fail "default folders: $(ls "$work/runs")"
echo "ok: default folders per seed"

# 4. One writer per folder; the lock goes with its process, even after kill -9.
"$bin" --norm gn --epochs 20 --threads 1 --device cpu --data-dir "$data" --quiet \
  --out "$work/busy" &
pids+=($!)
for _ in $(seq 1 500); do [ -f "$work/busy/metrics.csv" ] && break; sleep 0.02; done
[ -f "$work/busy/metrics.csv" ] || fail "the background run did not start"
[ "$(status_of --resume "$work/busy" --epochs 30 --quiet)" -eq 1 ] || fail "second writer: $(cat "$work/err")"
grep -q "$work/busy is in use by another normtrain (pid ${pids[0]})" "$work/err" ||
  fail "lock message: $(cat "$work/err")"
[ "$(status_of eval --checkpoint "$work/busy" --quiet)" -eq 1 ] && grep -q "in use" "$work/err" ||
  fail "eval into a busy folder: $(cat "$work/err")"
[ "$(status_of --norm gn --epochs 20 --threads 1 --device cpu --data-dir "$data" --quiet \
  --out "$work/busy" --continue)" -eq 1 ] && grep -q "in use" "$work/err" ||
  fail "--continue into a busy folder: $(cat "$work/err")"
kill -9 "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
"$bin" eval --checkpoint "$work/busy" --quiet >/dev/null || fail "the lock outlived its kill -9ed holder"
echo "ok: one writer per folder"

# 5. Divergence stops the run: exit 3, finished epochs kept, run.json says where.
status=$(status_of --norm bn --lr 50 --epochs 3 --limit-train 512 --limit-test 100 --threads 1 \
  --device cpu --data-dir "$data" --out "$work/nan")
[ "$status" -eq 3 ] || fail "diverging run exited $status: $(cat "$work/err")"
grep -Eq "training diverged at epoch [0-9]+, step [0-9]+ \((loss (nan|inf|-inf)|a parameter or running statistic became (nan|inf)|test loss (nan|inf))\); try a lower --lr" "$work/err" ||
  fail "divergence message: $(cat "$work/err")"
grep -q '"status": "diverged"' "$work/nan/run.json" || fail "run.json status"
epoch=$(sed -n 's/.*training diverged at epoch \([0-9]*\).*/\1/p' "$work/err")
[ "$(wc -l <"$work/nan/metrics.csv")" -eq "$epoch" ] || fail "metrics.csv should keep epochs before $epoch"
if grep -qi "nan" "$work/nan/metrics.csv"; then fail "a non-finite epoch was written"; fi
echo "ok: divergence exits 3"

# 6. Degenerate designs are announced.
"$bin" --norm in "${quick[@]}" --out "$work/in" 2>"$work/err"
grep -q "cannot learn on this network" "$work/err" || fail "--norm in warning: $(cat "$work/err")"
echo "ok: degenerate designs announced"
echo "trust ok"
