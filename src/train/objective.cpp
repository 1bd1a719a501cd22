#include "normtrain/train/objective.hpp"

namespace normtrain {

torch::Tensor l1_norm(const std::vector<torch::Tensor>& parameters) {
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
    if (grad.defined()) {
      grad.add_(p.sign(), l1);
    } else {
      grad = p.sign() * l1;
    }
  }
}

}  // namespace normtrain
