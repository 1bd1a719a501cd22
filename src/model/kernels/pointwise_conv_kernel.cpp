#include "normtrain/model/kernels/pointwise_conv_kernel.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernel_parallel_for.hpp"
#include "vector_clones.hpp"

namespace normtrain {
namespace {

using kernels::load_vector;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The loops below are built for the compiler's baseline and, on x86-64 with GCC or Clang, also
// for AVX2, chosen at run time (vector_clones.hpp).

// Values in one 32-byte register (AVX2's width), as GCC's (and Clang's) vector extension.
template <typename T>
using Lanes [[gnu::vector_size(32)]] = T;
template <typename T>
constexpr int kLaneCount = 32 / static_cast<int>(sizeof(T));
// Registers that hold `count` values, the last one padded.
template <typename T>
constexpr int registers_for(int count) {
  return (count + kLaneCount<T> - 1) / kLaneCount<T>;
}

// A pixel's kCount values from registers; the padding lanes are not written.
template <typename T, int kCount>
NORMTRAIN_INLINE void store_pixel(const Lanes<T>* values, T* to) {
  constexpr int kLanes = kLaneCount<T>;
#pragma GCC unroll 8
  for (int v = 0; v < kCount / kLanes; ++v) kernels::store_vector(values[v], to + v * kLanes);
  if constexpr (kCount % kLanes != 0) {
    std::memcpy(to + (kCount / kLanes) * kLanes, &values[kCount / kLanes],
                (kCount % kLanes) * sizeof(T));
  }
}

// A pixel's kCount values into registers, the padding lanes zero.
template <typename T, int kCount>
NORMTRAIN_INLINE void load_pixel(const T* from, Lanes<T>* values) {
  constexpr int kLanes = kLaneCount<T>;
#pragma GCC unroll 8
  for (int v = 0; v < kCount / kLanes; ++v) load_vector(values[v], from + v * kLanes);
  if constexpr (kCount % kLanes != 0) {
    values[kCount / kLanes] = Lanes<T>{};
    std::memcpy(&values[kCount / kLanes], from + (kCount / kLanes) * kLanes,
                (kCount % kLanes) * sizeof(T));
  }
}

// out[p][o] = sum over c, in order, of in[p][c] * rows[c][o], for `pixels` pixels of kIn values
// each: the forward pass (rows = the weight transposed) and the input's gradient (rows = the
// weight). `rows` is [kIn][registers_for(kOut) lanes], zero-padded. Three or four pixels at a
// time share each loaded row; the rest run alone, through the same operations (same bits).
template <typename T, int kIn, int kOut>
NORMTRAIN_INLINE void multiply_pixels(const T* in, const T* rows, std::int64_t pixels, T* out) {
  using V = Lanes<T>;
  constexpr int kRegisters = registers_for<T>(kOut);
  constexpr int kRowStride = kRegisters * kLaneCount<T>;
  // As many pixels as leave the sums and a row in AVX2's 16 registers, no more: spilled sums
  // made the transition's forward twice as slow.
  constexpr std::int64_t kPixels = kRegisters >= 3 ? 3 : 4;
  std::int64_t p = 0;
  for (; p + kPixels <= pixels; p += kPixels) {
    V sum[kPixels][kRegisters] = {};
    // Not unrolled: unrolled, GCC hoisted every pixel's broadcasts to the top and spilled.
#pragma GCC unroll 1
    for (int c = 0; c < kIn; ++c) {
      V row[kRegisters];
#pragma GCC unroll 8
      for (int v = 0; v < kRegisters; ++v)
        load_vector(row[v], rows + c * kRowStride + v * kLaneCount<T>);
#pragma GCC unroll 8
      for (std::int64_t j = 0; j < kPixels; ++j) {
        const T value = in[(p + j) * kIn + c];
#pragma GCC unroll 8
        for (int v = 0; v < kRegisters; ++v) sum[j][v] += value * row[v];
      }
    }
#pragma GCC unroll 8
    for (std::int64_t j = 0; j < kPixels; ++j) store_pixel<T, kOut>(sum[j], out + (p + j) * kOut);
  }
  for (; p < pixels; ++p) {
    V sum[kRegisters] = {};
#pragma GCC unroll 32
    for (int c = 0; c < kIn; ++c) {
      const T value = in[p * kIn + c];
#pragma GCC unroll 8
      for (int v = 0; v < kRegisters; ++v) {
        V row;
        load_vector(row, rows + c * kRowStride + v * kLaneCount<T>);
        sum[v] += value * row;
      }
    }
    store_pixel<T, kOut>(sum, out + p * kOut);
  }
}

// One example's weight gradient: slot[o][c] = sum over its pixels, in order, of dy[p][o] *
// x[p][c], two outputs at a time. `slot` is [kOut][registers_for(kIn) lanes].
template <typename T, int kIn, int kOut>
NORMTRAIN_INLINE void weight_gradient_pixels(const T* x, const T* dy, std::int64_t pixels,
                                             T* slot) {
  using V = Lanes<T>;
  constexpr int kRegisters = registers_for<T>(kIn);
  constexpr int kRowStride = kRegisters * kLaneCount<T>;
  constexpr int kOutputs = 2;
  static_assert(kOut % kOutputs == 0, "an even number of output channels");
  for (int o = 0; o < kOut; o += kOutputs) {
    V sum[kOutputs][kRegisters] = {};
    for (std::int64_t p = 0; p < pixels; ++p) {
      V values[kRegisters];
      load_pixel<T, kIn>(x + p * kIn, values);
#pragma GCC unroll 8
      for (int b = 0; b < kOutputs; ++b) {
        const T gradient = dy[p * kOut + o + b];
#pragma GCC unroll 8
        for (int v = 0; v < kRegisters; ++v) sum[b][v] += gradient * values[v];
      }
    }
#pragma GCC unroll 8
    for (int b = 0; b < kOutputs; ++b) {
      std::memcpy(slot + (o + b) * kRowStride, sum[b], sizeof(sum[b]));
    }
  }
}

#if NORMTRAIN_AVX2_CLONES
template <typename T, int kIn, int kOut>
__attribute__((target("avx2"))) void multiply_pixels_avx2(const T* in, const T* rows,
                                                          std::int64_t pixels, T* out) {
  multiply_pixels<T, kIn, kOut>(in, rows, pixels, out);
}
template <typename T, int kIn, int kOut>
__attribute__((target("avx2"))) void weight_gradient_pixels_avx2(const T* x, const T* dy,
                                                                 std::int64_t pixels, T* slot) {
  weight_gradient_pixels<T, kIn, kOut>(x, dy, pixels, slot);
}
#endif

template <typename T, int kIn, int kOut>
void multiply_pixels_fastest(const T* in, const T* rows, std::int64_t pixels, T* out) {
#if NORMTRAIN_AVX2_CLONES
  if (kernels::run_avx2_clones()) return multiply_pixels_avx2<T, kIn, kOut>(in, rows, pixels, out);
#endif
  multiply_pixels<T, kIn, kOut>(in, rows, pixels, out);
}

template <typename T, int kIn, int kOut>
void weight_gradient_pixels_fastest(const T* x, const T* dy, std::int64_t pixels, T* slot) {
#if NORMTRAIN_AVX2_CLONES
  if (kernels::run_avx2_clones())
    return weight_gradient_pixels_avx2<T, kIn, kOut>(x, dy, pixels, slot);
#endif
  weight_gradient_pixels<T, kIn, kOut>(x, dy, pixels, slot);
}

// Calls f(std::integral_constant<int, kIn>, std::integral_constant<int, kOut>) and returns true
// for the channel counts compiled in: the network's transition and head, each way round (forward
// and input gradient); false for others.
template <typename F>
bool with_compiled_channels(std::int64_t in, std::int64_t out, F&& f) {
  using std::integral_constant;
  if (in == 24 && out == 18)
    return f(integral_constant<int, 24>{}, integral_constant<int, 18>{}), true;
  if (in == 18 && out == 24)
    return f(integral_constant<int, 18>{}, integral_constant<int, 24>{}), true;
  if (in == 16 && out == 10)
    return f(integral_constant<int, 16>{}, integral_constant<int, 10>{}), true;
  if (in == 10 && out == 16)
    return f(integral_constant<int, 10>{}, integral_constant<int, 16>{}), true;
  return false;
}

// rows[c][o] = matrix[o][c] (transpose) or matrix[c][o], zero-padded to whole registers.
template <typename T>
std::vector<T> padded_rows(const T* matrix, std::int64_t in, std::int64_t out, bool transpose) {
  const std::int64_t stride = registers_for<T>(static_cast<int>(out)) * kLaneCount<T>;
  std::vector<T> rows(in * stride, T(0));
  for (std::int64_t c = 0; c < in; ++c) {
    for (std::int64_t o = 0; o < out; ++o) {
      rows[c * stride + o] = transpose ? matrix[o * in + c] : matrix[c * out + o];
    }
  }
  return rows;
}

// out[p][o] = sum over c of in[p][c] * matrix(c, o) for all `pixels`, split between threads;
// matrix(c, o) = matrix[o][c] when `transpose`, else matrix[c][o].
template <typename T>
void multiply(const T* in, const T* matrix, std::int64_t pixels, std::int64_t in_channels,
              std::int64_t out_channels, bool transpose, T* out) {
  constexpr std::int64_t kGrain = 512;  // pixels: below that a thread costs more than it saves
  const bool compiled = with_compiled_channels(in_channels, out_channels, [&](auto i, auto o) {
    constexpr int kIn = decltype(i)::value;
    constexpr int kOut = decltype(o)::value;
    const std::vector<T> rows = padded_rows(matrix, kIn, kOut, transpose);
    at::parallel_for(0, pixels, kGrain, [&](std::int64_t begin, std::int64_t end) {
      multiply_pixels_fastest<T, kIn, kOut>(in + begin * kIn, rows.data(), end - begin,
                                            out + begin * kOut);
    });
  });
  if (compiled) return;
  at::parallel_for(0, pixels, kGrain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t p = begin; p < end; ++p) {
      for (std::int64_t o = 0; o < out_channels; ++o) {
        T sum = 0;
        for (std::int64_t c = 0; c < in_channels; ++c) {
          const T m = transpose ? matrix[o * in_channels + c] : matrix[c * out_channels + o];
          sum += in[p * in_channels + c] * m;
        }
        out[p * out_channels + o] = sum;
      }
    }
  });
}

