#include "normtrain/report/batch_size_table.hpp"

#include <sstream>

#include <gtest/gtest.h>

#include "normtrain/commands/report_command.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::TempDir;

// A run of the batch-size study: rate scaled linearly from 0.01 at batch 128, as the sweep
// does, and its final test accuracy (none for a run without a finished epoch).
RunSummary study_run(NormKind norm, int batch, int seed, std::optional<double> final_acc,
                     std::string status = "completed") {
  RunSummary run;
  run.config.norm = norm;
  if (norm == NormKind::kGroup) run.config.groups = 8;
  run.config.batch_size = batch;
  run.config.lr = 0.01 * batch / 128;
  run.config.seed = seed;
  run.config.epochs = 4;
  run.label = variant_label(run.config);
  run.status = std::move(status);
  run.final_test_acc = final_acc;
  run.train_seconds = 30.0;
  run.total_seconds = 36.0;
  return run;
}

RunSummary with_precise(RunSummary run, double precise_acc) {
  run.final_test_acc_precise = precise_acc;
  return run;
}

std::string lines_of(const std::string& text, const std::string& start) {
  std::istringstream in(text);
  std::string found;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(start, 0) == 0) found += line + "\n";
  }
  return found;
}

TEST(BatchSizeTable, PoolsSeedsPerBatchSizeAcrossTheScaledRates) {
  const std::vector<RunSummary> runs = {
      study_run(NormKind::kBatch, 2, 1, 97.0), study_run(NormKind::kBatch, 2, 2, 96.0),
      study_run(NormKind::kBatch, 2, 3, 98.0), study_run(NormKind::kBatch, 128, 1, 98.5),
      study_run(NormKind::kGroup, 2, 1, 98.25)};
  EXPECT_EQ(batch_size_table(runs),
            "| Technique \\ batch size | 2 | 128 | 2 vs 128 |\n"
            "|---|---:|---:|---:|\n"
            "| BN | 3.00 ± 1.00 (3) | 1.50 ± - (1) | +1.50 |\n"
            "| GN (8 groups) | 1.75 ± - (1) | - | - |\n"
            "\n"
            "5 runs; they took 3m 00s together, 2m 30s of it in their training passes.\n");
}

TEST(BatchSizeTable, BatchSizesAreColumnsInAscendingOrderWhateverTheRunOrder) {
  const std::vector<RunSummary> runs = {study_run(NormKind::kLayer, 64, 1, 99.0),
                                        study_run(NormKind::kLayer, 4, 1, 98.0),
                                        study_run(NormKind::kLayer, 16, 1, 98.5)};
  EXPECT_EQ(lines_of(batch_size_table(runs), "| Technique"),
            "| Technique \\ batch size | 4 | 16 | 64 | 4 vs 64 |\n");
}

TEST(BatchSizeTable, PreciseStatisticsGetARowOfTheirOwnWhereTheRunsHaveThem) {
  const std::vector<RunSummary> runs = {with_precise(study_run(NormKind::kBatch, 2, 1, 90.0), 97.0),
                                        with_precise(study_run(NormKind::kBatch, 2, 2, 92.0), 98.0),
                                        study_run(NormKind::kGroup, 2, 1, 98.0)};
  const std::string table = batch_size_table(runs);
  EXPECT_EQ(lines_of(table, "| BN"),
            "| BN | 9.00 ± 1.41 (2) | - |\n"
            "| BN, precise statistics | 2.50 ± 0.71 (2) | - |\n")
      << table;
  EXPECT_EQ(lines_of(table, "| GN"), "| GN (8 groups) | 2.00 ± - (1) | - |\n") << table;
}

TEST(BatchSizeTable, RunsThatDidNotCompleteAreCountedNotDropped) {
  const std::vector<RunSummary> runs = {
      study_run(NormKind::kBatch, 2, 1, 97.0),
      study_run(NormKind::kBatch, 2, 2, std::nullopt, "diverged"),
      study_run(NormKind::kBatch, 2, 3, 95.0),
      study_run(NormKind::kBatch, 8, 1, std::nullopt, "diverged"),
      study_run(NormKind::kBatch, 8, 2, 90.0, "interrupted"),
      study_run(NormKind::kBatch, 8, 3, std::nullopt, "diverged")};
  EXPECT_EQ(lines_of(batch_size_table(runs), "| BN"),
            "| BN | 4.00 ± 1.41 (2; 1 diverged) | - (0; 2 diverged, 1 interrupted) | - |\n");
}

