#include "normtrain/model/layers/pointwise_conv.hpp"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace normtrain {
namespace {

struct PointwiseResult {
  torch::Tensor y, dx, dweight;
};

template <typename Layer>
PointwiseResult run(Layer& layer, const torch::Tensor& x, const torch::Tensor& dy) {
  layer->zero_grad();
  const torch::Tensor xl = x.detach().clone().requires_grad_(true);
  const torch::Tensor y = layer->forward(xl);
  y.backward(dy);
  return {y.detach(), xl.grad(), layer->weight.grad().clone()};
}

// The same layer as Conv2d(in, out, 1) without bias: options, weight and its initialisation.
TEST(PointwiseConv, IsAConv2dWithTheSameWeights) {
  torch::manual_seed(8);
  PointwiseConv2d pointwise(24, 18);
  torch::manual_seed(8);
  torch::nn::Conv2d plain(torch::nn::Conv2dOptions(24, 18, 1).bias(false));
  EXPECT_TRUE(torch::equal(pointwise->weight, plain->weight));
  EXPECT_EQ(pointwise->named_parameters().keys(), (std::vector<std::string>{"weight"}));
  EXPECT_NE(std::shared_ptr<torch::nn::Module>(pointwise.ptr())->as<torch::nn::Conv2d>(), nullptr);
}

// Values and gradients agree with Conv2d's at every batch size and thread count, and bit for bit
// wherever LibTorch itself chooses oneDNN for Conv2d (16 images or more, or two threads).
TEST(PointwiseConv, ComputesWhatConv2dComputes) {
  const int threads_before = at::get_num_threads();
  torch::manual_seed(8);
  PointwiseConv2d pointwise(24, 18);
  torch::nn::Conv2d plain(torch::nn::Conv2dOptions(24, 18, 1).bias(false));
  {
    torch::NoGradGuard no_grad;
    plain->weight.copy_(pointwise->weight);
  }
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    for (std::int64_t batch : {1, 2, 8, 16, 32}) {
      for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
        const torch::Tensor x = torch::randn({batch, 24, 12, 12}).contiguous(format);
        const torch::Tensor dy = torch::randn({batch, 18, 12, 12});
        const PointwiseResult a = run(pointwise, x, dy);
        const PointwiseResult b = run(plain, x, dy);
        const bool same_backend = batch >= 16 || threads > 1 || batch == 1;
        for (const auto& [actual, expected] :
             {std::pair{a.y, b.y}, std::pair{a.dx, b.dx}, std::pair{a.dweight, b.dweight}}) {
          if (same_backend) {
            EXPECT_TRUE(torch::equal(actual, expected)) << batch << " images, " << threads;
          } else {
            EXPECT_TRUE(torch::allclose(actual, expected, 1e-4, 1e-4))
                << batch << " images, " << threads
                << " thread: " << (actual - expected).abs().max().item<float>();
          }
        }
      }
    }
  }
  at::set_num_threads(threads_before);
}

}  // namespace
}  // namespace normtrain
