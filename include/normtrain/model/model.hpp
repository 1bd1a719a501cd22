#pragma once

#include <torch/torch.h>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// The architecture's knobs that a run may change.
struct ModelOptions {
  NormKind norm = NormKind::kBatch;
  int groups = 8;
  double dropout = 0.0;
  // Fused ReLU + norm modules and channels-last activations (see fused_relu_norm.hpp).
  bool fused = true;
};

ModelOptions model_options(const TrainConfig& config);

// The 9,752-parameter MNIST network. Each block is conv 3x3 (no bias) -> ReLU -> norm ->
// dropout:
//   block(1, 8) -> block(8, 24) -> conv1x1(24, 18) -> ReLU -> maxpool 2
//   -> block(18, 16) -> block(16, 16) -> block(16, 16) -> avgpool 6 -> conv1x1(16, 10)
//   -> flatten -> log_softmax
// The layers live in one Sequential so that the model summary can walk them in order.
class NormNetImpl : public torch::nn::Module {
 public:
  explicit NormNetImpl(const ModelOptions& options);

  // Log-probabilities [B, 10] for normalized images [B, 1, 28, 28].
  torch::Tensor forward(const torch::Tensor& images);

  // A handle to the layers in order (shares them; it is not a copy of the network).
  torch::nn::Sequential layers() const { return layers_; }

 private:
  torch::nn::Sequential layers_;
  bool channels_last_;
};
TORCH_MODULE(NormNet);

// The same images in the channels-last layout, so that the convolutions compute in NHWC; a
// contiguous one-channel batch is re-strided in place rather than copied.
torch::Tensor as_channels_last(const torch::Tensor& images);

// Number of trainable values in a module.
std::int64_t count_parameters(const torch::nn::Module& module);

}  // namespace normtrain
