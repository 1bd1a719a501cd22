#include "normtrain/commands/sweep/sweep_run.hpp"

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/commands/sweep/run_naming.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/run_record.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::TempDir;
using Words = std::vector<std::string>;

std::vector<SweepRun> runs_of(const Words& grid, const std::filesystem::path& dir) {
  return name_runs(expand_grids(parse_grids(grid)), dir, FolderNames::kVaryingFlags);
}

// Leaves in the run's folder the run.json (and checkpoint) a run of `config` writes after
// `epochs` epochs; without syncing them to disk, for speed.
void write_sweep_run(const TrainConfig& config, const std::string& status, int epochs) {
  std::filesystem::create_directories(config.out_dir);
  RunRecord record;
  record.config = config;
  record.status = status;
  record.epochs_completed = epochs;
  std::ofstream(std::filesystem::path(config.out_dir) / "run.json") << to_json_text(record);
  std::ofstream(std::filesystem::path(config.out_dir) / "checkpoint.pt") << "state";
}

TEST(SweepRun, EachFolderGetsNormtrainsPlan) {
  TempDir temp;
  std::vector<SweepRun> runs =
      runs_of({"--norm", "ln", "--seed", "1,2,3,4", "--epochs", "2"}, temp.path());
  write_sweep_run(runs[1].config, "completed", 2);
  write_sweep_run(runs[2].config, "interrupted", 1);
  write_sweep_run(runs[3].config, "diverged", 1);
  plan_sweep(runs);
  EXPECT_EQ(action_word(runs[0]), "start");
  EXPECT_EQ(action_word(runs[1]), "skip");
  EXPECT_EQ(action_word(runs[2]), "resume");
  EXPECT_EQ(action_word(runs[3]), "diverged");
  EXPECT_TRUE(needs_training(runs[0]));
  EXPECT_FALSE(needs_training(runs[1]));
  EXPECT_TRUE(needs_training(runs[2]));
  EXPECT_FALSE(needs_training(runs[3]));
}

TEST(SweepRun, AFolderHoldingADifferentRunIsRefusedNamingTheFlags) {
  TempDir temp;
  std::vector<SweepRun> runs = runs_of({"--norm", "gn", "--lr", "0.05"}, temp.path());
  TrainConfig other = runs[0].config;
  other.lr = 0.01;
  write_sweep_run(other, "completed", 20);
  plan_sweep(runs);
  EXPECT_FALSE(runs[0].plan);
  EXPECT_EQ(action_word(runs[0]), "refused");
  EXPECT_NE(runs[0].refusal.find("gn-8 holds a different run: --lr 0.01 (saved) vs 0.05"),
            std::string::npos)
      << runs[0].refusal;
}

TEST(SweepRun, PlansAThousandRunsFromTheirFolders) {
  TempDir temp;
  std::string seeds;
  for (int seed = 1; seed <= 1000; ++seed) seeds += (seed > 1 ? "," : "") + std::to_string(seed);
  const auto start = std::chrono::steady_clock::now();
  std::vector<SweepRun> runs =
      runs_of({"--norm", "gn", "--groups", "8", "--seed", seeds, "--epochs", "3"}, temp.path());
  const auto expanded = std::chrono::steady_clock::now();
  ASSERT_EQ(runs.size(), 1000u);
  // Half the folders hold their run, complete; half are empty.
  for (std::size_t i = 0; i < runs.size(); i += 2) write_sweep_run(runs[i].config, "completed", 3);
  const auto planning = std::chrono::steady_clock::now();
  plan_sweep(runs);
  const auto planned = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    ASSERT_EQ(action_word(runs[i]), i % 2 == 0 ? "skip" : "start") << runs[i].name;
  }
  const auto ms = [](auto from, auto to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
  };
  // For the reader of the log only: speed is for benchmarks, not for a test on a shared machine
  // (under the sanitizers, beside other jobs, this took 14 s where it takes 1).
  std::cout << "[ timing   ] 1000 runs: grid expanded and named in " << ms(start, expanded)
            << " ms, planned (500 run.json read) in " << ms(planning, planned) << " ms\n";
}

TEST(SweepRun, ArgumentsAddThreadsQuietOutAndContinue) {
  const std::vector<SweepRun> runs = runs_of({"--norm", "ln", "--seed", "2"}, "s");
  EXPECT_EQ(run_arguments(runs[0], 3), (Words{"--norm", "ln", "--seed", "2", "--threads", "3",
                                              "--quiet", "--out", "s/ln", "--continue"}));
  const std::vector<SweepRun> own = runs_of({"--norm", "ln", "--threads", "2", "--quiet"}, "s");
  EXPECT_EQ(run_arguments(own[0], 3),
            (Words{"--norm", "ln", "--threads", "2", "--quiet", "--out", "s/ln", "--continue"}));
}

TEST(SweepRun, SummaryAndExitStatus) {
  TempDir temp;
  std::vector<SweepRun> runs = runs_of({"--norm", "ln,gn"}, temp.path() / "with space");
  write_sweep_run(runs[1].config, "completed", 20);
  write_file_atomically(runs[1].dir / "metrics.csv", "epoch\n");
  SweepTally tally;
  tally.completed = 1;
  tally.failed = 1;
  tally.listed.push_back("  failed: x (log: x/normtrain.log)");
  std::ostringstream out;
  print_summary(tally, runs, out);
  EXPECT_NE(out.str().find("sweep: 1 completed now, 0 skipped as complete, 0 diverged, 1 failed\n"
                           "  failed: x (log: x/normtrain.log)\n"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("normtrain report --aggregate '" + runs[1].dir.string() + "'\n"),
            std::string::npos)
      << out.str();
  EXPECT_EQ(exit_status(tally, false), 1);
  EXPECT_EQ(exit_status(tally, true), 130);
  tally.failed = 0;
  tally.diverged = 1;
  EXPECT_EQ(exit_status(tally, false), 3);
  EXPECT_EQ(exit_status(SweepTally(), false), 0);
}

}  // namespace
}  // namespace normtrain
