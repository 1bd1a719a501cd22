#include "normtrain/train/run_folder.hpp"

#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "normtrain/cli/config_json.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"

namespace normtrain {
namespace {

// Every file a training run or `eval` writes into its folder, temporaries included.
constexpr const char* kRunFiles[] = {"run.json",      "metrics.csv",       "steps.csv",
                                     "layers.csv",    "landscape.csv",     "landscape_summary.csv",
                                     "checkpoint.pt", "model.pt",          "summary.txt",
                                     "confusion.csv", "misclassified.csv", "misclassified.png"};

// Files whose presence means the folder holds a run.
constexpr const char* kRunMarkers[] = {"run.json", "metrics.csv", "checkpoint.pt"};

bool path_exists(const std::filesystem::path& path) {
  std::error_code ignored;
  return std::filesystem::exists(path, ignored);
}

std::string join_differences(const std::vector<std::string>& differences) {
  return fmt::format("{}", fmt::join(differences, "; "));
}

}  // namespace

bool holds_run(const std::filesystem::path& dir) {
  for (const char* marker : kRunMarkers) {
    if (path_exists(dir / marker)) return true;
  }
  return false;
}

std::optional<SavedRun> read_saved_run(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "run.json";
  if (!path_exists(path)) return std::nullopt;
  const std::string text = read_file(path);
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    SavedRun saved;
    saved.config = config_from_json_text(json.at("config").dump(), path.string());
    saved.status = json.at("status").get<std::string>();
    saved.epochs_completed = json.at("epochs_completed").get<int>();
    saved.has_checkpoint = path_exists(dir / "checkpoint.pt");
    return saved;
  } catch (const nlohmann::json::exception& error) {
    throw RuntimeError(
        fmt::format("{} is not a run record normtrain can read ({}); move the folder away or use "
                    "--overwrite",
                    path.string(), error.what()));
  }
}

std::string to_string(RunAction action) {
  switch (action) {
    case RunAction::kStart:
      return "start";
    case RunAction::kOverwrite:
      return "overwrite";
    case RunAction::kResume:
      return "resume";
    case RunAction::kExtend:
      return "extend";
    case RunAction::kSkip:
      return "skip";
    case RunAction::kDiverged:
      return "diverged";
  }
  return "?";
}

RunPlan plan_run(const TrainConfig& requested) {
  RunPlan plan;
  plan.dir = resolved_out_dir(requested);
  const std::string dir = plan.dir.string();
  if (!holds_run(plan.dir)) {
    plan.detail = fmt::format("train {} into {}", variant_label(requested), dir);
    return plan;
  }
  switch (requested.existing_run) {
    case ExistingRunPolicy::kRefuse:
      throw UsageError(fmt::format(
          "{} already holds a run; nothing was changed. Continue it with 'normtrain --resume "
          "{}', replace it with --overwrite, or choose another --out",
          dir, dir));
    case ExistingRunPolicy::kOverwrite:
      plan.action = RunAction::kOverwrite;
      plan.detail =
          fmt::format("delete the run in {}, then train {} into it", dir, variant_label(requested));
      return plan;
    case ExistingRunPolicy::kContinue:
      break;
  }

  const std::optional<SavedRun> saved = read_saved_run(plan.dir);
  if (!saved) {
    throw UsageError(fmt::format(
        "{} holds a run's files but no run.json, so --continue cannot tell which run it is; "
        "use --resume {} or --overwrite",
        dir, dir));
  }
  std::vector<std::string> differences = identity_differences(saved->config, requested);
  const bool one_cycle = requested.schedule.kind == SchedulerKind::kOneCycle;
  // A one-cycle schedule spans all epochs, so its epoch count is part of what it computes.
  if (differences.empty() && one_cycle && saved->config.epochs != requested.epochs) {
    differences.push_back(
        fmt::format("--epochs {} (saved) vs {} (requested; a one-cycle "
                    "schedule depends on the total)",
                    saved->config.epochs, requested.epochs));
  }
  if (differences.empty() && saved->epochs_completed > requested.epochs) {
    differences.push_back(
        fmt::format("--epochs: the saved run has {} epochs, more than the {} "
                    "requested",
                    saved->epochs_completed, requested.epochs));
  }
  if (!differences.empty()) {
    throw UsageError(fmt::format(
        "{} holds a different run: {}. Nothing was changed; choose another --out, or replace "
        "it with --overwrite",
        dir, join_differences(differences)));
  }
  plan.completed_epochs = saved->epochs_completed;
  if (saved->status == "diverged") {
    plan.action = RunAction::kDiverged;
    plan.detail = fmt::format(
        "{} holds this run, and it diverged after {} complete epoch{}; training it again "
        "gives the same result (replace it with --overwrite)",
        dir, saved->epochs_completed, saved->epochs_completed == 1 ? "" : "s");
    return plan;
  }
  if (saved->status == "completed" && saved->epochs_completed == requested.epochs) {
    plan.action = RunAction::kSkip;
    plan.detail = fmt::format("{} holds this run, complete ({} epoch{})", dir,
                              saved->epochs_completed, saved->epochs_completed == 1 ? "" : "s");
    return plan;
  }
  if (!saved->has_checkpoint) {
    throw UsageError(fmt::format(
        "{} holds this run with {} of {} epochs, but no checkpoint.pt to continue from; "
        "replace it with --overwrite",
        dir, saved->epochs_completed, requested.epochs));
  }
  if (saved->status == "completed") {
    plan.action = RunAction::kExtend;
    plan.detail = fmt::format("extend {} from {} to {} epochs", dir, saved->epochs_completed,
                              requested.epochs);
  } else {
    plan.action = RunAction::kResume;
    plan.detail = fmt::format("resume {} after epoch {} of {} (it was {})", dir,
                              saved->epochs_completed, requested.epochs, saved->status);
  }
  return plan;
}

void remove_run_files(const std::filesystem::path& dir) {
  for (const char* name : kRunFiles) {
    for (const std::filesystem::path& path : {dir / name, dir / (std::string(name) + ".tmp")}) {
      std::error_code error;
      std::filesystem::remove(path, error);
      if (error) {
        throw RuntimeError(
            fmt::format("--overwrite: cannot delete {} ({})", path.string(), error.message()));
      }
    }
  }
}

}  // namespace normtrain
