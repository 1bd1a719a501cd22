#include "normtrain/train/trainer.hpp"

#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/batches.hpp"
#include "normtrain/model/convolution_check.hpp"
#include "normtrain/train/objective.hpp"
#include "onednn_setting.hpp"
#include "test_support.hpp"
#include "tiny_data.hpp"

namespace normtrain {
namespace {

TEST(Objective, L1TermAddsExactlyLambdaTimesSumOfAbsoluteValues) {
  torch::manual_seed(0);
  const torch::Tensor log_probs = torch::log_softmax(torch::randn({4, 10}, torch::kFloat64), 1);
  const torch::Tensor targets = torch::tensor({1, 2, 3, 4}, torch::kInt64);
  const std::vector<torch::Tensor> parameters = {
      torch::tensor({1.5, -2.0}, torch::kFloat64),
      torch::tensor({{-0.25, 0.0}, {3.0, -1.0}}, torch::kFloat64)};
  const double lambda = 0.01;
  const double without = objective_terms(log_probs, targets, parameters, 0.0).total.item<double>();
  const double with = objective_terms(log_probs, targets, parameters, lambda).total.item<double>();
  EXPECT_DOUBLE_EQ(without, torch::nll_loss(log_probs, targets).item<double>());
  EXPECT_NEAR(with - without, lambda * (1.5 + 2.0 + 0.25 + 0.0 + 3.0 + 1.0), 1e-12);
}

TEST(Objective, L1CoversEveryParameterOfTheModel) {
  NormNet model(ModelOptions{NormKind::kBatch, 8, 0.0});
  double expected = 0.0;
  for (const torch::Tensor& p : model->parameters()) expected += p.abs().sum().item<double>();
  EXPECT_NEAR(l1_norm(model->parameters()).item<double>(), expected, 1e-3);
}

// The trainer's split gradient (autograd through the NLL, then l1 * sign(p)) must be the
// autograd gradient of the whole objective, exactly, for the reference results to stand.
TEST(Objective, SplitGradientEqualsAutogradOfTheWholeObjective) {
  torch::manual_seed(5);
  for (NormKind norm : {NormKind::kBatch, NormKind::kGroup}) {
    NormNet model(ModelOptions{norm, 8, 0.0});
    const std::vector<torch::Tensor> parameters = model->parameters();
    const torch::Tensor images = torch::randn({16, 1, 28, 28});
    const torch::Tensor targets = torch::randint(0, 10, {16}, torch::kInt64);
    const double lambda = 0.01;

    torch::Tensor log_probs = model->forward(images);
    (torch::nll_loss(log_probs, targets) + lambda * l1_norm(parameters)).backward();
    std::vector<torch::Tensor> expected;
    for (const torch::Tensor& p : parameters) expected.push_back(p.grad().clone());

    for (const torch::Tensor& p : parameters) p.mutable_grad().zero_();
    log_probs = model->forward(images);
    const ObjectiveTerms terms = objective_terms(log_probs, targets, parameters, lambda);
    EXPECT_FALSE(terms.total.requires_grad());
    terms.nll.backward();
    add_l1_subgradient(parameters, lambda);
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      EXPECT_TRUE(torch::equal(parameters[i].grad(), expected[i])) << "parameter " << i;
    }
  }
}

// Parameters that took no part in the loss still get the penalty's gradient.
TEST(Objective, L1SubgradientFillsAnAbsentGradient) {
  const torch::Tensor p = torch::tensor({-2.0f, 0.0f, 3.0f}).requires_grad_();
  add_l1_subgradient({p}, 0.5);
  EXPECT_TRUE(torch::equal(p.grad(), torch::tensor({-0.5f, 0.0f, 0.5f})));
}

// The penalty's subgradient is added by a loop over the memory of CPU float tensors: it must
// give LibTorch's grad.add_(p.sign(), l1) bit for bit, for every kind of value and layout.
TEST(Objective, L1SubgradientLoopEqualsLibTorchsOperators) {
  torch::manual_seed(11);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<torch::Tensor> parameters = {
      torch::randn({16, 8, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast),
      torch::tensor({0.0F, -0.0F, nan, 1e-30F, -1e-30F, 3.0F, -7.0F}), torch::randn({1000})};
  for (const double l1 : {0.01, 1e-4, 0.3}) {
    std::vector<torch::Tensor> expected;
    for (torch::Tensor& p : parameters) {
      p.mutable_grad() = torch::randn_like(p);
      p.mutable_grad().data_ptr<float>()[0] = -0.0F;  // the first element in either layout
      expected.push_back(p.grad().clone().add_(p.sign(), l1));
    }
    add_l1_subgradient(parameters, l1);
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      EXPECT_TRUE(torch::equal(parameters[i].grad(), expected[i])) << "parameter " << i;
      EXPECT_EQ(std::signbit(parameters[i].grad().data_ptr<float>()[0]),
                std::signbit(expected[i].data_ptr<float>()[0]));
    }
  }
}

// The batched subgradient (what a GPU runs) adds the same values as the per-parameter one, to a
// channels-last gradient, a missing one and through NaN and signed zeros alike.
TEST(Objective, L1SubgradientBatchedEqualsThePerParameterOne) {
  torch::manual_seed(13);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<torch::Tensor> shapes = {
      torch::randn({16, 8, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast),
      torch::tensor({0.0F, -0.0F, nan, 1e-30F, -1e-30F, 3.0F, -7.0F}), torch::randn({10})};
  std::vector<torch::Tensor> batched;
  std::vector<torch::Tensor> each;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    batched.push_back(shapes[i].clone(at::MemoryFormat::Preserve).requires_grad_());
    each.push_back(shapes[i].clone(at::MemoryFormat::Preserve).requires_grad_());
    if (i == 2) continue;  // no gradient yet
    const torch::Tensor gradient = torch::randn_like(shapes[i]);
    batched[i].mutable_grad() = gradient.clone(at::MemoryFormat::Preserve);
    each[i].mutable_grad() = gradient.clone(at::MemoryFormat::Preserve);
  }
  add_l1_subgradient_batched(batched, 0.01);
  add_l1_subgradient(each, 0.01);
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    EXPECT_TRUE(torch::equal(batched[i].grad(), each[i].grad())) << "parameter " << i;
  }
}

