#include "normtrain/report/diagnostics_table.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "normtrain/report/csv_table.hpp"
#include "normtrain/report/metrics_csv.hpp"

namespace normtrain {
namespace {

namespace fs = std::filesystem;

constexpr const char* kNone = "-";

// A figure of one diagnostics step, with the step's epoch.
struct StepValue {
  int epoch = 0;
  double value = 0.0;
};

// For each step of `table` (in step order), the mean of `column` over that step's rows (the
// blocks of layers.csv; a summary row of landscape_summary.csv), leaving out empty fields. A
// step whose fields are all empty is left out.
std::vector<StepValue> step_means(const CsvTable& table, const std::string& column) {
  const std::size_t step_at = table.column("step");
  const std::size_t epoch_at = table.column("epoch");
  const std::size_t value_at = table.column(column);
  struct Sum {
    int epoch = 0;
    double sum = 0.0;
    int count = 0;
  };
  std::map<double, Sum> by_step;
  for (std::size_t row = 0; row < table.size(); ++row) {
    const std::optional<double> value = table.number(row, value_at);
    if (!value) continue;
    Sum& sum = by_step[table.number(row, step_at).value_or(0.0)];
    sum.epoch = static_cast<int>(table.number(row, epoch_at).value_or(0.0));
    sum.sum += *value;
    ++sum.count;
  }
  std::vector<StepValue> means;
  for (const auto& [step, sum] : by_step) means.push_back({sum.epoch, sum.sum / sum.count});
  return means;
}

std::optional<double> median(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  const std::size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + middle, values.end());
  if (values.size() % 2 == 1) return values[middle];
  const double upper = values[middle];
  return (*std::max_element(values.begin(), values.begin() + middle) + upper) / 2.0;
}

// The values of the steps whose epoch is in [first, last].
std::vector<double> in_epochs(const std::vector<StepValue>& values, int first, int last) {
  std::vector<double> kept;
  for (const StepValue& v : values) {
    if (v.epoch >= first && v.epoch <= last) kept.push_back(v.value);
  }
  return kept;
}

std::optional<double> mean(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0.0;
  for (const double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

// Three significant digits; "-" for no value.
std::string figure(std::optional<double> value) {
  return value ? fmt::format("{:.3g}", *value) : kNone;
}

std::string from_to(std::optional<double> from, std::optional<double> to) {
  if (!from && !to) return kNone;
  return fmt::format("{} → {}", figure(from), figure(to));
}

std::string run_name(const RunSummary& run) {
  return run.config.seed == 1 ? run.label : fmt::format("{} (seed {})", run.label, run.config.seed);
}

int last_epoch(const std::vector<StepValue>& values) {
  return values.empty() ? 0 : values.back().epoch;
}

std::string layers_row(const RunSummary& run) {
  const fs::path path = run.folder / "layers.csv";
  if (!fs::exists(path)) {
    return fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", run_name(run), kNone, kNone, kNone,
                       kNone, kNone, kNone);
  }
  const CsvTable layers = CsvTable::read(path);
  const std::vector<StepValue> weight = step_means(layers, "weight_norm");
  const std::vector<StepValue> gamma = step_means(layers, "gamma_mean");
  const std::vector<StepValue> zeros = step_means(layers, "in_zero_frac");
  const std::vector<StepValue> update = step_means(layers, "update_ratio");
  const std::vector<StepValue> out_std = step_means(layers, "out_std");
  const int last = last_epoch(weight);
  std::optional<double> weight_first;
  std::optional<double> weight_last;
  std::optional<double> growth;
  if (!weight.empty()) {
    weight_first = weight.front().value;
    weight_last = weight.back().value;
    // Without a norm or weight standardization a block is not scale-invariant in its weights.
    const bool scale_invariant =
        run.config.norm != NormKind::kNone || run.config.weight_standardization;
    if (scale_invariant && *weight_last > 0.0) {
      growth = std::pow(*weight_first / *weight_last, 2.0);
    }
  }
  std::optional<double> gamma_first;
  std::optional<double> gamma_last;
  if (!gamma.empty()) {
    gamma_first = gamma.front().value;
    gamma_last = gamma.back().value;
  }
  return fmt::format(
      "| {} | {} | {} | {} | {} | {} | {} |\n", run_name(run), from_to(weight_first, weight_last),
      growth ? fmt::format("×{:.3g}", *growth) : kNone, from_to(gamma_first, gamma_last),
      from_to(mean(in_epochs(zeros, 1, 1)), mean(in_epochs(zeros, last, last))),
      from_to(median(in_epochs(update, 1, 1)), median(in_epochs(update, last, last))),
      figure(median(in_epochs(out_std, last, last))));
}

std::string accuracy_span(const std::vector<double>& values) {
  if (values.empty()) return kNone;
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  return fmt::format("{:.2f}% ({:.2f}–{:.2f}%)", values.back(), *low, *high);
}

// A row for a run tested with precise statistics; empty for one without.
std::string precise_row(const RunSummary& run) {
  std::vector<double> running;
  std::vector<double> precise;
  int precise_better = 0;
  for (const EpochMetrics& epoch : read_metrics_csv(run.folder / "metrics.csv")) {
    if (!epoch.test_acc_precise) continue;
    running.push_back(epoch.test_acc);
    precise.push_back(*epoch.test_acc_precise);
    if (*epoch.test_acc_precise > epoch.test_acc) ++precise_better;
  }
  if (precise.empty()) return {};
  return fmt::format("| {} | {} | {} | {} of {} |\n", run_name(run), accuracy_span(running),
                     accuracy_span(precise), precise_better, precise.size());
}

std::string landscape_row(const RunSummary& run) {
  const fs::path path = run.folder / "landscape_summary.csv";
  if (!fs::exists(path)) {
    return fmt::format("| {} | 0 | {} | {} | {} |\n", run_name(run), kNone, kNone, kNone);
  }
  const CsvTable summary = CsvTable::read(path);
  const std::vector<StepValue> range = step_means(summary, "loss_range");
  const std::vector<StepValue> beta = step_means(summary, "beta_smoothness");
  const std::vector<StepValue> gradient = step_means(summary, "grad_norm");
  const int last = std::max(last_epoch(range), 2);
  const auto early_late = [&](const std::vector<StepValue>& values) {
    return fmt::format("{} / {}", figure(median(in_epochs(values, 1, 1))),
                       figure(median(in_epochs(values, 2, last))));
  };
  return fmt::format("| {} | {} | {} | {} | {} |\n", run_name(run), summary.size(),
                     early_late(range), early_late(beta), early_late(gradient));
}

}  // namespace

std::string diagnostics_tables(const std::vector<RunSummary>& runs) {
  std::string text =
      "### The blocks (layers.csv; each figure the mean over the five normalized blocks)\n\n"
      "| Run | Conv weight norm, first → last step | Effective step growth (norm ratio²) | "
      "γ mean, first → last step | Zeros entering the norm, epoch 1 → last | Update ratio "
      "(median), epoch 1 → last | Output std (median), last epoch |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n";
  for (const RunSummary& run : runs) text += layers_row(run);

  std::string precise;
  for (const RunSummary& run : runs) precise += precise_row(run);
  text +=
      "\n### Test accuracy with running and with precise BatchNorm statistics (metrics.csv)\n\n";
  if (precise.empty()) {
    text += "No run was tested with precise statistics (--precise-bn).\n";
  } else {
    text +=
        "| Run | Running statistics: final (lowest–highest epoch) | Precise statistics: final "
        "(lowest–highest epoch) | Epochs where precise is better |\n"
        "|---|---:|---:|---:|\n" +
        precise;
  }

  text +=
      "\n### The landscape along the gradient (landscape_summary.csv; medians, epoch 1 / "
      "epochs 2 to last)\n\n"
      "| Run | Probes | Loss range | β-smoothness | Gradient norm |\n"
      "|---|---:|---:|---:|---:|\n";
  for (const RunSummary& run : runs) text += landscape_row(run);
  return text;
}

}  // namespace normtrain
