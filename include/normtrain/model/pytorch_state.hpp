#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "normtrain/model/model.hpp"

namespace normtrain {

// One of the model's parameters or buffers under its PyTorch name.
struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
  bool is_buffer = false;  // BatchNorm's running statistics and batch count
};

// The model's parameters and buffers under the names that the plain PyTorch module in
// scripts/to_pytorch.py gives them (its state_dict keys), in that state_dict's order:
//   block1.conv.weight, block1.norm.{weight, bias} (BatchNorm also running_mean, running_var,
//   num_batches_tracked), block2.*, transition.weight, block3.* to block5.*, classifier.weight
// Norm layers appear only where the model has them (none for --norm none). The names do not
// depend on the kernels: the fused and the stock model give the same ones. The tensors are the
// model's own (not copies).
std::vector<NamedTensor> pytorch_state_dict(NormNet& model);

}  // namespace normtrain
