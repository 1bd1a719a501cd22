#include "normtrain/fused_relu_norm.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include <ATen/Parallel.h>

namespace normtrain {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A channels-last activation: n examples of hw positions, each position c contiguous values.
struct Shape {
  std::int64_t n;
  std::int64_t c;
  std::int64_t hw;
};

Shape shape_of(const torch::Tensor& x) {
  return {x.size(0), x.size(1), x.size(2) * x.size(3)};
}

torch::Tensor channels_last(const torch::Tensor& x) {
  return x.contiguous(at::MemoryFormat::ChannelsLast);
}

// Small per-channel tensors (weights, running statistics) to and from doubles, element by
// element on the CPU: each step converts a dozen of them per layer, and going through tensor
// operators cost more in dispatch than the work. The conversions are plain casts, as in
// Tensor::to.
std::vector<double> to_vector(const torch::Tensor& t) {
  if (!t.is_cpu() || !t.is_contiguous()) return to_vector(t.cpu().contiguous());
  std::vector<double> values(static_cast<std::size_t>(t.numel()));
  AT_DISPATCH_FLOATING_TYPES(t.scalar_type(), "to_vector", [&] {
    const scalar_t* data = t.data_ptr<scalar_t>();
    std::copy(data, data + t.numel(), values.begin());
  });
  return values;
}

torch::Tensor to_tensor(const std::vector<double>& values, const torch::TensorOptions& options) {
  torch::Tensor t = torch::empty({static_cast<std::int64_t>(values.size())},
                                 options.device(torch::kCPU).requires_grad(false));
  AT_DISPATCH_FLOATING_TYPES(t.scalar_type(), "to_tensor", [&] {
    scalar_t* data = t.data_ptr<scalar_t>();
    for (std::size_t i = 0; i < values.size(); ++i) data[i] = static_cast<scalar_t>(values[i]);
  });
  return t.to(options.device());
}

// The kernels below keep one accumulator or coefficient per channel in a local array. With the
// channel count known at compile time (this network uses 8, 16 and 24) the arrays live in
// registers and the channel loops vectorize; other counts up to kMaxChannels take the same code
// with a run-time count. ReLU is written as max and its gradient mask as a multiply by 0 or 1:
// signs of activations are random, and a branch on them mispredicts half the time.
constexpr std::int64_t kMaxChannels = 64;

template <int kChannels>
constexpr std::int64_t array_size() {
  return kChannels > 0 ? kChannels : kMaxChannels;
}

template <typename T>
inline T relu(T v) {
  return std::max(v, T(0));
}

template <typename T>
inline T positive(T v) {
  return static_cast<T>(v > T(0));
}

// The channel count: the compile-time one when there is one. Called inside each parallel
// lambda, because a value captured from outside is reloaded through a pointer there and stops
// the channel loops from being unrolled and vectorized.
template <int kChannels>
inline std::int64_t channel_count(const Shape& s) {
  if constexpr (kChannels > 0) {
    return kChannels;
  } else {
    return s.c;
  }
}

// Calls f(std::integral_constant<int, C>) with C the channel count, or 0 for "run time".
template <typename F>
void with_channel_count(std::int64_t channels, F f) {
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

// The four passes over one example's channels-last activations (hw positions of `channels`
// values each). Per-channel accumulators and coefficients are the caller's small local arrays;
// with the channel count a compile-time constant at the call site they stay in registers and
// the channel loops vectorize.

// Sums over the positions of relu(x) and relu(x)^2, per channel.
template <typename T>
inline void example_relu_moments(const T* __restrict x, std::int64_t hw, std::int64_t channels,
                                 T* __restrict sum, T* __restrict sum_sq) {
  for (std::int64_t p = 0; p < hw; ++p, x += channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const T r = relu(x[c]);
      sum[c] += r;
      sum_sq[c] += r * r;
    }
  }
}

// Sums over the positions of dy * relu(x) and of dy, per channel.
template <typename T>
inline void example_gradient_moments(const T* __restrict dy, const T* __restrict x, std::int64_t hw,
                                     std::int64_t channels, T* __restrict dy_r,
                                     T* __restrict dy_sum) {
  for (std::int64_t p = 0; p < hw; ++p, x += channels, dy += channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      dy_r[c] += dy[c] * relu(x[c]);
      dy_sum[c] += dy[c];
    }
  }
}

