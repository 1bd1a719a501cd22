#include "normtrain/train/interrupt.hpp"

#include <csignal>

namespace normtrain {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_signal(int signal_number) {
  if (g_interrupted != 0) {
    // Second signal: the user insists. Restore the default action and deliver it again.
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  g_interrupted = 1;
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_interrupted = 0;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

bool interrupt_requested() {
  return g_interrupted != 0;
}

}  // namespace normtrain
