#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "normtrain/mnist.hpp"

namespace normtrain {

// counts[actual][predicted] over a test set.
using ConfusionMatrix = std::array<std::array<std::int64_t, kNumClasses>, kNumClasses>;

ConfusionMatrix confusion_matrix(const std::vector<std::uint8_t>& actual,
                                 const std::vector<std::uint8_t>& predicted);

// A header row "actual/predicted,0,...,9", then one row per actual class led by its label.
std::string confusion_csv(const ConfusionMatrix& matrix);

}  // namespace normtrain