// y = relu(x) * scale[c] + shift[c].
template <typename T>
inline void example_affine_forward(const T* __restrict x, std::int64_t hw, std::int64_t channels,
                                   const T* __restrict scale, const T* __restrict shift,
                                   T* __restrict y) {
  for (std::int64_t p = 0; p < hw; ++p, x += channels, y += channels) {
    for (std::int64_t c = 0; c < channels; ++c) y[c] = relu(x[c]) * scale[c] + shift[c];
  }
}

// dx = [x > 0] * (dy * k1[c] + x * k3[c] + k2[c]): the input gradient of every normalization
// here once its per-(example, channel) coefficients are known.
template <typename T>
inline void example_affine_backward(const T* __restrict dy, const T* __restrict x, std::int64_t hw,
                                    std::int64_t channels, const T* __restrict k1,
                                    const T* __restrict k2, const T* __restrict k3,
                                    T* __restrict dx) {
  for (std::int64_t p = 0; p < hw; ++p, x += channels, dy += channels, dx += channels) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const T v = dy[c] * k1[c] + x[c] * k3[c] + k2[c];
      dx[c] = positive(x[c]) * v;
    }
  }
}

// The same passes over the whole batch, parallel over the examples, for BatchNorm, whose
// statistics span the batch.

// Per (example, channel) sums over the positions of relu(x) and relu(x)^2.
template <typename T, int kChannels>
void relu_moments(const T* x, Shape s, std::vector<double>& sum, std::vector<double>& sum_sq) {
  sum.assign(s.n * s.c, 0.0);
  sum_sq.assign(s.n * s.c, 0.0);
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    for (std::int64_t n = begin; n < end; ++n) {
      T a[array_size<kChannels>()] = {};
      T b[array_size<kChannels>()] = {};
      example_relu_moments(x + n * s.hw * channels, s.hw, channels, a, b);
      for (std::int64_t c = 0; c < channels; ++c) {
        sum[n * channels + c] = a[c];
        sum_sq[n * channels + c] = b[c];
      }
    }
  });
}

// Per (example, channel) sums over the positions of dy * relu(x) and of dy.
template <typename T, int kChannels>
void gradient_moments(const T* dy, const T* x, Shape s, std::vector<double>& dy_r,
                      std::vector<double>& dy_sum) {
  dy_r.assign(s.n * s.c, 0.0);
  dy_sum.assign(s.n * s.c, 0.0);
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    for (std::int64_t n = begin; n < end; ++n) {
      T a[array_size<kChannels>()] = {};
      T b[array_size<kChannels>()] = {};
      const std::int64_t offset = n * s.hw * channels;
      example_gradient_moments(dy + offset, x + offset, s.hw, channels, a, b);
      for (std::int64_t c = 0; c < channels; ++c) {
        dy_r[n * channels + c] = a[c];
        dy_sum[n * channels + c] = b[c];
      }
    }
  });
}

// y = relu(x) * scale[n, c] + shift[n, c].
template <typename T, int kChannels>
void affine_forward(const T* x, Shape s, const std::vector<double>& scale,
                    const std::vector<double>& shift, T* y) {
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    for (std::int64_t n = begin; n < end; ++n) {
      T k[array_size<kChannels>()];
      T m[array_size<kChannels>()];
      for (std::int64_t c = 0; c < channels; ++c) {
        k[c] = static_cast<T>(scale[n * channels + c]);
        m[c] = static_cast<T>(shift[n * channels + c]);
      }
      const std::int64_t offset = n * s.hw * channels;
      example_affine_forward(x + offset, s.hw, channels, k, m, y + offset);
    }
  });
}

// dx from per-(example, channel) coefficients k1, k2, k3.
template <typename T, int kChannels>
void affine_backward(const T* dy, const T* x, Shape s, const std::vector<double>& k1,
                     const std::vector<double>& k2, const std::vector<double>& k3, T* dx) {
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    for (std::int64_t n = begin; n < end; ++n) {
      T a[array_size<kChannels>()];
      T b[array_size<kChannels>()];
      T d[array_size<kChannels>()];
      for (std::int64_t c = 0; c < channels; ++c) {
        a[c] = static_cast<T>(k1[n * channels + c]);
        b[c] = static_cast<T>(k2[n * channels + c]);
        d[c] = static_cast<T>(k3[n * channels + c]);
      }
      const std::int64_t offset = n * s.hw * channels;
      example_affine_backward(dy + offset, x + offset, s.hw, channels, a, b, d, dx + offset);
    }
  });
}

