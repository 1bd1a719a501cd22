#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace normtrain {

// A second thread that runs one task at a time for the thread that owns it, for work split in
// two at a finer grain than a thread pool's wake-up: a training step of a small batch takes
// ~1 ms, and a sleeping thread takes tens of microseconds to wake. So both sides spin for a
// short while (kSpinMicroseconds) before they sleep: a task that follows the last one closely
// starts at once, and an idle helper gives its core back soon.
class HelperThread {
 public:
  HelperThread();
  ~HelperThread();
  HelperThread(const HelperThread&) = delete;
  HelperThread& operator=(const HelperThread&) = delete;

  // Starts `task` on the helper. The previous task must have been waited for.
  void start(std::function<void()> task);
  // Waits until the started task has finished; rethrows what it threw.
  void wait();

  static constexpr int kSpinMicroseconds = 500;

 private:
  enum State : int { kIdle, kStarted, kFinished, kStopping };
  void loop();
  // Waits until `state_` is not `from`; returns the new state.
  State wait_while(State from);
  void set(State to);

  std::atomic<int> state_{kIdle};
  std::atomic<int> sleepers_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::function<void()> task_;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace normtrain
