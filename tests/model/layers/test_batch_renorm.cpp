#include "normtrain/model/layers/batch_renorm.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <gtest/gtest.h>

#include "float64_checks.hpp"

namespace normtrain {
namespace {

using testing::expect_near;
using testing::kDouble;

// Batch renormalization written out from the paper's formulas, one channel at a time in plain
// double arithmetic, with the backward pass derived by hand: r and d are constants there, so
// it is batch normalization's backward with the normalized value scaled by r.
struct RenormReference {
  torch::Tensor y, dx, dweight, dbias, running_mean, running_var, r, d;
};

RenormReference renorm_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                 const torch::Tensor& bias, const torch::Tensor& running_mean,
                                 const torch::Tensor& running_var, const torch::Tensor& dy,
                                 double r_max, double d_max, double momentum, double eps) {
  const std::int64_t n = x.size(0), channels = x.size(1), h = x.size(2), w = x.size(3);
  const double m = static_cast<double>(n * h * w);
  RenormReference out{torch::empty_like(x),
                      torch::empty_like(x),
                      torch::empty({channels}, kDouble),
                      torch::empty({channels}, kDouble),
                      torch::empty({channels}, kDouble),
                      torch::empty({channels}, kDouble),
                      torch::empty({channels}, kDouble),
                      torch::empty({channels}, kDouble)};
  const auto X = x.accessor<double, 4>();
  const auto G = dy.accessor<double, 4>();
  auto Y = out.y.accessor<double, 4>();
  auto DX = out.dx.accessor<double, 4>();
  const auto each = [&](auto f) {
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < h; ++j)
        for (std::int64_t k = 0; k < w; ++k) f(i, j, k);
  };
  for (std::int64_t c = 0; c < channels; ++c) {
    double mu = 0.0;
    each([&](auto i, auto j, auto k) { mu += X[i][c][j][k]; });
    mu /= m;
    double var = 0.0;
    each([&](auto i, auto j, auto k) { var += (X[i][c][j][k] - mu) * (X[i][c][j][k] - mu); });
    var /= m;
    const double sigma_b = std::sqrt(var + eps);
    const double sigma = std::sqrt(running_var[c].item<double>() + eps);
    const double r = std::clamp(sigma_b / sigma, 1.0 / r_max, r_max);
    const double d = std::clamp((mu - running_mean[c].item<double>()) / sigma, -d_max, d_max);
    const double gamma = weight[c].item<double>();
    const double beta = bias[c].item<double>();
    double sum_g = 0.0, sum_g_xhat = 0.0, sum_gy_yhat = 0.0;
    each([&](auto i, auto j, auto k) {
      const double xhat = (X[i][c][j][k] - mu) / sigma_b;
      Y[i][c][j][k] = gamma * (xhat * r + d) + beta;
      const double gxhat = G[i][c][j][k] * gamma * r;
      sum_g += gxhat;
      sum_g_xhat += gxhat * xhat;
      sum_gy_yhat += G[i][c][j][k] * (xhat * r + d);
    });
    each([&](auto i, auto j, auto k) {
      const double xhat = (X[i][c][j][k] - mu) / sigma_b;
      const double gxhat = G[i][c][j][k] * gamma * r;
      DX[i][c][j][k] = (gxhat - sum_g / m - xhat * sum_g_xhat / m) / sigma_b;
    });
    double sum_dy = 0.0;
    each([&](auto i, auto j, auto k) { sum_dy += G[i][c][j][k]; });
    out.dweight[c] = sum_gy_yhat;
    out.dbias[c] = sum_dy;
    out.running_mean[c] = (1 - momentum) * running_mean[c].item<double>() + momentum * mu;
    out.running_var[c] =
        (1 - momentum) * running_var[c].item<double>() + momentum * var * m / (m - 1);
    out.r[c] = r;
    out.d[c] = d;
  }
  return out;
}

struct RenormResult {
  torch::Tensor y, dx, dweight, dbias;
};

RenormResult run(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                 torch::Tensor running_mean, torch::Tensor running_var, const torch::Tensor& dy,
                 double r_max, double d_max) {
  const torch::Tensor xl = x.detach().clone().requires_grad_(true);
  const torch::Tensor wl = weight.detach().clone().requires_grad_(true);
  const torch::Tensor bl = bias.detach().clone().requires_grad_(true);
  const torch::Tensor y =
      batch_renorm2d(xl, wl, bl, running_mean, running_var, /*training=*/true, r_max, d_max);
  y.backward(dy);
  return {y.detach(), xl.grad(), wl.grad(), bl.grad()};
}

// Moving averages chosen so that, against batches of mean ~0.3 and standard deviation ~1.5,
// some of the six channels' r and d are clipped (above and below) and others are not.
struct Inputs {
  torch::Tensor x, weight, bias, running_mean, running_var, dy;
};

