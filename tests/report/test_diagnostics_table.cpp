#include "normtrain/report/diagnostics_table.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "normtrain/report/csv_table.hpp"
#include "normtrain/report/metrics_csv.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

namespace fs = std::filesystem;
using testing::expect_mentions;
using testing::runtime_error_of;
using testing::TempDir;

void write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string metrics_rows(const std::vector<std::pair<double, std::optional<double>>>& tests) {
  std::string text = std::string(kMetricsCsvHeader) + "\n";
  int epoch = 0;
  for (const auto& [running, precise] : tests) {
    EpochMetrics m;
    m.epoch = ++epoch;
    m.test_acc = running;
    m.test_acc_precise = precise;
    if (precise) m.test_loss_precise = 0.1;
    text += format_metrics_row(m) + "\n";
  }
  return text;
}

RunSummary run_in(const fs::path& folder, const std::string& label, std::uint64_t seed) {
  fs::create_directories(folder);
  RunSummary run;
  run.folder = folder;
  run.label = label;
  run.config.seed = seed;
  return run;
}

TEST(CsvTable, ReadsColumnsByNameAndNumbersOrNothing) {
  TempDir dir;
  write(dir.path() / "a.csv", "step,value,note\n1,0.5,\n2,-1e-3,x\n");
  const CsvTable table = CsvTable::read(dir.path() / "a.csv");
  ASSERT_EQ(table.size(), 2U);
  EXPECT_EQ(table.column("value"), 1U);
  EXPECT_EQ(table.number(1, 1), -1e-3);
  EXPECT_FALSE(table.number(0, 2).has_value());
  EXPECT_TRUE(table.has_column("note"));
  EXPECT_FALSE(table.has_column("other"));
  expect_mentions(runtime_error_of([&] { table.number(1, 2); }), "line 3: 'x' is not a number");
  expect_mentions(runtime_error_of([&] { table.column("other"); }), "no column 'other'");
}

TEST(CsvTable, RefusesMissingFilesAndRaggedRowsNamingThem) {
  TempDir dir;
  expect_mentions(runtime_error_of([&] { CsvTable::read(dir.path() / "none.csv"); }),
                  (dir.path() / "none.csv").string());
  write(dir.path() / "ragged.csv", "a,b\n1,2\n3\n");
  expect_mentions(runtime_error_of([&] { CsvTable::read(dir.path() / "ragged.csv"); }),
                  "ragged.csv, line 3: 1 fields where the header has 2");
}

TEST(DiagnosticsTables, SummariseEachRunsFilesAndShowWhatIsMissing) {
  TempDir dir;
  const RunSummary bn = run_in(dir.path() / "bn", "BN + L1 0.01", 1);
  // Two blocks at step 1 (epoch 1) and step 3 (epoch 2).
  write(bn.folder / "layers.csv", std::string(kLayersCsvHeader) +
                                      "\n"
                                      "1,1,1,block1,0,0,0.5,0,1,4,0,0.01,1,0\n"
                                      "1,1,2,block2,0,0,0.3,0,1,2,0,0.03,1,0\n"
                                      "3,2,1,block1,0,0,0.8,0,0.9,2,0,0.05,0.5,0\n"
                                      "3,2,2,block2,0,0,0.6,0,0.7,1,0,0.07,0.3,0\n");
  write(bn.folder / "metrics.csv", metrics_rows({{90.0, 95.0}, {50.0, 97.0}}));
  write(bn.folder / "landscape_summary.csv", std::string(kLandscapeSummaryCsvHeader) +
                                                 "\n"
                                                 "1,1,0.01,1,2,0.9,1.1,0.2,1,10\n"
                                                 "101,1,0.01,1,4,0.8,1.2,0.4,1,20\n"
                                                 "201,2,0.01,1,1,0.9,1,0.1,0,\n");
  const RunSummary ln = run_in(dir.path() / "ln", "LN", 2);
  write(ln.folder / "metrics.csv", metrics_rows({{98.0, std::nullopt}}));

  const std::string text = diagnostics_tables({bn, ln});
  // Weight norm 3 -> 1.5, so the effective step grew 4 times; gamma 1 -> 0.4; zeros 0.4 ->
  // 0.7; median update ratio 0.02 -> 0.06; output std 0.8 in the last epoch.
  expect_mentions(text,
                  "| BN + L1 0.01 | 3 → 1.5 | ×4 | 1 → 0.4 | 0.4 → 0.7 | 0.02 → 0.06 | 0.8 |\n");
  expect_mentions(text, "| LN (seed 2) | - | - | - | - | - | - |\n");
  expect_mentions(text,
                  "| BN + L1 0.01 | 50.00% (50.00–90.00%) | 97.00% (95.00–97.00%) | 2 of 2 |\n");
  EXPECT_EQ(text.find("| LN (seed 2) | 98"), std::string::npos) << "LN has no precise row";
  expect_mentions(text, "| BN + L1 0.01 | 3 | 0.3 / 0.1 | 15 / - | 3 / 1 |\n");
  expect_mentions(text, "| LN (seed 2) | 0 | - | - | - |\n");
}

TEST(DiagnosticsTables, NoEffectiveStepGrowthWithoutScaleInvariance) {
  TempDir dir;
  RunSummary none = run_in(dir.path() / "none", "No norm", 1);
  none.config.norm = NormKind::kNone;
  write(none.folder / "metrics.csv", metrics_rows({{98.0, std::nullopt}}));
  write(none.folder / "layers.csv", std::string(kLayersCsvHeader) +
                                        "\n1,1,1,block1,0,0,0.5,0,1,4,0,0.01,,\n"
                                        "3,2,1,block1,0,0,0.5,0,1,2,0,0.01,,\n");
  expect_mentions(diagnostics_tables({none}), "| No norm | 4 → 2 | - | - |");
  none.config.weight_standardization = true;
  expect_mentions(diagnostics_tables({none}), "| No norm | 4 → 2 | ×4 | - |");
}

TEST(DiagnosticsTables, SaySoWhenNoRunHasPreciseStatistics) {
  TempDir dir;
  const RunSummary ln = run_in(dir.path() / "ln", "LN", 1);
  write(ln.folder / "metrics.csv", metrics_rows({{98.0, std::nullopt}}));
  expect_mentions(diagnostics_tables({ln}), "No run was tested with precise statistics");
}

TEST(DiagnosticsTables, ABrokenFileIsAnErrorNamingIt) {
  TempDir dir;
  const RunSummary bn = run_in(dir.path() / "bn", "BN", 1);
  write(bn.folder / "metrics.csv", metrics_rows({{98.0, std::nullopt}}));
  write(bn.folder / "layers.csv", std::string(kLayersCsvHeader) + "\n1,1,1\n");
  expect_mentions(runtime_error_of([&] { diagnostics_tables({bn}); }), "layers.csv, line 2");
}

}  // namespace
}  // namespace normtrain
