#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "normtrain/common/file_io.hpp"
#include "normtrain/train/training_observer.hpp"

namespace normtrain {

// Column headers; other tools parse these files, so the spellings are a contract.
inline constexpr const char* kMetricsCsvHeader =
    "epoch,train_loss,train_acc,test_loss,test_acc,lr,train_seconds,test_seconds,train_nll";
inline constexpr const char* kStepsCsvHeader = "step,epoch,batch,loss,train_acc";

std::string format_metrics_row(const EpochMetrics& metrics);
std::string format_steps_row(const StepMetrics& step);

// The rows of an existing metrics.csv. Throws a runtime Error naming the file when it is missing
// or not one normtrain wrote.
std::vector<EpochMetrics> read_metrics_csv(const std::filesystem::path& path);

// Drops the rows of epochs after `last_epoch` from metrics.csv and steps.csv in `out_dir`: a run
// killed after writing an epoch's rows but before its checkpoint has such rows, and a resumed
// run redoes that epoch.
void truncate_run_csvs(const std::filesystem::path& out_dir, int last_epoch);

// Writes metrics.csv (a row per epoch) and steps.csv (a row per batch) in a run folder, each
// written through and synced when its epoch ends so that an interrupted run keeps every finished
// epoch. A row that cannot be written (disk full, folder removed) throws a runtime Error naming
// the file and the system's reason, and is not left half-written.
class MetricsCsvWriter : public TrainingObserver {
 public:
  enum class Mode { kCreate, kAppend };

  MetricsCsvWriter(const std::filesystem::path& out_dir, Mode mode);

  void on_epoch_end(const EpochMetrics& epoch, const std::vector<StepMetrics>& steps) override;

 private:
  OutputFile metrics_;
  OutputFile steps_;
};

}  // namespace normtrain
