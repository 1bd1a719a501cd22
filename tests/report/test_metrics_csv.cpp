#include "normtrain/report/metrics_csv.hpp"

#include <csignal>

#include <sys/resource.h>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::read_text;
using testing::TempDir;

namespace fs = std::filesystem;
using testing::expect_mentions;
using testing::runtime_error_of;

// While alive, no file of this process may grow past `bytes` (RLIMIT_FSIZE): a write that
// crosses the limit is cut short and the next fails with EFBIG, as on a full disk.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // else the kernel kills the process
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = SIG_DFL;
};

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
  EXPECT_STREQ(kMetricsCsvHeader,
               "epoch,train_loss,train_acc,test_loss,test_acc,lr,train_seconds,test_seconds,"
               "train_nll,test_loss_precise,test_acc_precise");
  EXPECT_STREQ(kStepsCsvHeader, "step,epoch,batch,loss,train_acc");
  EXPECT_STREQ(kLayersCsvHeader,
               "step,epoch,layer,name,in_mean,in_std,in_zero_frac,out_mean,out_std,weight_norm,"
               "grad_norm,update_ratio,gamma_mean,beta_mean");
}

TEST(MetricsCsv, RowFormat) {
  EXPECT_EQ(format_metrics_row(sample_epoch(3)),
            "3,0.250000,92.5000,0.071235,97.4100,0.01,12.346,0.500,0.200000,,");
  EpochMetrics precise = sample_epoch(3);
  precise.test_loss_precise = 0.05;
  precise.test_acc_precise = 98.125;
  EXPECT_EQ(format_metrics_row(precise),
            "3,0.250000,92.5000,0.071235,97.4100,0.01,12.346,0.500,0.200000,0.050000,98.1250");
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
  EXPECT_FALSE(rows[1].test_acc_precise.has_value());
  EXPECT_THROW(read_metrics_csv(dir.path() / "steps.csv"), std::runtime_error);
}

LayerDiagnostics sample_layer_row(std::int64_t step, int epoch) {
  LayerDiagnostics row;
  row.step = step;
  row.epoch = epoch;
  row.layer = 2;
  row.name = "block2";
  row.in_mean = 0.25;
  row.in_std = 0.5;
  row.in_zero_frac = 0.625;
  row.out_mean = 0.0001234567;
  row.out_std = 1.5;
  row.weight_norm = 3.0;
  row.grad_norm = 0.125;
  row.update_ratio = 0.00042;
  row.gamma_mean = 0.75;
  return row;
}

TEST(MetricsCsv, LayersRowsKeepSixDigitsAndLeaveAbsentAffineMeansEmpty) {
  EXPECT_EQ(format_layers_row(sample_layer_row(41, 1)),
            "41,1,2,block2,0.25,0.5,0.625,0.000123457,1.5,3,0.125,0.00042,0.75,");
}

TEST(MetricsCsv, LayersCsvOnlyWithDiagnosticsAndTruncatedLikeTheOthers) {
  TempDir without;
  { MetricsCsvWriter writer(without.path(), MetricsCsvWriter::Mode::kCreate); }
  EXPECT_FALSE(fs::exists(without.path() / "layers.csv"));
  EXPECT_FALSE(fs::exists(without.path() / "landscape.csv"));
  EXPECT_FALSE(fs::exists(without.path() / "landscape_summary.csv"));

  TempDir dir;
  {
    MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kCreate, OptionalCsvs{true, false});
    for (int epoch = 1; epoch <= 3; ++epoch) {
      writer.on_layer_diagnostics({sample_layer_row(epoch * 10, epoch)});
      writer.on_epoch_end(sample_epoch(epoch), {});
    }
  }
  truncate_run_csvs(dir.path(), 2);
  EXPECT_EQ(read_text(dir.path() / "layers.csv"),
            std::string(kLayersCsvHeader) + "\n" + format_layers_row(sample_layer_row(10, 1)) +
                "\n" + format_layers_row(sample_layer_row(20, 2)) + "\n");
}

LandscapeProbe sample_probe(std::int64_t step, int epoch) {
  LandscapeProbe probe;
  probe.step = step;
  probe.epoch = epoch;
  probe.lr = 0.01;
  probe.loss = 0.5;
  probe.grad_norm = 2.0;
  probe.points = {{0.005, 0.45, 0.25}, {0.02, 0.625, 1.0}};
  return probe;
}

TEST(MetricsCsv, LandscapeRowsOnePerStepSizeAndASummaryRowPerProbe) {
  EXPECT_EQ(format_landscape_rows(sample_probe(41, 1)),
            "41,1,0.005,0.45,0.25\n41,1,0.02,0.625,1\n");
  // Loss range 0.45 to 0.625; beta-smoothness max(0.25 / (0.005 * 2), 1 / (0.02 * 2)) = 25.
  EXPECT_EQ(format_landscape_summary_row(sample_probe(41, 1)),
            "41,1,0.01,0.5,2,0.45,0.625,0.175,1,25");
}

