#include "normtrain/model/convolution_check.hpp"

#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "model_state.hpp"
#include "normtrain/common/error.hpp"
#include "onednn_setting.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

// Each test leaves LibTorch's oneDNN setting as it found it. The tests of injected faults run
// LibTorch's native convolutions, so that those are the only faults, also on a machine whose
// oneDNN is wrong.
class ConvolutionCheck : public ::testing::Test {
 protected:
  static void use_native_convolutions() { at::globalContext().setUserEnabledMkldnn(false); }
  static void use_onednn() { at::globalContext().setUserEnabledMkldnn(true); }

 private:
  testing::OneDnnSettingRestorer restorer_;
};

// A convolution call that is off by 1% (forward and both gradients) on the layers whose input
// has `channels` channels.
ConvolutionLayerCall off_by_one_percent(std::int64_t channels) {
  return [channels](torch::nn::AnyModule& layer, const torch::Tensor& input) {
    const torch::Tensor output = layer.forward(input);
    return input.size(1) == channels ? output * 1.01 : output;
  };
}

std::vector<ConvolutionPass> passes(const std::vector<ConvolutionFault>& faults) {
  std::vector<ConvolutionPass> found;
  for (const ConvolutionFault& fault : faults) found.push_back(fault.pass);
  return found;
}

TEST_F(ConvolutionCheck, VisitsEveryConvolutionOfTheNetworkWithItsShape) {
  use_native_convolutions();
  for (bool fused : {true, false}) {
    NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0, fused});
    const ConvolutionLayerCall always_off = [](torch::nn::AnyModule& layer,
                                               const torch::Tensor& input) {
      return layer.forward(input) * 1.01;
    };
    const std::vector<ConvolutionFault> faults =
        find_convolution_faults(model, 4, ConvolutionUse::kEvaluation, always_off);
    const std::vector<std::string> expected = {
        "convolution 1 (1->8 3x3 on 28x28",   "convolution 2 (8->24 3x3 on 26x26",
        "convolution 3 (24->18 1x1 on 24x24", "convolution 4 (18->16 3x3 on 12x12",
        "convolution 5 (16->16 3x3 on 10x10", "convolution 6 (16->16 3x3 on 8x8",
        "convolution 7 (16->10 1x1 on 1x1"};
    ASSERT_EQ(faults.size(), expected.size()) << fused;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const std::string layout = fused ? "channels-last" : "NCHW";
      EXPECT_EQ(faults[i].convolution, expected[i] + ", batch 4, " + layout + ")");
      EXPECT_EQ(faults[i].pass, ConvolutionPass::kForward);
    }
  }
}

TEST_F(ConvolutionCheck, FindsAWrongForwardAndItsGradients) {
  use_native_convolutions();
  NormNet model(ModelOptions{NormKind::kBatch, 8, 0.0, false});
  const std::vector<ConvolutionFault> training =
      find_convolution_faults(model, 8, ConvolutionUse::kTraining, off_by_one_percent(18));
  ASSERT_EQ(passes(training), (std::vector<ConvolutionPass>{ConvolutionPass::kForward,
                                                            ConvolutionPass::kWeightGradient,
                                                            ConvolutionPass::kInputGradient}));
  for (const ConvolutionFault& fault : training) {
    EXPECT_NE(fault.convolution.find("18->16 3x3 on 12x12"), std::string::npos);
    // 1% of the largest value, give or take where the largest error falls.
    EXPECT_GT(fault.max_error, 0.002 * fault.reference_max);
    EXPECT_LT(fault.max_error, 0.011 * fault.reference_max);
  }
  EXPECT_NE(describe(training[0]).find("forward off by up to"), std::string::npos);
  // Evaluation runs the forward only.
  EXPECT_EQ(
      find_convolution_faults(model, 8, ConvolutionUse::kEvaluation, off_by_one_percent(18)).size(),
      1U);
}

TEST_F(ConvolutionCheck, FindsAWrongGradientUnderARightForward) {
  use_native_convolutions();
  // The forward exact, the gradients doubled.
  const ConvolutionLayerCall doubled_gradients = [](torch::nn::AnyModule& layer,
                                                    const torch::Tensor& input) {
    const torch::Tensor output = layer.forward(input);
    if (input.size(1) != 8) return output;
    return output.detach() + (output - output.detach()) * 2;
  };
  NormNet model(ModelOptions{NormKind::kLayer, 8, 0.0, true});
  EXPECT_EQ(passes(find_convolution_faults(model, 8, ConvolutionUse::kTraining, doubled_gradients)),
            (std::vector<ConvolutionPass>{ConvolutionPass::kWeightGradient,
                                          ConvolutionPass::kInputGradient}));
  EXPECT_TRUE(
      find_convolution_faults(model, 8, ConvolutionUse::kEvaluation, doubled_gradients).empty());
}

TEST_F(ConvolutionCheck, ANonFiniteValueIsAFault) {
  use_native_convolutions();
  const ConvolutionLayerCall one_nan = [](torch::nn::AnyModule& layer, const torch::Tensor& input) {
    torch::Tensor output = layer.forward(input);
    if (input.size(1) != 1) return output;
    const torch::Tensor nan = torch::full({1}, std::numeric_limits<float>::quiet_NaN());
    return output + torch::zeros_like(output).flatten().index_put_({0}, nan).view_as(output);
  };
  NormNet model(ModelOptions{NormKind::kGroup, 4, 0.0, false});
  const std::vector<ConvolutionFault> faults =
      find_convolution_faults(model, 2, ConvolutionUse::kEvaluation, one_nan);
  ASSERT_EQ(faults.size(), 1U);
  EXPECT_NE(describe(faults[0]).find("convolution 1 (1->8 3x3 on 28x28, batch 2, NCHW): forward "
                                     "not finite"),
            std::string::npos)
      << describe(faults[0]);
}

