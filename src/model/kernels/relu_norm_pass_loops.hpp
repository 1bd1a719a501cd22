#pragma once

// The loops of the ReLU + norm passes (see relu_norm_passes.hpp), included by one translation
// unit per instruction set. Everything here has internal linkage, so that each of those units
// keeps its own machine code: an inline function with external linkage, compiled with AVX2
// in one unit and without it in another, is one symbol, and the linker may keep the AVX2 copy
// for both. For the same reason the loops call no function of the standard library.

#include <cstdint>

#include "normtrain/model/kernels/relu_norm_passes.hpp"

namespace normtrain::kernels {
namespace {  // NOLINT(google-build-namespaces): one copy per instruction set, on purpose

inline std::int64_t min(std::int64_t a, std::int64_t b) {
  return b < a ? b : a;
}

// ReLU as std::max(v, 0) computes it (NaN stays NaN, -0 stays -0), and its gradient's mask
// (affine_backward) as a select: signs of activations are random, and a branch on them
// mispredicts half the time; a multiply by 0 or 1 would turn an infinite gradient into NaN
// where the stock ReLU gives 0.
template <typename T>
inline T relu(T v) {
  return v < T(0) ? T(0) : v;
}

// The four passes over one example's channels-last activations (hw positions of `channels`
// values each). Per-channel accumulators and coefficients are small local arrays; with the
// channel count a compile-time constant (the kChannels of each entry point below) they stay in
// registers and the channel loops vectorize.
//
// Every pass works with values relative to a per-channel center close to their mean, not with
// the values themselves: with a mean large against the spread, sums of relu(x) and relu(x)^2
// (variance = E[r^2] - E[r]^2) lose every digit of the variance to rounding, and sums of
// dy * relu(x) lose those of the weight's gradient. The center's error only shifts the sums,
// which the double-precision code outside corrects exactly.
//
// The sums run over kBlock positions at a time in T, each block's sums then added to double
// accumulators: the inner loops stay those of T, and rounding that of 16-term sums. (Summed in
// one float over an example's 676 positions, the variance was off by about 6e-6 of itself and
// the output by 20 times the stock operator's rounding error.)
constexpr std::int64_t kBlock = 16;

// The center is the mean over an eighth of the positions: the first kBlock of every
// kCenterStride * kBlock, which keeps the memory reads sequential. It lies within
// sqrt(kCenterStride) standard deviations of the mean (the sampled values' squared deviations
// are part of the variance's sum), so sums around it lose at most about 3 bits more than sums
// around the exact mean.
constexpr std::int64_t kCenterStride = 8;

// The loops over one block's positions, adding to the caller's accumulators in T. Plain loops
// over restrict pointers, as GCC vectorizes them across the channels.

// Sums of relu(x), per channel.
template <typename T>
inline void block_relu_sum(const T* __restrict x, std::int64_t positions, std::int64_t channels,
                           T* __restrict sum) {
  for (std::int64_t p = 0; p < positions; ++p, x += channels) {
    for (std::int64_t c = 0; c < channels; ++c) sum[c] += relu(x[c]);
  }
}

// Sums of d = relu(x) - center and of d^2, per channel. Two positions at a time: with few
// channels the additions to the accumulators, one after the other, are what limits the speed.
template <typename T>
inline void block_centered_moments(const T* __restrict x, std::int64_t positions,
                                   std::int64_t channels, const T* __restrict center,
                                   T* __restrict sum_d, T* __restrict sum_d2) {
  std::int64_t p = 0;
  for (; p + 1 < positions; p += 2, x += 2 * channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const T d0 = relu(x[c]) - center[c];
      const T d1 = relu(x[channels + c]) - center[c];
      sum_d[c] += d0 + d1;
      sum_d2[c] += d0 * d0 + d1 * d1;
    }
  }
  for (; p < positions; ++p, x += channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const T d = relu(x[c]) - center[c];
      sum_d[c] += d;
      sum_d2[c] += d * d;
    }
  }
}

// Sums of dy * (relu(x) - center) and of dy, per channel.
template <typename T>
inline void block_gradient_moments(const T* __restrict dy, const T* __restrict x,
                                   std::int64_t positions, std::int64_t channels,
                                   const T* __restrict center, T* __restrict dy_d,
                                   T* __restrict dy_sum) {
  for (std::int64_t p = 0; p < positions; ++p, x += channels, dy += channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      dy_d[c] += dy[c] * (relu(x[c]) - center[c]);
      dy_sum[c] += dy[c];
    }
  }
}

// total[c] += part[c], from T to double.
template <typename T>
inline void add_to(double* __restrict total, const T* __restrict part, std::int64_t channels) {
  for (std::int64_t c = 0; c < channels; ++c) total[c] += static_cast<double>(part[c]);
}

