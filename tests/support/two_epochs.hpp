#pragma once

#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model_state.hpp"
#include "normtrain/train/trainer.hpp"

namespace normtrain::testing {

// Two epochs of a fresh model of `config` (seeded with its seed): what they reported, and
// everything the model holds afterwards.
struct TwoEpochs {
  std::vector<EpochResult> epochs;
  std::vector<torch::Tensor> state;
};

inline TwoEpochs train_two_epochs(const TrainConfig& config, const TensorDataset& train,
                                  const TensorDataset& test) {
  torch::manual_seed(config.seed);
  NormNet model(model_options(config));
  Trainer trainer(model, config);
  TwoEpochs run;
  run.epochs.push_back(trainer.run_epoch(1, train, test));
  run.epochs.push_back(trainer.run_epoch(2, train, test));
  run.state = model_state(*model);
  return run;
}

// A test failure for every number in which two runs' training differs: step losses, epoch
// losses and the model's final state, bit for bit (observers must not change a run).
inline void expect_same_training(const TwoEpochs& a, const TwoEpochs& b) {
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(a.epochs[e].metrics.train_loss, b.epochs[e].metrics.train_loss) << "epoch " << e;
    EXPECT_EQ(a.epochs[e].metrics.test_loss, b.epochs[e].metrics.test_loss) << "epoch " << e;
    ASSERT_EQ(a.epochs[e].steps.size(), b.epochs[e].steps.size());
    for (std::size_t s = 0; s < a.epochs[e].steps.size(); ++s) {
      EXPECT_EQ(a.epochs[e].steps[s].loss, b.epochs[e].steps[s].loss) << "step " << s;
    }
  }
  ASSERT_EQ(a.state.size(), b.state.size());
  for (std::size_t i = 0; i < a.state.size(); ++i) {
    EXPECT_TRUE(torch::equal(a.state[i], b.state[i])) << "tensor " << i;
  }
}

}  // namespace normtrain::testing
