#include "normtrain/report/misclassified.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace normtrain {
namespace {

constexpr int kPadding = 6;
constexpr int kTextScale = 2;
constexpr Rgb kBackground = {255, 255, 255};
constexpr Rgb kTextColor = {20, 20, 20};
constexpr Rgb kWrongColor = {200, 30, 30};

int columns_for(int count) {
  // Up to 25 tiles: rows of five (10 gives the familiar 2 x 5); beyond, roughly square.
  if (count <= 5) return std::max(count, 1);
  if (count <= 25) return 5;
  return static_cast<int>(std::ceil(std::sqrt(static_cast<double>(count))));
}

int caption_line_height() {
  return RasterImage::text_height("true 0", kTextScale) + 2;
}

}  // namespace

std::vector<Misclassified> first_misclassified(const std::vector<std::uint8_t>& actual,
                                               const std::vector<std::uint8_t>& predicted,
                                               const std::vector<float>& confidence, int limit) {
  std::vector<Misclassified> found;
  for (std::size_t i = 0; i < actual.size() && static_cast<int>(found.size()) < limit; ++i) {
    if (actual[i] != predicted[i]) {
      found.push_back({static_cast<std::int64_t>(i), actual[i], predicted[i], confidence[i]});
    }
  }
  return found;
}

std::string misclassified_csv(const std::vector<Misclassified>& examples) {
  std::string csv = "index,actual,predicted,confidence\n";
  for (const Misclassified& e : examples) {
    csv += fmt::format("{},{},{},{:.4f}\n", e.index, e.actual, e.predicted, e.confidence);
  }
  return csv;
}

GridLayout misclassified_grid_layout(int count) {
  GridLayout layout;
  layout.columns = columns_for(count);
  layout.rows = std::max(1, (count + layout.columns - 1) / layout.columns);
  layout.tile_width = kImageSide * kDigitScale + 2 * kPadding;
  layout.tile_height = kImageSide * kDigitScale + 3 * kPadding + 2 * caption_line_height();
  layout.title_height = caption_line_height() + 2 * kPadding;
  layout.width =
      std::max(layout.columns * layout.tile_width,
               RasterImage::text_width("no misclassified test images", kTextScale) + 2 * kPadding);
  layout.height = layout.title_height + layout.rows * layout.tile_height;
  return layout;
}

RasterImage misclassified_grid(const MnistSplit& test, const std::vector<Misclassified>& examples,
                               std::int64_t total_errors,
                               const std::vector<std::string>& class_names) {
  const int count = static_cast<int>(examples.size());
  const GridLayout layout = misclassified_grid_layout(count);
  RasterImage image(layout.width, layout.height, kBackground);
  const std::string title =
      count == 0 ? "no misclassified test images"
                 : fmt::format("first {} of {} misclassified test images", count, total_errors);
  image.draw_text(kPadding, kPadding, title, kTextScale, kTextColor);

  const int digit_side = kImageSide * kDigitScale;
  for (int i = 0; i < count; ++i) {
    const Misclassified& example = examples[i];
    const int left = (i % layout.columns) * layout.tile_width + kPadding;
    const int top = layout.title_height + (i / layout.columns) * layout.tile_height + kPadding;
    const std::uint8_t* pixels =
        test.images.data() + static_cast<std::size_t>(example.index) * kImageSide * kImageSide;
    image.draw_gray(left, top, pixels, kImageSide, kDigitScale);
    const int caption_top = top + digit_side + kPadding;
    const std::string actual = "true " + class_names.at(example.actual);
    const std::string predicted = "pred " + class_names.at(example.predicted);
    // Long class names (Fashion-MNIST's "Ankle boot") drop to the small font to fit the tile.
    const int width_available = layout.tile_width - kPadding;
    const auto scale_for = [&](const std::string& text) {
      return RasterImage::text_width(text, kTextScale) <= width_available ? kTextScale : 1;
    };
    image.draw_text(left, caption_top, actual, scale_for(actual), kTextColor);
    image.draw_text(left, caption_top + caption_line_height(), predicted, scale_for(predicted),
                    kWrongColor);
  }
  return image;
}

}  // namespace normtrain
