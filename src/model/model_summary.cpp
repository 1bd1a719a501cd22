#include "normtrain/model/model_summary.hpp"

#include <fmt/format.h>

#include "normtrain/data/mnist.hpp"

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

  if (was_training) model->train();
  return text;
}

}  // namespace normtrain