// Without gradients (as the objective asks for it) the L1 norm is one pass summing in double.
TEST(Objective, L1NormWithoutGradientsIsTheDoubleSum) {
  torch::manual_seed(12);
  const std::vector<torch::Tensor> parameters = {
      torch::randn({24, 8, 3, 3}),
      torch::randn({16, 16, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast),
      torch::randn({10}, torch::kFloat64).to(torch::kFloat)};
  double expected = 0.0;
  for (const torch::Tensor& p : parameters)
    expected += p.abs().to(torch::kFloat64).sum().item<double>();
  torch::NoGradGuard no_grad;
  const torch::Tensor value = l1_norm(parameters);
  EXPECT_EQ(value.scalar_type(), torch::kFloat);
  EXPECT_FLOAT_EQ(value.item<float>(), static_cast<float>(expected));
}

class SmokeTraining : public ::testing::TestWithParam<NormKind> {};

TEST_P(SmokeTraining, LossFallsOnTheCommittedSubset) {
  torch::set_num_threads(2);
  TrainConfig config;
  config.norm = GetParam();
  config.fused_kernels = has_fused_kernels(config.norm);
  // A larger step than the recipe's, so that a few dozen steps are enough to see learning.
  config.lr = 0.05;
  const TensorDataset train = testing::tiny_mnist(Split::kTrain);
  const TensorDataset test = testing::tiny_mnist(Split::kTest);
  torch::manual_seed(config.seed);
  NormNet model(model_options(config));
  Trainer trainer(model, config);

  std::int64_t callbacks = 0;
  std::vector<EpochResult> epochs;
  epochs.push_back(
      trainer.run_epoch(1, train, test, [&](std::int64_t, std::int64_t) { ++callbacks; }));
  for (int epoch = 2; epoch <= 3; ++epoch) epochs.push_back(trainer.run_epoch(epoch, train, test));

  EXPECT_EQ(callbacks, 16);  // 2,000 images in batches of 128
  ASSERT_EQ(epochs[0].steps.size(), 16u);
  EXPECT_EQ(epochs[1].steps.front().step, 17);
  // Near chance (log 10 = 2.30) at the start, lower after three epochs.
  EXPECT_GT(epochs[0].steps.front().loss, 2.0);
  EXPECT_LT(epochs[2].metrics.train_loss, epochs[0].metrics.train_loss);
  // Clearly learning, but for FRN and RMS norm: without centering after a ReLU (RMS norm), or
  // with a threshold at 0 (FRN), they start more slowly on this network (FRN: 44%, RMS norm:
  // 21% training accuracy here after three epochs; 95.4% and 96.2% test accuracy after one epoch of
  // full MNIST at the recipe's rate).
  if (config.norm != NormKind::kFilterResponse && config.norm != NormKind::kRms) {
    EXPECT_LT(epochs[2].metrics.train_loss, 1.5);
    EXPECT_GT(epochs[2].metrics.train_acc, 50.0);
  }
  EXPECT_DOUBLE_EQ(epochs[2].metrics.lr, 0.05);
  EXPECT_GT(epochs[2].metrics.train_seconds, 0.0);
}

INSTANTIATE_TEST_SUITE_P(EveryNorm, SmokeTraining,
                         ::testing::Values(NormKind::kBatch, NormKind::kLayer, NormKind::kGroup,
                                           NormKind::kBatchRenorm, NormKind::kFilterResponse,
                                           NormKind::kRms),
                         [](const auto& param_info) { return to_flag(param_info.param); });

// Which steps are cut into concurrent slices: small batches of models whose examples do not
// see each other, on a machine with two threads or more.
TEST(Trainer, SmallPerExampleBatchesTrainInTwoSlices) {
  torch::set_num_threads(2);
  const auto plan = [](NormKind norm, std::int64_t batch, double dropout) {
    TrainConfig config;
    config.norm = norm;
    config.fused_kernels = has_fused_kernels(norm);
    config.batch_size = batch;
    config.dropout = dropout;
    torch::manual_seed(0);
    NormNet model(model_options(config));
    const Trainer trainer(model, config);
    return std::make_pair(trainer.step_slices(), trainer.step_threads());
  };
  EXPECT_EQ(plan(NormKind::kLayer, 8, 0.0), std::make_pair(2, 1));
  EXPECT_EQ(plan(NormKind::kGroup, 16, 0.0), std::make_pair(2, 1));
  EXPECT_EQ(plan(NormKind::kRms, 2, 0.0), std::make_pair(2, 1));
  EXPECT_EQ(plan(NormKind::kBatch, 8, 0.0), std::make_pair(1, 1));
  EXPECT_EQ(plan(NormKind::kBatchRenorm, 8, 0.0), std::make_pair(1, 1));
  EXPECT_EQ(plan(NormKind::kLayer, 8, 0.1), std::make_pair(1, 1));
  EXPECT_EQ(plan(NormKind::kLayer, 128, 0.0), std::make_pair(1, 2));
  torch::set_num_threads(1);
  EXPECT_EQ(plan(NormKind::kLayer, 8, 0.0), std::make_pair(1, 1));
  torch::set_num_threads(2);
}

// CUDA graphs are for CUDA runs: a CPU run says why it has none, and refuses to run when they
// were asked for outright.
TEST(Trainer, CpuRunsHaveNoCudaGraphsAndRefuseThemWhenAskedFor) {
  TrainConfig config;
  torch::manual_seed(0);
  NormNet model(model_options(config));
  EXPECT_EQ(Trainer(model, config).cuda_graphs(), "off: training runs on the CPU");
  config.cuda_graphs = CudaGraphs::kOff;
  EXPECT_EQ(Trainer(model, config).cuda_graphs(), "off: --cuda-graphs off");
  config.cuda_graphs = CudaGraphs::kOn;
  try {
    const Trainer trainer(model, config);
    ADD_FAILURE() << "a CPU trainer took --cuda-graphs on";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(error.what()).find("--cuda-graphs on: training runs on the CPU"),
              std::string::npos)
        << error.what();
  }
}

