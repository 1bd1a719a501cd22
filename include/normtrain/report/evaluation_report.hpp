#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "normtrain/data/mnist.hpp"

namespace normtrain {

// What a model predicted for every example of a test set, in test-set order.
struct TestPredictions {
  std::vector<std::uint8_t> predicted;
  std::vector<float> confidence;
};

// Writes confusion.csv, misclassified.csv and misclassified.png (the first
// `misclassified_count` errors; 0 writes neither misclassified file) into `out_dir`.
// Class names label the confusion matrix and the grid's captions.
void write_evaluation_report(const std::filesystem::path& out_dir, const MnistSplit& test,
                             const TestPredictions& predictions, int misclassified_count,
                             const std::vector<std::string>& class_names);

}  // namespace normtrain
