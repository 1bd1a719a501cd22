#include "normtrain/model/kernels/fused_relu_norm.hpp"

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <utility>

#include <ATen/Parallel.h>
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

void PrintTo(const Case& test_case, std::ostream* out) {
  *out << test_case.channels << " channels, " << test_case.groups << " groups";
}

class ReluGroupNormTest : public ::testing::TestWithParam<Case> {};

// "channels24_groups8": the case in the test's name.
std::string case_name(const ::testing::TestParamInfo<Case>& param_info) {
  return "channels" + std::to_string(param_info.param.channels) + "_groups" +
         std::to_string(param_info.param.groups);
}

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
                                           Case{24, 8}, Case{16, 4}, Case{16, 16}),
                         case_name);

// Channel counts without a compiled-in specialization take the run-time-count code; more
// than it supports, the stock operators.
INSTANTIATE_TEST_SUITE_P(OtherChannelCounts, ReluGroupNormTest,
                         ::testing::Values(Case{12, 1}, Case{12, 3}, Case{12, 12}, Case{5, 5},
                                           Case{80, 4}),
                         case_name);

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

TEST(ReluBatchNorm, OtherChannelCountsMatchStockInDouble) {
  for (const std::int64_t channels : {12, 5, 80}) {
    torch::manual_seed(channels);
    const auto options = torch::TensorOptions().dtype(torch::kFloat64);
    const torch::Tensor x = torch::randn({3, channels, 5, 4}, options) + 0.2;
    const torch::Tensor w = torch::randn({channels}, options);
    const torch::Tensor b = torch::randn({channels}, options);
    const torch::Tensor dy = torch::randn({3, channels, 5, 4}, options);
    torch::Tensor stock_mean = torch::zeros({channels}, options);
    torch::Tensor stock_var = torch::ones({channels}, options);
    torch::Tensor fused_mean = stock_mean.clone();
    torch::Tensor fused_var = stock_var.clone();
    const Grads stock = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
      return torch::batch_norm(torch::relu(xi), wi, bi, stock_mean, stock_var, true, 0.1, 1e-5,
                               false);
    });
    const Grads fused = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
      return relu_batch_norm(xi, wi, bi, fused_mean, fused_var, true);
    });
    expect_close(fused, stock, 1e-10);
    EXPECT_TRUE(torch::allclose(fused_mean, stock_mean, 1e-12, 1e-12)) << channels;
    EXPECT_TRUE(torch::allclose(fused_var, stock_var, 1e-12, 1e-12)) << channels;
  }
}

// Largest absolute difference from a double-precision reference.
double error(const torch::Tensor& value, const torch::Tensor& reference) {
  return (value.to(torch::kFloat64) - reference).abs().max().item<double>();
}

// Float results of the fused and the stock operation against the stock one in double: the fused
// operation must be no further from the reference than the stock one, give or take a few
// rounding errors of the values compared (`slack` times their largest magnitude times float's
// epsilon). On activations with a large mean and a small spread (mean 100, standard deviation
// 0.1) and on ordinary ones (mean 0, standard deviation 1).
template <typename Fused, typename Stock>
void expect_no_less_accurate_than_stock(Fused fused_op, Stock stock_op, std::int64_t channels) {
  for (const auto& [mean, spread] : {std::pair{100.0, 0.1}, std::pair{0.0, 1.0}}) {
    SCOPED_TRACE(::testing::Message() << "mean " << mean << ", standard deviation " << spread);
    torch::manual_seed(11);
    const torch::Tensor x = torch::randn({8, channels, 26, 26}) * spread + mean;
    const torch::Tensor w = torch::rand({channels}) + 0.5;
    const torch::Tensor b = torch::randn({channels});
    const torch::Tensor dy = torch::randn({8, channels, 26, 26});
    auto d = [](const torch::Tensor& t) { return t.to(torch::kFloat64); };
    const Grads reference = run(d(x), d(w), d(b), d(dy), stock_op);
    const Grads stock = run(x, w, b, dy, stock_op);
    const Grads fused = run(x.contiguous(at::MemoryFormat::ChannelsLast), w, b, dy, fused_op);
    const double slack = 4.0 * static_cast<double>(std::numeric_limits<float>::epsilon());
    const std::pair<const char*, torch::Tensor Grads::*> parts[] = {
        {"y", &Grads::y}, {"dx", &Grads::dx}, {"dweight", &Grads::dw}, {"dbias", &Grads::db}};
    for (const auto& [name, part] : parts) {
      const torch::Tensor& ref = reference.*part;
      const double fused_error = error(fused.*part, ref);
      const double stock_error = error(stock.*part, ref);
      const double scale = ref.abs().max().item<double>();
      EXPECT_LE(fused_error, stock_error + slack * scale)
          << name << ": fused error " << fused_error << ", stock error " << stock_error
          << ", largest magnitude " << scale;
    }
  }
}

