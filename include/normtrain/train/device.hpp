#pragma once

#include <future>
#include <string>

#include <torch/torch.h>

namespace normtrain {

// Turns a --device value (auto, cpu, cuda, cuda:N) into a device. Throws a runtime Error when
// CUDA is asked for and this build or machine has none.
torch::Device resolve_device(const std::string& spec);

// Starts `device`'s runtime in the background, so that the caller can read its data meanwhile:
// on a GPU the CUDA context and cuDNN, which take hundreds of milliseconds at first use. get()
// waits for it and rethrows its error; for the CPU the result is ready at once.
std::future<void> start_device(const torch::Device& device);

// Sets LibTorch's CPU thread count (0: every core; Debian's LibTorch otherwise uses one) and
// returns the count in use.
int apply_thread_count(int requested);

// LibTorch's CPU thread count set to `threads` for this object's lifetime, then back to what it
// was.
class ScopedThreadCount {
 public:
  explicit ScopedThreadCount(int threads);
  ~ScopedThreadCount();
  ScopedThreadCount(const ScopedThreadCount&) = delete;
  ScopedThreadCount& operator=(const ScopedThreadCount&) = delete;

 private:
  int before_;
};

}  // namespace normtrain