// dw[o][c] = sum over examples, in order, of each example's sum over its pixels, in order, of
// dy[p][o] * x[p][c].
template <typename T>
void weight_gradient(const T* x, const T* dy, std::int64_t examples, std::int64_t pixels,
                     std::int64_t in_channels, std::int64_t out_channels, T* dw) {
  const std::int64_t stride = registers_for<T>(static_cast<int>(in_channels)) * kLaneCount<T>;
  const std::int64_t slot_size = out_channels * stride;
  std::vector<T> slots(examples * slot_size, T(0));
  const bool compiled = with_compiled_channels(in_channels, out_channels, [&](auto i, auto o) {
    constexpr int kIn = decltype(i)::value;
    constexpr int kOut = decltype(o)::value;
    at::parallel_for(0, examples, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n) {
        weight_gradient_pixels_fastest<T, kIn, kOut>(x + n * pixels * kIn, dy + n * pixels * kOut,
                                                     pixels, slots.data() + n * slot_size);
      }
    });
  });
  if (!compiled) {
    at::parallel_for(0, examples, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n) {
        T* slot = slots.data() + n * slot_size;
        for (std::int64_t p = n * pixels; p < (n + 1) * pixels; ++p) {
          for (std::int64_t o = 0; o < out_channels; ++o) {
            for (std::int64_t c = 0; c < in_channels; ++c) {
              slot[o * stride + c] += dy[p * out_channels + o] * x[p * in_channels + c];
            }
          }
        }
      }
    });
  }
  std::fill(dw, dw + out_channels * in_channels, T(0));
  for (std::int64_t n = 0; n < examples; ++n) {
    const T* slot = slots.data() + n * slot_size;
    for (std::int64_t o = 0; o < out_channels; ++o) {
      for (std::int64_t c = 0; c < in_channels; ++c)
        dw[o * in_channels + c] += slot[o * stride + c];
    }
  }
}

