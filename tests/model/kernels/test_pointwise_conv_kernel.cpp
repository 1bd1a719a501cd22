#include "normtrain/model/kernels/pointwise_conv_kernel.hpp"

#include <gtest/gtest.h>

namespace normtrain {
namespace {

struct FusedPointwiseResult {
  torch::Tensor output;
  torch::Tensor input_gradient;
  torch::Tensor weight_gradient;
};

// Output and both gradients for a fixed output gradient, by the kernel or by torch::conv2d.
FusedPointwiseResult run_fused_pointwise(const torch::Tensor& x_value,
                                         const torch::Tensor& weight_value,
                                         const torch::Tensor& output_gradient, bool kernel) {
  const torch::Tensor x = x_value.detach().clone().requires_grad_(true);
  const torch::Tensor weight = weight_value.detach().clone().requires_grad_(true);
  const torch::Tensor output = kernel ? fused_pointwise_conv(x, weight) : torch::conv2d(x, weight);
  (output * output_gradient).sum().backward();
  return {output.detach(), x.grad(), weight.grad()};
}

struct FusedPointwiseCase {
  std::int64_t batch, in, out, height, width;
};

void expect_pointwise_matches_stock(const FusedPointwiseCase& c, torch::Dtype dtype,
                                    double tolerance) {
  const auto options = torch::TensorOptions().dtype(dtype);
  const torch::Tensor x = torch::randn({c.batch, c.in, c.height, c.width}, options)
                              .contiguous(at::MemoryFormat::ChannelsLast);
  const torch::Tensor weight = torch::randn({c.out, c.in, 1, 1}, options);
  const torch::Tensor dy = torch::randn({c.batch, c.out, c.height, c.width}, options);
  const FusedPointwiseResult kernel = run_fused_pointwise(x, weight, dy, true);
  const FusedPointwiseResult stock = run_fused_pointwise(x, weight, dy, false);
  const std::string shape = std::to_string(c.in) + " -> " + std::to_string(c.out);
  ASSERT_EQ(kernel.output.sizes(), stock.output.sizes()) << shape;
  EXPECT_TRUE(kernel.output.is_contiguous(at::MemoryFormat::ChannelsLast)) << shape;
  EXPECT_TRUE(torch::allclose(kernel.output, stock.output, tolerance, tolerance))
      << shape << ": " << (kernel.output - stock.output).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(kernel.input_gradient, stock.input_gradient, tolerance, tolerance))
      << shape << ": " << (kernel.input_gradient - stock.input_gradient).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(kernel.weight_gradient, stock.weight_gradient, tolerance, tolerance))
      << shape << ": "
      << (kernel.weight_gradient - stock.weight_gradient).abs().max().item<double>();
}

// The network's transition (24 x 24 pixels) and head (one pixel), compiled in; batches whose
// pixel counts leave a tail of one to three pixels after the blocks of four.
TEST(FusedPointwiseConv, MatchesStockOnTheNetworksShapesInDouble) {
  torch::manual_seed(1);
  expect_pointwise_matches_stock({3, 24, 18, 24, 24}, torch::kDouble, 1e-12);
  expect_pointwise_matches_stock({2, 24, 18, 3, 5}, torch::kDouble, 1e-12);
  for (std::int64_t batch : {1, 2, 3, 4, 7}) {
    expect_pointwise_matches_stock({batch, 16, 10, 1, 1}, torch::kDouble, 1e-12);
  }
}

TEST(FusedPointwiseConv, OtherChannelCountsMatchStock) {
  torch::manual_seed(2);
  expect_pointwise_matches_stock({2, 3, 5, 4, 3}, torch::kDouble, 1e-12);
  expect_pointwise_matches_stock({3, 24, 18, 6, 6}, torch::kFloat, 1e-5);
  expect_pointwise_matches_stock({5, 16, 10, 1, 1}, torch::kFloat, 1e-5);
  expect_pointwise_matches_stock({1, 7, 1, 2, 2}, torch::kFloat, 1e-5);
}

double error_from_double(const torch::Tensor& value, const torch::Tensor& exact) {
  return (value.to(torch::kDouble) - exact).abs().max().item<double>();
}

