// The paths only a GPU takes: the fused kernels' fallback, training, resuming and checkpoints on
// CUDA. Every test skips, saying why, where LibTorch sees no CUDA device, so that this file
// builds and passes against CPU-only LibTorch 1.13 and 2.x too.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model_state.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/data/dataset.hpp"
#include "normtrain/data/dataset_info.hpp"
#include "normtrain/data/mnist.hpp"
#include "normtrain/model/kernels/fused_relu_norm.hpp"
#include "normtrain/model/kernels/max_pool_relu.hpp"
#include "normtrain/model/model.hpp"
#include "normtrain/train/checkpoint.hpp"
#include "normtrain/train/device.hpp"
#include "normtrain/train/trainer.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::TempDir;

torch::Device cuda() {
  return {torch::kCUDA, 0};
}

// Every test here needs a GPU; without one it is skipped, not failed.
class Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) {
      GTEST_SKIP() << "no CUDA device: this LibTorch is CPU-only or no GPU is visible";
    }
  }
};

// Deterministic cuDNN algorithms, chosen without autotuning, while it lives: the same steps
// then give the same bits on the GPU. The previous settings come back after.
class DeterministicCudnn {
 public:
  DeterministicCudnn()
      : deterministic_(at::globalContext().deterministicCuDNN()),
        benchmark_(at::globalContext().benchmarkCuDNN()) {
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
  }
  ~DeterministicCudnn() {
    at::globalContext().setDeterministicCuDNN(deterministic_);
    at::globalContext().setBenchmarkCuDNN(benchmark_);
  }
  DeterministicCudnn(const DeterministicCudnn&) = delete;
  DeterministicCudnn& operator=(const DeterministicCudnn&) = delete;

 private:
  bool deterministic_;
  bool benchmark_;
};

// The committed MNIST subset on `device`, cut to its first `limit` images (0: all).
TensorDataset tiny_mnist_on(const torch::Device& device, Split split, std::int64_t limit = 0) {
  return to_tensor_dataset(load_mnist_split(testing::tiny_mnist_dir(), split, limit), device,
                           dataset_info(DatasetKind::kMnist));
}

// |a - b| within a relative tolerance (absolute near zero): float rounding, not a different run.
void expect_close(double a, double b, const std::string& what) {
  EXPECT_LE(std::abs(a - b), 1e-5 * std::max(1.0, std::abs(a))) << what << ": " << a << " vs " << b;
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.detach().cpu().to(torch::kFloat64) - b.detach().cpu().to(torch::kFloat64))
      .abs()
      .max()
      .item<double>();
}

// Every named tensor of `a` has an equal twin in `b`, wherever each lives.
void expect_same_values(const torch::OrderedDict<std::string, torch::Tensor>& a,
                        const torch::OrderedDict<std::string, torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) {
    ASSERT_TRUE(b.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(item.value().cpu(), b[item.key()].cpu())) << item.key();
  }
}

TEST_F(Cuda, DeviceFlagsResolveToTheGpu) {
  EXPECT_EQ(resolve_device("cuda"), cuda());
  EXPECT_EQ(resolve_device("cuda:0"), cuda());
  EXPECT_TRUE(resolve_device("auto").is_cuda());
  EXPECT_TRUE(resolve_device("cpu").is_cpu());
  const auto count = static_cast<int>(torch::cuda::device_count());
  EXPECT_THROW(resolve_device("cuda:" + std::to_string(count)), Error);
}

