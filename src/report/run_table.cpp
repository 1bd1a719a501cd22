#include "normtrain/report/run_table.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "normtrain/cli/config_json.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/metrics_csv.hpp"
#include "normtrain/report/run_record.hpp"
#include "normtrain/report/spread.hpp"
#include "normtrain/report/text_format.hpp"

namespace normtrain {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kRunTableHeader =
    "| Technique | Best training accuracy (epoch) | Best test accuracy (epoch) | Final test "
    "accuracy | L1 factor | Groups | Train time |\n"
    "|---|---:|---:|---:|---:|---:|---:|\n";
constexpr const char* kAggregateTableHeader =
    "| Technique | Runs (seeds) | Best test accuracy (mean ± std) | Final test accuracy (mean ± "
    "std) | Best training accuracy (mean ± std) |\n"
    "|---|---:|---:|---:|---:|\n";

// run.json's number KEY, or nullopt when it lacks the key or holds null there.
std::optional<double> number_of(const Json& json, const char* key) {
  const auto found = json.find(key);
  if (found == json.end() || found->is_null()) return std::nullopt;
  return found->get<double>();
}

int epoch_of(const Json& json, const char* key, int fallback) {
  const auto found = json.find(key);
  if (found == json.end() || found->is_null()) return fallback;
  return found->get<int>();
}

// The best / final figures of metrics.csv's rows, folded as run.json's writer folds them.
RunRecord figures_of(const std::vector<EpochMetrics>& rows) {
  RunRecord figures;
  for (const EpochMetrics& row : rows) record_epoch(figures, row);
  return figures;
}

std::string diverged_cell(const RunSummary& run) {
  if (!run.diverged) return "diverged";
  return fmt::format("diverged (epoch {}, step {})", run.diverged->epoch, run.diverged->step);
}

std::string l1_cell(const TrainConfig& config) {
  return config.l1 == 0.0 ? "-" : printf_string("%g", config.l1);
}

std::string groups_cell(const TrainConfig& config) {
  return config.norm == NormKind::kGroup ? std::to_string(config.groups) : "-";
}

// "99.39% ± 0.03" (sample standard deviation), "99.39% ± -" for one run, "-" for none.
std::string format_spread(const Spread& spread) {
  if (spread.count() == 0) return "-";
  if (spread.count() == 1) return printf_string("%.2f%% ± -", spread.mean());
  return printf_string("%.2f%% ± %.2f", spread.mean(), spread.sample_std());
}

// One row of the aggregate table: the runs of one recipe.
struct RecipeRow {
  std::string key;
  std::string label;  // the first run's
  int runs = 0;
  std::string seeds;
  // Runs left out of the statistics, by status, in the order the statuses first appear.
  StatusCounts left_out;
  Spread best_test;
  Spread final_test;
  Spread best_train;
};

void add_run(RecipeRow& row, const RunSummary& run) {
  row.seeds += fmt::format("{}{}", row.runs == 0 ? "" : ", ", run.config.seed);
  ++row.runs;
  if (run.status != "completed") {
    count_status(row.left_out, run.status);
    return;
  }
  // A completed run without a finished epoch counts as a run but adds no accuracy.
  if (run.best_train_acc && run.best_test_acc && run.final_test_acc) {
    row.best_test.add(*run.best_test_acc);
    row.final_test.add(*run.final_test_acc);
    row.best_train.add(*run.best_train_acc);
  }
}

}  // namespace

void require_run_files(const fs::path& folder, const std::vector<std::string>& files) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    throw RuntimeError(fmt::format(
        "'{}' is not a folder; pass run folders written by normtrain --out", folder.string()));
  }
  std::vector<std::string> missing;
  for (const std::string& file : files) {
    if (!fs::is_regular_file(folder / file, error)) missing.push_back(file);
  }
  if (missing.empty()) return;
  std::string list = missing.front();
  for (std::size_t i = 1; i < missing.size(); ++i) {
    list += (i + 1 == missing.size() ? " or " : ", ") + missing[i];
  }
  throw RuntimeError(
      fmt::format("'{}' is not a normtrain run folder: it has no {} (pass the folder given to "
                  "--out)",
                  folder.string(), list));
}

