#include "normtrain/model/kernels/kernel_threads.hpp"

#include <gtest/gtest.h>

#include <ATen/Parallel.h>

namespace normtrain {
namespace {

// Sets LibTorch's intra-op thread count for one test and restores it afterwards.
class KernelThreads : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fused_kernels_are_parallel()) {
      GTEST_SKIP()
          << "this build has no OpenMP (CMake warned): the fused kernels run on one thread";
    }
  }
  void TearDown() override { at::set_num_threads(before_); }

 private:
  int before_ = at::get_num_threads();
};

TEST_F(KernelThreads, SplitABatchOverLibTorchsThreads) {
  // Two threads even on a one-core machine: OpenMP starts as many as it is asked for.
  at::set_num_threads(2);
  EXPECT_EQ(fused_kernel_threads(64), 2);
}

TEST_F(KernelThreads, ObeyOneThread) {
  // A second OpenMP runtime, not LibTorch's, would ignore this and use every core.
  at::set_num_threads(2);
  ASSERT_EQ(fused_kernel_threads(64), 2);
  at::set_num_threads(1);
  EXPECT_EQ(fused_kernel_threads(64), 1);
}

TEST_F(KernelThreads, UseNoMoreThreadsThanExamples) {
  at::set_num_threads(2);
  EXPECT_EQ(fused_kernel_threads(1), 1);
}

}  // namespace
}  // namespace normtrain
