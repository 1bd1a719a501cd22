#include "normtrain/data/augment.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace normtrain {
namespace {

TEST(Rotation, ZeroDegreesIsTheIdentity) {
  torch::manual_seed(3);
  const torch::Tensor images = torch::rand({4, 1, 28, 28});
  const torch::Tensor rotated = rotate_batch(images, torch::zeros({4}));
  EXPECT_TRUE(torch::equal(rotated, images));
}

TEST(Rotation, KeepsShapeAndDtype) {
  const torch::Tensor images = torch::rand({3, 1, 28, 28});
  const torch::Tensor rotated = rotate_batch(images, torch::tensor({-7.0, 0.0, 7.0}));
  EXPECT_EQ(rotated.sizes(), images.sizes());
  EXPECT_EQ(rotated.dtype(), images.dtype());
}

TEST(Rotation, NinetyDegreesMovesAKnownPixel) {
  // A single lit pixel left of centre ends up on the vertical axis, the centre stays put.
  torch::Tensor image = torch::zeros({1, 1, 28, 28});
  image[0][0][14][4] = 1.0;
  const torch::Tensor rotated = rotate_batch(image, torch::tensor({90.0}));
  EXPECT_FLOAT_EQ(rotated.sum().item<float>(), 1.0f);
  const torch::Tensor lit = rotated[0][0].nonzero();
  ASSERT_EQ(lit.size(0), 1);
  const auto row = lit[0][0].item<std::int64_t>();
  const auto col = lit[0][1].item<std::int64_t>();
  EXPECT_TRUE(col == 13 || col == 14) << row << "," << col;
  EXPECT_TRUE(row == 4 || row == 23) << row << "," << col;
}

TEST(Rotation, EachImageGetsItsOwnAngleAndZeroFill) {
  const torch::Tensor ones = torch::ones({2, 1, 28, 28});
  const torch::Tensor rotated = rotate_batch(ones, torch::tensor({0.0, 7.0}));
  EXPECT_TRUE(torch::equal(rotated[0], ones[0]));
  // Corners of the rotated image sample outside the source and are filled with 0.
  EXPECT_EQ(rotated[1][0][0][0].item<float>(), 0.0f);
  EXPECT_LT(rotated[1].sum().item<float>(), 28.0f * 28.0f);
  // Pixels are only moved, never blended: nearest-neighbour keeps values in {0, 1}.
  EXPECT_TRUE(torch::logical_or(rotated == 0, rotated == 1).all().item<bool>());
}

// The grid must equal affine_grid's exactly, not nearly: nearest-neighbour sampling turns a
// last-bit difference at a pixel boundary into a different pixel, and results into others.
TEST(Rotation, GridIsAffineGridBitForBit) {
  namespace F = torch::nn::functional;
  torch::manual_seed(11);
  for (int trial = 0; trial < 20; ++trial) {
    const torch::Tensor radians = (torch::rand({128}) * 2 - 1) * (kMaxRotationDegrees * M_PI / 180);
    const torch::Tensor c = radians.cos();
    const torch::Tensor s = radians.sin();
    const torch::Tensor z = torch::zeros_like(c);
    const torch::Tensor theta = torch::stack({c, -s, z, s, c, z}, 1).view({-1, 2, 3});
    const torch::Tensor expected = F::affine_grid(theta, {128, 1, 28, 28}, false);
    ASSERT_TRUE(torch::equal(rotation_grid(c, s, 28, 28), expected)) << "trial " << trial;
  }
  // Non-square images: x runs along the width, y along the height.
  const torch::Tensor c = torch::tensor({0.8f});
  const torch::Tensor s = torch::tensor({0.6f});
  const torch::Tensor z = torch::zeros({1});
  const torch::Tensor theta = torch::stack({c, -s, z, s, c, z}, 1).view({-1, 2, 3});
  EXPECT_TRUE(torch::equal(rotation_grid(c, s, 5, 9), F::affine_grid(theta, {1, 1, 5, 9}, false)));
}

}  // namespace
}  // namespace normtrain
