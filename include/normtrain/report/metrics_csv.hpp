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
inline constexpr const char* kLandscapeCsvHeader = "step,epoch,eta,loss,grad_change";
inline constexpr const char* kLandscapeSummaryCsvHeader =
    "step,epoch,lr,loss,grad_norm,loss_min,loss_max,loss_range,max_grad_change,beta_smoothness";

std::string format_metrics_row(const EpochMetrics& metrics);
std::string format_steps_row(const StepMetrics& step);
std::string format_layers_row(const LayerDiagnostics& row);
// The landscape.csv rows of a probe, one per step size, and its landscape_summary.csv row.
std::string format_landscape_rows(const LandscapeProbe& probe);
std::string format_landscape_summary_row(const LandscapeProbe& probe);

// The rows of an existing metrics.csv. Throws a runtime Error naming the file when it is missing
// or not one normtrain wrote.
std::vector<EpochMetrics> read_metrics_csv(const std::filesystem::path& path);

// Drops the rows of epochs after `last_epoch` from metrics.csv, steps.csv, layers.csv and the
// landscape files in `out_dir`: a run killed after writing an epoch's rows but before its
// checkpoint has such rows, and a resumed run redoes that epoch.
void truncate_run_csvs(const std::filesystem::path& out_dir, int last_epoch);

// Which of a run's optional CSV files to write.
struct OptionalCsvs {
  bool layers = false;     // layers.csv (--diagnostics-every)
  bool landscape = false;  // landscape.csv and landscape_summary.csv (--landscape-every)
};

// Writes metrics.csv (a row per epoch), steps.csv (a row per batch) and the optional files
// (layers.csv, a row per normalized block per diagnostics step; landscape.csv, a row per step
// size per probe; landscape_summary.csv, a row per probe) in a run folder, each written
// through and synced when its epoch ends so that an interrupted run keeps every finished epoch. A
// row that cannot be written (disk full, folder removed) throws a runtime Error naming the file and
// the system's reason, and is not left half-written.
class MetricsCsvWriter : public TrainingObserver {
 public:
  enum class Mode { kCreate, kAppend };

  MetricsCsvWriter(const std::filesystem::path& out_dir, Mode mode, OptionalCsvs optional = {});

  void on_layer_diagnostics(const std::vector<LayerDiagnostics>& rows) override;
  void on_landscape(const std::vector<LandscapeProbe>& probes) override;
  void on_epoch_end(const EpochMetrics& epoch, const std::vector<StepMetrics>& steps) override;

 private:
  OutputFile metrics_;
  OutputFile steps_;
  std::optional<OutputFile> layers_;
  std::optional<OutputFile> landscape_;
  std::optional<OutputFile> landscape_summary_;
};

}  // namespace normtrain
