#include "normtrain/commands/export_command.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>
#include <torch/script.h>
#include <nlohmann/json.hpp>

#include "normtrain/common/error.hpp"
#include "normtrain/model/pytorch_state.hpp"
#include "normtrain/train/checkpoint.hpp"
#include "normtrain/version.hpp"
#include "onednn_setting.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

// A run folder holding a BatchNorm model whose running statistics are not the initial ones.
class SavedRun : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.norm = NormKind::kBatch;
    config_.l1 = 0.01;
    config_.limit_test = 300;
    torch::manual_seed(5);
    model_ = NormNet(model_options(config_));
    {
      // A few batches in training mode move the running statistics.
      torch::NoGradGuard no_grad;
      for (int step = 0; step < 3; ++step) model_->forward(torch::randn({16, 1, 28, 28}) + 0.5);
    }
    model_->eval();
    torch::optim::SGD optimizer(model_->parameters(), torch::optim::SGDOptions(0.01));
    save_checkpoint(dir_.path() / kCheckpointFileName, model_, optimizer, config_, 4, torch::kCPU);
  }

  std::string export_to(const std::string& name, ExportFormat format) {
    ExportRequest request;
    request.checkpoint = dir_.path().string();
    request.format = format;
    request.out = (dir_.path() / name).string();
    std::ostringstream out;
    run_export(request, out);
    return out.str();
  }

  testing::TempDir dir_;
  TrainConfig config_;
  NormNet model_{nullptr};
};

TEST_F(SavedRun, SafetensorsHoldTheModelsTensorsUnderThePyTorchNames) {
  const std::string said = export_to("model.safetensors", ExportFormat::kSafetensors);
  testing::expect_mentions(said, "model.safetensors (safetensors): BN + L1 0.01 after 4 epochs");

  const std::string file = testing::read_text(dir_.path() / "model.safetensors");
  std::uint64_t header_length = 0;
  for (int byte = 7; byte >= 0; --byte) {
    header_length = (header_length << 8) | static_cast<unsigned char>(file[byte]);
  }
  const nlohmann::json header = nlohmann::json::parse(file.substr(8, header_length));
  const std::string data = file.substr(8 + header_length);

  using Metadata = std::map<std::string, std::string>;
  EXPECT_EQ(header["__metadata__"].get<Metadata>(), export_metadata(config_, 4));
  const std::vector<NamedTensor> state = pytorch_state_dict(model_);
  EXPECT_EQ(header.size(), state.size() + 1);
  for (const NamedTensor& entry : state) {
    const nlohmann::json& info = header[entry.name];
    EXPECT_EQ(info["dtype"], entry.tensor.scalar_type() == torch::kLong ? "I64" : "F32");
    EXPECT_EQ(info["shape"].get<std::vector<std::int64_t>>(), entry.tensor.sizes().vec());
    const auto offsets = info["data_offsets"].get<std::vector<std::size_t>>();
    const torch::Tensor tensor = entry.tensor.contiguous();
    ASSERT_EQ(offsets[1] - offsets[0], tensor.nbytes()) << entry.name;
    EXPECT_EQ(data.substr(offsets[0], tensor.nbytes()),
              std::string(static_cast<const char*>(tensor.data_ptr()), tensor.nbytes()))
        << entry.name;
  }
}

TEST_F(SavedRun, TorchScriptLoadsWithItsMetadataAndComputesTheModelsFunction) {
  export_to("model.pt", ExportFormat::kTorchScript);
  torch::jit::ExtraFilesMap extra = {{"normtrain.json", ""}};
  torch::jit::Module loaded =
      torch::jit::load((dir_.path() / "model.pt").string(), torch::kCPU, extra);
  using Metadata = std::map<std::string, std::string>;
  EXPECT_EQ(nlohmann::json::parse(extra["normtrain.json"]).get<Metadata>(),
            export_metadata(config_, 4));
  const torch::Tensor images = torch::randn({4, 1, 28, 28});
  const testing::OneDnnSettingRestorer restorer;
  testing::use_right_nchw_convolutions(images.size(0));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(
      torch::allclose(loaded.forward({images}).toTensor(), model_->forward(images), 1e-4, 1e-5));
}

TEST(ExportMetadata, SaysWhatRebuildsAndReportsTheModel) {
  TrainConfig config;
  config.norm = NormKind::kGroup;
  config.groups = 4;
  config.dropout = 0.1;
  const auto metadata = export_metadata(config, 20);
  EXPECT_EQ(metadata.at("norm"), "gn");
  EXPECT_EQ(metadata.at("groups"), "4");
  EXPECT_EQ(metadata.at("dropout"), "0.1");
  EXPECT_EQ(metadata.at("mean"), "0.1307");
  EXPECT_EQ(metadata.at("std"), "0.3081");
  EXPECT_EQ(metadata.at("dataset_title"), "MNIST");
  EXPECT_EQ(metadata.at("variant_label"), "GN (4 groups)");
  EXPECT_EQ(metadata.at("epochs"), "20");
  EXPECT_EQ(metadata.at("limit_test"), "0");
  EXPECT_EQ(metadata.at("normtrain_version"), kVersion);
  EXPECT_EQ(nlohmann::json::parse(metadata.at("class_names")).size(), 10u);

  config.norm = NormKind::kLayer;
  config.dataset = DatasetKind::kFashionMnist;
  const auto layer = export_metadata(config, 1);
  EXPECT_EQ(layer.count("groups"), 0u);  // only GroupNorm has a --groups
  EXPECT_EQ(layer.at("mean"), "0.286");
  EXPECT_EQ(layer.at("dataset"), "fashion-mnist");
}

