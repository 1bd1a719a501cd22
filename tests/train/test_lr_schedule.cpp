#include "normtrain/train/lr_schedule.hpp"

#include <gtest/gtest.h>

namespace normtrain {
namespace {

TEST(LrSchedule, NoneKeepsTheBaseRate) {
  const LearningRateSchedule schedule({}, 0.01, 20, 469);
  EXPECT_DOUBLE_EQ(schedule.lr_at(1, 0), 0.01);
  EXPECT_DOUBLE_EQ(schedule.lr_at(20, 468), 0.01);
}

TEST(LrSchedule, StepMatchesPyTorchsStepLR) {
  ScheduleOptions options;
  options.kind = SchedulerKind::kStep;
  options.step_size = 6;
  options.gamma = 0.1;
  const LearningRateSchedule schedule(options, 0.01, 15, 10);
  // torch.optim.lr_scheduler.StepLR(step_size=6, gamma=0.1), lr 0.01, epochs 1..15.
  const double expected[] = {0.01,  0.01,  0.01,  0.01,  0.01,   0.01,   0.001, 0.001,
                             0.001, 0.001, 0.001, 0.001, 0.0001, 0.0001, 0.0001};
  for (int epoch = 1; epoch <= 15; ++epoch) {
    EXPECT_NEAR(schedule.lr_at(epoch, 0), expected[epoch - 1], 1e-15) << epoch;
    EXPECT_NEAR(schedule.lr_at(epoch, 9), expected[epoch - 1], 1e-15) << epoch;
  }
}

TEST(LrSchedule, OneCycleMatchesPyTorchsOneCycleLR) {
  ScheduleOptions options;
  options.kind = SchedulerKind::kOneCycle;
  options.max_lr = 0.1;
  const LearningRateSchedule schedule(options, 0.01, 2, 5);
  // torch.optim.lr_scheduler.OneCycleLR(max_lr=0.1, epochs=2, steps_per_epoch=5), per step.
  const double expected[] = {0.0040000000000000036,
                             0.052000000000000005,
                             0.1,
                             0.09504846320134738,
                             0.0811745653949763,
                             0.06112620219362893,
                             0.03887419780637107,
                             0.0188258346050237,
                             0.004951936798652629,
                             4e-07};
  for (int step = 0; step < 10; ++step) {
    EXPECT_NEAR(schedule.lr_at(1 + step / 5, step % 5), expected[step], 1e-12) << step;
  }
}

TEST(LrSchedule, FlagsRoundTrip) {
  for (SchedulerKind kind :
       {SchedulerKind::kNone, SchedulerKind::kStep, SchedulerKind::kOneCycle}) {
    EXPECT_EQ(scheduler_from_flag(to_flag(kind)), kind);
  }
  EXPECT_FALSE(scheduler_from_flag("cosine").has_value());
}

}  // namespace
}  // namespace normtrain