TEST(ReluGroupNorm, NoLessAccurateThanStockEvenWithALargeMean) {
  for (const std::int64_t groups : {1, 8, 24}) {
    SCOPED_TRACE(groups);
    expect_no_less_accurate_than_stock(
        [&](auto& xi, auto& wi, auto& bi) { return relu_group_norm(xi, wi, bi, groups); },
        [&](auto& xi, auto& wi, auto& bi) {
          return torch::group_norm(torch::relu(xi), groups, wi, bi, 1e-5);
        },
        24);
  }
}

TEST(ReluBatchNorm, NoLessAccurateThanStockEvenWithALargeMean) {
  for (const std::int64_t channels : {24, 12}) {
    SCOPED_TRACE(channels);
    expect_no_less_accurate_than_stock(
        [&](auto& xi, auto& wi, auto& bi) {
          torch::Tensor mean = torch::zeros({channels}, wi.options().requires_grad(false));
          torch::Tensor var = torch::ones({channels}, wi.options().requires_grad(false));
          return relu_batch_norm(xi, wi, bi, mean, var, true);
        },
        [&](auto& xi, auto& wi, auto& bi) {
          torch::Tensor mean = torch::zeros({channels}, wi.options().requires_grad(false));
          torch::Tensor var = torch::ones({channels}, wi.options().requires_grad(false));
          return torch::batch_norm(torch::relu(xi), wi, bi, mean, var, true, 0.1, 1e-5, false);
        },
        channels);
  }
}

// Runs `op` with `threads` intra-op threads, then restores the previous count.
template <typename Op>
Grads run_with_threads(int threads, const torch::Tensor& x, const torch::Tensor& w,
                       const torch::Tensor& b, const torch::Tensor& dy, Op op) {
  const int before = at::get_num_threads();
  at::set_num_threads(threads);
  Grads result = run(x, w, b, dy, op);
  at::set_num_threads(before);
  return result;
}

void expect_identical(const Grads& a, const Grads& b) {
  EXPECT_TRUE(torch::equal(a.y, b.y));
  EXPECT_TRUE(torch::equal(a.dx, b.dx));
  EXPECT_TRUE(torch::equal(a.dw, b.dw));
  EXPECT_TRUE(torch::equal(a.db, b.db));
}

TEST(FusedReluNorm, OneAndTwoThreadsGiveTheSameBits) {
  torch::manual_seed(5);
  for (const std::int64_t channels : {24, 12}) {
    const torch::Tensor x =
        torch::randn({16, channels, 10, 10}).contiguous(at::MemoryFormat::ChannelsLast);
    const torch::Tensor w = torch::rand({channels}) + 0.5;
    const torch::Tensor b = torch::randn({channels});
    const torch::Tensor dy = torch::randn({16, channels, 10, 10});
    auto gn = [](auto& xi, auto& wi, auto& bi) { return relu_group_norm(xi, wi, bi, 4); };
    expect_identical(run_with_threads(1, x, w, b, dy, gn), run_with_threads(2, x, w, b, dy, gn));
    auto bn = [&](auto& xi, auto& wi, auto& bi) {
      torch::Tensor mean = torch::zeros({channels});
      torch::Tensor var = torch::ones({channels});
      return relu_batch_norm(xi, wi, bi, mean, var, true);
    };
    expect_identical(run_with_threads(1, x, w, b, dy, bn), run_with_threads(2, x, w, b, dy, bn));
  }
}

