#include "normtrain/data/augmented_inputs.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "normtrain/data/augment.hpp"

namespace normtrain {
namespace {

constexpr double kMean = 0.1307;
constexpr double kStd = 0.3081;

torch::Tensor random_pixels(std::int64_t count, std::int64_t height, std::int64_t width) {
  return torch::randint(0, 256, {count, height, width}, torch::kUInt8);
}

// Training results depend on every input bit: the one-pass kernel must equal the operators
// exactly, over many images and angles, including those whose samples fall on pixel boundaries.
TEST(AugmentedInputs, EqualTheOperatorsBitForBit) {
  torch::manual_seed(5);
  const torch::Tensor pixels = random_pixels(300, 28, 28);
  for (int trial = 0; trial < 50; ++trial) {
    const torch::Tensor picked = torch::randint(0, 300, {128}, torch::kInt64);
    const torch::Tensor angles = (torch::rand({128}) * 2 - 1) * kMaxRotationDegrees;
    const torch::Tensor expected =
        augmented_inputs_by_operators(pixels, picked, angles, kMean, kStd);
    const torch::Tensor actual = augmented_inputs(pixels, picked, angles, kMean, kStd);
    ASSERT_EQ(actual.sizes(), expected.sizes());
    ASSERT_TRUE(torch::equal(actual, expected))
        << "trial " << trial << ": " << actual.ne(expected).sum().item<std::int64_t>()
        << " pixels differ";
  }
}

TEST(AugmentedInputs, EqualTheOperatorsAtRightAnglesAndOnOtherShapes) {
  torch::manual_seed(6);
  const torch::Tensor angles =
      torch::tensor({0.0f, 90.0f, -90.0f, 180.0f, 45.0f, 30.0f, -7.0f, 7.0f, 0.5f, 360.0f});
  const torch::Tensor picked = torch::arange(10, torch::kInt64);
  for (const auto& [height, width] : {std::pair{28, 28}, std::pair{5, 9}, std::pair{16, 7}}) {
    const torch::Tensor pixels = random_pixels(10, height, width);
    EXPECT_TRUE(torch::equal(augmented_inputs(pixels, picked, angles, kMean, kStd),
                             augmented_inputs_by_operators(pixels, picked, angles, kMean, kStd)))
        << height << "x" << width;
  }
}

TEST(AugmentedInputs, ZeroDegreesOnlyScalesAndNormalizes) {
  const torch::Tensor pixels = random_pixels(4, 28, 28);
  const torch::Tensor picked = torch::tensor({3, 1}, torch::kInt64);
  const torch::Tensor inputs = augmented_inputs(pixels, picked, torch::zeros({2}), kMean, kStd);
  const torch::Tensor expected =
      (pixels.index_select(0, picked).unsqueeze(1).to(torch::kFloat32) / 255.0 - kMean) / kStd;
  EXPECT_TRUE(torch::equal(inputs, expected));
}

TEST(AugmentedInputs, RejectsAnIndexOutsideTheImages) {
  const torch::Tensor pixels = random_pixels(4, 28, 28);
  EXPECT_THROW(
      augmented_inputs(pixels, torch::tensor({4}, torch::kInt64), torch::zeros({1}), kMean, kStd),
      c10::Error);
  EXPECT_THROW(
      augmented_inputs(pixels, torch::tensor({-1}, torch::kInt64), torch::zeros({1}), kMean, kStd),
      c10::Error);
}

}  // namespace
}  // namespace normtrain
