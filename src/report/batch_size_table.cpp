#include "normtrain/report/batch_size_table.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "normtrain/common/file_io.hpp"
#include "normtrain/report/spread.hpp"
#include "normtrain/report/text_format.hpp"

namespace normtrain {
namespace {

// The rate is left out of a recipe as well: the study scales it with the batch.
const std::vector<std::string> kPooledAcrossBatchSizes = {"--batch-size", "--lr", "--max-lr"};

// The runs of one recipe at one batch size.
struct Cell {
  Spread error;
  Spread precise_error;
  // Runs left out of the statistics, by status, in the order the statuses first appear.
  StatusCounts left_out;
};

struct Recipe {
  std::string key;
  std::string label;  // the first run's
  std::map<int, Cell> cells;
};

struct Study {
  std::vector<Recipe> recipes;   // in the order of first appearance
  std::vector<int> batch_sizes;  // ascending
  int runs = 0;
  double train_seconds = 0.0;
  double total_seconds = 0.0;
};

Study pool(const std::vector<RunSummary>& runs) {
  Study study;
  for (const RunSummary& run : runs) {
    const std::string key = recipe_key(run.config, kPooledAcrossBatchSizes);
    auto recipe = std::find_if(study.recipes.begin(), study.recipes.end(),
                               [&](const Recipe& r) { return r.key == key; });
    if (recipe == study.recipes.end()) {
      study.recipes.push_back(Recipe{key, run.label, {}});
      recipe = std::prev(study.recipes.end());
    }
    const int batch = run.config.batch_size;
    if (std::find(study.batch_sizes.begin(), study.batch_sizes.end(), batch) ==
        study.batch_sizes.end()) {
      study.batch_sizes.push_back(batch);
    }
    Cell& cell = recipe->cells[batch];
    ++study.runs;
    study.train_seconds += run.train_seconds;
    study.total_seconds += run.total_seconds;
    if (run.status != "completed") {
      count_status(cell.left_out, run.status);
    } else if (run.final_test_acc) {  // a completed run without an epoch adds no error
      cell.error.add(100.0 - *run.final_test_acc);
      if (run.final_test_acc_precise) cell.precise_error.add(100.0 - *run.final_test_acc_precise);
    }
  }
  std::sort(study.batch_sizes.begin(), study.batch_sizes.end());
  return study;
}

std::string format_cell(const Spread& spread, const Cell& cell) {
  std::string counts = std::to_string(spread.count());
  for (const auto& [status, count] : cell.left_out) {
    counts +=
        fmt::format("{}{} {}", counts.find(';') == std::string::npos ? "; " : ", ", count, status);
  }
  if (spread.count() == 0) {
    return cell.left_out.empty() ? "-" : fmt::format("- ({})", counts);
  }
  const std::string spread_text =
      spread.count() == 1 ? printf_string("%.2f ± -", spread.mean())
                          : printf_string("%.2f ± %.2f", spread.mean(), spread.sample_std());
  return fmt::format("{} ({})", spread_text, counts);
}

bool has_precise(const Recipe& recipe) {
  return std::any_of(recipe.cells.begin(), recipe.cells.end(),
                     [](const auto& entry) { return entry.second.precise_error.count() > 0; });
}

// The mean error at the study's smallest batch size minus that at its largest, in points, with
// the standard error of that difference, sqrt(s1^2/n1 + s2^2/n2), where both have two runs or
// more: "+0.72 ± 0.30".
std::string change_cell(const Study& study, const Recipe& recipe, Spread Cell::*measure) {
  const auto smallest = recipe.cells.find(study.batch_sizes.front());
  const auto largest = recipe.cells.find(study.batch_sizes.back());
  if (study.batch_sizes.size() < 2 || smallest == recipe.cells.end() ||
      largest == recipe.cells.end() || (smallest->second.*measure).count() == 0 ||
      (largest->second.*measure).count() == 0) {
    return "-";
  }
  const Spread& small = smallest->second.*measure;
  const Spread& large = largest->second.*measure;
  const std::string change = printf_string("%+.2f", small.mean() - large.mean());
  if (small.count() < 2 || large.count() < 2) return change;
  const double standard_error = std::sqrt(small.sample_std() * small.sample_std() / small.count() +
                                          large.sample_std() * large.sample_std() / large.count());
  return change + printf_string(" ± %.2f", standard_error);
}

std::string table_row(const Study& study, const Recipe& recipe, const std::string& label,
                      Spread Cell::*measure) {
  std::string row = "| " + markdown_cell(label) + " |";
  for (const int batch : study.batch_sizes) {
    const auto cell = recipe.cells.find(batch);
    row += " " +
           (cell == recipe.cells.end() ? "-" : format_cell(cell->second.*measure, cell->second)) +
           " |";
  }
  return row + " " + change_cell(study, recipe, measure) + " |\n";
}

}  // namespace

std::string batch_size_table(const std::vector<RunSummary>& runs) {
  const Study study = pool(runs);
  std::string table = "| Technique \\ batch size |";
  std::string rule = "|---|";
  for (const int batch : study.batch_sizes) {
    table += fmt::format(" {} |", batch);
    rule += "---:|";
  }
  if (study.batch_sizes.empty()) {
    table += " Smallest vs largest batch |";
  } else {
    table += fmt::format(" {} vs {} |", study.batch_sizes.front(), study.batch_sizes.back());
  }
  table += "\n" + rule + "---:|\n";
  for (const Recipe& recipe : study.recipes) {
    table += table_row(study, recipe, recipe.label, &Cell::error);
    if (has_precise(recipe)) {
      table +=
          table_row(study, recipe, recipe.label + ", precise statistics", &Cell::precise_error);
    }
  }
  table += fmt::format("\n{} runs; they took {} together, {} of it in their training passes.\n",
                       study.runs, format_duration(study.total_seconds),
                       format_duration(study.train_seconds));
  return table;
}

std::string batch_size_plot_text(const std::vector<RunSummary>& runs) {
  const Study study = pool(runs);
  std::string text = std::string(kBatchSizePlotHeader) + "\n";
  for (const Recipe& recipe : study.recipes) {
    for (const auto& [batch, cell] : recipe.cells) {
      if (cell.error.count() == 0) continue;
      std::string precise = "\t\t";
      if (cell.precise_error.count() > 0) {
        precise = printf_string("%d\t%.4f\t%.4f", cell.precise_error.count(),
                                cell.precise_error.mean(), cell.precise_error.sample_std());
      }
      text += fmt::format("{}\t{}\t{}\t{}\n", tsv_field(recipe.label), batch,
                          printf_string("%d\t%.4f\t%.4f", cell.error.count(), cell.error.mean(),
                                        cell.error.sample_std()),
                          precise);
    }
  }
  return text;
}

void write_batch_size_plot_data(const std::vector<RunSummary>& runs,
                                const std::filesystem::path& dir) {
  const std::string text = batch_size_plot_text(runs);
  ensure_writable_dir(dir, "--plot-data");
  write_file_atomically(dir / kBatchSizePlotFile, text);
}

}  // namespace normtrain
