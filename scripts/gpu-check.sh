#!/usr/bin/env bash
# One call on a GPU machine that reaches no package archive: builds normtrain against the
# LibTorch inside python3's PyTorch, with the packages scripts/gpu-bundle.sh carried in, then
# runs in one go the CUDA tests, the study's three variants for 20 epochs on full MNIST
# (per-epoch and end-to-end times, peak GPU memory), Ctrl-C + --resume, eval and predict, and,
# if time is left, the unit tests. Every step has a time limit within --budget; a failing step
# is recorded and the next one still runs. Writes one Markdown report (rewritten after every
# step, so that a run killed from outside still leaves one), copies the run folders and logs
# beside it (REPORT without .md, + "-files/"), and prints a summary. Exit status 0 when every
# step passed, 1 otherwise.
#
# --rehearse: the same steps on a CPU-only machine (device cpu, short runs; the CUDA tests then
# skip), so that this script and the build can be debugged where minutes cost nothing, e.g. in
# scripts/debian13.sh's root against Debian 13's LibTorch. See docs/gpu-check.md.
#
# Usage: scripts/gpu-check.sh [--bundle DIR] [--report FILE] [--rehearse] [--budget SECONDS]
#          [--build-dir DIR] [--torch-prefix DIR] [--python PYTHON] [--jobs N] [--no-system-deps]
#   --bundle DIR       what gpu-bundle.sh made (default build-gpu-bundle, when present)
#   --report FILE      the Markdown report (default BUILD_DIR/gpu-check.md)
#   --budget SECONDS   everything, build included, within this (default 540; 3600 with
#                      --rehearse, whose build on a small machine takes many minutes)
#   --build-dir DIR    build tree, unpacked packages and runs (default build-gpu); kept, so that
#                      a second call rebuilds only what changed
#   --torch-prefix DIR CMAKE_PREFIX_PATH for LibTorch (default: python3's torch, when it has its
#                      CMake files; else the system's)
#   --no-system-deps   ignore this machine's zlib, OpenSSL and libcurl development packages and
#                      use the bundle's headers with the runtime libraries (tries that path here)
#   --only LIST        after the build, only these steps (comma-separated): cuda-tests, probe
#                      (bench/gpu_probe.py: PyTorch settings against a graphed step's time),
#                      variants, eager, nodiag (the variants with --diagnostics-every 0), resume,
#                      eval, unit; for a second call that finishes what a first one left.
#                      Default: all but nodiag
# Functions run through run_fn and traps look unreachable to shellcheck.
# shellcheck disable=SC2317
set -uo pipefail
caller=$PWD
cd "$(dirname "$0")/.." || exit 2
root=$PWD
# Paths on the command line are the caller's.
absolute() { case $1 in /*) echo "$1" ;; *) echo "$caller/$1" ;; esac; }

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
  echo "gpu-check: needs bash 4.4 or later" >&2
  exit 2
fi

bundle=
report=
rehearse=0
budget=
top=build-gpu
torch_prefix=
python=python3
jobs=$(nproc)
system_deps=ON
only=
while [ $# -gt 0 ]; do
  case $1 in
    --bundle) bundle=$(absolute "$2"); shift 2 ;;
    --report) report=$(absolute "$2"); shift 2 ;;
    --rehearse) rehearse=1; shift ;;
    --budget) budget=$2; shift 2 ;;
    --build-dir) top=$(absolute "$2"); shift 2 ;;
    --torch-prefix) torch_prefix=$(absolute "$2"); shift 2 ;;
    --python) python=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --no-system-deps) system_deps=OFF; shift ;;
    --only) only=",$2,"; shift 2 ;;
    -h | --help) sed -n "2,/^# Functions run/p" "$0" | sed "\$d; s/^# \{0,1\}//"; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$bundle" ] || { [ -d build-gpu-bundle ] && bundle=build-gpu-bundle; }
[ -z "$bundle" ] || bundle=$(cd "$bundle" && pwd) || { echo "gpu-check: no bundle folder $bundle" >&2; exit 2; }
mkdir -p "$top"
top=$(cd "$top" && pwd)
report=${report:-$top/gpu-check.md}
mkdir -p "$(dirname "$report")"
report="$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
files_dir="${report%.md}-files"

cmake_dir=$top/cmake   # removed and made afresh when LibTorch's CMake package must be bypassed
deps=$top/deps         # the bundle's packages, unpacked
work=$top/check        # runs, logs, report sections
logs=$work/logs
sections=$work/sections
rm -rf "$work" "$files_dir"
mkdir -p "$logs" "$sections"

if ((rehearse)); then mode=rehearse; device=cpu; else mode=gpu; device=cuda; fi
budget=${budget:-$( ((rehearse)) && echo 3600 || echo 540)}
# Seconds kept back from every step for the report at the end.
reserve=10

# ---- time ----------------------------------------------------------------------------------
start_seconds=$(date +%s)
elapsed() { echo $(($(date +%s) - start_seconds)); }
left() { echo $((budget - $(elapsed))); }
# The seconds a step may take: WANT, or what the budget leaves after the reserve.
limit() { local l=$(($(left) - reserve)); if ((l < $1)); then echo "$l"; else echo "$1"; fi; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- steps ---------------------------------------------------------------------------------
step_names=()
step_status=()
step_secs=()
step_notes=()
failed=0
progress() { echo "gpu-check [$(elapsed)s/${budget}s] $*"; }
# record NAME STATUS SECONDS NOTE: one row of the steps table (STATUS ok, FAIL, TIMEOUT, SKIP).
record() {
  step_names+=("$1")
  step_status+=("$2")
  step_secs+=("$3")
  step_notes+=("$4")
  case $2 in FAIL | TIMEOUT) failed=1 ;; esac
  progress "$1: $2${4:+ ($4)}"
  write_report
}
# Adds to the last step's note; FAIL as a second argument marks it failed.
annotate() {
  local i=$((${#step_names[@]} - 1))
  step_notes[i]="${step_notes[i]:+${step_notes[i]}; }$1"
  if [ "${2:-}" = FAIL ] && [ "${step_status[i]}" = ok ]; then
    step_status[i]=FAIL
    failed=1
  fi
  write_report
}
last_status() { echo "${step_status[${#step_status[@]} - 1]}"; }
last_name() { echo "${step_names[${#step_names[@]} - 1]}"; }
last_secs() { echo "${step_secs[${#step_secs[@]} - 1]}"; }
# run_step NAME WANT MIN COMMAND...: COMMAND with at most WANT seconds (less when the budget is
# short), its output in logs/NAME.log; skipped when fewer than MIN seconds are left. Returns
# COMMAND's status (99 when skipped).
run_step() {
  local name=$1 want=$2 min=$3 lim rc=0 t0
  shift 3
  lim=$(limit "$want")
  if ((lim < min)); then
    record "$name" SKIP 0 "no time left"
    return 99
  fi
  progress "$name: started (limit ${lim}s)"
  t0=$(now)
  timeout --kill-after=10 "$lim" "$@" >"$logs/$name.log" 2>&1 || rc=$?
  case $rc in
    0) record "$name" ok "$(since "$t0")" "" ;;
    124 | 137) record "$name" TIMEOUT "$(since "$t0")" "stopped at the ${lim}s limit" ;;
    *) record "$name" FAIL "$(since "$t0")" "exit $rc" ;;
  esac
  return "$rc"
}
# run_fn NAME FUNCTION [ARGUMENTS...]: a quick shell function (no time limit), timed and logged.
run_fn() {
  local name=$1 rc=0 t0
  shift
  progress "$name: started"
  t0=$(now)
  "$@" >"$logs/$name.log" 2>&1 || rc=$?
  if ((rc == 0)); then record "$name" ok "$(since "$t0")" ""; else record "$name" FAIL "$(since "$t0")" "exit $rc"; fi
  return "$rc"
}
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# wants STEP: whether --only (or the default set) includes STEP.
wants() { if [ -n "$only" ]; then [[ $only == *",$1,"* ]]; else [ "$1" != nodiag ]; fi; }

# ---- background processes this script started (the GPU memory sampler, a run to interrupt) --
sampler_pid=
run_pid=
run_status=0
# alive PID: running, not a zombie waiting to be reaped.
alive() { kill -0 "$1" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; }
# wait_run DEADLINE: waits for run_pid until DEADLINE (epoch seconds), then stops it; its exit
# status in run_status.
wait_run() {
  while alive "$run_pid" && (($(date +%s) < $1)); do sleep 0.1; done
  if alive "$run_pid"; then
    kill -TERM "$run_pid" 2>/dev/null
    sleep 5
    kill -KILL "$run_pid" 2>/dev/null
  fi
  run_status=0
  wait "$run_pid" || run_status=$?
  run_pid=
}
# samples MiB of GPU 0 in use every 100 ms into FILE, until stop_sampler.
start_sampler() {
  if ((rehearse)) || ! command -v nvidia-smi >/dev/null; then return 0; fi
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 100 >"$1" 2>/dev/null &
  sampler_pid=$!
}
stop_sampler() {
  [ -n "$sampler_pid" ] || return 0
  kill "$sampler_pid" 2>/dev/null
  wait "$sampler_pid" 2>/dev/null
  sampler_pid=
}
gpu_memory_used() {
  if ((rehearse)) || ! command -v nvidia-smi >/dev/null; then return 0; fi
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 2>/dev/null | head -n1
}
cleanup() {
  stop_sampler
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then kill -KILL "$run_pid" 2>/dev/null; fi
  write_report
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- report --------------------------------------------------------------------------------
# section NAME: its Markdown from stdin; sections appear in the report in NAME order.
section() { cat >"$sections/$1.md"; }
steps_table() {
  echo "| step | status | seconds | note |"
  echo "|---|---|---:|---|"
  local i
  for i in "${!step_names[@]}"; do
    echo "| ${step_names[i]} | ${step_status[i]} | ${step_secs[i]} | ${step_notes[i]} |"
  done
}
write_report() {
  local f i revision
  revision=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "unknown")
  [ -z "$(git -C "$root" status --porcelain 2>/dev/null | head -n1)" ] || revision="$revision + changes"
  {
    echo "# normtrain GPU check ($mode)"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), normtrain $revision; $(elapsed) s of a ${budget} s budget;" \
      "made by \`scripts/gpu-check.sh\`${bundle:+ with the bundle \`$(basename "$bundle")\`}."
    echo
    for f in "$sections"/0*.md; do [ -f "$f" ] && cat "$f" && echo; done
    echo "## Steps"
    echo
    steps_table
    echo
    for f in "$sections"/[1-9]*.md; do [ -f "$f" ] && cat "$f" && echo; done
    for i in "${!step_names[@]}"; do
      case ${step_status[i]} in
        FAIL | TIMEOUT)
          [ -s "$logs/${step_names[i]}.log" ] || continue
          echo "### Log of ${step_names[i]}"
          echo
          echo "The first errors, then the last 30 lines (all of it in $(basename "$files_dir")/logs/):"
          echo
          echo '```'
          grep -m 4 -A 10 -E 'CMake Error|error:|undefined reference|FAILED:|Failure|Error' \
            "$logs/${step_names[i]}.log" | head -n 60 | cut -c1-300
          echo "..."
          tail -n 30 "$logs/${step_names[i]}.log" | cut -c1-300
          echo '```'
          echo
          ;;
      esac
    done
  } >"$report.tmp" && mv "$report.tmp" "$report"
}
save_files() {
  mkdir -p "$files_dir"
  cp -r "$logs" "$files_dir/" 2>/dev/null
  [ -d "$work/runs" ] && cp -r "$work/runs" "$files_dir/" 2>/dev/null
  [ -d "$work/resume" ] && cp -r "$work/resume" "$files_dir/" 2>/dev/null
  [ -d "$work/eval" ] && cp -r "$work/eval" "$files_dir/" 2>/dev/null
  [ -f "$cmake_dir/gpu-check-deps.txt" ] && cp "$cmake_dir/gpu-check-deps.txt" "$files_dir/"
  return 0
}

# ---- the machine ---------------------------------------------------------------------------
declare -A info=()
collect_info() {
  local key value out
  out=$(timeout 120 "$python" - 2>"$logs/python-info.log" <<'PY'
import os
import sys

print("python=%s (%s)" % (sys.version.split()[0], sys.executable))
try:
    import torch
except Exception as error:  # no PyTorch: the build takes the system's LibTorch, if any
    print("torch_error=%s" % str(error).replace("\n", " "))
    sys.exit(0)
print("torch_version=%s" % torch.__version__)
print("torch_cuda=%s" % torch.version.cuda)
print("torch_dir=%s" % os.path.dirname(torch.__file__))
print("cmake_prefix=%s" % torch.utils.cmake_prefix_path)
print("cxx11_abi=%d" % int(torch._C._GLIBCXX_USE_CXX11_ABI))
try:
    print("cudnn=%s" % torch.backends.cudnn.version())
except Exception:
    pass
available = torch.cuda.is_available()
print("cuda_available=%d" % int(available))
if available:
    print("gpu_name=%s" % torch.cuda.get_device_name(0))
    print("gpu_capability=%d.%d" % torch.cuda.get_device_capability(0))
try:  # the CUDA libraries of pip's nvidia-* wheels, which this PyTorch was built against
    import nvidia

    dirs = []
    for base in nvidia.__path__:
        for name in sorted(os.listdir(base)):
            if os.path.isdir(os.path.join(base, name, "lib")):
                dirs.append(os.path.join(base, name, "lib"))
    print("nvidia_libs=%s" % ":".join(dirs))
except Exception:
    pass
PY
  )
  while IFS='=' read -r key value; do
    [ -n "$key" ] && info[$key]=$value
  done <<<"$out"
  # shellcheck source=/dev/null
  info[os]=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")
  info[arch]=$(uname -m)
  info[cpus]=$(nproc)
  info[glibc]=$(ldd --version 2>/dev/null | head -n1 | awk '{print $NF}')
  info[compiler]=$(c++ --version 2>/dev/null | head -n1)
  info[cmake]=$(cmake --version 2>/dev/null | head -n1 | awk '{print $3}')
  info[ninja]=$(ninja --version 2>/dev/null)
  if command -v nvidia-smi >/dev/null; then
    info[smi]=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader -i 0 2>/dev/null)
    info[driver_cuda]=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: *[0-9.]*' | awk '{print $NF}')
  fi
  nvcc=$(command -v nvcc || true)
  if [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
    nvcc=/usr/local/cuda/bin/nvcc
    PATH=/usr/local/cuda/bin:$PATH
  fi
  [ -z "$nvcc" ] || info[nvcc]=$("$nvcc" --version 2>/dev/null | grep -o 'release [0-9.]*' | awk '{print $2}')
}

machine_section() {
  local row
  {
    echo "## Machine"
    echo
    echo "| what | value |"
    echo "|---|---|"
    for row in "GPU (nvidia-smi: name, driver, memory)|${info[smi]:-none}" \
      "CUDA the driver supports|${info[driver_cuda]:-}" \
      "GPU as PyTorch sees it|${info[gpu_name]:-none} (compute capability ${info[gpu_capability]:-?})" \
      "PyTorch (LibTorch)|${info[torch_version]:-${info[torch_error]:-none}}" \
      "its CUDA, cuDNN|${info[torch_cuda]:-none}, ${info[cudnn]:-none}" \
      "its C++ ABI (_GLIBCXX_USE_CXX11_ABI)|${info[cxx11_abi]:-?}" "nvcc|${info[nvcc]:-none}" \
      "LibTorch used for the build|${torch_prefix:-the system LibTorch}" "python|${info[python]:-?}" \
      "OS, architecture, CPUs, glibc|${info[os]}, ${info[arch]}, ${info[cpus]}, ${info[glibc]:-?}" \
      "compiler, CMake, ninja|${info[compiler]:-none}, ${info[cmake]:-none}, ${info[ninja]:-none}"; do
      echo "| ${row%%|*} | ${row#*|} |"
    done
    if [ -n "$bundle" ] && [ -f "$bundle/MANIFEST.txt" ]; then
      echo
      echo "<details><summary>bundle manifest</summary>"
      echo
      echo '```'
      sed -n '1,/^sha256:/p' "$bundle/MANIFEST.txt" | sed '$d'
      echo '```'
      echo "</details>"
    fi
  } | section 00-machine
}

# ---- the bundle's packages -------------------------------------------------------------------
# unpack_deb DEB DIR: DEB's files under DIR, with dpkg, else ar and tar, else Python.
unpack_deb() {
  if command -v dpkg >/dev/null && dpkg -x "$1" "$2"; then return 0; fi
  if command -v ar >/dev/null &&
    (cd "$2" && ar x "$1" && tar -xf data.tar.* && rm -f data.tar.* control.tar.* debian-binary); then
    return 0
  fi
  "$python" - "$1" "$2" <<'PY'
import io
import sys
import tarfile

deb, dest = sys.argv[1], sys.argv[2]
with open(deb, "rb") as f:
    if f.read(8) != b"!<arch>\n":
        sys.exit("%s is not a Debian package" % deb)
    while True:
        header = f.read(60)
        if len(header) < 60:
            sys.exit("%s holds no data.tar" % deb)
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        data = f.read(size)
        f.read(size % 2)
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                # Files and folders only: the packages' symlinks point into the system.
                members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
                try:
                    tar.extractall(dest, members=members, filter="tar")
                except TypeError:  # Python without extraction filters
                    tar.extractall(dest, members=members)
            break
PY
}
unpack_bundle() {
  local deb pkg
  rm -rf "$deps"
  mkdir -p "$deps"
  for deb in "$bundle"/debs/*.deb; do
    [ -f "$deb" ] || { echo "no .deb files in $bundle/debs"; return 1; }
    pkg=$(basename "$deb")
    pkg=${pkg%%_*}
    mkdir -p "$deps/$pkg"
    unpack_deb "$deb" "$deps/$pkg" || return 1
    echo "$pkg: $(find "$deps/$pkg" -type f | wc -l) files"
  done
}

# ---- C libraries: the shared ones this machine has (the bundle holds their headers) ---------
# runtime_lib SONAME...: the path of the first of these shared libraries the loader knows, or
# that lies in python's prefix; empty when none.
runtime_lib() {
  local name path dir
  for name in "$@"; do
    path=$({ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } |
      awk -v n="$name" '$1 == n && $2 ~ /64/ { print $NF; exit }')
    if [ -n "$path" ] && [ -e "$path" ]; then echo "$path"; return; fi
    for dir in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib \
      "$("$python" -c 'import sys; print(sys.prefix)' 2>/dev/null)/lib"; do
      if [ -e "$dir/$name" ]; then echo "$dir/$name"; return; fi
    done
  done
}

# ---- CMake ---------------------------------------------------------------------------------
# The file CMake includes at the end of normtrain's project() call (CMAKE_PROJECT_normtrain_INCLUDE),
# before cmake/Dependencies.cmake looks for anything: that file then takes the targets made here.
write_deps_cmake() {
  cat >"$top/gpu-check-deps.cmake" <<'CMAKE'
# Written by scripts/gpu-check.sh. The C++ libraries come header-only from the carried Debian
# packages and GoogleTest from its sources, so that every C++ object is compiled here with
# LibTorch's C++ ABI; the C libraries (zlib, libcrypto, libcurl), which have no C++ ABI, come
# from this machine. What was chosen goes to gpu-check-deps.txt for the report.
set(_gpu_deps "${GPU_CHECK_DEPS}")
set(_gpu_log "${CMAKE_BINARY_DIR}/gpu-check-deps.txt")
file(WRITE "${_gpu_log}" "")
function(gpu_check_note text)
  message(STATUS "gpu-check: ${text}")
  file(APPEND "${_gpu_log}" "${text}\n")
endfunction()
find_package(Threads REQUIRED)

if(GPU_CHECK_TORCH_MODE STREQUAL "manual")
  # LibTorch's own CMake package failed here (the report has its log): the python package's
  # headers and libraries, which need no CUDA toolkit. libtorch_cuda is linked even though
  # nothing names its symbols: loading it is what registers CUDA with LibTorch.
  set(_lib "${GPU_CHECK_TORCH_DIR}/lib")
  set(_links "")
  foreach(_name torch_cuda c10_cuda)
    if(EXISTS "${_lib}/lib${_name}.so")
      list(APPEND _links "-Wl,--no-as-needed,${_lib}/lib${_name}.so,--as-needed")
    endif()
  endforeach()
  list(APPEND _links "${_lib}/libtorch.so" "${_lib}/libtorch_cpu.so" "${_lib}/libc10.so")
  # The CUDA runtime's headers, for the CUDA parts of LibTorch that normtrain includes (its CUDA
  # graphs): the toolkit's, else those of pip's nvidia-cuda-runtime wheel.
  set(_includes "${GPU_CHECK_TORCH_DIR}/include;${GPU_CHECK_TORCH_DIR}/include/torch/csrc/api/include")
  foreach(_dir ${GPU_CHECK_CUDA_INCLUDES})
    if(EXISTS "${_dir}/cuda_runtime_api.h")
      list(APPEND _includes "${_dir}")
      gpu_check_note("CUDA runtime headers: ${_dir}")
      break()
    endif()
  endforeach()
  add_library(torch INTERFACE IMPORTED)
  set_target_properties(torch PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_includes}" INTERFACE_LINK_LIBRARIES "${_links}")
  # Where normtrain looks for LibTorch's CUDA library (src/train/CMakeLists.txt).
  set(TORCH_INSTALL_PREFIX "${GPU_CHECK_TORCH_DIR}")
  set(_abi "${GPU_CHECK_CXX11_ABI}")
  gpu_check_note("torch: made from ${GPU_CHECK_TORCH_DIR} (LibTorch's CMake package bypassed)")
else()
  find_package(Torch REQUIRED)
  if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
    set(_abi "${CMAKE_MATCH_1}")
  endif()
  gpu_check_note("torch: LibTorch's CMake package ${Torch_DIR} (version ${Torch_VERSION})")
endif()
# One C++ ABI for every object, LibTorch's: normtrain_base and GoogleTest link no LibTorch, and
# cmake/Dependencies.cmake, finding the torch target made, leaves its old-ABI check to this.
if(_abi STREQUAL "0" OR _abi STREQUAL "1")
  add_compile_definitions(_GLIBCXX_USE_CXX11_ABI=${_abi})
  gpu_check_note("C++ ABI: _GLIBCXX_USE_CXX11_ABI=${_abi} for every target")
endif()

# A header-only library from its unpacked package: TARGET from PACKAGE's usr/include.
function(gpu_check_headers target package)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "DEFINITIONS;LINKS")
  set(dir "${_gpu_deps}/${package}/usr/include")
  if(TARGET ${target} OR NOT IS_DIRECTORY "${dir}")
    gpu_check_note("${target}: not from the bundle")
    return()
  endif()
  add_library(${target} INTERFACE IMPORTED)
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${dir}"
    INTERFACE_COMPILE_DEFINITIONS "${arg_DEFINITIONS}" INTERFACE_LINK_LIBRARIES "${arg_LINKS}")
  gpu_check_note("${target}: header-only from ${package}")
endfunction()
gpu_check_headers(fmt::fmt libfmt-dev DEFINITIONS FMT_HEADER_ONLY=1)
gpu_check_headers(spdlog::spdlog libspdlog-dev DEFINITIONS SPDLOG_FMT_EXTERNAL
                  LINKS fmt::fmt Threads::Threads)
gpu_check_headers(CLI11::CLI11 libcli11-dev)
gpu_check_headers(nlohmann_json::nlohmann_json nlohmann-json3-dev)
if(IS_DIRECTORY "${_gpu_deps}/libstb-dev/usr/include/stb")
  set(STB_INCLUDE_DIR "${_gpu_deps}/libstb-dev/usr/include/stb" CACHE PATH "stb (gpu-check)" FORCE)
  gpu_check_note("stb: from libstb-dev")
endif()

# A C library: this machine's development package, else the bundle's headers with this
# machine's shared library (RUNTIME), else the bundle's static one (STATIC, with LINKS).
function(gpu_check_c_library target package find_name runtime static)
  cmake_parse_arguments(PARSE_ARGV 5 arg "" "" "LINKS")
  if(GPU_CHECK_SYSTEM_DEPS)
    find_package(${find_name} QUIET)
    if(TARGET ${target})
      gpu_check_note("${target}: this machine's development files")
      return()
    endif()
  endif()
  set(usr "${_gpu_deps}/${package}/usr")
  set(location "${runtime}")
  set(links "")
  if(NOT location OR NOT EXISTS "${location}")
    file(GLOB location "${usr}/lib/*/${static}")
    set(links "${arg_LINKS}")
  endif()
  if(NOT location OR NOT IS_DIRECTORY "${usr}/include")
    message(FATAL_ERROR "gpu-check: no ${target}: no development files here, and no ${package} "
                        "in the bundle with a shared library (${runtime}) or ${static}")
  endif()
  list(GET location 0 location)
  file(GLOB arch_includes LIST_DIRECTORIES true "${usr}/include/*-linux-gnu")
  add_library(${target} UNKNOWN IMPORTED)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${location}"
    INTERFACE_INCLUDE_DIRECTORIES "${usr}/include;${arch_includes}" INTERFACE_LINK_LIBRARIES "${links}")
  gpu_check_note("${target}: headers from ${package}, library ${location}")
