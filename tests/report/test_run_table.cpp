#include "normtrain/report/run_table.hpp"

#include <functional>
#include <sstream>

#include <gtest/gtest.h>

#include "normtrain/commands/report_command.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/metrics_csv.hpp"
#include "normtrain/report/plot_data.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

namespace fs = std::filesystem;
using testing::expect_mentions;
using testing::read_text;
using testing::TempDir;

// Real 2-epoch runs on the tiny subset (bn-l1-0.01, ln, gn-8, gn-8-seed2) and one that diverged
// (bn-lr-50), with the tables scripts/report.sh printed for them.
const fs::path kFixtures = fs::path(NORMTRAIN_SOURCE_DIR) / "tests" / "fixtures";

std::string fixture(const std::string& name) {
  return (kFixtures / "runs" / name).string();
}

std::string report(const std::vector<std::string>& runs, bool aggregate = false) {
  ReportRequest request;
  request.runs = runs;
  request.aggregate = aggregate;
  std::ostringstream out;
  EXPECT_EQ(run_report(request, out), 0);
  return out.str();
}

// `text` with its one occurrence of `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "'" << from << "' not in the run.json";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// A copy of fixture run `name` at `to`, its run.json changed by `edit`.
std::string copy_run(const std::string& name, const fs::path& to,
                     const std::function<std::string(std::string)>& edit) {
  fs::copy(fixture(name), to, fs::copy_options::recursive);
  write_file_atomically(to / "run.json", edit(read_text(to / "run.json")));
  return to.string();
}

// `text` without the lines of the top-level `keys`.
std::string without_keys(const std::string& text, const std::vector<std::string>& keys) {
  std::istringstream lines(text);
  std::string kept;
  for (std::string line; std::getline(lines, line);) {
    bool drop = false;
    for (const std::string& key : keys) drop = drop || line.rfind("  \"" + key + "\": ", 0) == 0;
    if (!drop) kept += line + "\n";
  }
  return kept;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

template <typename Body>
std::string error_of(Body body, ErrorKind kind) {
  try {
    body();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), kind) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "nothing was thrown";
  return {};
}

TEST(RunTable, MatchesTheCommittedTableOfTheFixtureRuns) {
  EXPECT_EQ(report({fixture("bn-l1-0.01"), fixture("ln"), fixture("gn-8")}),
            read_text(kFixtures / "report_expected.md"));
}

TEST(RunTable, AggregatePoolsSeedsIntoMeanAndSampleStandardDeviation) {
  EXPECT_EQ(report({fixture("bn-l1-0.01"), fixture("ln"), fixture("gn-8"), fixture("gn-8-seed2")},
                   /*aggregate=*/true),
            read_text(kFixtures / "report_aggregate_expected.md"));
}

TEST(RunTable, MetricsCsvStandsInForAccuracyAndTimeKeysRunJsonLacks) {
  TempDir temp;
  const std::string bare = copy_run("bn-l1-0.01", temp.path() / "bare", [](std::string text) {
    return without_keys(text, {"best_test_acc", "best_test_epoch", "best_train_acc",
                               "best_train_epoch", "final_test_acc", "train_seconds"});
  });
  const std::string expected = read_text(kFixtures / "report_expected.md");
  EXPECT_EQ(report({bare}), expected.substr(0, expected.find("| LN |")));
}

TEST(RunTable, AggregateKeepsRecipesApartAndPoolsRunsThatDifferOnlyInWhereTheyRan) {
  TempDir temp;
  const std::string other_lr = copy_run("gn-8-seed2", temp.path() / "lr", [](std::string text) {
    return replaced(text, "\"lr\": 0.01,", "\"lr\": 0.05,");
  });
  const std::string elsewhere =
      copy_run("gn-8-seed2", temp.path() / "elsewhere", [](std::string text) {
        text = replaced(text, "\"device\": \"auto\",", "\"device\": \"cuda:1\",");
        text = replaced(text, "    \"threads\": 1\n", "    \"threads\": 7\n");
        return replaced(text, "\"data_dir\": \"data/mnist-tiny\",", "\"data_dir\": \"/data\",");
      });
  const std::string table = report({fixture("gn-8"), other_lr, elsewhere}, /*aggregate=*/true);
  EXPECT_TRUE(has_line(
      table, "| GN (8 groups) | 2 (1, 2) | 39.40% ± 3.11 | 39.40% ± 3.11 | 34.03% ± 2.55 |"))
      << table;
  EXPECT_TRUE(has_line(table, "| GN (8 groups) | 1 (2) | 41.60% ± - | 41.60% ± - | 32.23% ± - |"))
      << table;
}

