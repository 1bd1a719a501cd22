#include "normtrain/model/kernels/single_channel_conv.hpp"

#include <algorithm>
#include <vector>

#include "kernel_parallel_for.hpp"
#include "vector_clones.hpp"

namespace normtrain {
namespace {

using kernels::load_vector;
using kernels::store_vector;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr std::int64_t kTaps = 9;  // 3 x 3

// The loops over taps and pixels below are unrolled (#pragma GCC unroll) so that each sum has a
// register of its own. On x86-64 with GCC or Clang they are also built for AVX2 and chosen at run
// time (vector_clones.hpp).

struct ConvShape {
  std::int64_t n, h, w, out_h, out_w, channels;
};

ConvShape conv_shape(const torch::Tensor& images, std::int64_t channels) {
  return {images.size(0),     images.size(2),     images.size(3),
          images.size(2) - 2, images.size(3) - 2, channels};
}

// The weight [C, 1, 3, 3] as [tap][C], so that a tap's channels lie side by side.
template <typename T>
std::vector<T> taps_by_channel(const torch::Tensor& weight) {
  const torch::Tensor contiguous = weight.contiguous();
  const T* by_channel = contiguous.data_ptr<T>();
  const std::int64_t channels = weight.size(0);
  std::vector<T> by_tap(kTaps * channels);
  for (std::int64_t c = 0; c < channels; ++c) {
    for (std::int64_t k = 0; k < kTaps; ++k) by_tap[k * channels + c] = by_channel[c * kTaps + k];
  }
  return by_tap;
}

// A pixel's channels as one value of GCC's (and Clang's) vector extension: a register (or two) that
// the loops below multiply and add as a whole. Left to itself, GCC vectorizes these loops across
// pixels instead, with shuffles that made them slower than oneDNN.
template <typename T, int kChannels>
using Channels [[gnu::vector_size(sizeof(T) * kChannels)]] = T;

template <int kChannels>
constexpr bool kVectorChannels = kChannels == 8 || kChannels == 16;

// One example: y[oh][ow][c] = sum over taps (row-major) of x[oh + i][ow + j] * w[i][j][c].
// kChannels: the channel count when compiled in, else 0. Compiled in, kPixels neighbouring
// outputs build their sums together: independent chains of additions, in registers.
template <typename T, int kChannels>
NORMTRAIN_INLINE void forward_example(const T* x, const T* w, const ConvShape& s, T* y) {
  if constexpr (kVectorChannels<kChannels>) {
    using V = Channels<T, kChannels>;
    constexpr std::int64_t kPixels = 4;
    V taps[kTaps];
    for (std::int64_t k = 0; k < kTaps; ++k) load_vector(taps[k], w + k * kChannels);
    for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
      std::int64_t ow = 0;
      for (; ow + kPixels <= s.out_w; ow += kPixels) {
        V sum[kPixels] = {};
#pragma GCC unroll 16
        for (std::int64_t k = 0; k < kTaps; ++k) {
          const T* pixels = x + (oh + k / 3) * s.w + ow + k % 3;
#pragma GCC unroll 16
          for (std::int64_t p = 0; p < kPixels; ++p) sum[p] += pixels[p] * taps[k];
        }
        for (std::int64_t p = 0; p < kPixels; ++p) {
          store_vector(sum[p], y + (oh * s.out_w + ow + p) * kChannels);
        }
      }
      for (; ow < s.out_w; ++ow) {
        V sum = {};
#pragma GCC unroll 16
        for (std::int64_t k = 0; k < kTaps; ++k)
          sum += x[(oh + k / 3) * s.w + ow + k % 3] * taps[k];
        store_vector(sum, y + (oh * s.out_w + ow) * kChannels);
      }
    }
  } else {
    const std::int64_t channels = s.channels;
    for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
      for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
        for (std::int64_t c = 0; c < channels; ++c) {
          T sum = 0;
          for (std::int64_t k = 0; k < kTaps; ++k) {
            sum += x[(oh + k / 3) * s.w + ow + k % 3] * w[k * channels + c];
          }
          y[(oh * s.out_w + ow) * channels + c] = sum;
        }
      }
    }
  }
}

