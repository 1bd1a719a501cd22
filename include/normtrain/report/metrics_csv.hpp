#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "normtrain/common/file_io.hpp"
#include "normtrain/train/training_observer.hpp"

namespace normtrain {

// Column headers; other tools parse these files, so the spellings are a contract.
inline constexpr const char* kMetricsCsvHeader =
    "epoch,train_loss,train_acc,test_loss,test_acc,lr,train_seconds,test_seconds,train_nll,"
    "test_loss_precise,test_acc_precise";
inline constexpr const char* kStepsCsvHeader = "step,epoch,batch,loss,train_acc";
inline constexpr const char* kLayersCsvHeader =
    "step,epoch,layer,name,in_mean,in_std,in_zero_frac,out_mean,out_std,weight_norm,grad_norm,"
    "update_ratio,gamma_mean,beta_mean";

std::string format_metrics_row(const EpochMetrics& metrics);
std::string format_steps_row(const StepMetrics& step);
std::string format_layers_row(const LayerDiagnostics& row);

// The rows of an existing metrics.csv. Throws a runtime Error naming the file when it is missing
// or not one normtrain wrote.
std::vector<EpochMetrics> read_metrics_csv(const std::filesystem::path& path);

// Drops the rows of epochs after `last_epoch` from metrics.csv, steps.csv and layers.csv in
// `out_dir`: a run killed after writing an epoch's rows but before its checkpoint has such
// rows, and a resumed run redoes that epoch.
void truncate_run_csvs(const std::filesystem::path& out_dir, int last_epoch);

// Writes metrics.csv (a row per epoch), steps.csv (a row per batch) and, with diagnostics,
// layers.csv (a row per normalized block per diagnostics step) in a run folder, each written
// through and synced when its epoch ends so that an interrupted run keeps every finished epoch. A
// row that cannot be written (disk full, folder removed) throws a runtime Error naming the file and
// the system's reason, and is not left half-written.
class MetricsCsvWriter : public TrainingObserver {
 public:
  enum class Mode { kCreate, kAppend };

  // layers.csv is written only when `diagnostics` is true.
  MetricsCsvWriter(const std::filesystem::path& out_dir, Mode mode, bool diagnostics = false);

  void on_layer_diagnostics(const std::vector<LayerDiagnostics>& rows) override;
  void on_epoch_end(const EpochMetrics& epoch, const std::vector<StepMetrics>& steps) override;

 private:
  OutputFile metrics_;
  OutputFile steps_;
  std::optional<OutputFile> layers_;
};

}  // namespace normtrain