TEST_F(ConvolutionCheck, TheFirstLayersInputGradientIsNotChecked) {
  use_native_convolutions();
  // Training never asks for the data's gradient: a wrong one there must not count.
  const ConvolutionLayerCall wrong_data_gradient = [](torch::nn::AnyModule& layer,
                                                      const torch::Tensor& input) {
    const torch::Tensor output = layer.forward(input);
    if (input.size(1) != 1) return output;
    return output + (input - input.detach()).sum() * 0.5;
  };
  NormNet model(ModelOptions{NormKind::kBatch, 8, 0.0, true});
  EXPECT_TRUE(
      find_convolution_faults(model, 8, ConvolutionUse::kTraining, wrong_data_gradient).empty());
}

TEST_F(ConvolutionCheck, LeavesTheModelAndTheGlobalGeneratorAsTheyWere) {
  NormNet model(ModelOptions{NormKind::kBatch, 8, 0.0, false});
  model->train();
  const std::vector<torch::Tensor> before = testing::model_state(*model);
  testing::expect_no_global_random_draws(
      [&] { find_convolution_faults(model, 8, ConvolutionUse::kTraining); });
  EXPECT_TRUE(model->is_training());
  testing::expect_state_unchanged(*model, before);
}

TEST_F(ConvolutionCheck, EveryModelIsRightHereAfterTheCheck) {
  use_onednn();
  // On a machine whose oneDNN is wrong this exercises the switch to the native convolutions
  // for real (Debian 13's LibTorch 2.6 on AVX-512 CPUs, with the stock NCHW models).
  std::vector<ModelOptions> models;
  for (bool fused : {true, false}) {
    for (NormKind norm : {NormKind::kBatch, NormKind::kLayer, NormKind::kGroup}) {
      models.push_back(ModelOptions{norm, 8, 0.0, fused});
    }
  }
  for (NormKind norm : {NormKind::kBatchRenorm, NormKind::kFilterResponse, NormKind::kRms}) {
    models.push_back(ModelOptions{norm, 8, 0.0, false});
  }
  ModelOptions standardized{NormKind::kGroup, 8, 0.0, false};
  standardized.weight_standardization = true;
  models.push_back(standardized);
  for (const ModelOptions& options : models) {
    NormNet model(options);
    ensure_correct_convolutions(model, 32, ConvolutionUse::kTraining);
    const std::vector<ConvolutionFault> faults =
        find_convolution_faults(model, 32, ConvolutionUse::kTraining);
    EXPECT_TRUE(faults.empty()) << to_flag(options.norm) << " fused " << options.fused << ": "
                                << describe(faults.front());
  }
}

TEST_F(ConvolutionCheck, SwitchesToTheNativeConvolutionsWhenOnlyOneDnnIsWrong) {
  use_onednn();
  const ConvolutionLayerCall wrong_in_onednn = [](torch::nn::AnyModule& layer,
                                                  const torch::Tensor& input) {
    const torch::Tensor output = layer.forward(input);
    return at::globalContext().userEnabledMkldnn() && input.size(1) == 18 ? output * 1.01 : output;
  };
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0, false});
  const ConvolutionCheckOutcome outcome =
      ensure_correct_convolutions(model, 8, ConvolutionUse::kTraining, wrong_in_onednn);
  EXPECT_TRUE(outcome.switched_to_native);
  // The three injected faults (where oneDNN is wrong here for real, the list has more).
  std::size_t injected = 0;
  for (const ConvolutionFault& fault : outcome.onednn_faults) {
    injected += fault.convolution.find("18->16 3x3") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(injected, 3U);
  EXPECT_FALSE(at::globalContext().userEnabledMkldnn());
}

TEST_F(ConvolutionCheck, RefusesWhenNoConvolutionIsRight) {
  const ConvolutionLayerCall always_off = [](torch::nn::AnyModule& layer,
                                             const torch::Tensor& input) {
    return layer.forward(input) * 1.01;
  };
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0, false});
  use_onednn();
  const std::string both = testing::runtime_error_of(
      [&] { ensure_correct_convolutions(model, 8, ConvolutionUse::kEvaluation, always_off); });
  testing::expect_mentions(both, "convolution 1 (1->8 3x3 on 28x28, batch 8, NCHW): forward");
  testing::expect_mentions(both, "with oneDNN and without it");
  // Nothing was switched for good.
  EXPECT_TRUE(at::globalContext().userEnabledMkldnn());

  use_native_convolutions();
  const std::string native = testing::runtime_error_of(
      [&] { ensure_correct_convolutions(model, 8, ConvolutionUse::kEvaluation, always_off); });
  testing::expect_mentions(native, "and 6 more");
  testing::expect_mentions(native, "with oneDNN turned off");
}

TEST_F(ConvolutionCheck, ModelsOnOtherDevicesAreNotChecked) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device here";
  NormNet model(ModelOptions{NormKind::kGroup, 8, 0.0, false});
  model->to(torch::kCUDA);
  EXPECT_TRUE(
      ensure_correct_convolutions(model, 8, ConvolutionUse::kTraining, off_by_one_percent(16))
          .onednn_faults.empty());
}

}  // namespace
}  // namespace normtrain
