#pragma once

// What the norm layers written with LibTorch's operators (batch renormalization, FRN + TLU, RMS
// norm) share: their argument checks, with messages that name the operation and the argument,
// and the broadcast of a per-channel vector over an image batch.

#include <initializer_list>
#include <utility>

#include <torch/torch.h>

namespace normtrain {

// A per-channel argument by name, for check_channel_vectors.
using ChannelVector = std::pair<const char*, const torch::Tensor*>;

// x is a defined [N, C, H, W] tensor.
void check_image_batch(const char* op, const torch::Tensor& x);

// Each of `vectors` holds one value per channel of x and lies on x's device.
void check_channel_vectors(const char* op, const torch::Tensor& x,
                           std::initializer_list<ChannelVector> vectors);

// [C] -> [1, C, 1, 1], to broadcast over an [N, C, H, W] tensor.
inline torch::Tensor per_channel(const torch::Tensor& t) {
  return t.view({1, -1, 1, 1});
}

}  // namespace normtrain
