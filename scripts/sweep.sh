#!/usr/bin/env bash
# Run a grid of normtrain runs, each in its own folder: on this machine N at a time, or on a
# Slurm cluster as a job array. Run it again and finished runs are skipped, stopped ones resumed.
#
# Usage: scripts/sweep.sh [OPTIONS] -- GRID...
#
#   GRID  normtrain flags whose values may be comma-separated lists; the sweep is the cartesian
#         product of the lists, first flag outermost. For example
#           scripts/sweep.sh --jobs 2 -- --norm bn,ln,gn --groups 8 --l1 0,0.01 --seed 1,2,3
#         is 3 norms x 2 L1 weights x 3 seeds = 18 runs. Flags that normtrain takes only with
#         one value of another are dropped from the other runs: --groups from all but --norm
#         gn, --step-size and --gamma from all but --scheduler step, --max-lr, --pct-start,
#         --div-factor and --final-div-factor from all but --scheduler onecycle; runs made
#         identical that way run once. Every other flag goes to every run. A flag followed by
#         another flag or by nothing (--quiet, --no-download) passes through without a value;
#         --flag=VALUE works too; values are always split at commas. --out, --resume,
#         --continue, --overwrite, --dry-run, --help, --version and --verify-data do not belong
#         in a grid.
#
# Options:
#   --out DIR            parent folder of the run folders (default runs/sweep)
#   --jobs N             runs at a time (default 1); with --slurm, the most array tasks
#                        running at once (default: no cap)
#   --threads-per-job T  passed as --threads unless the grid sets --threads, and Slurm's
#                        --cpus-per-task (default: nproc / jobs, at least 1; with --slurm 4)
#   --binary PATH        the normtrain to run (default build/normtrain in this repository)
#   --dry-run            print what each run would do (start, resume, extend, skip, diverged
#                        or refused) and run nothing; with --slurm, print the job script
#                        (stdout) and its commands (stderr)
#   --slurm              instead of running here, write DIR/sweep.commands (one command line
#                        per run to do) and DIR/sweep.sbatch (a job array whose task i runs
#                        line i+1, logs in DIR/slurm-%A_%a.log) and submit it with sbatch
#   --partition P        Slurm partition (default: the cluster's default)
#   --time HH:MM:SS      Slurm time limit of each run (default 02:00:00)
#   --job-name NAME      Slurm job name (default normtrain-sweep)
#   --sbatch-arg ARG     one more #SBATCH line, e.g. --sbatch-arg --account=lab (repeatable)
#   -h, --help           this text
#
# Run folders are DIR/NAME. NAME is the variant as normtrain names it, from --dataset, --norm,
# --groups, --l1 and --scheduler (bn, bn-l1-0.01, ln, gn-8, gn-4-l1-0.01-onecycle,
# fashion-mnist-in, ...), then _FLAG-VALUE for every other flag whose value varies across the
# runs that have it, in grid order: gn-8_seed-2, bn-l1-0.01_lr-0.05_seed-1, bn-step_gamma-0.5.
# In values, characters other than letters, digits, '.', '+' and '-' become '-'; two runs that
# would share a folder are a usage error. A run is
#   normtrain GRID-FLAGS --threads T --out DIR/NAME --continue
# with its output appended to DIR/NAME/normtrain.log.
#
# What a folder needs is normtrain's decision (--continue, asked first with --dry-run): a
# folder holding the same run (the same flags, but for --epochs, --threads, --device,
# --data-dir and output-only ones) is skipped when complete, extended when it has fewer
# epochs, resumed when unfinished; a run that diverged is reported as diverged and not
# retried. A folder holding a different run (another --lr, say, which the name may not show),
# or a grid point normtrain rejects, is refused: the sweep then starts nothing, lists each
# refusal with the differing flags and exits 2. Use another --out, or move the folders away.
# Ctrl-C or SIGTERM stops the running runs (they keep their finished epochs) and starts no
# more; the same command later continues them.
#
# A local sweep ends with a summary line, the diverged and failed runs with their logs, and
# scripts/report.sh --aggregate over all its run folders (mean ± std over seeds).
#
# Exit status: 0 every run completed or was skipped; 1 a run failed, or the binary or sbatch
# is missing; 2 usage error, or normtrain refused a run folder; 3 no run failed but one
# diverged (now or before); 130 stopped by Ctrl-C or SIGTERM.
set -euo pipefail
export LC_ALL=C

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname -- "$script_dir")