// One example's weight gradient, [tap][C]: dw[i][j][c] = sum over output pixels (row-major) of
// x[oh + i][ow + j] * dy[oh][ow][c]. Compiled in, all nine taps' sums build together: nine
// independent chains of additions, each output gradient read once.
template <typename T, int kChannels>
NORMTRAIN_INLINE void weight_gradient_example(const T* x, const T* dy, const ConvShape& s, T* dw) {
  if constexpr (kVectorChannels<kChannels>) {
    using V = Channels<T, kChannels>;
    V sum[kTaps] = {};
    for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
      for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
        V grad;
        load_vector(grad, dy + (oh * s.out_w + ow) * kChannels);
#pragma GCC unroll 16
        for (std::int64_t k = 0; k < kTaps; ++k)
          sum[k] += x[(oh + k / 3) * s.w + ow + k % 3] * grad;
      }
    }
    for (std::int64_t k = 0; k < kTaps; ++k) store_vector(sum[k], dw + k * kChannels);
  } else {
    const std::int64_t channels = s.channels;
    for (std::int64_t k = 0; k < kTaps; ++k) {
      for (std::int64_t c = 0; c < channels; ++c) {
        T sum = 0;
        for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
          for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
            sum += x[(oh + k / 3) * s.w + ow + k % 3] * dy[(oh * s.out_w + ow) * channels + c];
          }
        }
        dw[k * channels + c] = sum;
      }
    }
  }
}

#if NORMTRAIN_AVX2_CLONES
// The same loops compiled for AVX2 (8 floats to a register), into which the compiler inlines
// them. Without FMA: contracted multiply-adds would round otherwise than on other CPUs.
template <typename T, int kChannels>
__attribute__((target("avx2"))) void forward_example_avx2(const T* x, const T* w,
                                                          const ConvShape& s, T* y) {
  forward_example<T, kChannels>(x, w, s, y);
}
template <typename T, int kChannels>
__attribute__((target("avx2"))) void weight_gradient_example_avx2(const T* x, const T* dy,
                                                                  const ConvShape& s, T* dw) {
  weight_gradient_example<T, kChannels>(x, dy, s, dw);
}
#endif

template <typename T, int kChannels>
void forward_fastest(const T* x, const T* w, const ConvShape& s, T* y) {
#if NORMTRAIN_AVX2_CLONES
  if (kernels::run_avx2_clones()) return forward_example_avx2<T, kChannels>(x, w, s, y);
#endif
  forward_example<T, kChannels>(x, w, s, y);
}

template <typename T, int kChannels>
void weight_gradient_fastest(const T* x, const T* dy, const ConvShape& s, T* dw) {
#if NORMTRAIN_AVX2_CLONES
  if (kernels::run_avx2_clones()) return weight_gradient_example_avx2<T, kChannels>(x, dy, s, dw);
#endif
  weight_gradient_example<T, kChannels>(x, dy, s, dw);
}

template <typename T>
void conv_forward(const T* x, const T* w, const ConvShape& s, T* y) {
  kernels::with_compiled_channel_count(s.channels, [&](auto compiled) {
    at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n) {
        forward_fastest<T, decltype(compiled)::value>(x + n * s.h * s.w, w, s,
                                                      y + n * s.out_h * s.out_w * s.channels);
      }
    });
  });
}

