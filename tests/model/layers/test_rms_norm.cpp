#include "normtrain/model/layers/rms_norm.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "float64_checks.hpp"

namespace normtrain {
namespace {

using testing::expect_near;
using testing::kDouble;

// RMS normalization from its formula, one example at a time in plain double arithmetic, with
// the backward pass derived by hand: for u = x / sqrt(mean(x^2) + eps) over the example's P
// values, du_i/dx_j = s [i = j] - s^3 x_i x_j / P, with s = 1 / sqrt(mean(x^2) + eps).
struct RmsReference {
  torch::Tensor y, dx, dweight;
};

RmsReference rms_reference(const torch::Tensor& x, const torch::Tensor& weight,
                           const torch::Tensor& dy, double eps) {
  const std::int64_t n = x.size(0), channels = x.size(1), h = x.size(2), w = x.size(3);
  const double values = static_cast<double>(channels * h * w);
  RmsReference out{torch::empty_like(x), torch::empty_like(x), torch::zeros({channels}, kDouble)};
  const auto X = x.accessor<double, 4>();
  const auto G = dy.accessor<double, 4>();
  const auto W = weight.accessor<double, 1>();
  auto Y = out.y.accessor<double, 4>();
  auto DX = out.dx.accessor<double, 4>();
  auto DW = out.dweight.accessor<double, 1>();
  for (std::int64_t i = 0; i < n; ++i) {
    double mean_square = 0.0;
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t j = 0; j < h; ++j)
        for (std::int64_t k = 0; k < w; ++k) mean_square += X[i][c][j][k] * X[i][c][j][k];
    mean_square /= values;
    const double s = 1.0 / std::sqrt(mean_square + eps);
    double sum_gu_x = 0.0;
    for (std::int64_t c = 0; c < channels; ++c) {
      for (std::int64_t j = 0; j < h; ++j) {
        for (std::int64_t k = 0; k < w; ++k) {
          Y[i][c][j][k] = W[c] * X[i][c][j][k] * s;
          DW[c] += G[i][c][j][k] * X[i][c][j][k] * s;
          sum_gu_x += G[i][c][j][k] * W[c] * X[i][c][j][k];
        }
      }
    }
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t j = 0; j < h; ++j)
        for (std::int64_t k = 0; k < w; ++k)
          DX[i][c][j][k] = s * G[i][c][j][k] * W[c] - s * s * s * X[i][c][j][k] * sum_gu_x / values;
  }
  return out;
}

TEST(RmsNorm, MatchesTheFormulaValuesAndGradientsInDouble) {
  torch::manual_seed(7);
  const std::int64_t channels = 6;
  // Not centred: a mean far from 0 is what RMS normalization keeps and layer norm removes.
  const torch::Tensor x = torch::randn({3, channels, 4, 5}, kDouble) + 1.5;
  const torch::Tensor weight = torch::randn({channels}, kDouble);
  const torch::Tensor dy = torch::randn({3, channels, 4, 5}, kDouble);
  const RmsReference expected = rms_reference(x, weight, dy, 1e-5);
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    const torch::Tensor xl = x.contiguous(format).detach().clone().requires_grad_(true);
    const torch::Tensor wl = weight.clone().requires_grad_(true);
    const torch::Tensor y = rms_norm2d(xl, wl, 1e-5);
    y.backward(dy);
    expect_near(y.detach(), expected.y, 1e-12, "y");
    expect_near(xl.grad(), expected.dx, 1e-10, "dx");
    expect_near(wl.grad(), expected.dweight, 1e-10, "dweight");
  }
}

TEST(RmsNorm, ModuleHasOneScalePerChannelAndNoBias) {
  RmsNorm2d layer(RmsNorm2dOptions(8));
  EXPECT_EQ(layer->named_parameters().keys(), (std::vector<std::string>{"weight"}));
  EXPECT_TRUE(torch::equal(layer->weight, torch::ones({8})));
  EXPECT_TRUE(layer->named_buffers().is_empty());
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({2, 8, 3, 3}) * 4 + 2;
  const torch::Tensor y = layer->forward(x);
  // Each example comes out with a mean square of 1 (up to eps), its mean kept.
  const torch::Tensor mean_square = y.square().mean({1, 2, 3});
  EXPECT_TRUE(torch::allclose(mean_square, torch::ones({2}), 1e-4, 1e-4)) << mean_square;
  EXPECT_GT(y.mean().item<float>(), 0.3F);
  EXPECT_THROW(rms_norm2d(x, torch::ones({3})), c10::Error);
}

}  // namespace
}  // namespace normtrain
