#include "normtrain/model/kernels/max_pool_relu.hpp"

#include <cmath>
#include <limits>

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace normtrain {
namespace {

// Values and input gradients of f(x) for a given output gradient.
struct PoolResult {
  torch::Tensor y;
  torch::Tensor dx;
};

template <typename F>
PoolResult run(const torch::Tensor& x_in, const torch::Tensor& dy, F f) {
  torch::Tensor x = x_in.detach().clone(at::MemoryFormat::Preserve).requires_grad_();
  torch::Tensor y = f(x);
  y.backward(dy);
  return {y.detach(), x.grad()};
}

torch::Tensor stock(const torch::Tensor& x) {
  return torch::relu(torch::max_pool2d(x, 2));
}

torch::Tensor channels_last(const torch::Tensor& x) {
  return x.contiguous(at::MemoryFormat::ChannelsLast);
}

// Exact equality: the fused operation only compares and copies values.
void expect_identical(const torch::Tensor& x, const torch::Tensor& dy) {
  const PoolResult fused = run(x, dy, max_pool2_relu);
  const PoolResult reference = run(x, dy, stock);
  EXPECT_EQ(fused.y.sizes(), reference.y.sizes());
  // The fused path keeps channels-last; the stock one keeps the input's layout.
  EXPECT_EQ(fused.y.suggest_memory_format(), x.suggest_memory_format());
  EXPECT_TRUE(torch::equal(fused.y, reference.y));
  EXPECT_TRUE(torch::equal(fused.dx, reference.dx));
}

TEST(MaxPool2Relu, MatchesStockOnTheNetworksShapeInFloatAndDouble) {
  torch::manual_seed(1);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    const torch::Tensor x = channels_last(torch::randn({8, 18, 24, 24}, dtype));
    const torch::Tensor dy = channels_last(torch::randn({8, 18, 12, 12}, dtype));
    expect_identical(x, dy);
  }
}

TEST(MaxPool2Relu, TiesGoToTheFirstMaximumLikeStock) {
  // Small integers: most windows hold equal values, often at their maximum.
  torch::manual_seed(2);
  for (std::int64_t channels : {1, 3, 16}) {
    const torch::Tensor x =
        channels_last(torch::randint(-2, 3, {4, channels, 6, 8}, torch::kFloat));
    const torch::Tensor dy = channels_last(torch::randn({4, channels, 3, 4}));
    expect_identical(x, dy);
  }
}

TEST(MaxPool2Relu, NaNWinsItsWindowAndNegativeWindowsGetNoGradient) {
  torch::Tensor x = -torch::ones({1, 2, 2, 4});
  x[0][0][1][0] = std::numeric_limits<float>::quiet_NaN();
  x[0][1][0][3] = 5.0f;
  x = channels_last(x);
  const torch::Tensor dy = channels_last(torch::full({1, 2, 1, 2}, 3.0f));
  const PoolResult fused = run(x, dy, max_pool2_relu);
  EXPECT_TRUE(std::isnan(fused.y[0][0][0][0].item<float>()));
  EXPECT_EQ(fused.y[0][0][0][1].item<float>(), 0.0f);
  EXPECT_EQ(fused.y[0][1][0][1].item<float>(), 5.0f);
  // All-negative windows: the ReLU stops the gradient.
  EXPECT_EQ(fused.dx[0][0].slice(1, 2, 4).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(fused.dx[0][1][0][3].item<float>(), 3.0f);
  EXPECT_EQ(fused.dx[0][1].abs().sum().item<float>(), 3.0f);
  // Stock agrees, NaN included (torch::equal treats NaN as unequal, so compare around it).
  const PoolResult reference = run(x, dy, stock);
  EXPECT_TRUE(torch::equal(fused.dx, reference.dx));
  EXPECT_TRUE(std::isnan(reference.y[0][0][0][0].item<float>()));
}

TEST(MaxPool2Relu, AnyChannelCountMatchesStock) {
  torch::manual_seed(4);
  for (const std::int64_t channels : {12, 5, 70}) {
    const torch::Tensor x = channels_last(torch::randn({3, channels, 8, 6}, torch::kDouble));
    const torch::Tensor dy = channels_last(torch::randn({3, channels, 4, 3}, torch::kDouble));
    expect_identical(x, dy);
  }
}

TEST(MaxPool2Relu, OneAndTwoThreadsGiveTheSameBits) {
  torch::manual_seed(5);
  const torch::Tensor x = channels_last(torch::randn({16, 18, 24, 24}));
  const torch::Tensor dy = channels_last(torch::randn({16, 18, 12, 12}));
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  const PoolResult one = run(x, dy, max_pool2_relu);
  at::set_num_threads(2);
  const PoolResult two = run(x, dy, max_pool2_relu);
  at::set_num_threads(before);
  EXPECT_TRUE(torch::equal(one.y, two.y));
  EXPECT_TRUE(torch::equal(one.dx, two.dx));
}

// Where a window's maximum is <= 0 the ReLU passes no gradient, even an infinite one.
TEST(MaxPool2Relu, InfiniteGradientThroughABlockedReluGivesZero) {
  torch::Tensor x = -torch::ones({1, 2, 2, 4});
  x[0][0][0][2] = 0.0f;  // a window whose maximum is exactly 0
  x[0][1][1][1] = 2.0f;
  x = channels_last(x);
  const float inf = std::numeric_limits<float>::infinity();
  const torch::Tensor dy = channels_last(torch::full({1, 2, 1, 2}, inf));
  const PoolResult fused = run(x, dy, max_pool2_relu);
  const PoolResult reference = run(x, dy, stock);
  EXPECT_TRUE(torch::equal(fused.dx, reference.dx));
  EXPECT_EQ(fused.dx[0][0].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(fused.dx[0][1][1][1].item<float>(), inf);
  EXPECT_EQ(fused.dx[0][1].slice(1, 2, 4).abs().sum().item<float>(), 0.0f);
}

TEST(MaxPool2Relu, RejectsInputsThatStockRejects) {
  // Empty channel or spatial dimensions, and too few dimensions: stock max_pool2d throws, and
  // so must the fused path (which would otherwise return an empty result).
  for (const auto& size : {std::vector<std::int64_t>{2, 0, 4, 4},
                           {2, 3, 0, 4},
                           {2, 3, 4, 0},
                           {2, 3, 1, 4},
                           {2, 3, 4, 1},
                           {4, 4},
                           {7}}) {
    SCOPED_TRACE(torch::IntArrayRef(size));
    const torch::Tensor x =
        size.size() == 4 ? channels_last(torch::randn(size)) : torch::randn(size);
    EXPECT_THROW(stock(x), c10::Error);
    EXPECT_THROW(max_pool2_relu(x), c10::Error);
  }
}

TEST(MaxPool2Relu, OtherInputsTakeTheStockPath) {
  torch::manual_seed(3);
  // Odd sizes (the last row and column take no part) and NCHW input.
  expect_identical(torch::randn({2, 4, 7, 5}), torch::randn({2, 4, 3, 2}));
  const PoolResult nchw =
      run(torch::randn({2, 4, 6, 6}), torch::randn({2, 4, 3, 3}), max_pool2_relu);
  EXPECT_EQ(nchw.y.sizes(), (std::vector<std::int64_t>{2, 4, 3, 3}));
}

}  // namespace
}  // namespace normtrain