// The committed subset's first `count` training images.
TensorDataset first_training_images(std::int64_t count) {
  TensorDataset train = testing::tiny_mnist(Split::kTrain);
  train.images = train.images.slice(0, 0, count);
  train.labels = train.labels.slice(0, 0, count);
  return train;
}

// One epoch of LN at batch 8 from the recipe's seed, its steps sliced (two threads allowed).
EpochResult sliced_layer_norm_epoch(const TensorDataset& train, const TensorDataset& test,
                                    int diagnostics_every = 0) {
  TrainConfig config;
  config.norm = NormKind::kLayer;
  config.batch_size = 8;
  config.diagnostics_every = diagnostics_every;
  torch::manual_seed(config.seed);
  NormNet model(model_options(config));
  Trainer trainer(model, config);
  EXPECT_EQ(trainer.step_slices(), 2);
  return trainer.run_epoch(1, train, test);
}

// A last batch whose slices have sizes no earlier step had (206 images: 25 batches of 8, then
// one of 6) trains like the others, and the epoch repeats exactly. On Debian 13 such a batch
// crashed inside oneDNN now and then while its slices first ran at once.
TEST(Trainer, ALastBatchWithNewSliceSizesTrains) {
  torch::set_num_threads(2);
  const TensorDataset train = first_training_images(206);
  const TensorDataset test = testing::tiny_mnist(Split::kTest);
  const EpochResult first = sliced_layer_norm_epoch(train, test);
  EXPECT_FALSE(first.divergence.has_value());
  ASSERT_EQ(first.steps.size(), 26u);
  EXPECT_TRUE(std::isfinite(first.steps.back().loss));
  const EpochResult again = sliced_layer_norm_epoch(train, test);
  ASSERT_EQ(again.steps.size(), 26u);
  EXPECT_EQ(first.steps.back().loss, again.steps.back().loss);
  EXPECT_EQ(first.metrics.train_loss, again.metrics.train_loss);
  EXPECT_EQ(first.metrics.test_acc, again.metrics.test_acc);
}

