#!/usr/bin/env bash
# Summarise normtrain run folders as a Markdown table, one row per run.
#
# Usage: scripts/report.sh [--aggregate] RUN_DIR...
#
#   RUN_DIR      a folder written by `normtrain --out RUN_DIR` (run.json and metrics.csv)
#   --aggregate  one row per variant (run.json "variant", e.g. several seeds of gn-8) with the
#                mean ± sample standard deviation of the accuracies of its completed runs
#
# A run that diverged shows "diverged (epoch E, step S)" instead of its accuracies; one that
# did not finish (interrupted, running, failed) has its status in the Technique cell and no
# final accuracy. --aggregate leaves both out of mean ± std and counts them in the Runs
# column: "3 (1, 2, 3; 1 diverged)".
#
# Exit status: 0 done, 2 usage error, 1 a folder is not a run or cannot be read.
#
# run.json is read with grep/sed rather than jq, which is not installed everywhere: normtrain
# writes it with nlohmann::json dump(2), so every key sits on its own line, top-level keys
# indented by two spaces and the keys of "config" by four, and all the values read here are
# numbers, null or flat strings. metrics.csv stands in for any accuracy or time key that
# run.json lacks.
set -euo pipefail
export LC_ALL=C  # a decimal point, whatever the user's locale

usage() {
  sed -n '2,15s/^# \{0,1\}//p' "$0"
}

die_usage() {
  echo "report.sh: $1" >&2
  echo "Try 'scripts/report.sh --help'." >&2
  exit 2
}

die() {
  echo "report.sh: $1" >&2
  exit 1
}

# json_value FILE KEY [SECTION]: the raw value of a top-level KEY, or of KEY inside the
# top-level object SECTION; strings lose their quotes and their \" and \\ escapes. Prints
# nothing when the key is absent.
json_value() {
  local file=$1 key=$2 section=${3:-}
  local lines
  if [ -n "$section" ]; then
    lines=$(sed -n "/^  \"$section\": {/,/^  }/p" "$file" | grep -E "^    \"$key\": " || true)
  else
    lines=$(grep -E "^  \"$key\": " "$file" || true)
  fi
  [ -n "$lines" ] || return 0
  printf '%s\n' "$lines" | head -n 1 |
    sed -E 's/^ *"[^"]*": //; s/,$//; s/^"(.*)"$/\1/; s/\\"/"/g; s/\\\\/\\/g'
}

# metrics_summary FILE: "best_train best_train_epoch best_test best_test_epoch final_test
# train_seconds epochs" from metrics.csv; ties keep the earliest epoch, as run.json does.
metrics_summary() {
  awk -F, 'NR > 1 && NF >= 7 {
      n++
      if (n == 1 || $3 + 0 > bt) { bt = $3 + 0; bte = $1 }
      if (n == 1 || $5 + 0 > bs) { bs = $5 + 0; bse = $1 }
      final = $5; secs += $7
    }
    END { if (n) print bt, bte, bs, bse, final, secs, n; else print "- - - - - 0 0" }' "$1"
}

# format_acc VALUE [EPOCH]: "99.35%" or "99.35% (19)"; "-" when there is no value.
format_acc() {
  awk -v v="$1" -v e="${2:-}" 'BEGIN {
    if (v == "" || v == "-" || v == "null") { print "-"; exit }
    s = sprintf("%.2f%%", v + 0)
    if (e != "" && e != "-" && e + 0 > 0) s = s sprintf(" (%d)", e)
    print s
  }'
}

# format_seconds SECONDS: "41.2 s" under a minute, else "3m 12s" or "1h 05m 09s".
format_seconds() {
  awk -v v="$1" 'BEGIN {
    if (v == "" || v == "-" || v == "null") { print "-"; exit }
    v += 0
    if (v < 59.95) { printf "%.1f s\n", v; exit }
    t = int(v + 0.5); h = int(t / 3600); m = int((t % 3600) / 60); s = t % 60
    if (h > 0) printf "%dh %02dm %02ds\n", h, m, s
    else printf "%dm %02ds\n", m, s
  }'
}

# json_or FILE KEY FALLBACK: run.json's KEY, or FALLBACK (from metrics.csv) when it lacks it.
json_or() {
  local got
  got=$(json_value "$1" "$2")
  if [ -z "$got" ] || [ "$got" = null ]; then got=$3; fi
  printf '%s' "$got"
}

# A table cell: a "|" inside would end the cell early.
cell() {
  printf '%s' "${1//|/\\|}"
}

aggregate=0
dirs=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --aggregate) aggregate=1 ;;
    --) shift; dirs+=("$@"); break ;;
    -?*) die_usage "unknown option '$1'" ;;
    *) dirs+=("$1") ;;
  esac
  shift
