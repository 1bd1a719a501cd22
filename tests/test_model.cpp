#include "normtrain/model.hpp"

#include <gtest/gtest.h>

#include "normtrain/model_summary.hpp"

namespace normtrain {
namespace {

std::vector<ModelOptions> every_norm() {
  return {{NormKind::kBatch, 8, 0.0}, {NormKind::kLayer, 8, 0.0}, {NormKind::kGroup, 1, 0.0},
          {NormKind::kGroup, 2, 0.0}, {NormKind::kGroup, 4, 0.0}, {NormKind::kGroup, 8, 0.0}};
}

TEST(Model, HasExactly9752ParametersWithEveryNorm) {
  for (const ModelOptions& options : every_norm()) {
    NormNet model(options);
    EXPECT_EQ(count_parameters(*model), 9752) << to_flag(options.norm) << options.groups;
  }
}

TEST(Model, OutputsLogProbabilitiesForEveryExample) {
  torch::manual_seed(0);
  for (const ModelOptions& options : every_norm()) {
    NormNet model(options);
    const torch::Tensor out = model->forward(torch::randn({5, 1, 28, 28}));
    ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{5, 10}));
    EXPECT_TRUE(torch::allclose(out.exp().sum(1), torch::ones({5}), 1e-5, 1e-5));
  }
}

TEST(Model, LayerShapesFollowTheArchitecture) {
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0});
  torch::Tensor x = torch::zeros({2, 1, 28, 28});
  std::vector<std::vector<std::int64_t>> norm_shapes;
  for (torch::nn::AnyModule& layer : *model->layers()) {
    x = layer.forward(x);
    if (layer.ptr()->name().find("GroupNorm") != std::string::npos) {
      norm_shapes.emplace_back(x.sizes().begin(), x.sizes().end());
    }
  }
  const std::vector<std::vector<std::int64_t>> expected = {
      {2, 8, 26, 26}, {2, 24, 24, 24}, {2, 16, 10, 10}, {2, 16, 8, 8}, {2, 16, 6, 6}};
  EXPECT_EQ(norm_shapes, expected);
}

TEST(Model, NormKindsPickTheRightLayers) {
  const auto group_counts = [](const ModelOptions& options) {
    NormNet model(options);
    std::vector<std::int64_t> groups;
    for (const auto& module : model->modules(/*include_self=*/false)) {
      if (auto* gn = module->as<torch::nn::GroupNorm>()) groups.push_back(gn->options.num_groups());
    }
    return groups;
  };
  EXPECT_EQ(group_counts({NormKind::kLayer, 8, 0.0}), (std::vector<std::int64_t>(5, 1)));
  EXPECT_EQ(group_counts({NormKind::kGroup, 4, 0.0}), (std::vector<std::int64_t>(5, 4)));
  EXPECT_TRUE(group_counts({NormKind::kBatch, 8, 0.0}).empty());
}

TEST(Model, SummaryListsLayersShapesAndTotal) {
  NormNet model(ModelOptions{NormKind::kBatch, 8, 0.0});
  const std::string summary = model_summary(model);
  EXPECT_NE(summary.find("Conv2d-1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[-1, 8, 26, 26]"), std::string::npos) << summary;
  EXPECT_NE(summary.find("BatchNorm2d-3"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[-1, 10]"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Total params: 9,752"), std::string::npos) << summary;
  EXPECT_TRUE(model->is_training()) << "summary must leave the training mode as it was";
}

}  // namespace
}  // namespace normtrain