// The statistics of one normalization: per (example, channel) for GroupNorm, the same for
// every example for BatchNorm.
struct Normalizer {
  std::vector<double> mean;  // [n * c]
  std::vector<double> rstd;  // [n * c], 1 / sqrt(var + eps)
};

// BatchNorm's output pass, given its statistics.
torch::Tensor batch_norm_output(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::Tensor& bias, const Normalizer& stats) {
  const Shape s = shape_of(x);
  const std::vector<double> w = to_vector(weight);
  const std::vector<double> b = to_vector(bias);
  std::vector<double> scale(s.n * s.c);
  std::vector<double> shift(s.n * s.c);
  for (std::int64_t i = 0; i < s.n * s.c; ++i) {
    scale[i] = w[i % s.c] * stats.rstd[i];
    shift[i] = b[i % s.c] - stats.mean[i] * scale[i];
  }
  torch::Tensor y = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_norm_forward", [&] {
    with_channel_count(s.c, [&](auto channels) {
      affine_forward<scalar_t, channels()>(x.data_ptr<scalar_t>(), s, scale, shift,
                                           y.data_ptr<scalar_t>());
    });
  });
  return y;
}

// GroupNorm, one example at a time: its statistics depend on that example alone, so each
// example's activations (at most 24 x 26 x 26 floats, 65 KB, here) are read from memory once and
// stay in cache for the second pass over them. The arithmetic, and its order, is that of the
// two-pass BatchNorm path below, so both give the same bits as before the split.

// y = relu(x) * scale + shift per example and channel; fills stats.mean and stats.rstd, the
// per-(example, channel) statistics of relu(x) over its group.
template <typename T, int kChannels>
void group_norm_forward(const T* x, Shape s, std::int64_t groups, double eps,
                        const std::vector<double>& w, const std::vector<double>& b,
                        Normalizer& stats, T* y) {
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    const std::int64_t per_group = channels / groups;
    const double count = static_cast<double>(per_group * s.hw);
    for (std::int64_t n = begin; n < end; ++n) {
      const std::int64_t offset = n * s.hw * channels;
      T sum[array_size<kChannels>()] = {};
      T sum_sq[array_size<kChannels>()] = {};
      example_relu_moments(x + offset, s.hw, channels, sum, sum_sq);
      T scale[array_size<kChannels>()];
      T shift[array_size<kChannels>()];
      for (std::int64_t g = 0; g < groups; ++g) {
        double total = 0.0;
        double total_sq = 0.0;
        for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
          total += static_cast<double>(sum[c]);
          total_sq += static_cast<double>(sum_sq[c]);
        }
        const double mean = total / count;
        const double variance = std::max(total_sq / count - mean * mean, 0.0);
        const double rstd = 1.0 / std::sqrt(variance + eps);
        for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
          stats.mean[n * channels + c] = mean;
          stats.rstd[n * channels + c] = rstd;
          const double k = w[c] * rstd;
          scale[c] = static_cast<T>(k);
          shift[c] = static_cast<T>(b[c] - mean * k);
        }
      }
      example_affine_forward(x + offset, s.hw, channels, scale, shift, y + offset);
    }
  });
}

