#include "normtrain/train/precise_batch_norm.hpp"

#include <gtest/gtest.h>

#include "model_state.hpp"
#include "normtrain/data/batches.hpp"
#include "normtrain/data/mnist.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"
#include "two_epochs.hpp"

namespace normtrain {
namespace {

void reset_running_statistics(NormNet& model) {
  torch::NoGradGuard no_grad;
  for (const NormSite& site : model->norm_sites()) {
    auto buffers = model->layers()[*site.norm]->named_buffers(false);
    buffers["running_mean"].zero_();
    buffers["running_var"].fill_(1.0);
  }
}

TEST(PreciseBatchNorm, TheFirstBlocksStatisticsAreTheAverageOverBatches) {
  for (bool fused : {true, false}) {
    torch::manual_seed(7);
    NormNet model(ModelOptions{NormKind::kBatch, 8, 0.0, fused});
    reset_running_statistics(model);
    const TensorDataset train = testing::tiny_mnist(Split::kTrain, 300);
    // 300 images in batches of 128: 128, 128 and 44, each batch one term of the average.
    const PreciseStatistics precise = precise_statistics(model, train, 300, 128);
    torch::Tensor mean_sum = torch::zeros({8}, torch::kFloat64);
    torch::Tensor var_sum = torch::zeros({8}, torch::kFloat64);
    for (std::int64_t start : {0, 128, 256}) {
      const Batch batch = plain_batch(train, start, std::min<std::int64_t>(128, 300 - start));
      torch::NoGradGuard no_grad;
      const torch::Tensor x =
          torch::relu(model->layers()[0]->as<torch::nn::Conv2dImpl>()->forward(batch.inputs))
              .to(torch::kFloat64);
      mean_sum += x.mean({0, 2, 3});
      var_sum += x.transpose(0, 1).reshape({8, -1}).var(1);  // unbiased
    }
    EXPECT_TRUE(torch::allclose(precise.means[0].to(torch::kFloat64), mean_sum / 3, 1e-5, 1e-6))
        << fused;
    EXPECT_TRUE(torch::allclose(precise.variances[0].to(torch::kFloat64), var_sum / 3, 1e-4, 1e-6))
        << fused;
    ASSERT_EQ(precise.means.size(), 5U);
    EXPECT_EQ(precise.means[1].size(0), 24);
  }
}

TEST(PreciseBatchNorm, LeavesTheModelAndTheGeneratorAsTheyWere) {
  NormNet model(ModelOptions{NormKind::kBatchRenorm, 8, 0.0, false});
  model->train();
  const std::vector<torch::Tensor> before = testing::model_state(*model);
  testing::expect_no_global_random_draws([&] {
    evaluate_with_precise_statistics(model, testing::tiny_mnist(Split::kTrain, 256), 256, 64,
                                     testing::tiny_mnist(Split::kTest, 50));
  });
  EXPECT_TRUE(model->is_training());
  testing::expect_state_unchanged(*model, before);
}

TEST(PreciseBatchNorm, RecoversAModelWhoseRunningStatisticsWereLost) {
  torch::set_num_threads(2);
  TrainConfig config;
  config.lr = 0.05;
  const TensorDataset train = testing::tiny_mnist(Split::kTrain, 0);
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 0);
  torch::manual_seed(config.seed);
  NormNet model(model_options(config));
  Trainer trainer(model, config);
  EpochResult trained;
  for (int epoch = 1; epoch <= 3; ++epoch) trained = trainer.run_epoch(epoch, train, test);
  ASSERT_GT(trained.metrics.test_acc, 50.0);
  reset_running_statistics(model);
  const double lost = evaluate(model, test).accuracy;
  const double precise = evaluate_with_precise_statistics(model, train, 1000, 128, test).accuracy;
  // Means 0 and variances 1 are far from this network's: it then predicts badly.
  EXPECT_LT(lost, trained.metrics.test_acc - 20.0);
  EXPECT_GT(precise, trained.metrics.test_acc - 5.0);
}

TEST(PreciseBatchNorm, RefusesAModelWithoutRunningStatistics) {
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0, true});
  EXPECT_THROW(precise_statistics(model, testing::tiny_mnist(Split::kTrain, 10), 10, 5),
               c10::Error);
}

TEST(PreciseBatchNorm, TheTrainerAddsThePreciseColumnsWithoutChangingTraining) {
  const TensorDataset train = testing::tiny_mnist(Split::kTrain, 384);
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 100);
  TrainConfig config;
  const testing::TwoEpochs without = testing::train_two_epochs(config, train, test);
  config.precise_bn = 256;
  const testing::TwoEpochs with = testing::train_two_epochs(config, train, test);
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_FALSE(without.epochs[e].metrics.test_acc_precise.has_value());
    EXPECT_TRUE(with.epochs[e].metrics.test_acc_precise.has_value());
    EXPECT_TRUE(with.epochs[e].metrics.test_loss_precise.has_value());
  }
  testing::expect_same_training(without, with);
}

}  // namespace
}  // namespace normtrain
