#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// The architecture's knobs that a run may change. The constructor takes the first four, so that
// ModelOptions{norm, groups, dropout, fused} leaves the others at their defaults.
struct ModelOptions {
  ModelOptions(NormKind norm_ = NormKind::kBatch, int groups_ = 8, double dropout_ = 0.0,
               bool fused_ = true)
      : norm(norm_), groups(groups_), dropout(dropout_), fused(fused_) {}

  NormKind norm = NormKind::kBatch;
  int groups = 8;
  double dropout = 0.0;
  // Fused ReLU + norm modules and channels-last activations (see fused_relu_norm.hpp); only for
  // norms with fused kernels (has_fused_kernels).
  bool fused = true;
  // Batch renormalization's limits and warm-up, for NormKind::kBatchRenorm.
  BatchRenormSpec batch_renorm;
  // StdConv2d (weight standardization) for every 3x3 convolution.
  bool weight_standardization = false;
};

ModelOptions model_options(const TrainConfig& config);

// The groups GroupNorm splits a block of `channels` channels into: 1 for ln, --groups for gn,
// one per channel for in. Throws std::logic_error for the norms that are not GroupNorm.
int group_norm_groups(const ModelOptions& options, int channels);

// One normalized block, by the indices of its layers in NormNet::layers(): where the norm's
// input and output can be read in a forward pass. The norm's input is what enters it after the
// block's ReLU (for frn, whose TLU is the activation, the convolution's output); with --norm none
// the output is that same tensor.
struct NormSite {
  std::string name;                      // "block1" ... "block5", as in the PyTorch state names
  std::size_t conv = 0;                  // the block's convolution
  std::size_t input_from = 0;            // the layer whose output is the norm's input ...
  bool input_is_relu_of_output = false;  // ... after a ReLU (the fused ReLU + norm layers)
  std::size_t output_from = 0;           // the layer whose output is the norm's output
  std::optional<std::size_t> norm;       // the layer holding the norm's weight and bias, if any
};

// What entered and left one block's norm in a forward pass, without autograd history.
struct NormSiteActivations {
  torch::Tensor input;
  torch::Tensor output;
};

// The 9,752-parameter MNIST network (with bn, ln, gn, in or brn). Each block is conv 3x3 (no
// bias) -> ReLU -> norm -> dropout, or conv 3x3 -> FRN + TLU -> dropout with frn, whose TLU is
// the block's activation; every 3x3 conv is a StdConv2d with weight standardization:
//   block(1, 8) -> block(8, 24) -> conv1x1(24, 18) -> ReLU -> maxpool 2
//   -> block(18, 16) -> block(16, 16) -> block(16, 16) -> avgpool 6 -> conv1x1(16, 10)
//   -> flatten -> log_softmax
// The layers live in one Sequential so that the model summary can walk them in order.
class NormNetImpl : public torch::nn::Module {
 public:
  explicit NormNetImpl(const ModelOptions& options);

  // Log-probabilities [B, 10] for normalized images [B, 1, 28, 28].
  torch::Tensor forward(const torch::Tensor& images);
  // The same forward pass (same operations, same results), which also hands out what entered
  // and left each block's norm, one entry per norm_sites() entry.
  torch::Tensor forward(const torch::Tensor& images, std::vector<NormSiteActivations>& taps);

  // The five normalized blocks, first to last.
  const std::vector<NormSite>& norm_sites() const { return norm_sites_; }

  // A handle to the layers in order (shares them; it is not a copy of the network).
  torch::nn::Sequential layers() const { return layers_; }

  // Whether the fused CPU kernels and channels-last activations are in use on the CPU.
  bool fused() const { return fused_; }

  // Whether the activations (and the 3x3 convolutions' weights) are channels-last on `device`:
  // on the CPU with the fused kernels, whose layout it is; on a GPU with BatchNorm, whose
  // graphed step cuDNN runs 11% faster so on an H200, where LayerNorm's and GroupNorm's run 15%
  // slower (bench/gpu_probe.py, in docs/gpu-check-h200-test-pass-graph.md). Same function.
  bool channels_last_on(const torch::Device& device) const {
    return device.is_cpu() ? fused_ : channels_last_on_gpu_;
  }

  // As torch::nn::Module's, then the convolution weights in the layout of the device's
  // activations (match_weight_layout()).
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  torch::Tensor run_layers(const torch::Tensor& images, std::vector<NormSiteActivations>* taps);
  // Where the activations are channels-last (channels_last_on), the convolutions' weights are
  // too: LibTorch would otherwise copy each weight into that layout at every call, forward and
  // backward (17% of a batch-4 CPU step under the profiler). Elsewhere they stay contiguous.
  // Same values either way.
  void match_weight_layout();

  torch::nn::Sequential layers_;
  std::vector<NormSite> norm_sites_;
  bool fused_;
  bool channels_last_on_gpu_;
};
TORCH_MODULE(NormNet);

// The same images in the channels-last layout, so that the convolutions compute in NHWC; a
// contiguous one-channel batch is re-strided in place rather than copied.
torch::Tensor as_channels_last(const torch::Tensor& images);

// Number of trainable values in a module.
std::int64_t count_parameters(const torch::nn::Module& module);

}  // namespace normtrain
