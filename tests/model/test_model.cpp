#include "normtrain/model/model.hpp"

#include <gtest/gtest.h>

#include "normtrain/model/kernels/fused_relu_norm.hpp"
#include "normtrain/model/model_summary.hpp"

namespace normtrain {
namespace {

// Every norm, with the fused kernels and with the stock operators.
std::vector<ModelOptions> every_norm() {
  std::vector<ModelOptions> all;
  for (bool fused : {true, false}) {
    all.push_back({NormKind::kBatch, 8, 0.0, fused});
    all.push_back({NormKind::kLayer, 8, 0.0, fused});
    for (int groups : {1, 2, 4, 8}) all.push_back({NormKind::kGroup, groups, 0.0, fused});
  }
  return all;
}

TEST(Model, HasExactly9752ParametersWithEveryNorm) {
  for (const ModelOptions& options : every_norm()) {
    NormNet model(options);
    EXPECT_EQ(count_parameters(*model), 9752) << to_flag(options.norm) << options.groups;
  }
}

TEST(Model, InstanceNormHasTheSameCountAndNoNormHasNoNormParameters) {
  for (bool fused : {true, false}) {
    NormNet instance(ModelOptions{NormKind::kInstance, 8, 0.0, fused});
    EXPECT_EQ(count_parameters(*instance), 9752);
    // The 160 weights and biases of the five norm layers are gone.
    NormNet none(ModelOptions{NormKind::kNone, 8, 0.0, fused});
    EXPECT_EQ(count_parameters(*none), 9592);
    EXPECT_EQ(none->forward(torch::randn({2, 1, 28, 28})).sizes(),
              (std::vector<std::int64_t>{2, 10}));
  }
}

TEST(Model, InstanceNormNormalizesEachChannelOfEachExample) {
  for (bool fused : {true, false}) {
    NormNet model(ModelOptions{NormKind::kInstance, 8, 0.0, fused});
    torch::Tensor x = torch::randn({3, 1, 28, 28});
    // Output of the first norm layer: every (example, channel) plane has mean 0, std 1.
    int index = 0;
    for (torch::nn::AnyModule& layer : *model->layers()) {
      x = layer.forward(x);
      if (++index == (fused ? 2 : 3)) break;
    }
    const torch::Tensor mean = x.mean({2, 3});
    EXPECT_TRUE(torch::allclose(mean, torch::zeros_like(mean), 1e-4, 1e-4)) << fused;
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
      if (auto* fused = module->as<ReluGroupNorm>()) groups.push_back(fused->groups);
    }
    return groups;
  };
  for (bool fused : {true, false}) {
    EXPECT_EQ(group_counts({NormKind::kLayer, 8, 0.0, fused}), (std::vector<std::int64_t>(5, 1)));
    EXPECT_EQ(group_counts({NormKind::kGroup, 4, 0.0, fused}), (std::vector<std::int64_t>(5, 4)));
    EXPECT_TRUE(group_counts({NormKind::kBatch, 8, 0.0, fused}).empty());
  }
}

TEST(Model, FusedAndStockComputeTheSameFunction) {
  // Same seed, same initial weights: the fused kernels only change how the math is done.
  for (NormKind norm : {NormKind::kBatch, NormKind::kLayer, NormKind::kGroup}) {
    torch::manual_seed(11);
    NormNet fused(ModelOptions{norm, 8, 0.0, true});
    torch::manual_seed(11);
    NormNet stock(ModelOptions{norm, 8, 0.0, false});
    const torch::Tensor x = torch::randn({6, 1, 28, 28});
    const torch::Tensor a = fused->forward(x);
    const torch::Tensor b = stock->forward(x);
    EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-4)) << to_flag(norm) << (a - b).abs().max();
    a.sum().backward();
    b.sum().backward();
    const auto fused_params = fused->parameters();
    const auto stock_params = stock->parameters();
    ASSERT_EQ(fused_params.size(), stock_params.size());
    for (std::size_t i = 0; i < fused_params.size(); ++i) {
      EXPECT_TRUE(torch::allclose(fused_params[i].grad(), stock_params[i].grad(), 1e-3, 1e-4))
          << to_flag(norm) << " parameter " << i;
    }
  }
}

// The first convolution must already answer in NHWC: otherwise every step pays a transpose of
// the first block's activations, forward and backward.
TEST(Model, OneChannelImagesBecomeChannelsLastWithoutACopy) {
  const torch::Tensor images = torch::rand({4, 1, 28, 28});
  const torch::Tensor restrided = as_channels_last(images);
  EXPECT_EQ(restrided.data_ptr(), images.data_ptr());
  EXPECT_EQ(restrided.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(torch::equal(restrided, images));
  const torch::Tensor out = torch::conv2d(restrided, torch::rand({8, 1, 3, 3}));
  EXPECT_EQ(out.suggest_memory_format(), at::MemoryFormat::ChannelsLast);

  const torch::Tensor three_channels = torch::rand({2, 3, 5, 5});
  EXPECT_EQ(as_channels_last(three_channels).suggest_memory_format(),
            at::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(torch::equal(as_channels_last(three_channels), three_channels));
}

TEST(Model, SummaryListsLayersShapesAndTotal) {
  NormNet model(ModelOptions{NormKind::kBatch, 8, 0.0, /*fused=*/false});
  const std::string summary = model_summary(model);
  EXPECT_NE(summary.find("Conv2d-1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[-1, 8, 26, 26]"), std::string::npos) << summary;
  EXPECT_NE(summary.find("BatchNorm2d-3"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[-1, 10]"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Total params: 9,752"), std::string::npos) << summary;
  EXPECT_TRUE(model->is_training()) << "summary must leave the training mode as it was";
  NormNet fused(ModelOptions{NormKind::kGroup, 8, 0.0, /*fused=*/true});
  const std::string fused_summary = model_summary(fused);
  EXPECT_NE(fused_summary.find("ReluGroupNorm-2"), std::string::npos) << fused_summary;
  EXPECT_NE(fused_summary.find("Total params: 9,752"), std::string::npos) << fused_summary;
}

}  // namespace
}  // namespace normtrain
