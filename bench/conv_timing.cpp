// How fast are LibTorch's CPU convolutions on this network's layers? Times each convolution's
// forward and its backward (input and weight gradients; the first layer's input needs none) on
// channels-last tensors, as the fused model runs them, and prints milliseconds and the
// arithmetic rate (GFLOP/s: 2 per multiply-add). Medians of --reps calls after warm-up.
// Usage: normtrain_conv_timing [--threads N] [--batch-sizes LIST] [--reps N]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include "normtrain/model/architecture.hpp"
#include "normtrain/model/kernels/single_channel_conv.hpp"

namespace {

struct ConvLayer {
  std::string name;
  std::int64_t in_channels, out_channels, kernel, input_size;
};

// The network's convolutions in order (see NormNetImpl), with the size of their square input.
std::vector<ConvLayer> network_convolutions() {
  const auto& c = normtrain::kNormalizedBlockChannels;
  const std::int64_t t = normtrain::kTransitionChannels;
  return {{"block1 3x3", 1, c[0], 3, 28},     {"block2 3x3", c[0], c[1], 3, 26},
          {"transition 1x1", c[1], t, 1, 24}, {"block3 3x3", t, c[2], 3, 12},
          {"block4 3x3", c[2], c[3], 3, 10},  {"block5 3x3", c[3], c[4], 3, 8},
          {"head 1x1", c[4], 10, 1, 1}};
}

template <typename F>
double median_ms(int reps, F f) {
  std::vector<double> ms;
  for (int r = 0; r < reps + 5; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    const std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    if (r >= 5) ms.push_back(elapsed.count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  int reps = 50;
  std::vector<std::int64_t> batch_sizes = {8, 128};
  CLI::App app{"Time LibTorch's CPU convolutions on the network's layers, and normtrain's own"};
  app.add_option("--threads", threads)->check(CLI::PositiveNumber);
  app.add_option("--batch-sizes", batch_sizes)->delimiter(',')->check(CLI::PositiveNumber);
  app.add_option("--reps", reps)->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  fmt::print("LibTorch {}, {} thread(s), channels-last, median of {} calls\n", TORCH_VERSION,
             threads, reps);
  fmt::print("{:>5}  {:<15} {:>9} {:>8} {:>9} {:>8}\n", "batch", "layer", "fwd ms", "GFLOP/s",
             "bwd ms", "GFLOP/s");
  for (const std::int64_t batch : batch_sizes) {
    for (const ConvLayer& layer : network_convolutions()) {
      const auto channels_last = at::MemoryFormat::ChannelsLast;
      const torch::Tensor x =
          torch::randn({batch, layer.in_channels, layer.input_size, layer.input_size})
              .contiguous(channels_last);
      const torch::Tensor w =
          torch::randn({layer.out_channels, layer.in_channels, layer.kernel, layer.kernel})
              .contiguous(channels_last);
      // 1x1 convolutions run dilated, as PointwiseConv2d runs them (the same result).
      const std::int64_t dilation = layer.kernel == 1 ? 2 : 1;
      const std::vector<std::int64_t> ones = {1, 1};
      const std::vector<std::int64_t> zeros = {0, 0};
      const std::vector<std::int64_t> dilations = {dilation, dilation};
      const torch::Tensor y = at::conv2d(x, w, {}, ones, zeros, dilations);
      const torch::Tensor dy = torch::randn_like(y).contiguous(channels_last);
      const bool input_gradient = layer.in_channels > 1;
      const double forward = median_ms(reps, [&] { at::conv2d(x, w, {}, ones, zeros, dilations); });
      const double backward = median_ms(reps, [&] {
        at::convolution_backward(dy, x, w, c10::nullopt, ones, zeros, dilations, false, zeros, 1,
                                 {input_gradient, true, false});
      });
      const double flop =
          2.0 * static_cast<double>(y.numel() * layer.in_channels * layer.kernel * layer.kernel);
      fmt::print("{:>5}  {:<15} {:>9.3f} {:>8.1f} {:>9.3f} {:>8.1f}\n", batch, layer.name, forward,
                 flop / forward / 1e6, backward, (input_gradient ? 2 : 1) * flop / backward / 1e6);
      if (layer.in_channels != 1) continue;
      // The fused model's own kernel for this layer, its backward through autograd as in training.
      const double own_forward =
          median_ms(reps, [&] { normtrain::single_channel_conv3x3(x, w.contiguous()); });
      torch::AutoGradMode with_gradients(true);
      const torch::Tensor trained = w.contiguous().requires_grad_(true);
      const torch::Tensor own_y = normtrain::single_channel_conv3x3(x, trained);
      const double own_backward = median_ms(
          reps, [&] { torch::autograd::grad({own_y}, {trained}, {dy}, /*retain_graph=*/true); });
      fmt::print("{:>5}  {:<15} {:>9.3f} {:>8.1f} {:>9.3f} {:>8.1f}\n", batch, "  normtrain's",
                 own_forward, flop / own_forward / 1e6, own_backward, flop / own_backward / 1e6);
    }
  }
  return 0;
}
