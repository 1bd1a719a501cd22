#include "normtrain/commands/sweep/grid.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

using Words = std::vector<std::string>;

std::vector<GridPoint> expand(const Words& words) {
  return expand_grids(parse_grids(words));
}

std::vector<Words> flags_of(const std::vector<GridPoint>& points) {
  std::vector<Words> flags;
  for (const GridPoint& point : points) flags.push_back(point.flags);
  return flags;
}

std::string grid_usage_error_of(const Words& words) {
  try {
    expand(words);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "no usage error";
  return {};
}

TEST(SweepGrid, ValuesSplitAtCommasFirstFlagOutermost) {
  const std::vector<Grid> grids = parse_grids({"--norm", "ln,gn", "--seed=1,2", "--no-download"});
  ASSERT_EQ(grids.size(), 1u);
  ASSERT_EQ(grids[0].size(), 3u);
  EXPECT_EQ(grids[0][1].flag, "--seed");
  EXPECT_EQ(grids[0][1].values, (Words{"1", "2"}));
  EXPECT_TRUE(grids[0][2].values.empty());
  EXPECT_EQ(flags_of(expand({"--norm", "ln,gn", "--seed", "1,2"})),
            (std::vector<Words>{{"--norm", "ln", "--seed", "1"},
                                {"--norm", "ln", "--seed", "2"},
                                {"--norm", "gn", "--seed", "1"},
                                {"--norm", "gn", "--seed", "2"}}));
}

TEST(SweepGrid, AFlagWhoseValueIsAListTakesItWhole) {
  const std::vector<GridPoint> points =
      expand({"--norm", "bn,gn", "--groups", "8", "--landscape-every", "100", "--landscape-steps",
              "0.5,1,2", "--seed", "1,2"});
  ASSERT_EQ(points.size(), 4u);
  for (const GridPoint& point : points) {
    EXPECT_EQ(point.config.landscape_steps, (std::vector<double>{0.5, 1.0, 2.0}));
    EXPECT_EQ(point.config.landscape_every, 100);
  }
  // Without the flag it needs, normtrain's reason.
  EXPECT_NE(grid_usage_error_of({"--landscape-steps", "1,2"}).find("--landscape-every"),
            std::string::npos);
}

TEST(SweepGrid, EachRunIsReadByNormtrainsOwnParsing) {
  const std::vector<GridPoint> points = expand({"--norm", "gn", "--groups", "4", "--l1", "1e-2"});
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].config.norm, NormKind::kGroup);
  EXPECT_EQ(points[0].config.groups, 4);
  EXPECT_DOUBLE_EQ(points[0].config.l1, 0.01);
}

TEST(SweepGrid, GroupsGoOnlyToGroupNormRunsAndDuplicatesRunOnce) {
  // 3 norms x 2 group counts would be 6 runs; --groups applies to gn only, so 4.
  EXPECT_EQ(flags_of(expand({"--norm", "bn,ln,gn", "--groups", "2,8", "--seed", "1"})),
            (std::vector<Words>{{"--norm", "bn", "--seed", "1"},
                                {"--norm", "ln", "--seed", "1"},
                                {"--norm", "gn", "--groups", "2", "--seed", "1"},
                                {"--norm", "gn", "--groups", "8", "--seed", "1"}}));
}

TEST(SweepGrid, ScheduleFlagsGoOnlyToTheirSchedule) {
  const std::vector<GridPoint> points = expand({"--scheduler", "none,step,onecycle", "--gamma",
                                                "0.1,0.5", "--max-lr", "0.1", "--lr", "0.05"});
  EXPECT_EQ(flags_of(points),
            (std::vector<Words>{{"--scheduler", "none", "--lr", "0.05"},
                                {"--scheduler", "step", "--gamma", "0.1", "--lr", "0.05"},
                                {"--scheduler", "step", "--gamma", "0.5", "--lr", "0.05"},
                                // one-cycle takes its rates from --max-lr: --lr is dropped
                                {"--scheduler", "onecycle", "--max-lr", "0.1"}}));
  EXPECT_DOUBLE_EQ(points[2].config.schedule.gamma, 0.5);
  EXPECT_DOUBLE_EQ(points[3].config.schedule.max_lr, 0.1);
}

