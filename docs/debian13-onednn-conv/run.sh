#!/usr/bin/env bash
# Runs both reproducers and prints what they find, with the versions involved. On Debian 13:
#   apt-get install python3-torch libdnnl-dev g++ && docs/debian13-onednn-conv/run.sh
# From a Debian 12 host, in the project's Debian 13 root:
#   scripts/debian13.sh bash -c 'apt-get install -y libdnnl-dev && docs/debian13-onednn-conv/run.sh'
set -uo pipefail
cd "$(dirname "$0")"
echo "# $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores"
echo "# $(. /etc/os-release && echo "$PRETTY_NAME")"
dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' python3-torch 'libdnnl*' 'libtorch2*' 'libtorch1*' 2>/dev/null \
  | awk '$1 == "ii" { print "# " $2, $3 }'
echo "# avx512f: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)"
for isa in "" AVX2; do
  for layout in nchw channels_last; do
    echo "## PyTorch, ONEDNN_MAX_CPU_ISA=${isa:-unset}: python3 repro.py 8 12 $layout"
    ONEDNN_MAX_CPU_ISA=$isa "${PYTHON:-/usr/bin/python3}" repro.py 8 12 $layout
  done
done
if [ -f /usr/include/dnnl.hpp ]; then
  build=$(mktemp -d)
  g++ -O2 -std=c++17 conv_known_answer.cpp -o "$build/conv_known_answer" -ldnnl
  for isa in "" AVX2; do
    echo "## plain oneDNN, ONEDNN_MAX_CPU_ISA=${isa:-unset}: conv_known_answer N IC OC H"
    for shape in "8 16 16 12" "8 18 16 12" "8 12 16 12" "8 33 16 12" "8 16 8 12" "8 8 24 26" \
      "8 16 20 12" "8 8 12 12"; do
      ONEDNN_MAX_CPU_ISA=$isa "$build/conv_known_answer" $shape | tail -n1
    done
  done
  rm -rf "$build"
else
  echo "## plain oneDNN: skipped, /usr/include/dnnl.hpp not found (apt-get install libdnnl-dev)"
fi