TEST(ReluGroupNorm, RejectsBadArguments) {
  const torch::Tensor x = torch::randn({2, 24, 4, 4});
  const torch::Tensor w = torch::ones({24});
  const torch::Tensor b = torch::zeros({24});
  EXPECT_THROW(relu_group_norm(x, w, b, 0), c10::Error);
  EXPECT_THROW(relu_group_norm(x, w, b, -8), c10::Error);
  EXPECT_THROW(relu_group_norm(x, w, b, 5), c10::Error);
  EXPECT_THROW(relu_group_norm(x, torch::ones({23}), b, 8), c10::Error);
  EXPECT_THROW(relu_group_norm(x, w, torch::zeros({25}), 8), c10::Error);
  EXPECT_THROW(relu_group_norm(x, torch::ones({2, 12}), b, 8), c10::Error);
  EXPECT_THROW(relu_group_norm(x, w.to(torch::kFloat64), b, 8), c10::Error);
  EXPECT_THROW(relu_group_norm(x, w.to_sparse(), b, 8), c10::Error);
  EXPECT_THROW(relu_group_norm(x, torch::ones({24}, torch::Device(torch::kMeta)), b, 8),
               c10::Error);
  EXPECT_THROW(relu_group_norm(torch::randn({24}), w, b, 8), c10::Error);
}

TEST(ReluBatchNorm, RejectsBadArguments) {
  const torch::Tensor x = torch::randn({2, 24, 4, 4});
  const torch::Tensor w = torch::ones({24});
  const torch::Tensor b = torch::zeros({24});
  for (const bool training : {true, false}) {
    SCOPED_TRACE(training);
    auto bn = [&](const torch::Tensor& wi, const torch::Tensor& bi, const torch::Tensor& mean,
                  const torch::Tensor& var) {
      return relu_batch_norm(x, wi, bi, mean, var, training);
    };
    EXPECT_THROW(bn(torch::ones({23}), b, torch::zeros({24}), torch::ones({24})), c10::Error);
    EXPECT_THROW(bn(w, torch::zeros({8}), torch::zeros({24}), torch::ones({24})), c10::Error);
    EXPECT_THROW(bn(w, b, torch::zeros({20}), torch::ones({24})), c10::Error);
    EXPECT_THROW(bn(w, b, torch::zeros({24}), torch::ones({30})), c10::Error);
    EXPECT_THROW(bn(w, b, torch::zeros({24}, torch::kFloat64), torch::ones({24})), c10::Error);
    EXPECT_THROW(bn(w.to_sparse(), b, torch::zeros({24}), torch::ones({24})), c10::Error);
  }
  EXPECT_THROW(
      relu_batch_norm(torch::randn({24}), w, b, torch::zeros({24}), torch::ones({24}), true),
      c10::Error);
}