Inputs inputs() {
  torch::manual_seed(3);
  const std::int64_t channels = 6;
  Inputs s;
  s.x = torch::randn({4, channels, 5, 3}, kDouble) * 1.5 + 0.3;
  s.weight = torch::randn({channels}, kDouble);
  s.bias = torch::randn({channels}, kDouble);
  s.running_mean = torch::tensor({3.0, -0.2, 0.3, 5.0, -4.0, 0.1}, kDouble);
  s.running_var = torch::tensor({0.25, 16.0, 2.25, 1.5, 4.0, 0.5}, kDouble);
  s.dy = torch::randn({4, channels, 5, 3}, kDouble);
  return s;
}

TEST(BatchRenorm, MatchesTheFormulaValuesAndGradientsInDouble) {
  const double r_max = 2.0, d_max = 0.5;
  const Inputs s = inputs();
  const RenormReference expected = renorm_reference(s.x, s.weight, s.bias, s.running_mean,
                                                    s.running_var, s.dy, r_max, d_max, 0.1, 1e-5);
  // The case exercises both sides of each clip.
  const torch::Tensor r_clipped = expected.r.eq(r_max) | expected.r.eq(1 / r_max);
  const torch::Tensor d_clipped = expected.d.abs().eq(d_max);
  ASSERT_TRUE(r_clipped.any().item<bool>() && (~r_clipped).any().item<bool>()) << expected.r;
  ASSERT_TRUE(d_clipped.any().item<bool>() && (~d_clipped).any().item<bool>()) << expected.d;

  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    torch::Tensor running_mean = s.running_mean.clone();
    torch::Tensor running_var = s.running_var.clone();
    const RenormResult actual = run(s.x.contiguous(format), s.weight, s.bias, running_mean,
                                    running_var, s.dy, r_max, d_max);
    expect_near(actual.y, expected.y, 1e-10, "y");
    expect_near(actual.dx, expected.dx, 1e-10, "dx");
    expect_near(actual.dweight, expected.dweight, 1e-10, "dweight");
    expect_near(actual.dbias, expected.dbias, 1e-10, "dbias");
    expect_near(running_mean, expected.running_mean, 1e-12, "running_mean");
    expect_near(running_var, expected.running_var, 1e-12, "running_var");
  }
}

TEST(BatchRenorm, WithoutCorrectionsTrainsAsBatchNorm) {
  // r_max = 1, d_max = 0: r = 1 and d = 0, whatever the moving averages say.
  const Inputs s = inputs();
  torch::Tensor bn_mean = s.running_mean.clone(), bn_var = s.running_var.clone();
  const torch::Tensor xl = s.x.clone().requires_grad_(true);
  const torch::Tensor wl = s.weight.clone().requires_grad_(true);
  const torch::Tensor bl = s.bias.clone().requires_grad_(true);
  const torch::Tensor y = torch::batch_norm(xl, wl, bl, bn_mean, bn_var, true, 0.1, 1e-5, false);
  y.backward(s.dy);
  torch::Tensor brn_mean = s.running_mean.clone(), brn_var = s.running_var.clone();
  const RenormResult brn = run(s.x, s.weight, s.bias, brn_mean, brn_var, s.dy, 1.0, 0.0);
  expect_near(brn.y, y.detach(), 1e-10, "y");
  expect_near(brn.dx, xl.grad(), 1e-10, "dx");
  expect_near(brn.dweight, wl.grad(), 1e-10, "dweight");
  expect_near(brn.dbias, bl.grad(), 1e-10, "dbias");
  expect_near(brn_mean, bn_mean, 1e-12, "running_mean");
  expect_near(brn_var, bn_var, 1e-12, "running_var");
}

TEST(BatchRenorm, EvaluationNormalizesWithTheMovingAverages) {
  const Inputs s = inputs();
  torch::Tensor running_mean = s.running_mean.clone(), running_var = s.running_var.clone();
  const torch::Tensor y = batch_renorm2d(s.x, s.weight, s.bias, running_mean, running_var,
                                         /*training=*/false, 3.0, 5.0);
  const auto view = [](const torch::Tensor& t) { return t.view({1, -1, 1, 1}); };
  const torch::Tensor expected =
      (s.x - view(s.running_mean)) / (view(s.running_var) + 1e-5).sqrt() * view(s.weight) +
      view(s.bias);
  expect_near(y, expected, 1e-12, "y");
  EXPECT_TRUE(torch::equal(running_mean, s.running_mean)) << "evaluation changed the averages";
  EXPECT_TRUE(torch::equal(running_var, s.running_var));
}

TEST(BatchRenorm, LimitsRiseLinearlyOverTheWarmUp) {
  BatchRenorm2d layer(BatchRenorm2dOptions(4).r_max(3.0).d_max(5.0).warmup(100));
  EXPECT_EQ(layer->limits_after(0), (std::pair<double, double>{1.0, 0.0}));
  EXPECT_EQ(layer->limits_after(25), (std::pair<double, double>{1.5, 1.25}));
  EXPECT_EQ(layer->limits_after(100), (std::pair<double, double>{3.0, 5.0}));
  EXPECT_EQ(layer->limits_after(1000), (std::pair<double, double>{3.0, 5.0}));
  BatchRenorm2d immediate(BatchRenorm2dOptions(4).r_max(2.0).d_max(1.0));
  EXPECT_EQ(immediate->limits_after(0), (std::pair<double, double>{2.0, 1.0}));
}