// Per channel: center = the mean of relu(x) over the sampled positions, and the sums over all
// positions of d = relu(x) - center and of d^2. sum_d lets the caller undo the center's
// distance from the mean, exactly.
template <int kChannels, typename T>
inline void example_relu_moments(const T* x, std::int64_t hw, std::int64_t channels, T* center,
                                 double* sum_d, double* sum_d2) {
  T sum[channel_array_size<kChannels>()] = {};
  std::int64_t sampled = 0;
  for (std::int64_t start = 0; start < hw; start += kCenterStride * kBlock) {
    const std::int64_t positions = min(kBlock, hw - start);
    block_relu_sum(x + start * channels, positions, channels, sum);
    sampled += positions;
  }
  for (std::int64_t c = 0; c < channels; ++c) center[c] = sum[c] / static_cast<T>(sampled);
  for (std::int64_t start = 0; start < hw; start += kBlock) {
    T a[channel_array_size<kChannels>()] = {};
    T b[channel_array_size<kChannels>()] = {};
    block_centered_moments(x + start * channels, min(kBlock, hw - start), channels, center, a, b);
    add_to(sum_d, a, channels);
    add_to(sum_d2, b, channels);
  }
}

// Sums over the positions of dy * (relu(x) - center) and of dy, per channel.
template <int kChannels, typename T>
inline void example_gradient_moments(const T* dy, const T* x, std::int64_t hw,
                                     std::int64_t channels, const T* center, double* dy_d,
                                     double* dy_sum) {
  for (std::int64_t start = 0; start < hw; start += kBlock) {
    T a[channel_array_size<kChannels>()] = {};
    T b[channel_array_size<kChannels>()] = {};
    const std::int64_t offset = start * channels;
    block_gradient_moments(dy + offset, x + offset, min(kBlock, hw - start), channels, center, a,
                           b);
    add_to(dy_d, a, channels);
    add_to(dy_sum, b, channels);
  }
}

// y = (relu(x) - center[c]) * scale[c] + shift[c].
template <typename T>
inline void example_affine_forward(const T* __restrict x, std::int64_t hw, std::int64_t channels,
                                   const T* __restrict center, const T* __restrict scale,
                                   const T* __restrict shift, T* __restrict y) {
  for (std::int64_t p = 0; p < hw; ++p, x += channels, y += channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      y[c] = (relu(x[c]) - center[c]) * scale[c] + shift[c];
    }
  }
}

// dx = x <= 0 ? 0 : dy * k1[c] + (x - center[c]) * k3[c] + k2[c]: the input gradient of every
// normalization here once its per-(example, channel) coefficients are known. The select is
// threshold_backward's, the stock ReLU's backward.
template <typename T>
inline void example_affine_backward(const T* __restrict dy, const T* __restrict x, std::int64_t hw,
                                    std::int64_t channels, const T* __restrict center,
                                    const T* __restrict k1, const T* __restrict k2,
                                    const T* __restrict k3, T* __restrict dx) {
  for (std::int64_t p = 0; p < hw; ++p, x += channels, dy += channels, dx += channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const T v = dy[c] * k1[c] + (x[c] - center[c]) * k3[c] + k2[c];
      dx[c] = x[c] <= T(0) ? T(0) : v;
    }
  }
}

// The entry points, one per pass and channel count: with kChannels > 0 the count is a
// compile-time constant in the loops above.
template <int kChannels>
inline std::int64_t fixed(std::int64_t channels) {
  return kChannels > 0 ? kChannels : channels;
}

template <typename T, int kChannels>
void relu_moments(const T* x, std::int64_t hw, std::int64_t channels, T* center, double* sum_d,
                  double* sum_d2) {
  example_relu_moments<kChannels>(x, hw, fixed<kChannels>(channels), center, sum_d, sum_d2);
}

template <typename T, int kChannels>
void gradient_moments(const T* dy, const T* x, std::int64_t hw, std::int64_t channels,
                      const T* center, double* dy_d, double* dy_sum) {
  example_gradient_moments<kChannels>(dy, x, hw, fixed<kChannels>(channels), center, dy_d, dy_sum);
}

template <typename T, int kChannels>
void affine_forward(const T* x, std::int64_t hw, std::int64_t channels, const T* center,
                    const T* scale, const T* shift, T* y) {
  example_affine_forward(x, hw, fixed<kChannels>(channels), center, scale, shift, y);
}

template <typename T, int kChannels>
void affine_backward(const T* dy, const T* x, std::int64_t hw, std::int64_t channels,
                     const T* center, const T* k1, const T* k2, const T* k3, T* dx) {
  example_affine_backward(dy, x, hw, fixed<kChannels>(channels), center, k1, k2, k3, dx);
}

template <typename T, int kChannels>
ReluNormPasses<T> passes_for() {
  return {&relu_moments<T, kChannels>, &gradient_moments<T, kChannels>,
          &affine_forward<T, kChannels>, &affine_backward<T, kChannels>};
}

template <typename T>
ReluNormPasses<T> make_relu_norm_passes(int compiled_channels) {
  switch (compiled_channels) {
    case 8:
      return passes_for<T, 8>();
    case 16:
      return passes_for<T, 16>();
    case 24:
      return passes_for<T, 24>();
    default:
      return passes_for<T, 0>();
  }
}

}  // namespace
}  // namespace normtrain::kernels

// Defines builds::NAME (relu_norm_pass_builds.hpp) from the loops above, as compiled in the
// including translation unit.
#define NORMTRAIN_DEFINE_RELU_NORM_PASS_BUILD(NAME)     \
  namespace normtrain::kernels::builds {                \
  template <typename T>                                 \
  ReluNormPasses<T> NAME(int compiled_channels) {       \
    return make_relu_norm_passes<T>(compiled_channels); \
  }                                                     \
  template ReluNormPasses<float> NAME(int);             \
  template ReluNormPasses<double> NAME(int);            \
  }
