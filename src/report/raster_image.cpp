#include "normtrain/report/raster_image.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <stb_easy_font.h>
#include <stb_image_write.h>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"

namespace normtrain {
namespace {

// stb_easy_font writes four 16-byte vertices (x, y, z floats and an RGBA colour) per quad.
struct FontVertex {
  float x, y, z;
  std::uint8_t rgba[4];
};
static_assert(sizeof(FontVertex) == 16, "stb_easy_font vertex layout");

}  // namespace

RasterImage::RasterImage(int width, int height, Rgb background)
    : width_(width), height_(height), pixels_(static_cast<std::size_t>(width) * height * 3) {
  fill_rect(0, 0, width, height, background);
}

Rgb RasterImage::at(int x, int y) const {
  const std::size_t offset = (static_cast<std::size_t>(y) * width_ + x) * 3;
  return {pixels_[offset], pixels_[offset + 1], pixels_[offset + 2]};
}

void RasterImage::fill_rect(int x, int y, int w, int h, Rgb color) {
  const int x0 = std::max(x, 0);
  const int y0 = std::max(y, 0);
  const int x1 = std::min(x + w, width_);
  const int y1 = std::min(y + h, height_);
  for (int row = y0; row < y1; ++row) {
    for (int col = x0; col < x1; ++col) {
      const std::size_t offset = (static_cast<std::size_t>(row) * width_ + col) * 3;
      std::copy(color.begin(), color.end(), pixels_.begin() + static_cast<std::ptrdiff_t>(offset));
    }
  }
}

void RasterImage::draw_gray(int x, int y, const std::uint8_t* gray, int side, int scale) {
  for (int row = 0; row < side; ++row) {
    for (int col = 0; col < side; ++col) {
      const std::uint8_t value = gray[row * side + col];
      fill_rect(x + col * scale, y + row * scale, scale, scale, {value, value, value});
    }
  }
}

void RasterImage::draw_text(int x, int y, const std::string& text, int scale, Rgb color) {
  // ~270 bytes a character according to stb_easy_font; leave room for the worst case.
  std::vector<FontVertex> vertices(text.size() * 64 + 64);
  std::string mutable_text = text;  // the C API takes a non-const char*
  const int quads = stb_easy_font_print(0, 0, mutable_text.data(), nullptr, vertices.data(),
                                        static_cast<int>(vertices.size() * sizeof(FontVertex)));
  for (int q = 0; q < quads; ++q) {
    const FontVertex* v = &vertices[static_cast<std::size_t>(q) * 4];
    const float left = std::min({v[0].x, v[1].x, v[2].x, v[3].x});
    const float right = std::max({v[0].x, v[1].x, v[2].x, v[3].x});
    const float top = std::min({v[0].y, v[1].y, v[2].y, v[3].y});
    const float bottom = std::max({v[0].y, v[1].y, v[2].y, v[3].y});
    const int px = x + static_cast<int>(std::lround(left * scale));
    const int py = y + static_cast<int>(std::lround(top * scale));
    fill_rect(px, py, static_cast<int>(std::lround((right - left) * scale)),
              static_cast<int>(std::lround((bottom - top) * scale)), color);
  }
}

int RasterImage::text_width(const std::string& text, int scale) {
  std::string mutable_text = text;
  return stb_easy_font_width(mutable_text.data()) * scale;
}

int RasterImage::text_height(const std::string& text, int scale) {
  std::string mutable_text = text;
  return stb_easy_font_height(mutable_text.data()) * scale;
}

void write_png(const std::string& path, const RasterImage& image) {
  std::string encoded;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<std::size_t>(size));
  };
  const int ok = stbi_write_png_to_func(append, &encoded, image.width(), image.height(), 3,
                                        image.pixels().data(), image.width() * 3);
  if (ok == 0) throw RuntimeError(fmt::format("cannot encode {} as PNG", path));
  write_file_atomically(path, encoded);
}

}  // namespace normtrain
