#include "normtrain/model/model.hpp"

#include <map>
#include <memory>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/model/convolution_check.hpp"
#include "normtrain/model/kernels/fused_relu_norm.hpp"
#include "normtrain/model/layers/batch_renorm.hpp"
#include "normtrain/model/layers/filter_response_norm.hpp"
#include "normtrain/model/layers/rms_norm.hpp"
#include "normtrain/model/layers/std_conv.hpp"
#include "normtrain/model/model_summary.hpp"
#include "onednn_setting.hpp"

namespace normtrain {
namespace {

// Every norm, with the fused kernels and with the stock operators.
std::vector<ModelOptions> model_variants() {
  std::vector<ModelOptions> all;
  for (bool fused : {true, false}) {
    all.push_back({NormKind::kBatch, 8, 0.0, fused});
    all.push_back({NormKind::kLayer, 8, 0.0, fused});
    for (int groups : {1, 2, 4, 8}) all.push_back({NormKind::kGroup, groups, 0.0, fused});
  }
  return all;
}

TEST(Model, HasExactly9752ParametersWithEveryNorm) {
  for (const ModelOptions& options : model_variants()) {
    NormNet model(options);
    EXPECT_EQ(count_parameters(*model), 9752) << to_flag(options.norm) << options.groups;
  }
}

// The norms without fused kernels, which always run LibTorch's operators.
std::vector<ModelOptions> stock_only_norms() {
  std::vector<ModelOptions> all;
  for (NormKind norm : {NormKind::kBatchRenorm, NormKind::kFilterResponse, NormKind::kRms}) {
    ModelOptions options;
    options.norm = norm;
    options.fused = false;
    all.push_back(options);
  }
  return all;
}

TEST(Model, ParameterCountsOfTheNormsWithoutFusedKernels) {
  // Batch renormalization has BatchNorm2d's gamma and beta; FRN adds tau to them, one per
  // channel of the five norm layers (8 + 24 + 16 + 16 + 16 = 80); RMS norm has no beta.
  const std::map<NormKind, std::int64_t> expected = {{NormKind::kBatchRenorm, 9752},
                                                     {NormKind::kFilterResponse, 9752 + 80},
                                                     {NormKind::kRms, 9752 - 80}};
  for (const ModelOptions& options : stock_only_norms()) {
    NormNet model(options);
    EXPECT_EQ(count_parameters(*model), expected.at(options.norm)) << to_flag(options.norm);
  }
}

TEST(Model, WeightStandardizationKeepsTheParameterCount) {
  std::vector<ModelOptions> all = model_variants();
  for (const ModelOptions& options : stock_only_norms()) all.push_back(options);
  for (ModelOptions options : all) {
    const std::int64_t plain = count_parameters(*NormNet(options));
    options.weight_standardization = true;
    NormNet model(options);
    EXPECT_EQ(count_parameters(*model), plain) << to_flag(options.norm);
    // Exactly the five 3x3 convolutions are standardized.
    int standardized = 0;
    for (const auto& module : model->modules(/*include_self=*/false)) {
      if (module->as<StdConv2d>() != nullptr) ++standardized;
    }
    EXPECT_EQ(standardized, 5) << to_flag(options.norm);
  }
}

TEST(Model, NormsWithoutFusedKernelsPickTheirLayersAndRefuseFusedOnes) {
  const auto count = [](const NormNet& model, auto holder) {
    int found = 0;
    for (const auto& module : model->modules(/*include_self=*/false)) {
      if (module->as<decltype(holder)>() != nullptr) ++found;
    }
    return found;
  };
  for (const ModelOptions& options : stock_only_norms()) {
    NormNet model(options);
    const int renorms = count(model, BatchRenorm2d(nullptr));
    const int filter_responses = count(model, FilterResponseNormTlu2d(nullptr));
    const int rms = count(model, RmsNorm2d(nullptr));
    const int relus = count(model, torch::nn::ReLU(nullptr));
    EXPECT_EQ(renorms, options.norm == NormKind::kBatchRenorm ? 5 : 0);
    EXPECT_EQ(filter_responses, options.norm == NormKind::kFilterResponse ? 5 : 0);
    EXPECT_EQ(rms, options.norm == NormKind::kRms ? 5 : 0);
    // FRN's TLU replaces the ReLU of each block; the transition's ReLU stays.
    EXPECT_EQ(relus, options.norm == NormKind::kFilterResponse ? 1 : 6) << to_flag(options.norm);
    const torch::Tensor out = model->forward(torch::randn({3, 1, 28, 28}));
    EXPECT_TRUE(torch::allclose(out.exp().sum(1), torch::ones({3}), 1e-5, 1e-5));

    ModelOptions fused = options;
    fused.fused = true;
    EXPECT_THROW(NormNet{fused}, c10::Error) << to_flag(options.norm);
  }
  TrainConfig config;
  config.norm = NormKind::kFilterResponse;
  EXPECT_FALSE(model_options(config).fused);
  config.norm = NormKind::kGroup;
  EXPECT_TRUE(model_options(config).fused);
}

TEST(Model, BatchRenormTakesItsLimitsFromTheOptions) {
  ModelOptions options = stock_only_norms().front();
  options.batch_renorm = {2.5, 1.5, 77};
  NormNet model(options);
  int checked = 0;
  for (const auto& module : model->modules(/*include_self=*/false)) {
    if (const auto* brn = module->as<BatchRenorm2d>()) {
      EXPECT_DOUBLE_EQ(brn->options.r_max(), 2.5);
      EXPECT_DOUBLE_EQ(brn->options.d_max(), 1.5);
      EXPECT_EQ(brn->options.warmup(), 77);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 5);
}

TEST(Model, WeightStandardizationFusedAndStockComputeTheSameFunction) {
  ModelOptions options;
  options.norm = NormKind::kGroup;
  options.weight_standardization = true;
  torch::manual_seed(12);
  NormNet fused(options);
  options.fused = false;
  torch::manual_seed(12);
  NormNet stock(options);
  const torch::Tensor x = torch::randn({4, 1, 28, 28});
  // As every command does before it uses a model: LibTorch's convolutions may be wrong here.
  const testing::OneDnnSettingRestorer restorer;
  ensure_correct_convolutions(stock, x.size(0), ConvolutionUse::kEvaluation);
  const torch::Tensor a = fused->forward(x);
  const torch::Tensor b = stock->forward(x);
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-4)) << (a - b).abs().max();
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
  for (const ModelOptions& options : model_variants()) {
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
    // As training does before its first step: LibTorch's convolutions may be wrong here.
    const testing::OneDnnSettingRestorer restorer;
    ensure_correct_convolutions(stock, x.size(0), ConvolutionUse::kTraining);
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

// The weights of the 3x3 convolutions of several input channels (blocks 2-5), the ones whose
// layouts differ (in the others, the 1x1 and one-channel ones, both layouts are the same).
std::vector<torch::Tensor> conv2d_weights(NormNet& model) {
  std::vector<torch::Tensor> weights;
  for (const std::shared_ptr<torch::nn::Module>& layer : model->layers()->children()) {
    if (auto* conv = layer->as<torch::nn::Conv2d>()) {
      if (conv->weight.size(1) > 1 && conv->weight.size(2) > 1) weights.push_back(conv->weight);
    }
  }
  return weights;
}

// Fused on the CPU, the convolution weights are channels-last like the activations, so that
// LibTorch does not copy them into that layout at every call; they stay so after a change of
// dtype and after loading weights saved in the other layout. The layout changes no value of the
// forward pass or of any gradient, to the bit.
TEST(Model, FusedConvolutionWeightsAreChannelsLastWithTheSameResults) {
  torch::manual_seed(12);
  NormNet fused(ModelOptions{NormKind::kLayer, 8, 0.0, true});
  const std::vector<torch::Tensor> weights = conv2d_weights(fused);
  ASSERT_EQ(weights.size(), 4u);
  for (const torch::Tensor& w : weights) {
    EXPECT_TRUE(w.is_contiguous(at::MemoryFormat::ChannelsLast)) << w.strides();
    EXPECT_FALSE(w.is_contiguous());
  }
  NormNet stock(ModelOptions{NormKind::kLayer, 8, 0.0, false});
  for (const torch::Tensor& w : conv2d_weights(stock)) EXPECT_TRUE(w.is_contiguous());

  // The same model with its weights in LibTorch's default layout, as a checkpoint of an earlier
  // version holds them; loading it brings the fused layout back.
  torch::manual_seed(12);
  NormNet reference(ModelOptions{NormKind::kLayer, 8, 0.0, true});
  {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& w : conv2d_weights(reference)) w.set_data(w.contiguous());
  }
  for (const torch::Tensor& w : conv2d_weights(reference)) ASSERT_TRUE(w.is_contiguous());
  const torch::Tensor x = torch::randn({5, 1, 28, 28});
  const torch::Tensor a = fused->forward(x);
  const torch::Tensor b = reference->forward(x);
  EXPECT_TRUE(torch::equal(a, b));
  a.square().sum().backward();
  b.square().sum().backward();
  const std::vector<torch::Tensor> fused_params = fused->parameters();
  const std::vector<torch::Tensor> reference_params = reference->parameters();
  for (std::size_t i = 0; i < fused_params.size(); ++i) {
    EXPECT_TRUE(torch::equal(fused_params[i].grad(), reference_params[i].grad()))
        << "parameter " << i;
  }

  std::stringstream saved;
  torch::save(reference, saved);
  NormNet loaded(ModelOptions{NormKind::kLayer, 8, 0.0, true});
  torch::load(loaded, saved);
  for (const torch::Tensor& w : conv2d_weights(loaded)) {
    EXPECT_TRUE(w.is_contiguous(at::MemoryFormat::ChannelsLast)) << w.strides();
  }
  EXPECT_TRUE(torch::equal(loaded->forward(x), a));

  loaded->to(torch::kFloat64);
  for (const torch::Tensor& w : conv2d_weights(loaded)) {
    EXPECT_EQ(w.scalar_type(), torch::kFloat64);
    EXPECT_TRUE(w.is_contiguous(at::MemoryFormat::ChannelsLast)) << w.strides();
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
  EXPECT_NE(fused_summary.find("Kernels: fused"), std::string::npos) << fused_summary;
  EXPECT_NE(summary.find("Kernels: stock"), std::string::npos) << summary;
}

TEST(Model, SummarySaysWhatTheNewLayersDo) {
  ModelOptions options = stock_only_norms()[1];  // frn
  options.weight_standardization = true;
  NormNet frn(options);
  const std::string summary = model_summary(frn);
  EXPECT_NE(summary.find("StdConv2d-1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("FilterResponseNormTlu2d-2"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Total params: 9,832"), std::string::npos) << summary;
  EXPECT_NE(summary.find("takes the place of the block's ReLU"), std::string::npos) << summary;
  EXPECT_NE(summary.find("weight standardization"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Kernels: stock"), std::string::npos) << summary;

  options = stock_only_norms()[0];  // brn
  options.batch_renorm = {3.0, 5.0, 500};
  NormNet brn(options);
  const std::string brn_summary = model_summary(brn);
  EXPECT_NE(brn_summary.find("BatchRenorm2d-3"), std::string::npos) << brn_summary;
  EXPECT_NE(brn_summary.find("r_max 3 and d_max 5"), std::string::npos) << brn_summary;
  EXPECT_NE(brn_summary.find("first 500 training steps"), std::string::npos) << brn_summary;
  for (const auto& module : brn->modules(/*include_self=*/false)) {
    if (const auto* layer = module->as<BatchRenorm2d>()) {
      EXPECT_EQ(layer->num_batches_tracked.item<std::int64_t>(), 0) << "the summary trained";
    }
  }
  EXPECT_EQ(brn_summary.find("takes the place"), std::string::npos) << brn_summary;
}

}  // namespace
}  // namespace normtrain