RunSummary read_run_summary(const fs::path& folder) {
  require_run_files(folder, {"run.json", "metrics.csv"});
  const std::vector<EpochMetrics> rows = read_metrics_csv(folder / "metrics.csv");
  const RunRecord csv = figures_of(rows);
  const fs::path path = folder / "run.json";
  RunSummary run;
  run.folder = folder;
  run.epochs = static_cast<int>(rows.size());
  try {
    const Json json = Json::parse(read_file(path));
    if (!json.is_object() || !json.contains("config")) {
      throw RuntimeError(
          fmt::format("{} is not a run record normtrain can read: it has no saved configuration",
                      path.string()));
    }
    run.config = config_from_json_text(json.at("config").dump(), path.string());
    run.label = json.value("variant_label", std::string());
    if (run.label.empty()) run.label = variant_label(run.config);
    run.status = json.value("status", std::string());
    if (run.status.empty()) run.status = "completed";
    if (run.status == "diverged" && json.contains("diverged")) {
      const Json& at = json.at("diverged");
      run.diverged = Divergence{at.at("epoch").get<int>(), at.at("step").get<std::int64_t>()};
    }
    // An interrupted first epoch leaves zeros in run.json and no row in metrics.csv.
    if (!rows.empty()) {
      run.best_train_acc = number_of(json, "best_train_acc").value_or(csv.best_train_acc);
      run.best_train_epoch = epoch_of(json, "best_train_epoch", csv.best_train_epoch);
      run.best_test_acc = number_of(json, "best_test_acc").value_or(csv.best_test_acc);
      run.best_test_epoch = epoch_of(json, "best_test_epoch", csv.best_test_epoch);
      run.final_test_acc = number_of(json, "final_test_acc").value_or(csv.final_test_acc);
      run.final_test_acc_precise = rows.back().test_acc_precise;
    }
    run.train_seconds = number_of(json, "train_seconds").value_or(csv.train_seconds);
    run.total_seconds = number_of(json, "total_seconds").value_or(0.0);
  } catch (const Json::exception& error) {
    throw RuntimeError(
        fmt::format("{} is not a run record normtrain can read ({})", path.string(), error.what()));
  }
  return run;
}

void count_status(StatusCounts& counts, const std::string& status) {
  auto counted = std::find_if(counts.begin(), counts.end(),
                              [&](const auto& entry) { return entry.first == status; });
  if (counted == counts.end()) {
    counts.emplace_back(status, 1);
  } else {
    ++counted->second;
  }
}

std::string recipe_key(const TrainConfig& config, const std::vector<std::string>& also_ignored) {
  std::string key = fmt::format("--epochs {}", config.epochs);
  for (const IdentityFlag& flag : identity_flags(config)) {
    if (flag.flag == "--seed") continue;
    if (std::find(also_ignored.begin(), also_ignored.end(), flag.flag) != also_ignored.end())
      continue;
    key += fmt::format(" {} {}", flag.flag, flag.value);
  }
  return key;
}

std::string format_accuracy(std::optional<double> percent, int epoch) {
  if (!percent) return "-";
  std::string text = printf_string("%.2f%%", *percent);
  if (epoch > 0) text += printf_string(" (%d)", epoch);
  return text;
}

std::string format_duration(double seconds) {
  // Under a minute unless "%.1f" would round it up to 60.0.
  if (seconds < 59.95) return printf_string("%.1f s", seconds);
  const long total = static_cast<long>(seconds + 0.5);
  const long hours = total / 3600;
  const long minutes = total % 3600 / 60;
  const long rest = total % 60;
  if (hours > 0) return printf_string("%ldh %02ldm %02lds", hours, minutes, rest);
  return printf_string("%ldm %02lds", minutes, rest);
}

std::string run_table(const std::vector<RunSummary>& runs) {
  std::string table = kRunTableHeader;
  for (const RunSummary& run : runs) {
    std::string technique = run.label;
    std::string best_train = format_accuracy(run.best_train_acc, run.best_train_epoch);
    std::string best_test = format_accuracy(run.best_test_acc, run.best_test_epoch);
    std::string final_test = format_accuracy(run.final_test_acc);
    if (run.status == "diverged") {
      best_train = best_test = final_test = diverged_cell(run);
    } else if (run.status != "completed") {
      // So that an unfinished run is not read as a finished one.
      technique = fmt::format("{} ({}, {}/{} epochs)", run.label, run.status, run.epochs,
                              run.config.epochs);
      final_test = "-";
    }
    table += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", markdown_cell(technique),
                         best_train, best_test, final_test, l1_cell(run.config),
                         groups_cell(run.config), format_duration(run.train_seconds));
  }
  return table;
}

std::string aggregate_table(const std::vector<RunSummary>& runs) {
  std::vector<RecipeRow> rows;
  for (const RunSummary& run : runs) {
    const std::string key = recipe_key(run.config);
    auto row = rows.begin();
    while (row != rows.end() && row->key != key) ++row;
    if (row == rows.end()) {
      rows.push_back(RecipeRow{});
      row = std::prev(rows.end());
      row->key = key;
      row->label = run.label;
    }
    add_run(*row, run);
  }
  std::string table = kAggregateTableHeader;
  for (const RecipeRow& row : rows) {
    std::string note;
    for (const auto& [status, count] : row.left_out) {
      note += fmt::format("{}{} {}", note.empty() ? "; " : ", ", count, status);
    }
    table += fmt::format("| {} | {} ({}{}) | {} | {} | {} |\n", markdown_cell(row.label), row.runs,
                         row.seeds, note, format_spread(row.best_test),
                         format_spread(row.final_test), format_spread(row.best_train));
  }
  return table;
}

}  // namespace normtrain
