#include "normtrain/data/augmented_inputs.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "normtrain/data/augment.hpp"
#include "normtrain/data/dataset.hpp"

// This file must be compiled with -ffp-contract=off (see src/data/CMakeLists.txt): a multiply
// and an add fused into one rounding would move sample positions by a last bit, and a
// nearest-neighbour sample at a pixel boundary to another pixel.

namespace normtrain {
namespace {

constexpr std::int64_t kCacheLine = 64;

// Rounds half to even, as grid_sample's nearest mode does (the default rounding mode), for
// |value| < 2^22: adding 1.5 * 2^23 leaves no fraction bits, so the addition itself rounds.
float round_half_to_even(float value) {
  constexpr float kShift = 12582912.0f;  // 1.5 * 2^23
  return (value + kShift) - kShift;
}

// grid_sample's map from a grid coordinate in [-1, 1] to a pixel position (align_corners
// false), with its operations in its order.
float unnormalize(float coordinate, std::int64_t size) {
  const float scale = static_cast<float>(size) / 2;
  return (coordinate + 1.0f) * scale - 0.5f;
}

bool is_cpu_fast_path(const torch::Tensor& pixels, const torch::Tensor& picked,
                      const torch::Tensor& angles) {
  return pixels.is_cpu() && picked.is_cpu() && angles.is_cpu() &&
         pixels.scalar_type() == torch::kUInt8 && pixels.dim() == 3 && pixels.is_contiguous() &&
         picked.scalar_type() == torch::kInt64 && picked.dim() == 1 && picked.is_contiguous() &&
         angles.scalar_type() == torch::kFloat32 && angles.dim() == 1 &&
         angles.size(0) == picked.size(0);
}

}  // namespace

torch::Tensor augmented_inputs_by_operators(const torch::Tensor& pixels,
                                            const torch::Tensor& picked,
                                            const torch::Tensor& angles_degrees, double mean,
                                            double std) {
  const torch::Tensor images = to_unit_range(pixels.index_select(0, picked));
  // Rotation fills with 0 (black) before normalization, as the recipe asks.
  return normalize(rotate_batch(images, angles_degrees), mean, std);
}

torch::Tensor augmented_inputs(const torch::Tensor& pixels, const torch::Tensor& picked,
                               const torch::Tensor& angles_degrees, double mean, double std) {
  if (!is_cpu_fast_path(pixels, picked, angles_degrees)) {
    return augmented_inputs_by_operators(pixels, picked, angles_degrees, mean, std);
  }
  const std::int64_t count = pixels.size(0);
  const std::int64_t height = pixels.size(1);
  const std::int64_t width = pixels.size(2);
  const std::int64_t batch = picked.size(0);

  // The per-example cosines and sines and the grid's axes by the operators rotate_batch uses:
  // LibTorch's vectorized cos and sin may differ from the C library's in the last bit.
  const torch::Tensor radians = angles_degrees * (M_PI / 180.0);
  const torch::Tensor cosines = radians.cos();
  const torch::Tensor sines = radians.sin();
  const torch::Tensor xs = pixel_centres(width, angles_degrees.options());
  const torch::Tensor ys = pixel_centres(height, angles_degrees.options());

  // Each of the 256 pixel values scaled and normalized as the operators do it, converting the
  // scalar operands to float first; 0 is also what a sample outside the image gets.
  std::array<float, 256> input_of{};
  const auto max_pixel = static_cast<float>(255.0);
  const auto mean_f = static_cast<float>(mean);
  const auto std_f = static_cast<float>(std);
  for (std::size_t value = 0; value < input_of.size(); ++value) {
    input_of[value] = (static_cast<float>(value) / max_pixel - mean_f) / std_f;
  }

  torch::Tensor inputs = torch::empty({batch, 1, height, width}, angles_degrees.options());
  const std::uint8_t* source = pixels.data_ptr<std::uint8_t>();
  const std::int64_t* indices = picked.data_ptr<std::int64_t>();
  const float* cos_of = cosines.data_ptr<float>();
  const float* sin_of = sines.data_ptr<float>();
  const float* x_at = xs.data_ptr<float>();
  const float* y_at = ys.data_ptr<float>();
  float* out = inputs.data_ptr<float>();
  // One output row's source positions: computed in a loop the compiler vectorizes, then read.
  std::vector<float> columns(width);
  std::vector<float> rows(width);
  const auto width_f = static_cast<float>(width);
  const auto height_f = static_cast<float>(height);

  for (std::int64_t b = 0; b < batch; ++b) {
    TORCH_CHECK(indices[b] >= 0 && indices[b] < count, "augmented_inputs: example index ",
                indices[b], " is outside the ", count, " images");
  }
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::uint8_t* image = source + indices[b] * height * width;
    // The picked images lie anywhere in a data set far larger than the caches: ask for the
    // next one's lines now, so that their loads overlap this image's work.
    if (b + 1 < batch) {
      const std::uint8_t* next = source + indices[b + 1] * height * width;
      for (std::int64_t byte = 0; byte < height * width; byte += kCacheLine) {
        __builtin_prefetch(next + byte);
      }
    }
    const float c = cos_of[b];
    const float s = sin_of[b];
    const float minus_s = -s;
    for (std::int64_t h = 0; h < height; ++h) {
      // The grid's [x', y'] = [x c + y (-s), x s + y c], as rotation_grid computes it.
      const float y_minus_s = y_at[h] * minus_s;
      const float y_c = y_at[h] * c;
      for (std::int64_t w = 0; w < width; ++w) {
        columns[w] = round_half_to_even(unnormalize(x_at[w] * c + y_minus_s, width));
        rows[w] = round_half_to_even(unnormalize(x_at[w] * s + y_c, height));
      }
      for (std::int64_t w = 0; w < width; ++w) {
        const float column = columns[w];
        const float row = rows[w];
        std::uint8_t value = 0;
        if (column > -1.0f && column < width_f && row > -1.0f && row < height_f) {
          value = image[static_cast<std::int64_t>(row) * width + static_cast<std::int64_t>(column)];
        }
        *out++ = input_of[value];
      }
    }
  }
  return inputs;
}

}  // namespace normtrain