TEST(SweepGrid, SeveralGridsJoin) {
  EXPECT_EQ(
      flags_of(expand({"--norm", "bn", "--l1", "0.01", "--", "--norm", "ln,bn", "--", "--norm",
                       "bn", "--l1", "0.01"})),
      (std::vector<Words>{{"--norm", "bn", "--l1", "0.01"}, {"--norm", "ln"}, {"--norm", "bn"}}));
}

TEST(SweepGrid, ANegativeValueStaysAValue) {
  EXPECT_NE(grid_usage_error_of({"--l1", "-1"}).find("--l1 must be 0 or more"), std::string::npos);
}

TEST(SweepGrid, RefusesWhatNormtrainRefusesNamingTheRun) {
  const std::string message = grid_usage_error_of({"--norm", "gn", "--groups", "2,3"});
  EXPECT_NE(message.find("'--norm gn --groups 3'"), std::string::npos) << message;
  EXPECT_NE(message.find("--groups 3 does not divide"), std::string::npos) << message;
  EXPECT_NE(grid_usage_error_of({"--norm", "ln,xn"}).find("--norm"), std::string::npos);
  EXPECT_NE(grid_usage_error_of({"--seed"}).find("--seed"), std::string::npos);
}

TEST(SweepGrid, AFlagThatAppliesToNoRunIsRefusedWithNormtrainsReason) {
  const std::string message = grid_usage_error_of({"--norm", "bn,ln", "--groups", "8"});
  EXPECT_NE(message.find("--groups applies to none of the runs"), std::string::npos) << message;
  EXPECT_NE(message.find("--norm gn"), std::string::npos) << message;  // normtrain's reason
  EXPECT_NE(grid_usage_error_of({"--scheduler", "onecycle", "--lr", "0.1"}).find("--lr"),
            std::string::npos);
}

TEST(SweepGrid, AFlagOutsideTheIdentityGoesOnlyToTheRunsThatTakeIt) {
  // --precise-bn changes no result, so it is not an identity flag; only bn and brn take it.
  EXPECT_EQ(flags_of(expand({"--norm", "bn,gn", "--groups", "8", "--precise-bn", "256,512"})),
            (std::vector<Words>{{"--norm", "bn", "--precise-bn", "256"},
                                {"--norm", "bn", "--precise-bn", "512"},
                                {"--norm", "gn", "--groups", "8"}}));
  const std::vector<GridPoint> points = expand({"--norm", "brn,ln", "--precise-bn", "256"});
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].config.precise_bn, 256);
  EXPECT_EQ(points[1].config.precise_bn, 0);
}

TEST(SweepGrid, AValueOfAFlagOutsideTheIdentityThatNoRunTakesIsRefused) {
  std::string message = grid_usage_error_of({"--norm", "gn", "--precise-bn", "256"});
  EXPECT_NE(message.find("--precise-bn 256 applies to none of the runs"), std::string::npos)
      << message;
  EXPECT_NE(message.find("running statistics"), std::string::npos) << message;
  // Not a run without it: a value that is wrong for every run.
  message = grid_usage_error_of({"--norm", "bn,gn", "--precise-bn", "256,-5"});
  EXPECT_NE(message.find("'--norm bn --precise-bn=-5': --precise-bn must be"), std::string::npos)
      << message;
}

TEST(SweepGrid, RefusesMalformedGrids) {
  const auto grid_error = [](const Words& words) {
    try {
      parse_grids(words);
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kUsage);
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(grid_error({}).find("empty grid"), std::string::npos);
  EXPECT_NE(grid_error({"--norm", "ln", "--"}).find("empty grid"), std::string::npos);
  EXPECT_NE(grid_error({"ln"}).find("'ln' is not a --flag"), std::string::npos);
  EXPECT_NE(grid_error({"--seed", ""}).find("--seed has an empty value"), std::string::npos);
  EXPECT_NE(grid_error({"--seed", "1,,2"}).find("--seed has an empty value in '1,,2'"),
            std::string::npos);
  EXPECT_NE(grid_error({"--seed", "1", "--seed", "2"}).find("--seed is given twice"),
            std::string::npos);
  EXPECT_NE(grid_error({"--out", "x"}).find("--out is set by the sweep"), std::string::npos);
  EXPECT_NE(grid_error({"--continue"}).find("--continue is set by the sweep"), std::string::npos);
  EXPECT_NE(grid_error({"--dry-run"}).find("the sweep's option"), std::string::npos);
  EXPECT_NE(grid_error({"--verify-data"}).find("does not train"), std::string::npos);
}

}  // namespace
}  // namespace normtrain
