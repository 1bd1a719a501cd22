#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "normtrain/commands/sweep/lr_scaling.hpp"

namespace normtrain {

// `normtrain sweep`: a grid of training runs, each in its own folder under `out`, run here N at
// a time or on a Slurm cluster as job arrays; or (`plan` set) one task of such an array.
struct SweepRequest {
  // The words after `--`: normtrain training flags whose values may be comma-separated lists.
  // A further `--` starts another grid, whose runs join the first's.
  std::vector<std::string> grid;
  bool grid_given = false;  // whether the command line had the `--`
  // Parent folder of the run folders.
  std::filesystem::path out = "runs/sweep";
  // Runs at a time here (default 1); with --slurm, the most tasks of an array running at once
  // (default: no cap).
  std::optional<int> jobs;
  // --threads of each run (unless the grid sets it) and Slurm's --cpus-per-task. Default: the
  // cores divided by --jobs here, at least 1; 4 on Slurm, or fewer when the nodes have fewer.
  std::optional<int> threads_per_job;
  // Each run's learning rate tied to its batch size (--lr-scaling linear: the grid's rates are
  // for --lr-reference-batch), or as the grid gives it.
  LrScaling lr_scaling;
  // Folder names as normtrain gives a run without --out (gn-8, gn-8-seed-2) instead of the
  // variant plus the flags that vary (gn-8_seed-2).
  bool default_names = false;
  // Say what each run would do (or print the job script) and change nothing.
  bool dry_run = false;
  // Submit the runs to Slurm as job arrays instead of running them here.
  bool slurm = false;
  std::string partition;                  // empty: the cluster's default
  std::optional<std::string> time_limit;  // of each array task; default 02:00:00
  std::vector<std::string> sbatch_args;   // more #SBATCH lines, e.g. --account=lab
  // After submitting, wait for this sweep's arrays and report each run as the local sweep does.
  bool wait = false;
  // An array task: carry on run `task_index` of this plan file (what sweep.sbatch runs).
  std::filesystem::path plan;
  std::optional<int> task_index;
  // The normtrain each run executes; empty means this program. Tests substitute a stand-in.
  std::filesystem::path program;
};

}  // namespace normtrain
