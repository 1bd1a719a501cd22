#include "normtrain/model/layers/layer_arguments.hpp"

namespace normtrain {

void check_image_batch(const char* op, const torch::Tensor& x) {
  TORCH_CHECK(x.defined(), op, ": the input is an undefined tensor");
  TORCH_CHECK(x.dim() == 4, op, ": the input must have shape [N, C, H, W], got shape ", x.sizes());
}

void check_channel_vectors(const char* op, const torch::Tensor& x,
                           std::initializer_list<ChannelVector> vectors) {
  const std::int64_t channels = x.size(1);
  for (const auto& [name, t] : vectors) {
    TORCH_CHECK(t->defined() && t->dim() == 1 && t->size(0) == channels, op, ": ", name,
                " must be a vector of one value per channel of the input (", channels, ")");
    TORCH_CHECK(t->device() == x.device(), op, ": ", name, " is on ", t->device(),
                " but the input is on ", x.device());
  }
}

}  // namespace normtrain