// The fused kernels are CPU kernels: given CUDA tensors they must run LibTorch's own operators,
// which then compute exactly what the stock model computes.
TEST_F(Cuda, FusedKernelsHandCudaTensorsToTheStockOperators) {
  torch::manual_seed(3);
  const auto on_gpu = torch::TensorOptions().device(cuda());
  const torch::Tensor x = torch::randn({4, 16, 6, 6}, on_gpu);
  const torch::Tensor weight = torch::rand({16}, on_gpu) + 0.5;
  const torch::Tensor bias = torch::randn({16}, on_gpu);

  const torch::Tensor group = relu_group_norm(x, weight, bias, 4);
  EXPECT_TRUE(group.is_cuda());
  EXPECT_TRUE(torch::equal(group, torch::group_norm(torch::relu(x), 4, weight, bias, 1e-5)));

  torch::Tensor fused_mean = torch::zeros({16}, on_gpu);
  torch::Tensor fused_var = torch::ones({16}, on_gpu);
  torch::Tensor stock_mean = fused_mean.clone();
  torch::Tensor stock_var = fused_var.clone();
  const torch::Tensor batch = relu_batch_norm(x, weight, bias, fused_mean, fused_var, true);
  const torch::Tensor stock_batch =
      torch::batch_norm(torch::relu(x), weight, bias, stock_mean, stock_var, true, 0.1, 1e-5, true);
  EXPECT_TRUE(torch::equal(batch, stock_batch));
  EXPECT_TRUE(torch::equal(fused_mean, stock_mean));
  EXPECT_TRUE(torch::equal(fused_var, stock_var));

  const torch::Tensor pooled = max_pool2_relu(x);
  EXPECT_TRUE(pooled.is_cuda());
  EXPECT_TRUE(torch::equal(pooled, torch::relu(torch::max_pool2d(x, 2))));
}

// A model built with the fused modules, moved to the GPU, is the stock model: same outputs and
// gradients from the same weights.
TEST_F(Cuda, FusedAndStockModelsComputeTheSameFunction) {
  const DeterministicCudnn deterministic;
  for (NormKind norm : {NormKind::kBatch, NormKind::kLayer, NormKind::kGroup}) {
    torch::manual_seed(11);
    NormNet fused(ModelOptions{norm, 8, 0.0, true});
    torch::manual_seed(11);
    NormNet stock(ModelOptions{norm, 8, 0.0, false});
    fused->to(cuda());
    stock->to(cuda());
    const torch::Tensor x = torch::randn({6, 1, 28, 28}, torch::TensorOptions().device(cuda()));
    const torch::Tensor a = fused->forward(x);
    const torch::Tensor b = stock->forward(x);
    EXPECT_TRUE(a.is_cuda());
    EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-6)) << to_flag(norm) << " " << max_difference(a, b);
    a.sum().backward();
    b.sum().backward();
    const std::vector<torch::Tensor> fused_params = fused->parameters();
    const std::vector<torch::Tensor> stock_params = stock->parameters();
    ASSERT_EQ(fused_params.size(), stock_params.size());
    for (std::size_t i = 0; i < fused_params.size(); ++i) {
      EXPECT_TRUE(torch::allclose(fused_params[i].grad(), stock_params[i].grad(), 1e-4, 1e-5))
          << to_flag(norm) << " parameter " << i << ": "
          << max_difference(fused_params[i].grad(), stock_params[i].grad());
    }
  }
}

// One epoch on the GPU, data and model there, learns: from chance to well above it.
TEST_F(Cuda, OneEpochLearnsOnTheCommittedSubset) {
  const TensorDataset train = tiny_mnist_on(cuda(), Split::kTrain);
  const TensorDataset test = tiny_mnist_on(cuda(), Split::kTest);
  for (NormKind norm : {NormKind::kBatch, NormKind::kLayer, NormKind::kGroup}) {
    TrainConfig config;
    config.norm = norm;
    // A larger step and a smaller batch than the recipe's: 32 steps are enough to learn.
    config.lr = 0.05;
    config.batch_size = 64;
    torch::manual_seed(config.seed);
    NormNet model(model_options(config));
    model->to(cuda());
    Trainer trainer(model, config);
    const EpochResult result = trainer.run_epoch(1, train, test);
    ASSERT_FALSE(result.divergence.has_value())
        << to_flag(norm) << ": " << result.divergence->reason;
    ASSERT_EQ(result.steps.size(), 32u) << to_flag(norm);        // 2,000 images in batches of 64
    EXPECT_GT(result.steps.front().loss, 2.0) << to_flag(norm);  // chance: log 10 = 2.30
    // Chance is 10%; after these 32 steps LN reached 45.8% on an H200 (more on the CPU).
    EXPECT_GT(result.metrics.test_acc, 30.0) << to_flag(norm);
    EXPECT_LT(result.metrics.test_loss, result.steps.front().loss) << to_flag(norm);
    EXPECT_EQ(result.test.predictions.size(0), 500) << to_flag(norm);
    EXPECT_TRUE(model->parameters().front().is_cuda()) << to_flag(norm);
  }
}

