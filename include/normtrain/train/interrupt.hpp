#pragma once

namespace normtrain {

// While an InterruptGuard lives, SIGINT and SIGTERM do not kill the process: they set a flag
// that the training loop reads after each batch, so that it can stop cleanly with every
// finished epoch saved. A second signal ends the process at once, as usual.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

bool interrupt_requested();

}  // namespace normtrain
