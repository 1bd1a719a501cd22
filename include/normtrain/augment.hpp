#pragma once

#include <torch/torch.h>

namespace normtrain {

// Training images are rotated by an angle drawn uniformly from [-7, +7] degrees.
inline constexpr double kMaxRotationDegrees = 7.0;

// Rotates every image of a float [B, C, H, W] batch by its own angle (in degrees, a [B] tensor)
// about the image centre, nearest-neighbour, filling with 0 where the source is outside the
// image. Runs as one batched operation on the batch's device.
torch::Tensor rotate_batch(const torch::Tensor& images, const torch::Tensor& angles_degrees);

}  // namespace normtrain
