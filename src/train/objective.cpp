#include "normtrain/train/objective.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/ops/_foreach_add.h>

#include "normtrain/train/dense_cpu_float.hpp"

namespace normtrain {
namespace {

// Each tensor as one dimension, for a concatenation.
std::vector<torch::Tensor> flattened(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> flat;
  flat.reserve(tensors.size());
  for (const torch::Tensor& t : tensors) flat.push_back(t.reshape(-1));
  return flat;
}

}  // namespace

torch::Tensor l1_norm(const std::vector<torch::Tensor>& parameters) {
  if (!torch::GradMode::is_enabled() && !parameters.empty() &&
      std::all_of(parameters.begin(), parameters.end(), is_dense_cpu_float)) {
    // A value without a graph, summed in double.
    double sum = 0.0;
    for (const torch::Tensor& p : parameters) {
      const float* values = p.data_ptr<float>();
      for (std::int64_t i = 0; i < p.numel(); ++i) sum += static_cast<double>(std::abs(values[i]));
    }
    return torch::scalar_tensor(sum, torch::kFloat);
  }
  if (!parameters.empty() && !parameters.front().is_cpu()) {
    // On a GPU: one reduction over all of them (three launches, not two a parameter).
    return torch::cat(flattened(parameters)).abs().sum();
  }
  std::vector<torch::Tensor> sums;
  sums.reserve(parameters.size());
  for (const torch::Tensor& p : parameters) sums.push_back(p.abs().sum());
  return torch::stack(sums).sum();
}

ObjectiveTerms objective_terms(const torch::Tensor& log_probs, const torch::Tensor& targets,
                               const std::vector<torch::Tensor>& parameters, double l1) {
  torch::Tensor nll = torch::nll_loss(log_probs, targets);
  if (l1 <= 0.0) return {nll, nll.detach()};
  torch::NoGradGuard no_grad;
  torch::Tensor total = nll.detach() + l1 * l1_norm(parameters);
  return {std::move(nll), std::move(total)};
}

void add_l1_subgradient(const std::vector<torch::Tensor>& parameters, double l1) {
  if (l1 <= 0.0) return;
  torch::NoGradGuard no_grad;
  if (!parameters.empty() && !parameters.front().is_cpu()) {
    add_l1_subgradient_batched(parameters, l1);
    return;
  }
  for (const torch::Tensor& p : parameters) {
    torch::Tensor& grad = p.mutable_grad();
    if (!grad.defined()) {
      grad = p.sign() * l1;
    } else if (is_dense_cpu_float(p) && is_dense_cpu_float(grad) && grad.strides() == p.strides()) {
      // grad + l1 * sign(p) with LibTorch's arithmetic: the rate as a float and sign(p) in
      // {-1, 0, 1} (0 for NaN), so that the product is exact and the sum rounds once.
      const float rate = static_cast<float>(l1);
      const float* values = p.data_ptr<float>();
      float* gradient = grad.data_ptr<float>();
      for (std::int64_t i = 0; i < p.numel(); ++i) {
        const float sign = static_cast<float>((0.0F < values[i]) - (values[i] < 0.0F));
        gradient[i] += rate * sign;
      }
    } else {
      grad.add_(p.sign(), l1);
    }
  }
}

void add_l1_subgradient_batched(const std::vector<torch::Tensor>& parameters, double l1) {
  if (l1 <= 0.0 || parameters.empty()) return;
  torch::NoGradGuard no_grad;
  // Every sign(p) from one concatenation, added to the gradients by one multi-tensor operator:
  // four launches in all. The products l1 * sign(p) are exact, so the sums round as the
  // per-parameter add_ does.
  std::vector<std::int64_t> sizes;
  sizes.reserve(parameters.size());
  for (const torch::Tensor& p : parameters) sizes.push_back(p.numel());
  const std::vector<torch::Tensor> signs =
      torch::cat(flattened(parameters)).sign().split_with_sizes(sizes);
  std::vector<torch::Tensor> gradients;
  std::vector<torch::Tensor> their_signs;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    torch::Tensor& grad = parameters[i].mutable_grad();
    const torch::Tensor sign = signs[i].view_as(parameters[i]);
    if (!grad.defined()) {
      grad = sign * l1;
    } else {
      gradients.push_back(grad);
      their_signs.push_back(sign);
    }
  }
  if (!gradients.empty()) at::_foreach_add_(gradients, their_signs, l1);
}

}  // namespace normtrain
