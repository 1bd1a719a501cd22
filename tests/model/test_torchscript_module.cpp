#include "normtrain/model/torchscript_module.hpp"

#include <sstream>

#include <gtest/gtest.h>

#include "normtrain/model/pytorch_state.hpp"
#include "onednn_setting.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

// Every norm, with the fused kernels and with the stock operators.
std::vector<ModelOptions> scripted_variants() {
  std::vector<ModelOptions> all;
  for (bool fused : {true, false}) {
    all.push_back({NormKind::kBatch, 8, 0.0, fused});
    all.push_back({NormKind::kLayer, 8, 0.0, fused});
    all.push_back({NormKind::kGroup, 2, 0.0, fused});
    all.push_back({NormKind::kGroup, 8, 0.0, fused});
    all.push_back({NormKind::kInstance, 8, 0.0, fused});
    all.push_back({NormKind::kNone, 8, 0.0, fused});
  }
  return all;
}

// A model in evaluation mode whose norm parameters and running statistics are not the
// initial ones (ones and zeros would hide a swapped weight and bias, or ignored statistics).
NormNet trained_looking_model(const ModelOptions& options) {
  torch::manual_seed(7);
  NormNet model(options);
  torch::NoGradGuard no_grad;
  for (torch::Tensor& parameter : model->parameters()) {
    parameter.add_(torch::randn_like(parameter), 0.2);
  }
  for (const auto& buffer : model->named_buffers()) {
    if (buffer.key().find("running_mean") != std::string::npos) {
      buffer.value().copy_(torch::randn_like(buffer.value()) * 0.3);
    } else if (buffer.key().find("running_var") != std::string::npos) {
      buffer.value().copy_(torch::rand_like(buffer.value()) + 0.5);
    }
  }
  model->eval();
  return model;
}

std::string label(const ModelOptions& options) {
  return to_flag(options.norm) + std::to_string(options.groups) +
         (options.fused ? " fused" : " stock");
}

TEST(TorchScriptModule, ComputesWhatTheModelComputesInEvaluation) {
  torch::manual_seed(3);
  const torch::Tensor images = torch::randn({6, 1, 28, 28});
  const testing::OneDnnSettingRestorer restorer;
  testing::use_right_nchw_convolutions(images.size(0));
  for (const ModelOptions& options : scripted_variants()) {
    NormNet model = trained_looking_model(options);
    torch::jit::Module scripted = to_torchscript(model, options);
    torch::NoGradGuard no_grad;
    const torch::Tensor expected = model->forward(images);
    const torch::Tensor actual = scripted.forward({images}).toTensor();
    EXPECT_TRUE(torch::allclose(actual, expected, 1e-4, 1e-5))
        << label(options) << ": largest difference "
        << (actual - expected).abs().max().item<float>();
  }
}

TEST(TorchScriptModule, StateDictNamesAreThePyTorchNames) {
  for (const ModelOptions& options : scripted_variants()) {
    NormNet model = trained_looking_model(options);
    torch::jit::Module scripted = to_torchscript(model, options);
    std::map<std::string, torch::Tensor> state;
    for (const auto& parameter : scripted.named_parameters()) {
      state[parameter.name] = parameter.value;
    }
    for (const auto& buffer : scripted.named_buffers()) state[buffer.name] = buffer.value;
    const std::vector<NamedTensor> expected = pytorch_state_dict(model);
    EXPECT_EQ(state.size(), expected.size()) << label(options);
    for (const NamedTensor& entry : expected) {
      ASSERT_EQ(state.count(entry.name), 1u) << label(options) << ": " << entry.name;
      EXPECT_TRUE(torch::equal(state[entry.name], entry.tensor)) << entry.name;
    }
  }
}

TEST(TorchScriptModule, SurvivesSavingAndLoading) {
  const ModelOptions options{NormKind::kBatch, 8, 0.0, true};
  NormNet model = trained_looking_model(options);
  std::stringstream file;
  to_torchscript(model, options).save(file);
  torch::jit::Module loaded = torch::jit::load(file);
  const torch::Tensor images = torch::randn({3, 1, 28, 28});
  const testing::OneDnnSettingRestorer restorer;
  testing::use_right_nchw_convolutions(images.size(0));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(
      torch::allclose(loaded.forward({images}).toTensor(), model->forward(images), 1e-4, 1e-5));
}

TEST(TorchScriptModule, ForwardUsesTheNormOfTheOptions) {
  EXPECT_EQ(torchscript_forward({NormKind::kNone, 8, 0.0, true}).find("_norm("), std::string::npos);
  testing::expect_mentions(torchscript_forward({NormKind::kGroup, 4, 0.0, true}),
                           "torch.group_norm(x, 4, self.block5.norm.weight");
  // Instance norm: one group per channel of each block.
  testing::expect_mentions(torchscript_forward({NormKind::kInstance, 8, 0.0, true}),
                           "torch.group_norm(x, 24, self.block2.norm.weight");
}

}  // namespace
}  // namespace normtrain
