#include "normtrain/train/sliced_gradients.hpp"

#include <optional>
#include <utility>

namespace normtrain {

SlicedGradients::SlicedGradients(NormNet model, std::vector<torch::Tensor> parameters)
    : model_(std::move(model)), parameters_(std::move(parameters)) {}

SlicedGradients::Slice SlicedGradients::run_slice(const torch::Tensor& inputs,
                                                  const torch::Tensor& targets, std::int64_t begin,
                                                  std::int64_t end) {
  // One thread inside the slice: the helper's own setting, which a new thread takes from
  // LibTorch's global count on first use (this thread's may be larger then).
  if (at::get_num_threads() != 1) at::set_num_threads(1);
  Slice slice;
  const torch::Tensor log_probs = model_->forward(inputs.slice(0, begin, end));
  // Summed over the slice and divided by the whole batch's size: the two slices' gradients add
  // up to that of the batch's mean.
  const torch::Tensor loss =
      torch::nll_loss(log_probs, targets.slice(0, begin, end), /*weight=*/{}, at::Reduction::Sum) /
      static_cast<double>(inputs.size(0));
  slice.gradients = torch::autograd::grad({loss}, parameters_, /*grad_outputs=*/{},
                                          /*retain_graph=*/false, /*create_graph=*/false,
                                          /*allow_unused=*/true);
  slice.log_probs = log_probs.detach();
  return slice;
}

std::pair<SlicedGradients::Slice, SlicedGradients::Slice> SlicedGradients::run_concurrently(
    const torch::Tensor& inputs, const torch::Tensor& targets, std::int64_t half) {
  const std::int64_t size = inputs.size(0);
  std::optional<Slice> second;
  helper_.start([&] { second = run_slice(inputs, targets, half, size); });
  std::optional<Slice> first;
  try {
    first = run_slice(inputs, targets, 0, half);
  } catch (...) {
    // The helper's slice reads the batch: it must end before the exception leaves.
    try {
      helper_.wait();
    } catch (...) {
    }
    throw;
  }
  helper_.wait();
  return {std::move(*first), std::move(*second)};
}

torch::Tensor SlicedGradients::compute(const torch::Tensor& inputs, const torch::Tensor& targets) {
  const std::int64_t size = inputs.size(0);
  TORCH_CHECK(size >= 2, "SlicedGradients: a batch of ", size, " image(s) has no two slices");
  const std::int64_t half = size / 2;
  last_call_was_concurrent_ =
      seen_slice_sizes_.count(half) != 0 && seen_slice_sizes_.count(size - half) != 0;
  std::pair<Slice, Slice> slices;
  if (last_call_was_concurrent_) {
    slices = run_concurrently(inputs, targets, half);
  } else {
    slices.first = run_slice(inputs, targets, 0, half);
    slices.second = run_slice(inputs, targets, half, size);
    seen_slice_sizes_.insert({half, size - half});
  }
  const auto& [first, second] = slices;

  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    const torch::Tensor& a = first.gradients[k];
    const torch::Tensor& b = second.gradients[k];
    torch::Tensor& gradient = parameters_[k].mutable_grad();
    if (!gradient.defined()) gradient = torch::empty_like(parameters_[k]);
    if (a.defined() && b.defined()) {
      torch::add_out(gradient, a, b);
    } else if (a.defined() || b.defined()) {
      gradient.copy_(a.defined() ? a : b);
    } else {
      gradient.zero_();
    }
  }
  return torch::cat({first.log_probs, second.log_probs});
}

}  // namespace normtrain