// dx for every example, and per (example, channel) the sums of dy * xhat and of dy that the
// parameter gradients add up over the batch.
template <typename T, int kChannels>
void group_norm_backward(const T* dy, const T* x, Shape s, std::int64_t groups,
                         const std::vector<double>& w, const Normalizer& stats,
                         std::vector<double>& dy_xhat, std::vector<double>& dy_sum, T* dx) {
  dy_xhat.assign(s.n * s.c, 0.0);
  dy_sum.assign(s.n * s.c, 0.0);
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    const std::int64_t per_group = channels / groups;
    const double count = static_cast<double>(per_group * s.hw);
    for (std::int64_t n = begin; n < end; ++n) {
      const std::int64_t offset = n * s.hw * channels;
      T dy_r[array_size<kChannels>()] = {};
      T dy_total[array_size<kChannels>()] = {};
      example_gradient_moments(dy + offset, x + offset, s.hw, channels, dy_r, dy_total);
      T k1[array_size<kChannels>()];
      T k2[array_size<kChannels>()];
      T k3[array_size<kChannels>()];
      for (std::int64_t g = 0; g < groups; ++g) {
        // sum(dxhat) and sum(dxhat * xhat) over the group, dxhat = dy * weight.
        double sum_dxhat = 0.0;
        double sum_dxhat_xhat = 0.0;
        for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
          const std::int64_t i = n * channels + c;
          dy_sum[i] = static_cast<double>(dy_total[c]);
          dy_xhat[i] = stats.rstd[i] * (static_cast<double>(dy_r[c]) - stats.mean[i] * dy_sum[i]);
          sum_dxhat += w[c] * dy_sum[i];
          sum_dxhat_xhat += w[c] * dy_xhat[i];
        }
        for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
          const std::int64_t i = n * channels + c;
          const double rstd = stats.rstd[i];
          const double c3 = -rstd * rstd * sum_dxhat_xhat / count;
          k1[c] = static_cast<T>(rstd * w[c]);
          k3[c] = static_cast<T>(c3);
          k2[c] = static_cast<T>(-rstd * sum_dxhat / count - stats.mean[i] * c3);
        }
      }
      example_affine_backward(dy + offset, x + offset, s.hw, channels, k1, k2, k3, dx + offset);
    }
  });
}

// Sums over the examples of each channel, broadcast back to every example.
void over_batch(std::vector<double>& v, std::int64_t n, std::int64_t c) {
  for (std::int64_t channel = 0; channel < c; ++channel) {
    double total = 0.0;
    for (std::int64_t i = 0; i < n; ++i) total += v[i * c + channel];
    for (std::int64_t i = 0; i < n; ++i) v[i * c + channel] = total;
  }
}

// BatchNorm's input and parameter gradients, given its statistics. With batch statistics
// (training) the input gradient also flows through the mean and variance, whose sums span the
// batch; with running statistics (evaluation) it does not.
struct Gradients {
  torch::Tensor dx;
  std::vector<double> dweight;  // [c]
  std::vector<double> dbias;    // [c]
};

Gradients batch_norm_gradients(const torch::Tensor& dy_any, const torch::Tensor& x,
                               const torch::Tensor& weight, const Normalizer& stats,
                               bool batch_statistics) {
  const torch::Tensor dy = channels_last(dy_any);
  const Shape s = shape_of(x);
  const double count = static_cast<double>(s.n * s.hw);
  std::vector<double> dy_r;
  std::vector<double> dy_sum;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_norm_gradient_moments", [&] {
    with_channel_count(s.c, [&](auto channels) {
      gradient_moments<scalar_t, channels()>(dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), s,
                                             dy_r, dy_sum);
    });
  });
  const std::vector<double> w = to_vector(weight);
  Gradients grads{torch::Tensor(), std::vector<double>(s.c, 0.0), std::vector<double>(s.c, 0.0)};
  // Per cell: sum of dy * xhat (the weight gradient's share) and of dy.
  std::vector<double> dy_xhat(s.n * s.c);
  for (std::int64_t i = 0; i < s.n * s.c; ++i) {
    dy_xhat[i] = stats.rstd[i] * (dy_r[i] - stats.mean[i] * dy_sum[i]);
    grads.dweight[i % s.c] += dy_xhat[i];
    grads.dbias[i % s.c] += dy_sum[i];
  }
  // sum(dxhat) and sum(dxhat * xhat) over the batch, dxhat = dy * weight.
  std::vector<double> sum_dxhat(s.n * s.c);
  std::vector<double> sum_dxhat_xhat(s.n * s.c);
  for (std::int64_t i = 0; i < s.n * s.c; ++i) {
    sum_dxhat[i] = w[i % s.c] * dy_sum[i];
    sum_dxhat_xhat[i] = w[i % s.c] * dy_xhat[i];
  }
  over_batch(sum_dxhat, s.n, s.c);
  over_batch(sum_dxhat_xhat, s.n, s.c);
  std::vector<double> k1(s.n * s.c);
  std::vector<double> k2(s.n * s.c);
  std::vector<double> k3(s.n * s.c);
  for (std::int64_t i = 0; i < s.n * s.c; ++i) {
    const double rstd = stats.rstd[i];
    k1[i] = rstd * w[i % s.c];
    if (batch_statistics) {
      k3[i] = -rstd * rstd * sum_dxhat_xhat[i] / count;
      k2[i] = -rstd * sum_dxhat[i] / count - stats.mean[i] * k3[i];
    } else {
      k3[i] = 0.0;
      k2[i] = 0.0;
    }
  }
  grads.dx = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_norm_backward", [&] {
    with_channel_count(s.c, [&](auto channels) {
      affine_backward<scalar_t, channels()>(dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), s, k1,
                                            k2, k3, grads.dx.data_ptr<scalar_t>());
    });
  });
  return grads;
}

