#include "normtrain/model/torchscript_module.hpp"

#include <cctype>
#include <stdexcept>

#include <fmt/format.h>

#include "normtrain/model/architecture.hpp"
#include "normtrain/model/pytorch_state.hpp"

namespace normtrain {
namespace {

// The module tree of the PyTorch names: "block1.norm.weight" is tensor "weight" of module
// "norm" inside module "block1".
struct ModuleNode {
  std::string name;
  std::vector<NamedTensor> tensors;
  std::vector<ModuleNode> children;
};

ModuleNode& child_named(ModuleNode& node, const std::string& name) {
  for (ModuleNode& child : node.children) {
    if (child.name == name) return child;
  }
  node.children.push_back({name, {}, {}});
  return node.children.back();
}

ModuleNode module_tree(const std::vector<NamedTensor>& state) {
  ModuleNode root;
  for (const NamedTensor& entry : state) {
    ModuleNode* node = &root;
    std::string rest = entry.name;
    for (std::size_t dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
      node = &child_named(*node, rest.substr(0, dot));
      rest = rest.substr(dot + 1);
    }
    // Copies on the CPU; parameters stay trainable, so that the module can be fine-tuned.
    torch::Tensor copy = entry.tensor.detach().to(torch::kCPU).clone();
    if (!entry.is_buffer) copy.requires_grad_(true);
    node->tensors.push_back({rest, copy, entry.is_buffer});
  }
  return root;
}

// "block1" + "norm" -> "Block1Norm": every module gets a class of its own.
std::string class_name(const std::string& prefix, const std::string& name) {
  std::string camel = name;
  if (!camel.empty())
    camel[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(camel[0])));
  return prefix + camel;
}

torch::jit::Module to_jit(const ModuleNode& node, const std::string& type) {
  torch::jit::Module module("__torch__.normtrain." + type);
  for (const NamedTensor& entry : node.tensors) {
    if (entry.is_buffer) {
      module.register_buffer(entry.name, entry.tensor);
    } else {
      module.register_parameter(entry.name, entry.tensor, /*is_buffer=*/false);
    }
  }
  for (const ModuleNode& child : node.children) {
    module.register_module(child.name, to_jit(child, class_name(type, child.name)));
  }
  return module;
}

// The block's convolution weight, standardized with --weight-standardization as
// standardize_weight() does it (timm's StdConv2d: batch statistics of each output channel's
// fan-in, eps 1e-6), so that the module computes what normtrain does and fine-tunes the same.
std::string conv_weight_source(const ModelOptions& options, const std::string& self) {
  if (!options.weight_standardization) return self + ".conv.weight";
  return fmt::format(
      "torch.batch_norm({0}.conv.weight.reshape([1, {0}.conv.weight.size(0), -1]), None, None, "
      "None, None, True, 0.0, 1e-06, True).reshape_as({0}.conv.weight)",
      self);
}

// One block: conv 3x3 -> ReLU -> norm, or conv 3x3 -> FRN + TLU (dropout is off in evaluation).
// Each norm is written with the operators its C++ forward uses, in the same order, so that the
// module's numbers are normtrain's to the last bit on the same machine.
std::string block_source(const ModelOptions& options, int block, int channels) {
  const std::string self = fmt::format("self.block{}", block);
  const std::string conv = fmt::format("torch.conv2d(x, {})", conv_weight_source(options, self));
  if (options.norm == NormKind::kFilterResponse) {
    // nu^2 over H x W per example and channel; the TLU z = max(y, tau) is the activation.
    return fmt::format(
        "    x = {1}\n"
        "    s = torch.rsqrt(torch.mean(torch.square(x), [2, 3], True) + 1e-06) * "
        "{0}.norm.weight.view([1, -1, 1, 1])\n"
        "    x = torch.maximum(torch.addcmul({0}.norm.bias.view([1, -1, 1, 1]), x, s), "
        "{0}.norm.tau.view([1, -1, 1, 1]))\n",
        self, conv);
  }
  const std::string source = fmt::format("    x = torch.relu({})\n", conv);
  switch (options.norm) {
    case NormKind::kBatch:
    case NormKind::kBatchRenorm:  // in evaluation exactly BatchNorm2d with its moving averages
      // training=False: the running statistics; momentum 0.1 and eps 1e-5 as BatchNorm2d's.
      return source + fmt::format(
                          "    x = torch.batch_norm(x, {0}.norm.weight, {0}.norm.bias, "
                          "{0}.norm.running_mean, {0}.norm.running_var, False, 0.1, 1e-05, True)\n",
                          self);
    case NormKind::kLayer:
    case NormKind::kGroup:
    case NormKind::kInstance:
      return source +
             fmt::format(
                 "    x = torch.group_norm(x, {}, {}.norm.weight, {}.norm.bias, 1e-05, True)\n",
                 group_norm_groups(options, channels), self, self);
    case NormKind::kRms:
      // Per example over C x H x W, no centering, eps 1e-5.
      return source + fmt::format(
                          "    x = x * (torch.rsqrt(torch.mean(torch.square(x), [1, 2, 3], True) + "
                          "1e-05) * {}.norm.weight.view([1, -1, 1, 1]))\n",
                          self);
    case NormKind::kNone:
      return source;
    case NormKind::kFilterResponse:
      break;
  }
  throw std::logic_error("unknown norm kind");
}

}  // namespace

std::string torchscript_forward(const ModelOptions& options) {
  const auto& channels = kNormalizedBlockChannels;
  std::string source = "def forward(self, x):\n";
  source += block_source(options, 1, channels[0]);
  source += block_source(options, 2, channels[1]);
  source +=
      "    x = torch.max_pool2d(torch.relu(torch.conv2d(x, self.transition.weight)), [2, 2], "
      "[2, 2])\n";
  source += block_source(options, 3, channels[2]);
  source += block_source(options, 4, channels[3]);
  source += block_source(options, 5, channels[4]);
  source += "    x = torch.avg_pool2d(x, [6, 6], [6, 6])\n";
  source += "    x = torch.conv2d(x, self.classifier.weight)\n";
  source += "    return torch.log_softmax(torch.flatten(x, 1), 1)\n";
  return source;
}

torch::jit::Module to_torchscript(NormNet& model, const ModelOptions& options) {
  torch::jit::Module module = to_jit(module_tree(pytorch_state_dict(model)), "NormNet");
  module.define(torchscript_forward(options));
  module.eval();
  return module;
}

}  // namespace normtrain