class PointwiseConvFunction : public torch::autograd::Function<PointwiseConvFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& weight_in) {
    const torch::Tensor x = x_in.contiguous(at::MemoryFormat::ChannelsLast);
    const torch::Tensor weight = weight_in.contiguous();  // [O][C]: a 1x1 kernel has one layout
    const std::int64_t out_channels = weight.size(0);
    torch::Tensor y = torch::empty({x.size(0), out_channels, x.size(2), x.size(3)}, x.options(),
                                   at::MemoryFormat::ChannelsLast);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_pointwise_conv_forward", [&] {
      multiply<scalar_t>(x.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(),
                         x.size(0) * x.size(2) * x.size(3), x.size(1), out_channels,
                         /*transpose=*/true, y.data_ptr<scalar_t>());
    });
    ctx->save_for_backward({x, weight});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const std::int64_t out_channels = weight.size(0);
    const torch::Tensor dy = grad_outputs[0].contiguous(at::MemoryFormat::ChannelsLast);
    TORCH_CHECK(
        dy.scalar_type() == x.scalar_type() &&
            dy.sizes() == torch::IntArrayRef({x.size(0), out_channels, x.size(2), x.size(3)}),
        "fused_pointwise_conv: the output's gradient is ", dy.scalar_type(), " of shape ",
        dy.sizes(), ", expected ", x.scalar_type(), " of shape [", x.size(0), ", ", out_channels,
        ", ", x.size(2), ", ", x.size(3), "]");
    const std::int64_t pixels = x.size(2) * x.size(3);
    torch::Tensor dx;
    torch::Tensor dw;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_pointwise_conv_backward", [&] {
      if (ctx->needs_input_grad(0)) {
        dx = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
        multiply<scalar_t>(dy.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), x.size(0) * pixels,
                           out_channels, x.size(1), /*transpose=*/false, dx.data_ptr<scalar_t>());
      }
      if (ctx->needs_input_grad(1)) {
        dw = torch::empty(weight.sizes(), weight.options());
        weight_gradient<scalar_t>(x.data_ptr<scalar_t>(), dy.data_ptr<scalar_t>(), x.size(0),
                                  pixels, x.size(1), out_channels, dw.data_ptr<scalar_t>());
      }
    });
    return {dx, dw};
  }
};

}  // namespace