endfunction()
gpu_check_c_library(ZLIB::ZLIB zlib1g-dev ZLIB "${GPU_CHECK_ZLIB_RUNTIME}" libz.a)
gpu_check_c_library(OpenSSL::Crypto libssl-dev OpenSSL "${GPU_CHECK_CRYPTO_RUNTIME}" libcrypto.a
                    LINKS ${CMAKE_DL_LIBS} Threads::Threads)
set(_curl "${_gpu_deps}/libcurl4-openssl-dev/usr")
if(NOT GPU_CHECK_CURL_RUNTIME AND NOT TARGET CURL::libcurl AND IS_DIRECTORY "${_curl}/include")
  if(GPU_CHECK_SYSTEM_DEPS)
    find_package(CURL QUIET)
  endif()
  if(NOT TARGET CURL::libcurl)
    # No libcurl on this machine: stand-ins that fail every download, so that normtrain links
    # and runs from local data (it never downloads here: the data is carried).
    file(GLOB _curl_includes LIST_DIRECTORIES true "${_curl}/include/*-linux-gnu")
    set(_stub "${CMAKE_BINARY_DIR}/gpu-check-curl-stub.cpp")
    file(WRITE "${_stub}" [=[
// Written by scripts/gpu-check.sh for a machine without libcurl: every download fails.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#undef curl_easy_setopt
namespace {
const char* const kNoCurl = "this normtrain was built without libcurl (gpu-check stub)";
}
CURLcode curl_global_init(long) { return CURLE_FAILED_INIT; }
const char* curl_easy_strerror(CURLcode) { return kNoCurl; }
CURL* curl_easy_init() { return nullptr; }
void curl_easy_cleanup(CURL*) {}
CURLcode curl_easy_setopt(CURL*, CURLoption, ...) { return CURLE_FAILED_INIT; }
CURLM* curl_multi_init() { return nullptr; }
CURLMcode curl_multi_add_handle(CURLM*, CURL*) { return CURLM_BAD_HANDLE; }
CURLMcode curl_multi_remove_handle(CURLM*, CURL*) { return CURLM_BAD_HANDLE; }
CURLMcode curl_multi_cleanup(CURLM*) { return CURLM_OK; }
CURLMcode curl_multi_perform(CURLM*, int* running) { *running = 0; return CURLM_BAD_HANDLE; }
CURLMcode curl_multi_poll(CURLM*, curl_waitfd*, unsigned int, int, int*) { return CURLM_BAD_HANDLE; }
CURLMcode curl_multi_wait(CURLM*, curl_waitfd*, unsigned int, int, int*) { return CURLM_BAD_HANDLE; }
CURLMsg* curl_multi_info_read(CURLM*, int* queued) { *queued = 0; return nullptr; }
const char* curl_multi_strerror(CURLMcode) { return kNoCurl; }
]=])
    add_library(gpu_check_curl_stub STATIC "${_stub}")
    target_include_directories(gpu_check_curl_stub SYSTEM PUBLIC "${_curl}/include" ${_curl_includes})
    add_library(CURL::libcurl ALIAS gpu_check_curl_stub)
    gpu_check_note("CURL::libcurl: STUB, downloads fail (no libcurl on this machine)")
  else()
    gpu_check_note("CURL::libcurl: this machine's development files")
  endif()