// Writes the weight gradient in the weight's layout, [C][tap]: the examples' slots ([tap][C])
// summed in example order.
template <typename T>
void conv_weight_gradient(const T* x, const T* dy, const ConvShape& s, T* dw) {
  const std::int64_t slot = kTaps * s.channels;
  std::vector<T> slots(s.n * slot);
  kernels::with_compiled_channel_count(s.channels, [&](auto compiled) {
    at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n) {
        weight_gradient_fastest<T, decltype(compiled)::value>(
            x + n * s.h * s.w, dy + n * s.out_h * s.out_w * s.channels, s, slots.data() + n * slot);
      }
    });
  });
  std::fill(dw, dw + slot, T(0));
  for (std::int64_t n = 0; n < s.n; ++n) {
    const T* by_tap = slots.data() + n * slot;
    for (std::int64_t k = 0; k < kTaps; ++k) {
      for (std::int64_t c = 0; c < s.channels; ++c) dw[c * kTaps + k] += by_tap[k * s.channels + c];
    }
  }
}

class SingleChannelConvFunction : public torch::autograd::Function<SingleChannelConvFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& images,
                               const torch::Tensor& weight) {
    const torch::Tensor x = images.contiguous();
    const ConvShape s = conv_shape(x, weight.size(0));
    torch::Tensor y = torch::empty({s.n, s.channels, s.out_h, s.out_w}, x.options(),
                                   at::MemoryFormat::ChannelsLast);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "single_channel_conv3x3_forward", [&] {
      const std::vector<scalar_t> w = taps_by_channel<scalar_t>(weight);
      conv_forward<scalar_t>(x.data_ptr<scalar_t>(), w.data(), s, y.data_ptr<scalar_t>());
    });
    // The weight's gradient needs its shape only: saving the weight itself would make an
    // in-place update of it before the backward an error for no reason.
    ctx->save_for_backward({x});
    ctx->saved_data["weight_size"] = weight.sizes();
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const std::vector<std::int64_t> weight_size = ctx->saved_data["weight_size"].toIntVector();
    const torch::Tensor dy = grad_outputs[0].contiguous(at::MemoryFormat::ChannelsLast);
    const ConvShape s = conv_shape(x, weight_size[0]);
    TORCH_CHECK(dy.scalar_type() == x.scalar_type() &&
                    dy.sizes() == torch::IntArrayRef({s.n, s.channels, s.out_h, s.out_w}),
                "single_channel_conv3x3: the output's gradient is ", dy.scalar_type(), " of shape ",
                dy.sizes(), ", expected ", x.scalar_type(), " of shape [", s.n, ", ", s.channels,
                ", ", s.out_h, ", ", s.out_w, "]");
    torch::Tensor dw = torch::empty(weight_size, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "single_channel_conv3x3_backward", [&] {
      conv_weight_gradient<scalar_t>(x.data_ptr<scalar_t>(), dy.data_ptr<scalar_t>(), s,
                                     dw.data_ptr<scalar_t>());
    });
    // The images never need a gradient here: single_channel_conv3x3 sends those that do to
    // torch::conv2d.
    return {torch::Tensor(), dw};
  }
};

}  // namespace

torch::Tensor single_channel_conv3x3(const torch::Tensor& images, const torch::Tensor& weight) {
  const bool fused =
      images.defined() && weight.defined() && images.device().is_cpu() &&
      weight.device().is_cpu() && images.layout() == torch::kStrided && images.dim() == 4 &&
      images.size(1) == 1 && images.size(2) >= 3 && images.size(3) >= 3 && images.size(0) > 0 &&
      weight.dim() == 4 && weight.size(0) > 0 && weight.size(1) == 1 && weight.size(2) == 3 &&
      weight.size(3) == 3 && images.scalar_type() == weight.scalar_type() &&
      (images.scalar_type() == torch::kFloat || images.scalar_type() == torch::kDouble) &&
      !images.requires_grad();
  if (!fused) return torch::conv2d(images, weight);
  return SingleChannelConvFunction::apply(images, weight);
}

SingleChannelConv2dImpl::SingleChannelConv2dImpl(std::int64_t out_channels)
    : torch::nn::Conv2dImpl(torch::nn::Conv2dOptions(1, out_channels, 3).bias(false)) {}

torch::Tensor SingleChannelConv2dImpl::forward(const torch::Tensor& images) {
  return single_channel_conv3x3(images, weight);
}

}  // namespace normtrain