bool can_fuse_pointwise_conv(const torch::Tensor& x, const torch::Tensor& weight) {
  return x.defined() && weight.defined() && x.device().is_cpu() && weight.device().is_cpu() &&
         x.layout() == torch::kStrided && weight.layout() == torch::kStrided && x.dim() == 4 &&
         weight.dim() == 4 && weight.size(2) == 1 && weight.size(3) == 1 && weight.size(0) > 0 &&
         x.size(1) == weight.size(1) && x.numel() > 0 && x.scalar_type() == weight.scalar_type() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble);
}

torch::Tensor fused_pointwise_conv(const torch::Tensor& x, const torch::Tensor& weight) {
  TORCH_CHECK(can_fuse_pointwise_conv(x, weight),
              "fused_pointwise_conv: needs float or double CPU tensors, x [N, C, H, W] with N, H, "
              "W > 0 and weight [O, C, 1, 1]; got ",
              x.sizes(), " and ", weight.sizes());
  return PointwiseConvFunction::apply(x, weight);
}

FusedPointwiseConv2dImpl::FusedPointwiseConv2dImpl(std::int64_t in_channels,
                                                   std::int64_t out_channels)
    : PointwiseConv2dImpl(in_channels, out_channels) {}

torch::Tensor FusedPointwiseConv2dImpl::forward(const torch::Tensor& x) {
  if (can_fuse_pointwise_conv(x, weight)) return PointwiseConvFunction::apply(x, weight);
  return PointwiseConv2dImpl::forward(x);
}

}  // namespace normtrain
