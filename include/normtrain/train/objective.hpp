#pragma once

#include <vector>

#include <torch/torch.h>

namespace normtrain {

// Sum of |p| over every element of every tensor in `parameters`. With gradients off and dense
// CPU float tensors, one pass over their memory summing in double; otherwise LibTorch's
// operators (differentiable when gradients are on).
torch::Tensor l1_norm(const std::vector<torch::Tensor>& parameters);

// The objective SGD minimises: mean NLL of the log-probabilities, plus l1 * sum(|p|) over
// `parameters` when l1 > 0 (norm weights and biases included). Both parts, since metrics.csv
// reports the NLL on its own too. Only `nll` carries the autograd graph: after nll.backward(),
// add_l1_subgradient adds the penalty's share, and the gradients are then those of `total`.
struct ObjectiveTerms {
  torch::Tensor nll;    // differentiable
  torch::Tensor total;  // the value alone
};
ObjectiveTerms objective_terms(const torch::Tensor& log_probs, const torch::Tensor& targets,
                               const std::vector<torch::Tensor>& parameters, double l1);

// Adds l1 * sign(p) to the gradient of every parameter: the gradient of l1 * sum(|p|), bit for
// bit what autograd gives, in one operation per parameter instead of a graph through |p|.
void add_l1_subgradient(const std::vector<torch::Tensor>& parameters, double l1);

// The same for all parameters at once, with the same values: what add_l1_subgradient does on a
// GPU, where its per-parameter operators would cost two kernel launches each. Any device.
void add_l1_subgradient_batched(const std::vector<torch::Tensor>& parameters, double l1);

}  // namespace normtrain
