#include "normtrain/train/landscape_probe.hpp"

#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "model_state.hpp"
#include "normtrain/train/objective.hpp"
#include "normtrain/train/trainer.hpp"
#include "onednn_setting.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"
#include "two_epochs.hpp"

namespace normtrain {
namespace {

constexpr double kL1 = 0.01;
constexpr double kLr = 0.05;

// A training step as the Trainer takes it, up to the optimizer step: the state before the
// forward pass, then forward, objective (with an L1 term) and backward.
struct TakenStep {
  Batch batch;
  torch::Tensor loss;
  ForwardPassState before_forward;
};

TakenStep take_step(NormNet& model) {
  torch::manual_seed(9);
  TakenStep step{
      {torch::randn({16, 1, 28, 28}), torch::randint(0, 10, {16})}, {}, ForwardPassState(model)};
  model->train();
  const std::vector<torch::Tensor> parameters = model->parameters();
  const ObjectiveTerms terms =
      objective_terms(model->forward(step.batch.inputs), step.batch.targets, parameters, kL1);
  terms.nll.backward();
  add_l1_subgradient(parameters, kL1);
  step.loss = terms.total;
  return step;
}

LandscapeProbe probe(NormNet& model, const TakenStep& step, const std::vector<double>& multiples) {
  const ProbedStep probed{7, 2, step.batch, step.loss, kL1, kLr, step.before_forward};
  return probe_landscape(model, model->parameters(), probed, multiples);
}

// The objective and its gradient at `weights` for `model` (whose weights they replace), on
// `batch` in training mode, written without the probe's code.
struct LossAndGradient {
  double loss = 0.0;
  std::vector<torch::Tensor> gradient;
};
LossAndGradient reference_at(NormNet& model, const std::vector<torch::Tensor>& weights,
                             const Batch& batch) {
  const std::vector<torch::Tensor> parameters = model->parameters();
  {
    const torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].copy_(weights[i]);
  }
  model->train();
  torch::Tensor objective = torch::nll_loss(model->forward(batch.inputs), batch.targets);
  for (const torch::Tensor& p : parameters) objective = objective + kL1 * p.abs().sum();
  objective.backward();
  LossAndGradient result{objective.item<double>(), {}};
  for (const torch::Tensor& p : parameters) result.gradient.push_back(p.grad().clone());
  return result;
}

// A new model of `options` holding what `model` holds now.
NormNet copy_of(const ModelOptions& options, NormNet& model) {
  NormNet copy(options);
  const torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> from = testing::model_state(*model);
  std::vector<torch::Tensor> targets = copy->buffers();
  for (const torch::Tensor& p : copy->parameters()) targets.push_back(p);
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i].copy_(from[i]);
  return copy;
}

std::vector<torch::Tensor> gradients_of(NormNet& model) {
  std::vector<torch::Tensor> gradients;
  for (const torch::Tensor& p : model->parameters()) gradients.push_back(p.grad().clone());
  return gradients;
}

TEST(LandscapeProbe, AtEtaZeroItIsTheStepItself) {
  // With dropout too: the probe replays the step's dropout masks.
  for (const ModelOptions& options :
       {ModelOptions{NormKind::kBatch, 8, 0.0, true}, ModelOptions{NormKind::kGroup, 8, 0.1, true},
        ModelOptions{NormKind::kBatchRenorm, 8, 0.1, false}}) {
    const testing::OneDnnSettingRestorer restorer;
    torch::manual_seed(2);
    NormNet model(options);
    ensure_correct_convolutions(model, 16, ConvolutionUse::kTraining);
    const TakenStep step = take_step(model);
    const LandscapeProbe result = probe(model, step, {0.0});
    ASSERT_EQ(result.points.size(), 1U);
    EXPECT_EQ(result.points[0].eta, 0.0);
    EXPECT_EQ(result.points[0].loss, step.loss.item<double>()) << to_flag(options.norm);
    EXPECT_EQ(result.points[0].grad_change, 0.0) << to_flag(options.norm);
    EXPECT_EQ(result.loss, step.loss.item<double>());
    EXPECT_EQ(result.step, 7);
    EXPECT_EQ(result.epoch, 2);
    EXPECT_EQ(result.lr, kLr);
  }
}

