#include "normtrain/model/convolution_check.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/mnist.hpp"
#include "normtrain/model/layers/std_conv.hpp"
#include "normtrain/model/training_mode_guard.hpp"

namespace normtrain {
namespace {

// Its own generator, so that the check draws nothing from the one training uses.
constexpr std::uint64_t kCheckSeed = 0x6e6f726d;
// float32 sums of a few thousand products agree with float64 to about 1e-5 of the largest
// value; the faults this is for are off by tens of percent, or not finite.
constexpr double kRelativeTolerance = 1e-3;
// The float64 reference, which LibTorch computes with slow generic code, covers this many
// images of the batch: the batch runs whole through the float32 convolutions, but the output
// gradient is zero past these images, so that every image's forward, the first images' input
// gradients, the rest's (exactly zero) and the weight gradient (their sum) all have a reference
// at a sixteenth of the cost for batch 128.
constexpr std::int64_t kReferenceImages = 8;

// The weight of a convolution layer (a 4-D parameter named "weight"), undefined for the rest.
torch::Tensor convolution_weight(torch::nn::AnyModule& layer) {
  const torch::Tensor* weight = layer.ptr()->named_parameters(/*recurse=*/false).find("weight");
  return weight != nullptr && weight->dim() == 4 ? *weight : torch::Tensor();
}

// The layer's convolution in float64, from its weight: stride 1 and no padding, as every
// convolution of the network has (a 1x1 kernel's dilation changes nothing).
torch::Tensor reference_convolution(torch::nn::AnyModule& layer, const torch::Tensor& input,
                                    const torch::Tensor& weight) {
  if (const auto* standardized = layer.ptr()->as<StdConv2dImpl>()) {
    return torch::conv2d(input, standardize_weight(weight, standardized->options.eps()));
  }
  return torch::conv2d(input, weight);
}

std::optional<ConvolutionFault> compare(const torch::Tensor& result, const torch::Tensor& reference,
                                        ConvolutionPass pass, const std::string& convolution) {
  const double reference_max = reference.abs().max().item<double>();
  double max_error = std::numeric_limits<double>::infinity();
  if (torch::isfinite(result).all().item<bool>()) {
    max_error = (result.to(torch::kFloat64) - reference).abs().max().item<double>();
  }
  if (max_error <= kRelativeTolerance * reference_max) return std::nullopt;
  return ConvolutionFault{convolution, pass, max_error, reference_max};
}

}  // namespace

std::vector<ConvolutionFault> find_convolution_faults(NormNet& model, std::int64_t batch_size,
                                                      ConvolutionUse use,
                                                      const ConvolutionLayerCall& call) {
  const bool training = use == ConvolutionUse::kTraining;
  // Evaluation mode: carrying the batch from layer to layer must not move running statistics.
  const TrainingModeGuard restore_mode(*model);
  model->eval();
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(kCheckSeed);
  torch::Tensor x = at::randn({batch_size, 1, kImageSide, kImageSide}, generator, at::kFloat);
  if (model->fused()) x = as_channels_last(x);

  std::vector<ConvolutionFault> faults;
  int convolutions = 0;
  for (torch::nn::AnyModule& layer : *model->layers()) {
    const torch::Tensor weight = convolution_weight(layer);
    if (weight.defined()) {
      ++convolutions;
      // The first convolution's input is the data, whose gradient training never asks for.
      const bool input_gradient = training && convolutions > 1;
      const std::string convolution =
          fmt::format("convolution {} ({}->{} {}x{} on {}x{}, batch {}, {})", convolutions,
                      weight.size(1), weight.size(0), weight.size(2), weight.size(3), x.size(2),
                      x.size(3), batch_size, model->fused() ? "channels-last" : "NCHW");
      const torch::AutoGradMode grad_mode(training);
      const torch::Tensor input = x.detach().clone().requires_grad_(input_gradient);
      const torch::Tensor output = call ? call(layer, input) : layer.forward(input);
      const std::int64_t referenced = std::min(batch_size, kReferenceImages);
      const torch::Tensor input64 =
          input.detach().slice(0, 0, referenced).to(torch::kFloat64).requires_grad_(input_gradient);
      const torch::Tensor weight64 = weight.detach().to(torch::kFloat64).requires_grad_(training);
      const torch::Tensor output64 = reference_convolution(layer, input64, weight64);
      if (auto fault = compare(output.slice(0, 0, referenced), output64, ConvolutionPass::kForward,
                               convolution)) {
        faults.push_back(*fault);
      }
      if (training) {
        torch::Tensor output_gradient = torch::zeros_like(output);
        output_gradient.slice(0, 0, referenced)
            .copy_(at::randn(output64.sizes(), generator, at::kFloat));
        std::vector<torch::Tensor> inputs = {weight};
        std::vector<torch::Tensor> inputs64 = {weight64};
        if (input_gradient) {
          inputs.push_back(input);
          inputs64.push_back(input64);
        }
        // autograd::grad, not backward: the model's .grad fields stay untouched.
        const auto gradients = torch::autograd::grad({output}, inputs, {output_gradient});
        const auto gradients64 = torch::autograd::grad(
            {output64}, inputs64, {output_gradient.slice(0, 0, referenced).to(torch::kFloat64)});
        if (auto fault = compare(gradients[0], gradients64[0], ConvolutionPass::kWeightGradient,
                                 convolution)) {
          faults.push_back(*fault);
        }
        if (input_gradient) {
          // The images past the referenced ones had a zero output gradient: so must theirs be.
          const torch::Tensor rest = torch::zeros_like(
              gradients[1].slice(0, referenced), torch::TensorOptions().dtype(torch::kFloat64));
          if (auto fault = compare(gradients[1], torch::cat({gradients64[1], rest}),
                                   ConvolutionPass::kInputGradient, convolution)) {
            faults.push_back(*fault);
          }
        }
      }
    }
    const torch::NoGradGuard no_grad;
    x = layer.forward(x);
  }
  return faults;
}

ConvolutionCheckOutcome ensure_correct_convolutions(NormNet& model, std::int64_t batch_size,
                                                    ConvolutionUse use,
                                                    const ConvolutionLayerCall& call) {
  ConvolutionCheckOutcome outcome;
  const std::vector<torch::Tensor> parameters = model->parameters();
  if (parameters.empty() || !parameters.front().is_cpu()) return outcome;
  const auto start = std::chrono::steady_clock::now();
  std::vector<ConvolutionFault> faults = find_convolution_faults(model, batch_size, use, call);
  if (faults.empty()) {
    spdlog::info(
        "convolution check: LibTorch's convolutions agree with float64 ({}, batch {}; "
        "{} ms)",
        use == ConvolutionUse::kTraining ? "forward and gradients" : "forward", batch_size,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                              start)
            .count());
    return outcome;
  }
  const auto summary = [](const std::vector<ConvolutionFault>& found) {
    return found.size() == 1
               ? describe(found.front())
               : fmt::format("{}; and {} more", describe(found.front()), found.size() - 1);
  };
  at::Context& context = at::globalContext();
  const bool tried_onednn = context.userEnabledMkldnn();
  if (tried_onednn) {
    outcome.onednn_faults = faults;
    context.setUserEnabledMkldnn(false);
    faults = find_convolution_faults(model, batch_size, use, call);
    if (faults.empty()) {
      outcome.switched_to_native = true;
      spdlog::warn(
          "convolution check: LibTorch's oneDNN convolutions compute wrong results on this "
          "machine ({}); using LibTorch's native convolutions instead, which are right but "
          "slower (see \"Debian 13 and oneDNN\" in the README)",
          summary(outcome.onednn_faults));
      return outcome;
    }
    context.setUserEnabledMkldnn(true);
  }
  throw RuntimeError(fmt::format(
      "convolution check: LibTorch computes this model's convolutions wrongly on this machine "
      "({}), {}, so nothing trained or evaluated here could be trusted; use another "
      "LibTorch build (the upstream download, for example) or a GPU with --device cuda (see "
      "\"Debian 13 and oneDNN\" in the README)",
      summary(faults), tried_onednn ? "with oneDNN and without it" : "with oneDNN turned off"));
}

std::string to_string(ConvolutionPass pass) {
  switch (pass) {
    case ConvolutionPass::kForward:
      return "forward";
    case ConvolutionPass::kInputGradient:
      return "input gradient";
    case ConvolutionPass::kWeightGradient:
      return "weight gradient";
  }
  return "unknown pass";
}

std::string describe(const ConvolutionFault& fault) {
  if (std::isinf(fault.max_error)) {
    return fmt::format("{}: {} not finite", fault.convolution, to_string(fault.pass));
  }
  return fmt::format("{}: {} off by up to {:.3g} (largest value {:.3g})", fault.convolution,
                     to_string(fault.pass), fault.max_error, fault.reference_max);
}

}  // namespace normtrain