done
[ ${#dirs[@]} -gt 0 ] || die_usage "no run folders given (usage: scripts/report.sh [--aggregate] RUN_DIR...)"

for dir in "${dirs[@]}"; do
  [ -d "$dir" ] || die "'$dir' is not a folder; pass run folders written by normtrain --out"
  for file in run.json metrics.csv; do
    [ -f "$dir/$file" ] ||
      die "'$dir' is not a normtrain run folder: it has no $file (pass the folder given to --out)"
    [ -r "$dir/$file" ] || die "cannot read '$dir/$file'"
  done
done

# One tab-separated record per run, in the order given (no field empty: read would merge tabs):
# recipe key, label, label as shown (with the status of an unfinished run), best_train,
# best_train_epoch, best_test, best_test_epoch, final_test, l1, groups, train_seconds, seed,
# status, and what a diverged run shows instead of accuracies (else "-").
records=()
for dir in "${dirs[@]}"; do
  json=$dir/run.json
  read -r m_bt m_bte m_bs m_bse m_final m_secs m_rows < <(metrics_summary "$dir/metrics.csv")
  name=$(basename -- "$(cd -- "$dir" && pwd)")

  label=$(json_value "$json" variant_label)
  [ -n "$label" ] || label=$name
  # --aggregate pools the runs of one recipe: the same configuration but for the seed and
  # what does not change results (where data and outputs live, device, threads, grid size).
  variant=$(sed -n '/^  "config": {/,/^  }/p' "$json" |
    grep -vE '^    "(seed|out|data_dir|device|threads|misclassified)": ' | tr -d ' \n' || true)
  [ -n "$variant" ] || variant=$label

  bt=$(json_or "$json" best_train_acc "$m_bt")
  bte=$(json_or "$json" best_train_epoch "$m_bte")
  bs=$(json_or "$json" best_test_acc "$m_bs")
  bse=$(json_or "$json" best_test_epoch "$m_bse")
  final=$(json_or "$json" final_test_acc "$m_final")
  secs=$(json_or "$json" train_seconds "$m_secs")
  # An interrupted first epoch leaves zeros in run.json and no row in metrics.csv.
  if [ "$m_rows" -eq 0 ]; then bt=-; bte=-; bs=-; bse=-; final=-; fi

  # A run that did not complete says so in its row, so that it is not read as a finished one.
  shown=$label
  status=$(json_value "$json" status)
  diverged=-
  case $status in
    "" | completed) status=completed ;;
    diverged)
      diverged="diverged (epoch $(json_value "$json" epoch diverged), step $(json_value "$json" step diverged))"
      ;;
    *)
      planned=$(json_value "$json" epochs config)
      shown="$label ($status, $m_rows/${planned:-?} epochs)"
      final=-
      ;;
  esac

  l1=$(json_value "$json" l1 config)
  l1=$(awk -v v="$l1" 'BEGIN { if (v == "" || v == "null" || v + 0 == 0) print "-"; else printf "%g\n", v }')
  groups=$(json_value "$json" groups config)
  case $groups in "" | null) groups=- ;; esac
  seed=$(json_value "$json" seed config)

  records+=("$(printf '%s\t' "$variant" "$label" "$shown" "$bt" "$bte" "$bs" "$bse" "$final" "$l1" "$groups" "$secs" "${seed:-?}" "$status")$diverged")
done

if [ "$aggregate" -eq 0 ]; then
  echo "| Technique | Best training accuracy (epoch) | Best test accuracy (epoch) | Final test accuracy | L1 factor | Groups | Train time |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for record in "${records[@]}"; do
    IFS=$'\t' read -r _ _ label bt bte bs bse final l1 groups secs _ _ diverged <<<"$record"
    if [ "$diverged" != - ]; then
      accuracies=("$diverged" "$diverged" "$diverged")
    else
      accuracies=("$(format_acc "$bt" "$bte")" "$(format_acc "$bs" "$bse")" "$(format_acc "$final")")
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$(cell "$label")" "${accuracies[@]}" \
      "$l1" "$groups" "$(format_seconds "$secs")"
  done
  exit 0
fi

# --aggregate: variants in the order they first appear; sample standard deviation (n - 1) over
# the completed runs; the others are counted by status.
echo "| Technique | Runs (seeds) | Best test accuracy (mean ± std) | Final test accuracy (mean ± std) | Best training accuracy (mean ± std) |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${records[@]}" | awk -F'\t' '
  function stats(sum, sumsq, n,    mean, var) {
    if (n == 0) return "-"
    mean = sum / n
    if (n == 1) return sprintf("%.2f%% ± -", mean)
    var = (sumsq - n * mean * mean) / (n - 1)
    if (var < 0) var = 0  # rounding when all runs agree
    return sprintf("%.2f%% ± %.2f", mean, sqrt(var))
  }
  {
    v = $1
    if (!(v in runs)) { order[++variants] = v; label[v] = $2; seeds[v] = $12 }
    else seeds[v] = seeds[v] ", " $12
    runs[v]++
    if ($13 != "completed") {
      if (!((v, $13) in left_out)) statuses[v] = statuses[v] SUBSEP $13
      left_out[v, $13]++
      next
    }
    # Runs without a finished epoch count as runs but add no accuracy.
    if ($4 != "-") {
      k[v]++
      bt[v] += $4; bt2[v] += $4 * $4
      bs[v] += $6; bs2[v] += $6 * $6
      fi[v] += $8; fi2[v] += $8 * $8
    }
  }
  END {
    for (i = 1; i <= variants; i++) {
      v = order[i]
      gsub(/\|/, "\\|", label[v])
      note = ""
      n = split(substr(statuses[v], 2), list, SUBSEP)
      for (j = 1; j <= n; j++) note = note (j == 1 ? "; " : ", ") left_out[v, list[j]] " " list[j]
      printf "| %s | %d (%s%s) | %s | %s | %s |\n", label[v], runs[v], seeds[v], note,
        stats(bs[v], bs2[v], k[v]), stats(fi[v], fi2[v], k[v]), stats(bt[v], bt2[v], k[v])
    }
  }'
