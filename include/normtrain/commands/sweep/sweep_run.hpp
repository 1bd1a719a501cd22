#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "normtrain/cli/config.hpp"
#include "normtrain/train/run_folder.hpp"

namespace normtrain {

// One run of a sweep: its folder, what normtrain trains there, and what the folder needs.
struct SweepRun {
  std::string name;                // the folder's name inside the sweep folder
  std::filesystem::path dir;       // sweep folder / name
  std::vector<std::string> flags;  // the grid's flags for this run
  TrainConfig config;              // read from the flags; out_dir = dir, existing_run = kContinue
  // Filled by plan_sweep: normtrain's plan for the folder (start, resume, extend, skip,
  // diverged), or, when it refuses the folder, why.
  std::optional<RunPlan> plan;
  std::string refusal;
};

// Asks plan_run (as `--continue` would) about each run's folder: it reads run.json and starts
// no process, so a thousand runs take a fraction of a second. A folder that holds a different
// run, or that cannot be read, gets a refusal naming the folder and the differing flags.
void plan_sweep(std::vector<SweepRun>& runs);

// "start", "resume", "extend", "skip", "diverged" or "refused".
std::string action_word(const SweepRun& run);

// True for the runs that have training to do: start, resume or extend.
bool needs_training(const SweepRun& run);

// normtrain's arguments for a run: its flags, `--threads T` unless they set --threads,
// --quiet, then `--out DIR --continue`.
std::vector<std::string> run_arguments(const SweepRun& run, int threads);

// Whether the grid's flags of `run` include `flag`.
bool has_flag(const SweepRun& run, const std::string& flag);

// How a sweep's runs ended, for its last lines.
struct SweepTally {
  int completed = 0;  // trained to the end now
  int skipped = 0;    // complete before
  int diverged = 0;   // now or before
  int failed = 0;
  int stopped = 0;                  // by Ctrl-C
  int not_started = 0;              // after Ctrl-C
  std::vector<std::string> listed;  // "  failed: DIR (log: DIR/normtrain.log)", ...
};

// The summary line ("sweep: 2 completed now, 0 skipped as complete, 0 diverged, 0 failed"),
// the listed runs, and the `normtrain report --aggregate` command over the runs' folders that
// hold results.
void print_summary(const SweepTally& tally, const std::vector<SweepRun>& runs, std::ostream& out);

// Exit status of a sweep: 130 stopped, 1 a run failed, 3 one diverged (and none failed), else 0.
int exit_status(const SweepTally& tally, bool stopped);

}  // namespace normtrain
