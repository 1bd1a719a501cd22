#include <ostream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "normtrain/commands/eval_command.hpp"
#include "normtrain/commands/predict_command.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/data/batches.hpp"
#include "normtrain/data/dataset.hpp"
#include "normtrain/data/image_input.hpp"
#include "normtrain/report/raster_image.hpp"
#include "normtrain/train/checkpoint.hpp"
#include "normtrain/train/trainer.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

// Which model a run trains: a norm, and whether its convolutions standardize their weights.
struct Variant {
  NormKind norm;
  bool weight_standardization;
};

void PrintTo(const Variant& variant, std::ostream* out) {
  *out << to_flag(variant.norm) << (variant.weight_standardization ? " + ws" : "");
}

// A run folder with a model trained for one epoch on the committed subset.
class TrainedRun : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    config_.norm = GetParam().norm;
    config_.weight_standardization = GetParam().weight_standardization;
    config_.fused_kernels = has_fused_kernels(config_.norm);
    config_.batch_renorm.warmup = 2;
    config_.epochs = 1;
    config_.data_dir = testing::tiny_mnist_dir().string();
    config_.limit_train = 1024;
    config_.limit_test = 300;
    config_.download = false;
    const DatasetInfo& info = dataset_info(DatasetKind::kMnist);
    test_split_ = load_mnist_split(config_.data_dir, Split::kTest, config_.limit_test);
    const TensorDataset train = to_tensor_dataset(
        load_mnist_split(config_.data_dir, Split::kTrain, config_.limit_train), torch::kCPU, info);
    test_ = to_tensor_dataset(test_split_, torch::kCPU, info);
    torch::manual_seed(config_.seed);
    model_ = NormNet(model_options(config_));
    Trainer trainer(model_, config_);
    final_ = trainer.run_epoch(1, train, test_).metrics;
    save_checkpoint(dir_.path() / kCheckpointFileName, model_, trainer.optimizer(), config_, 1,
                    torch::kCPU);
  }

  testing::TempDir dir_;
  TrainConfig config_;
  MnistSplit test_split_;
  TensorDataset test_;
  NormNet model_{nullptr};
  EpochMetrics final_;
};

TEST_P(TrainedRun, EvalReproducesTheRunsFinalTestAccuracy) {
  EvalRequest request;
  request.checkpoint = dir_.path().string();
  request.out_dir = (dir_.path() / "eval").string();
  request.threads = 1;
  std::ostringstream out;
  run_eval(request, out);
  EXPECT_NE(out.str().find(fmt::format("accuracy {:.2f}%", final_.test_acc)), std::string::npos)
      << out.str() << " vs " << final_.test_acc;
  EXPECT_NE(out.str().find("of 300 MNIST test images"), std::string::npos) << out.str();
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "eval" / "confusion.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "eval" / "misclassified.png"));
}

TEST_P(TrainedRun, PredictGivesTheModelsClassForAPngOfATestDigit) {
  // Test digit 0 written as an enlarged PNG, white on black, as a user might save it.
  const int scale = 3;
  RasterImage picture(28 * scale, 28 * scale, {0, 0, 0});
  picture.draw_gray(0, 0, test_split_.images.data(), 28, scale);
  const std::string png = (dir_.path() / "digit.png").string();
  write_png(png, picture);

  model_->eval();
  torch::NoGradGuard no_grad;
  const std::int64_t expected =
      model_->forward(plain_batch(test_, 0, 1).inputs).argmax(1).item<std::int64_t>();

  PredictRequest request;
  request.checkpoint = (dir_.path() / kCheckpointFileName).string();
  request.images = {png};
  request.json = true;
  request.threads = 1;
  std::ostringstream out;
  run_predict(request, out);
  const nlohmann::json results = nlohmann::json::parse(out.str());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["class"].get<std::int64_t>(), expected);
  EXPECT_GT(results[0]["probability"].get<double>(), 0.1);
  EXPECT_EQ(results[0]["probabilities"].size(), 10u);
}

TEST_P(TrainedRun, PredictRefusesBadImagesAndCheckpoints) {
  const std::string not_an_image = (dir_.path() / "notes.png").string();
  testing::write_bytes(not_an_image, {'n', 'o', 't', 'e', 's'});
  PredictRequest request;
  request.checkpoint = dir_.path().string();
  request.images = {not_an_image};
  std::ostringstream out;
  try {
    run_predict(request, out);
    ADD_FAILURE() << "accepted a text file";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(error.what()).find("notes.png"), std::string::npos);
  }
  EXPECT_TRUE(out.str().empty()) << "no partial output";

  const std::string broken = (dir_.path() / "broken.pt").string();
  testing::write_bytes(broken, {1, 2, 3, 4});
  request.checkpoint = broken;
  EXPECT_THROW(run_predict(request, out), Error);
}

// Evaluation and prediction rebuild the model from the saved configuration: every norm's own
// layers, parameters and buffers (batch renormalization's moving averages) come back.
INSTANTIATE_TEST_SUITE_P(EveryKindOfLayer, TrainedRun,
                         ::testing::Values(Variant{NormKind::kGroup, false},
                                           Variant{NormKind::kBatchRenorm, false},
                                           Variant{NormKind::kFilterResponse, true},
                                           Variant{NormKind::kRms, false}),
                         [](const auto& param_info) {
                           return to_flag(param_info.param.norm) +
                                  (param_info.param.weight_standardization ? "_ws" : "");
                         });

TEST(ImageInput, BlackOnWhiteIsInvertedAutomatically) {
  testing::TempDir dir;
  RasterImage paper(56, 56, {255, 255, 255});
  paper.fill_rect(20, 10, 16, 36, {0, 0, 0});  // a dark stroke on white paper
  const std::string path = (dir.path() / "paper.png").string();
  write_png(path, paper);
  const DigitImage automatic = load_digit_image(path, Polarity::kAuto);
  const DigitImage as_is = load_digit_image(path, Polarity::kWhiteOnBlack);
  EXPECT_EQ(automatic[0], 0);               // the paper became black
  EXPECT_EQ(as_is[0], 255);                 // unless told the picture is already white on black
  EXPECT_GT(automatic[14 * 28 + 14], 200);  // the stroke became white
  EXPECT_EQ(load_digit_image(path, Polarity::kBlackOnWhite), automatic);
}

}  // namespace
}  // namespace normtrain
