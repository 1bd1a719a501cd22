#include "normtrain/train/landscape.hpp"

#include <gtest/gtest.h>

namespace normtrain {
namespace {

LandscapeProbe probe_with(std::vector<LandscapePoint> points) {
  LandscapeProbe probe;
  probe.loss = 1.0;
  probe.grad_norm = 4.0;
  probe.points = std::move(points);
  return probe;
}

TEST(LandscapeSummary, LossRangeIncludesTheStepsOwnLoss) {
  const LandscapeSummary summary =
      summarize_landscape(probe_with({{0.1, 0.8, 0.5}, {0.2, 0.9, 1.0}}));
  EXPECT_EQ(summary.loss_min, 0.8);
  EXPECT_EQ(summary.loss_max, 1.0);  // the step's own loss
  EXPECT_EQ(summary.max_grad_change, 1.0);
}

TEST(LandscapeSummary, BetaSmoothnessIsTheLargestGradientChangePerDistanceMoved) {
  // Distances |eta g| = 0.4 and 1.6: ratios 0.5 / 0.4 = 1.25 and 1.0 / 1.6 = 0.625.
  const LandscapeSummary summary =
      summarize_landscape(probe_with({{0.1, 0.8, 0.5}, {0.4, 1.5, 1.0}}));
  ASSERT_TRUE(summary.beta_smoothness.has_value());
  EXPECT_DOUBLE_EQ(*summary.beta_smoothness, 1.25);
  EXPECT_EQ(summary.loss_max, 1.5);
}

TEST(LandscapeSummary, NoBetaSmoothnessWithoutAStepAway) {
  EXPECT_FALSE(summarize_landscape(probe_with({{0.0, 1.0, 0.0}})).beta_smoothness.has_value());
  LandscapeProbe flat = probe_with({{0.1, 1.0, 0.0}});
  flat.grad_norm = 0.0;
  EXPECT_FALSE(summarize_landscape(flat).beta_smoothness.has_value());
}

}  // namespace
}  // namespace normtrain