TEST(BatchSizeTable, RecipesThatDifferBeyondBatchSizeRateAndSeedStayApart) {
  RunSummary longer = study_run(NormKind::kBatch, 2, 1, 99.0);
  longer.config.epochs = 20;
  RunSummary other_rate = study_run(NormKind::kBatch, 2, 2, 95.0);
  other_rate.config.lr = 0.5;  // still pooled: the rate is the study's to scale
  const std::vector<RunSummary> runs = {study_run(NormKind::kBatch, 2, 1, 97.0), longer,
                                        other_rate};
  EXPECT_EQ(lines_of(batch_size_table(runs), "| BN"),
            "| BN | 4.00 ± 1.41 (2) | - |\n"
            "| BN | 1.00 ± - (1) | - |\n");
}

TEST(BatchSizeTable, TheChangeHasItsStandardErrorWhereBothEndsHaveSeveralRuns) {
  // Errors 3, 4, 2 at batch 2 (mean 3, std 1) and 1.5, 1.0 at batch 128 (mean 1.25, std 0.354):
  // standard error sqrt(1/3 + 0.125/2) = 0.63.
  const std::vector<RunSummary> runs = {
      study_run(NormKind::kBatch, 2, 1, 97.0), study_run(NormKind::kBatch, 2, 2, 96.0),
      study_run(NormKind::kBatch, 2, 3, 98.0), study_run(NormKind::kBatch, 128, 1, 98.5),
      study_run(NormKind::kBatch, 128, 2, 99.0)};
  EXPECT_EQ(lines_of(batch_size_table(runs), "| BN"),
            "| BN | 3.00 ± 1.00 (3) | 1.25 ± 0.35 (2) | +1.75 ± 0.63 |\n");
}

TEST(BatchSizeTable, PlotDataHasALinePerCellWithACompletedRun) {
  const std::vector<RunSummary> runs = {with_precise(study_run(NormKind::kBatch, 8, 1, 97.0), 98.0),
                                        with_precise(study_run(NormKind::kBatch, 8, 2, 95.0), 98.5),
                                        study_run(NormKind::kBatch, 2, 1, std::nullopt, "diverged"),
                                        study_run(NormKind::kLayer, 2, 1, 98.0)};
  EXPECT_EQ(batch_size_plot_text(runs), std::string(kBatchSizePlotHeader) + "\n" +
                                            "BN\t8\t2\t4.0000\t1.4142\t2\t1.7500\t0.3536\n"
                                            "LN\t2\t1\t2.0000\t0.0000\t\t\t\n");
}

// Through the command, on the committed tiny runs (batch 128, one of them seed 2).
const fs::path kRuns = fs::path(NORMTRAIN_SOURCE_DIR) / "tests" / "fixtures" / "runs";

TEST(BatchSizeTable, ReportByBatchSizeReadsRunFoldersAndWritesThePlotData) {
  ReportRequest request;
  request.by_batch_size = true;
  request.runs = {(kRuns / "gn-8").string(), (kRuns / "gn-8-seed2").string(),
                  (kRuns / "bn-lr-50").string()};
  std::ostringstream out;
  EXPECT_EQ(run_report(request, out), 0);
  EXPECT_NE(out.str().find("| GN (8 groups) | 60.60 ± 3.11 (2) | - |"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("(0; 1 diverged)"), std::string::npos) << out.str();

  TempDir temp;
  request.plot_data = (temp.path() / "plot").string();
  std::ostringstream silent;
  EXPECT_EQ(run_report(request, silent), 0);
  EXPECT_EQ(silent.str(), "");
  EXPECT_EQ(lines_of(read_text(temp.path() / "plot" / kBatchSizePlotFile), "GN"),
            "GN (8 groups)\t128\t2\t60.6000\t3.1113\t\t\t\n");
}

TEST(BatchSizeTable, ReportRefusesToCombineItWithAnotherView) {
  for (const bool aggregate : {true, false}) {
    ReportRequest request;
    request.by_batch_size = true;
    request.aggregate = aggregate;
    request.diagnostics = !aggregate;
    request.runs = {(kRuns / "gn-8").string()};
    std::ostringstream out;
    try {
      run_report(request, out);
      ADD_FAILURE() << "accepted --by-batch-size with "
                    << (aggregate ? "--aggregate" : "--diagnostics");
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kUsage) << error.what();
      EXPECT_NE(std::string(error.what()).find(aggregate ? "--aggregate" : "--diagnostics"),
                std::string::npos)
          << error.what();
    }
  }
}

}  // namespace
}  // namespace normtrain
