#include "normtrain/train/graphed_step.hpp"

namespace normtrain {

GraphedStep::GraphedStep(std::int64_t batch_size, torch::Device device)
    : picked_(torch::zeros({batch_size}, torch::TensorOptions(device).dtype(torch::kInt64))),
      angles_(torch::zeros({batch_size}, torch::TensorOptions(device).dtype(torch::kFloat32))) {}

torch::Tensor GraphedStep::run(const torch::Tensor& picked, const torch::Tensor& angles, double lr,
                               const Body& body) {
  TORCH_CHECK(picked.size(0) == picked_.size(0), "GraphedStep: a batch of ", picked.size(0),
              " images, captured for ", picked_.size(0));
  picked_.copy_(picked);
  angles_.copy_(angles);
  if (graph_.empty() || captured_lr_ != lr) {
    // The old graph's outputs go first, so that its memory pool can go when capture() drops
    // the graph; a failed capture leaves the graph empty, captured again next time.
    figures_ = torch::Tensor();
    try {
      graph_.capture([&] { figures_ = body(picked_, angles_); });
    } catch (...) {
      figures_ = torch::Tensor();
      throw;
    }
    captured_lr_ = lr;
    ++captures_;
  }
  graph_.replay();
  return figures_.clone();
}

}  // namespace normtrain
