#include "normtrain/model/layers/std_conv.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "float64_checks.hpp"

namespace normtrain {
namespace {

using testing::expect_near;
using testing::kDouble;

// Each output channel's weight standardized over its fan-in, from the formula in plain double
// arithmetic: (w - mean) / sqrt(biased variance + eps).
torch::Tensor reference_standardized(const torch::Tensor& weight, double eps) {
  const torch::Tensor flat = weight.reshape({weight.size(0), -1}).contiguous();
  torch::Tensor out = torch::empty_like(flat);
  const auto W = flat.accessor<double, 2>();
  auto O = out.accessor<double, 2>();
  const std::int64_t fan_in = flat.size(1);
  for (std::int64_t o = 0; o < flat.size(0); ++o) {
    double mean = 0.0;
    for (std::int64_t i = 0; i < fan_in; ++i) mean += W[o][i];
    mean /= static_cast<double>(fan_in);
    double var = 0.0;
    for (std::int64_t i = 0; i < fan_in; ++i) var += (W[o][i] - mean) * (W[o][i] - mean);
    var /= static_cast<double>(fan_in);
    for (std::int64_t i = 0; i < fan_in; ++i) O[o][i] = (W[o][i] - mean) / std::sqrt(var + eps);
  }
  return out.reshape_as(weight);
}

// The gradient with respect to w, given the one with respect to the standardized weight g, by
// hand: (g - mean(g) - w_hat mean(g w_hat)) / sqrt(var + eps) per output channel.
torch::Tensor reference_weight_gradient(const torch::Tensor& weight, const torch::Tensor& g,
                                        double eps) {
  const torch::Tensor flat = weight.reshape({weight.size(0), -1}).contiguous();
  const torch::Tensor gflat = g.reshape({g.size(0), -1}).contiguous();
  const torch::Tensor standardized = reference_standardized(weight, eps).reshape_as(flat);
  torch::Tensor out = torch::empty_like(flat);
  const auto W = flat.accessor<double, 2>();
  const auto G = gflat.accessor<double, 2>();
  const auto S = standardized.accessor<double, 2>();
  auto O = out.accessor<double, 2>();
  const std::int64_t fan_in = flat.size(1);
  for (std::int64_t o = 0; o < flat.size(0); ++o) {
    double mean = 0.0, mean_g = 0.0, mean_gs = 0.0;
    for (std::int64_t i = 0; i < fan_in; ++i) {
      mean += W[o][i];
      mean_g += G[o][i];
      mean_gs += G[o][i] * S[o][i];
    }
    mean /= static_cast<double>(fan_in);
    mean_g /= static_cast<double>(fan_in);
    mean_gs /= static_cast<double>(fan_in);
    double var = 0.0;
    for (std::int64_t i = 0; i < fan_in; ++i) var += (W[o][i] - mean) * (W[o][i] - mean);
    var /= static_cast<double>(fan_in);
    for (std::int64_t i = 0; i < fan_in; ++i) {
      O[o][i] = (G[o][i] - mean_g - S[o][i] * mean_gs) / std::sqrt(var + eps);
    }
  }
  return out.reshape_as(weight);
}

TEST(StdConv, StandardizesEachOutputChannelAsTheFormulaSays) {
  torch::manual_seed(4);
  const torch::Tensor weight = torch::randn({6, 3, 3, 3}, kDouble) * 0.3 + 0.1;
  const torch::Tensor standardized = standardize_weight(weight, 1e-6);
  expect_near(standardized, reference_standardized(weight, 1e-6), 1e-12, "w_hat");
  // Mean 0 and variance 1 (up to eps) over each fan-in.
  const torch::Tensor flat = standardized.reshape({6, -1});
  expect_near(flat.mean(1), torch::zeros({6}, kDouble), 1e-12, "mean");
  expect_near(flat.var(1, /*unbiased=*/false), torch::ones({6}, kDouble), 1e-4, "variance");
}

TEST(StdConv, ConvolvesWithTheStandardizedWeightValuesAndGradientsInDouble) {
  torch::manual_seed(6);
  StdConv2d layer(StdConv2dOptions(3, 5, 3));
  layer->to(torch::kFloat64);
  const torch::Tensor x = torch::randn({2, 3, 7, 6}, kDouble);
  const torch::Tensor dy = torch::randn({2, 5, 5, 4}, kDouble);

  // The reference: the stock convolution with the standardized weight as a leaf, then the
  // gradient carried back to the raw weight by hand.
  const torch::Tensor w_hat =
      reference_standardized(layer->weight.detach(), 1e-6).requires_grad_(true);
  const torch::Tensor x_ref = x.clone().requires_grad_(true);
  const torch::Tensor y_ref = torch::conv2d(x_ref, w_hat);
  y_ref.backward(dy);
  const torch::Tensor dweight_ref =
      reference_weight_gradient(layer->weight.detach(), w_hat.grad(), 1e-6);

  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    layer->zero_grad();
    const torch::Tensor xl = x.contiguous(format).detach().clone().requires_grad_(true);
    const torch::Tensor y = layer->forward(xl);
    y.backward(dy);
    expect_near(y.detach(), y_ref.detach(), 1e-12, "y");
    expect_near(xl.grad(), x_ref.grad(), 1e-12, "dx");
    expect_near(layer->weight.grad(), dweight_ref, 1e-10, "dweight");
  }
}

TEST(StdConv, InitialisesAsConv2dWithOneWeightNamedLikeTimms) {
  torch::manual_seed(9);
  StdConv2d standardized(StdConv2dOptions(8, 24, 3));
  torch::manual_seed(9);
  torch::nn::Conv2d plain(torch::nn::Conv2dOptions(8, 24, 3).bias(false));
  EXPECT_TRUE(torch::equal(standardized->weight, plain->weight));
  EXPECT_EQ(standardized->named_parameters().keys(), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(standardized->forward(torch::randn({1, 8, 5, 5})).sizes(),
            (std::vector<std::int64_t>{1, 24, 3, 3}));
}

}  // namespace
}  // namespace normtrain
