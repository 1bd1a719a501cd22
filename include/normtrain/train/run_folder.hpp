#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// True when `dir` holds a run's files (run.json, metrics.csv or checkpoint.pt).
bool holds_run(const std::filesystem::path& dir);

// What a folder's run.json says about the run in it.
struct SavedRun {
  TrainConfig config;
  std::string status;  // running, completed, interrupted, failed or diverged
  int epochs_completed = 0;
  bool has_checkpoint = false;
};

// Reads DIR/run.json; nullopt when there is none. Throws a runtime Error naming the file when
// it cannot be read.
std::optional<SavedRun> read_saved_run(const std::filesystem::path& dir);

// What a fresh-run command will do with its output folder.
enum class RunAction {
  kStart,      // the folder holds no run: train from scratch
  kOverwrite,  // --overwrite: delete the run's files, then train from scratch
  kResume,     // --continue: the same run, unfinished; continue it from its checkpoint
  kExtend,     // --continue: the same run, complete with fewer epochs; continue it to --epochs
  kSkip,       // --continue: the same run, complete; nothing to do
  kDiverged,   // --continue: the same run, and it diverged; training it again cannot help
};

struct RunPlan {
  RunAction action = RunAction::kStart;
  std::filesystem::path dir;
  int completed_epochs = 0;  // of the run already there
  std::string detail;        // one line for a person: what and why
};

// Decides, from the folder alone, what training `requested` should do with its output folder
// under requested.existing_run. Throws a usage Error when the folder holds a run and the
// policy forbids touching it, or (--continue) when that run's configuration differs, naming
// the differing flags; runtime Errors for an unreadable folder.
RunPlan plan_run(const TrainConfig& requested);

// One word for the action, as --dry-run prints it: start, overwrite, resume, extend, skip,
// diverged.
std::string to_string(RunAction action);

// Deletes the files a run writes into `dir` (and nothing else), for --overwrite.
void remove_run_files(const std::filesystem::path& dir);

}  // namespace normtrain
