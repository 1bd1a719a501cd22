#!/usr/bin/env bash
# normtrain export and scripts/to_pytorch.py: runs of every norm (brn, frn, rms and weight
# standardization too), exported as safetensors (and some as TorchScript), loaded into plain
# PyTorch by the script, which must print the line
# `normtrain eval` prints for the same run and data; then export's and the script's errors.
# Runs trained with --kernels stock compute in normtrain exactly what they compute in PyTorch
# (the same LibTorch operators), so their lines must match character for character. The default
# fused kernels round differently (log-probabilities differ by about 1e-5), so for those runs
# everything but the loss must match and the loss within 2e-6, which may move its last digit.
# Skipped (77) only when the Python has no torch.
# Usage: export_pytorch.sh NORMTRAIN_BINARY TINY_DATA_DIR SOURCE_DIR [PYTHON]
set -euo pipefail
bin=$1
data=$2
script=$3/scripts/to_pytorch.py
python=${4:-/usr/bin/python3}
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "skipped: $python cannot import torch (Debian: apt install python3-torch)"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

train() {  # NAME FLAGS...: one epoch on the committed subset (batch 32: a model that learned)
  local name=$1
  shift
  "$bin" "$@" --epochs 1 --batch-size 32 --device cpu --threads 2 --data-dir "$data" \
    --no-download --out "$out/$name" --quiet
}

# The loss of an eval line.
loss_of() {
  sed -n 's/.*test loss \([0-9.]*\),.*/\1/p' <<<"$1"
}

# Exports RUN as FORMAT to RUN.safetensors or RUN.pt and records the line `normtrain eval`
# prints for the run.
declare -A expected_line
exported=()
export_run() {  # RUN FORMAT
  local run=$1 format=$2 file=$out/$1.safetensors
  [ "$format" = safetensors ] || file=$out/$run.pt
  "$bin" export --checkpoint "$out/$run" --format "$format" --out "$file" >"$out/said"
  grep -q "^wrote $file ($format)" "$out/said" || fail "export said: $(cat "$out/said")"
  expected_line[$file]=$("$bin" eval --checkpoint "$out/$run" --data-dir "$data" \
    --out "$out/$run-eval" --no-download --quiet)
  exported+=("$file")
}

