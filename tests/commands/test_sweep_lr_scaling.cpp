#include "normtrain/commands/sweep/lr_scaling.hpp"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/commands/sweep/run_naming.hpp"
#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

using Words = std::vector<std::string>;

std::vector<GridPoint> scaled(const Words& grid, int reference_batch = 128) {
  std::vector<GridPoint> points = expand_grids(parse_grids(grid));
  scale_learning_rates(points, LrScaling{LrScalingKind::kLinear, reference_batch});
  return points;
}

TEST(SweepLrScaling, LinearScalingGivesEachBatchSizeItsShareOfTheReferenceRate) {
  const std::vector<GridPoint> points =
      scaled({"--norm", "gn", "--batch-size", "2,4,8,16,32,64,128", "--lr", "0.01"});
  ASSERT_EQ(points.size(), 7u);
  const std::vector<std::string> expected = {"0.00015625", "0.0003125", "0.000625", "0.00125",
                                             "0.0025",     "0.005",     "0.01"};
  for (std::size_t i = 0; i < points.size(); ++i) {
    const int batch = points[i].config.batch_size;
    EXPECT_DOUBLE_EQ(points[i].config.lr, 0.01 * batch / 128) << batch;
    // The value is written where the grid had it, as the shortest decimal of the double.
    EXPECT_EQ(points[i].flags,
              (Words{"--norm", "gn", "--batch-size", std::to_string(batch), "--lr", expected[i]}));
  }
}

TEST(SweepLrScaling, WithoutAnLrTheDefaultRateIsScaledAndAppended) {
  const std::vector<GridPoint> points = scaled({"--batch-size", "32"});
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].flags, (Words{"--batch-size", "32", "--lr", "0.0025"}));
  EXPECT_DOUBLE_EQ(points[0].config.lr, 0.0025);
  // A batch size that is not a power of two, against another reference.
  const std::vector<GridPoint> odd = scaled({"--batch-size", "3", "--lr=0.1"}, 64);
  EXPECT_EQ(odd[0].flags, (Words{"--batch-size", "3", "--lr", "0.0046875"}));
  EXPECT_DOUBLE_EQ(odd[0].config.lr, 0.1 * 3 / 64);
}

TEST(SweepLrScaling, OneCycleScalesItsPeakRate) {
  const std::vector<GridPoint> points =
      scaled({"--scheduler", "onecycle", "--max-lr", "0.1", "--batch-size", "64"});
  ASSERT_EQ(points.size(), 1u);
  EXPECT_DOUBLE_EQ(points[0].config.schedule.max_lr, 0.05);
  for (const std::string& word : points[0].flags) EXPECT_NE(word, "--lr");
}

TEST(SweepLrScaling, NoneLeavesTheGridAlone) {
  std::vector<GridPoint> points = expand_grids(parse_grids({"--batch-size", "2,8", "--lr", "0.3"}));
  const std::vector<GridPoint> before = points;
  scale_learning_rates(points, LrScaling{});
  for (std::size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(points[i].flags, before[i].flags);
    EXPECT_DOUBLE_EQ(points[i].config.lr, 0.3);
  }
}

TEST(SweepLrScaling, RefusesABadReference) {
  std::vector<GridPoint> points = expand_grids(parse_grids({"--batch-size", "2"}));
  EXPECT_THROW(scale_learning_rates(points, LrScaling{LrScalingKind::kLinear, 0}), Error);
  EXPECT_EQ(lr_scaling_from_flag("linear"), LrScalingKind::kLinear);
  EXPECT_EQ(lr_scaling_from_flag("none"), LrScalingKind::kNone);
  EXPECT_FALSE(lr_scaling_from_flag("sqrt").has_value());
}

// The batch-size study of issue #16: six normalizations, batch sizes 2 to 128, the rate 0.01 of
// batch 128 scaled linearly; two grids, since weight standardization is a flag without values.
TEST(SweepLrScaling, TheBatchSizeStudyIsOneSweep) {
  const Words batches = {"--batch-size", "2,4,8,16,32,64,128"};
  Words grid = {"--norm", "bn,brn,gn,ln,frn", "--groups", "8"};
  grid.insert(grid.end(), batches.begin(), batches.end());
  grid.push_back("--");
  for (const char* word : {"--norm", "gn", "--groups", "8", "--weight-standardization"}) {
    grid.push_back(word);
  }
  grid.insert(grid.end(), batches.begin(), batches.end());
  std::vector<GridPoint> points = expand_grids(parse_grids(grid));
  scale_learning_rates(points, LrScaling{LrScalingKind::kLinear, 128});
  ASSERT_EQ(points.size(), 42u);
  const std::vector<SweepRun> runs =
      name_runs(points, "runs/batch-study", FolderNames::kVaryingFlags);
  std::set<std::string> names;
  for (const SweepRun& run : runs) {
    names.insert(run.name);
    EXPECT_DOUBLE_EQ(run.config.lr, 0.01 * run.config.batch_size / 128) << run.name;
    // The norms without fused kernels run the stock operators; the others the fused ones.
    EXPECT_EQ(run.config.fused_kernels, has_fused_kernels(run.config.norm)) << run.name;
  }
  EXPECT_EQ(names.size(), 42u);
  for (const char* name : {"bn_batch-size-2_lr-0.00015625", "brn_batch-size-128_lr-0.01",
                           "gn-8_batch-size-8_lr-0.000625", "gn-8-ws_batch-size-2_lr-0.00015625",
                           "ln_batch-size-64_lr-0.005", "frn_batch-size-16_lr-0.00125"}) {
    EXPECT_EQ(names.count(name), 1u) << name;
  }
}

}  // namespace
}  // namespace normtrain