else()
  gpu_check_c_library(CURL::libcurl libcurl4-openssl-dev CURL "${GPU_CHECK_CURL_RUNTIME}" none)
endif()

# GoogleTest from source, with the flags (and the ABI) of everything else.
foreach(_gtest "${_gpu_deps}/googletest/usr/src/googletest" "/usr/src/googletest")
  if(NOT TARGET GTest::gtest_main AND EXISTS "${_gtest}/CMakeLists.txt")
    set(BUILD_GMOCK OFF)
    set(INSTALL_GTEST OFF)
    add_subdirectory("${_gtest}" "${CMAKE_BINARY_DIR}/_deps/googletest" EXCLUDE_FROM_ALL)
    gpu_check_note("GTest: built from ${_gtest}")
  endif()
endforeach()

# The CUDA tests, when tests/CMakeLists.txt does not define them yet: the same definition it
# should hold, so that this check also runs on a checkout from before that edit.
function(gpu_check_cuda_tests)
  set(source "${PROJECT_SOURCE_DIR}/tests/cuda/test_cuda.cpp")
  if(TARGET normtrain_cuda_tests)
    gpu_check_note("normtrain_cuda_tests: defined by tests/CMakeLists.txt")
    return()
  endif()
  if(NOT TARGET normtrain_core OR NOT TARGET GTest::gtest_main OR NOT EXISTS "${source}")
    return()
  endif()
  include(GoogleTest)
  add_executable(normtrain_cuda_tests "${source}" "${PROJECT_SOURCE_DIR}/tests/support/test_support.cpp")
  target_link_libraries(normtrain_cuda_tests PRIVATE normtrain_core GTest::gtest_main ZLIB::ZLIB)
  target_compile_definitions(normtrain_cuda_tests PRIVATE
    NORMTRAIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}" NORMTRAIN_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_include_directories(normtrain_cuda_tests PRIVATE "${PROJECT_SOURCE_DIR}/tests/support")
  if(COMMAND normtrain_set_warnings)
    normtrain_set_warnings(normtrain_cuda_tests)
  endif()
  gtest_discover_tests(normtrain_cuda_tests DISCOVERY_TIMEOUT 120 PROPERTIES LABELS cuda)
  gpu_check_note("normtrain_cuda_tests: defined by gpu-check (tests/CMakeLists.txt lacks it)")
