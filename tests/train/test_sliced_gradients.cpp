#include "normtrain/train/sliced_gradients.hpp"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/cli/config.hpp"

namespace normtrain {
namespace {

struct Case {
  NormKind norm;
  bool fused;
};

std::string name_of(const Case& c) {
  return to_flag(c.norm) + (c.fused ? " fused" : " stock");
}

// The gradients of the mean NLL of the whole batch, by one backward pass.
std::vector<torch::Tensor> whole_batch_gradients(NormNet& model, const torch::Tensor& images,
                                                 const torch::Tensor& targets,
                                                 torch::Tensor& log_probs) {
  for (torch::Tensor& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  log_probs = model->forward(images);
  torch::nll_loss(log_probs, targets).backward();
  std::vector<torch::Tensor> gradients;
  for (const torch::Tensor& p : model->parameters()) gradients.push_back(p.grad().clone());
  return gradients;
}

// In double precision the two slices' gradients add up to the batch's to rounding, for even
// and odd batches, for the fused kernels and LibTorch's operators.
TEST(SlicedGradients, AddUpToTheWholeBatchsGradients) {
  const std::vector<Case> cases = {{NormKind::kLayer, true}, {NormKind::kGroup, true},
                                   {NormKind::kNone, true},  {NormKind::kInstance, false},
                                   {NormKind::kRms, false},  {NormKind::kFilterResponse, false}};
  for (const Case& c : cases) {
    for (const std::int64_t batch : {8, 7, 2}) {
      torch::manual_seed(3);
      NormNet model(ModelOptions{c.norm, 8, 0.0, c.fused});
      model->to(torch::kFloat64);
      model->train();
      const torch::Tensor images = torch::randn({batch, 1, 28, 28}, torch::kFloat64);
      const torch::Tensor targets = torch::randint(0, 10, {batch}, torch::kInt64);
      torch::Tensor expected_log_probs;
      const std::vector<torch::Tensor> expected =
          whole_batch_gradients(model, images, targets, expected_log_probs);

      const std::vector<torch::Tensor> parameters = model->parameters();
      for (const torch::Tensor& p : parameters) p.mutable_grad() = torch::Tensor();
      SlicedGradients sliced(model, parameters);
      const torch::Tensor log_probs = sliced.compute(images, targets);
      EXPECT_FALSE(log_probs.requires_grad());
      EXPECT_TRUE(torch::allclose(log_probs, expected_log_probs.detach(), 1e-12, 1e-12))
          << name_of(c) << " batch " << batch;
      for (std::size_t k = 0; k < parameters.size(); ++k) {
        const torch::Tensor& gradient = parameters[k].grad();
        ASSERT_TRUE(gradient.defined()) << name_of(c) << " parameter " << k;
        EXPECT_EQ(gradient.strides(), parameters[k].strides()) << name_of(c) << " parameter " << k;
        EXPECT_TRUE(torch::allclose(gradient, expected[k], 1e-9, 1e-12))
            << name_of(c) << " batch " << batch << " parameter " << k << ": largest difference "
            << (gradient - expected[k]).abs().max().item<double>();
      }
    }
  }
}

// In float the result does not depend on which thread finished first, and it is written into
// the gradients already there (as the optimizer holds them), not into new tensors.
TEST(SlicedGradients, AreTheSameEveryTimeAndReuseTheGradientTensors) {
  torch::manual_seed(4);
  NormNet model(ModelOptions{NormKind::kLayer, 8, 0.0, true});
  model->train();
  const std::vector<torch::Tensor> parameters = model->parameters();
  const torch::Tensor images = torch::randn({8, 1, 28, 28});
  const torch::Tensor targets = torch::randint(0, 10, {8}, torch::kInt64);
  SlicedGradients sliced(model, parameters);
  sliced.compute(images, targets);
  EXPECT_FALSE(sliced.last_call_was_concurrent());
  std::vector<torch::Tensor> first;
  std::vector<const void*> storage;
  for (const torch::Tensor& p : parameters) {
    first.push_back(p.grad().clone());
    storage.push_back(p.grad().data_ptr());
  }
  for (int run = 0; run < 20; ++run) {
    sliced.compute(images, targets);
    ASSERT_TRUE(sliced.last_call_was_concurrent());
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      ASSERT_TRUE(torch::equal(parameters[k].grad(), first[k]))
          << "run " << run << " parameter " << k;
      ASSERT_EQ(parameters[k].grad().data_ptr(), storage[k]);
    }
  }
}

// Slices of a size not seen before run one after the other on the calling thread, which gives
// the same gradients as running them at once; a size seen before runs at once. Each batch size
// brings new convolution shapes, which on Debian 13's oneDNN crashed now and then when two threads
// first ran them together.
TEST(SlicedGradients, NewSliceSizesRunOneAfterTheOtherFirst) {
  torch::manual_seed(6);
  NormNet model(ModelOptions{NormKind::kLayer, 8, 0.0, true});
  model->train();
  const std::vector<torch::Tensor> parameters = model->parameters();
  SlicedGradients sliced(model, parameters);
  std::set<std::int64_t> seen;
  for (std::int64_t batch = 2; batch <= 16; ++batch) {
    const torch::Tensor images = torch::randn({batch, 1, 28, 28});
    const torch::Tensor targets = torch::randint(0, 10, {batch}, torch::kInt64);
    const std::int64_t half = batch / 2;
    const bool known = seen.count(half) != 0 && seen.count(batch - half) != 0;
    const torch::Tensor log_probs = sliced.compute(images, targets);
    EXPECT_EQ(sliced.last_call_was_concurrent(), known) << "batch " << batch;
    seen.insert({half, batch - half});
    std::vector<torch::Tensor> gradients;
    for (const torch::Tensor& p : parameters) gradients.push_back(p.grad().clone());

    EXPECT_TRUE(torch::equal(sliced.compute(images, targets), log_probs)) << "batch " << batch;
    EXPECT_TRUE(sliced.last_call_was_concurrent()) << "batch " << batch;
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      EXPECT_TRUE(torch::equal(parameters[k].grad(), gradients[k]))
          << "batch " << batch << " parameter " << k;
    }
  }
}

// A slice that fails (here: images of the wrong size) fails the call, from either thread, and
// the next call works.
TEST(SlicedGradients, AFailingSliceThrowsAndTheNextCallWorks) {
  torch::manual_seed(5);
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0, true});
  model->train();
  SlicedGradients sliced(model, model->parameters());
  const torch::Tensor targets = torch::randint(0, 10, {4}, torch::kInt64);
  EXPECT_THROW(sliced.compute(torch::randn({4, 1, 5, 5}), targets), c10::Error);
  // Only the helper's slice (the second half) fails: its images are all NaN-free but its
  // targets are out of range.
  EXPECT_THROW(sliced.compute(torch::randn({4, 1, 28, 28}), torch::tensor({1, 2, 3, 99})),
               c10::Error);
  EXPECT_THROW(sliced.compute(torch::randn({1, 1, 28, 28}), targets.slice(0, 0, 1)), c10::Error);
  const torch::Tensor log_probs = sliced.compute(torch::randn({4, 1, 28, 28}), targets);
  EXPECT_EQ(log_probs.sizes(), (std::vector<std::int64_t>{4, 10}));
}

}  // namespace
}  // namespace normtrain
