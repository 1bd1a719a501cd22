#include "normtrain/train/run_folder.hpp"

#include <string>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/run_record.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::TempDir;

// A configuration whose run goes to `dir`, with --continue.
TrainConfig continuing(const std::filesystem::path& dir) {
  TrainConfig config;
  config.out_dir = dir.string();
  config.existing_run = ExistingRunPolicy::kContinue;
  return config;
}

// Writes the run.json a run of `config` leaves after `epochs` epochs with `status`.
void write_finished_run(const TrainConfig& config, const std::string& status, int epochs,
                        bool with_checkpoint = true) {
  const std::filesystem::path dir = resolved_out_dir(config);
  std::filesystem::create_directories(dir);
  RunRecord record;
  record.config = config;
  record.status = status;
  record.epochs_completed = epochs;
  write_file_atomically(dir / "run.json", to_json_text(record));
  if (with_checkpoint) write_file_atomically(dir / "checkpoint.pt", "state");
}

std::string usage_error_of(const TrainConfig& config) {
  try {
    plan_run(config);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage);
    return error.what();
  }
  ADD_FAILURE() << "no usage error";
  return {};
}

TEST(RunFolder, AnEmptyOrMissingFolderStartsAFreshRun) {
  TempDir temp;
  TrainConfig config = continuing(temp.path() / "new");
  EXPECT_EQ(plan_run(config).action, RunAction::kStart);
  config.existing_run = ExistingRunPolicy::kRefuse;
  EXPECT_EQ(plan_run(config).action, RunAction::kStart);
  std::filesystem::create_directories(temp.path() / "new");
  write_file_atomically(temp.path() / "new" / "notes.txt", "mine");
  EXPECT_EQ(plan_run(config).action, RunAction::kStart);
}

TEST(RunFolder, AFolderHoldingARunIsRefusedByDefault) {
  TempDir temp;
  for (const char* marker : {"run.json", "metrics.csv", "checkpoint.pt"}) {
    const std::filesystem::path dir = temp.path() / marker;
    std::filesystem::create_directories(dir);
    write_file_atomically(dir / marker, "x");
    TrainConfig config;
    config.out_dir = dir.string();
    const std::string message = usage_error_of(config);
    EXPECT_NE(message.find("already holds a run"), std::string::npos) << marker;
    EXPECT_NE(message.find("--resume " + dir.string()), std::string::npos) << message;
    EXPECT_NE(message.find("--overwrite"), std::string::npos) << message;
    config.existing_run = ExistingRunPolicy::kOverwrite;
    EXPECT_EQ(plan_run(config).action, RunAction::kOverwrite);
  }
}

TEST(RunFolder, ContinueSkipsTheSameCompleteRun) {
  TempDir temp;
  TrainConfig config = continuing(temp.path() / "run");
  config.epochs = 3;
  write_finished_run(config, "completed", 3);
  EXPECT_EQ(plan_run(config).action, RunAction::kSkip);
  // Where and how it runs is not part of what it computes.
  config.threads = 5;
  config.device = "cpu";
  config.data_dir = "/other/copy/of/mnist";
  config.quiet = true;
  EXPECT_EQ(plan_run(config).action, RunAction::kSkip);
}

TEST(RunFolder, ContinueRefusesADifferentRunNamingTheFlags) {
  TempDir temp;
  TrainConfig config = continuing(temp.path() / "run");
  config.epochs = 1;
  write_finished_run(config, "completed", 1);
  TrainConfig other = config;
  other.lr = 0.05;
  const std::string message = usage_error_of(other);
  EXPECT_NE(message.find("holds a different run"), std::string::npos) << message;
  EXPECT_NE(message.find("--lr 0.01 (saved) vs 0.05 (requested)"), std::string::npos) << message;
  // A completed run with more epochs than asked for is not this run either.
  TrainConfig shorter = config;
  write_finished_run(config, "completed", 1);
  shorter.epochs = 1;
  EXPECT_EQ(plan_run(shorter).action, RunAction::kSkip);
  write_finished_run(config, "completed", 2);
  EXPECT_NE(usage_error_of(shorter).find("--epochs"), std::string::npos);
}

TEST(RunFolder, ContinueResumesOrExtendsTheSameRun) {
  TempDir temp;
  TrainConfig config = continuing(temp.path() / "run");
  config.epochs = 4;
  for (const char* status : {"interrupted", "failed", "running"}) {
    write_finished_run(config, status, 2);
    const RunPlan plan = plan_run(config);
    EXPECT_EQ(plan.action, RunAction::kResume) << status;
    EXPECT_EQ(plan.completed_epochs, 2);
  }
  write_finished_run(config, "completed", 2);
  EXPECT_EQ(plan_run(config).action, RunAction::kExtend);
  // Without a checkpoint there is nothing to continue from.
  std::filesystem::remove(temp.path() / "run" / "checkpoint.pt");
  EXPECT_NE(usage_error_of(config).find("no checkpoint.pt"), std::string::npos);
}

TEST(RunFolder, OneCycleEpochsArePartOfTheRun) {
  TempDir temp;
  TrainConfig config = continuing(temp.path() / "run");
  config.schedule.kind = SchedulerKind::kOneCycle;
  config.epochs = 2;
  write_finished_run(config, "completed", 2);
  TrainConfig longer = config;
  longer.epochs = 3;
  EXPECT_NE(usage_error_of(longer).find("one-cycle"), std::string::npos);
}

TEST(RunFolder, ADivergedRunIsNotTrainedAgain) {
  TempDir temp;
  TrainConfig config = continuing(temp.path() / "run");
  write_finished_run(config, "diverged", 1);
  const RunPlan plan = plan_run(config);
  EXPECT_EQ(plan.action, RunAction::kDiverged);
  EXPECT_NE(plan.detail.find("diverged"), std::string::npos);
  config.existing_run = ExistingRunPolicy::kOverwrite;
  EXPECT_EQ(plan_run(config).action, RunAction::kOverwrite);
}

TEST(RunFolder, AnUnreadableRunRecordIsARuntimeErrorNamingIt) {
  TempDir temp;
  const TrainConfig config = continuing(temp.path());
  write_file_atomically(temp.path() / "run.json", "{ not json");
  try {
    plan_run(config);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(error.what()).find("run.json"), std::string::npos);
  }
}

TEST(RunFolder, OverwriteDeletesTheRunsFilesAndNothingElse) {
  TempDir temp;
  for (const char* name : {"run.json", "metrics.csv", "steps.csv", "checkpoint.pt",
                           "checkpoint.pt.tmp", "model.pt", "summary.txt", "misclassified.png"}) {
    write_file_atomically(temp.path() / name, "x");
  }
  write_file_atomically(temp.path() / "my-notes.md", "keep me");
  remove_run_files(temp.path());
  EXPECT_FALSE(holds_run(temp.path()));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(temp.path()),
                          std::filesystem::directory_iterator()),
            1);
  EXPECT_TRUE(std::filesystem::exists(temp.path() / "my-notes.md"));
}

}  // namespace
}  // namespace normtrain