endfunction()
if(NOT CMAKE_VERSION VERSION_LESS 3.19)
  cmake_language(DEFER CALL gpu_check_cuda_tests)
endif()
CMAKE
}

# configure_args auto|manual: the cmake command line, in cmake_args.
configure_args() {
  cmake_args=(-S "$root" -B "$cmake_dir" -DCMAKE_BUILD_TYPE=Release -Wno-dev
    "-DCMAKE_PROJECT_normtrain_INCLUDE=$top/gpu-check-deps.cmake"
    "-DGPU_CHECK_DEPS=$deps" "-DGPU_CHECK_TORCH_MODE=$1" "-DGPU_CHECK_TORCH_DIR=${info[torch_dir]:-}"
    "-DGPU_CHECK_CXX11_ABI=${info[cxx11_abi]:-}" "-DGPU_CHECK_SYSTEM_DEPS=$system_deps"
    "-DGPU_CHECK_ZLIB_RUNTIME=$zlib_runtime" "-DGPU_CHECK_CRYPTO_RUNTIME=$crypto_runtime"
    "-DGPU_CHECK_CURL_RUNTIME=$curl_runtime" "-DGPU_CHECK_CUDA_INCLUDES=$cuda_includes"
    "-DNORMTRAIN_CUDA_GRAPHS=$cuda_graphs_build"
    # Tests are listed when ctest runs, not by running each binary at build time.
    -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST
    # GoogleTest 1.12 asks for CMake 3.5, which CMake 4 refuses without this.
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5)
  if command -v ninja >/dev/null; then cmake_args+=(-G Ninja); fi
  [ -z "$torch_prefix" ] || cmake_args+=("-DCMAKE_PREFIX_PATH=$torch_prefix")
  if [ -n "${nvcc:-}" ] && ((!rehearse)); then
    local cuda_root capability=${info[gpu_capability]:-9.0} nvtx
    cuda_root=$(dirname "$(dirname "$(readlink -f "$nvcc")")")
    # LibTorch's CMake package enables CUDA: this GPU's architecture, no detection run, and
    # no refusal of a host compiler newer than nvcc knows (nothing here is CUDA code).
    cmake_args+=("-DCMAKE_CUDA_COMPILER=$nvcc" "-DCUDAToolkit_ROOT=$cuda_root"
      "-DCMAKE_CUDA_ARCHITECTURES=${capability/./}" "-DCMAKE_CUDA_FLAGS=-allow-unsupported-compiler")
    export TORCH_CUDA_ARCH_LIST=$capability
    # CUDA 12 toolkits have no libnvToolsExt, which LibTorch 2.4 and older ask for; pip has one.
    if ! compgen -G "$cuda_root/lib*/libnvToolsExt.so*" >/dev/null && [ -n "${info[nvidia_libs]:-}" ]; then
      nvtx=$(compgen -G "${info[nvidia_libs]%%:*}/../../nvtx/lib/libnvToolsExt.so*" | head -n1)
      [ -z "$nvtx" ] || cmake_args+=("-DCUDA_nvToolsExt_LIBRARY=$nvtx" "-DLIBNVTOOLSEXT=$nvtx")
    fi
  fi
}
# has_target NAME: whether the configured build defines the target.
has_target() {
  if [ -f "$cmake_dir/build.ninja" ]; then
    # Not grep -q: it would close the pipe early, and pipefail take ninja's SIGPIPE for "no".
    ninja -C "$cmake_dir" -t targets all 2>/dev/null | grep "^$1: " >/dev/null
  else
    grep -q "^$1:" "$cmake_dir/Makefile" 2>/dev/null
  fi
}