// In float each value is a sum of 24 (18 for the input's gradient, 128 x 576 for the weight's)
// products, in another order than oneDNN's: both round, so each is compared with the sums in
// double, and the kernel may be no less accurate.
TEST(FusedPointwiseConv, NoLessAccurateThanStockInFloat) {
  torch::manual_seed(3);
  const torch::Tensor x =
      torch::randn({128, 24, 24, 24}).contiguous(at::MemoryFormat::ChannelsLast);
  const torch::Tensor weight = torch::randn({18, 24, 1, 1});
  const torch::Tensor dy = torch::randn({128, 18, 24, 24});
  const FusedPointwiseResult kernel = run_fused_pointwise(x, weight, dy, true);
  const FusedPointwiseResult stock = run_fused_pointwise(x, weight, dy, false);
  const FusedPointwiseResult exact = run_fused_pointwise(
      x.to(torch::kDouble), weight.to(torch::kDouble), dy.to(torch::kDouble), false);
  const auto check = [](const torch::Tensor& mine, const torch::Tensor& theirs,
                        const torch::Tensor& truth, double relative, const char* what) {
    const double scale = truth.abs().max().item<double>();
    EXPECT_LT(error_from_double(mine, truth), relative * scale) << what;
    EXPECT_LE(error_from_double(mine, truth), 2 * error_from_double(theirs, truth) + 1e-7 * scale)
        << what << ": stock " << error_from_double(theirs, truth);
  };
  check(kernel.output, stock.output, exact.output, 1e-6, "output");
  check(kernel.input_gradient, stock.input_gradient, exact.input_gradient, 1e-6, "input gradient");
  check(kernel.weight_gradient, stock.weight_gradient, exact.weight_gradient, 1e-5,
        "weight gradient");
}

// An example's output must not depend on its batch (evaluation in any batch size gives the same
// results), nor anything on the thread count.
TEST(FusedPointwiseConv, ExamplesAndThreadCountsDoNotChangeTheBits) {
  torch::manual_seed(4);
  for (const FusedPointwiseCase& c :
       {FusedPointwiseCase{9, 24, 18, 24, 24}, FusedPointwiseCase{9, 16, 10, 1, 1}}) {
    const torch::Tensor x =
        torch::randn({c.batch, c.in, c.height, c.width}).contiguous(at::MemoryFormat::ChannelsLast);
    const torch::Tensor weight = torch::randn({c.out, c.in, 1, 1});
    const torch::Tensor dy = torch::randn({c.batch, c.out, c.height, c.width});
    const int before = at::get_num_threads();
    at::set_num_threads(1);
    const FusedPointwiseResult one = run_fused_pointwise(x, weight, dy, true);
    at::set_num_threads(2);
    const FusedPointwiseResult two = run_fused_pointwise(x, weight, dy, true);
    at::set_num_threads(before);
    EXPECT_TRUE(torch::equal(one.output, two.output)) << c.in;
    EXPECT_TRUE(torch::equal(one.input_gradient, two.input_gradient)) << c.in;
    EXPECT_TRUE(torch::equal(one.weight_gradient, two.weight_gradient)) << c.in;
    for (std::int64_t n : {0, 5, 8}) {
      EXPECT_TRUE(torch::equal(fused_pointwise_conv(x.slice(0, n, n + 1), weight),
                               one.output.slice(0, n, n + 1)))
          << c.in << ", example " << n;
    }
  }
}

TEST(FusedPointwiseConv, TheModuleRunsTheKernelOnTheCpuAndRefusesWhatItCannotTake) {
  torch::manual_seed(5);
  FusedPointwiseConv2d conv(24, 18);
  const torch::Tensor x = torch::randn({2, 24, 5, 5}).contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(torch::equal(conv->forward(x), fused_pointwise_conv(x, conv->weight)));
  EXPECT_TRUE(torch::allclose(conv->forward(x), torch::conv2d(x, conv->weight), 1e-5, 1e-5));
  const torch::Tensor weight = torch::randn({18, 24, 1, 1});
  EXPECT_FALSE(can_fuse_pointwise_conv(torch::randn({2, 23, 5, 5}), weight));
  EXPECT_FALSE(can_fuse_pointwise_conv(x.to(torch::kDouble), weight));
  EXPECT_FALSE(can_fuse_pointwise_conv(torch::randn({0, 24, 5, 5}), weight));
  EXPECT_FALSE(can_fuse_pointwise_conv(x, torch::randn({18, 24, 3, 3})));
  EXPECT_THROW(fused_pointwise_conv(torch::randn({2, 23, 5, 5}), weight), c10::Error);
}

}  // namespace
}  // namespace normtrain
