#include "normtrain/model/kernels/fused_relu_norm.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernel_parallel_for.hpp"

#include "normtrain/model/kernels/relu_norm_passes.hpp"

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

// t *= factor, as Tensor::mul_ rounds it (the factor in t's precision, one rounding), in a loop
// where t is on the CPU: mul_ by a number wraps it in a tensor and converts that, a cost of
// every BatchNorm layer's every step.
void decay(torch::Tensor& t, double factor) {
  if (!t.is_cpu() || !t.is_contiguous()) {
    t.mul_(factor);
    return;
  }
  AT_DISPATCH_FLOATING_TYPES(t.scalar_type(), "decay", [&] {
    scalar_t* data = t.data_ptr<scalar_t>();
    const auto f = static_cast<scalar_t>(factor);
    for (std::int64_t i = 0; i < t.numel(); ++i) data[i] *= f;
  });
}

// The kernels below keep one accumulator or coefficient per channel in a local array. With the
// channel count known at compile time (this network uses 8, 16 and 24) the arrays live in
// registers and the channel loops vectorize; other counts up to kernels::kMaxFusedChannels take
// the same code with a run-time count, and larger ones the stock operators. The passes over the
// activations are in relu_norm_pass_loops.hpp, built once per instruction set.
using kernels::channel_array_size;
using kernels::kMaxFusedChannels;
using kernels::relu_norm_passes;
using kernels::with_compiled_channel_count;

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

// Calls f(std::integral_constant<int, C>) with C the channel count if the kernels are compiled
// for it, or 0 for "run time" (with_compiled_channel_count).
template <typename F>
void with_channel_count(std::int64_t channels, F f) {
  TORCH_CHECK(channels <= kMaxFusedChannels, "fused ReLU + norm: ", channels, " channels, at most ",
              kMaxFusedChannels, " supported");
  with_compiled_channel_count(channels, f);
}

// Count, mean and sum of squared deviations from the mean of a set of values, in double.
struct Moments {
  double count = 0.0;
  double mean = 0.0;
  double m2 = 0.0;
};

// The moments of one example's channel from the relu_moments pass's results.
template <typename T>
Moments channel_moments(std::int64_t hw, T center, double sum_d, double sum_d2) {
  const double count = static_cast<double>(hw);
  const double shift = sum_d / count;
  return {count, static_cast<double>(center) + shift, std::max(sum_d2 - sum_d * shift, 0.0)};
}

// The moments of the union of two sets (Chan, Golub and LeVeque's update).
Moments merge(const Moments& a, const Moments& b) {
  const double count = a.count + b.count;
  if (count == 0.0) return a;
  const double delta = b.mean - a.mean;
  return {count, a.mean + delta * (b.count / count),
          a.m2 + b.m2 + delta * delta * (a.count * b.count / count)};
}

// The same passes over the whole batch, parallel over the examples, for BatchNorm, whose
// statistics span the batch. Each example's results go to its own slots and are added up in
// example order afterwards, so the results do not depend on the number of threads.

// Per (example, channel) moments of relu(x) over the positions.
template <typename T, int kChannels>
void relu_moments(const T* x, Shape s, std::vector<Moments>& moments) {
  moments.assign(s.n * s.c, Moments{});
  const auto& passes = relu_norm_passes<T, kChannels>();
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    for (std::int64_t n = begin; n < end; ++n) {
      T center[channel_array_size<kChannels>()];
      double sum_d[channel_array_size<kChannels>()] = {};
      double sum_d2[channel_array_size<kChannels>()] = {};
      passes.relu_moments(x + n * s.hw * channels, s.hw, channels, center, sum_d, sum_d2);
      for (std::int64_t c = 0; c < channels; ++c) {
        moments[n * channels + c] = channel_moments(s.hw, center[c], sum_d[c], sum_d2[c]);
      }
    }
  });
}

