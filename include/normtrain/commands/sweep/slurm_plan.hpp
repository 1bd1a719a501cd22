#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "normtrain/commands/sweep/sweep_run.hpp"

namespace normtrain {

// One task of a job array: the run it carries on.
struct PlannedTask {
  std::string name;               // the run folder's name
  std::filesystem::path dir;      // the run folder (absolute)
  std::vector<std::string> args;  // normtrain's arguments, ending in --out DIR --continue
};

// What one job array of a Slurm sweep runs: task i carries on tasks[i]. Stored in
// SWEEP/.sweep/plan-ID.json, where ID is derived from the content: a file is written once and
// never changed, so a queued task always finds the run it was submitted for, whatever is
// submitted later.
struct ArrayPlan {
  std::string id;                   // the first 16 hex digits of the content's SHA-256
  std::filesystem::path sweep_dir;  // absolute
  std::filesystem::path workdir;    // where the sweep was started; the runs start there
  std::vector<PlannedTask> tasks;
};

// A plan of `tasks`, its id computed.
ArrayPlan make_array_plan(const std::filesystem::path& sweep_dir,
                          const std::filesystem::path& workdir, std::vector<PlannedTask> tasks);

// SWEEP/.sweep/plan-ID.json
std::filesystem::path array_plan_path(const std::filesystem::path& sweep_dir,
                                      const std::string& id);

std::string to_json_text(const ArrayPlan& plan);

// Writes the plan's file when it does not exist yet (atomically: a complete file or none).
// An existing file has the same content, since the name comes from it, and is left as it is.
// Returns the file's path; throws a runtime Error naming it when it cannot be written.
std::filesystem::path write_array_plan(const ArrayPlan& plan);

// Reads a plan file and checks that its content still gives its id. Throws a runtime Error
// naming the file otherwise.
ArrayPlan read_array_plan(const std::filesystem::path& path);

// SWEEP/sweep.json: the grid as given, and every run of it (name and normtrain's arguments),
// with an id derived from them. Rewritten by each submission; the tasks do not read it.
std::string sweep_json_text(const std::vector<std::string>& grid,
                            const std::vector<PlannedTask>& runs);

// What an array task does before it becomes the run: the plan's run, the folder's plan
// (plan_run with --continue), and the lines for the logs. exit_status is set when there is
// nothing to train: 0 complete, 3 diverged, 2 the folder holds another run.
struct ArrayTask {
  PlannedTask task;
  std::string plan_id;
  std::filesystem::path workdir;
  std::string decision;  // e.g. "resume: resume DIR after epoch 1 of 2 (it was interrupted)"
  std::optional<int> exit_status;
};

// Reads task `index` of the plan file and asks plan_run about its folder. Throws a usage Error
// for an index outside the plan, runtime Errors for an unreadable plan.
ArrayTask prepare_array_task(const std::filesystem::path& plan_file, int index);

// `normtrain sweep --plan FILE --task-index I`, what sweep.sbatch runs: prepares the task,
// writes its decision to `out` (the Slurm log) and to the run's normtrain.log, and then, when
// there is training to do, becomes `program` with the run's arguments (exec: Slurm's signals
// reach normtrain itself), its output appended to the run's normtrain.log. Returns only when
// there is nothing to train, with the exit status to give.
int run_array_task(const std::filesystem::path& plan_file, int index,
                   const std::filesystem::path& program, std::ostream& out);

}  // namespace normtrain
