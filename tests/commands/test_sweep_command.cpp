#include "normtrain/commands/sweep/sweep_command.hpp"

#include <sys/stat.h>

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <CLI/CLI.hpp>

#include "normtrain/commands/sweep/sweep_options.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/run_record.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::read_text;
using testing::TempDir;
using Words = std::vector<std::string>;

// The request `normtrain sweep WORDS...` makes, read by the sweep's own option declarations.
SweepRequest parse_sweep(const Words& words) {
  CLI::App app{"test", "normtrain"};
  SweepRequest request;
  CLI::App* sweep = add_sweep_subcommand(app, request);
  std::vector<const char*> argv = {"normtrain", "sweep"};
  for (const std::string& word : words) argv.push_back(word.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return finish_sweep_request(*sweep, request);
}

std::string usage_error_of(const SweepRequest& request) {
  try {
    std::ostringstream out;
    run_sweep(request, out);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no usage error";
  return {};
}

// A stand-in for normtrain: exits 3 for --seed 3 (diverged), 1 for --seed 4, else 0.
std::filesystem::path write_fake_program(const std::filesystem::path& dir) {
  const std::filesystem::path program = dir / "fake-normtrain";
  write_file_atomically(program, R"SH(#!/bin/sh
echo "fake normtrain $*"
case " $* " in
  *" --seed 3 "*) exit 3 ;;
  *" --seed 4 "*) echo "not found in data" >&2; exit 1 ;;
esac
exit 0
)SH");
  ::chmod(program.c_str(), 0755);
  return program;
}

TEST(SweepCommand, OptionsThenTheGridAfterTheSeparator) {
  const SweepRequest request = parse_sweep({"--jobs", "2", "--out", "runs/x", "--dry-run", "--",
                                            "--norm", "ln,gn", "--", "--norm", "bn"});
  EXPECT_EQ(request.jobs, 2);
  EXPECT_EQ(request.out, std::filesystem::path("runs/x"));
  EXPECT_TRUE(request.dry_run);
  EXPECT_TRUE(request.grid_given);
  EXPECT_EQ(request.grid, (Words{"--norm", "ln,gn", "--", "--norm", "bn"}));
  const SweepRequest slurm =
      parse_sweep({"--slurm", "--partition", "cpu", "--time", "1:00:00", "--wait",
                   "--sbatch-arg=--account=lab", "--", "--seed", "1"});
  EXPECT_TRUE(slurm.slurm && slurm.wait);
  EXPECT_EQ(slurm.sbatch_args, Words{"--account=lab"});
  const SweepRequest task = parse_sweep({"--plan", "/s/.sweep/plan-1.json", "--task-index", "3"});
  EXPECT_EQ(task.task_index, 3);
  EXPECT_FALSE(task.grid_given);
}

TEST(SweepCommand, TrainingFlagsBeforeTheSeparatorAreRefusedSayingWhereTheyGo) {
  try {
    parse_sweep({"--norm", "ln", "--jobs", "2"});
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what())
                  .find("unknown sweep option '--norm': training flags go "
                        "after '--'"),
              std::string::npos)
        << error.what();
  }
}

TEST(SweepCommand, RefusesOptionsThatDoNotGoTogether) {
  EXPECT_NE(usage_error_of(parse_sweep({})).find("no grid"), std::string::npos);
  EXPECT_NE(usage_error_of(parse_sweep({"--"})).find("empty grid"), std::string::npos);
  EXPECT_NE(usage_error_of(parse_sweep({"--jobs", "0", "--", "--norm", "ln"}))
                .find("--jobs must be a positive"),
            std::string::npos);
  EXPECT_NE(usage_error_of(parse_sweep({"--partition", "cpu", "--", "--norm", "ln"}))
                .find("are for --slurm sweeps"),
            std::string::npos);
  EXPECT_NE(usage_error_of(parse_sweep({"--slurm", "--time", "soon", "--", "--norm", "ln"}))
                .find("--time must look like HH:MM:SS"),
            std::string::npos);
  EXPECT_NE(usage_error_of(parse_sweep({"--slurm", "--wait", "--dry-run", "--", "--norm", "ln"}))
                .find("--wait"),
            std::string::npos);
  EXPECT_NE(usage_error_of(parse_sweep({"--plan", "p.json"})).find("go together"),
            std::string::npos);
  EXPECT_NE(
      usage_error_of(parse_sweep({"--plan", "p.json", "--task-index", "0", "--", "--seed", "1"}))
          .find("take no grid"),
      std::string::npos);
}

