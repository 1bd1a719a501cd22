#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "normtrain/model/model.hpp"
#include "normtrain/train/training_observer.hpp"

namespace normtrain {

// Mean, standard deviation (over all values, not per channel; the population's, as the norms
// compute theirs) and fraction of exact zeros of a tensor, on its device, as a float64 tensor
// [3]: read together with the rest of a step's figures in one transfer.
torch::Tensor activation_statistics(const torch::Tensor& values);

// Copies of the blocks' convolution weights, taken before a diagnostics step's optimizer step.
std::vector<torch::Tensor> block_conv_weights(NormNet& model);

// What the layers.csv rows of a diagnostics step measure, on the model's device as one float64
// tensor, without reading it (a captured CUDA graph can compute it, and the trainer reads an
// epoch's values at once): measured after the optimizer step from what the step already has,
// `taps` from its forward pass, the gradients it left (L1 term included) and `weights_before`
// from block_conv_weights.
torch::Tensor layer_diagnostics_values(NormNet& model, const std::vector<NormSiteActivations>& taps,
                                       const std::vector<torch::Tensor>& weights_before);

// The rows of layer_diagnostics_values' `values` (on the CPU) for the step they measured.
std::vector<LayerDiagnostics> layer_diagnostics_rows(NormNet& model, const torch::Tensor& values,
                                                     std::int64_t step, int epoch);

// Both at once: the rows of a diagnostics step, reading the device once.
std::vector<LayerDiagnostics> layer_diagnostics(NormNet& model,
                                                const std::vector<NormSiteActivations>& taps,
                                                const std::vector<torch::Tensor>& weights_before,
                                                std::int64_t step, int epoch);

}  // namespace normtrain
