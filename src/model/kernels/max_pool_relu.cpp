#include "normtrain/model/kernels/max_pool_relu.hpp"

#include <algorithm>

#include "kernel_parallel_for.hpp"

namespace normtrain {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A channels-last input [n, c, h, w] and its pooled size.
struct PoolShape {
  std::int64_t n, c, h, w, out_h, out_w;
};

PoolShape pool_shape(at::IntArrayRef input_size) {
  return {input_size[0], input_size[1],     input_size[2],
          input_size[3], input_size[2] / 2, input_size[3] / 2};
}

// Where each output's gradient goes, saved by the forward pass so that the backward reads neither
// the input nor 64-bit indices: the window position of the maximum (0 top left, 1 top right,
// 2 bottom left, 3 bottom right), or kBlocked where the ReLU's backward zeroes the gradient (its
// output is <= 0). Held in the activations' own type: bytes would need packing in the vectorized
// loops, which made them slower than the memory they save.
constexpr int kBlocked = 4;

// max_pool2d's rule, written without branches so that the channel loops vectorize: a later
// value replaces the maximum if it is larger, or NaN.
template <typename T>
inline bool replaces(T candidate, T maximum) {
  return (candidate > maximum) | (candidate != candidate);
}

// One output row: the input rows `top` and `bottom` (w * c values each) give out_w * c outputs
// and their routes. Plain loops over restrict pointers, every value loaded up front and every
// choice a select, so that GCC vectorizes the channel loop.
template <typename T>
void pool_row_forward(const T* __restrict top, const T* __restrict bottom, std::int64_t out_w,
                      std::int64_t channels, T* __restrict out, T* __restrict route) {
  for (std::int64_t ow = 0; ow < out_w;
       ++ow, top += 2 * channels, bottom += 2 * channels, out += channels, route += channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const T top_left = top[c];
      const T top_right = top[channels + c];
      const T bottom_left = bottom[c];
      const T bottom_right = bottom[channels + c];
      T m = top_left;
      T at = 0;
      const bool right = replaces(top_right, m);
      m = right ? top_right : m;
      at = right ? T(1) : at;
      const bool below = replaces(bottom_left, m);
      m = below ? bottom_left : m;
      at = below ? T(2) : at;
      const bool below_right = replaces(bottom_right, m);
      m = below_right ? bottom_right : m;
      at = below_right ? T(3) : at;
      out[c] = std::max(m, T(0));  // NaN stays NaN, as in torch::relu
      route[c] = m <= T(0) ? T(kBlocked) : at;
    }
  }
}

// Each output's gradient goes to its route's input position; the other three get 0.
// Written as zeros that one test overwrites: GCC 14 vectorizes that form, but left the same
// choice written as `at == 0 ? g : 0` scalar, with a branch per value (GCC 12 did both).
template <typename T>
void pool_row_backward(const T* __restrict dy, const T* __restrict route, std::int64_t out_w,
                       std::int64_t channels, T* __restrict dtop, T* __restrict dbottom) {
  for (std::int64_t ow = 0; ow < out_w;
       ++ow, dy += channels, route += channels, dtop += 2 * channels, dbottom += 2 * channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const T g = dy[c];
      const T at = route[c];
      T top_left = 0;
      T top_right = 0;
      T bottom_left = 0;
      T bottom_right = 0;
      if (at == T(0)) top_left = g;
      if (at == T(1)) top_right = g;
      if (at == T(2)) bottom_left = g;
      if (at == T(3)) bottom_right = g;
      dtop[c] = top_left;
      dtop[channels + c] = top_right;
      dbottom[c] = bottom_left;
      dbottom[channels + c] = bottom_right;
    }
  }
}

// Offset of the first input row of output row `row` (of n * out_h) in a channels-last tensor.
std::int64_t top_row_offset(const PoolShape& s, std::int64_t row) {
  const std::int64_t n = row / s.out_h;
  const std::int64_t oh = row % s.out_h;
  return (n * s.h + 2 * oh) * s.w * s.c;
}