// What an epoch reported and the model held after it, on the CPU.
struct EpochRecord {
  EpochResult result;
  std::vector<torch::Tensor> state;
};

EpochRecord epoch_record(EpochResult result, const NormNet& model) {
  std::vector<torch::Tensor> state = testing::model_state(*model);
  for (torch::Tensor& t : state) t = t.cpu();
  return {std::move(result), std::move(state)};
}

// A test failure where two runs' epochs differ by more than float rounding; prints whether they
// are identical, which they should be with deterministic cuDNN.
void expect_same_epochs(const std::vector<EpochRecord>& a, const std::vector<EpochRecord>& b,
                        const std::string& b_is = "resumed run",
                        const std::string& a_is = "the uninterrupted one") {
  ASSERT_EQ(a.size(), b.size());
  bool identical = true;
  for (std::size_t e = 0; e < a.size(); ++e) {
    const EpochMetrics& x = a[e].result.metrics;
    const EpochMetrics& y = b[e].result.metrics;
    const std::string epoch = "epoch " + std::to_string(x.epoch);
    EXPECT_EQ(x.epoch, y.epoch);
    expect_close(x.train_loss, y.train_loss, epoch + " train loss");
    expect_close(x.test_loss, y.test_loss, epoch + " test loss");
    EXPECT_NEAR(x.test_acc, y.test_acc, 0.51) << epoch;  // one image of 200 at most
    identical = identical && x.train_loss == y.train_loss && x.test_loss == y.test_loss;
    ASSERT_EQ(a[e].result.steps.size(), b[e].result.steps.size()) << epoch;
    for (std::size_t s = 0; s < a[e].result.steps.size(); ++s) {
      expect_close(a[e].result.steps[s].loss, b[e].result.steps[s].loss,
                   epoch + " step " + std::to_string(s + 1));
      identical = identical && a[e].result.steps[s].loss == b[e].result.steps[s].loss;
    }
    ASSERT_EQ(a[e].state.size(), b[e].state.size());
    for (std::size_t i = 0; i < a[e].state.size(); ++i) {
      const torch::Tensor& p = a[e].state[i];
      const torch::Tensor& q = b[e].state[i];
      // Counts (BatchNorm's batches tracked) exactly, values up to rounding.
      EXPECT_TRUE(p.is_floating_point() ? torch::allclose(p, q, 1e-5, 1e-6) : torch::equal(p, q))
          << epoch << " tensor " << i << ": " << max_difference(p, q);
      identical = identical && torch::equal(p, q);
    }
  }
  std::cout << b_is << " " << (identical ? "identical to" : "within tolerance of, not identical to")
            << " " << a_is << "\n";
}

