#include "normtrain/train/objective.hpp"

#include <algorithm>
#include <cmath>

#include "normtrain/train/dense_cpu_float.hpp"

namespace normtrain {

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

}  // namespace normtrain
