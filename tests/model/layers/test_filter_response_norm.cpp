#include "normtrain/model/layers/filter_response_norm.hpp"

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "float64_checks.hpp"

namespace normtrain {
namespace {

using testing::expect_near;
using testing::kDouble;

// FRN + TLU from the paper's formulas, one (example, channel) plane at a time in plain double
// arithmetic, with the backward pass derived by hand: for u = x / sqrt(nu^2 + eps) over the
// plane's P positions, du_i/dx_j = s [i = j] - s^3 x_i x_j / P, with s = 1 / sqrt(nu^2 + eps).
struct FrnReference {
  torch::Tensor z, dx, dweight, dbias, dtau;
};

FrnReference frn_reference(const torch::Tensor& x, const torch::Tensor& weight,
                           const torch::Tensor& bias, const torch::Tensor& tau,
                           const torch::Tensor& dz, double eps) {
  const std::int64_t n = x.size(0), channels = x.size(1), h = x.size(2), w = x.size(3);
  const double positions = static_cast<double>(h * w);
  FrnReference out{torch::empty_like(x), torch::empty_like(x), torch::zeros({channels}, kDouble),
                   torch::zeros({channels}, kDouble), torch::zeros({channels}, kDouble)};
  const auto X = x.accessor<double, 4>();
  const auto G = dz.accessor<double, 4>();
  auto Z = out.z.accessor<double, 4>();
  auto DX = out.dx.accessor<double, 4>();
  auto DW = out.dweight.accessor<double, 1>();
  auto DB = out.dbias.accessor<double, 1>();
  auto DT = out.dtau.accessor<double, 1>();
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const double gamma = weight[c].item<double>();
      const double beta = bias[c].item<double>();
      const double threshold = tau[c].item<double>();
      double nu2 = 0.0;
      for (std::int64_t j = 0; j < h; ++j)
        for (std::int64_t k = 0; k < w; ++k) nu2 += X[i][c][j][k] * X[i][c][j][k];
      nu2 /= positions;
      const double s = 1.0 / std::sqrt(nu2 + eps);
      double sum_gu_x = 0.0;  // sum over the plane of dL/du * x
      for (std::int64_t j = 0; j < h; ++j) {
        for (std::int64_t k = 0; k < w; ++k) {
          const double y = gamma * X[i][c][j][k] * s + beta;
          Z[i][c][j][k] = std::max(y, threshold);
          const bool passes = y > threshold;
          const double gy = passes ? G[i][c][j][k] : 0.0;
          DT[c] += passes ? 0.0 : G[i][c][j][k];
          DW[c] += gy * X[i][c][j][k] * s;
          DB[c] += gy;
          sum_gu_x += gy * gamma * X[i][c][j][k];
        }
      }
      for (std::int64_t j = 0; j < h; ++j) {
        for (std::int64_t k = 0; k < w; ++k) {
          const double y = gamma * X[i][c][j][k] * s + beta;
          const double gu = y > threshold ? G[i][c][j][k] * gamma : 0.0;
          DX[i][c][j][k] = s * gu - s * s * s * X[i][c][j][k] * sum_gu_x / positions;
        }
      }
    }
  }
  return out;
}

TEST(FilterResponseNorm, MatchesTheFormulaValuesAndGradientsInDouble) {
  torch::manual_seed(5);
  const std::int64_t channels = 5;
  const torch::Tensor x = torch::randn({3, channels, 4, 6}, kDouble) * 2 + 0.5;
  const torch::Tensor weight = torch::randn({channels}, kDouble);
  const torch::Tensor bias = torch::randn({channels}, kDouble);
  const torch::Tensor tau = torch::randn({channels}, kDouble) * 0.5;
  const torch::Tensor dz = torch::randn({3, channels, 4, 6}, kDouble);
  const double eps = 1e-6;
  const FrnReference expected = frn_reference(x, weight, bias, tau, dz, eps);
  // Both sides of the threshold occur.
  const torch::Tensor thresholded = expected.z.eq(tau.view({1, -1, 1, 1}));
  ASSERT_TRUE(thresholded.any().item<bool>() && (~thresholded).any().item<bool>());

  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    const torch::Tensor xl = x.contiguous(format).detach().clone().requires_grad_(true);
    const torch::Tensor wl = weight.clone().requires_grad_(true);
    const torch::Tensor bl = bias.clone().requires_grad_(true);
    const torch::Tensor tl = tau.clone().requires_grad_(true);
    const torch::Tensor z = filter_response_norm_tlu2d(xl, wl, bl, tl, eps);
    z.backward(dz);
    expect_near(z.detach(), expected.z, 1e-12, "z");
    expect_near(xl.grad(), expected.dx, 1e-10, "dx");
    expect_near(wl.grad(), expected.dweight, 1e-10, "dweight");
    expect_near(bl.grad(), expected.dbias, 1e-10, "dbias");
    expect_near(tl.grad(), expected.dtau, 1e-10, "dtau");
  }
}

TEST(FilterResponseNorm, ModuleHasTimmsParametersAndTheSameFunctionInTrainingAndEvaluation) {
  FilterResponseNormTlu2d layer(FilterResponseNormTlu2dOptions(4));
  EXPECT_EQ(layer->named_parameters().keys(), (std::vector<std::string>{"weight", "bias", "tau"}));
  EXPECT_TRUE(layer->named_buffers().is_empty());
  EXPECT_TRUE(torch::equal(layer->weight, torch::ones({4})));
  EXPECT_TRUE(torch::equal(layer->bias, torch::zeros({4})));
  EXPECT_TRUE(torch::equal(layer->tau, torch::zeros({4})));
  EXPECT_DOUBLE_EQ(layer->options.eps(), 1e-6);
  torch::manual_seed(2);
  const torch::Tensor x = torch::randn({2, 4, 3, 3});
  layer->train();
  const torch::Tensor trained = layer->forward(x);
  layer->eval();
  EXPECT_TRUE(torch::equal(trained, layer->forward(x)));
  // With tau = 0 the TLU is a ReLU: nothing negative comes out.
  EXPECT_GE(trained.min().item<float>(), 0.0F);
}

TEST(FilterResponseNorm, AnAllZeroPlaneStaysFiniteAndRefusesBadArguments) {
  const torch::Tensor zeros = torch::zeros({1, 2, 3, 3}, torch::requires_grad());
  const torch::Tensor z =
      filter_response_norm_tlu2d(zeros, torch::ones({2}), torch::zeros({2}), torch::zeros({2}));
  z.sum().backward();
  EXPECT_TRUE(torch::isfinite(z).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(zeros.grad()).all().item<bool>());
  EXPECT_THROW(filter_response_norm_tlu2d(torch::randn({2, 3, 4}), torch::ones({3}),
                                          torch::zeros({3}), torch::zeros({3})),
               c10::Error);
  EXPECT_THROW(filter_response_norm_tlu2d(torch::randn({2, 3, 4, 4}), torch::ones({2}),
                                          torch::zeros({3}), torch::zeros({3})),
               c10::Error);
}

}  // namespace
}  // namespace normtrain