// Stopping after epoch 1 and resuming from the checkpoint in a fresh model and optimizer (as
// `normtrain --resume` does) gives the uninterrupted run's epochs 2 and 3. BatchNorm's running
// statistics, the momentum buffers and dropout's CUDA generator state all cross the checkpoint.
TEST_F(Cuda, ResumingFromACheckpointEqualsAnUninterruptedRun) {
  const DeterministicCudnn deterministic;
  TrainConfig config;
  config.norm = NormKind::kBatch;
  config.l1 = 0.001;
  config.dropout = 0.1;
  config.lr = 0.05;
  config.seed = 7;
  const TensorDataset train = tiny_mnist_on(cuda(), Split::kTrain, 512);
  const TensorDataset test = tiny_mnist_on(cuda(), Split::kTest, 200);

  std::vector<EpochRecord> whole;
  {
    torch::manual_seed(config.seed);
    NormNet model(model_options(config));
    model->to(cuda());
    Trainer trainer(model, config);
    trainer.run_epoch(1, train, test);
    for (int epoch = 2; epoch <= 3; ++epoch) {
      whole.push_back(epoch_record(trainer.run_epoch(epoch, train, test), model));
    }
  }

  TempDir temp;
  const std::filesystem::path checkpoint = temp.path() / kCheckpointFileName;
  {
    torch::manual_seed(config.seed);
    NormNet model(model_options(config));
    model->to(cuda());
    Trainer trainer(model, config);
    trainer.run_epoch(1, train, test);
    save_checkpoint(checkpoint, model, trainer.optimizer(), config, 1, cuda());
  }
  std::vector<EpochRecord> resumed;
  {
    torch::manual_seed(999);  // other initial weights and another generator state
    NormNet model(model_options(config));
    model->to(cuda());
    Trainer trainer(model, config);
    restore_checkpoint(checkpoint, model, trainer.optimizer(), cuda());
    EXPECT_EQ(read_checkpoint_info(checkpoint).epoch, 1);
    for (int epoch = 2; epoch <= 3; ++epoch) {
      resumed.push_back(epoch_record(trainer.run_epoch(epoch, train, test), model));
    }
  }
  expect_same_epochs(whole, resumed);
}

// The layers.csv rows of two runs' epochs agree to float rounding.
void expect_same_diagnostics(const std::vector<LayerDiagnostics>& a,
                             const std::vector<LayerDiagnostics>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t r = 0; r < a.size(); ++r) {
    const std::string row = "step " + std::to_string(a[r].step) + " " + a[r].name;
    EXPECT_EQ(a[r].step, b[r].step) << row;
    EXPECT_EQ(a[r].name, b[r].name) << row;
    expect_close(a[r].in_mean, b[r].in_mean, row + " in_mean");
    expect_close(a[r].in_std, b[r].in_std, row + " in_std");
    expect_close(a[r].in_zero_frac, b[r].in_zero_frac, row + " in_zero_frac");
    expect_close(a[r].out_mean, b[r].out_mean, row + " out_mean");
    expect_close(a[r].out_std, b[r].out_std, row + " out_std");
    expect_close(a[r].weight_norm, b[r].weight_norm, row + " weight_norm");
    expect_close(a[r].grad_norm, b[r].grad_norm, row + " grad_norm");
    expect_close(a[r].update_ratio, b[r].update_ratio, row + " update_ratio");
    expect_close(a[r].gamma_mean.value_or(-1.0), b[r].gamma_mean.value_or(-1.0), row + " gamma");
    expect_close(a[r].beta_mean.value_or(-1.0), b[r].beta_mean.value_or(-1.0), row + " beta");
  }
}

