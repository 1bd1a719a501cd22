#include "normtrain/train/checkpoint.hpp"

#include <fstream>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "normtrain/common/error.hpp"
#include "normtrain/model/convolution_check.hpp"
#include "onednn_setting.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::TempDir;

// A BatchNorm model with dropout after a few SGD steps on random data: non-trivial
// parameters, running statistics, momentum buffers and generator state.
struct TrainedState {
  // The check below may turn oneDNN off; the next test gets the setting back.
  testing::OneDnnSettingRestorer restorer;
  TrainConfig config;
  NormNet model{nullptr};
  std::unique_ptr<torch::optim::SGD> optimizer;

  explicit TrainedState(NormKind norm = NormKind::kBatch, bool weight_standardization = false) {
    config.norm = norm;
    config.fused_kernels = has_fused_kernels(norm);
    config.weight_standardization = weight_standardization;
    config.batch_renorm.warmup = 2;  // r and d at work by the third step
    config.dropout = 0.1;
    config.lr = 0.05;
    config.seed = 11;
    torch::manual_seed(config.seed);
    model = NormNet(model_options(config));
    // As normtrain does before training: where oneDNN's convolutions are wrong (Debian 13's
    // LibTorch on AVX-512), LibTorch's own are used, else the stock norms train to NaN here.
    ensure_correct_convolutions(model, 8, ConvolutionUse::kTraining);
    optimizer = std::make_unique<torch::optim::SGD>(
        model->parameters(), torch::optim::SGDOptions(config.lr).momentum(config.momentum));
    model->train();
    for (int step = 0; step < 3; ++step) {
      optimizer->zero_grad();
      const torch::Tensor images = torch::randn({8, 1, 28, 28});
      const torch::Tensor targets = torch::randint(0, 10, {8}, torch::kInt64);
      torch::nll_loss(model->forward(images), targets).backward();
      optimizer->step();
    }
  }
};

// Every named parameter and buffer (BatchNorm's running mean, variance and batch count).
void expect_same_tensors(const torch::OrderedDict<std::string, torch::Tensor>& a,
                         const torch::OrderedDict<std::string, torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) {
    ASSERT_TRUE(b.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  }
}

TEST(Checkpoint, HoldsEverythingAResumedRunNeeds) {
  TempDir temp;
  TrainedState trained;
  const std::filesystem::path path = temp.path() / kCheckpointFileName;
  save_checkpoint(path, trained.model, *trained.optimizer, trained.config, 7, torch::kCPU);
  // What dropout would draw next, had the run gone on.
  const torch::Tensor next_draws = torch::rand({16});

  TrainConfig config = trained.config;
  torch::manual_seed(999);  // a different generator state and different initial weights
  NormNet restored(model_options(config));
  torch::optim::SGD optimizer(restored->parameters(),
                              torch::optim::SGDOptions(config.lr).momentum(config.momentum));
  restore_checkpoint(path, restored, optimizer, torch::kCPU);

  expect_same_tensors(trained.model->named_parameters(), restored->named_parameters());
  expect_same_tensors(trained.model->named_buffers(), restored->named_buffers());
  bool has_running_var = false;
  for (const auto& buffer : restored->named_buffers()) {
    has_running_var = has_running_var || buffer.key().find("running_var") != std::string::npos;
  }
  EXPECT_TRUE(has_running_var) << "a BatchNorm model keeps running statistics";
  // Momentum buffers: the same next step from the same gradients.
  const std::vector<torch::Tensor> a = trained.model->parameters();
  const std::vector<torch::Tensor> b = restored->parameters();
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i].mutable_grad() = torch::ones_like(a[i]);
    b[i].mutable_grad() = torch::ones_like(b[i]);
  }
  trained.optimizer->step();
  optimizer.step();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
  // The generator continues where the saved run left it.
  EXPECT_TRUE(torch::equal(torch::rand({16}), next_draws));

  const CheckpointInfo info = read_checkpoint_info(path);
  EXPECT_EQ(info.epoch, 7);
  EXPECT_TRUE(identity_differences(info.config, trained.config).empty());
  EXPECT_EQ(info.config.epochs, trained.config.epochs);
}

TEST(Checkpoint, HoldsTheNewNormsStateAndResumesTheSameSteps) {
  for (const auto& [norm, standardized] :
       {std::pair{NormKind::kBatchRenorm, false}, std::pair{NormKind::kFilterResponse, false},
        std::pair{NormKind::kRms, true}}) {
    TempDir temp;
    TrainedState trained(norm, standardized);
    const std::filesystem::path path = temp.path() / kCheckpointFileName;
    save_checkpoint(path, trained.model, *trained.optimizer, trained.config, 3, torch::kCPU);

    const CheckpointInfo info = read_checkpoint_info(path);
    EXPECT_TRUE(identity_differences(info.config, trained.config).empty()) << to_flag(norm);
    torch::manual_seed(999);
    NormNet restored(model_options(info.config));
    torch::optim::SGD optimizer(restored->parameters(),
                                torch::optim::SGDOptions(info.config.lr).momentum(0.9));
    restore_checkpoint(path, restored, optimizer, torch::kCPU);
    expect_same_tensors(trained.model->named_parameters(), restored->named_parameters());
    expect_same_tensors(trained.model->named_buffers(), restored->named_buffers());
    if (norm == NormKind::kBatchRenorm) {
      // Moving averages and the step count that drives the warm-up, for each of the five layers.
      int averages = 0;
      for (const auto& buffer : restored->named_buffers()) {
        if (buffer.key().find("num_batches_tracked") != std::string::npos) {
          EXPECT_EQ(buffer.value().item<std::int64_t>(), 3) << buffer.key();
        }
        averages += buffer.key().find("running_") != std::string::npos ? 1 : 0;
      }
      EXPECT_EQ(averages, 10);
    }
    // The next training step computes the same function from the same state.
    torch::manual_seed(5);
    const torch::Tensor images = torch::randn({8, 1, 28, 28});
    torch::manual_seed(6);
    const torch::Tensor a = trained.model->forward(images);
    restored->train();
    torch::manual_seed(6);
    const torch::Tensor b = restored->forward(images);
    EXPECT_TRUE(torch::equal(a, b)) << to_flag(norm);
  }
}

TEST(Checkpoint, AWriteIsAtomicAndAFailedOneKeepsThePreviousFile) {
  TempDir temp;
  TrainedState trained;
  const std::filesystem::path dir = temp.path() / "run";
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / kCheckpointFileName;
  save_checkpoint(path, trained.model, *trained.optimizer, trained.config, 1, torch::kCPU);
  // A folder where the temporary file must go makes the next write fail for real.
  std::filesystem::create_directories(dir / (std::string(kCheckpointFileName) + ".tmp"));
  EXPECT_THROW(
      save_checkpoint(path, trained.model, *trained.optimizer, trained.config, 2, torch::kCPU),
      Error);
  EXPECT_EQ(read_checkpoint_info(path).epoch, 1);
}

TEST(Checkpoint, ABrokenFileIsARuntimeErrorNamingIt) {
  TempDir temp;
  const std::filesystem::path path = temp.path() / kCheckpointFileName;
  std::ofstream(path) << "not a checkpoint";
  try {
    read_checkpoint_info(path);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos);
  }
  EXPECT_THROW(find_checkpoint(temp.path() / "absent"), Error);
}

}  // namespace
}  // namespace normtrain