# Runs the script on every exported file (its main() in one Python, which imports torch once:
# seconds per file saved) and checks each line against eval's (see above).
check_round_trips() {
  local file status actual
  "$python" - "$(dirname "$script")" "$data" "${exported[@]}" >"$out/lines" <<'PY' ||
import contextlib, io, sys
sys.path.insert(0, sys.argv[1])
import to_pytorch
onednn = to_pytorch.torch.backends.mkldnn.enabled
for path in sys.argv[3:]:
    # As in a process of its own: main() may turn oneDNN off for a file (Debian 13's faults).
    to_pytorch.torch.backends.mkldnn.enabled = onednn
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = to_pytorch.main([path, "--data-dir", sys.argv[2]])
    print(f"{path}\t{status}\t{printed.getvalue().strip()}")
PY
    fail "the script's main() failed: $(cat "$out/lines")"
  [ "$(wc -l <"$out/lines")" -eq ${#exported[@]} ] ||
    fail "expected ${#exported[@]} lines from the script, got: $(cat "$out/lines")"
  while IFS=$'\t' read -r file status actual; do
    [ "$status" = 0 ] || fail "to_pytorch.py $file exited $status"
    check_line "$file" "$actual" "${expected_line[$file]}"
  done <"$out/lines"
}

check_line() {  # FILE ACTUAL EXPECTED
  local file=$1 actual=$2 expected=$3 run=${1##*/}
  run=${run%.*}
  echo "$run (${file##*/}): $actual"
  [ "$actual" = "$expected" ] && return
  local kernels
  kernels=$(sed -n 's/.*"kernels": "\([a-z]*\)".*/\1/p' "$out/$run/run.json")
  [ "$kernels" = fused ] &&
    [ "${actual/test loss $(loss_of "$actual")/}" = "${expected/test loss $(loss_of "$expected")/}" ] &&
    awk -v a="$(loss_of "$actual")" -v e="$(loss_of "$expected")" \
      'BEGIN { exit !(a - e <= 2e-6 && e - a <= 2e-6) }' ||
    fail "$run (${file##*/}, $kernels kernels): to_pytorch.py printed
  $actual
normtrain eval printed
  $expected"
  echo "  (normtrain eval: $expected; fused kernels, the loss's last digit may differ)"
}

train bn --norm bn --l1 0.01
train ln --norm ln --limit-train 1024
train gn --norm gn --groups 4 --dropout 0.1 --limit-train 1024
# The script tests the run's own subset, as eval does (300 images here).
train in --norm in --limit-train 512 --limit-test 300
train none --norm none --limit-train 512
# The stock kernels' model has other layer indices in C++; the names must not change.
train bn-stock --norm bn --kernels stock --limit-train 1024
train gn-stock --norm gn --groups 2 --kernels stock --limit-train 1024
# The norms with layers of their own (stock kernels only) and weight standardization.
train brn --norm brn --brn-warmup 8 --limit-train 1024
train frn --norm frn --limit-train 1024
train rms --norm rms --limit-train 1024
train gn-ws --norm gn --groups 4 --weight-standardization --kernels stock --limit-train 1024

for run in bn ln gn in none bn-stock gn-stock; do export_run "$run" safetensors; done
export_run bn-stock torchscript
export_run gn torchscript
for run in brn frn rms gn-ws; do
  export_run "$run" safetensors
  export_run "$run" torchscript
done
check_round_trips
# The command line itself, once.
expected=${expected_line[$out/ln.safetensors]}
actual=$("$python" "$script" "$out/ln.safetensors" --data-dir "$data")
check_line "$out/ln.safetensors" "$actual" "$expected"

# Training in PyTorch carries on as normtrain trains: the script's batch renormalization is
# batch normalization while its limits are r_max = 1, d_max = 0 (the warm-up's start), outputs,
# gradients and moving averages alike; and the metadata gives the run's limits.
brn_training=0
"$python" - "$out/brn.safetensors" "$(dirname "$script")" <<'PY' || brn_training=$?
import copy, sys, torch
sys.path.insert(0, sys.argv[2])
from to_pytorch import BatchRenorm2d, load_model
model, metadata = load_model(sys.argv[1])
norm = model.block3.norm
assert isinstance(norm, BatchRenorm2d), type(norm)
assert (norm.r_max, norm.d_max, norm.warmup) == (3.0, 5.0, 8), (norm.r_max, norm.d_max, norm.warmup)
torch.manual_seed(0)
renorm = BatchRenorm2d(16, r_max=3.0, d_max=5.0, warmup=8)
batch = torch.nn.BatchNorm2d(16)
with torch.no_grad():
    for layer in (renorm, batch):
        layer.weight.copy_(torch.linspace(0.5, 1.5, 16))
        layer.bias.copy_(torch.linspace(-0.2, 0.2, 16))
x = torch.randn(8, 16, 6, 6, requires_grad=True)
y_renorm = renorm.train()(x)  # step 0 of the warm-up: r_max = 1, d_max = 0
grad_renorm, = torch.autograd.grad(y_renorm.square().sum(), x)
y_batch = batch.train()(x)
grad_batch, = torch.autograd.grad(y_batch.square().sum(), x)
assert torch.allclose(y_renorm, y_batch, atol=1e-5), (y_renorm - y_batch).abs().max()
assert torch.allclose(grad_renorm, grad_batch, atol=1e-4), (grad_renorm - grad_batch).abs().max()
assert torch.allclose(renorm.running_mean, batch.running_mean, atol=1e-6)
assert torch.allclose(renorm.running_var, batch.running_var, atol=1e-6)
assert int(renorm.num_batches_tracked) == 1
PY
[ "$brn_training" -eq 0 ] || fail "the script's BatchRenorm2d does not train as batch normalization at the warm-up's start"
echo "brn: the script's BatchRenorm2d trains as batch normalization at the warm-up's start"

# The TorchScript module holds the same tensors under the same names, and Python loads it with
# torch.jit.load alone.
same_tensors=0
"$python" - "$out/bn-stock.pt" "$out/bn-stock.safetensors" "$(dirname "$script")" <<'PY' || same_tensors=$?
import sys, torch
sys.path.insert(0, sys.argv[3])
from to_pytorch import read_safetensors
scripted = torch.jit.load(sys.argv[1]).state_dict()
tensors, metadata = read_safetensors(sys.argv[2])
assert sorted(scripted) == sorted(tensors), (sorted(scripted), sorted(tensors))
for name, tensor in tensors.items():
    assert torch.equal(scripted[name], tensor), name
assert metadata["norm"] == "bn" and metadata["variant_label"] == "BN", metadata
PY
[ "$same_tensors" -eq 0 ] || fail "the TorchScript module and the safetensors file differ"

# ONNX where the onnx package is installed; a clear refusal where it is not.
if "$python" -c "import onnx" 2>/dev/null; then
  "$python" "$script" "$out/gn.safetensors" --data-dir "$data" --onnx "$out/gn.onnx" >/dev/null
  valid=0
  "$python" - "$out/gn.onnx" <<'PY' || valid=$?
import sys, onnx
model = onnx.load(sys.argv[1])
onnx.checker.check_model(model)
assert [i.name for i in model.graph.input] == ["images"], model.graph.input
assert {p.key: p.value for p in model.metadata_props}["norm"] == "gn"
PY
  [ "$valid" -eq 0 ] || fail "the ONNX file is not a valid model"
  echo "onnx: written and checked"
else
  status=0
  "$python" "$script" "$out/gn.safetensors" --data-dir "$data" --onnx "$out/gn.onnx" \
    >/dev/null 2>"$out/err" || status=$?
  [ "$status" -eq 1 ] && grep -q "needs the onnx package" "$out/err" ||
    fail "--onnx without onnx: exit $status, $(cat "$out/err")"
  echo "onnx: not installed, refused with a clear message"
fi

# Errors: exit 2 for flags, 1 for files, each message naming the file or flag.
expect() {  # STATUS PATTERN COMMAND...
  local want=$1 pattern=$2 status=0
  shift 2
  "$@" >"$out/stdout" 2>"$out/err" || status=$?
  [ "$status" -eq "$want" ] || fail "$* exited $status, not $want: $(cat "$out/err")"
  grep -q -- "$pattern" "$out/err" || fail "$*: '$pattern' not in: $(cat "$out/err")"
}
expect 2 "--format" "$bin" export --checkpoint "$out/bn" --format onnx --out "$out/x"
expect 2 "--out" "$bin" export --checkpoint "$out/bn"
expect 1 "$out/nothing" "$bin" export --checkpoint "$out/nothing" --out "$out/x"
expect 1 "is a folder" "$bin" export --checkpoint "$out/bn" --out "$out"
expect 1 "choose another with --out" \
  "$bin" export --checkpoint "$out/bn" --out "$out/bn/run.json/model.safetensors"
expect 1 "$out/bn/run.json is not a safetensors file" \
  "$python" "$script" "$out/bn/run.json" --data-dir "$data"
expect 1 "t10k-images-idx3-ubyte (or t10k-images-idx3-ubyte.gz) not found in $out" \
  "$python" "$script" "$out/bn.safetensors" --data-dir "$out"
expect 2 "--data-dir" "$python" "$script" "$out/bn.safetensors"
echo "export ok"