template <typename T>
void pool_forward(const T* x, const PoolShape& s, T* y, T* route) {
  at::parallel_for(0, s.n * s.out_h, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t row = begin; row < end; ++row) {
      const T* top = x + top_row_offset(s, row);
      const std::int64_t out = row * s.out_w * s.c;
      pool_row_forward(top, top + s.w * s.c, s.out_w, s.c, y + out, route + out);
    }
  });
}

template <typename T>
void pool_backward(const T* dy, const T* route, const PoolShape& s, T* dx) {
  at::parallel_for(0, s.n * s.out_h, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t row = begin; row < end; ++row) {
      T* dtop = dx + top_row_offset(s, row);
      const std::int64_t out = row * s.out_w * s.c;
      pool_row_backward(dy + out, route + out, s.out_w, s.c, dtop, dtop + s.w * s.c);
    }
  });
}

class MaxPool2ReluFunction : public torch::autograd::Function<MaxPool2ReluFunction> {
 public:
  // x: what max_pool2_relu sends here, checked again because the loops below index it as such.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x) {
    TORCH_CHECK(
        x.device().is_cpu() && x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast),
        "max_pool2_relu: the fused kernel needs a 4-D channels-last CPU tensor, got shape ",
        x.sizes(), ", strides ", x.strides(), " on ", x.device());
    TORCH_CHECK(x.size(2) >= 2 && x.size(3) >= 2 && x.size(2) % 2 == 0 && x.size(3) % 2 == 0,
                "max_pool2_relu: the fused kernel needs an even height and width of at least 2, "
                "got ",
                x.size(2), " x ", x.size(3));
    const PoolShape s = pool_shape(x.sizes());
    torch::Tensor y =
        torch::empty({s.n, s.c, s.out_h, s.out_w}, x.options(), at::MemoryFormat::ChannelsLast);
    torch::Tensor route = torch::empty_like(y);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "max_pool2_relu_forward", [&] {
      pool_forward<scalar_t>(x.data_ptr<scalar_t>(), s, y.data_ptr<scalar_t>(),
                             route.data_ptr<scalar_t>());
    });
    ctx->save_for_backward({route});
    ctx->saved_data["input_size"] = x.sizes();
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const torch::Tensor route = ctx->get_saved_variables()[0];
    const torch::Tensor dy = grad_outputs[0].contiguous(at::MemoryFormat::ChannelsLast);
    const std::vector<std::int64_t> input_size = ctx->saved_data["input_size"].toIntVector();
    TORCH_CHECK(dy.scalar_type() == route.scalar_type() && dy.sizes() == route.sizes(),
                "max_pool2_relu: the output's gradient is ", dy.scalar_type(), " of shape ",
                dy.sizes(), ", expected ", route.scalar_type(), " of shape ", route.sizes());
    const PoolShape s = pool_shape(input_size);
    torch::Tensor dx = torch::empty(input_size, dy.options(), at::MemoryFormat::ChannelsLast);
    AT_DISPATCH_FLOATING_TYPES(dy.scalar_type(), "max_pool2_relu_backward", [&] {
      pool_backward<scalar_t>(dy.data_ptr<scalar_t>(), route.data_ptr<scalar_t>(), s,
                              dx.data_ptr<scalar_t>());
    });
    return {dx};
  }
};

}  // namespace

torch::Tensor max_pool2_relu(const torch::Tensor& x) {
  // An empty input goes to the stock operator, which decides whether it is an error (a zero
  // batch is not; a zero channel count, height or width is).
  const bool fused =
      x.defined() && x.device().is_cpu() && x.layout() == torch::kStrided && x.dim() == 4 &&
      x.numel() > 0 && x.suggest_memory_format() == at::MemoryFormat::ChannelsLast &&
      x.is_contiguous(at::MemoryFormat::ChannelsLast) && x.size(2) % 2 == 0 && x.size(3) % 2 == 0 &&
      (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble);
  if (!fused) return torch::relu(torch::max_pool2d(x, 2));
  return MaxPool2ReluFunction::apply(x);
}

}  // namespace normtrain
