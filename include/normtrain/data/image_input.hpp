#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "normtrain/data/mnist.hpp"

namespace normtrain {

// How the ink relates to the paper in a user's picture. MNIST digits are white on black.
enum class Polarity { kAuto, kWhiteOnBlack, kBlackOnWhite };

std::string to_flag(Polarity polarity);

// A picture turned into what the network saw in training: 28 x 28 grey bytes, white on black.
using DigitImage = std::array<std::uint8_t, kImageSide * kImageSide>;

// Reads a PNG, JPEG, BMP, GIF, TGA or PNM file of any size (stb_image), converts it to grey,
// resizes it to 28 x 28 and makes it white on black: kAuto inverts pictures whose border is
// mostly light, as a scanned or drawn digit on paper is. Throws a runtime Error naming the file
// when it cannot be read as an image.
DigitImage load_digit_image(const std::string& path, Polarity polarity);

}  // namespace normtrain