TEST(LandscapeProbe, LeavesWeightsGradientsBuffersAndGeneratorAsTheyWere) {
  torch::manual_seed(2);
  NormNet model(ModelOptions{NormKind::kBatch, 8, 0.1, true});
  const TakenStep step = take_step(model);
  const std::vector<torch::Tensor> gradients = gradients_of(model);
  const std::vector<torch::Tensor> state = testing::model_state(*model);
  const ForwardPassState generator_after_step(model);
  const torch::Tensor next_random = torch::rand({4});
  generator_after_step.restore(model);

  probe(model, step, {0.5, 1.0, 2.0, 4.0});
  const std::vector<torch::Tensor> now = testing::model_state(*model);
  ASSERT_EQ(now.size(), state.size());
  for (std::size_t i = 0; i < now.size(); ++i) EXPECT_TRUE(torch::equal(now[i], state[i])) << i;
  const std::vector<torch::Tensor> gradients_now = gradients_of(model);
  for (std::size_t i = 0; i < gradients.size(); ++i) {
    EXPECT_TRUE(torch::equal(gradients_now[i], gradients[i])) << "gradient " << i;
  }
  EXPECT_TRUE(torch::equal(torch::rand({4}), next_random)) << "the generator moved";
}

TEST(LandscapeProbe, LossAndGradientChangeMatchAFreshModelAtTheMovedWeights) {
  // Batch renormalization reads its running statistics in training too: the reference starts
  // from those the step started from.
  for (const ModelOptions& options : {ModelOptions{NormKind::kBatch, 8, 0.0, true},
                                      ModelOptions{NormKind::kBatchRenorm, 8, 0.0, false}}) {
    const testing::OneDnnSettingRestorer restorer;
    torch::manual_seed(2);
    NormNet model(options);
    ensure_correct_convolutions(model, 16, ConvolutionUse::kTraining);
    {
      // Running statistics away from their initial values, so that reading them matters.
      const torch::NoGradGuard no_grad;
      model->train();
      for (int i = 0; i < 3; ++i) model->forward(torch::randn({16, 1, 28, 28}) * 2 + 0.5);
    }
    NormNet before_step = copy_of(options, model);
    const TakenStep step = take_step(model);
    const std::vector<torch::Tensor> g = gradients_of(model);
    std::vector<torch::Tensor> w;
    for (const torch::Tensor& p : model->parameters()) w.push_back(p.detach().clone());

    const LandscapeProbe result = probe(model, step, {1.0, 4.0});
    double grad_norm = 0.0;
    for (const torch::Tensor& t : g) {
      grad_norm += t.to(torch::kFloat64).square().sum().item<double>();
    }
    EXPECT_NEAR(result.grad_norm, std::sqrt(grad_norm), 1e-9 * std::sqrt(grad_norm));
    ASSERT_EQ(result.points.size(), 2U);
    EXPECT_DOUBLE_EQ(result.points[1].eta, 4.0 * kLr);
    for (const LandscapePoint& point : result.points) {
      std::vector<torch::Tensor> moved;
      for (std::size_t i = 0; i < w.size(); ++i) moved.push_back(w[i] - point.eta * g[i]);
      NormNet copy = copy_of(options, before_step);
      const LossAndGradient reference = reference_at(copy, moved, step.batch);
      double change = 0.0;
      for (std::size_t i = 0; i < g.size(); ++i) {
        change += (reference.gradient[i] - g[i]).to(torch::kFloat64).square().sum().item<double>();
      }
      const std::string label = fmt::format("{} eta {}", to_flag(options.norm), point.eta);
      EXPECT_NEAR(point.loss, reference.loss, 1e-5 * std::abs(reference.loss)) << label;
      EXPECT_NEAR(point.grad_change, std::sqrt(change), 1e-3 * std::sqrt(change)) << label;
      EXPECT_GT(point.grad_change, 0.0) << label;
    }
  }
}

TEST(LandscapeProbe, TheTrainerProbesAtStepOneAndEveryNStepsWithoutChangingTraining) {
  const TensorDataset train = testing::tiny_mnist(Split::kTrain, 640);  // 5 steps of 128
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 100);
  for (const double dropout : {0.0, 0.1}) {
    TrainConfig config;
    config.norm = NormKind::kBatch;
    config.l1 = 0.01;
    config.dropout = dropout;
    const testing::TwoEpochs without = testing::train_two_epochs(config, train, test);
    config.landscape_every = 3;
    const testing::TwoEpochs with = testing::train_two_epochs(config, train, test);
    EXPECT_TRUE(without.epochs[0].landscape.empty());
    // Steps 1 and 4 of epoch 1, then 7 and 10 of epoch 2, four step sizes each.
    ASSERT_EQ(with.epochs[0].landscape.size(), 2U);
    ASSERT_EQ(with.epochs[1].landscape.size(), 2U);
    EXPECT_EQ(with.epochs[0].landscape[1].step, 4);
    EXPECT_EQ(with.epochs[1].landscape[0].step, 7);
    EXPECT_EQ(with.epochs[1].landscape[0].epoch, 2);
    ASSERT_EQ(with.epochs[1].landscape[1].points.size(), 4U);
    EXPECT_EQ(with.epochs[1].landscape[1].loss, with.epochs[1].steps[4].loss);
    testing::expect_same_training(without, with);
  }
}

}  // namespace
}  // namespace normtrain
