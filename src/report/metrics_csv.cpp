#include "normtrain/report/metrics_csv.hpp"

#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/csv_table.hpp"

namespace normtrain {
namespace {

OutputFile open_csv(const std::filesystem::path& path, const char* header,
                    MetricsCsvWriter::Mode mode) {
  const bool append = mode == MetricsCsvWriter::Mode::kAppend && std::filesystem::exists(path);
  OutputFile file(path, append ? OutputFile::Mode::kAppend : OutputFile::Mode::kTruncate);
  if (!append) {
    file.write(std::string(header) + "\n");
    file.sync();
  }
  return file;
}

// Keeps the header and the rows whose `epoch_column` is at most `last_epoch`.
void truncate_csv(const std::filesystem::path& path, std::size_t epoch_column, int last_epoch) {
  std::ifstream in(path);
  if (!in) return;  // nothing written yet
  std::string kept;
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = split_csv_line(line);
    if (header ||
        (fields.size() > epoch_column && std::atoi(fields[epoch_column].c_str()) <= last_epoch)) {
      kept += line + "\n";
    }
    header = false;
  }
  write_file_atomically(path, kept);
}

}  // namespace

std::vector<EpochMetrics> read_metrics_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line.rfind("epoch,train_loss,", 0) != 0) {
    throw RuntimeError(
        fmt::format("{} is missing or is not a normtrain metrics.csv", path.string()));
  }
  std::vector<EpochMetrics> rows;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = split_csv_line(line);
    if (f.size() < 8) {
      throw RuntimeError(fmt::format("{}: malformed row '{}'", path.string(), line));
    }
    EpochMetrics m;
    m.epoch = std::atoi(f[0].c_str());
    m.train_loss = std::atof(f[1].c_str());
    m.train_acc = std::atof(f[2].c_str());
    m.test_loss = std::atof(f[3].c_str());
    m.test_acc = std::atof(f[4].c_str());
    m.lr = std::atof(f[5].c_str());
    m.train_seconds = std::atof(f[6].c_str());
    m.test_seconds = std::atof(f[7].c_str());
    m.train_nll = f.size() > 8 ? std::atof(f[8].c_str()) : m.train_loss;
    if (f.size() > 10 && !f[9].empty() && !f[10].empty()) {
      m.test_loss_precise = std::atof(f[9].c_str());
      m.test_acc_precise = std::atof(f[10].c_str());
    }
    rows.push_back(m);
  }
  return rows;
}

void truncate_run_csvs(const std::filesystem::path& out_dir, int last_epoch) {
  truncate_csv(out_dir / "metrics.csv", 0, last_epoch);
  truncate_csv(out_dir / "steps.csv", 1, last_epoch);
  truncate_csv(out_dir / "layers.csv", 1, last_epoch);
  truncate_csv(out_dir / "landscape.csv", 1, last_epoch);
  truncate_csv(out_dir / "landscape_summary.csv", 1, last_epoch);
}

std::string format_metrics_row(const EpochMetrics& m) {
  const auto optional = [](const std::optional<double>& value, int decimals) {
    return value ? fmt::format("{:.{}f}", *value, decimals) : std::string();
  };
  return fmt::format("{},{:.6f},{:.4f},{:.6f},{:.4f},{:g},{:.3f},{:.3f},{:.6f},{},{}", m.epoch,
                     m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.lr, m.train_seconds,
                     m.test_seconds, m.train_nll, optional(m.test_loss_precise, 6),
                     optional(m.test_acc_precise, 4));
}

std::string format_steps_row(const StepMetrics& s) {
  return fmt::format("{},{},{},{:.6f},{:.4f}", s.step, s.epoch, s.batch, s.loss, s.train_acc);
}

std::string format_layers_row(const LayerDiagnostics& r) {
  const auto optional = [](const std::optional<double>& value) {
    return value ? fmt::format("{:.6g}", *value) : std::string();
  };
  return fmt::format("{},{},{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{},{}",
                     r.step, r.epoch, r.layer, r.name, r.in_mean, r.in_std, r.in_zero_frac,
                     r.out_mean, r.out_std, r.weight_norm, r.grad_norm, r.update_ratio,
                     optional(r.gamma_mean), optional(r.beta_mean));
}

std::string format_landscape_rows(const LandscapeProbe& probe) {
  std::string rows;
  for (const LandscapePoint& point : probe.points) {
    rows += fmt::format("{},{},{:.6g},{:.8g},{:.6g}\n", probe.step, probe.epoch, point.eta,
                        point.loss, point.grad_change);
  }
  return rows;
}

std::string format_landscape_summary_row(const LandscapeProbe& probe) {
  const LandscapeSummary summary = summarize_landscape(probe);
  return fmt::format(
      "{},{},{:g},{:.8g},{:.6g},{:.8g},{:.8g},{:.6g},{:.6g},{}", probe.step, probe.epoch, probe.lr,
      probe.loss, probe.grad_norm, summary.loss_min, summary.loss_max,
      summary.loss_max - summary.loss_min, summary.max_grad_change,
      summary.beta_smoothness ? fmt::format("{:.6g}", *summary.beta_smoothness) : std::string());
}

MetricsCsvWriter::MetricsCsvWriter(const std::filesystem::path& out_dir, Mode mode,
                                   OptionalCsvs optional)
    : metrics_(open_csv(out_dir / "metrics.csv", kMetricsCsvHeader, mode)),
      steps_(open_csv(out_dir / "steps.csv", kStepsCsvHeader, mode)) {
  if (optional.layers) layers_.emplace(open_csv(out_dir / "layers.csv", kLayersCsvHeader, mode));
  if (optional.landscape) {
    landscape_.emplace(open_csv(out_dir / "landscape.csv", kLandscapeCsvHeader, mode));
    landscape_summary_.emplace(
        open_csv(out_dir / "landscape_summary.csv", kLandscapeSummaryCsvHeader, mode));
  }
}

void MetricsCsvWriter::on_landscape(const std::vector<LandscapeProbe>& probes) {
  if (!landscape_) return;
  std::string points;
  std::string summaries;
  for (const LandscapeProbe& probe : probes) {
    points += format_landscape_rows(probe);
    summaries += format_landscape_summary_row(probe) + "\n";
  }
  landscape_->write(points);
  landscape_->sync();
  landscape_summary_->write(summaries);
  landscape_summary_->sync();
}

void MetricsCsvWriter::on_layer_diagnostics(const std::vector<LayerDiagnostics>& rows) {
  if (!layers_) return;
  std::string text;
  for (const LayerDiagnostics& row : rows) text += format_layers_row(row) + "\n";
  layers_->write(text);
  layers_->sync();
}

void MetricsCsvWriter::on_epoch_end(const EpochMetrics& epoch,
                                    const std::vector<StepMetrics>& steps) {
  // Steps first: a row in metrics.csv promises that its epoch's steps are on disk. Each file gets
  // its rows in one write, so that a failure cuts back to the previous epoch's end.
  std::string step_rows;
  for (const StepMetrics& step : steps) step_rows += format_steps_row(step) + "\n";
  steps_.write(step_rows);
  steps_.sync();
  metrics_.write(format_metrics_row(epoch) + "\n");
  metrics_.sync();
}

}  // namespace normtrain