// Per (example, channel) sums over the positions of dy * (relu(x) - mean[n, c]) and of dy.
template <typename T, int kChannels>
void gradient_moments(const T* dy, const T* x, Shape s, const std::vector<double>& mean,
                      std::vector<double>& dy_centered, std::vector<double>& dy_sum) {
  dy_centered.assign(s.n * s.c, 0.0);
  dy_sum.assign(s.n * s.c, 0.0);
  const auto& passes = relu_norm_passes<T, kChannels>();
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    for (std::int64_t n = begin; n < end; ++n) {
      T center[channel_array_size<kChannels>()];
      double a[channel_array_size<kChannels>()] = {};
      double b[channel_array_size<kChannels>()] = {};
      for (std::int64_t c = 0; c < channels; ++c) {
        center[c] = static_cast<T>(mean[n * channels + c]);
      }
      const std::int64_t offset = n * s.hw * channels;
      passes.gradient_moments(dy + offset, x + offset, s.hw, channels, center, a, b);
      for (std::int64_t c = 0; c < channels; ++c) {
        const std::int64_t i = n * channels + c;
        dy_sum[i] = b[c];
        dy_centered[i] = a[c] + (static_cast<double>(center[c]) - mean[i]) * b[c];
      }
    }
  });
}

// y = (relu(x) - mean[n, c]) * scale[n, c] + shift[n, c].
template <typename T, int kChannels>
void affine_forward(const T* x, Shape s, const std::vector<double>& mean,
                    const std::vector<double>& scale, const std::vector<double>& shift, T* y) {
  const auto& passes = relu_norm_passes<T, kChannels>();
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    for (std::int64_t n = begin; n < end; ++n) {
      T center[channel_array_size<kChannels>()];
      T k[channel_array_size<kChannels>()];
      T m[channel_array_size<kChannels>()];
      for (std::int64_t c = 0; c < channels; ++c) {
        const std::int64_t i = n * channels + c;
        center[c] = static_cast<T>(mean[i]);
        k[c] = static_cast<T>(scale[i]);
        m[c] = static_cast<T>(shift[i] + (static_cast<double>(center[c]) - mean[i]) * scale[i]);
      }
      const std::int64_t offset = n * s.hw * channels;
      passes.affine_forward(x + offset, s.hw, channels, center, k, m, y + offset);
    }
  });
}

// dx = x <= 0 ? 0 : dy * k1[n, c] + (x - mean[n, c]) * k3[n, c] + k2[n, c].
template <typename T, int kChannels>
void affine_backward(const T* dy, const T* x, Shape s, const std::vector<double>& mean,
                     const std::vector<double>& k1, const std::vector<double>& k2,
                     const std::vector<double>& k3, T* dx) {
  const auto& passes = relu_norm_passes<T, kChannels>();
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    for (std::int64_t n = begin; n < end; ++n) {
      T center[channel_array_size<kChannels>()];
      T a[channel_array_size<kChannels>()];
      T b[channel_array_size<kChannels>()];
      T d[channel_array_size<kChannels>()];
      for (std::int64_t c = 0; c < channels; ++c) {
        const std::int64_t i = n * channels + c;
        center[c] = static_cast<T>(mean[i]);
        a[c] = static_cast<T>(k1[i]);
        b[c] = static_cast<T>(k2[i] + (static_cast<double>(center[c]) - mean[i]) * k3[i]);
        d[c] = static_cast<T>(k3[i]);
      }
      const std::int64_t offset = n * s.hw * channels;
      passes.affine_backward(dy + offset, x + offset, s.hw, channels, center, a, b, d, dx + offset);
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
    shift[i] = b[i % s.c];
  }
  torch::Tensor y = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_norm_forward", [&] {
    with_channel_count(s.c, [&](auto channels) {
      affine_forward<scalar_t, channels()>(x.data_ptr<scalar_t>(), s, stats.mean, scale, shift,
                                           y.data_ptr<scalar_t>());
    });
  });
  return y;
}