// A sliced epoch learns, gives the same numbers every time, and observed steps (diagnostics,
// which run the whole batch) fit in between.
TEST(Trainer, SlicedEpochsLearnAndRepeatExactly) {
  torch::set_num_threads(2);
  const TensorDataset train = first_training_images(640);
  const TensorDataset test = testing::tiny_mnist(Split::kTest);
  const EpochResult first = sliced_layer_norm_epoch(train, test);
  const EpochResult again = sliced_layer_norm_epoch(train, test);
  const EpochResult observed = sliced_layer_norm_epoch(train, test, 7);
  ASSERT_EQ(first.steps.size(), 80u);
  EXPECT_GT(first.steps.front().loss, 2.0);
  // 80 steps at the recipe's rate: 31% training and 51% test accuracy, far from chance (10%).
  EXPECT_LT(first.metrics.train_loss, 2.2);
  EXPECT_GT(first.metrics.test_acc, 35.0);
  for (std::size_t i = 0; i < first.steps.size(); ++i) {
    ASSERT_EQ(first.steps[i].loss, again.steps[i].loss) << "step " << i + 1;
  }
  EXPECT_EQ(first.metrics.test_loss, again.metrics.test_loss);
  EXPECT_FALSE(observed.layers.empty());
  EXPECT_GT(observed.metrics.test_acc, 35.0);
}

TEST(Evaluate, CountsMatchPredictions) {
  const TensorDataset test = testing::tiny_mnist(Split::kTest);
  torch::manual_seed(1);
  NormNet model(ModelOptions{NormKind::kLayer, 8, 0.0});
  const EvalResult result = evaluate(model, test, 128);
  EXPECT_EQ(result.predictions.size(0), 500);
  EXPECT_EQ(result.correct, result.predictions.eq(test.labels).sum().item<std::int64_t>());
  EXPECT_NEAR(result.accuracy, result.correct / 5.0, 1e-9);
  EXPECT_TRUE((result.confidences > 0).all().item<bool>());
  EXPECT_TRUE((result.confidences <= 1).all().item<bool>());
}

// The test loss is the mean of per-example losses added in example order, so the evaluation
// batch size changes nothing: loss, accuracy, predictions and confidences are identical, for
// every norm, fused or stock, and for BatchNorm with running statistics that are not the
// initial ones.
class EvaluateBatchSize : public ::testing::TestWithParam<std::tuple<NormKind, bool>> {};