TEST(SweepCommand, LinearLrScalingTiesEachRunsRateToItsBatchSize) {
  EXPECT_EQ(parse_sweep({"--", "--norm", "ln"}).lr_scaling.kind, LrScalingKind::kNone);
  const SweepRequest parsed =
      parse_sweep({"--lr-scaling", "linear", "--lr-reference-batch", "64", "--", "--norm", "ln"});
  EXPECT_EQ(parsed.lr_scaling.kind, LrScalingKind::kLinear);
  EXPECT_EQ(parsed.lr_scaling.reference_batch, 64);
  EXPECT_THROW(parse_sweep({"--lr-scaling", "sqrt", "--", "--norm", "ln"}), CLI::ParseError);
  try {
    parse_sweep({"--lr-reference-batch", "64", "--", "--norm", "ln"});
    ADD_FAILURE() << "--lr-reference-batch accepted without --lr-scaling linear";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("--lr-scaling linear"), std::string::npos);
  }
  EXPECT_NE(usage_error_of(parse_sweep({"--lr-scaling", "linear", "--lr-reference-batch", "0", "--",
                                        "--norm", "ln"}))
                .find("--lr-reference-batch"),
            std::string::npos);
  EXPECT_NE(usage_error_of(
                parse_sweep({"--plan", "p.json", "--task-index", "0", "--lr-scaling", "linear"}))
                .find("take no grid"),
            std::string::npos);

  TempDir temp;
  SweepRequest request = parse_sweep({"--dry-run", "--threads-per-job", "1", "--lr-scaling",
                                      "linear", "--", "--norm", "frn", "--batch-size", "2,128"});
  request.out = temp.path() / "dry";
  request.program = "/bin/normtrain";
  std::ostringstream out;
  EXPECT_EQ(run_sweep(request, out), 0);
  const std::string text = out.str();
  EXPECT_NE(text.find("start    frn_batch-size-2_lr-0.00015625: /bin/normtrain --norm frn "
                      "--batch-size 2 --lr 0.00015625 --threads 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("frn_batch-size-128_lr-0.01: /bin/normtrain --norm frn --batch-size 128 "
                      "--lr 0.01 --threads 1"),
            std::string::npos)
      << text;
}

TEST(SweepCommand, DryRunSaysWhatEachRunWouldDoAndCreatesNothing) {
  TempDir temp;
  SweepRequest request =
      parse_sweep({"--dry-run", "--threads-per-job", "1", "--", "--norm", "bn,gn", "--groups",
                   "2,8", "--seed", "1,2", "--epochs", "1"});
  request.out = temp.path() / "dry";
  request.program = "/bin/normtrain";
  std::ostringstream out;
  EXPECT_EQ(run_sweep(request, out), 0);
  const std::string text = out.str();
  EXPECT_NE(text.find("start    gn-8_seed-2: /bin/normtrain --norm gn --groups 8 --seed 2 "
                      "--epochs 1 --threads 1 --quiet --out " +
                      (temp.path() / "dry" / "gn-8_seed-2").string() + " --continue  # train"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sweep (dry run): 6 runs: 6 to start, 0 to resume or extend, 0 skipped as "
                      "complete, 0 diverged (not retried)\n"),
            std::string::npos)
      << text;
  EXPECT_FALSE(std::filesystem::exists(temp.path() / "dry"));
}

TEST(SweepCommand, AFolderHoldingAnotherRunStopsTheSweepBeforeAnythingStarts) {
  TempDir temp;
  const std::filesystem::path program = write_fake_program(temp.path());
  RunRecord record;
  record.config.norm = NormKind::kGroup;
  record.config.epochs = 1;
  record.status = "completed";
  record.epochs_completed = 1;
  std::filesystem::create_directories(temp.path() / "s" / "gn-8");
  write_file_atomically(temp.path() / "s" / "gn-8" / "run.json", to_json_text(record));
  SweepRequest request = parse_sweep({"--", "--norm", "gn,ln", "--epochs", "1", "--lr", "0.05"});
  request.out = temp.path() / "s";
  request.program = program;
  const std::string message = usage_error_of(request);
  EXPECT_NE(message.find("refuses 1 of the 2 runs, so the sweep starts none"), std::string::npos)
      << message;
  EXPECT_NE(message.find("gn-8 holds a different run: --lr 0.01 (saved) vs 0.05 (requested)"),
            std::string::npos)
      << message;
  EXPECT_FALSE(std::filesystem::exists(temp.path() / "s" / "ln"));
}

TEST(SweepCommand, ALocalSweepRunsEachRunAndReports) {
  TempDir temp;
  const std::filesystem::path program = write_fake_program(temp.path());
  SweepRequest request = parse_sweep({"--jobs", "2", "--", "--norm", "ln", "--seed", "1,2,3,4"});
  request.out = temp.path() / "s";
  request.program = program;
  std::ostringstream out;
  EXPECT_EQ(run_sweep(request, out), 1);
  const std::string text = out.str();
  EXPECT_NE(text.find("sweep: 4 runs in " + request.out.string() +
                      ": 4 to do, 0 skipped as complete; 2 at a time\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sweep: start ln_seed-1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sweep: done ln_seed-1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sweep: diverged ln_seed-3 (it keeps the epochs before)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sweep: FAILED ln_seed-4 (exit 1), log: "), std::string::npos) << text;
  EXPECT_NE(text.find("sweep: 2 completed now, 0 skipped as complete, 1 diverged, 1 failed\n"),
            std::string::npos)
      << text;
  const std::string log = read_text(request.out / "ln_seed-2" / "normtrain.log");
  EXPECT_NE(log.find(": start: train LN into"), std::string::npos) << log;
  EXPECT_NE(log.find("fake normtrain --norm ln --seed 2 --threads "), std::string::npos) << log;
  EXPECT_NE(log.find(" --quiet --out " + (request.out / "ln_seed-2").string() + " --continue\n"),
            std::string::npos)
      << log;
  EXPECT_NE(read_text(request.out / "ln_seed-4" / "normtrain.log").find("not found in data"),
            std::string::npos);
}

}  // namespace
}  // namespace normtrain