# Flags of normtrain that always take a value, and those that never do.
valued_flags=" --dataset --norm --groups --l1 --epochs --batch-size --lr --momentum --scheduler
  --step-size --gamma --max-lr --pct-start --div-factor --final-div-factor --dropout --kernels
  --seed --device --threads --data-dir --mirror --limit-train --limit-test --misclassified "
bare_flags=" --quiet --no-download "
# Flags that normtrain accepts only with one value of another: FLAG OWNER VALUE OWNER_DEFAULT.
conditional_flags=(
  "--groups --norm gn bn"
  "--step-size --scheduler step none"
  "--gamma --scheduler step none"
  "--max-lr --scheduler onecycle none"
  "--pct-start --scheduler onecycle none"
  "--div-factor --scheduler onecycle none"
  "--final-div-factor --scheduler onecycle none"
)

usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

die_usage() {
  echo "sweep.sh: $1" >&2
  echo "Try 'scripts/sweep.sh --help'." >&2
  exit 2
}

die() {
  echo "sweep.sh: $1" >&2
  exit 1
}

# flag_value FLAG ARGS...: the value of FLAG in a normalised argument list (--flag value ...).
flag_value() {
  local flag=$1
  shift
  while [ $# -gt 0 ]; do
    if [ "$1" = "$flag" ] && [ $# -ge 2 ] && [[ $2 != --* ]]; then
      printf '%s' "$2"
      return 0
    fi
    shift
  done
}

# quoted WORDS...: the words as one shell command line.
quoted() {
  local out="" word
  for word in "$@"; do out+="${out:+ }$(printf '%q' "$word")"; done
  printf '%s' "$out"
}

# plan FOLDER BINARY ARGS...: what  BINARY ARGS --out FOLDER --continue  would do, in one line:
# normtrain --dry-run's "ACTION: detail" (ACTION start, resume, extend, skip or diverged), or
# "refused: REASON" when normtrain refuses (exit 2: FOLDER holds a different run, naming the
# differing flags, or normtrain rejects the flags), or "failed: REASON" (any other exit).
plan() {
  local dir=$1 bin=$2 line status=0 err
  shift 2
  err=$(mktemp)
  line=$("$bin" "$@" --out "$dir" --continue --dry-run 2>"$err") || status=$?
  if [ "$status" -eq 2 ]; then
    line="refused: $(tr '\n' ' ' <"$err")"
  elif [ "$status" -ne 0 ] || [ -z "$line" ]; then
    line="failed: normtrain --dry-run exited $status: $(tr '\n' ' ' <"$err")"
  fi
  rm -f -- "$err"
  printf '%s\n' "${line% }"
}

# --run-one FOLDER BINARY ARGS...: one run (what each line of sweep.commands calls, locally and
# on Slurm): normtrain ARGS --out FOLDER --continue, unless its plan is to skip, or the run
# diverged before, or normtrain refuses. Output goes to FOLDER/normtrain.log. With SWEEP_STATE
# set (a local sweep), it starts nothing once SWEEP_STATE/stop exists, registers normtrain's
# pid in SWEEP_STATE/pids so that the sweep can pass Ctrl-C on, and writes the outcome
# (completed, skip, diverged, stopped or failed) to SWEEP_STATE/outcome/NAME.
run_one() {
  [ $# -ge 2 ] || die_usage "--run-one needs FOLDER BINARY [ARGS...]"
  local dir=$1 bin=$2
  shift 2
  local name state_dir=${SWEEP_STATE:-} log=$dir/normtrain.log line action status=0 pid outcome
  local cmd=("$bin" "$@" --out "$dir" --continue)
  name=$(basename -- "$dir")
  if [ -n "$state_dir" ]; then
    [ ! -e "$state_dir/stop" ] || return 130
    : >"$state_dir/started/$name"
  fi
  mkdir -p -- "$dir" || { echo "sweep: FAILED $name: cannot create $dir"; return 1; }
  line=$(plan "$dir" "$bin" "$@")
  action=${line%%:*}
  printf '# sweep %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line" >>"$log"
  case $action in
    skip) echo "sweep: skip $name (complete)"; outcome=skip ;;
    diverged) echo "sweep: diverged $name, not retried: ${line#*: }"; outcome=diverged; status=3 ;;
    refused | failed) echo "sweep: FAILED $name: ${line#*: }"; outcome=failed; status=1 ;;
    *)
      printf '# sweep %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(quoted "${cmd[@]}")" >>"$log"
      echo "sweep: $action $name"
      if [ -n "$state_dir" ]; then
        # In the background so that the sweep can signal normtrain itself; normtrain installs
        # its own SIGINT handler, so the SIGINT that bash ignores for background jobs does
        # not stick.
        "${cmd[@]}" >>"$log" 2>&1 </dev/null &
        pid=$!
        : >"$state_dir/pids/$pid"
        [ ! -e "$state_dir/stop" ] || kill -INT "$pid" 2>/dev/null || true
        wait "$pid" || status=$?
        rm -f -- "$state_dir/pids/$pid"
      else
        "${cmd[@]}" >>"$log" 2>&1 </dev/null || status=$?
      fi
      case $status in
        0) echo "sweep: done $name"; outcome=completed ;;
        3) echo "sweep: diverged $name (it keeps the epochs before), log: $log"; outcome=diverged ;;
        130) echo "sweep: stopped $name (it keeps its finished epochs), log: $log"; outcome=stopped ;;
        *) echo "sweep: FAILED $name (exit $status), log: $log"; outcome=failed ;;
      esac
      ;;
  esac
  [ -z "$state_dir" ] || echo "$outcome" >"$state_dir/outcome/$name"
  return "$status"
}

