#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace normtrain::testing {

// The layer tests' references are computed in float64 from the formulas.
inline const torch::TensorOptions kDouble = torch::TensorOptions().dtype(torch::kFloat64);

// Expects `actual` within `tolerance` (absolute and relative) of `expected`; on failure names
// `what` and the largest difference.
inline void expect_near(const torch::Tensor& actual, const torch::Tensor& expected,
                        double tolerance, const char* what) {
  EXPECT_TRUE(torch::allclose(actual, expected, tolerance, tolerance))
      << what << ": largest difference " << (actual - expected).abs().max().item<double>();
}

}  // namespace normtrain::testing
