#include "normtrain/model/model_summary.hpp"

#include <fmt/format.h>

#include "normtrain/data/mnist.hpp"
#include "normtrain/model/layers/batch_renorm.hpp"
#include "normtrain/model/layers/filter_response_norm.hpp"
#include "normtrain/model/layers/std_conv.hpp"

namespace normtrain {
namespace {

// "torch::nn::Conv2dImpl" -> "Conv2d".
std::string short_type_name(const std::string& name) {
  std::string type = name.substr(name.rfind(':') == std::string::npos ? 0 : name.rfind(':') + 1);
  const std::string suffix = "Impl";
  if (type.size() > suffix.size() &&
      type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0) {
    type.resize(type.size() - suffix.size());
  }
  return type;
}

std::string shape_text(const torch::Tensor& output) {
  std::vector<std::int64_t> dims(output.sizes().begin(), output.sizes().end());
  dims.front() = -1;  // the batch dimension, as torchsummary shows it
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

// 9752 -> "9,752", independent of the user's locale.
std::string with_thousands(std::int64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > (value < 0 ? 1 : 0); i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return digits;
}

// What the table's layer names do not say: which kernels run, and what the layers without a
// LibTorch counterpart do, one line each.
std::vector<std::string> summary_notes(NormNet& model) {
  std::vector<std::string> notes;
  const torch::Device device = model->parameters().front().device();
  if (!model->fused()) {
    notes.push_back("Kernels: stock (LibTorch's operators)");
  } else if (device.is_cpu()) {
    notes.push_back(
        "Kernels: fused (hand-written CPU kernels for the first and the 1x1 convolutions, "
        "ReLU + norm and max-pool + ReLU, on channels-last activations)");
  } else {
    notes.push_back(fmt::format(
        "Kernels: fused modules, which run LibTorch's operators on {} (their kernels are CPU "
        "kernels)",
        device.str()));
  }
  const BatchRenorm2dImpl* renorm = nullptr;
  bool filter_response = false;
  bool standardized = false;
  for (const torch::nn::AnyModule& layer : *model->layers()) {
    if (renorm == nullptr) renorm = layer.ptr()->as<BatchRenorm2d>();
    filter_response = filter_response || layer.ptr()->as<FilterResponseNormTlu2d>() != nullptr;
    standardized = standardized || layer.ptr()->as<StdConv2d>() != nullptr;
  }
  if (renorm != nullptr) {
    notes.push_back(fmt::format(
        "BatchRenorm2d: batch renormalization, r_max {} and d_max {} (raised from 1 and 0 over "
        "the first {} training steps); its moving averages normalize at test time",
        renorm->options.r_max(), renorm->options.d_max(), renorm->options.warmup()));
  }
  if (filter_response) {
    notes.push_back(
        "FilterResponseNormTlu2d: filter response normalization, then the TLU max(y, tau), "
        "which takes the place of the block's ReLU");
  }
  if (standardized) {
    notes.push_back(
        "StdConv2d: 3x3 convolution whose weight is standardized per output channel (weight "
        "standardization)");
  }
  return notes;
}

}  // namespace

std::string model_summary(NormNet& model) {
  const bool was_training = model->is_training();
  model->eval();
  torch::NoGradGuard no_grad;

  const std::string rule(64, '-');
  const std::string double_rule(64, '=');
  std::string text = rule + "\n";
  text += fmt::format("{:>20}  {:>25} {:>15}\n", "Layer (type)", "Output Shape", "Param #");
  text += double_rule + "\n";

  // On the model's device, so that a summary of a CUDA model works.
  torch::Tensor x =
      torch::zeros({1, 1, kImageSide, kImageSide}, model->parameters().front().options());
  std::int64_t total = 0;
  std::int64_t trainable = 0;
  int index = 0;
  for (torch::nn::AnyModule& layer : *model->layers()) {
    x = layer.forward(x);
    std::int64_t params = 0;
    for (const torch::Tensor& p : layer.ptr()->parameters()) {
      params += p.numel();
      if (p.requires_grad()) trainable += p.numel();
    }
    total += params;
    // Numbered by position in the network, as torchsummary does.
    const std::string label = fmt::format("{}-{}", short_type_name(layer.ptr()->name()), ++index);
    text += fmt::format("{:>20}  {:>25} {:>15}\n", label, shape_text(x), with_thousands(params));
  }
  text += double_rule + "\n";
  text += fmt::format("Total params: {}\n", with_thousands(total));
  text += fmt::format("Trainable params: {}\n", with_thousands(trainable));
  text += fmt::format("Non-trainable params: {}\n", with_thousands(total - trainable));
  text += rule + "\n";
  for (const std::string& note : summary_notes(model)) text += note + "\n";

  if (was_training) model->train();
  return text;
}

}  // namespace normtrain
