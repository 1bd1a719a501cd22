#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "normtrain/model/model.hpp"

namespace normtrain {

// A known-answer check of the convolutions a model runs, made before it trains or evaluates.
//
// Why: Debian 13's LibTorch 2.6 (with its system oneDNN 3.7.2) computes some convolutions
// wrongly on x86 CPUs, silently: the forward when the input channels are not a multiple of the
// oneDNN SIMD block (16 with AVX-512, 8 with AVX2) and the input gradient when the output
// channels are not (docs/debian13-onednn-conv/). Which of the network's convolutions that hits
// depends on the layout, the CPU and the library, so the check runs the model's own
// convolution layers, as the model calls them, and compares each pass with a float64
// computation of the same convolution, which LibTorch never sends to oneDNN.

// What a convolution is used for: evaluation needs the forward pass only, training the input
// and weight gradients too.
enum class ConvolutionUse { kEvaluation, kTraining };

enum class ConvolutionPass { kForward, kInputGradient, kWeightGradient };

// One convolution pass whose result disagrees with the float64 reference.
struct ConvolutionFault {
  std::string convolution;  // e.g. "convolution 4 (18->16 3x3 on 12x12, batch 128, NCHW)"
  ConvolutionPass pass = ConvolutionPass::kForward;
  double max_error = 0.0;      // largest absolute difference (infinite if not finite)
  double reference_max = 0.0;  // largest absolute value of the reference
};

// Runs a convolution layer's forward on `input`; the check calls each layer through it, so
// that a test can substitute a faulty one.
using ConvolutionLayerCall =
    std::function<torch::Tensor(torch::nn::AnyModule& layer, const torch::Tensor& input)>;

// The passes of `model`'s convolution layers that `use` needs, on a batch of `batch_size`
// images laid out as the model's forward lays them out, checked against float64. The model is
// left as it was (mode, parameters, gradients, running statistics), and so is LibTorch's
// global random generator. CPU models only; an empty result means every pass agreed.
std::vector<ConvolutionFault> find_convolution_faults(NormNet& model, std::int64_t batch_size,
                                                      ConvolutionUse use,
                                                      const ConvolutionLayerCall& call = {});

// What ensure_correct_convolutions found and did.
struct ConvolutionCheckOutcome {
  std::vector<ConvolutionFault> onednn_faults;  // empty: LibTorch's choice was right
  bool switched_to_native = false;  // oneDNN is now disabled for the rest of the process
};

// Checks the model's convolutions (CPU only; other devices pass as they are). When LibTorch's
// oneDNN convolutions are wrong and its native ones right, disables oneDNN for the process and
// logs one line saying so; when no path is right, throws a runtime Error saying what to do.
ConvolutionCheckOutcome ensure_correct_convolutions(NormNet& model, std::int64_t batch_size,
                                                    ConvolutionUse use,
                                                    const ConvolutionLayerCall& call = {});

// "forward", "input gradient" or "weight gradient".
std::string to_string(ConvolutionPass pass);

// One line naming the convolution, the pass and the size of the error.
std::string describe(const ConvolutionFault& fault);

}  // namespace normtrain