TEST_P(EvaluateBatchSize, DoesNotChangeAnyResult) {
  torch::set_num_threads(2);
  const auto [norm, fused] = GetParam();
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 200);
  torch::manual_seed(3);
  NormNet model(ModelOptions{norm, 8, 0.0, fused});
  {
    // A few training-mode passes move BatchNorm's running statistics off 0 and 1.
    torch::NoGradGuard no_grad;
    model->train();
    const TensorDataset train = testing::tiny_mnist(Split::kTrain, 384);
    for (std::int64_t start = 0; start < train.size(); start += 128) {
      model->forward(plain_batch(train, start, 128).inputs);
    }
  }
  // As every command checks a model before it evaluates it (convolution_check.hpp).
  const testing::OneDnnSettingRestorer restorer;
  ensure_correct_convolutions(model, 200, ConvolutionUse::kEvaluation);
  const EvalResult reference = evaluate(model, test, 200);
  EXPECT_GT(reference.loss, 0.0);
  // 199 leaves a last batch of one image, which evaluate sends with the one before it.
  for (const std::int64_t batch_size : {2, 3, 64, 199}) {
    const EvalResult result = evaluate(model, test, batch_size);
    EXPECT_EQ(result.loss, reference.loss) << "batch size " << batch_size;
    EXPECT_EQ(result.correct, reference.correct) << "batch size " << batch_size;
    EXPECT_EQ(result.accuracy, reference.accuracy) << "batch size " << batch_size;
    EXPECT_TRUE(torch::equal(result.predictions, reference.predictions))
        << "batch size " << batch_size;
    EXPECT_TRUE(torch::equal(result.confidences, reference.confidences))
        << "batch size " << batch_size;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryNormFusedAndStock, EvaluateBatchSize,
                         ::testing::Combine(::testing::Values(NormKind::kBatch, NormKind::kLayer,
                                                              NormKind::kGroup),
                                            ::testing::Bool()),
                         [](const auto& param_info) {
                           return to_flag(std::get<0>(param_info.param)) +
                                  (std::get<1>(param_info.param) ? "_fused" : "_stock");
                         });

// The loss is the mean per-example NLL of the model's log-probabilities, computed in double.
TEST(Evaluate, LossIsTheMeanPerExampleNll) {
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 0);
  torch::manual_seed(1);
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0});
  const EvalResult result = evaluate(model, test, 64);
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor log_probs = model->forward(plain_batch(test, 0, test.size()).inputs);
  const double expected =
      torch::nll_loss(log_probs.to(torch::kFloat64), test.labels).item<double>();
  EXPECT_NEAR(result.loss, expected, 1e-12 * expected);
}

TEST(Evaluate, RefusesABatchSizeBelowTwo) {
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 0);
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0});
  EXPECT_THROW(evaluate(model, test, 1), c10::Error);
}

TEST(Evaluate, TakesADataSetOfOneImage) {
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 1);
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0});
  const EvalResult result = evaluate(model, test);
  EXPECT_EQ(result.predictions.size(0), 1);
  EXPECT_TRUE(std::isfinite(result.loss));
}

TEST(Divergence, AHugeLearningRateStopsTheEpochAtTheFirstNonFiniteStep) {
  torch::set_num_threads(1);
  TrainConfig config;
  config.norm = NormKind::kBatch;
  config.lr = 1e30;
  const TensorDataset train = testing::tiny_mnist(Split::kTrain, 1024);
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 100);
  torch::manual_seed(config.seed);
  NormNet model(model_options(config));
  Trainer trainer(model, config);
  std::int64_t callbacks = 0;
  const EpochResult result =
      trainer.run_epoch(1, train, test, [&](std::int64_t, std::int64_t) { ++callbacks; });
  ASSERT_TRUE(result.divergence.has_value());
  EXPECT_EQ(result.divergence->epoch, 1);
  EXPECT_GE(result.divergence->step, 1);
  EXPECT_LE(result.divergence->step, 3);
  // Stopped at that step: no later batch ran.
  EXPECT_EQ(callbacks, result.divergence->step - 1);
  EXPECT_TRUE(result.steps.empty());
}