TEST(RunTable, RecipeKeyIgnoresSeedAndPlaceButNotWhatChangesResults) {
  TrainConfig a;
  TrainConfig b = a;
  b.seed = 7;
  b.device = "cuda:1";
  b.threads = 3;
  b.data_dir = "/elsewhere";
  b.out_dir = "/tmp/x";
  b.misclassified = 0;
  EXPECT_EQ(recipe_key(a), recipe_key(b));
  for (const std::function<void(TrainConfig&)>& change :
       std::vector<std::function<void(TrainConfig&)>>{
           [](TrainConfig& c) { c.lr = 0.05; }, [](TrainConfig& c) { c.epochs = 3; },
           [](TrainConfig& c) { c.fused_kernels = false; },
           [](TrainConfig& c) { c.dataset = DatasetKind::kFashionMnist; },
           [](TrainConfig& c) { c.limit_train = 100; }}) {
    TrainConfig changed = a;
    change(changed);
    EXPECT_NE(recipe_key(a), recipe_key(changed));
  }
}

TEST(RunTable, AnInterruptedRunIsMarkedAndLeftOutOfTheMean) {
  TempDir temp;
  const std::string stopped = copy_run("ln", temp.path() / "stopped", [](std::string text) {
    text = replaced(text, "\"status\": \"completed\"", "\"status\": \"interrupted\"");
    return replaced(text, "\"seed\": 1,", "\"seed\": 2,");
  });
  EXPECT_TRUE(has_line(report({stopped}),
                       "| LN (interrupted, 2/2 epochs) | 36.62% (2) | 39.20% (2) | - | - | - | "
                       "1.1 s |"));
  EXPECT_TRUE(has_line(report({fixture("ln"), stopped}, /*aggregate=*/true),
                       "| LN | 2 (1, 2; 1 interrupted) | 39.20% ± - | 39.20% ± - | 36.62% ± - |"));
}

TEST(RunTable, ARunWithoutAFinishedEpochShowsNoAccuracy) {
  TempDir temp;
  const std::string fresh = copy_run("ln", temp.path() / "fresh", [](std::string text) {
    return replaced(text, "\"status\": \"completed\"", "\"status\": \"running\"");
  });
  write_file_atomically(temp.path() / "fresh" / "metrics.csv",
                        std::string(kMetricsCsvHeader) + "\n");
  EXPECT_TRUE(
      has_line(report({fresh}), "| LN (running, 0/2 epochs) | - | - | - | - | - | 1.1 s |"));
  EXPECT_TRUE(
      has_line(report({fresh}, /*aggregate=*/true), "| LN | 1 (1; 1 running) | - | - | - |"));
}

TEST(RunTable, ADivergedRunShowsWhereInsteadOfAccuracies) {
  const std::string diverged = "diverged (epoch 2, step 10)";
  const std::string table = report({fixture("ln"), fixture("bn-lr-50")});
  EXPECT_TRUE(has_line(
      table, "| BN | " + diverged + " | " + diverged + " | " + diverged + " | - | - | 0.4 s |"))
      << table;
  EXPECT_TRUE(has_line(table, "| LN | 36.62% (2) | 39.20% (2) | 39.20% | - | - | 1.1 s |"));

  TempDir temp;
  const std::string seed3 = copy_run("gn-8-seed2", temp.path() / "seed3", [](std::string text) {
    text = replaced(text, "\"status\": \"completed\"", "\"status\": \"diverged\"");
    text = replaced(text, "\"seed\": 2,", "\"seed\": 3,");
    return replaced(text, "  \"device\": \"cpu\",\n",
                    "  \"device\": \"cpu\",\n  \"diverged\": {\"epoch\": 2, \"reason\": \"the "
                    "loss became inf\", \"step\": 12},\n");
  });
  const std::string aggregate = report(
      {fixture("gn-8"), fixture("gn-8-seed2"), seed3, fixture("bn-lr-50")}, /*aggregate=*/true);
  EXPECT_TRUE(has_line(aggregate,
                       "| GN (8 groups) | 3 (1, 2, 3; 1 diverged) | 39.40% ± 3.11 | 39.40% ± 3.11 "
                       "| 34.03% ± 2.55 |"))
      << aggregate;
  EXPECT_TRUE(has_line(aggregate, "| BN | 1 (1; 1 diverged) | - | - | - |")) << aggregate;
}

TEST(RunTable, ABarInALabelIsEscaped) {
  TempDir temp;
  const std::string run = copy_run("ln", temp.path() / "bar", [](std::string text) {
    return replaced(text, "\"variant_label\": \"LN\"", "\"variant_label\": \"LN | mine\"");
  });
  EXPECT_TRUE(has_line(report({run}),
                       "| LN \\| mine | 36.62% (2) | 39.20% (2) | 39.20% | - | - | "
                       "1.1 s |"));
  EXPECT_TRUE(has_line(report({run}, /*aggregate=*/true),
                       "| LN \\| mine | 1 (1) | 39.20% ± - | 39.20% ± - | 36.62% ± - |"));
}

