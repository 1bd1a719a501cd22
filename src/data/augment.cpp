#include "normtrain/data/augment.hpp"

#include <cmath>

namespace normtrain {

torch::Tensor pixel_centres(std::int64_t steps, const torch::TensorOptions& options) {
  // With affine_grid's operations in its order, so that rotation_grid matches it bit for bit.
  return torch::linspace(-1, 1, steps, options) * (steps - 1) / steps;
}

torch::Tensor rotation_grid(const torch::Tensor& cos, const torch::Tensor& sin, std::int64_t height,
                            std::int64_t width) {
  const torch::Tensor x = pixel_centres(width, cos.options()).view({1, 1, width});
  const torch::Tensor y = pixel_centres(height, cos.options()).view({1, height, 1});
  const torch::Tensor c = cos.view({-1, 1, 1});
  const torch::Tensor s = sin.view({-1, 1, 1});
  // [x', y'] = [[cos, -sin], [sin, cos]] [x, y]: the same products and sum as affine_grid's
  // batched matrix product, without its per-example matrix calls.
  return torch::stack({x * c + y * -s, x * s + y * c}, /*dim=*/3);
}

torch::Tensor rotate_batch(const torch::Tensor& images, const torch::Tensor& angles_degrees) {
  namespace F = torch::nn::functional;
  const torch::Tensor radians = angles_degrees.to(images.dtype()) * (M_PI / 180.0);
  // The grid maps each output location to the input location it samples, in coordinates
  // normalised to [-1, 1] about the centre.
  const torch::Tensor grid =
      rotation_grid(radians.cos(), radians.sin(), images.size(2), images.size(3));
  return F::grid_sample(images, grid,
                        F::GridSampleFuncOptions()
                            .mode(torch::kNearest)
                            .padding_mode(torch::kZeros)
                            .align_corners(false));
}

}  // namespace normtrain
