#include "normtrain/model/pytorch_state.hpp"

#include <map>
#include <set>

#include <gtest/gtest.h>

namespace normtrain {
namespace {

// scripts/to_pytorch.py's state_dict keys: conv weights, and per block the norm's parameters
// (and BatchNorm's buffers) when there is a norm.
std::vector<std::string> pytorch_names(const std::vector<std::string>& norm_keys) {
  std::vector<std::string> names;
  const auto block = [&](int index) {
    const std::string prefix = "block" + std::to_string(index);
    names.push_back(prefix + ".conv.weight");
    for (const std::string& key : norm_keys) names.push_back(prefix + ".norm." + key);
  };
  block(1);
  block(2);
  names.push_back("transition.weight");
  block(3);
  block(4);
  block(5);
  names.push_back("classifier.weight");
  return names;
}

std::vector<std::string> names_of(NormNet& model) {
  std::vector<std::string> names;
  for (const NamedTensor& entry : pytorch_state_dict(model)) names.push_back(entry.name);
  return names;
}

TEST(PytorchState, NamesAreThePyTorchModulesWithFusedAndStockKernels) {
  const std::vector<std::string> batch_norm =
      pytorch_names({"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  const std::vector<std::string> group_norm = pytorch_names({"weight", "bias"});
  for (bool fused : {true, false}) {
    NormNet bn(ModelOptions{NormKind::kBatch, 8, 0.0, fused});
    EXPECT_EQ(names_of(bn), batch_norm) << fused;
    for (NormKind norm : {NormKind::kLayer, NormKind::kGroup, NormKind::kInstance}) {
      NormNet model(ModelOptions{norm, 2, 0.5, fused});
      EXPECT_EQ(names_of(model), group_norm) << to_flag(norm) << fused;
    }
    NormNet none(ModelOptions{NormKind::kNone, 8, 0.0, fused});
    EXPECT_EQ(names_of(none), pytorch_names({})) << fused;
  }
}

TEST(PytorchState, HoldsEveryParameterAndBufferOfTheModelItself) {
  for (NormKind norm : {NormKind::kBatch, NormKind::kGroup, NormKind::kNone}) {
    NormNet model(ModelOptions{norm, 8, 0.0, true});
    std::set<const void*> own;
    for (const torch::Tensor& tensor : model->parameters()) own.insert(tensor.data_ptr());
    for (const torch::Tensor& tensor : model->buffers()) own.insert(tensor.data_ptr());
    std::set<const void*> exported;
    for (const NamedTensor& entry : pytorch_state_dict(model)) {
      exported.insert(entry.tensor.data_ptr());
      EXPECT_EQ(entry.is_buffer, entry.name.find("running_") != std::string::npos ||
                                     entry.name.find("num_batches_tracked") != std::string::npos)
          << entry.name;
    }
    EXPECT_EQ(exported, own) << to_flag(norm);
    EXPECT_EQ(pytorch_state_dict(model).size(),
              model->parameters().size() + model->buffers().size());
  }
}

TEST(PytorchState, ShapesAreThoseOfTheLayers) {
  NormNet model(ModelOptions{NormKind::kBatch, 8, 0.0, true});
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const NamedTensor& entry : pytorch_state_dict(model)) {
    shapes[entry.name] = entry.tensor.sizes().vec();
  }
  EXPECT_EQ(shapes["block1.conv.weight"], (std::vector<std::int64_t>{8, 1, 3, 3}));
  EXPECT_EQ(shapes["block2.norm.running_var"], (std::vector<std::int64_t>{24}));
  EXPECT_EQ(shapes["transition.weight"], (std::vector<std::int64_t>{18, 24, 1, 1}));
  EXPECT_EQ(shapes["block3.conv.weight"], (std::vector<std::int64_t>{16, 18, 3, 3}));
  EXPECT_EQ(shapes["block5.norm.num_batches_tracked"], (std::vector<std::int64_t>{}));
  EXPECT_EQ(shapes["classifier.weight"], (std::vector<std::int64_t>{10, 16, 1, 1}));
}

}  // namespace
}  // namespace normtrain
