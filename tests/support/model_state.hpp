#pragma once

#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace normtrain::testing {

// A copy of everything a model holds (buffers, then parameters), to show that code which must
// leave a model as it was did so.
inline std::vector<torch::Tensor> model_state(const torch::nn::Module& model) {
  std::vector<torch::Tensor> state;
  for (const torch::Tensor& buffer : model.buffers()) state.push_back(buffer.detach().clone());
  for (const torch::Tensor& parameter : model.parameters()) {
    state.push_back(parameter.detach().clone());
  }
  return state;
}

// A test failure for every tensor of `model` that differs from `before` (a model_state), and
// for every parameter that got a gradient.
inline void expect_state_unchanged(const torch::nn::Module& model,
                                   const std::vector<torch::Tensor>& before) {
  const std::vector<torch::Tensor> now = model_state(model);
  ASSERT_EQ(now.size(), before.size());
  for (std::size_t i = 0; i < now.size(); ++i) {
    EXPECT_TRUE(torch::equal(now[i], before[i])) << "tensor " << i << " changed";
  }
  for (const torch::Tensor& parameter : model.parameters()) {
    EXPECT_FALSE(parameter.grad().defined()) << "a parameter got a gradient";
  }
}

// The next value LibTorch's global generator gives after seeding it with `seed` and running
// `body`, against the one it gives without `body`: equal when `body` drew nothing from it.
template <typename Body>
void expect_no_global_random_draws(Body body) {
  torch::manual_seed(5);
  const torch::Tensor expected = torch::rand({4});
  torch::manual_seed(5);
  body();
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected)) << "the global generator was used";
}

}  // namespace normtrain::testing
