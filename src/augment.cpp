#include "normtrain/augment.hpp"

#include <cmath>

namespace normtrain {

torch::Tensor rotate_batch(const torch::Tensor& images, const torch::Tensor& angles_degrees) {
  namespace F = torch::nn::functional;
  const torch::Tensor radians = angles_degrees.to(images.dtype()) * (M_PI / 180.0);
  const torch::Tensor cos = radians.cos();
  const torch::Tensor sin = radians.sin();
  const torch::Tensor zero = torch::zeros_like(cos);
  // affine_grid maps each output location to the input location it samples, in coordinates
  // normalised to [-1, 1] about the centre; images are square, so no aspect correction.
  const torch::Tensor theta =
      torch::stack({cos, -sin, zero, sin, cos, zero}, /*dim=*/1).view({-1, 2, 3});
  const torch::Tensor grid = F::affine_grid(theta, images.sizes(), /*align_corners=*/false);
  return F::grid_sample(images, grid,
                        F::GridSampleFuncOptions()
                            .mode(torch::kNearest)
                            .padding_mode(torch::kZeros)
                            .align_corners(false));
}

}  // namespace normtrain
