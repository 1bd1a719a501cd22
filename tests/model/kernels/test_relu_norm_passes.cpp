#include "normtrain/model/kernels/relu_norm_passes.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace normtrain::kernels {
namespace {

// One example's activations [hw, channels] with what makes the passes' arithmetic differ if
// anything does: a large mean against the spread, negative values and zeros (the ReLU),
// -0, and a block of positions that is not a multiple of the passes' block size.
template <typename T>
std::vector<T> activations(std::int64_t hw, std::int64_t channels, unsigned seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<T> values(static_cast<std::size_t>(hw * channels));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::int64_t c = static_cast<std::int64_t>(i) % channels;
    values[i] = static_cast<T>(c % 3 == 0 ? 100.0 + 0.1 * normal(generator) : normal(generator));
  }
  values[0] = T(0);
  if (values.size() > 1) values[1] = T(-0.0);
  return values;
}

template <typename T>
std::vector<T> coefficients(std::int64_t channels, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(-2.0, 2.0);
  std::vector<T> values(static_cast<std::size_t>(channels));
  for (T& v : values) v = static_cast<T>(uniform(generator));
  return values;
}

template <typename V>
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(typename V::value_type)) == 0;
}

// Every output of the four passes on one example, from one build of them.
template <typename T>
struct PassOutputs {
  std::vector<T> center;
  std::vector<double> sum_d, sum_d2, dy_d, dy_sum;
  std::vector<T> y, dx;
};

template <typename T>
PassOutputs<T> run_passes(const ReluNormPasses<T>& passes, std::int64_t hw, std::int64_t channels) {
  const std::vector<T> x = activations<T>(hw, channels, 1);
  const std::vector<T> dy = activations<T>(hw, channels, 2);
  const std::vector<T> a = coefficients<T>(channels, 3);
  const std::vector<T> b = coefficients<T>(channels, 4);
  const std::vector<T> k = coefficients<T>(channels, 5);
  const auto c = static_cast<std::size_t>(channels);
  PassOutputs<T> out{std::vector<T>(c),       std::vector<double>(c), std::vector<double>(c),
                     std::vector<double>(c),  std::vector<double>(c), std::vector<T>(x.size()),
                     std::vector<T>(x.size())};
  passes.relu_moments(x.data(), hw, channels, out.center.data(), out.sum_d.data(),
                      out.sum_d2.data());
  passes.gradient_moments(dy.data(), x.data(), hw, channels, out.center.data(), out.dy_d.data(),
                          out.dy_sum.data());
  passes.affine_forward(x.data(), hw, channels, out.center.data(), a.data(), b.data(),
                        out.y.data());
  passes.affine_backward(dy.data(), x.data(), hw, channels, out.center.data(), a.data(), b.data(),
                         k.data(), out.dx.data());
  return out;
}

template <typename T>
void expect_builds_agree_bit_for_bit() {
  if (!available(InstructionSet::kAvx2)) {
    GTEST_SKIP() << "this build or this CPU has no AVX2 + FMA passes to compare";
  }
  // The network's counts (compiled in) and others (counted at run time); position counts below,
  // at and above the passes' block of 16, and an example of the first block's size.
  for (const std::int64_t channels : {8, 16, 24, 1, 5, 18, 33, 64}) {
    for (const std::int64_t hw : {1, 15, 16, 17, 129, 676}) {
      SCOPED_TRACE(::testing::Message() << channels << " channels, " << hw << " positions");
      const PassOutputs<T> baseline =
          run_passes(relu_norm_passes<T>(channels, InstructionSet::kBaseline), hw, channels);
      const PassOutputs<T> avx2 =
          run_passes(relu_norm_passes<T>(channels, InstructionSet::kAvx2), hw, channels);
      EXPECT_TRUE(same_bits(baseline.center, avx2.center));
      EXPECT_TRUE(same_bits(baseline.sum_d, avx2.sum_d));
      EXPECT_TRUE(same_bits(baseline.sum_d2, avx2.sum_d2));
      EXPECT_TRUE(same_bits(baseline.dy_d, avx2.dy_d));
      EXPECT_TRUE(same_bits(baseline.dy_sum, avx2.dy_sum));
      EXPECT_TRUE(same_bits(baseline.y, avx2.y));
      EXPECT_TRUE(same_bits(baseline.dx, avx2.dx));
    }
  }
}

TEST(ReluNormPasses, Avx2BuildGivesTheBaselinesFloatResultsBitForBit) {
  expect_builds_agree_bit_for_bit<float>();
}

