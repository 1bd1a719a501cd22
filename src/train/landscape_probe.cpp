#include "normtrain/train/landscape_probe.hpp"

#include <mutex>

#include "normtrain/train/objective.hpp"

namespace normtrain {

ForwardPassState::ForwardPassState(NormNet& model)
    : generator_(at::globalContext().defaultGenerator(model->parameters().front().device())) {
  const torch::NoGradGuard no_grad;
  for (const torch::Tensor& buffer : model->buffers()) buffers_.push_back(buffer.clone());
  const std::lock_guard<std::mutex> lock(generator_.mutex());
  generator_state_ = generator_.get_state();
}

void ForwardPassState::restore(NormNet& model) const {
  const torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> buffers = model->buffers();
  TORCH_CHECK(buffers.size() == buffers_.size(), "ForwardPassState: not this model's state");
  for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(buffers_[i]);
  at::Generator generator = generator_;
  const std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(generator_state_);
}

LandscapeProbe probe_landscape(NormNet& model, const std::vector<torch::Tensor>& parameters,
                               const ProbedStep& step, const std::vector<double>& multiples) {
  const ForwardPassState after_step(model);
  std::vector<torch::Tensor> weights;
  std::vector<torch::Tensor> gradients;  // g; zeros where a parameter has no gradient
  std::vector<bool> had_gradient;
  {
    const torch::NoGradGuard no_grad;
    for (const torch::Tensor& p : parameters) {
      weights.push_back(p.detach().clone());
      had_gradient.push_back(p.grad().defined());
      gradients.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    }
  }
  const auto squared_norm = [](const std::vector<torch::Tensor>& tensors) {
    std::vector<torch::Tensor> sums;
    for (const torch::Tensor& t : tensors) sums.push_back(t.to(torch::kFloat64).square().sum());
    return torch::stack(sums).sum();
  };

  // Read off the device together at the end: the step's loss, |g|, then per point its loss
  // and grad_change.
  std::vector<torch::Tensor> values = {step.loss.to(torch::kFloat64).reshape({}),
                                       squared_norm(gradients).sqrt()};
  for (const double multiple : multiples) {
    const double eta = multiple * step.lr;
    {
      const torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < parameters.size(); ++i) {
        parameters[i].copy_(torch::add(weights[i], gradients[i], -eta));
        parameters[i].mutable_grad() = torch::Tensor();
      }
    }
    step.before_forward.restore(model);
    const torch::Tensor log_probs = model->forward(step.batch.inputs);
    const ObjectiveTerms terms =
        objective_terms(log_probs, step.batch.targets, parameters, step.l1);
    terms.nll.backward();
    add_l1_subgradient(parameters, step.l1);
    const torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> changes;
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      const torch::Tensor& moved = parameters[i].grad();
      changes.push_back(moved.defined() ? moved - gradients[i] : -gradients[i]);
    }
    values.push_back(terms.total.to(torch::kFloat64).reshape({}));
    values.push_back(squared_norm(changes).sqrt());
  }

  {
    const torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      parameters[i].copy_(weights[i]);
      parameters[i].mutable_grad() = had_gradient[i] ? gradients[i] : torch::Tensor();
    }
  }
  after_step.restore(model);

  const torch::Tensor read = torch::stack(values).to(torch::kCPU).contiguous();
  const double* v = read.data_ptr<double>();
  LandscapeProbe probe;
  probe.step = step.step;
  probe.epoch = step.epoch;
  probe.lr = step.lr;
  probe.loss = v[0];
  probe.grad_norm = v[1];
  for (std::size_t k = 0; k < multiples.size(); ++k) {
    probe.points.push_back({multiples[k] * step.lr, v[2 + 2 * k], v[3 + 2 * k]});
  }
  return probe;
}

}  // namespace normtrain