// Training steps replayed from captured CUDA graphs compute what eager steps compute: the same
// kernels on the same memory. Two epochs of 32 steps at batch 64 mix replays with eager steps
// (the first two); every 20th step is a diagnostics step, replayed from a graph of its own from
// step 21 on; the step schedule changes the rate after epoch 1, which captures both again. The
// second epoch's test pass is replayed from a graph too.
TEST_F(Cuda, GraphedStepsEqualEagerSteps) {
  const DeterministicCudnn deterministic;
  const TensorDataset train = tiny_mnist_on(cuda(), Split::kTrain);
  const TensorDataset test = tiny_mnist_on(cuda(), Split::kTest, 200);
  for (NormKind norm : {NormKind::kBatch, NormKind::kLayer, NormKind::kGroup}) {
    TrainConfig config;
    config.norm = norm;
    config.l1 = norm == NormKind::kBatch ? 0.001 : 0.0;
    config.lr = 0.05;
    config.batch_size = 64;
    config.schedule.kind = SchedulerKind::kStep;
    config.schedule.step_size = 1;
    std::vector<EpochRecord> runs[2];
    for (const CudaGraphs mode : {CudaGraphs::kOff, CudaGraphs::kOn}) {
      config.cuda_graphs = mode;
      torch::manual_seed(config.seed);
      NormNet model(model_options(config));
      model->to(cuda());
      Trainer trainer(model, config);
      EXPECT_EQ(trainer.cuda_graphs(), mode == CudaGraphs::kOn ? "on" : "off: --cuda-graphs off");
      for (int epoch = 1; epoch <= 2; ++epoch) {
        EpochResult result = trainer.run_epoch(epoch, train, test);
        ASSERT_FALSE(result.divergence.has_value()) << to_flag(norm);
        runs[mode == CudaGraphs::kOn].push_back(epoch_record(std::move(result), model));
      }
      EXPECT_EQ(trainer.cuda_graphs(), mode == CudaGraphs::kOn ? "on" : "off: --cuda-graphs off");
    }
    SCOPED_TRACE(to_flag(norm));
    expect_same_epochs(runs[0], runs[1], "graphed run (" + to_flag(norm) + ")", "the eager one");
    for (std::size_t e = 0; e < runs[0].size(); ++e) {
      const EpochResult& eager = runs[0][e].result;
      const EpochResult& graphed = runs[1][e].result;
      EXPECT_NEAR(eager.metrics.train_acc, graphed.metrics.train_acc, 0.06) << "epoch " << e + 1;
      EXPECT_GT(graphed.metrics.test_acc, 50.0) << "epoch " << e + 1;
      // Steps 1 and 21, then 41 and 61: five rows each.
      EXPECT_EQ(graphed.layers.size(), 10u) << "epoch " << e + 1;
      expect_same_diagnostics(eager.layers, graphed.layers);
      EXPECT_TRUE(torch::equal(eager.test.predictions, graphed.test.predictions))
          << "epoch " << e + 1;
    }
  }
}

// A loss that stops being finite inside a replayed step is caught as in an eager one.
TEST_F(Cuda, GraphedStepsReportDivergence) {
  const TensorDataset train = tiny_mnist_on(cuda(), Split::kTrain);
  const TensorDataset test = tiny_mnist_on(cuda(), Split::kTest, 200);
  TrainConfig config;
  config.norm = NormKind::kNone;
  config.lr = 1e6;  // diverges within a few steps
  config.batch_size = 64;
  config.cuda_graphs = CudaGraphs::kOn;
  torch::manual_seed(config.seed);
  NormNet model(model_options(config));
  model->to(cuda());
  Trainer trainer(model, config);
  const EpochResult result = trainer.run_epoch(1, train, test);
  ASSERT_TRUE(result.divergence.has_value());
  EXPECT_GE(result.divergence->step, 1);
  EXPECT_LE(result.divergence->step, 32);
}

// A BatchNorm model with dropout after a few SGD steps on `device`: parameters, running
// statistics and momentum buffers that are not their initial values.
struct TrainedOn {
  TrainConfig config;
  NormNet model{nullptr};
  std::unique_ptr<torch::optim::SGD> optimizer;