TEST(ReluNormPasses, Avx2BuildGivesTheBaselinesDoubleResultsBitForBit) {
  expect_builds_agree_bit_for_bit<double>();
}

// What the passes compute, against plain double sums, in the build the kernels use.
TEST(ReluNormPasses, ComputeTheCenteredSumsAndTheAffineMaps) {
  const std::int64_t hw = 100;
  for (const std::int64_t channels : {8, 24, 5}) {
    SCOPED_TRACE(::testing::Message() << channels << " channels");
    const std::vector<float> x = activations<float>(hw, channels, 1);
    const std::vector<float> dy = activations<float>(hw, channels, 2);
    const ReluNormPasses<float>& passes = channels == 8    ? relu_norm_passes<float, 8>()
                                          : channels == 24 ? relu_norm_passes<float, 24>()
                                                           : relu_norm_passes<float, 0>();
    const auto c = static_cast<std::size_t>(channels);
    std::vector<float> center(c);
    std::vector<double> sum_d(c, 1.0), sum_d2(c, 1.0), dy_d(c, 1.0), dy_sum(c, 1.0);
    passes.relu_moments(x.data(), hw, channels, center.data(), sum_d.data(), sum_d2.data());
    passes.gradient_moments(dy.data(), x.data(), hw, channels, center.data(), dy_d.data(),
                            dy_sum.data());
    const std::vector<float> scale = coefficients<float>(channels, 3);
    const std::vector<float> shift = coefficients<float>(channels, 4);
    const std::vector<float> k3 = coefficients<float>(channels, 5);
    std::vector<float> y(x.size());
    std::vector<float> dx(x.size());
    passes.affine_forward(x.data(), hw, channels, center.data(), scale.data(), shift.data(),
                          y.data());
    passes.affine_backward(dy.data(), x.data(), hw, channels, center.data(), scale.data(),
                           shift.data(), k3.data(), dx.data());
    for (std::size_t ch = 0; ch < c; ++ch) {
      double d = 0.0, d2 = 0.0, g = 0.0, gd = 0.0;
      for (std::int64_t p = 0; p < hw; ++p) {
        const std::size_t i = static_cast<std::size_t>(p) * c + ch;
        const double xi = x[i];
        const double dyi = dy[i];
        const double r = std::max(xi, 0.0) - double{center[ch]};
        d += r;
        d2 += r * r;
        g += dyi;
        gd += dyi * r;
        const double expected_y = r * double{scale[ch]} + double{shift[ch]};
        EXPECT_NEAR(y[i], expected_y, 1e-5 * (1.0 + std::abs(expected_y)));
        const double expected_dx = xi <= 0.0 ? 0.0
                                             : dyi * double{scale[ch]} +
                                                   (xi - double{center[ch]}) * double{k3[ch]} +
                                                   double{shift[ch]};
        EXPECT_NEAR(dx[i], expected_dx, 1e-5 * (1.0 + std::abs(expected_dx)));
      }
      // The sums are added to what the caller's accumulators held (1 here).
      EXPECT_NEAR(sum_d[ch] - 1.0, d, 1e-3);
      EXPECT_NEAR(sum_d2[ch] - 1.0, d2, 1e-6 * d2 + 1e-3);
      EXPECT_NEAR(dy_sum[ch] - 1.0, g, 1e-6 * std::abs(g) + 1e-3);
      EXPECT_NEAR(dy_d[ch] - 1.0, gd, 1e-6 * std::abs(gd) + 1e-3);
      // The center is a mean of relu(x) over a sample of the positions: within the values' range.
      EXPECT_GE(center[ch], 0.0f);
    }
  }
}

TEST(ReluNormPasses, TheKernelsUseTheFastestAvailableBuild) {
  const InstructionSet fastest =
      available(InstructionSet::kAvx2) ? InstructionSet::kAvx2 : InstructionSet::kBaseline;
  const ReluNormPasses<float>& used = relu_norm_passes<float, 16>();
  const ReluNormPasses<float>& expected = relu_norm_passes<float, 16>(fastest);
  EXPECT_EQ(&used, &expected);
  const ReluNormPasses<double>& used_double = relu_norm_passes<double, 0>();
  const ReluNormPasses<double>& expected_double = relu_norm_passes<double, 0>(fastest);
  EXPECT_EQ(used_double.affine_forward, expected_double.affine_forward);
  EXPECT_TRUE(available(InstructionSet::kBaseline));
}

}  // namespace
}  // namespace normtrain::kernels