if [ "${1:-}" = --run-one ]; then
  shift
  status=0
  run_one "$@" || status=$?
  exit "$status"
fi

# ---- Options -------------------------------------------------------------------------------
out=runs/sweep
jobs=
threads=
binary=
dry_run=0
slurm=0
partition=
time_limit=02:00:00
time_given=0
job_name=normtrain-sweep
sbatch_args=()
grid=()
saw_separator=0
while [ $# -gt 0 ]; do
  opt=$1
  value=
  inline=0
  if [[ $opt == --?*=* ]]; then
    value=${opt#*=}
    opt=${opt%%=*}
    inline=1
  fi
  case $opt in
    --)
      shift
      grid=("$@")
      saw_separator=1
      break
      ;;
    -h | --help | --dry-run | --slurm)
      [ "$inline" -eq 0 ] || die_usage "$opt takes no value"
      case $opt in
        -h | --help) usage; exit 0 ;;
        --dry-run) dry_run=1 ;;
        --slurm) slurm=1 ;;
      esac
      ;;
    --out | --jobs | --threads-per-job | --binary | --partition | --time | --job-name | --sbatch-arg)
      if [ "$inline" -eq 0 ]; then
        [ $# -ge 2 ] || die_usage "$opt needs a value"
        value=$2
        shift
      fi
      [ -n "$value" ] || die_usage "$opt needs a non-empty value"
      case $opt in
        --out) out=$value ;;
        --jobs) jobs=$value ;;
        --threads-per-job) threads=$value ;;
        --binary) binary=$value ;;
        --partition) partition=$value ;;
        --time) time_limit=$value; time_given=1 ;;
        --job-name) job_name=$value ;;
        --sbatch-arg) sbatch_args+=("$value") ;;
      esac
      ;;
    *)
      if [[ $valued_flags$bare_flags == *" $opt "* ]]; then
        die_usage "unknown option '$1': normtrain flags go after '--', e.g. scripts/sweep.sh -- $1 ..."
      fi
      die_usage "unknown option '$1'"
      ;;
  esac
  shift
done

if [ -n "$jobs" ]; then
  [[ $jobs =~ ^[1-9][0-9]*$ ]] || die_usage "--jobs must be a positive whole number, got '$jobs'"