TEST(RunTable, NumbersAreSpelledAsPrintfSpellsThem) {
  EXPECT_EQ(format_accuracy(std::nullopt, 3), "-");
  EXPECT_EQ(format_accuracy(99.345, 19), "99.34% (19)");  // 99.345 is a little under in binary
  EXPECT_EQ(format_accuracy(12.125), "12.12%");           // an exact tie rounds to even
  EXPECT_EQ(format_accuracy(100.0, 0), "100.00%");
  EXPECT_EQ(format_duration(0.0), "0.0 s");
  EXPECT_EQ(format_duration(59.94), "59.9 s");
  EXPECT_EQ(format_duration(59.95), "1m 00s");
  EXPECT_EQ(format_duration(192.4), "3m 12s");
  EXPECT_EQ(format_duration(3909.0), "1h 05m 09s");
}

TEST(RunReport, RefusesWhatIsNotARunNamingIt) {
  TempDir temp;
  fs::create_directories(temp.path() / "empty");
  const std::string empty = (temp.path() / "empty").string();
  std::string message = error_of([&] { report({fixture("ln"), empty}); }, ErrorKind::kRuntime);
  expect_mentions(message, "'" + empty +
                               "' is not a normtrain run folder: it has no run.json or "
                               "metrics.csv");
  message = error_of([&] { report({(temp.path() / "missing").string()}); }, ErrorKind::kRuntime);
  expect_mentions(message, "missing' is not a folder");

  write_file_atomically(temp.path() / "empty" / "run.json", "");
  message = error_of([&] { report({empty}); }, ErrorKind::kRuntime);
  expect_mentions(message, "it has no metrics.csv");
  fs::copy_file(fs::path(fixture("ln")) / "metrics.csv", temp.path() / "empty" / "metrics.csv");
  message = error_of([&] { report({empty}); }, ErrorKind::kRuntime);
  expect_mentions(message, (temp.path() / "empty" / "run.json").string());

  write_file_atomically(temp.path() / "empty" / "run.json", "{\"status\": \"completed\"}");
  message = error_of([&] { report({empty}); }, ErrorKind::kRuntime);
  expect_mentions(message, "no saved configuration");
}

TEST(RunReport, UsageErrors) {
  expect_mentions(error_of([] { report({}); }, ErrorKind::kUsage), "no run folders given");
  expect_mentions(error_of([] { report({}, /*aggregate=*/true); }, ErrorKind::kUsage),
                  "no run folders given");
  ReportRequest request;
  request.runs = {fixture("ln")};
  request.aggregate = true;
  request.plot_data = "somewhere";
  std::ostringstream out;
  expect_mentions(error_of([&] { run_report(request, out); }, ErrorKind::kUsage), "--aggregate");
  EXPECT_EQ(out.str(), "");
}

TEST(RunReport, PlotDataListsEachRunsLabelStatusAndFiles) {
  TempDir temp;
  ReportRequest request;
  request.runs = {fixture("bn-l1-0.01"), fixture("bn-lr-50")};
  request.plot_data = (temp.path() / "data").string();
  std::ostringstream out;
  EXPECT_EQ(run_report(request, out), 0);
  EXPECT_EQ(out.str(), "");
  const std::string bn = fixture("bn-l1-0.01");
  const std::string lr50 = fixture("bn-lr-50");
  EXPECT_EQ(read_text(temp.path() / "data" / "runs.tsv"),
            std::string(kPlotDataHeader) + "\n" +  //
                bn + "\tBN + L1 0.01\tcompleted\t2\t16\t" + bn + "/metrics.csv\t" + bn +
                "/steps.csv\n" +  //
                lr50 + "\tBN\tdiverged\t1\t8\t" + lr50 + "/metrics.csv\t" + lr50 + "/steps.csv\n");
}

TEST(RunReport, PlotDataNeedsStepsCsv) {
  TempDir temp;
  fs::copy(fixture("ln"), temp.path() / "ln", fs::copy_options::recursive);
  fs::remove(temp.path() / "ln" / "steps.csv");
  ReportRequest request;
  request.runs = {(temp.path() / "ln").string()};
  request.plot_data = (temp.path() / "data").string();
  std::ostringstream out;
  expect_mentions(error_of([&] { run_report(request, out); }, ErrorKind::kRuntime),
                  "it has no steps.csv");
  EXPECT_FALSE(fs::exists(temp.path() / "data"));
}

TEST(RunReport, DiagnosticsTablesInsteadOfTheAccuracyTableAndAlone) {
  ReportRequest request;
  request.runs = {fixture("bn-l1-0.01")};
  request.diagnostics = true;
  std::ostringstream out;
  EXPECT_EQ(run_report(request, out), 0);
  // The fixture predates layers.csv and the probes: the tables show that it has none.
  expect_mentions(out.str(), "### The blocks");
  expect_mentions(out.str(), "| BN + L1 0.01 | 0 | - | - | - |");
  EXPECT_EQ(out.str().find("Best training accuracy"), std::string::npos);
  request.aggregate = true;
  std::ostringstream refused;
  expect_mentions(error_of([&] { run_report(request, refused); }, ErrorKind::kUsage),
                  "--diagnostics");
  EXPECT_EQ(refused.str(), "");
}

}  // namespace
}  // namespace normtrain