TEST(MetricsCsv, LandscapeCsvsOnlyWithProbesAndTruncatedLikeTheOthers) {
  TempDir dir;
  {
    MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kCreate, OptionalCsvs{false, true});
    for (int epoch = 1; epoch <= 3; ++epoch) {
      writer.on_landscape({sample_probe(epoch * 10, epoch)});
      writer.on_epoch_end(sample_epoch(epoch), {});
    }
  }
  EXPECT_FALSE(fs::exists(dir.path() / "layers.csv"));
  truncate_run_csvs(dir.path(), 2);
  EXPECT_EQ(read_text(dir.path() / "landscape.csv"),
            std::string(kLandscapeCsvHeader) + "\n" + format_landscape_rows(sample_probe(10, 1)) +
                format_landscape_rows(sample_probe(20, 2)));
  EXPECT_EQ(read_text(dir.path() / "landscape_summary.csv"),
            std::string(kLandscapeSummaryCsvHeader) + "\n" +
                format_landscape_summary_row(sample_probe(10, 1)) + "\n" +
                format_landscape_summary_row(sample_probe(20, 2)) + "\n");
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
  const std::string message = runtime_error_of(
      [] { MetricsCsvWriter("/nonexistent/normtrain", MetricsCsvWriter::Mode::kCreate); });
  expect_mentions(message, "/nonexistent/normtrain/metrics.csv");
  expect_mentions(message, "No such file or directory");
}

TEST(MetricsCsv, AFullDiskWhileWritingTheHeaderIsAnError) {
  TempDir dir;
  // Writes to /dev/full fail with ENOSPC, as on a full disk.
  fs::create_symlink("/dev/full", dir.path() / "steps.csv");
  const std::string message =
      runtime_error_of([&] { MetricsCsvWriter(dir.path(), MetricsCsvWriter::Mode::kCreate); });
  expect_mentions(message, (dir.path() / "steps.csv").string());
  expect_mentions(message, "No space left on device");
}

TEST(MetricsCsv, AFullDiskWhileWritingARowIsAnError) {
  TempDir dir;
  { MetricsCsvWriter(dir.path(), MetricsCsvWriter::Mode::kCreate); }
  fs::remove(dir.path() / "metrics.csv");
  fs::create_symlink("/dev/full", dir.path() / "metrics.csv");
  MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kAppend);
  const std::string message = runtime_error_of([&] {
    writer.on_epoch_end(sample_epoch(1), {{1, 1, 1, 2.3, 10.0}});
  });
  expect_mentions(message, (dir.path() / "metrics.csv").string());
  expect_mentions(message, "No space left on device");
}

TEST(MetricsCsv, ARemovedFolderIsAnErrorNotALoss) {
  TempDir parent;
  const fs::path dir = parent.path() / "run";
  fs::create_directory(dir);
  MetricsCsvWriter writer(dir, MetricsCsvWriter::Mode::kCreate);
  writer.on_epoch_end(sample_epoch(1), {{1, 1, 1, 2.3, 10.0}});
  fs::remove_all(dir);  // the open files now lead nowhere; writes to them would vanish
  const std::string message = runtime_error_of([&] {
    writer.on_epoch_end(sample_epoch(2), {{2, 2, 1, 2.0, 20.0}});
  });
  expect_mentions(message, (dir / "steps.csv").string());
  expect_mentions(message, "No such file or directory");
}

TEST(MetricsCsv, ARowThatDoesNotFitIsNotLeftHalfWritten) {
  TempDir dir;
  MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kCreate);
  writer.on_epoch_end(sample_epoch(1), {{1, 1, 1, 2.3, 10.0}});
  const std::string steps_before = read_text(dir.path() / "steps.csv");
  const std::string metrics_before = read_text(dir.path() / "metrics.csv");
  std::string message;
  {
    // Room for a few more bytes of steps.csv, not for a whole row.
    FileSizeLimit limit(steps_before.size() + 10);
    message = runtime_error_of([&] {
      writer.on_epoch_end(sample_epoch(2), {{2, 2, 1, 2.0, 20.0}, {3, 2, 2, 1.9, 21.0}});
    });
  }
  expect_mentions(message, (dir.path() / "steps.csv").string());
  expect_mentions(message, "File too large");
  EXPECT_EQ(read_text(dir.path() / "steps.csv"), steps_before);
  EXPECT_EQ(read_text(dir.path() / "metrics.csv"), metrics_before);
}

TEST(MetricsCsv, TruncatingIntoAFullDiskKeepsTheOldFile) {
  TempDir dir;
  {
    MetricsCsvWriter writer(dir.path(), MetricsCsvWriter::Mode::kCreate);
    for (int epoch = 1; epoch <= 2; ++epoch) writer.on_epoch_end(sample_epoch(epoch), {});
  }
  const std::string before = read_text(dir.path() / "metrics.csv");
  fs::create_symlink("/dev/full", dir.path() / "metrics.csv.tmp");
  const std::string message = runtime_error_of([&] { truncate_run_csvs(dir.path(), 1); });
  expect_mentions(message, (dir.path() / "metrics.csv").string());
  expect_mentions(message, "No space left on device");
  EXPECT_EQ(read_text(dir.path() / "metrics.csv"), before);
  EXPECT_FALSE(fs::is_symlink(dir.path() / "metrics.csv.tmp"));
}

}  // namespace
}  // namespace normtrain
