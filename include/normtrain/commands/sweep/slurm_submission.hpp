#pragma once

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "normtrain/commands/sweep/sweep_request.hpp"
#include "normtrain/commands/sweep/sweep_run.hpp"

namespace normtrain {

// MaxArraySize from `scontrol show config`: array task indices run from 0 to one less. Throws a
// runtime Error when the text has none.
int max_array_size_from(const std::string& scontrol_show_config);

// The most CPUs of any node of `partition` (empty: the default one, marked '*'), from
// `sinfo -h -N -o %P|%c`; nullopt when no node belongs to it.
std::optional<int> node_cpus_from(const std::string& sinfo_output, const std::string& partition);

// One array task that squeue lists, from `squeue -h -r -o %i|%K|%T|%k` (the comment, %k, holds
// the plan file of the task's array).
struct QueuedTask {
  std::string job;    // "123_4"
  int index = -1;     // 4; -1 for a job that is not an array task
  std::string state;  // PENDING, RUNNING, ...
  std::filesystem::path plan;
};
std::vector<QueuedTask> queued_tasks_from(const std::string& squeue_output);

// The runs split into job arrays of at most `max_array_size` tasks: [first, last) of each.
std::vector<std::pair<std::size_t, std::size_t>> array_parts(std::size_t runs, int max_array_size);

// What sweep.sbatch says besides the plan, which each submission gives as its argument.
struct SbatchSettings {
  std::filesystem::path program;      // normtrain, absolute
  std::filesystem::path log_pattern;  // SWEEP/slurm-%A_%a.log
  int cpus_per_task = 1;
  std::string time_limit;
  std::string partition;
  std::vector<std::string> extra_lines;  // --sbatch-arg values
};

// The job script: #SBATCH lines, then `exec normtrain sweep --plan "$1" --task-index
// "$SLURM_ARRAY_TASK_ID"`. No run's command line is in it.
std::string sbatch_script(const SbatchSettings& settings);

// `normtrain sweep --slurm`: submits the runs that need training and are not queued or running
// in an array of this sweep already (squeue), as job arrays of sweep.sbatch, one plan file
// each; with --dry-run prints what it would submit; with --wait then waits for this sweep's
// arrays and reports every run. `runs` must be planned, none refused, their folders absolute.
// Returns the exit status: 0 submitted (or, with --wait, all complete), 1 a run failed, 3 one
// diverged, 130 stopped while waiting. Throws a runtime Error when Slurm's commands are missing
// or sbatch refuses a submission, a usage Error when a task would need more CPUs than a node has.
int run_slurm_sweep(const SweepRequest& request, std::vector<SweepRun>& runs,
                    const std::filesystem::path& program, std::ostream& out);

}  // namespace normtrain