TEST_F(SavedRun, ErrorsNameTheFileAndSayWhatToDo) {
  ExportRequest request;
  request.checkpoint = (dir_.path() / "missing").string();
  request.out = (dir_.path() / "m.safetensors").string();
  std::ostringstream out;
  testing::expect_mentions(testing::runtime_error_of([&] { run_export(request, out); }),
                           (dir_.path() / "missing").string());

  request.checkpoint = dir_.path().string();
  request.out = dir_.path().string();
  testing::expect_mentions(testing::runtime_error_of([&] { run_export(request, out); }),
                           "is a folder; give a file name");

  // A file where the folder should be.
  request.out = (dir_.path() / kCheckpointFileName / "m.safetensors").string();
  testing::expect_mentions(testing::runtime_error_of([&] { run_export(request, out); }), "--out");

  request.out.clear();
  try {
    run_export(request, out);
    ADD_FAILURE() << "an empty --out was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage);
  }
  EXPECT_TRUE(out.str().empty());
}

// The norms with layers of their own and weight standardization: the TorchScript module holds
// the model's tensors under the PyTorch names and computes the model's function.
struct NewerNorm {
  const char* name;
  NormKind norm;
  bool weight_standardization;
};

class ExportNewerNorms : public ::testing::TestWithParam<NewerNorm> {};

TEST_P(ExportNewerNorms, TorchScriptComputesTheModelsFunction) {
  testing::TempDir dir;
  TrainConfig config;
  config.norm = GetParam().norm;
  config.weight_standardization = GetParam().weight_standardization;
  config.batch_renorm.warmup = 7;
  torch::manual_seed(11);
  NormNet model(model_options(config));
  // As training does before its first step: Debian 13's oneDNN computes some of the stock
  // model's convolutions wrongly, which could make brn's running statistics non-finite.
  const testing::OneDnnSettingRestorer restorer;
  ensure_correct_convolutions(model, 16, ConvolutionUse::kTraining);
  {
    torch::NoGradGuard no_grad;
    // Affine parameters and TLU thresholds away from their initial 1 and 0, and for brn moving
    // averages that training moved.
    for (torch::Tensor& parameter : model->parameters()) {
      if (parameter.dim() == 1) parameter.add_(torch::randn_like(parameter) * 0.3);
    }
    for (int step = 0; step < 3; ++step) model->forward(torch::randn({16, 1, 28, 28}) + 0.5);
  }
  model->eval();
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01));
  save_checkpoint(dir.path() / kCheckpointFileName, model, optimizer, config, 2, torch::kCPU);

  ExportRequest request;
  request.checkpoint = dir.path().string();
  request.format = ExportFormat::kTorchScript;
  request.out = (dir.path() / "model.pt").string();
  std::ostringstream out;
  run_export(request, out);

  torch::jit::ExtraFilesMap extra = {{"normtrain.json", ""}};
  torch::jit::Module loaded = torch::jit::load(request.out, torch::kCPU, extra);
  const auto metadata =
      nlohmann::json::parse(extra["normtrain.json"]).get<std::map<std::string, std::string>>();
  EXPECT_EQ(metadata, export_metadata(config, 2));
  std::vector<std::string> names;
  for (const auto& entry : loaded.named_parameters()) names.push_back(entry.name);
  for (const auto& entry : loaded.named_buffers()) names.push_back(entry.name);
  std::vector<std::string> expected;
  for (const NamedTensor& entry : pytorch_state_dict(model)) expected.push_back(entry.name);
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);

  const torch::Tensor images = torch::randn({4, 1, 28, 28});
  testing::use_right_nchw_convolutions(images.size(0));
  torch::NoGradGuard no_grad;
  const torch::Tensor expected_output = model->forward(images);
  const torch::Tensor output = loaded.forward({images}).toTensor();
  EXPECT_TRUE(torch::allclose(output, expected_output, 1e-5, 1e-6))
      << "largest difference " << (output - expected_output).abs().max().item<double>();
}

INSTANTIATE_TEST_SUITE_P(Export, ExportNewerNorms,
                         ::testing::Values(NewerNorm{"brn", NormKind::kBatchRenorm, false},
                                           NewerNorm{"frn", NormKind::kFilterResponse, false},
                                           NewerNorm{"rms", NormKind::kRms, false},
                                           NewerNorm{"gn_ws", NormKind::kGroup, true},
                                           NewerNorm{"frn_ws", NormKind::kFilterResponse, true}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(ExportMetadata, CarriesWeightStandardizationAndTheBatchRenormLimits) {
  TrainConfig config;
  config.norm = NormKind::kBatchRenorm;
  config.batch_renorm.r_max = 2.5;
  config.batch_renorm.d_max = 4;
  config.batch_renorm.warmup = 100;
  config.weight_standardization = true;
  const auto metadata = export_metadata(config, 3);
  EXPECT_EQ(metadata.at("norm"), "brn");
  EXPECT_EQ(metadata.at("weight_standardization"), "true");
  EXPECT_EQ(metadata.at("brn_rmax"), "2.5");
  EXPECT_EQ(metadata.at("brn_dmax"), "4");
  EXPECT_EQ(metadata.at("brn_warmup"), "100");
  config.norm = NormKind::kBatch;
  config.weight_standardization = false;
  const auto plain = export_metadata(config, 3);
  EXPECT_EQ(plain.count("weight_standardization"), 0u);
  EXPECT_EQ(plain.count("brn_rmax"), 0u);
}

}  // namespace
}  // namespace normtrain
