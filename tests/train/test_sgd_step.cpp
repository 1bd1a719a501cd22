#include "normtrain/train/sgd_step.hpp"

#include <vector>

#include <gtest/gtest.h>

#include "normtrain/model/model.hpp"

namespace normtrain {
namespace {

// A fused model's parameters (channels-last 3x3 weights on the CPU), each with a gradient.
std::vector<torch::Tensor> model_parameters() {
  NormNet model(ModelOptions{NormKind::kBatch, 8, 0.0, true});
  std::vector<torch::Tensor> parameters;
  for (const torch::Tensor& p : model->parameters())
    parameters.push_back(p.detach().clone(torch::MemoryFormat::Preserve).requires_grad_());
  return parameters;
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& p : parameters) {
    out.push_back(p.detach().clone(torch::MemoryFormat::Preserve).requires_grad_());
  }
  return out;
}

// Gives every parameter the same random gradient as its twin, in the parameter's layout or
// contiguous.
void set_gradients(std::vector<torch::Tensor>& a, std::vector<torch::Tensor>& b, int seed,
                   bool contiguous = false) {
  torch::manual_seed(seed);
  for (std::size_t k = 0; k < a.size(); ++k) {
    torch::Tensor g = torch::randn_like(a[k]);
    if (contiguous) g = g.contiguous();
    a[k].mutable_grad() = g.clone(torch::MemoryFormat::Preserve);
    b[k].mutable_grad() = g.clone(torch::MemoryFormat::Preserve);
  }
}

void expect_bit_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                      int step) {
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_TRUE(torch::equal(a[k], b[k])) << "parameter " << k << " after step " << step;
  }
}

// Steps with changing rates and gradients, one in another layout than the buffers', give the
// parameters and momentum buffers of LibTorch's own step to the bit.
TEST(SgdStep, EqualsLibTorchsStepToTheBit) {
  for (const double momentum : {0.9, 0.0}) {
    std::vector<torch::Tensor> ours = model_parameters();
    std::vector<torch::Tensor> theirs = copies(ours);
    torch::optim::SGD our_optimizer(ours, torch::optim::SGDOptions(0.05).momentum(momentum));
    torch::optim::SGD their_optimizer(theirs, torch::optim::SGDOptions(0.05).momentum(momentum));
    for (int step = 1; step <= 6; ++step) {
      set_gradients(ours, theirs, step, /*contiguous=*/step == 4);
      const double lr = 0.05 / step;
      static_cast<torch::optim::SGDOptions&>(our_optimizer.param_groups()[0].options()).lr(lr);
      static_cast<torch::optim::SGDOptions&>(their_optimizer.param_groups()[0].options()).lr(lr);
      sgd_step(our_optimizer);
      their_optimizer.step();
      expect_bit_equal(ours, theirs, step);
    }
    EXPECT_EQ(our_optimizer.state().size(), their_optimizer.state().size()) << momentum;
  }
}

// Parameters outside the plain-float loop (doubles here; on a GPU, every one) are stepped
// together by the multi-tensor operators, to the same bits as LibTorch's step.
TEST(SgdStep, MultiTensorStepEqualsLibTorchsStepToTheBit) {
  std::vector<torch::Tensor> ours;
  for (const torch::Tensor& p : model_parameters()) {
    ours.push_back(p.detach().to(torch::kFloat64).requires_grad_());
  }
  std::vector<torch::Tensor> theirs = copies(ours);
  torch::optim::SGD our_optimizer(ours, torch::optim::SGDOptions(0.05).momentum(0.9));
  torch::optim::SGD their_optimizer(theirs, torch::optim::SGDOptions(0.05).momentum(0.9));
  for (int step = 1; step <= 4; ++step) {
    set_gradients(ours, theirs, step);
    sgd_step(our_optimizer);
    their_optimizer.step();
    expect_bit_equal(ours, theirs, step);
  }
}

// Gradients zeroed in place stay the same tensors: what a captured CUDA graph writes to.
TEST(SgdStep, ZeroesGradientsWhereTheyAre) {
  std::vector<torch::Tensor> parameters = model_parameters();
  std::vector<torch::Tensor> twins = copies(parameters);
  set_gradients(parameters, twins, 1);
  std::vector<const void*> addresses;
  for (const torch::Tensor& p : parameters) addresses.push_back(p.grad().data_ptr());
  zero_gradients_in_place(parameters);
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    EXPECT_EQ(parameters[k].grad().data_ptr(), addresses[k]) << "parameter " << k;
    EXPECT_EQ(parameters[k].grad().count_nonzero().item<std::int64_t>(), 0) << "parameter " << k;
  }
}

// The momentum buffers are LibTorch's own, under its keys: its step continues from ours, so a
// checkpoint of the optimizer holds them.
TEST(SgdStep, KeepsTheBuffersWhereLibTorchsStepFindsThem) {
  std::vector<torch::Tensor> ours = model_parameters();
  std::vector<torch::Tensor> theirs = copies(ours);
  torch::optim::SGD our_optimizer(ours, torch::optim::SGDOptions(0.05).momentum(0.9));
  torch::optim::SGD their_optimizer(theirs, torch::optim::SGDOptions(0.05).momentum(0.9));
  for (int step = 1; step <= 3; ++step) {
    set_gradients(ours, theirs, step);
    if (step == 2) {
      our_optimizer.step();  // LibTorch's step on the buffers sgd_step made
    } else {
      sgd_step(our_optimizer);
    }
    their_optimizer.step();
    expect_bit_equal(ours, theirs, step);
  }
  ASSERT_EQ(our_optimizer.state().size(), ours.size());
}

// Options no flag sets (weight decay, dampening, Nesterov) are left to LibTorch's step.
TEST(SgdStep, LeavesOtherOptionsToLibTorch) {
  const std::vector<torch::optim::SGDOptions> options = {
      torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-3),
      torch::optim::SGDOptions(0.05).momentum(0.9).dampening(0.1),
      torch::optim::SGDOptions(0.05).momentum(0.9).nesterov(true)};
  for (const torch::optim::SGDOptions& option : options) {
    std::vector<torch::Tensor> ours = model_parameters();
    std::vector<torch::Tensor> theirs = copies(ours);
    torch::optim::SGD our_optimizer(ours, option);
    torch::optim::SGD their_optimizer(theirs, option);
    for (int step = 1; step <= 3; ++step) {
      set_gradients(ours, theirs, step);
      sgd_step(our_optimizer);
      their_optimizer.step();
      expect_bit_equal(ours, theirs, step);
    }
  }
}

}  // namespace
}  // namespace normtrain
