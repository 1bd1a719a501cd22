#pragma once

// The `sweep` subcommand's options, declared once for the command line (cli.cpp) and the tests.
// Header-only so that the command line needs nothing of the sweep's library to declare them.

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "normtrain/commands/sweep/sweep_request.hpp"
#include "normtrain/common/error.hpp"

namespace normtrain {

inline CLI::App* add_sweep_subcommand(CLI::App& app, SweepRequest& request) {
  CLI::App* sweep = app.add_subcommand(
      "sweep", "Train a grid of runs, each in its own folder: here N at a time, or on Slurm");
  sweep->footer(
      "normtrain sweep [OPTIONS] -- GRID [-- GRID]...\n"
      "GRID: training flags whose values may be comma-separated lists; the runs are their\n"
      "cartesian product (first flag outermost), a flag that does not apply to a run (--groups\n"
      "but --norm bn) is left out of it, and each further GRID adds its runs. Each run is\n"
      "normtrain GRID-FLAGS --threads T --quiet --out DIR/NAME --continue: a complete run is\n"
      "skipped, a stopped one resumed, a diverged one not retried, and a folder holding a\n"
      "different run stops the sweep before anything starts (exit 2). NAME is the variant\n"
      "plus the flags that vary (gn-8_seed-2). Exit status: 0 all complete, 1 a run failed,\n"
      "2 refused, 3 a run diverged, 130 stopped. For example:\n"
      "  normtrain sweep --jobs 2 -- --norm bn,ln,gn --groups 8 --seed 1,2,3\n"
      "  normtrain sweep --lr-scaling linear -- --norm bn,gn --batch-size 2,8,32,128\n"
      "  normtrain sweep --slurm --partition cpu --out runs/s -- --norm ln,gn --seed 1,2,3");
  sweep->add_option("--out", request.out, "Parent folder of the run folders")
      ->capture_default_str();
  sweep->add_option("--jobs", request.jobs,
                    "Runs at a time [default: 1]; with --slurm, array tasks at a time per array "
                    "[default: no cap]");
  sweep->add_option("--threads-per-job", request.threads_per_job,
                    "--threads of each run and Slurm's --cpus-per-task [default: cores / jobs; "
                    "Slurm: 4, at most a node's CPUs]");
  sweep
      ->add_option("--lr-scaling", request.lr_scaling.kind,
                   "none: each run's --lr as given; linear: the grid's --lr (--max-lr with "
                   "--scheduler onecycle) is for --lr-reference-batch, and a run of batch B gets "
                   "it times B / that batch")
      ->transform(
          CLI::Transformer(std::vector<std::pair<std::string, LrScalingKind>>{
                               {"none", LrScalingKind::kNone}, {"linear", LrScalingKind::kLinear}})
              .description(""))
      ->transform(CLI::IsMember({"none", "linear"}))
      ->default_str("none");
  sweep
      ->add_option("--lr-reference-batch", request.lr_scaling.reference_batch,
                   "With --lr-scaling linear: the batch size the grid's rates are for")
      ->capture_default_str();
  sweep->add_flag("--default-names", request.default_names,
                  "Name folders as normtrain does without --out (gn-8-seed-2), not by the "
                  "varying flags (gn-8_seed-2)");
  sweep->add_flag("--dry-run", request.dry_run,
                  "Say what each run would do (start, resume, extend, skip, diverged, refused), "
                  "or print the job script; change nothing");
  sweep->add_flag("--slurm", request.slurm,
                  "Submit the runs to Slurm as job arrays (DIR/sweep.sbatch, DIR/sweep.json)");
  sweep->add_option("--partition", request.partition, "Slurm partition [default: the cluster's]");
  sweep->add_option("--time", request.time_limit,
                    "Slurm time limit of each run, HH:MM:SS [default: 02:00:00]");
  // One value per --sbatch-arg, so that a following `--` still starts the grid.
  sweep
      ->add_option("--sbatch-arg", request.sbatch_args,
                   "One more #SBATCH line, e.g. --sbatch-arg=--account=lab (repeatable)")
      ->allow_extra_args(false);
  sweep->add_flag("--wait", request.wait,
                  "With --slurm: wait for the arrays, then report every run as a local sweep does");
  sweep->add_option("--plan", request.plan, "An array task's plan file (sweep.sbatch gives it)")
      ->group("Slurm array tasks");
  sweep
      ->add_option("--task-index", request.task_index,
                   "The run of --plan to carry on ($SLURM_ARRAY_TASK_ID)")
      ->group("Slurm array tasks");
  sweep->add_option("grid", request.grid, "After --: training flags; values comma-separated");
  // Words CLI11 does not know stay in remaining(), so that the grid's flags given before the
  // `--` get a message saying where they go.
  sweep->allow_extras();
  return sweep;
}

// Completes a request after parsing: whether the `--` was given, and a usage Error for words
// that are not sweep options.
inline SweepRequest finish_sweep_request(const CLI::App& sweep, SweepRequest request) {
  if (sweep.count("--lr-reference-batch") > 0 &&
      request.lr_scaling.kind != LrScalingKind::kLinear) {
    throw UsageError("--lr-reference-batch applies only to --lr-scaling linear");
  }
  for (const std::string& word : sweep.remaining()) {
    if (word == "--") {
      request.grid_given = true;
      continue;
    }
    throw UsageError(
        "unknown sweep option '" + word + "'" +
        (word.rfind("--", 0) == 0
             ? ": training flags go after '--', e.g. normtrain sweep -- " + word + " ..."
             : std::string()) +
        "\nRun 'normtrain sweep --help' for the options.");
  }
  return request;
}

}  // namespace normtrain
