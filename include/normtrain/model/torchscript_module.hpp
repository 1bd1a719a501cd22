#pragma once

#include <torch/script.h>

#include "normtrain/model/model.hpp"

namespace normtrain {

// The trained network as a TorchScript module, in evaluation form, that PyTorch loads with
// torch.jit.load alone: it holds the model's parameters and buffers under their PyTorch names
// (pytorch_state.hpp: its state_dict keys are exactly those) and a forward written in
// TorchScript with the stock operators, which computes what NormNet::forward computes in
// evaluation mode: normalized images [B, 1, 28, 28] -> log-probabilities [B, 10] (dropout off,
// BatchNorm with its running statistics). The tensors are copies on the CPU.
torch::jit::Module to_torchscript(NormNet& model, const ModelOptions& options);

// The TorchScript source of that forward for a network with these options.
std::string torchscript_forward(const ModelOptions& options);

}  // namespace normtrain
