#include "normtrain/train/thread_plan.hpp"

#include <gtest/gtest.h>

namespace normtrain {
namespace {

TEST(ThreadPlan, SmallBatchesTrainOnOneThread) {
  for (const std::int64_t batch : {1, 2, 8, 15}) {
    EXPECT_EQ(training_thread_count(batch, 2), 1) << batch;
  }
}

TEST(ThreadPlan, EveryThreadGetsAtLeastEightImages) {
  EXPECT_EQ(training_thread_count(16, 2), 2);
  EXPECT_EQ(training_thread_count(31, 4), 3);
  EXPECT_EQ(training_thread_count(64, 16), 8);
  EXPECT_EQ(training_thread_count(128, 16), 16);
  EXPECT_EQ(training_thread_count(2048, 16), 16);
}

TEST(ThreadPlan, NeverMoreThanAllowedNorFewerThanOne) {
  EXPECT_EQ(training_thread_count(128, 2), 2);
  EXPECT_EQ(training_thread_count(128, 1), 1);
  EXPECT_EQ(training_thread_count(128, 0), 1);
  EXPECT_EQ(training_thread_count(0, 4), 1);
}

TEST(ThreadPlan, SmallPerExampleBatchesTrainInTwoSlices) {
  for (const std::int64_t batch : {2, 3, 8, 15, 16}) {
    EXPECT_EQ(training_slice_count(batch, 2, true), 2) << batch;
    EXPECT_EQ(training_slice_count(batch, 16, true), 2) << batch;
  }
}

TEST(ThreadPlan, NoSlicesForLargeBatchesOneThreadOrBatchStatistics) {
  EXPECT_EQ(training_slice_count(kMaxImagesForSlicedSteps + 1, 2, true), 1);
  EXPECT_EQ(training_slice_count(128, 2, true), 1);
  EXPECT_EQ(training_slice_count(1, 2, true), 1);
  EXPECT_EQ(training_slice_count(8, 1, true), 1);
  EXPECT_EQ(training_slice_count(8, 0, true), 1);
  EXPECT_EQ(training_slice_count(8, 2, false), 1);
}

}  // namespace
}  // namespace normtrain