// GroupNorm, one example at a time: its statistics depend on that example alone, so each
// example's activations (at most 24 x 26 x 26 floats, 65 KB, here) are read from memory once and
// stay in cache for the later passes over them. The arithmetic is that of the BatchNorm path
// below, with the sums over a group's channels in place of those over the batch.

// y = (relu(x) - mean) * w * rstd + b per example and channel; fills stats.mean and stats.rstd,
// the per-(example, channel) statistics of relu(x) over its group.
template <typename T, int kChannels>
void group_norm_forward(const T* x, Shape s, std::int64_t groups, double eps,
                        const std::vector<double>& w, const std::vector<double>& b,
                        Normalizer& stats, T* y) {
  const auto& passes = relu_norm_passes<T, kChannels>();
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    const std::int64_t per_group = channels / groups;
    for (std::int64_t n = begin; n < end; ++n) {
      const std::int64_t offset = n * s.hw * channels;
      T center[channel_array_size<kChannels>()];
      double sum_d[channel_array_size<kChannels>()] = {};
      double sum_d2[channel_array_size<kChannels>()] = {};
      passes.relu_moments(x + offset, s.hw, channels, center, sum_d, sum_d2);
      T scale[channel_array_size<kChannels>()];
      T shift[channel_array_size<kChannels>()];
      for (std::int64_t g = 0; g < groups; ++g) {
        Moments group;
        for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
          group = merge(group, channel_moments(s.hw, center[c], sum_d[c], sum_d2[c]));
        }
        const double rstd = 1.0 / std::sqrt(group.m2 / group.count + eps);
        const T group_center = static_cast<T>(group.mean);
        const double center_error = static_cast<double>(group_center) - group.mean;
        for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
          stats.mean[n * channels + c] = group.mean;
          stats.rstd[n * channels + c] = rstd;
          const double k = w[c] * rstd;
          center[c] = group_center;
          scale[c] = static_cast<T>(k);
          shift[c] = static_cast<T>(b[c] + center_error * k);
        }
      }
      passes.affine_forward(x + offset, s.hw, channels, center, scale, shift, y + offset);
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
  const auto& passes = relu_norm_passes<T, kChannels>();
  at::parallel_for(0, s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t channels = channel_count<kChannels>(s);
    const std::int64_t per_group = channels / groups;
    const double count = static_cast<double>(per_group * s.hw);
    for (std::int64_t n = begin; n < end; ++n) {
      const std::int64_t offset = n * s.hw * channels;
      T center[channel_array_size<kChannels>()];
      for (std::int64_t c = 0; c < channels; ++c) {
        center[c] = static_cast<T>(stats.mean[n * channels + c]);
      }
      double dy_d[channel_array_size<kChannels>()] = {};
      double dy_total[channel_array_size<kChannels>()] = {};
      passes.gradient_moments(dy + offset, x + offset, s.hw, channels, center, dy_d, dy_total);
      T k1[channel_array_size<kChannels>()];
      T k2[channel_array_size<kChannels>()];
      T k3[channel_array_size<kChannels>()];
      for (std::int64_t g = 0; g < groups; ++g) {
        // sum(dxhat) and sum(dxhat * xhat) over the group, dxhat = dy * weight.
        double sum_dxhat = 0.0;
        double sum_dxhat_xhat = 0.0;
        for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
          const std::int64_t i = n * channels + c;
          const double center_error = static_cast<double>(center[c]) - stats.mean[i];
          dy_sum[i] = dy_total[c];
          dy_xhat[i] = stats.rstd[i] * (dy_d[c] + center_error * dy_total[c]);
          sum_dxhat += w[c] * dy_sum[i];
          sum_dxhat_xhat += w[c] * dy_xhat[i];
        }
        for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
          const std::int64_t i = n * channels + c;
          const double rstd = stats.rstd[i];
          const double c3 = -rstd * rstd * sum_dxhat_xhat / count;
          const double center_error = static_cast<double>(center[c]) - stats.mean[i];
          k1[c] = static_cast<T>(rstd * w[c]);
          k3[c] = static_cast<T>(c3);
          k2[c] = static_cast<T>(-rstd * sum_dxhat / count + center_error * c3);
        }
      }
      passes.affine_backward(dy + offset, x + offset, s.hw, channels, center, k1, k2, k3,
                             dx + offset);
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
  std::vector<double> dy_centered;
  std::vector<double> dy_sum;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_norm_gradient_moments", [&] {
    with_channel_count(s.c, [&](auto channels) {
      gradient_moments<scalar_t, channels()>(dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), s,
                                             stats.mean, dy_centered, dy_sum);
    });
  });
  const std::vector<double> w = to_vector(weight);
  Gradients grads{torch::Tensor(), std::vector<double>(s.c, 0.0), std::vector<double>(s.c, 0.0)};
  // Per cell: sum of dy * xhat (the weight gradient's share) and of dy.
  std::vector<double> dy_xhat(s.n * s.c);
  for (std::int64_t i = 0; i < s.n * s.c; ++i) {
    dy_xhat[i] = stats.rstd[i] * dy_centered[i];
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
      k2[i] = -rstd * sum_dxhat[i] / count;
    } else {
      k3[i] = 0.0;
      k2[i] = 0.0;
    }
  }
  grads.dx = torch::empty_like(x, at::MemoryFormat::ChannelsLast);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_norm_backward", [&] {
    with_channel_count(s.c, [&](auto channels) {
      affine_backward<scalar_t, channels()>(dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), s,
                                            stats.mean, k1, k2, k3, grads.dx.data_ptr<scalar_t>());
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
      std::vector<Moments> moments;
      AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "relu_batch_moments", [&] {
        with_channel_count(s.c, [&](auto channels) {
          relu_moments<scalar_t, channels()>(x.data_ptr<scalar_t>(), s, moments);
        });
      });
      std::vector<double> batch_mean(s.c);
      std::vector<double> batch_var(s.c);
      for (std::int64_t c = 0; c < s.c; ++c) {
        Moments batch;
        for (std::int64_t n = 0; n < s.n; ++n) batch = merge(batch, moments[n * s.c + c]);
        batch_mean[c] = batch.mean;
        batch_var[c] = batch.m2 / batch.count;
      }
      for (std::int64_t i = 0; i < s.n * s.c; ++i) {
        stats.mean[i] = batch_mean[i % s.c];
        stats.rstd[i] = 1.0 / std::sqrt(batch_var[i % s.c] + eps);
      }
      // The running variance is unbiased, as in BatchNorm2d. The caller has made sure that
      // there are at least two values per channel.
      const double count = static_cast<double>(s.n * s.hw);
      const double unbias = count / (count - 1.0);
      decay(running_mean, 1.0 - momentum);
      running_mean.add_(to_tensor(batch_mean, running_mean.options()), momentum);
      decay(running_var, 1.0 - momentum);
      running_var.add_(to_tensor(batch_var, running_var.options()), momentum * unbias);
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