// The per-(example, channel) statistics travel from forward to backward in the context's
// saved data, as lists of doubles rather than tensors.
void save_statistics(AutogradContext* ctx, const Normalizer& stats) {
  ctx->saved_data["mean"] = stats.mean;
  ctx->saved_data["rstd"] = stats.rstd;
}

Normalizer saved_statistics(AutogradContext* ctx) {
  return {ctx->saved_data["mean"].toDoubleVector(), ctx->saved_data["rstd"].toDoubleVector()};
}

class ReluGroupNormFunction : public torch::autograd::Function<ReluGroupNormFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_any,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               std::int64_t groups, double eps) {
    const torch::Tensor x = channels_last(x_any);
    const Shape s = shape_of(x);
    Normalizer stats{std::vector<double>(s.n * s.c), std::vector<double>(s.n * s.c)};
    torch::Tensor y = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
    const std::vector<double> w = to_vector(weight);
    const std::vector<double> b = to_vector(bias);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_group_norm_forward", [&] {
      with_channel_count(s.c, [&](auto channels) {
        group_norm_forward<scalar_t, channels()>(x.data_ptr<scalar_t>(), s, groups, eps, w, b,
                                                 stats, y.data_ptr<scalar_t>());
      });
    });
    ctx->save_for_backward({x, weight});
    save_statistics(ctx, stats);
    ctx->saved_data["groups"] = groups;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const Normalizer stats = saved_statistics(ctx);
    const std::int64_t groups = ctx->saved_data["groups"].toInt();
    const torch::Tensor dy = channels_last(grad_outputs[0]);
    const Shape s = shape_of(x);
    const std::vector<double> w = to_vector(weight);
    std::vector<double> dy_xhat;
    std::vector<double> dy_sum;
    torch::Tensor dx = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_group_norm_backward", [&] {
      with_channel_count(s.c, [&](auto channels) {
        group_norm_backward<scalar_t, channels()>(dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
                                                  s, groups, w, stats, dy_xhat, dy_sum,
                                                  dx.data_ptr<scalar_t>());
      });
    });
    // Parameter gradients: the per-example sums added up over the batch, in example order.
    std::vector<double> dweight(s.c, 0.0);
    std::vector<double> dbias(s.c, 0.0);
    for (std::int64_t i = 0; i < s.n * s.c; ++i) {
      dweight[i % s.c] += dy_xhat[i];
      dbias[i % s.c] += dy_sum[i];
    }
    const torch::TensorOptions options = weight.options();
    return {dx, to_tensor(dweight, options), to_tensor(dbias, options), torch::Tensor(),
            torch::Tensor()};
  }
};