# ---- runs ----------------------------------------------------------------------------------
# csv_stats FILE: "epochs train_sum test_sum first_train median_other_train final_acc best_acc"
# from a metrics.csv, by its header's column names.
csv_stats() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { n++; t[n] = $col["train_seconds"]; train += t[n]; test += $col["test_seconds"]
      acc = $col["test_acc"]; if (n == 1 || acc + 0 > best + 0) best = acc }
    END {
      if (n == 0) { print "0 - - - - - -"; exit }
      m = 0
      for (i = 2; i <= n; i++) {  # insertion sort of epochs 2..n (mawk has no asort)
        v = t[i]; j = m
        while (j > 0 && s[j] > v) { s[j + 1] = s[j]; j-- }
        s[j + 1] = v; m++
      }
      median = m == 0 ? "-" : sprintf("%.2f", m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2)
      printf "%d %.2f %.2f %.2f %s %s %s\n", n, train, test, t[1], median, acc, best
    }' "$1"
}
max_of() { awk 'NF && $1 + 0 > max { max = $1 + 0 } END { print max + 0 }' "$1" 2>/dev/null; }

variants=("bn-l1-0.01|--norm bn --l1 0.01" "ln|--norm ln" "gn-8|--norm gn --groups 8")
: >"$work/variants.tsv"
# run_variant NAME FLAGS...: one training run into runs/NAME, timed end to end, with the most
# GPU memory in use meanwhile.
run_variant() {
  local name=$1 base peak wall status graphs_used t_run
  shift
  rm -rf "$work/runs/$name"
  mkdir -p "$work/runs"
  base=$(gpu_memory_used)
  start_sampler "$work/memory-$name.txt"
  t_run=$(now)
  run_step "run-$name" 150 20 "${stamped[@]}" "$normtrain" "$@" "${common[@]}" "${run_limits[@]}" "${graph_flag[@]}" \
    --out "$work/runs/$name"
  stop_sampler
  status=$(last_status)
  wall=$(last_secs)
  peak=$(max_of "$work/memory-$name.txt")
  # What run.json says of its CUDA graphs ("on", or "off: why"): the top-level key (two spaces
  # in), not the configuration's. Empty fields are written as "-": read splits on runs of tabs.
  graphs_used=$(sed -n 's/^  "cuda_graphs": "\(.*\)",\{0,1\}$/\1/p' "$work/runs/$name/run.json" 2>/dev/null | head -n1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$*${graph_flag[*]:+ ${graph_flag[*]}}" "$status" "$wall" "${base:--}" "${peak:--}" "${graphs_used:--}" >>"$work/variants.tsv"
  timeline "$logs/run-$name.log" "$t_run" "$wall" >"$work/timeline-$name.txt"
  variants_section
}
# COMMAND... run by "${stamped[@]}" COMMAND...: its output, each line after the time it came
# (seconds since the epoch); its exit status kept.
# shellcheck disable=SC2016 # for the inner shell
stamped=(bash -c 'set -o pipefail; "$@" 2>&1 | while IFS= read -r line; do printf "%s %s\n" "$EPOCHREALTIME" "$line"; done' stamped)
# timeline LOG START WALL: the run's log lines (stamped) as seconds since its start (START,
# seconds since the epoch), then its exit: where the time outside the epochs goes.
timeline() {
  [ -f "$1" ] || return 0
  awk -v t0="$2" '$1 ~ /^[0-9]+[.][0-9]+$/ && $2 ~ /^\[[0-9:]+\]$/ {
      t = $1; sub(/^[^ ]+ /, ""); printf "%7.3f s  %s\n", t - t0, substr($0, 1, 150) }' "$1"
  printf '%7.1f s  (exit)\n' "$3"
}
timelines_section() {
  local name
  echo "### Timelines"
  echo
  echo "Each run's log lines, in seconds since the process started (the epochs themselves are in"
  echo "the table above):"
  echo
  while IFS=$'\t' read -r name _; do
    [ -s "$work/timeline-$name.txt" ] || continue
    echo "$name:"
    echo
    echo '```'
    cat "$work/timeline-$name.txt"
    echo '```'
    echo
  done <"$work/variants.tsv"
}
variants_section() {
  local name flags status wall base peak graphs_used stats n train test first median final best extra memory
  local shown=("${common[@]/#$data/DATA}" "${run_limits[@]}")
  {
    echo "## The three variants ($( ((rehearse)) && echo "rehearsal: CPU, short" || echo "20 epochs, full MNIST, CUDA"))"
    echo
    echo "Flags as in the README, plus \`${shown[*]} --out DIR\`."
    echo "*wall*: the process from start to exit (data loading, checks, training, tests, files);"
    echo "*other*: wall − train − test; *median epoch*: of epochs 2 onwards (epoch 1 includes warm-up);"
    echo "*GPU MiB*: the most nvidia-smi saw in use, every 100 ms, and above the idle level before."
    echo
    echo "| variant | flags | CUDA graphs (run.json) | status | epochs | wall s | train s | test s | other s | epoch 1 s | median epoch s | final test acc | best | GPU MiB (above idle) |"
    echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    while IFS=$'\t' read -r name flags status wall base peak graphs_used; do
      stats=$(csv_stats "$work/runs/$name/metrics.csv" 2>/dev/null || echo "0 - - - - - -")
      read -r n train test first median final best <<<"$stats"
      extra=$(awk -v w="$wall" -v a="$train" -v b="$test" 'BEGIN { if (a == "-") print "-"; else printf "%.1f", w - a - b }')
      memory=-
      [[ $peak =~ ^[0-9]+$ && $base =~ ^[0-9]+$ && $peak != 0 ]] && memory="$peak ($((peak - base)))"
      echo "| $name | \`$flags\` | $graphs_used | $status | $n | $wall | $train | $test | $extra | $first | $median | $final | $best | $memory |"
    done <"$work/variants.tsv"
    echo
    epochs_table
    echo
    timelines_section
  } | section 30-variants
}
# Per-epoch train / test seconds of every variant, side by side.
epochs_table() {
  local names=() name files=()
  while IFS=$'\t' read -r name _; do
    [ -f "$work/runs/$name/metrics.csv" ] || continue
    names+=("$name")
    files+=("$work/runs/$name/metrics.csv")
  done <"$work/variants.tsv"
  ((${#names[@]})) || return 0
  echo "Per epoch, train s / test s:"
  echo
  printf '| epoch |'; printf ' %s |' "${names[@]}"; echo
  printf '|---:|'; printf -- '---:|%.0s' "${names[@]}"; echo
  awk -F, 'FNR == 1 { f++; for (i = 1; i <= NF; i++) col[f, $i] = i; next }
    { e = $col[f, "epoch"]; cell[e, f] = sprintf("%.2f / %.2f", $col[f, "train_seconds"], $col[f, "test_seconds"])
      if (e > last) last = e }
    END {
      for (e = 1; e <= last; e++) {
        line = "| " e " |"
        for (g = 1; g <= f; g++) line = line " " ((e, g) in cell ? cell[e, g] : "-") " |"
        print line
      }
    }' "${files[@]}"
}

# ---- Ctrl-C and --resume ----------------------------------------------------------------
# A run stopped by SIGINT after its first epoch and resumed must give the uninterrupted run's
# metrics: identical on the CPU; on CUDA within tolerance (cuDNN's default algorithms are not
# deterministic; tests/cuda checks exact equality with deterministic ones).
resume_check() {
  local dir=$work/resume total=${resume_epochs} lim deadline rows t0 args
  rm -rf "$dir"
  mkdir -p "$dir"
  args=(--norm gn --groups 8 --epochs "$total" "${resume_limits[@]}" "${common[@]}" "${graph_flag[@]}" --quiet)
  run_step resume-whole 120 20 "$normtrain" "${args[@]}" --out "$dir/whole" || return 0
  lim=$(limit 120)
  if ((lim < 20)); then record resume-ctrl-c SKIP 0 "no time left"; return 0; fi
  progress "resume-ctrl-c: started (limit ${lim}s)"
  t0=$(now)
  deadline=$(($(date +%s) + lim))
  # A job of its own (job control on), so that SIGINT is not ignored in it, as it is in a
  # script's other background commands.
  set -m
  "$normtrain" "${args[@]}" --out "$dir/stopped" >"$logs/resume-ctrl-c.log" 2>&1 &
  run_pid=$!
  set +m
  until (($(lines "$dir/stopped/metrics.csv") >= 2)); do
    if ! alive "$run_pid" || (($(date +%s) >= deadline)); then break; fi
    sleep 0.02
  done
  kill -INT "$run_pid" 2>/dev/null
  wait_run "$deadline"
  rows=$(($(lines "$dir/stopped/metrics.csv") - 1))
  if ((run_status == 130 && rows >= 1 && rows < total)); then
    record resume-ctrl-c ok "$(since "$t0")" "exit 130 with $rows of $total epochs"
  else
    record resume-ctrl-c FAIL "$(since "$t0")" "exit $run_status with $rows of $total epochs; want 130 and fewer than $total"
    return 0
  fi
  run_step resume-continue 120 20 "$normtrain" --resume "$dir/stopped" --no-download --quiet || return 0
  resume_compare "$dir/whole" "$dir/stopped" "$total"
}
resume_compare() { # resume_compare WHOLE RESUMED EPOCHS
  local identical=no steps=no diffs verdict ok=0
  diff <(cut -d, -f1-5 "$1/metrics.csv") <(cut -d, -f1-5 "$2/metrics.csv") >/dev/null && identical=yes
  diff <(cut -d, -f1-5 "$1/steps.csv") <(cut -d, -f1-5 "$2/steps.csv") >/dev/null && steps=yes
  # Largest |difference| of train_loss, train_acc, test_loss, test_acc over the epochs, and the
  # largest difference of a loss relative to its value.
  diffs=$(paste -d, <(cut -d, -f1-5 "$1/metrics.csv") <(cut -d, -f1-5 "$2/metrics.csv") | awk -F, '
    NR > 1 { n++
      for (i = 2; i <= 5; i++) { d = $i - $(i + 5); if (d < 0) d = -d; if (d > m[i]) m[i] = d
        if ((i == 2 || i == 4) && $i != 0 && d / ($i < 0 ? -$i : $i) > r) r = d / ($i < 0 ? -$i : $i) } }
    END { printf "%d %.3g %.3g %.3g %.3g %.3g\n", n, m[2], m[3], m[4], m[5], r }')
  local n d_train_loss d_train_acc d_test_loss d_test_acc rel
  read -r n d_train_loss d_train_acc d_test_loss d_test_acc rel <<<"$diffs"
  # Epoch 1 ran the same way in both runs, before the interruption: on a GPU its difference is
  # cuDNN's run-to-run noise. The resumed epochs may differ by twice that, or by the fixed
  # tolerance below, whichever is larger.
  local within_noise
  within_noise=$(paste -d, <(cut -d, -f1-5 "$1/metrics.csv") <(cut -d, -f1-5 "$2/metrics.csv") | awk -F, '
    function abs(x) { return x < 0 ? -x : x }
    NR == 2 { for (i = 2; i <= 5; i++) first[i] = abs($i - $(i + 5)) }
    NR > 2 { for (i = 2; i <= 5; i++) if (abs($i - $(i + 5)) > later[i]) later[i] = abs($i - $(i + 5)) }
    END { ok = NR > 2
      for (i = 2; i <= 5; i++) { fixed = (i == 3 || i == 5) ? 0.5 : 0.01
        bound = 2 * first[i] > fixed ? 2 * first[i] : fixed; if (later[i] > bound) ok = 0 }
      print ok ? "yes" : "no" }')
  if ((n != $3)) || ! grep -q '"status": "completed"' "$2/run.json"; then
    verdict="FAIL: the resumed run has $n of $3 epochs or is not completed"
  elif [ "$identical" = yes ]; then
    verdict="identical"; ok=1
  # Losses within 5% or within 0.01: a trained model's test loss of 0.05 moves by more than 5%
  # when one run's cuDNN sums in another order (the first H200 run: 0.005, 6%).
  elif ((!rehearse)) && awk -v a="$d_train_acc" -v b="$d_test_acc" -v r="$rel" \
    -v tl="$d_train_loss" -v vl="$d_test_loss" \
    'BEGIN { exit !(a <= 0.5 && b <= 0.5 && (r <= 0.05 || (tl <= 0.01 && vl <= 0.01))) }'; then
    verdict="within tolerance, not identical (accuracies within 0.5 points, losses within 5% or 0.01)"; ok=1
  elif ((!rehearse)) && [ "$within_noise" = yes ]; then
    verdict="within run-to-run noise, not identical (the resumed epochs differ by at most twice what epoch 1, run alike in both before the interruption, differs, or by 0.5 points and 0.01)"; ok=1
  else
    verdict="FAIL: differs"
  fi
  record resume-compare "$( ((ok)) && echo ok || echo FAIL)" 0 "$verdict"
  {
    echo "## Ctrl-C and --resume"
    echo
    echo "\`--norm gn --groups 8 --epochs $3${resume_limits[*]:+ ${resume_limits[*]}}\` on $device: one run whole; one"
    echo "stopped with SIGINT once its first epoch was written, then \`normtrain --resume\`."
    echo
    echo "- verdict: **$verdict**; metrics.csv identical: $identical; steps.csv identical: $steps"
    echo "- largest differences: train_loss $d_train_loss, train_acc $d_train_acc, test_loss $d_test_loss," \
      "test_acc $d_test_acc; largest relative loss difference $rel"
    echo
    echo '```'
    echo "uninterrupted:"
    cut -d, -f1-5 "$1/metrics.csv"
    echo "stopped and resumed:"
    cut -d, -f1-5 "$2/metrics.csv"
    echo '```'
  } | section 40-resume
}

# ---- eval and predict ------------------------------------------------------------------------
# mnist_test_image INDEX FILE: test image INDEX of the data as a binary PGM; prints its label.
mnist_test_image() {
  local images=$data/t10k-images-idx3-ubyte labels=$data/t10k-labels-idx1-ubyte reader=cat
  [ -f "$images.gz" ] && images=$images.gz && labels=$labels.gz && reader="gzip -dc"
  { printf 'P5\n28 28\n255\n'; $reader "$images" | tail -c +$((17 + $1 * 784)) | head -c 784; } >"$2"
  $reader "$labels" | tail -c +$((9 + $1)) | head -c 1 | od -An -tu1 | tr -d ' \n'
}
eval_predict() {
  local name got want expected=() images=() i right=0 labelled=0 out
  mkdir -p "$work/eval" "$work/predict"
  for name in gn-8 ln bn-l1-0.01; do
    [ -f "$work/runs/$name/checkpoint.pt" ] || { record "eval-$name" SKIP 0 "no trained run"; continue; }
    rm -rf "$work/eval/$name"
    run_step "eval-$name" 60 10 "$normtrain" eval --checkpoint "$work/runs/$name" --device "$device" \
      --out "$work/eval/$name" --no-download || continue
    got=$(sed -n 's/.*accuracy \([0-9.]*\)%.*/\1/p' "$logs/eval-$name.log" | head -n1)
    want=$(csv_stats "$work/runs/$name/metrics.csv" | awk '{print $6}')
    if awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; exit !(a != "" && d < 0.006 && d > -0.006) }'; then
      annotate "accuracy $got%, the run's final $want%"
    else
      annotate "accuracy ${got:-?}%, but the run's final is $want%" FAIL
    fi
  done
  name=gn-8
  [ -f "$work/runs/$name/checkpoint.pt" ] || { record predict SKIP 0 "no trained gn-8 run"; return 0; }
  for i in 0 1 2 3 4; do
    expected+=("$(mnist_test_image "$i" "$work/predict/test-$i.pgm")")
    images+=("$work/predict/test-$i.pgm")
  done
  run_step predict 60 10 "$normtrain" predict --checkpoint "$work/runs/$name" --device "$device" "${images[@]}" || return 0
  for i in "${!images[@]}"; do
    out=$(grep -F "${images[i]}:" "$logs/predict.log" | head -n1 | sed 's/.*: \([0-9]\) .*/\1/')
    [[ $out =~ ^[0-9]$ ]] && labelled=$((labelled + 1))
    [ "$out" = "${expected[i]}" ] && right=$((right + 1))
  done
  if ((rehearse)); then
    # A rehearsal's runs are a few short epochs: a label for every image is all it can ask.
    if ((labelled == ${#images[@]})); then
      annotate "a label for each of ${#images[@]} test images, $right as labelled (${expected[*]})"
    else
      annotate "labels for only $labelled of ${#images[@]} test images" FAIL
    fi
  # The first test images are easy ones: a trained model gets them all, or all but one.
  elif ((right >= ${#images[@]} - 1)); then
    annotate "$right of ${#images[@]} test images as labelled (${expected[*]})"
  else
    annotate "only $right of ${#images[@]} test images as labelled (${expected[*]})" FAIL
  fi
  {
    echo "## eval and predict ($device)"
    echo
    echo '```'
    for name in gn-8 ln bn-l1-0.01; do grep -h "accuracy" "$logs/eval-$name.log" 2>/dev/null; done
    echo "predict (labels ${expected[*]}):"
    sed "s|$work/predict/||" "$logs/predict.log"
    echo '```'
  } | section 50-eval
}

# ---- the rest of the test suite ---------------------------------------------------------------
unit_tests() {
  local binary name summary crashed log
  if ! run_step build-unit-tests 300 60 cmake --build "$cmake_dir" --parallel "$jobs" \
    --target normtrain_base_tests normtrain_core_tests; then
    return 0
  fi
  for name in normtrain_base_tests normtrain_core_tests; do
    binary=$(find "$cmake_dir" -maxdepth 2 -type f -name "$name" | head -n1)
    [ -n "$binary" ] || continue
    # From the binary's folder, as ctest runs it.
    cd "$(dirname "$binary")" || continue
    run_step "$name" 240 30 "$binary"
    summary=$(grep -E '^\[  (PASSED|FAILED) +\] [0-9]+ tests?' "$logs/$name.log" | paste -sd ' ' -)
    annotate "${summary:-no summary}"
    # A test that crashes takes the rest with it: name it, take a backtrace where gdb is, and
    # run the others without it (up to three such tests).
    crashed=()
    for _ in 1 2 3; do
      if [ "$(last_status)" != FAIL ] || [ -n "$summary" ]; then break; fi
      crashed+=("$(grep -E '^\[ RUN +\]' "$logs/$(last_name).log" | tail -n1 | awk '{print $NF}')")
      [ -n "${crashed[-1]}" ] || break
      annotate "crashed in ${crashed[-1]}"
      if command -v gdb >/dev/null; then
        timeout 120 gdb -batch -ex run -ex bt --args "$binary" "--gtest_filter=${crashed[-1]}" \
          >"$logs/$name-${crashed[-1]}-gdb.log" 2>&1
      fi
      run_step "$name-without-${#crashed[@]}" 240 30 "$binary" "--gtest_filter=-$(IFS=:; echo "${crashed[*]}")"
      summary=$(grep -E '^\[  (PASSED|FAILED) +\] [0-9]+ tests?' "$logs/$(last_name).log" | paste -sd ' ' -)
      annotate "${summary:-no summary}"
    done
    cd "$root" || exit 2
  done
  {
    echo "## Unit tests"
    echo
    echo "The GoogleTest binaries, run directly (the shell and Slurm tests need tools this machine lacks)."
    echo
    echo '```'
    for name in normtrain_base_tests normtrain_core_tests; do
      grep -hE '^\[  (PASSED|FAILED|SKIPPED) +\]' "$logs/$name"*.log 2>/dev/null | sed "s/^/$name: /"
      for log in "$logs/$name"-*-gdb.log; do
        [ -f "$log" ] || continue
        echo "backtrace ($(basename "$log" .log)):"
        grep -E '^#[0-9]+ ' "$log" | head -n 25 | cut -c1-240
      done
    done
    echo '```'
  } | section 70-unit
}

# ---- the steps -----------------------------------------------------------------------------
progress "mode $mode, budget ${budget}s, report $report"
collect_info
if [ -z "$torch_prefix" ] && [ -f "${info[cmake_prefix]:-/nonexistent}/Torch/TorchConfig.cmake" ]; then
  torch_prefix=${info[cmake_prefix]}
fi
machine_section
if ((!rehearse)) && [ "${info[cuda_available]:-0}" != 1 ]; then
  record gpu FAIL 0 "PyTorch sees no CUDA GPU (${info[torch_error]:-torch.cuda.is_available() is False})"
fi

# The packages, the data, the C runtime libraries.
if [ -n "$bundle" ]; then
  run_fn unpack unpack_bundle
else
  record unpack SKIP 0 "no bundle: this machine's packages"
fi
data=
for candidate in "$bundle/mnist" "$root/../shared/data/mnist" "$root/data/mnist"; do
  if [ -n "$candidate" ] && compgen -G "$candidate/t10k-labels-idx1-ubyte*" >/dev/null; then
    data=$(cd "$candidate" && pwd)
    break
  fi
done
if [ -z "$data" ]; then
  data=$root/data/mnist-tiny
  ((rehearse)) || record data FAIL 0 "no full MNIST in the bundle; runs use the tiny subset"
fi
zlib_runtime=$(runtime_lib libz.so.1)
crypto_runtime=$(runtime_lib libcrypto.so.3 libcrypto.so.1.1)
# GPU_CHECK_CURL_RUNTIME= (set, empty) tries the stand-in for a machine without libcurl.
curl_runtime=${GPU_CHECK_CURL_RUNTIME-$(runtime_lib libcurl.so.4)}

# The CUDA runtime's headers for a torch target made by hand: nvcc's, else pip's.
cuda_includes=
[ -z "${nvcc:-}" ] || cuda_includes="$(dirname "$(dirname "$(readlink -f "$nvcc")")")/include"
[ -z "${info[nvidia_libs]:-}" ] || cuda_includes="$cuda_includes;${info[nvidia_libs]%%:*}/../../cuda_runtime/include"
# normtrain's CUDA graphs; OFF only if they fail to build here (see the build step).
cuda_graphs_build=$(cat "$top/cuda-graphs-build" 2>/dev/null || echo ON)

# Configure: LibTorch's own CMake package first (what the README tells users), else the target
# made from the python package, in a fresh tree; a later call goes straight to what worked.
write_deps_cmake
torch_mode=$(cat "$top/torch-mode" 2>/dev/null || echo auto)
if [ "$torch_mode" = auto ] && ((!rehearse)) && [ -f "${info[torch_dir]:-/nonexistent}/lib/libtorch_cpu.so" ]; then
  # LibTorch's CMake package needs nvcc, and links the toolkit's CUDA runtime beside PyTorch's:
  # with none, or another major version, take the made target at once.
  why=
  if [ -z "${nvcc:-}" ]; then
    why="no nvcc here"
  elif [ "${info[nvcc]%%.*}" != "${info[torch_cuda]%%.*}" ]; then
    why="nvcc ${info[nvcc]} and PyTorch's CUDA ${info[torch_cuda]:-none} differ in major version"
  fi
  if [ -n "$why" ]; then
    torch_mode=manual
    record libtorch-cmake-package SKIP 0 "$why: a torch target made from ${info[torch_dir]}"
  fi
fi
configure_args "$torch_mode"
if ! run_step configure 150 20 cmake "${cmake_args[@]}" && [ "$torch_mode" = auto ] &&
  [ -f "${info[torch_dir]:-/nonexistent}/lib/libtorch_cpu.so" ]; then
  annotate "LibTorch's CMake package failed here; next: a torch target made from ${info[torch_dir]}"
  rm -rf "$cmake_dir"
  torch_mode=manual
  configure_args manual
  run_step configure-manual 120 20 cmake "${cmake_args[@]}" && echo manual >"$top/torch-mode"
fi
{
  echo "## Build"
  echo
  if [ "$torch_mode" = manual ]; then
    echo "LibTorch: a target made from ${info[torch_dir]:-?} (its CMake package failed)."
  else
    echo "LibTorch: its CMake package${torch_prefix:+ in $torch_prefix}."
  fi
  echo
  echo '```'
  cat "$cmake_dir/gpu-check-deps.txt" 2>/dev/null || echo "(not configured)"
  echo '```'
} | section 10-build

# Build the program and the CUDA tests: whatever the budget leaves after about 150 s of runs.
targets=(normtrain)
has_target normtrain_cuda_tests && targets+=(normtrain_cuda_tests)
want=$(($(left) - 150))
((want > 240)) || want=240
if ! run_step build "$want" 30 cmake --build "$cmake_dir" --parallel "$jobs" --target "${targets[@]}" &&
  [ "$cuda_graphs_build" = ON ] && grep -q '^FAILED: .*cuda_graph\.cpp' "$logs/build.log"; then
  # The CUDA graphs alone did not compile against this LibTorch: the rest without them.
  annotate "src/train/cuda_graph.cpp failed; next: a build without CUDA graphs"
  cuda_graphs_build=OFF
  echo OFF >"$top/cuda-graphs-build"
  configure_args "$torch_mode"
  run_step configure-without-graphs 120 20 cmake "${cmake_args[@]}" &&
    run_step build-without-graphs "$want" 30 cmake --build "$cmake_dir" --parallel "$jobs" --target "${targets[@]}"
fi
normtrain=$cmake_dir/normtrain
cuda_tests=$(find "$cmake_dir" -maxdepth 2 -type f -name normtrain_cuda_tests 2>/dev/null | head -n1)
if [ -x "$normtrain" ]; then
  {
    echo
    echo "\`$("$normtrain" --version 2>&1 | head -n1)\`; what the program loads (\`ldd\`, LibTorch, CUDA and C libraries):"
    echo
    echo '```'
    ldd "$normtrain" 2>&1 | grep -E 'torch|c10|cuda|cudnn|cublas|curl|crypto|libz|not found' | sed 's/ (0x[0-9a-f]*)//'
    readelf -d "$normtrain" 2>/dev/null | grep -E 'RUNPATH|RPATH' | sed 's/.*\[/RUNPATH [/'
    echo '```'
  } >>"$sections/10-build.md"
fi

if [ ! -x "$normtrain" ]; then
  record runs SKIP 0 "no normtrain binary"
else
  if ((rehearse)); then
    common=(--device cpu --data-dir "$data" --no-download)
    run_limits=(--epochs 2 --limit-train 2048 --limit-test 1000)
    resume_limits=(--limit-train 1024 --limit-test 500)
  else
    common=(--device cuda --data-dir "$data" --no-download)
    run_limits=()
    resume_limits=()
  fi
  resume_epochs=3
  # Builds from before --cuda-graphs existed run eagerly only.
  graphs=0
  # (The help read whole first: grep -q would close the pipe early, and pipefail see SIGPIPE.)
  help_text=$("$normtrain" --help 2>/dev/null)
  grep -q -- '--cuda-graphs' <<<"$help_text" && graphs=1
  graph_flag=()

  [ "$data" = "$root/data/mnist-tiny" ] || run_step verify-data 30 5 "$normtrain" --verify-data --data-dir "$data"

  # A short run first: that LibTorch finds the GPU and its libraries. pip's CUDA libraries go
  # on LD_LIBRARY_PATH only if the program cannot run without them (the README says it can).
  smoke=("$normtrain" --norm gn --groups 8 --epochs 1 --limit-train 512 --limit-test 200
    --device "$device" --data-dir "$root/data/mnist-tiny" --no-download --quiet)
  if ! run_step smoke 90 15 "${smoke[@]}" --out "$work/smoke" && ((!rehearse)) && [ -n "${info[nvidia_libs]:-}" ]; then
    export LD_LIBRARY_PATH="${info[nvidia_libs]}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    rm -rf "$work/smoke"
    run_step smoke-with-pip-cuda-libs 90 15 "${smoke[@]}" --out "$work/smoke" &&
      annotate "needed LD_LIBRARY_PATH with pip's nvidia/*/lib for the rest"
  fi

  # The CUDA tests (they skip, saying why, without a GPU: a failure in GPU mode).
  if ! wants cuda-tests; then
    :
  elif [ -n "$cuda_tests" ]; then
    # shellcheck disable=SC2016 # $1 is for the inner shell
    run_step cuda-tests 240 30 bash -c 'cd "$1" && exec ctest -L cuda -V --no-tests=error --timeout 200' _ "$cmake_dir"
    if grep -q '\[  SKIPPED \]' "$logs/cuda-tests.log"; then
      if ((rehearse)); then
        annotate "skipped, as they should be without a GPU"
      else
        annotate "tests skipped: LibTorch saw no GPU" FAIL
      fi
    fi
    {
      echo "## CUDA tests (ctest -L cuda)"
      echo
      echo '```'
      grep -E '^ *[0-9]+/[0-9]+ Test +#|tests passed|resumed run|graphed run|no CUDA device' "$logs/cuda-tests.log" |
        sed 's/^[0-9]*: //' | awk '!seen[$0]++'
      echo '```'
    } | section 20-cuda-tests
  else
    record cuda-tests FAIL 0 "normtrain_cuda_tests was not built"
  fi

  # Where a graphed step's GPU time goes, and which PyTorch settings change it, on PyTorch's
  # side: what to try in normtrain next.
  if wants probe && ((!rehearse)); then
    run_step probe 150 30 "$python" "$root/bench/gpu_probe.py"
    {
      echo "## A graphed step in PyTorch (bench/gpu_probe.py)"
      echo
      echo '```'
      grep -E '^(gpu_probe|PROBE|KERNELS|  )' "$logs/probe.log"
      echo '```'
    } | section 25-probe
  fi

  # The three variants as users run them (--cuda-graphs auto: graphed steps where the build
  # and the run allow them; run.json says), then eagerly (--cuda-graphs off) as NAME-eager.
  if wants variants; then
    for spec in "${variants[@]}"; do
      read -ra flags <<<"${spec#*|}"
      run_variant "${spec%%|*}" "${flags[@]}"
    done
  fi
  save_files
  if wants nodiag; then
    # Without the per-layer diagnostics, whose steps (every 20th by default) run eagerly.
    for spec in "${variants[@]}"; do
      read -ra flags <<<"${spec#*|}"
      run_variant "${spec%%|*}-nodiag" "${flags[@]}" --diagnostics-every 0
    done
  fi
  if ((graphs)) && wants eager; then
    graph_flag=(--cuda-graphs off)
    for spec in "${variants[@]}"; do
      read -ra flags <<<"${spec#*|}"
      run_variant "${spec%%|*}-eager" "${flags[@]}"
    done
    graph_flag=()
  fi
  save_files
  wants resume && resume_check
  wants eval && eval_predict
  wants unit && unit_tests
fi

save_files
write_report
echo
if ((failed)); then verdict="SOME STEPS FAILED"; else verdict="every step passed"; fi
echo "================ normtrain GPU check ($mode): $verdict ================"
steps_table
if [ -f "$sections/30-variants.md" ]; then
  echo
  sed -n '/^| variant/,/^$/p' "$sections/30-variants.md"
fi
[ -f "$sections/40-resume.md" ] && grep '^- ' "$sections/40-resume.md"
echo
echo "report: $report"
echo "files:  $files_dir"
exit "$failed"
