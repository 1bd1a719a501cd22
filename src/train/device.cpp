#include "normtrain/train/device.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "normtrain/common/error.hpp"

namespace normtrain {

torch::Device resolve_device(const std::string& spec) {
  if (spec == "cpu") return torch::kCPU;
  const bool cuda_available = torch::cuda::is_available();
  if (spec == "auto") return cuda_available ? torch::Device(torch::kCUDA, 0) : torch::kCPU;
  if (!cuda_available) {
    throw RuntimeError(fmt::format(
        "--device {}: this build of LibTorch has no CUDA support or no CUDA GPU is visible; use "
        "--device cpu, or build against a CUDA-enabled LibTorch (see README)",
        spec));
  }
  const torch::Device device(spec);
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (device.has_index() && device.index() >= count) {
    throw RuntimeError(
        fmt::format("--device {}: this machine has {} CUDA device{} (cuda:0 to "
                    "cuda:{})",
                    spec, count, count == 1 ? "" : "s", count - 1));
  }
  return device.has_index() ? device : torch::Device(torch::kCUDA, 0);
}

std::future<void> start_device(const torch::Device& device) {
  if (!device.is_cuda()) return std::async(std::launch::deferred, [] {});
  return std::async(std::launch::async, [device] {
    const torch::NoGradGuard no_grad;
    // A convolution loads cuDNN and makes its handle, as the first training step would; .cpu()
    // waits for the device.
    const torch::Tensor image = torch::zeros({1, 1, 3, 3}, torch::TensorOptions(device));
    torch::conv2d(image, image).cpu();
  });
}

int apply_thread_count(int requested) {
  const int threads = requested > 0
                          ? requested
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return threads;
}

ScopedThreadCount::ScopedThreadCount(int threads) : before_(torch::get_num_threads()) {
  if (threads != before_) torch::set_num_threads(threads);
}

ScopedThreadCount::~ScopedThreadCount() {
  if (torch::get_num_threads() != before_) torch::set_num_threads(before_);
}

}  // namespace normtrain
