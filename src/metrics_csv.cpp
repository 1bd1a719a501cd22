#include "normtrain/metrics_csv.hpp"

#include <fmt/format.h>

#include "normtrain/error.hpp"

namespace normtrain {
namespace {

std::ofstream open_csv(const std::filesystem::path& path, const char* header,
                       MetricsCsvWriter::Mode mode) {
  const bool append = mode == MetricsCsvWriter::Mode::kAppend && std::filesystem::exists(path);
  std::ofstream file(path, append ? std::ios::app : std::ios::trunc);
  if (!file) {
    throw RuntimeError(
        fmt::format("cannot write {}: check that the --out folder is writable", path.string()));
  }
  if (!append) file << header << '\n' << std::flush;
  return file;
}

void check_written(const std::ofstream& file, const std::filesystem::path& path) {
  if (!file) {
    throw RuntimeError(
        fmt::format("writing {} failed (disk full or folder removed?)", path.string()));
  }
}

}  // namespace

std::string format_metrics_row(const EpochMetrics& m) {
  return fmt::format("{},{:.6f},{:.4f},{:.6f},{:.4f},{:g},{:.3f},{:.3f},{:.6f}", m.epoch,
                     m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.lr, m.train_seconds,
                     m.test_seconds, m.train_nll);
}

std::string format_steps_row(const StepMetrics& s) {
  return fmt::format("{},{},{},{:.6f},{:.4f}", s.step, s.epoch, s.batch, s.loss, s.train_acc);
}

MetricsCsvWriter::MetricsCsvWriter(const std::filesystem::path& out_dir, Mode mode)
    : metrics_path_(out_dir / "metrics.csv"),
      steps_path_(out_dir / "steps.csv"),
      metrics_(open_csv(metrics_path_, kMetricsCsvHeader, mode)),
      steps_(open_csv(steps_path_, kStepsCsvHeader, mode)) {}

void MetricsCsvWriter::on_epoch_end(const EpochMetrics& epoch,
                                    const std::vector<StepMetrics>& steps) {
  // Steps first: a row in metrics.csv promises that its epoch's steps are on disk.
  for (const StepMetrics& step : steps) steps_ << format_steps_row(step) << '\n';
  steps_.flush();
  check_written(steps_, steps_path_);
  metrics_ << format_metrics_row(epoch) << '\n';
  metrics_.flush();
  check_written(metrics_, metrics_path_);
}

}  // namespace normtrain
