#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normtrain/data/mnist.hpp"
#include "normtrain/report/raster_image.hpp"

namespace normtrain {

// A test example the model got wrong.
struct Misclassified {
  std::int64_t index = 0;  // position in the test set
  int actual = 0;
  int predicted = 0;
  double confidence = 0.0;  // probability the model gave its (wrong) prediction
};

// The first `limit` wrong predictions in test-set order.
std::vector<Misclassified> first_misclassified(const std::vector<std::uint8_t>& actual,
                                               const std::vector<std::uint8_t>& predicted,
                                               const std::vector<float>& confidence, int limit);

// "index,actual,predicted,confidence" and a row per example.
std::string misclassified_csv(const std::vector<Misclassified>& examples);

// Geometry of the grid picture: each digit enlarged kDigitScale times on a tile with a caption.
inline constexpr int kDigitScale = 4;
struct GridLayout {
  int columns = 0;
  int rows = 0;
  int tile_width = 0;
  int tile_height = 0;
  int title_height = 0;
  int width = 0;
  int height = 0;
};
GridLayout misclassified_grid_layout(int count);

// The examples as labelled tiles ("true 4" / "pred 9") under a title that counts the errors.
RasterImage misclassified_grid(const MnistSplit& test, const std::vector<Misclassified>& examples,
                               std::int64_t total_errors,
                               const std::vector<std::string>& class_names);

}  // namespace normtrain