// ReLU maps NaN to 0 in some kernels, so a NaN weight need not reach the loss: the parameters
// themselves are checked too.
TEST(Divergence, ANonFiniteParameterIsCaughtEvenWhenTheLossStaysFinite) {
  torch::set_num_threads(1);
  for (bool fused : {true, false}) {
    TrainConfig config;
    config.norm = NormKind::kGroup;
    config.fused_kernels = fused;
    const TensorDataset train = testing::tiny_mnist(Split::kTrain, 256);
    const TensorDataset test = testing::tiny_mnist(Split::kTest, 100);
    torch::manual_seed(config.seed);
    NormNet model(model_options(config));
    Trainer trainer(model, config);
    {
      torch::NoGradGuard no_grad;
      model->parameters().front().view(-1)[0] = std::numeric_limits<float>::infinity();
    }
    const EpochResult result = trainer.run_epoch(1, train, test);
    ASSERT_TRUE(result.divergence.has_value()) << "fused " << fused;
    EXPECT_EQ(result.divergence->step, 1);
  }
}

// A step of 8 images runs on one thread, faster than on two (thread_plan.hpp); the test pass
// after it gets every thread back, and batches of 32 keep both.
TEST(SmallBatches, TrainOnOneThreadAndLeaveTheTestPassEveryThread) {
  torch::set_num_threads(2);
  const TensorDataset train = testing::tiny_mnist(Split::kTrain, 64);
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 50);
  for (const auto& [batch, step_threads] : {std::pair{8, 1}, std::pair{32, 2}}) {
    TrainConfig config;
    config.norm = NormKind::kLayer;
    config.batch_size = batch;
    torch::manual_seed(config.seed);
    NormNet model(model_options(config));
    Trainer trainer(model, config);
    EXPECT_EQ(trainer.step_threads(), step_threads) << batch;
    std::set<int> seen;
    const EpochResult result = trainer.run_epoch(
        1, train, test, [&](std::int64_t, std::int64_t) { seen.insert(torch::get_num_threads()); });
    ASSERT_FALSE(result.divergence.has_value());
    EXPECT_EQ(seen, std::set<int>{step_threads}) << batch;
    EXPECT_EQ(torch::get_num_threads(), 2) << batch;
  }
}

// The batch-size study trains every norm at batch 2; with 5 images the epoch ends in a batch of
// one, whose batch statistics (bn, brn) still have a whole feature map per channel.
TEST(SmallBatches, EveryNormTrainsAtBatchTwoWithALastBatchOfOne) {
  torch::set_num_threads(1);
  const TensorDataset train = testing::tiny_mnist(Split::kTrain, 5);
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 50);
  for (NormKind norm :
       {NormKind::kBatch, NormKind::kLayer, NormKind::kGroup, NormKind::kInstance, NormKind::kNone,
        NormKind::kBatchRenorm, NormKind::kFilterResponse, NormKind::kRms}) {
    for (bool fused : {true, false}) {
      if (fused && !has_fused_kernels(norm)) continue;
      for (bool standardized : {false, true}) {
        TrainConfig config;
        config.norm = norm;
        config.fused_kernels = fused;
        config.weight_standardization = standardized;
        config.batch_size = 2;
        config.batch_renorm.warmup = 1;  // r and d at work from the second step
        torch::manual_seed(config.seed);
        NormNet model(model_options(config));
        Trainer trainer(model, config);
        EpochResult result;
        for (int epoch = 1; epoch <= 2; ++epoch) result = trainer.run_epoch(epoch, train, test);
        const std::string what =
            fmt::format("{} fused {} ws {}", to_flag(norm), fused, standardized);
        ASSERT_FALSE(result.divergence.has_value()) << what << ": " << result.divergence->reason;
        ASSERT_EQ(result.steps.size(), 3u) << what;
        for (const StepMetrics& step : result.steps) EXPECT_TRUE(std::isfinite(step.loss)) << what;
        EXPECT_TRUE(std::isfinite(result.metrics.test_loss)) << what;
      }
    }
  }
}

TEST(Divergence, AHealthyEpochReportsNone) {
  TrainConfig config;
  const TensorDataset train = testing::tiny_mnist(Split::kTrain, 256);
  const TensorDataset test = testing::tiny_mnist(Split::kTest, 100);
  torch::manual_seed(config.seed);
  NormNet model(model_options(config));
  Trainer trainer(model, config);
  const EpochResult result = trainer.run_epoch(1, train, test);
  EXPECT_FALSE(result.divergence.has_value());
  EXPECT_EQ(result.steps.size(), 2u);
}

}  // namespace
}  // namespace normtrain
