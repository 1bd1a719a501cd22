#pragma once

#include <torch/torch.h>

namespace normtrain {

// The network's inputs for the training examples `picked` ([B] int64) of `pixels` (uint8
// [N, H, W]): each image rotated by its own angle (degrees, [B]) as rotate_batch does, scaled to
// [0, 1] and normalized with `mean` and `std`, as a float [B, 1, H, W] batch.
// On the CPU it takes one pass over the output pixels and gives, bit for bit, what
// augmented_inputs_by_operators gives; elsewhere it is that composition.
torch::Tensor augmented_inputs(const torch::Tensor& pixels, const torch::Tensor& picked,
                               const torch::Tensor& angles_degrees, double mean, double std);

// The same by LibTorch's operators: gather, to [0, 1], rotate_batch, normalize.
torch::Tensor augmented_inputs_by_operators(const torch::Tensor& pixels,
                                            const torch::Tensor& picked,
                                            const torch::Tensor& angles_degrees, double mean,
                                            double std);

}  // namespace normtrain