// Argument checks, with messages that name the operation and the argument. The kernels read
// weights, biases and running statistics as one value per channel of a channels-last input, so
// anything else would read or write past their ends.

void check_input(const char* op, const torch::Tensor& x) {
  TORCH_CHECK(x.defined(), op, ": the input is an undefined tensor");
  TORCH_CHECK(x.dim() >= 2, op, ": the input must have shape [N, C, ...], got shape ", x.sizes());
}

// A per-channel tensor (weight, bias, running statistic), when given: one value per channel,
// dense, on the input's device.
void check_per_channel(const char* op, const char* name, const torch::Tensor& t,
                       const torch::Tensor& x) {
  if (!t.defined()) return;
  TORCH_CHECK(t.layout() == torch::kStrided, op, ": ", name,
              " must be a dense (strided) tensor, got layout ", t.layout());
  TORCH_CHECK(t.dim() == 1 && t.size(0) == x.size(1), op, ": ", name,
              " must be a vector of one value per channel of the input (", x.size(1),
              "), got shape ", t.sizes(), " for an input of shape ", x.sizes());
  TORCH_CHECK(t.device() == x.device(), op, ": ", name, " is on ", t.device(),
              " but the input is on ", x.device());
}

// Whether the fused kernels take x: a non-empty 4-D dense CPU tensor of floats or doubles with
// at most kMaxFusedChannels channels, and every per-channel tensor given; anything else goes to the
// stock operators. The kernels then also need the per-channel tensors in the input's type.
bool fused_kernels_take(
    const char* op, const torch::Tensor& x,
    std::initializer_list<std::pair<const char*, const torch::Tensor*>> params) {
  if (!x.device().is_cpu() || x.layout() != torch::kStrided || x.dim() != 4 || x.numel() == 0 ||
      x.size(1) > kMaxFusedChannels ||
      !(x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble)) {
    return false;
  }
  for (const auto& [name, t] : params) {
    if (!t->defined()) return false;
  }
  for (const auto& [name, t] : params) {
    TORCH_CHECK(t->scalar_type() == x.scalar_type(), op, ": ", name, " is ", t->scalar_type(),
                " but the input is ", x.scalar_type(), "; give both the same type");
  }
  return true;
}

}  // namespace

