#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace normtrain {

using Rgb = std::array<std::uint8_t, 3>;

// An 8-bit RGB picture in memory, row-major, three bytes a pixel, with the few drawing
// operations the reports need. Text uses an embedded bitmap font, so no system font is needed.
class RasterImage {
 public:
  RasterImage(int width, int height, Rgb background);

  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<std::uint8_t>& pixels() const { return pixels_; }
  Rgb at(int x, int y) const;

  // Fills [x, x + w) x [y, y + h), clipped to the image.
  void fill_rect(int x, int y, int w, int h, Rgb color);
  // Draws a grayscale picture (`side` x `side` bytes, 0 = black) enlarged `scale` times with
  // nearest-neighbour, so pixels stay crisp.
  void draw_gray(int x, int y, const std::uint8_t* gray, int side, int scale);
  // Draws printable ASCII text with its top-left at (x, y); each font pixel becomes
  // `scale` x `scale` image pixels.
  void draw_text(int x, int y, const std::string& text, int scale, Rgb color);

  // Size of `text` when drawn at `scale`.
  static int text_width(const std::string& text, int scale);
  static int text_height(const std::string& text, int scale);

 private:
  int width_;
  int height_;
  std::vector<std::uint8_t> pixels_;
};

// Encodes as PNG (stb_image_write) and writes the file atomically.
void write_png(const std::string& path, const RasterImage& image);

}  // namespace normtrain
