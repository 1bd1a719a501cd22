#include "normtrain/metrics_csv.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::read_text;
using testing::TempDir;

EpochMetrics sample_epoch(int epoch) {
  EpochMetrics m;
  m.epoch = epoch;
  m.train_loss = 0.25;
  m.train_acc = 92.5;
  m.test_loss = 0.0712345678;
  m.test_acc = 97.41;
  m.lr = 0.01;
  m.train_seconds = 12.3456;
  m.test_seconds = 0.5;
  m.train_nll = 0.2;
  return m;
}

TEST(MetricsCsv, HeaderIsTheContract) {
  EXPECT_EQ(
      std::string(kMetricsCsvHeader)
          .rfind("epoch,train_loss,train_acc,test_loss,test_acc,lr,train_seconds,test_seconds", 0),
      0u);
  EXPECT_STREQ(kStepsCsvHeader, "step,epoch,batch,loss,train_acc");
}

TEST(MetricsCsv, RowFormat) {
  EXPECT_EQ(format_metrics_row(sample_epoch(3)),
            "3,0.250000,92.5000,0.071235,97.4100,0.01,12.346,0.500,0.200000");
  EXPECT_EQ(format_steps_row({470, 2, 1, 0.5, 87.5}), "470,2,1,0.500000,87.5000");
}

TEST(MetricsCsv, WritesAndFlushesEachEpoch) {
  TempDir dir;
  MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kCreate);
  writer.on_epoch_end(sample_epoch(1), {{1, 1, 1, 2.3, 10.0}, {2, 1, 2, 2.1, 12.5}});
  // Read while the writer is still open: rows must already be on disk.
  EXPECT_EQ(read_text(dir.path() / "metrics.csv"),
            std::string(kMetricsCsvHeader) + "\n" + format_metrics_row(sample_epoch(1)) + "\n");
  EXPECT_EQ(read_text(dir.path() / "steps.csv"),
            "step,epoch,batch,loss,train_acc\n1,1,1,2.300000,10.0000\n2,1,2,2.100000,12.5000\n");
}

TEST(MetricsCsv, AppendModeContinuesExistingFiles) {
  TempDir dir;
  {
    MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kCreate);
    writer.on_epoch_end(sample_epoch(1), {});
  }
  {
    MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kAppend);
    writer.on_epoch_end(sample_epoch(2), {});
  }
  EXPECT_EQ(read_text(dir.path() / "metrics.csv"), std::string(kMetricsCsvHeader) + "\n" +
                                                       format_metrics_row(sample_epoch(1)) + "\n" +
                                                       format_metrics_row(sample_epoch(2)) + "\n");
}

TEST(MetricsCsv, ReadsBackWhatItWrote) {
  TempDir dir;
  {
    MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kCreate);
    writer.on_epoch_end(sample_epoch(1), {});
    writer.on_epoch_end(sample_epoch(2), {});
  }
  const std::vector<EpochMetrics> rows = read_metrics_csv(dir.path() / "metrics.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].epoch, 2);
  EXPECT_DOUBLE_EQ(rows[1].test_acc, 97.41);
  EXPECT_DOUBLE_EQ(rows[1].train_loss, 0.25);
  EXPECT_THROW(read_metrics_csv(dir.path() / "steps.csv"), std::runtime_error);
}

TEST(MetricsCsv, TruncateDropsEpochsPastTheCheckpoint) {
  TempDir dir;
  {
    MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kCreate);
    for (int epoch = 1; epoch <= 3; ++epoch) {
      writer.on_epoch_end(sample_epoch(epoch), {{epoch * 10, epoch, 1, 1.0, 50.0}});
    }
  }
  truncate_run_csvs(dir.path(), 2);
  EXPECT_EQ(read_metrics_csv(dir.path() / "metrics.csv").size(), 2u);
  EXPECT_EQ(read_text(dir.path() / "steps.csv"),
            "step,epoch,batch,loss,train_acc\n10,1,1,1.000000,50.0000\n20,2,1,1.000000,50.0000\n");
}

TEST(MetricsCsv, UnwritableFolderIsARuntimeError) {
  EXPECT_THROW(MetricsCsvWriter("/nonexistent/normtrain", MetricsCsvWriter::Mode::kCreate),
               std::runtime_error);
}

}  // namespace
}  // namespace normtrain
