#include "normtrain/fused_relu_norm.hpp"

#include <gtest/gtest.h>

namespace normtrain {
namespace {

struct Grads {
  torch::Tensor y;
  torch::Tensor dx;
  torch::Tensor dw;
  torch::Tensor db;
};

// Runs `op` on fresh leaf copies and backpropagates `dy`.
template <typename Op>
Grads run(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
          const torch::Tensor& dy, Op op) {
  torch::Tensor xl = x.detach().clone().requires_grad_(true);
  torch::Tensor wl = w.detach().clone().requires_grad_(true);
  torch::Tensor bl = b.detach().clone().requires_grad_(true);
  torch::Tensor y = op(xl, wl, bl);
  y.backward(dy);
  return {y.detach(), xl.grad(), wl.grad(), bl.grad()};
}

void expect_close(const Grads& fused, const Grads& stock, double tolerance) {
  EXPECT_TRUE(torch::allclose(fused.y, stock.y, tolerance, tolerance))
      << (fused.y - stock.y).abs().max();
  EXPECT_TRUE(torch::allclose(fused.dx, stock.dx, tolerance, tolerance))
      << (fused.dx - stock.dx).abs().max();
  EXPECT_TRUE(torch::allclose(fused.dw, stock.dw, tolerance, tolerance))
      << (fused.dw - stock.dw).abs().max();
  EXPECT_TRUE(torch::allclose(fused.db, stock.db, tolerance, tolerance))
      << (fused.db - stock.db).abs().max();
}

struct Case {
  std::int64_t channels;
  std::int64_t groups;
};

class ReluGroupNormTest : public ::testing::TestWithParam<Case> {};

TEST_P(ReluGroupNormTest, MatchesStockValuesAndGradientsInDouble) {
  const auto [channels, groups] = GetParam();
  torch::manual_seed(channels * 10 + groups);
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor x = torch::randn({3, channels, 5, 6}, options);
  const torch::Tensor w = torch::randn({channels}, options);
  const torch::Tensor b = torch::randn({channels}, options);
  const torch::Tensor dy = torch::randn({3, channels, 5, 6}, options);
  const Grads stock = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
    return torch::group_norm(torch::relu(xi), groups, wi, bi, 1e-5);
  });
  // Both layouts of the input give the same answer.
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    const Grads fused = run(x.contiguous(format), w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
      return relu_group_norm(xi, wi, bi, groups);
    });
    expect_close(fused, stock, 1e-10);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryLayerShape, ReluGroupNormTest,
                         ::testing::Values(Case{8, 1}, Case{8, 8}, Case{24, 1}, Case{24, 2},
                                           Case{24, 8}, Case{16, 4}, Case{16, 16}));

TEST(ReluGroupNorm, FloatIsCloseToStock) {
  torch::manual_seed(7);
  const torch::Tensor x = torch::randn({128, 24, 24, 24});
  const torch::Tensor w = torch::rand({24}) + 0.5;
  const torch::Tensor b = torch::randn({24});
  const torch::Tensor dy = torch::randn({128, 24, 24, 24}) * 1e-3;
  const Grads stock = run(x, w, b, dy, [](auto& xi, auto& wi, auto& bi) {
    return torch::group_norm(torch::relu(xi), 8, wi, bi, 1e-5);
  });
  const Grads fused =
      run(x, w, b, dy, [](auto& xi, auto& wi, auto& bi) { return relu_group_norm(xi, wi, bi, 8); });
  expect_close(fused, stock, 1e-4);
}

TEST(ReluGroupNorm, ZeroInputsGetNoGradientThroughTheRelu) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor x = torch::randn({2, 8, 3, 3}, options);
  x.index_put_({0, 0, 0, 0}, 0.0);
  x.index_put_({1, 3, 2, 1}, 0.0);
  const torch::Tensor w = torch::randn({8}, options);
  const torch::Tensor b = torch::randn({8}, options);
  const torch::Tensor dy = torch::randn({2, 8, 3, 3}, options);
  const Grads stock = run(x, w, b, dy, [](auto& xi, auto& wi, auto& bi) {
    return torch::group_norm(torch::relu(xi), 2, wi, bi, 1e-5);
  });
  const Grads fused =
      run(x, w, b, dy, [](auto& xi, auto& wi, auto& bi) { return relu_group_norm(xi, wi, bi, 2); });
  expect_close(fused, stock, 1e-10);
  EXPECT_EQ(fused.dx[0][0][0][0].item<double>(), 0.0);
}

TEST(ReluBatchNorm, TrainingMatchesStockIncludingRunningStatistics) {
  torch::manual_seed(3);
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor x = torch::randn({4, 24, 6, 5}, options) + 0.3;
  const torch::Tensor w = torch::randn({24}, options);
  const torch::Tensor b = torch::randn({24}, options);
  const torch::Tensor dy = torch::randn({4, 24, 6, 5}, options);
  torch::Tensor stock_mean = torch::rand({24}, options);
  torch::Tensor stock_var = torch::rand({24}, options) + 0.5;
  torch::Tensor fused_mean = stock_mean.clone();
  torch::Tensor fused_var = stock_var.clone();
  const Grads stock = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
    return torch::batch_norm(torch::relu(xi), wi, bi, stock_mean, stock_var, true, 0.1, 1e-5,
                             false);
  });
  const Grads fused = run(x.contiguous(at::MemoryFormat::ChannelsLast), w, b, dy,
                          [&](auto& xi, auto& wi, auto& bi) {
                            return relu_batch_norm(xi, wi, bi, fused_mean, fused_var, true);
                          });
  expect_close(fused, stock, 1e-10);
  EXPECT_TRUE(torch::allclose(fused_mean, stock_mean, 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(fused_var, stock_var, 1e-12, 1e-12));
}

TEST(ReluBatchNorm, EvaluationUsesRunningStatistics) {
  torch::manual_seed(4);
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor x = torch::randn({3, 16, 4, 4}, options);
  const torch::Tensor w = torch::randn({16}, options);
  const torch::Tensor b = torch::randn({16}, options);
  const torch::Tensor dy = torch::randn({3, 16, 4, 4}, options);
  torch::Tensor mean = torch::rand({16}, options);
  torch::Tensor var = torch::rand({16}, options) + 0.5;
  const torch::Tensor mean_before = mean.clone();
  const Grads stock = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
    return torch::batch_norm(torch::relu(xi), wi, bi, mean, var, false, 0.1, 1e-5, false);
  });
  const Grads fused = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
    return relu_batch_norm(xi, wi, bi, mean, var, false);
  });
  expect_close(fused, stock, 1e-10);
  EXPECT_TRUE(torch::equal(mean, mean_before));
}

TEST(FusedModules, HaveTheStockModulesParametersAndBuffers) {
  ReluBatchNorm bn(24);
  torch::nn::BatchNorm2d stock_bn(24);
  EXPECT_EQ(bn->named_parameters().keys(), stock_bn->named_parameters().keys());
  EXPECT_EQ(bn->named_buffers().keys(), stock_bn->named_buffers().keys());
  ReluGroupNorm gn(8, 16);
  torch::nn::GroupNorm stock_gn(8, 16);
  EXPECT_EQ(gn->named_parameters().keys(), stock_gn->named_parameters().keys());
  bn->train();
  bn->forward(torch::randn({2, 24, 3, 3}));
  EXPECT_EQ(bn->num_batches_tracked.item<std::int64_t>(), 1);
}

}  // namespace
}  // namespace normtrain
