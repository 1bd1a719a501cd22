#include "normtrain/data/image_input.hpp"

#include <memory>

#include <fmt/format.h>
#include <stb_image.h>
#include <stb_image_resize.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

// Mean grey level of the outermost ring of pixels: the paper, for a centred digit.
double border_mean(const DigitImage& image) {
  double sum = 0.0;
  int count = 0;
  for (int i = 0; i < kImageSide; ++i) {
    for (int j : {0, kImageSide - 1}) {
      sum += image[i * kImageSide + j] + image[j * kImageSide + i];
      count += 2;
    }
  }
  return sum / count;
}

}  // namespace

std::string to_flag(Polarity polarity) {
  switch (polarity) {
    case Polarity::kAuto:
      return "auto";
    case Polarity::kWhiteOnBlack:
      return "white-on-black";
    case Polarity::kBlackOnWhite:
      return "black-on-white";
  }
  return "?";
}

DigitImage load_digit_image(const std::string& path, Polarity polarity) {
  int width = 0;
  int height = 0;
  int channels = 0;
  const std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load(path.c_str(), &width, &height, &channels, /*desired_channels=*/1), stbi_image_free);
  if (!pixels) {
    throw RuntimeError(
        fmt::format("cannot read image {}: {}; give a PNG, JPEG, BMP, GIF, TGA or "
                    "PNM file",
                    path, stbi_failure_reason()));
  }
  DigitImage digit{};
  if (stbir_resize_uint8(pixels.get(), width, height, 0, digit.data(), kImageSide, kImageSide, 0,
                         1) == 0) {
    throw RuntimeError(fmt::format("cannot resize image {} ({}x{})", path, width, height));
  }
  const bool invert = polarity == Polarity::kBlackOnWhite ||
                      (polarity == Polarity::kAuto && border_mean(digit) > 127.5);
  if (invert) {
    for (std::uint8_t& value : digit) value = static_cast<std::uint8_t>(255 - value);
  }
  return digit;
}

}  // namespace normtrain