TEST(ReluBatchNorm, BatchOfOneBehavesAsStock) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  torch::manual_seed(6);
  // One example of several positions: training works, as in the stock operator.
  const torch::Tensor x = torch::randn({1, 16, 3, 4}, options);
  const torch::Tensor w = torch::randn({16}, options);
  const torch::Tensor b = torch::randn({16}, options);
  const torch::Tensor dy = torch::randn({1, 16, 3, 4}, options);
  torch::Tensor stock_mean = torch::zeros({16}, options);
  torch::Tensor stock_var = torch::ones({16}, options);
  torch::Tensor fused_mean = stock_mean.clone();
  torch::Tensor fused_var = stock_var.clone();
  const Grads stock = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
    return torch::batch_norm(torch::relu(xi), wi, bi, stock_mean, stock_var, true, 0.1, 1e-5,
                             false);
  });
  const Grads fused = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
    return relu_batch_norm(xi, wi, bi, fused_mean, fused_var, true);
  });
  expect_close(fused, stock, 1e-10);
  EXPECT_TRUE(torch::allclose(fused_var, stock_var, 1e-12, 1e-12));
  // One value per channel: training is an error, as in BatchNorm2d; evaluation is not.
  const torch::Tensor single = torch::randn({1, 16, 1, 1});
  torch::nn::BatchNorm2d stock_bn(16);
  ReluBatchNorm fused_bn(16);
  EXPECT_THROW(stock_bn->forward(torch::relu(single)), c10::Error);
  EXPECT_THROW(fused_bn->forward(single), c10::Error);
  EXPECT_THROW(relu_batch_norm(single.contiguous(at::MemoryFormat::ChannelsLast), fused_bn->weight,
                               fused_bn->bias, fused_bn->running_mean, fused_bn->running_var, true),
               c10::Error);
  stock_bn->eval();
  fused_bn->eval();
  EXPECT_TRUE(torch::allclose(fused_bn->forward(single), stock_bn->forward(torch::relu(single))));
}

// Where the input is <= 0 the ReLU passes no gradient, even an infinite one (a multiply by a
// 0/1 mask would give NaN there).
TEST(FusedReluNorm, InfiniteGradientWhereTheInputIsNotPositiveGivesZero) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  torch::manual_seed(8);
  torch::Tensor x = torch::randn({2, 8, 3, 3}, options);
  x.index_put_({0, 1, 2, 2}, 0.0);
  const torch::Tensor not_positive = x <= 0;
  const torch::Tensor w = torch::rand({8}, options) + 0.5;
  const torch::Tensor b = torch::randn({8}, options);
  torch::Tensor dy = torch::randn({2, 8, 3, 3}, options);
  dy.masked_fill_(not_positive, std::numeric_limits<double>::infinity());
  // Evaluation-mode BatchNorm: the gradient elsewhere stays finite.
  torch::Tensor mean = torch::rand({8}, options);
  torch::Tensor var = torch::rand({8}, options) + 0.5;
  const Grads stock = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
    return torch::batch_norm(torch::relu(xi), wi, bi, mean, var, false, 0.1, 1e-5, false);
  });
  const Grads fused = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
    return relu_batch_norm(xi, wi, bi, mean, var, false);
  });
  EXPECT_TRUE(torch::equal(fused.dx.masked_select(not_positive),
                           torch::zeros({not_positive.sum().item<std::int64_t>()}, options)));
  EXPECT_TRUE(torch::allclose(fused.dx, stock.dx, 1e-12, 1e-12));
  // Batch statistics: the infinity reaches every gradient through the sums, but where the
  // input is <= 0 the gradient is still 0, as in the stock operators.
  for (const std::int64_t groups : {1, 4}) {
    const Grads stock_gn = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
      return torch::group_norm(torch::relu(xi), groups, wi, bi, 1e-5);
    });
    const Grads fused_gn = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
      return relu_group_norm(xi, wi, bi, groups);
    });
    EXPECT_TRUE(torch::equal(fused_gn.dx.masked_select(not_positive),
                             stock_gn.dx.masked_select(not_positive)));
    EXPECT_EQ(fused_gn.dx.masked_select(not_positive).abs().max().item<double>(), 0.0);
  }
  torch::Tensor batch_mean = torch::zeros({8}, options);
  torch::Tensor batch_var = torch::ones({8}, options);
  const Grads fused_bn = run(x, w, b, dy, [&](auto& xi, auto& wi, auto& bi) {
    return relu_batch_norm(xi, wi, bi, batch_mean, batch_var, true);
  });
  EXPECT_EQ(fused_bn.dx.masked_select(not_positive).abs().max().item<double>(), 0.0);
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