  explicit TrainedOn(const torch::Device& device) {
    config.norm = NormKind::kBatch;
    config.dropout = 0.1;
    config.lr = 0.05;
    config.seed = 11;
    torch::manual_seed(config.seed);
    model = NormNet(model_options(config));
    model->to(device);
    optimizer = std::make_unique<torch::optim::SGD>(
        model->parameters(), torch::optim::SGDOptions(config.lr).momentum(config.momentum));
    model->train();
    for (int step = 0; step < 3; ++step) {
      optimizer->zero_grad();
      const torch::Tensor images =
          torch::randn({8, 1, 28, 28}, torch::TensorOptions().device(device));
      const torch::Tensor targets =
          torch::randint(0, 10, {8}, torch::TensorOptions().dtype(torch::kInt64).device(device));
      torch::nll_loss(model->forward(images), targets).backward();
      optimizer->step();
    }
  }
};

// One more SGD step from the same gradient (ones) on both: equal parameters after it only if
// the momentum buffers crossed the checkpoint too. The devices may round differently (FMA).
void expect_same_next_step(NormNet& a, torch::optim::SGD& a_optimizer, NormNet& b,
                           torch::optim::SGD& b_optimizer) {
  const std::vector<torch::Tensor> pa = a->parameters();
  const std::vector<torch::Tensor> pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    pa[i].mutable_grad() = torch::ones_like(pa[i]);
    pb[i].mutable_grad() = torch::ones_like(pb[i]);
  }
  a_optimizer.step();
  b_optimizer.step();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::allclose(pa[i].cpu(), pb[i].cpu(), 1e-6, 1e-7))
        << "parameter " << i << ": " << max_difference(pa[i], pb[i]);
  }
}

TEST_F(Cuda, ACheckpointSavedOnCudaLoadsOnTheCpu) {
  TempDir temp;
  TrainedOn trained(cuda());
  const std::filesystem::path path = temp.path() / kCheckpointFileName;
  save_checkpoint(path, trained.model, *trained.optimizer, trained.config, 3, cuda());

  torch::manual_seed(999);
  NormNet restored(model_options(trained.config));
  torch::optim::SGD optimizer(
      restored->parameters(),
      torch::optim::SGDOptions(trained.config.lr).momentum(trained.config.momentum));
  restore_checkpoint(path, restored, optimizer, torch::kCPU);
  for (const torch::Tensor& p : restored->parameters()) EXPECT_TRUE(p.is_cpu());
  expect_same_values(trained.model->named_parameters(), restored->named_parameters());
  expect_same_values(trained.model->named_buffers(), restored->named_buffers());
  EXPECT_EQ(read_checkpoint_info(path).epoch, 3);
  expect_same_next_step(trained.model, *trained.optimizer, restored, optimizer);
  // And the CPU model runs.
  restored->eval();
  const torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::isfinite(restored->forward(torch::randn({2, 1, 28, 28}))).all().item<bool>());
}

TEST_F(Cuda, ACheckpointSavedOnTheCpuLoadsOnCuda) {
  TempDir temp;
  TrainedOn trained(torch::kCPU);
  const std::filesystem::path path = temp.path() / kCheckpointFileName;
  save_checkpoint(path, trained.model, *trained.optimizer, trained.config, 3, torch::kCPU);

  torch::manual_seed(999);
  NormNet restored(model_options(trained.config));
  restored->to(cuda());
  torch::optim::SGD optimizer(
      restored->parameters(),
      torch::optim::SGDOptions(trained.config.lr).momentum(trained.config.momentum));
  restore_checkpoint(path, restored, optimizer, cuda());
  for (const torch::Tensor& p : restored->parameters()) EXPECT_TRUE(p.is_cuda());
  for (const torch::Tensor& b : restored->buffers()) EXPECT_TRUE(b.is_cuda());
  expect_same_values(trained.model->named_parameters(), restored->named_parameters());
  expect_same_values(trained.model->named_buffers(), restored->named_buffers());
  // The momentum buffers came to the GPU too: a step with GPU gradients would fail otherwise.
  expect_same_next_step(trained.model, *trained.optimizer, restored, optimizer);
}

}  // namespace
}  // namespace normtrain
