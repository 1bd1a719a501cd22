#include "normtrain/train/layer_diagnostics.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "normtrain/train/trainer.hpp"
#include "onednn_setting.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"
#include "two_epochs.hpp"

namespace normtrain {
namespace {

std::vector<ModelOptions> fused_and_stock(NormKind norm) {
  return {ModelOptions{norm, 8, 0.0, has_fused_kernels(norm)}, ModelOptions{norm, 8, 0.0, false}};
}

TEST(ActivationStatistics, OfAKnownReluOutput) {
  const torch::Tensor x = torch::relu(torch::tensor({-1.0F, 0.0F, 2.0F, 3.0F, -0.5F}));
  const torch::Tensor stats = activation_statistics(x);
  // Values 0, 0, 2, 3, 0: mean 1, population variance (1 + 1 + 1 + 4 + 1) / 5.
  EXPECT_NEAR(stats[0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(stats[1].item<double>(), std::sqrt(8.0 / 5.0), 1e-12);
  EXPECT_NEAR(stats[2].item<double>(), 3.0 / 5.0, 1e-12);
}

TEST(NormTaps, TheForwardPassIsTheSameWithTaps) {
  for (NormKind norm : {NormKind::kBatch, NormKind::kGroup, NormKind::kNone,
                        NormKind::kFilterResponse, NormKind::kRms}) {
    for (const ModelOptions& options : fused_and_stock(norm)) {
      torch::manual_seed(3);
      NormNet model(options);
      const torch::Tensor images = torch::randn({8, 1, 28, 28});
      std::vector<NormSiteActivations> taps;
      const torch::Tensor with = model->forward(images, taps);
      const torch::Tensor without = model->forward(images);
      EXPECT_TRUE(torch::equal(with, without)) << to_flag(norm) << " fused " << options.fused;
      ASSERT_EQ(taps.size(), 5U);
      EXPECT_EQ(taps[1].input.sizes(), (std::vector<std::int64_t>{8, 24, 24, 24}));
      EXPECT_EQ(taps[4].output.sizes(), (std::vector<std::int64_t>{8, 16, 6, 6}));
    }
  }
}

TEST(NormTaps, FusedAndStockSeeTheSameActivations) {
  for (NormKind norm : {NormKind::kBatch, NormKind::kLayer}) {
    torch::manual_seed(4);
    NormNet fused(ModelOptions{norm, 8, 0.0, true});
    torch::manual_seed(4);
    NormNet stock(ModelOptions{norm, 8, 0.0, false});
    const torch::Tensor images = torch::randn({4, 1, 28, 28});
    // As every command checks a model before it uses it (convolution_check.hpp).
    const testing::OneDnnSettingRestorer restorer;
    ensure_correct_convolutions(stock, images.size(0), ConvolutionUse::kEvaluation);
    std::vector<NormSiteActivations> a;
    std::vector<NormSiteActivations> b;
    fused->forward(images, a);
    stock->forward(images, b);
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(torch::allclose(a[i].input, b[i].input, 1e-4, 1e-5)) << i;
      EXPECT_TRUE(torch::allclose(a[i].output, b[i].output, 1e-4, 1e-4)) << i;
      // After the ReLU: the zero fraction is that of the convolution's non-positive outputs.
      EXPECT_GT(activation_statistics(a[i].input)[2].item<double>(), 0.05) << i;
    }
  }
}

TEST(LayerDiagnostics, BatchNormOutputHasTheMeanBetaAndTheStdGamma) {
  for (const ModelOptions& options : fused_and_stock(NormKind::kBatch)) {
    torch::manual_seed(5);
    NormNet model(options);
    model->train();
    for (const NormSite& site : model->norm_sites()) {
      torch::NoGradGuard no_grad;
      auto parameters = model->layers()[*site.norm]->named_parameters(false);
      parameters["weight"].fill_(2.0);
      parameters["bias"].fill_(0.5);
    }
    const torch::Tensor images = torch::randn({64, 1, 28, 28});
    std::vector<NormSiteActivations> taps;
    torch::nll_loss(model->forward(images, taps), torch::zeros({64}, torch::kInt64)).backward();
    const std::vector<LayerDiagnostics> rows =
        layer_diagnostics(model, taps, block_conv_weights(model), 1, 1);
    ASSERT_EQ(rows.size(), 5U);
    for (const LayerDiagnostics& row : rows) {
      // Every channel normalized over the batch, then scaled by 2 and shifted by 0.5.
      EXPECT_NEAR(row.out_mean, 0.5, 1e-4) << row.name << " fused " << options.fused;
      // Slightly under 2: BatchNorm divides by sqrt(variance + 1e-5), and a deep block's
      // variance is small.
      EXPECT_NEAR(row.out_std, 2.0, 1e-2) << row.name << " fused " << options.fused;
      EXPECT_DOUBLE_EQ(*row.gamma_mean, 2.0);
      EXPECT_DOUBLE_EQ(*row.beta_mean, 0.5);
      EXPECT_GT(row.in_zero_frac, 0.0);
      EXPECT_GT(row.grad_norm, 0.0);
      EXPECT_EQ(row.update_ratio, 0.0);  // no step between the copy and the measurement
    }
    EXPECT_EQ(rows[0].name, "block1");
    EXPECT_EQ(rows[4].layer, 5);
  }
}

TEST(LayerDiagnostics, UpdateRatioOfAFirstSgdStepIsLrTimesGradOverWeight) {
  // The first step of SGD with momentum moves each weight by lr * its gradient.
  torch::manual_seed(6);
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0, true});
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  const torch::Tensor images = torch::randn({16, 1, 28, 28});
  std::vector<NormSiteActivations> taps;
  torch::nll_loss(model->forward(images, taps), torch::randint(0, 10, {16}, torch::kInt64))
      .backward();
  const std::vector<torch::Tensor> before = block_conv_weights(model);
  sgd.step();
  for (const LayerDiagnostics& row : layer_diagnostics(model, taps, before, 1, 1)) {
    EXPECT_NEAR(row.update_ratio, 0.05 * row.grad_norm / row.weight_norm, 1e-5 * row.update_ratio)
        << row.name;
  }
}

TEST(LayerDiagnostics, AffineMeansOnlyWhereTheNormHasThem) {
  const auto first_row = [](const ModelOptions& options) {
    NormNet model(options);
    std::vector<NormSiteActivations> taps;
    model->forward(torch::randn({2, 1, 28, 28}), taps);
    return layer_diagnostics(model, taps, block_conv_weights(model), 1, 1).front();
  };
  for (bool fused : {true, false}) {
    const LayerDiagnostics none = first_row(ModelOptions{NormKind::kNone, 8, 0.0, fused});
    EXPECT_FALSE(none.gamma_mean.has_value());
    EXPECT_FALSE(none.beta_mean.has_value());
    // Without a norm, what leaves it is what entered it.
    EXPECT_DOUBLE_EQ(none.out_mean, none.in_mean);
  }
  const LayerDiagnostics rms = first_row(ModelOptions{NormKind::kRms, 8, 0.0, false});
  EXPECT_DOUBLE_EQ(*rms.gamma_mean, 1.0);
  EXPECT_FALSE(rms.beta_mean.has_value());
  const LayerDiagnostics frn = first_row(ModelOptions{NormKind::kFilterResponse, 8, 0.0, false});
  EXPECT_TRUE(frn.gamma_mean.has_value());
  EXPECT_TRUE(frn.beta_mean.has_value());
  // FRN's input is the convolution's output: no ReLU has zeroed anything.
  EXPECT_EQ(frn.in_zero_frac, 0.0);
}

TEST(LayerDiagnostics, TheTrainerWritesRowsAtStepOneAndEveryNStepsWithoutChangingTraining) {
  const TensorDataset train = testing::tiny_mnist(Split::kTrain, 640);  // 5 steps of 128
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 100);
  TrainConfig config;
  config.norm = NormKind::kBatch;
  config.l1 = 0.01;
  config.diagnostics_every = 0;
  const testing::TwoEpochs without = testing::train_two_epochs(config, train, test);
  config.diagnostics_every = 2;
  const testing::TwoEpochs with = testing::train_two_epochs(config, train, test);
  EXPECT_TRUE(without.epochs[0].layers.empty());
  // Steps 1, 3 and 5 of epoch 1, then 7 and 9 of epoch 2, five blocks each.
  ASSERT_EQ(with.epochs[0].layers.size(), 15U);
  ASSERT_EQ(with.epochs[1].layers.size(), 10U);
  EXPECT_EQ(with.epochs[0].layers[5].step, 3);
  EXPECT_EQ(with.epochs[1].layers[0].step, 7);
  EXPECT_EQ(with.epochs[1].layers[0].epoch, 2);
  testing::expect_same_training(without, with);
}

}  // namespace
}  // namespace normtrain