torch::Tensor relu_group_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, std::int64_t groups, double eps) {
  constexpr const char* kOp = "relu_group_norm";
  check_input(kOp, x);
  TORCH_CHECK(groups > 0, kOp, ": groups must be positive, got ", groups);
  TORCH_CHECK(x.size(1) % groups == 0, kOp, ": ", x.size(1), " channels do not split into ", groups,
              " groups of equal size");
  check_per_channel(kOp, "weight", weight, x);
  check_per_channel(kOp, "bias", bias, x);
  if (!fused_kernels_take(kOp, x, {{"weight", &weight}, {"bias", &bias}})) {
    return torch::group_norm(torch::relu(x), groups, weight, bias, eps);
  }
  return ReluGroupNormFunction::apply(x, weight, bias, groups, eps);
}

torch::Tensor relu_batch_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor running_mean,
                              torch::Tensor running_var, bool training, double momentum,
                              double eps) {
  constexpr const char* kOp = "relu_batch_norm";
  check_input(kOp, x);
  check_per_channel(kOp, "weight", weight, x);
  check_per_channel(kOp, "bias", bias, x);
  check_per_channel(kOp, "running_mean", running_mean, x);
  check_per_channel(kOp, "running_var", running_var, x);
  if (training) {
    // BatchNorm2d's own check (torch::nn::functional::batch_norm): one value per channel has
    // no variance to normalize with.
    std::int64_t per_channel = x.size(0);
    for (std::int64_t d = 2; d < x.dim(); ++d) per_channel *= x.size(d);
    TORCH_CHECK(per_channel != 1,
                "Expected more than 1 value per channel when training, got input size ", x.sizes());
  }
  if (!fused_kernels_take(kOp, x,
                          {{"weight", &weight},
                           {"bias", &bias},
                           {"running_mean", &running_mean},
                           {"running_var", &running_var}})) {
    return torch::batch_norm(torch::relu(x), weight, bias, running_mean, running_var, training,
                             momentum, eps, /*cudnn_enabled=*/true);
  }
  return ReluBatchNormFunction::apply(x, weight, bias, running_mean, running_var, training,
                                      momentum, eps);
}

ReluGroupNormImpl::ReluGroupNormImpl(std::int64_t group_count, std::int64_t channels)
    : groups(group_count),
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
