#include "normtrain/train/helper_thread.hpp"

#include <chrono>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace normtrain {
namespace {

// Tells the core that this is a spin-wait (lets a sibling hyperthread run, saves power).
void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

}  // namespace

HelperThread::HelperThread() : thread_([this] { loop(); }) {}

HelperThread::~HelperThread() {
  // A task still running (its owner unwound past wait()) finishes first.
  if (state_.load() == kStarted) wait_while(kStarted);
  set(kStopping);
  thread_.join();
}

void HelperThread::start(std::function<void()> task) {
  if (state_.load() != kIdle) throw std::logic_error("HelperThread::start: a task is running");
  task_ = std::move(task);
  error_ = nullptr;
  set(kStarted);
}

void HelperThread::wait() {
  if (wait_while(kStarted) != kFinished) throw std::logic_error("HelperThread::wait: no task");
  task_ = nullptr;
  set(kIdle);
  if (error_) std::rethrow_exception(error_);
}

void HelperThread::loop() {
  for (;;) {
    const State state = wait_while(kIdle);
    if (state == kStopping) return;
    if (state != kStarted) continue;  // kFinished: the owner has not collected it yet
    try {
      task_();
    } catch (...) {
      error_ = std::current_exception();
    }
    set(kFinished);
    // Until the owner collects the result (state back to kIdle) or stops the helper.
    if (wait_while(kFinished) == kStopping) return;
  }
}

HelperThread::State HelperThread::wait_while(State from) {
  using Clock = std::chrono::steady_clock;
  const auto spin_until = Clock::now() + std::chrono::microseconds(kSpinMicroseconds);
  for (int i = 0;; ++i) {
    const int state = state_.load();
    if (state != from) return static_cast<State>(state);
    // The clock is read every 64 polls: a read costs more than a poll.
    if (i % 64 == 63 && Clock::now() > spin_until) break;
    cpu_relax();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  ++sleepers_;
  changed_.wait(lock, [&] { return state_.load() != from; });
  --sleepers_;
  return static_cast<State>(state_.load());
}

void HelperThread::set(State to) {
  state_.store(to);
  // A sleeper counted before the store is woken; one that counts itself after it sees the new
  // state in its wait predicate, under the mutex, and does not sleep.
  if (sleepers_.load() > 0) {
    const std::lock_guard<std::mutex> lock(mutex_);
    changed_.notify_all();
  }
}

}  // namespace normtrain