// The module's output in training against the reference at its limits after `steps` steps.
void expect_module_step(BatchRenorm2d& layer, const Inputs& s, double r_max, double d_max) {
  const RenormReference expected = renorm_reference(
      s.x.to(torch::kFloat64), layer->weight.detach().to(torch::kFloat64),
      layer->bias.detach().to(torch::kFloat64), layer->running_mean.to(torch::kFloat64),
      layer->running_var.to(torch::kFloat64), s.dy, r_max, d_max, 0.1, 1e-5);
  torch::NoGradGuard no_grad;
  const torch::Tensor y = layer->forward(s.x.to(torch::kFloat32));
  EXPECT_TRUE(torch::allclose(y.to(torch::kFloat64), expected.y, 1e-4, 1e-4))
      << "r_max " << r_max << " d_max " << d_max;
}

TEST(BatchRenorm, ModuleCountsStepsAndWarmsUp) {
  const Inputs s = inputs();
  BatchRenorm2d layer(BatchRenorm2dOptions(6).r_max(2.0).d_max(0.5).warmup(2));
  layer->running_mean.copy_(s.running_mean);
  layer->running_var.copy_(s.running_var);
  layer->train();
  expect_module_step(layer, s, 1.0, 0.0);  // step 0: batch normalization
  EXPECT_EQ(layer->num_batches_tracked.item<std::int64_t>(), 1);
  expect_module_step(layer, s, 1.5, 0.25);
  expect_module_step(layer, s, 2.0, 0.5);
  expect_module_step(layer, s, 2.0, 0.5);
  EXPECT_EQ(layer->num_batches_tracked.item<std::int64_t>(), 4);
  layer->eval();
  torch::NoGradGuard no_grad;
  layer->forward(s.x.to(torch::kFloat32));
  EXPECT_EQ(layer->num_batches_tracked.item<std::int64_t>(), 4) << "evaluation is not a step";
}

TEST(BatchRenorm, SavesAndLoadsItsMovingAveragesAndStepCount) {
  const Inputs s = inputs();
  BatchRenorm2d trained(BatchRenorm2dOptions(6).r_max(2.0).d_max(0.5).warmup(2));
  trained->train();
  for (int step = 0; step < 3; ++step) trained->forward(s.x.to(torch::kFloat32));
  std::stringstream saved;
  torch::save(trained, saved);

  BatchRenorm2d loaded(BatchRenorm2dOptions(6).r_max(2.0).d_max(0.5).warmup(2));
  torch::load(loaded, saved);
  const auto buffers = loaded->named_buffers();
  for (const char* name : {"running_mean", "running_var", "num_batches_tracked"}) {
    ASSERT_TRUE(buffers.contains(name)) << name;
    EXPECT_TRUE(torch::equal(buffers[name], trained->named_buffers()[name])) << name;
  }
  EXPECT_EQ(loaded->named_parameters().keys(), (std::vector<std::string>{"weight", "bias"}));

  // A layer that has finished warming up forgets that when an earlier state is loaded.
  loaded->train();
  expect_module_step(loaded, s, 2.0, 0.5);
  BatchRenorm2d fresh(BatchRenorm2dOptions(6).r_max(2.0).d_max(0.5).warmup(2));
  std::stringstream initial;
  torch::save(fresh, initial);
  torch::load(loaded, initial);
  loaded->running_mean.copy_(s.running_mean);
  loaded->running_var.copy_(s.running_var);
  expect_module_step(loaded, s, 1.0, 0.0);
}

TEST(BatchRenorm, RefusesOneValuePerChannelInTraining) {
  const torch::Tensor x = torch::randn({1, 3, 1, 1});
  torch::Tensor running_mean = torch::zeros({3}), running_var = torch::ones({3});
  EXPECT_THROW(batch_renorm2d(x, torch::ones({3}), torch::zeros({3}), running_mean, running_var,
                              true, 3.0, 5.0),
               c10::Error);
  // One example of several positions is a batch statistic all the same.
  const torch::Tensor one_example = torch::randn({1, 3, 4, 4});
  EXPECT_TRUE(torch::isfinite(batch_renorm2d(one_example, torch::ones({3}), torch::zeros({3}),
                                             running_mean, running_var, true, 3.0, 5.0))
                  .all()
                  .item<bool>());
  EXPECT_THROW(batch_renorm2d(torch::randn({2, 4, 3, 3}), torch::ones({3}), torch::zeros({3}),
                              running_mean, running_var, true, 3.0, 5.0),
               c10::Error);
}

}  // namespace
}  // namespace normtrain
