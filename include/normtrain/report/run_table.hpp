#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// Where a diverged run stopped, as run.json's "diverged" records it.
struct Divergence {
  int epoch = 0;
  std::int64_t step = 0;
};

// What a report shows of one run folder, read from its run.json and metrics.csv.
struct RunSummary {
  std::filesystem::path folder;
  TrainConfig config;  // the run's saved configuration
  std::string label;   // "GN (8 groups)"
  std::string status;  // completed, running, interrupted, failed or diverged
  int epochs = 0;      // finished epochs: the rows of metrics.csv
  // Accuracies in percent, with the epoch of each best (ties keep the earliest); absent until
  // the first epoch has finished.
  std::optional<double> best_train_acc;
  int best_train_epoch = 0;
  std::optional<double> best_test_acc;
  int best_test_epoch = 0;
  std::optional<double> final_test_acc;
  // The last epoch's test accuracy with precise BatchNorm statistics (--precise-bn), if any.
  std::optional<double> final_test_acc_precise;
  double train_seconds = 0.0;  // the training passes of the finished epochs
  double total_seconds = 0.0;  // from start to the last write of run.json; 0 where unknown
  std::optional<Divergence> diverged;
};

// Throws a runtime Error naming `folder` unless it is a folder holding each of `files`.
void require_run_files(const std::filesystem::path& folder, const std::vector<std::string>& files);

// Reads FOLDER/run.json and FOLDER/metrics.csv. metrics.csv stands in for the accuracy and time
// keys that run.json lacks. Throws a runtime Error naming the folder or file that is not a run's.
RunSummary read_run_summary(const std::filesystem::path& folder);

// What --aggregate pools: runs whose saved configurations differ at most in the seed and in
// what does not change results (device, threads, data and output folders) have the same key.
// Identity flags named in `also_ignored` ("--batch-size") are left out of the key as well.
std::string recipe_key(const TrainConfig& config,
                       const std::vector<std::string>& also_ignored = {});

// The Markdown table of one row per run: best training and test accuracy with their epochs,
// final test accuracy, L1 factor, groups and training time. A diverged run shows where it
// diverged instead of accuracies; an unfinished one has its status beside its label and no
// final accuracy.
std::string run_table(const std::vector<RunSummary>& runs);

// The Markdown table of one row per recipe, in the order of first appearance: the runs and
// their seeds, and the mean ± sample standard deviation of best test, final test and best
// training accuracy over its completed runs. Runs that did not complete are counted by status
// ("3 (1, 2, 3; 1 diverged)") and left out of the statistics.
std::string aggregate_table(const std::vector<RunSummary>& runs);

// Runs left out of a table's statistics, counted by status in the order the statuses first
// appear: {"diverged", 2}, {"interrupted", 1}.
using StatusCounts = std::vector<std::pair<std::string, int>>;
void count_status(StatusCounts& counts, const std::string& status);

// "99.35%", or "99.35% (19)" with an epoch above 0; "-" for no value.
std::string format_accuracy(std::optional<double> percent, int epoch = 0);
// "41.2 s" under a minute, else "3m 12s" or "1h 05m 09s".
std::string format_duration(double seconds);

}  // namespace normtrain
