#include "normtrain/report/run_record.hpp"

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

namespace fs = std::filesystem;
using testing::expect_mentions;
using testing::runtime_error_of;

EpochMetrics epoch_with(int epoch, double train_acc, double test_acc) {
  EpochMetrics m;
  m.epoch = epoch;
  m.train_acc = train_acc;
  m.test_acc = test_acc;
  m.train_seconds = 2.0;
  return m;
}

TEST(RunRecord, TracksBestAndFinalWithEarliestEpochOnTies) {
  RunRecord record;
  record_epoch(record, epoch_with(1, 90.0, 97.0));
  record_epoch(record, epoch_with(2, 95.0, 98.5));
  record_epoch(record, epoch_with(3, 94.0, 98.5));
  record_epoch(record, epoch_with(4, 96.0, 98.1));
  EXPECT_DOUBLE_EQ(record.best_train_acc, 96.0);
  EXPECT_EQ(record.best_train_epoch, 4);
  EXPECT_DOUBLE_EQ(record.best_test_acc, 98.5);
  EXPECT_EQ(record.best_test_epoch, 2);
  EXPECT_DOUBLE_EQ(record.final_test_acc, 98.1);
  EXPECT_EQ(record.epochs_completed, 4);
  EXPECT_DOUBLE_EQ(record.train_seconds, 8.0);
}

TEST(RunRecord, RecorderKeepsRunJsonCurrent) {
  testing::TempDir dir;
  RunRecord record;
  record.config.norm = NormKind::kGroup;
  record.variant = "gn-8";
  RunRecorder recorder(dir.path() / "run.json", record);
  std::string text = testing::read_text(dir.path() / "run.json");
  EXPECT_NE(text.find("\"status\": \"running\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"groups\": 8"), std::string::npos) << text;

  recorder.on_epoch_end(epoch_with(1, 91.0, 97.5), {});
  recorder.finish("completed");
  text = testing::read_text(dir.path() / "run.json");
  EXPECT_NE(text.find("\"status\": \"completed\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"best_test_acc\": 97.5"), std::string::npos) << text;
  EXPECT_NE(text.find("\"best_test_epoch\": 1"), std::string::npos) << text;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "run.json.tmp"));
}

TEST(RunRecord, AFullDiskIsAnErrorAndKeepsThePreviousRunJson) {
  testing::TempDir dir;
  const fs::path path = dir.path() / "run.json";
  const RunRecord record;  // named: GCC 12 misreads a temporary's vector as uninitialized
  RunRecorder recorder(path, record);
  const std::string before = testing::read_text(path);
  // The temporary beside run.json leads to /dev/full, where writes fail with ENOSPC.
  fs::create_symlink("/dev/full", dir.path() / "run.json.tmp");
  const std::string message =
      runtime_error_of([&] { recorder.on_epoch_end(epoch_with(1, 91.0, 97.5), {}); });
  expect_mentions(message, path.string());
  expect_mentions(message, "No space left on device");
  EXPECT_EQ(testing::read_text(path), before);
  EXPECT_FALSE(fs::is_symlink(dir.path() / "run.json.tmp"));
}

TEST(RunRecord, ARemovedFolderIsAnError) {
  testing::TempDir parent;
  const fs::path dir = parent.path() / "run";
  fs::create_directory(dir);
  const RunRecord record;
  RunRecorder recorder(dir / "run.json", record);
  fs::remove_all(dir);
  const std::string message = runtime_error_of([&] { recorder.finish("completed"); });
  expect_mentions(message, (dir / "run.json").string());
  expect_mentions(message, "No such file or directory");
}

TEST(RunRecord, AFolderInTheWayOfRunJsonIsAnError) {
  testing::TempDir dir;
  const fs::path path = dir.path() / "run.json";
  fs::create_directories(path / "inside");  // rename cannot replace a non-empty folder
  const std::string message = runtime_error_of([&] { RunRecorder(path, RunRecord{}); });
  expect_mentions(message, path.string());
  EXPECT_FALSE(fs::exists(dir.path() / "run.json.tmp"));
}

}  // namespace
}  // namespace normtrain
