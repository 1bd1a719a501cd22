#pragma once

#include <cstdint>
#include <type_traits>

namespace normtrain::kernels {

// The passes over one example's channels-last activations (hw positions of `channels` values
// each) that every fused ReLU + norm kernel is made of, torch-free. The autograd operations in
// fused_relu_norm.cpp work out per-channel coefficients in double around these passes.
//
// Why a table of functions: the passes are the kernels' arithmetic, and the program is built
// for any x86-64 CPU (SSE2), where they run 4 floats at a time. Built a second time for AVX2
// with FMA they run 8 at a time, 1.5-2.5x faster here; which build runs is decided once per
// process from the CPU. Both builds compute the same results bit for bit: each channel's
// arithmetic is the same sequence of float operations in either (the vectors run across the
// channels), and multiply-adds are not contracted into fused ones.

// Channel counts up to this one have fused kernels; larger ones use the stock operators.
inline constexpr std::int64_t kMaxFusedChannels = 64;

// The size of a per-channel local array: the channel count when it is known at compile time
// (8, 16 and 24 in this network), else room for any supported count.
template <int kChannels>
constexpr std::int64_t channel_array_size() {
  return kChannels > 0 ? kChannels : kMaxFusedChannels;
}

// Calls f(std::integral_constant<int, C>{}) and returns its result, with C = `channels` for the
// counts whose passes and kernels are compiled for their count (8, 16 and 24: this network's
// blocks), else 0, "given at run time". The one list of those counts.
template <typename F>
decltype(auto) with_compiled_channel_count(std::int64_t channels, F&& f) {
  switch (channels) {
    case 8:
      return f(std::integral_constant<int, 8>{});
    case 16:
      return f(std::integral_constant<int, 16>{});
    case 24:
      return f(std::integral_constant<int, 24>{});
    default:
      return f(std::integral_constant<int, 0>{});
  }
}

template <typename T>
struct ReluNormPasses {
  // center[c] = a mean of relu(x) over a sample of the positions; sum_d[c] and sum_d2[c] =
  // the sums over all positions of d = relu(x) - center[c] and of d^2 (added to the caller's).
  void (*relu_moments)(const T* x, std::int64_t hw, std::int64_t channels, T* center, double* sum_d,
                       double* sum_d2);
  // dy_d[c] += sum of dy * (relu(x) - center[c]); dy_sum[c] += sum of dy.
  void (*gradient_moments)(const T* dy, const T* x, std::int64_t hw, std::int64_t channels,
                           const T* center, double* dy_d, double* dy_sum);
  // y = (relu(x) - center[c]) * scale[c] + shift[c].
  void (*affine_forward)(const T* x, std::int64_t hw, std::int64_t channels, const T* center,
                         const T* scale, const T* shift, T* y);
  // dx = x <= 0 ? 0 : dy * k1[c] + (x - center[c]) * k3[c] + k2[c].
  void (*affine_backward)(const T* dy, const T* x, std::int64_t hw, std::int64_t channels,
                          const T* center, const T* k1, const T* k2, const T* k3, T* dx);
};

enum class InstructionSet {
  kBaseline,  // what the compiler targets by default (SSE2 on x86-64)
  kAvx2,      // AVX2 with FMA, x86-64 only
};

// Whether this build has passes for `isa` and this CPU can run them.
bool available(InstructionSet isa);

// The passes for `kChannels` channels (8, 16 or 24; 0: any count up to kMaxFusedChannels, given
// at run time), in the fastest available build, or in the build of `isa` (which must be
// available).
template <typename T, int kChannels>
const ReluNormPasses<T>& relu_norm_passes();
template <typename T, int kChannels>
const ReluNormPasses<T>& relu_norm_passes(InstructionSet isa);

// The same by a channel count known at run time (at most kMaxFusedChannels), looked up with
// with_compiled_channel_count.
template <typename T>
const ReluNormPasses<T>& relu_norm_passes(std::int64_t channels, InstructionSet isa);

}  // namespace normtrain::kernels