fi
if [ -n "$threads" ]; then
  [[ $threads =~ ^[1-9][0-9]*$ ]] || die_usage "--threads-per-job must be a positive whole number, got '$threads'"
fi
[[ $time_limit =~ ^[0-9][0-9:-]*$ ]] || die_usage "--time must look like HH:MM:SS (or D-HH:MM:SS, or minutes), got '$time_limit'"
[[ $job_name =~ ^[A-Za-z0-9._+-]+$ ]] || die_usage "--job-name may use letters, digits and . _ + - only, got '$job_name'"
if [ "$slurm" -eq 0 ]; then
  if [ -n "$partition" ] || [ "$time_given" -eq 1 ] || [ ${#sbatch_args[@]} -gt 0 ]; then
    die_usage "--partition, --time and --sbatch-arg are for --slurm sweeps"
  fi
fi
[[ $partition != *[[:space:]]* ]] || die_usage "--partition must not contain spaces"
for given in "${sbatch_args[@]}"; do
  [[ $given != *$'\n'* ]] || die_usage "--sbatch-arg must be one line"
done
[ "$saw_separator" -eq 1 ] || die_usage "no grid: give normtrain flags after '--', e.g. scripts/sweep.sh -- --norm ln,gn --seed 1,2"
[ ${#grid[@]} -gt 0 ] || die_usage "empty grid: give normtrain flags after '--', e.g. scripts/sweep.sh -- --norm ln,gn --seed 1,2"

# ---- The grid -------------------------------------------------------------------------------
# flags[i] with its comma list values[i]; bare flags have valued[i] = 0.
flags=()
values=()
valued=()
sep=$'\x1f'  # joins the words of one run: no flag or value may contain it
i=0
while [ "$i" -lt ${#grid[@]} ]; do
  word=${grid[i]}
  [[ $word == --?* ]] || die_usage "grid: '$word' is not a --flag (give each value after its flag)"
  flag=$word
  value=
  has_value=0
  if [[ $word == --?*=* ]]; then
    flag=${word%%=*}
    value=${word#*=}
    has_value=1
  elif [ $((i + 1)) -lt ${#grid[@]} ] && [[ ${grid[i + 1]} != --* ]]; then
    value=${grid[i + 1]}
    has_value=1
    i=$((i + 1))
  fi
  case $flag in
    --out | --resume) die_usage "grid: $flag is set by the sweep (use the sweep's --out)" ;;
    --continue | --overwrite) die_usage "grid: $flag is set by the sweep: each run continues its folder's run or refuses" ;;
    --dry-run) die_usage "grid: --dry-run is the sweep's option: scripts/sweep.sh --dry-run -- GRID..." ;;
    --help | --version | --verify-data) die_usage "grid: $flag does not train; leave it out" ;;
  esac
  for seen in "${flags[@]}"; do
    [ "$seen" != "$flag" ] || die_usage "grid: $flag is given twice; list its values with commas"
  done
  if [[ $bare_flags == *" $flag "* ]] && [ "$has_value" -eq 1 ]; then
    die_usage "grid: $flag takes no value, got '$value'"
  fi
  if [[ $valued_flags == *" $flag "* ]] && [ "$has_value" -eq 0 ]; then
    die_usage "grid: $flag needs a value (or a comma-separated list of values)"
  fi
  if [ "$has_value" -eq 1 ]; then
    if [ -z "$value" ] || [[ $value == ,* || $value == *, || $value == *,,* ]]; then
      die_usage "grid: $flag has an empty value in '$value'"
    fi
    [[ $value != *$'\n'* && $value != *"$sep"* ]] || die_usage "grid: $flag has a value with a newline"
    [[ $value != --* && $value != *,--* ]] || die_usage "grid: a value of $flag starts with '--'"
    # The sweep reads these two (for the flags that depend on them), so it checks them.
    IFS=, read -ra list <<<"$value"
    for item in "${list[@]}"; do
      case $flag:$item in
        --norm:bn | --norm:ln | --norm:gn | --norm:in | --norm:none) ;;
        --norm:*) die_usage "grid: --norm must be bn, ln, gn, in or none, got '$item'" ;;
        --scheduler:none | --scheduler:step | --scheduler:onecycle) ;;
        --scheduler:*) die_usage "grid: --scheduler must be none, step or onecycle, got '$item'" ;;
      esac
    done
  fi
  flags+=("$flag")
  values+=("$value")
  valued+=("$has_value")
  i=$((i + 1))
done

# The cartesian product, first flag outermost; each run is its words joined by $sep.
runs=("")
for i in "${!flags[@]}"; do
  next=()
  if [ "${valued[i]}" -eq 0 ]; then
    for run in "${runs[@]}"; do next+=("$run$sep${flags[i]}"); done
  else
    IFS=, read -ra list <<<"${values[i]}"
    for run in "${runs[@]}"; do
      for value in "${list[@]}"; do next+=("$run$sep${flags[i]}$sep$value"); done
    done
  fi
  runs=("${next[@]}")
done

# Drop each conditional flag from the runs it does not apply to (--groups from all but
# --norm gn, ...), then the duplicates that leaves.
declare -A seen_run=()
unique=()
for run in "${runs[@]}"; do
  IFS=$sep read -ra words <<<"${run#"$sep"}"
  for rule in "${conditional_flags[@]}"; do
    read -r flag owner needed owner_default <<<"$rule"
    owner_value=$(flag_value "$owner" "${words[@]}")
    [ "${owner_value:-$owner_default}" != "$needed" ] || continue
    kept=()
    j=0
    while [ "$j" -lt ${#words[@]} ]; do
      if [ "${words[j]}" = "$flag" ]; then
        j=$((j + 2))
        continue
      fi
      kept+=("${words[j]}")
      j=$((j + 1))
    done
    words=("${kept[@]}")
  done
  key=$(printf '%s\x1f' "${words[@]}")
  [ -z "${seen_run[$key]:-}" ] || continue
  seen_run[$key]=1
  unique+=("$key")
done
runs=("${unique[@]}")

# Which of the flags outside the variant name vary across the runs that have them.
declare -A varies=()
for i in "${!flags[@]}"; do
  flag=${flags[i]}
  case $flag in --dataset | --norm | --groups | --l1 | --scheduler) continue ;; esac
  [ "${valued[i]}" -eq 1 ] || continue
  first=
  for run in "${runs[@]}"; do
    IFS=$sep read -ra words <<<"$run"
    value=$(flag_value "$flag" "${words[@]}")
    if [ -z "$value" ]; then
      continue
    elif [ -z "$first" ]; then
      first=$value
    elif [ "$value" != "$first" ]; then
      varies[$flag]=1
      break
    fi
  done
done

safe() {
  printf '%s' "$1" | sed -E 's/[^A-Za-z0-9.+-]/-/g'
}

# run_name WORDS...: the folder name of a run: normtrain's variant name
# ([DATASET-]NORM[-GROUPS][-l1-L1][-SCHEDULER]), then _FLAG-VALUE for each varying flag.
run_name() {
  local dataset norm groups l1 scheduler name flag value
  norm=$(flag_value --norm "$@")
  norm=${norm:-bn}
  name=$norm
  dataset=$(flag_value --dataset "$@")
  if [ -n "$dataset" ] && [ "$dataset" != mnist ]; then name="$(safe "$dataset")-$name"; fi
  if [ "$norm" = gn ]; then
    groups=$(flag_value --groups "$@")
    name+="-$(safe "${groups:-8}")"
  fi
  l1=$(flag_value --l1 "$@")
  if [ -n "$l1" ] && awk -v v="$l1" 'BEGIN { exit !(v + 0 > 0) }'; then
    name+="-l1-$(safe "$l1")"
  fi
  scheduler=$(flag_value --scheduler "$@")
  if [ -n "$scheduler" ] && [ "$scheduler" != none ]; then name+="-$scheduler"; fi
  for flag in "${flags[@]}"; do
    [ -n "${varies[$flag]:-}" ] || continue
    value=$(flag_value "$flag" "$@")
    [ -z "$value" ] || name+="_${flag#--}-$(safe "$value")"
  done
  printf '%s' "$name"
}

declare -A name_of=()
names=()
for run in "${runs[@]}"; do
  IFS=$sep read -ra words <<<"$run"
  name=$(run_name "${words[@]}")
  if [ -n "${name_of[$name]:-}" ]; then
    first=${name_of[$name]//$sep/ }
    second=${run//$sep/ }
    die_usage "grid: two different runs would share the folder '$name' (${first% } and ${second% }); give values that name different folders"
  fi
  name_of[$name]=$run
  names+=("$name")
done

# ---- Threads, binary, folders ---------------------------------------------------------------
grid_threads=0
for flag in "${flags[@]}"; do [ "$flag" != --threads ] || grid_threads=1; done
if [ -z "$threads" ]; then
  if [ "$slurm" -eq 1 ]; then
    threads=4
  else
    threads=$(($(nproc) / ${jobs:-1}))
    [ "$threads" -ge 1 ] || threads=1
  fi
fi
if [ -z "$binary" ]; then
  binary=$repo_dir/build/normtrain
elif [[ $binary != */* ]]; then
  binary=$(command -v -- "$binary" || printf '%s' "$binary")
fi
binary_abs=$(realpath -m -- "$binary")
out_abs=$(realpath -m -- "$out")
[ -x "$binary_abs" ] || die "no normtrain binary at $binary: build it with scripts/build.sh or pass --binary"

# The words of run k with --threads added unless the grid sets it.
run_words() {
  IFS=$sep read -ra words <<<"${runs[$1]}"
  [ "$grid_threads" -eq 1 ] || words+=(--threads "$threads")
}

# ---- The plan: normtrain says what each folder needs -----------------------------------------
state_dir=$(mktemp -d)
trap 'rm -rf -- "$state_dir"' EXIT
mkdir "$state_dir/plans" "$state_dir/pids" "$state_dir/started" "$state_dir/outcome"
cores=$(nproc)
for k in "${!runs[@]}"; do
  run_words "$k"
  plan "$out/${names[k]}" "$binary_abs" "${words[@]}" >"$state_dir/plans/$k" &
  [ $(((k + 1) % cores)) -ne 0 ] || wait
done
wait
todo=()
skipped=()
diverged=()
refused=()
plan_of=()
for k in "${!runs[@]}"; do
  plan_of[k]=$(cat "$state_dir/plans/$k")
  case ${plan_of[k]%%:*} in
    skip) skipped+=("$k") ;;
    diverged) diverged+=("$k") ;;
    refused | failed) refused+=("$k") ;;
    *) todo+=("$k") ;;
  esac
done

if [ ${#refused[@]} -gt 0 ] && { [ "$dry_run" -eq 0 ] || [ "$slurm" -eq 1 ]; }; then
  {
    echo "sweep.sh: normtrain refuses ${#refused[@]} of the ${#runs[@]} runs, so the sweep starts none:"
    for k in "${refused[@]}"; do echo "  ${names[k]}: ${plan_of[k]#*: }"; done
    echo "Nothing was run or changed. Give this grid another --out, or move those folders away."
  } >&2
  exit 2
fi

# command_line K: the line of sweep.commands for run K.
command_line() {
  run_words "$1"
  quoted bash "$script_dir/sweep.sh" --run-one "$out_abs/${names[$1]}" "$binary_abs" "${words[@]}"
}

# ---- Slurm ----------------------------------------------------------------------------------
if [ "$slurm" -eq 1 ]; then
  if [ ${#todo[@]} -eq 0 ]; then
    echo "sweep: nothing to submit: of the ${#runs[@]} runs in $out, ${#skipped[@]} are complete and ${#diverged[@]} diverged"
    exit 0
  fi
  cpus=$threads
  if [ "$grid_threads" -eq 1 ]; then
    cpus=0
    for k in "${!runs[@]}"; do
      run_words "$k"
      t=$(flag_value --threads "${words[@]}")
      if [[ $t =~ ^[0-9]+$ ]] && [ "$t" -gt "$cpus" ]; then cpus=$t; fi
    done
    [ "$cpus" -gt 0 ] || cpus=$threads
  fi
  array="0-$((${#todo[@]} - 1))${jobs:+%$jobs}"
  log_pattern=$out_abs/slurm-%A_%a.log
  [[ $log_pattern != *[[:space:]]* ]] || log_pattern="\"$log_pattern\""
  script=$(
    echo "#!/usr/bin/env bash"
    echo "#SBATCH --job-name=$job_name"
    echo "#SBATCH --array=$array"
    echo "#SBATCH --cpus-per-task=$cpus"
    echo "#SBATCH --time=$time_limit"
    [ -z "$partition" ] || echo "#SBATCH --partition=$partition"
    echo "#SBATCH --output=$log_pattern"
    for given in "${sbatch_args[@]}"; do echo "#SBATCH $given"; done
    echo "# Written by scripts/sweep.sh: array task i runs line i+1 of sweep.commands, one"
    echo "# normtrain run with --continue (skipped when its folder holds it complete, resumed when"
    echo "# unfinished, refused when the folder holds another run). Its output is in the run"
    echo "# folder's normtrain.log. Run the same sweep.sh --slurm command again to submit the runs"
    echo "# that did not finish."
    echo "set -euo pipefail"
    echo "cd $(printf '%q' "$PWD")"
    echo "commands=$(printf '%q' "$out_abs/sweep.commands")"
    cat <<'SCRIPT'
task=${SLURM_ARRAY_TASK_ID:?run this script with sbatch: it is a job array}
line=$(sed -n "$((task + 1))p" "$commands")
[ -n "$line" ] || { echo "no line $((task + 1)) in $commands" >&2; exit 1; }
echo "task $task on $(hostname): $line"
eval "$line"
SCRIPT
  )
  if [ "$dry_run" -eq 1 ]; then
    printf '%s\n' "$script"
    {
      echo "sweep (dry run): $out/sweep.commands would hold ${#todo[@]} runs:"
      for k in "${todo[@]}"; do command_line "$k"; echo; done
      for k in "${skipped[@]}" "${diverged[@]}"; do echo "${plan_of[k]%%:*} ${names[k]}: ${plan_of[k]#*: }"; done
    } >&2
    exit 0
  fi
  mkdir -p -- "$out" || die "cannot create '$out'"
  for k in "${todo[@]}"; do command_line "$k"; echo; done >"$out/sweep.commands"
  printf '%s\n' "$script" >"$out/sweep.sbatch"
  echo "sweep: wrote $out/sweep.sbatch and $out/sweep.commands: ${#todo[@]} runs, ${#skipped[@]} skipped as complete, ${#diverged[@]} diverged (not retried)"
  command -v sbatch >/dev/null 2>&1 ||
    die "sbatch not found on PATH: Slurm is not installed here. Submit $out/sweep.sbatch with 'sbatch' on a machine of the cluster (it uses absolute paths), or run the sweep here without --slurm"
  job=$(sbatch --parsable "$out/sweep.sbatch") || die "sbatch failed to submit $out/sweep.sbatch"
  echo "sweep: submitted job array ${job%%;*} (${#todo[@]} tasks); logs in $out/slurm-${job%%;*}_*.log and each run's normtrain.log"
  exit 0
fi

# ---- Dry run --------------------------------------------------------------------------------
if [ "$dry_run" -eq 1 ]; then
  starts=0
  for k in "${!runs[@]}"; do
    action=${plan_of[k]%%:*}
    case $action in
      skip | diverged | refused | failed) printf '%-8s %s: %s\n' "$action" "${names[k]}" "${plan_of[k]#*: }" ;;
      *)
        [ "$action" != start ] || starts=$((starts + 1))
        run_words "$k"
        printf '%-8s %s: %s  # %s\n' "$action" "${names[k]}" \
          "$(quoted "$binary" "${words[@]}" --out "$out/${names[k]}" --continue)" "${plan_of[k]#*: }"
        ;;
    esac
  done
  line="sweep (dry run): ${#runs[@]} runs: $starts to start, $((${#todo[@]} - starts)) to resume or extend"
  line+=", ${#skipped[@]} skipped as complete, ${#diverged[@]} diverged (not retried)"
  [ ${#refused[@]} -eq 0 ] || line+=", ${#refused[@]} refused (the sweep would start none)"
  echo "$line"
  [ ${#refused[@]} -eq 0 ] || exit 2
  exit 0
fi

# ---- Local sweep ----------------------------------------------------------------------------
mkdir -p -- "$out" || die "cannot create '$out'"
for k in "${todo[@]}"; do command_line "$k"; echo; done >"$state_dir/commands"

line="sweep: ${#runs[@]} runs in $out: ${#todo[@]} to do, ${#skipped[@]} skipped as complete"
[ ${#diverged[@]} -eq 0 ] || line+=", ${#diverged[@]} diverged before (not retried)"
echo "$line; ${jobs:-1} at a time"
interrupted=0
# on_signal SIGNAL: start no more runs and pass SIGNAL to the running normtrains (a second
# Ctrl-C stops them at once, as it does normtrain).
# shellcheck disable=SC2317  # called from the traps below
on_signal() {
  interrupted=1
  : >"$state_dir/stop"
  local file
  for file in "$state_dir"/pids/*; do
    [ -e "$file" ] || continue
    kill -s "$1" "${file##*/}" 2>/dev/null || true
  done
}
if [ ${#todo[@]} -gt 0 ]; then
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  # xargs in its own process group (job control), so that a Ctrl-C in the terminal reaches only
  # this script, which passes it on exactly once. Each line number selects a quoted command line.
  set -m
  # shellcheck disable=SC2016  # $0 and $1 are bash -c's arguments
  seq 1 ${#todo[@]} | SWEEP_STATE=$state_dir xargs -n 1 -P "${jobs:-1}" \
    bash -c 'eval "$(sed -n "${1}p" "$0")"' "$state_dir/commands" &
  xargs_pid=$!
  set +m
  while kill -0 "$xargs_pid" 2>/dev/null; do
    wait "$xargs_pid" || true  # returns early when a signal arrives; wait again
  done
  trap - INT TERM
fi

# Each run's outcome as --run-one wrote it; a run that started and wrote none failed.
declare -A count=([completed]=0 [skip]=${#skipped[@]} [diverged]=0 [failed]=0 [stopped]=0 [none]=0)
listed=()
for k in "${diverged[@]}"; do listed+=("  diverged: $out/${names[k]} (log: $out/${names[k]}/normtrain.log)"); done
for k in "${todo[@]}"; do
  name=${names[k]}
  if [ -f "$state_dir/outcome/$name" ]; then
    outcome=$(cat "$state_dir/outcome/$name")
  elif [ -e "$state_dir/started/$name" ]; then
    outcome=failed
  else
    outcome=none
  fi
  count[$outcome]=$((${count[$outcome]:-0} + 1))
  case $outcome in
    diverged | failed | stopped) listed+=("  $outcome: $out/$name (log: $out/$name/normtrain.log)") ;;
  esac
done
count[diverged]=$((count[diverged] + ${#diverged[@]}))

line="sweep: ${count[completed]} completed now, ${count[skip]} skipped as complete, ${count[diverged]} diverged, ${count[failed]} failed"
[ "${count[stopped]}" -eq 0 ] || line+=", ${count[stopped]} stopped"
[ "${count[none]}" -eq 0 ] || line+=", ${count[none]} not started"
echo "$line"
[ ${#listed[@]} -eq 0 ] || printf '%s\n' "${listed[@]}"

if [ -f "$script_dir/report.sh" ]; then
  folders=()
  for name in "${names[@]}"; do
    [ -f "$out/$name/run.json" ] && [ -f "$out/$name/metrics.csv" ] && folders+=("$out/$name")
  done
  if [ ${#folders[@]} -gt 0 ]; then
    echo
    echo "scripts/report.sh --aggregate (${#folders[@]} run folders):"
    bash "$script_dir/report.sh" --aggregate "${folders[@]}" || echo "sweep: report.sh failed (see above)"
  fi
fi

if [ "$interrupted" -eq 1 ]; then
  echo "sweep: stopped; run the same command again to continue"
  exit 130
fi
[ "${count[failed]}" -eq 0 ] || exit 1
[ "${count[diverged]}" -eq 0 ] || exit 3
exit 0
