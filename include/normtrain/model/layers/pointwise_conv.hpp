#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace normtrain {

// A bias-free 1x1 convolution: Conv2d in every respect (options, weight, initialisation), but
// for the backend LibTorch runs it with on the CPU.
//
// Why: LibTorch (1.13; 2.x has the same rule) sends a 1x1 convolution of 2 to 15 images on one
// thread to its own BLAS-based code ("THNN is faster when single-threaded") rather than to
// oneDNN, and with a reference BLAS (Debian's libblas3) that is slow: at batch 8 the transition
// convolution's forward and backward took 6.1 ms against 0.19 ms in oneDNN, more than the rest
// of the step. A 1x1 kernel has a single tap, so a dilation changes nothing it computes, but a
// dilated convolution always goes to oneDNN: on the CPU this module convolves with dilation 2.
// Where LibTorch chose oneDNN already (16 images or more, or more than one thread) the results
// are bit for bit those of Conv2d (tested); on one thread with 2 to 15 images they differ in the
// last digits, as oneDNN's sums do from BLAS's. One image, and other devices, run Conv2d's
// choice.
class PointwiseConv2dImpl : public torch::nn::Conv2dImpl {
 public:
  PointwiseConv2dImpl(std::int64_t in_channels, std::int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(PointwiseConv2d);

}  // namespace normtrain
