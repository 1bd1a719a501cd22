#include "normtrain/model/kernels/single_channel_conv.hpp"

#include <gtest/gtest.h>

#include "normtrain/model/model.hpp"

namespace normtrain {
namespace {

struct ConvResult {
  torch::Tensor output;
  torch::Tensor weight_gradient;
};

// Output and weight gradient for a fixed output gradient, by the kernel or by torch::conv2d.
ConvResult run(const torch::Tensor& images, const torch::Tensor& weight_value,
               const torch::Tensor& output_gradient, bool kernel) {
  const torch::Tensor weight = weight_value.detach().clone().requires_grad_(true);
  const torch::Tensor output =
      kernel ? single_channel_conv3x3(images, weight) : torch::conv2d(images, weight);
  (output * output_gradient).sum().backward();
  return {output.detach(), weight.grad()};
}

void expect_matches_stock(std::int64_t batch, std::int64_t channels, std::int64_t height,
                          std::int64_t width, torch::Dtype dtype, double tolerance) {
  const auto options = torch::TensorOptions().dtype(dtype);
  const torch::Tensor images = torch::randn({batch, 1, height, width}, options);
  const torch::Tensor weight = torch::randn({channels, 1, 3, 3}, options);
  const torch::Tensor dy = torch::randn({batch, channels, height - 2, width - 2}, options);
  const ConvResult kernel = run(images, weight, dy, true);
  const ConvResult stock = run(images, weight, dy, false);
  ASSERT_EQ(kernel.output.sizes(), stock.output.sizes());
  EXPECT_TRUE(kernel.output.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::allclose(kernel.output, stock.output, tolerance, tolerance))
      << (kernel.output - stock.output).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(kernel.weight_gradient, stock.weight_gradient, tolerance, tolerance))
      << (kernel.weight_gradient - stock.weight_gradient).abs().max().item<double>();
}

TEST(SingleChannelConv, MatchesStockOnTheNetworksShapeInDouble) {
  torch::manual_seed(1);
  expect_matches_stock(8, 8, 28, 28, torch::kDouble, 1e-12);
}

double max_error(const torch::Tensor& value, const torch::Tensor& exact) {
  return (value.to(torch::kDouble) - exact).abs().max().item<double>();
}

// In float the weight gradient sums 128 x 676 products, in another order than oneDNN's: both
// round, so each is compared with the sums in double, and the kernel may be no less accurate.
TEST(SingleChannelConv, NoLessAccurateThanStockInFloat) {
  torch::manual_seed(1);
  const torch::Tensor images = torch::randn({128, 1, 28, 28});
  const torch::Tensor weight = torch::randn({8, 1, 3, 3});
  const torch::Tensor dy = torch::randn({128, 8, 26, 26});
  const ConvResult kernel = run(images, weight, dy, true);
  const ConvResult stock = run(images, weight, dy, false);
  const ConvResult exact =
      run(images.to(torch::kDouble), weight.to(torch::kDouble), dy.to(torch::kDouble), false);
  const double output_scale = exact.output.abs().max().item<double>();
  const double gradient_scale = exact.weight_gradient.abs().max().item<double>();
  EXPECT_LT(max_error(kernel.output, exact.output), 1e-6 * output_scale);
  EXPECT_LT(max_error(kernel.weight_gradient, exact.weight_gradient), 1e-5 * gradient_scale);
  EXPECT_LE(max_error(kernel.output, exact.output),
            2 * max_error(stock.output, exact.output) + 1e-7 * output_scale);
  EXPECT_LE(max_error(kernel.weight_gradient, exact.weight_gradient),
            2 * max_error(stock.weight_gradient, exact.weight_gradient) + 1e-7 * gradient_scale)
      << "stock " << max_error(stock.weight_gradient, exact.weight_gradient);
}

TEST(SingleChannelConv, AnyChannelCountAndImageSizeMatchesStock) {
  torch::manual_seed(2);
  expect_matches_stock(3, 16, 5, 7, torch::kDouble, 1e-12);  // a compiled-in count
  expect_matches_stock(2, 5, 3, 3, torch::kDouble, 1e-12);   // counted at run time
  expect_matches_stock(1, 1, 9, 4, torch::kFloat, 1e-5);
}

TEST(SingleChannelConv, TakesTheNetworksChannelsLastImages) {
  torch::manual_seed(3);
  const torch::Tensor images = as_channels_last(torch::randn({4, 1, 28, 28}));
  const torch::Tensor weight = torch::randn({8, 1, 3, 3});
  EXPECT_TRUE(torch::allclose(single_channel_conv3x3(images, weight), torch::conv2d(images, weight),
                              1e-5, 1e-5));
}

// Each example's output must not depend on its batch (evaluation in any batch size gives the
// same results), nor anything on the thread count.
TEST(SingleChannelConv, ExamplesAndThreadCountsDoNotChangeTheBits) {
  torch::manual_seed(4);
  const torch::Tensor images = torch::randn({16, 1, 28, 28});
  const torch::Tensor weight = torch::randn({8, 1, 3, 3});
  const torch::Tensor dy = torch::randn({16, 8, 26, 26});
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  const ConvResult one = run(images, weight, dy, true);
  at::set_num_threads(2);
  const ConvResult two = run(images, weight, dy, true);
  at::set_num_threads(before);
  EXPECT_TRUE(torch::equal(one.output, two.output));
  EXPECT_TRUE(torch::equal(one.weight_gradient, two.weight_gradient));
  EXPECT_TRUE(torch::equal(single_channel_conv3x3(images.slice(0, 5, 6), weight),
                           one.output[5].unsqueeze(0)));
}

TEST(SingleChannelConv, OtherInputsTakeTheStockPath) {
  torch::manual_seed(5);
  const torch::Tensor weight = torch::randn({8, 1, 3, 3});
  // Images that need a gradient: the stock convolution gives them one.
  const torch::Tensor images = torch::randn({2, 1, 6, 6}).requires_grad_(true);
  single_channel_conv3x3(images, weight).sum().backward();
  ASSERT_TRUE(images.grad().defined());
  const torch::Tensor plain = images.detach();
  EXPECT_TRUE(torch::allclose(single_channel_conv3x3(plain, weight), torch::conv2d(plain, weight)));
  // Shapes the kernel does not handle: the stock convolution's result, or its error.
  const torch::Tensor two_channels = torch::randn({2, 2, 6, 6});
  const torch::Tensor two_channel_weight = torch::randn({4, 2, 3, 3});
  EXPECT_TRUE(torch::equal(single_channel_conv3x3(two_channels, two_channel_weight),
                           torch::conv2d(two_channels, two_channel_weight)));
  EXPECT_THROW(single_channel_conv3x3(torch::randn({2, 1, 2, 2}), weight), c10::Error);
  EXPECT_THROW(single_channel_conv3x3(torch::randn({2, 1, 6, 6}), weight.to(torch::kDouble)),
               c10::Error);
}

// The weight's gradient depends on the images and the output's gradient only: an update of the
// weight between forward and backward changes nothing and is no error.
TEST(SingleChannelConv, WeightGradientIgnoresAnUpdateBeforeTheBackward) {
  torch::manual_seed(6);
  const torch::Tensor images = torch::randn({2, 1, 6, 6});
  const torch::Tensor weight = torch::randn({8, 1, 3, 3}).requires_grad_(true);
  const torch::Tensor output = single_channel_conv3x3(images, weight);
  {
    torch::NoGradGuard no_grad;
    weight.add_(1.0);
  }
  output.sum().backward();
  const torch::Tensor fresh = weight.detach().clone().requires_grad_(true);
  single_channel_conv3x3(images, fresh).sum().backward();
  EXPECT_TRUE(torch::equal(weight.grad(), fresh.grad()));
}

TEST(SingleChannelConv, ModuleIsAConv2dWithTheSameWeight) {
  SingleChannelConv2d conv(8);
  EXPECT_EQ(conv->weight.sizes(), torch::IntArrayRef({8, 1, 3, 3}));
  EXPECT_FALSE(conv->options.bias());
  EXPECT_EQ(conv->named_parameters().size(), 1U);
  EXPECT_TRUE(conv->named_parameters().contains("weight"));
  const torch::Tensor images = torch::randn({2, 1, 28, 28});
  EXPECT_TRUE(torch::allclose(conv(images), torch::conv2d(images, conv->weight), 1e-5, 1e-5));
}

}  // namespace
}  // namespace normtrain
