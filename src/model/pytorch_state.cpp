#include "normtrain/model/pytorch_state.hpp"

#include <array>
#include <stdexcept>

#include "normtrain/model/layers/std_conv.hpp"

namespace normtrain {
namespace {

// The PyTorch names of the network's convolutions, in the order of the layers; the five that
// open a block are "<block>.conv", and the norm layer that follows one is "<block>.norm".
struct ConvName {
  const char* name;
  const char* block;  // nullptr for a convolution outside the normalized blocks
};
constexpr std::array<ConvName, 7> kConvNames = {{{"block1.conv", "block1"},
                                                 {"block2.conv", "block2"},
                                                 {"transition", nullptr},
                                                 {"block3.conv", "block3"},
                                                 {"block4.conv", "block4"},
                                                 {"block5.conv", "block5"},
                                                 {"classifier", nullptr}}};

void add_state(std::vector<NamedTensor>& state, const std::string& prefix,
               const torch::nn::Module& module) {
  for (const auto& parameter : module.named_parameters(/*recurse=*/false)) {
    state.push_back({prefix + "." + parameter.key(), parameter.value(), false});
  }
  for (const auto& buffer : module.named_buffers(/*recurse=*/false)) {
    state.push_back({prefix + "." + buffer.key(), buffer.value(), true});
  }
}

}  // namespace

std::vector<NamedTensor> pytorch_state_dict(NormNet& model) {
  std::vector<NamedTensor> state;
  std::size_t convs = 0;
  const char* open_block = nullptr;  // the block whose convolution came last, if any
  for (const std::shared_ptr<torch::nn::Module>& layer : model->layers()->children()) {
    // A weight-standardized block convolution keeps the plain weight, under the same name.
    if (layer->as<torch::nn::Conv2d>() != nullptr || layer->as<StdConv2d>() != nullptr) {
      if (convs == kConvNames.size()) throw std::logic_error("the model has too many convolutions");
      add_state(state, kConvNames[convs].name, *layer);
      open_block = kConvNames[convs].block;
      ++convs;
    } else if (!layer->named_parameters(false).is_empty() ||
               !layer->named_buffers(false).is_empty()) {
      // The only other layers with state are the norms, one after each block's convolution.
      if (open_block == nullptr) throw std::logic_error("a norm layer outside a block");
      add_state(state, std::string(open_block) + ".norm", *layer);
      open_block = nullptr;
    }
  }
  if (convs != kConvNames.size()) throw std::logic_error("the model lacks convolutions");
  return state;
}

}  // namespace normtrain