class ReluBatchNormFunction : public torch::autograd::Function<ReluBatchNormFunction> {
 public:
  // running_mean and running_var are updated in place when `training`.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_any,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               torch::Tensor running_mean, torch::Tensor running_var, bool training,
                               double momentum, double eps) {
    const torch::Tensor x = channels_last(x_any);
    const Shape s = shape_of(x);
    Normalizer stats{std::vector<double>(s.n * s.c), std::vector<double>(s.n * s.c)};
    if (training) {
      std::vector<double> sum;
      std::vector<double> sum_sq;
      AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_batch_moments", [&] {
        with_channel_count(s.c, [&](auto channels) {
          relu_moments<scalar_t, channels()>(x.data_ptr<scalar_t>(), s, sum, sum_sq);
        });
      });
      over_batch(sum, s.n, s.c);
      over_batch(sum_sq, s.n, s.c);
      const double count = static_cast<double>(s.n * s.hw);
      std::vector<double> batch_mean(s.c);
      std::vector<double> batch_var(s.c);
      for (std::int64_t c = 0; c < s.c; ++c) {
        batch_mean[c] = sum[c] / count;
        batch_var[c] = std::max(sum_sq[c] / count - batch_mean[c] * batch_mean[c], 0.0);
      }
      for (std::int64_t i = 0; i < s.n * s.c; ++i) {
        stats.mean[i] = batch_mean[i % s.c];
        stats.rstd[i] = 1.0 / std::sqrt(batch_var[i % s.c] + eps);
      }
      // The running variance is unbiased, as in BatchNorm2d.
      const double unbias = count > 1.0 ? count / (count - 1.0) : 1.0;
      running_mean.mul_(1.0 - momentum)
          .add_(to_tensor(batch_mean, running_mean.options()), momentum);
      running_var.mul_(1.0 - momentum)
          .add_(to_tensor(batch_var, running_var.options()), momentum * unbias);
    } else {
      const std::vector<double> mean = to_vector(running_mean);
      const std::vector<double> var = to_vector(running_var);
      for (std::int64_t i = 0; i < s.n * s.c; ++i) {
        stats.mean[i] = mean[i % s.c];
        stats.rstd[i] = 1.0 / std::sqrt(var[i % s.c] + eps);
      }
    }
    ctx->save_for_backward({x, weight});
    save_statistics(ctx, stats);
    ctx->saved_data["training"] = training;
    return batch_norm_output(x, weight, bias, stats);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const bool training = ctx->saved_data["training"].toBool();
    const Gradients grads =
        batch_norm_gradients(grad_outputs[0], x, weight, saved_statistics(ctx), training);
    const torch::TensorOptions options = weight.options();
    return {grads.dx,
            to_tensor(grads.dweight, options),
            to_tensor(grads.dbias, options),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor relu_group_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, std::int64_t groups, double eps) {
  TORCH_CHECK(x.dim() < 2 || x.size(1) % groups == 0, "relu_group_norm: ", x.size(1),
              " channels do not split into ", groups, " groups");
  if (!x.device().is_cpu() || x.dim() != 4 || x.size(1) > kMaxChannels ||
      !(x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble)) {
    return torch::group_norm(torch::relu(x), groups, weight, bias, eps);
  }
  return ReluGroupNormFunction::apply(x, weight, bias, groups, eps);
}

torch::Tensor relu_batch_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor running_mean,
                              torch::Tensor running_var, bool training, double momentum,
                              double eps) {
  if (!x.device().is_cpu() || x.dim() != 4 || x.size(1) > kMaxChannels ||
      !(x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble)) {
    return torch::batch_norm(torch::relu(x), weight, bias, running_mean, running_var, training,
                             momentum, eps, /*cudnn_enabled=*/true);
  }
  return ReluBatchNormFunction::apply(x, weight, bias, running_mean, running_var, training,
                                      momentum, eps);
}

ReluGroupNormImpl::ReluGroupNormImpl(std::int64_t groups, std::int64_t channels)
    : groups(groups),
      weight(register_parameter("weight", torch::ones({channels}))),
      bias(register_parameter("bias", torch::zeros({channels}))) {}

torch::Tensor ReluGroupNormImpl::forward(const torch::Tensor& x) {
  return relu_group_norm(x, weight, bias, groups);
}

ReluBatchNormImpl::ReluBatchNormImpl(std::int64_t channels)
    : weight(register_parameter("weight", torch::ones({channels}))),
      bias(register_parameter("bias", torch::zeros({channels}))),
      running_mean(register_buffer("running_mean", torch::zeros({channels}))),
      running_var(register_buffer("running_var", torch::ones({channels}))),
      num_batches_tracked(register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong))) {}

torch::Tensor ReluBatchNormImpl::forward(const torch::Tensor& x) {
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  return relu_batch_norm(x, weight, bias, running_mean, running_var, is_training());
}

}  // namespace normtrain
