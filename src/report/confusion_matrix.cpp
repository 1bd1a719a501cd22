#include "normtrain/report/confusion_matrix.hpp"

#include <fmt/format.h>

namespace normtrain {

ConfusionMatrix confusion_matrix(const std::vector<std::uint8_t>& actual,
                                 const std::vector<std::uint8_t>& predicted) {
  ConfusionMatrix matrix{};
  const std::size_t count = std::min(actual.size(), predicted.size());
  for (std::size_t i = 0; i < count; ++i) ++matrix.at(actual[i]).at(predicted[i]);
  return matrix;
}

std::string confusion_csv(const ConfusionMatrix& matrix,
                          const std::vector<std::string>& class_names) {
  std::string csv = "actual/predicted";
  for (int predicted = 0; predicted < kNumClasses; ++predicted) {
    csv += "," + class_names.at(predicted);
  }
  csv += "\n";
  for (int actual = 0; actual < kNumClasses; ++actual) {
    csv += fmt::format("{},{}\n", class_names.at(actual), fmt::join(matrix[actual], ","));
  }
  return csv;
}

}  // namespace normtrain
