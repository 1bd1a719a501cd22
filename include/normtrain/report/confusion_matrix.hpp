#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "normtrain/data/mnist.hpp"

namespace normtrain {

// counts[actual][predicted] over a test set.
using ConfusionMatrix = std::array<std::array<std::int64_t, kNumClasses>, kNumClasses>;

ConfusionMatrix confusion_matrix(const std::vector<std::uint8_t>& actual,
                                 const std::vector<std::uint8_t>& predicted);

// A header row "actual/predicted" and the class names (0 to 9 for MNIST), then one row per
// actual class led by its name.
std::string confusion_csv(const ConfusionMatrix& matrix,
                          const std::vector<std::string>& class_names);

}  // namespace normtrain
