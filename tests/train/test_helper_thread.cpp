#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/train/helper_thread.hpp"

namespace normtrain {
namespace {

TEST(HelperThread, RunsEachTaskOnAnotherThreadAndWaitSeesItsResult) {
  HelperThread helper;
  std::vector<int> results;
  for (int i = 0; i < 1000; ++i) {
    int value = 0;
    std::thread::id ran_on;
    helper.start([&, i] {
      value = i * i;
      ran_on = std::this_thread::get_id();
    });
    helper.wait();
    ASSERT_EQ(value, i * i);
    ASSERT_NE(ran_on, std::this_thread::get_id());
  }
}

TEST(HelperThread, BothThreadsWorkAtOnce) {
  HelperThread helper;
  std::atomic<bool> helper_running{false};
  std::atomic<bool> owner_saw_it{false};
  helper.start([&] {
    helper_running = true;
    // Ends once the owner, still inside its own half, has seen the helper run.
    while (!owner_saw_it) std::this_thread::yield();
  });
  while (!helper_running) std::this_thread::yield();
  owner_saw_it = true;
  helper.wait();
  SUCCEED();
}

// A helper left idle past its spin sleeps; a task wakes it.
TEST(HelperThread, WakesAfterSleeping) {
  HelperThread helper;
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(HelperThread::kSpinMicroseconds * 4));
    bool ran = false;
    helper.start([&] { ran = true; });
    // The owner too outwaits its spin here.
    helper.wait();
    EXPECT_TRUE(ran);
  }
  bool ran = false;
  helper.start([&] {
    std::this_thread::sleep_for(std::chrono::microseconds(HelperThread::kSpinMicroseconds * 4));
    ran = true;
  });
  helper.wait();
  EXPECT_TRUE(ran);
}

TEST(HelperThread, WaitRethrowsTheTasksExceptionAndTheHelperGoesOn) {
  HelperThread helper;
  helper.start([] { throw std::runtime_error("slice failed"); });
  EXPECT_THROW(
      {
        try {
          helper.wait();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "slice failed");
          throw;
        }
      },
      std::runtime_error);
  int value = 0;
  helper.start([&] { value = 7; });
  helper.wait();
  EXPECT_EQ(value, 7);
}

TEST(HelperThread, MisuseIsALogicError) {
  HelperThread helper;
  EXPECT_THROW(helper.wait(), std::logic_error);
  std::atomic<bool> release{false};
  helper.start([&] {
    while (!release) std::this_thread::yield();
  });
  EXPECT_THROW(helper.start([] {}), std::logic_error);
  release = true;
  helper.wait();
}

// Destroyed while a task runs (its owner unwound past wait()): the task finishes, nothing hangs.
TEST(HelperThread, DestructionWaitsForARunningTask) {
  std::atomic<bool> finished{false};
  {
    HelperThread helper;
    helper.start([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      finished = true;
    });
  }
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace normtrain
