#include "normtrain/model/layers/batch_renorm.hpp"

#include "normtrain/model/layers/layer_arguments.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

namespace normtrain {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What a training step of batch renormalization needs per channel, besides the batch's
// statistics: 1 / sigma_B, r, d, the weight weight * r and the bias bias + weight * d.
struct RenormVectors {
  torch::Tensor invstd;
  torch::Tensor r;
  torch::Tensor d;
  torch::Tensor renorm_weight;
  torch::Tensor shift;
};

// The vectors as tensor operators, on any device; the moving averages are updated (as
// BatchNorm2d updates its running statistics) after r and d have used them.
RenormVectors renorm_vectors(const torch::Tensor& mean, const torch::Tensor& var,
                             const torch::Tensor& weight, const torch::Tensor& bias,
                             const torch::Tensor& running_mean, const torch::Tensor& running_var,
                             double r_max, double d_max, double momentum, double eps,
                             double unbiased) {
  RenormVectors v;
  v.invstd = (var + eps).rsqrt();
  const torch::Tensor sigma = (running_var + eps).sqrt();
  v.r = (v.invstd.reciprocal() / sigma).clamp(1.0 / r_max, r_max);
  v.d = ((mean - running_mean) / sigma).clamp(-d_max, d_max);
  running_mean.mul_(1.0 - momentum).add_(mean, momentum);
  running_var.mul_(1.0 - momentum).add_(var, momentum * unbiased);
  v.renorm_weight = weight * v.r;
  v.shift = bias + weight * v.d;
  return v;
}

// The same on the CPU, in one loop over the channels (in double, rounded once): as a dozen
// tensor operators on vectors of 8 to 24 values it cost more than the layer's arithmetic at
// small batches (a training step at batch 2 took twice as long as with BatchNorm2d).
RenormVectors renorm_vectors_in_a_loop(const torch::Tensor& mean, const torch::Tensor& var,
                                       const torch::Tensor& weight, const torch::Tensor& bias,
                                       const torch::Tensor& running_mean,
                                       const torch::Tensor& running_var, double r_max, double d_max,
                                       double momentum, double eps, double unbiased) {
  const torch::NoGradGuard no_grad;
  RenormVectors v;
  v.invstd = torch::empty_like(mean);
  v.r = torch::empty_like(mean);
  v.d = torch::empty_like(mean);
  v.renorm_weight = torch::empty_like(mean);
  v.shift = torch::empty_like(mean);
  const torch::Tensor w = weight.contiguous();
  const torch::Tensor b = bias.contiguous();
  AT_DISPATCH_FLOATING_TYPES(mean.scalar_type(), "batch_renorm_vectors", [&] {
    const auto mean_at = mean.accessor<scalar_t, 1>();
    const auto var_at = var.accessor<scalar_t, 1>();
    const auto w_at = w.accessor<scalar_t, 1>();
    const auto b_at = b.accessor<scalar_t, 1>();
    auto running_mean_at = running_mean.accessor<scalar_t, 1>();
    auto running_var_at = running_var.accessor<scalar_t, 1>();
    auto invstd_at = v.invstd.accessor<scalar_t, 1>();
    auto r_at = v.r.accessor<scalar_t, 1>();
    auto d_at = v.d.accessor<scalar_t, 1>();
    auto renorm_weight_at = v.renorm_weight.accessor<scalar_t, 1>();
    auto shift_at = v.shift.accessor<scalar_t, 1>();
    for (std::int64_t c = 0; c < mean.size(0); ++c) {
      const auto wide = [](scalar_t value) { return static_cast<double>(value); };
      const double batch_mean = wide(mean_at[c]);
      const double batch_var = wide(var_at[c]);
      const double moving_mean = wide(running_mean_at[c]);
      const double moving_var = wide(running_var_at[c]);
      const double batch_std = std::sqrt(batch_var + eps);
      const double sigma = std::sqrt(moving_var + eps);
      const double r = std::clamp(batch_std / sigma, 1.0 / r_max, r_max);
      const double d = std::clamp((batch_mean - moving_mean) / sigma, -d_max, d_max);
      invstd_at[c] = static_cast<scalar_t>(1.0 / batch_std);
      r_at[c] = static_cast<scalar_t>(r);
      d_at[c] = static_cast<scalar_t>(d);
      renorm_weight_at[c] = static_cast<scalar_t>(wide(w_at[c]) * r);
      shift_at[c] = static_cast<scalar_t>(wide(b_at[c]) + wide(w_at[c]) * d);
      running_mean_at[c] =
          static_cast<scalar_t>((1.0 - momentum) * moving_mean + momentum * batch_mean);
      running_var_at[c] =
          static_cast<scalar_t>((1.0 - momentum) * moving_var + momentum * unbiased * batch_var);
    }
  });
  return v;
}

// Batch renormalization in training, with its backward written out: with r and d constants it
// is batch normalization with weight * r for weight and bias + weight * d for bias, so the
// backward is LibTorch's batch-norm backward (one kernel) with that weight. Autograd through the
// formula's dozen operators took four times as long.
class BatchRenormFunction : public torch::autograd::Function<BatchRenormFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               double r_max, double d_max, double momentum, double eps) {
    const std::int64_t count = x.size(0) * x.size(2) * x.size(3);
    const std::vector<std::int64_t> dims = {0, 2, 3};
    const auto [batch_var, batch_mean] = torch::var_mean(x, dims, /*unbiased=*/false);
    const double unbiased = static_cast<double>(count) / static_cast<double>(count - 1);
    const RenormVectors v =
        x.is_cpu() ? renorm_vectors_in_a_loop(batch_mean, batch_var, weight, bias, running_mean,
                                              running_var, r_max, d_max, momentum, eps, unbiased)
                   : renorm_vectors(batch_mean, batch_var, weight, bias, running_mean, running_var,
                                    r_max, d_max, momentum, eps, unbiased);
    const torch::Tensor& invstd = v.invstd;
    const torch::Tensor& r = v.r;
    const torch::Tensor& d = v.d;
    const torch::Tensor& renorm_weight = v.renorm_weight;
    // weight * ((x - mu_B) * r / sigma_B + d) + bias is batch normalization with mu_B and
    // sigma_B as its statistics, weight * r as its weight and bias + weight * d as its bias: one
    // pass over the activations.
    const torch::Tensor y =
        torch::batch_norm(x, renorm_weight, v.shift, batch_mean, batch_var, /*training=*/false,
                          /*momentum=*/0.0, eps, /*cudnn_enabled=*/true);
    ctx->save_for_backward({x, renorm_weight, batch_mean, invstd, r, d});
    ctx->saved_data["eps"] = eps;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& r = saved[4];
    const torch::Tensor& d = saved[5];
    const auto [dx, dweight_renorm, dbias] = at::native_batch_norm_backward(
        grad_outputs[0].contiguous(x.suggest_memory_format()), x, saved[1],
        /*running_mean=*/{}, /*running_var=*/{}, /*save_mean=*/saved[2],
        /*save_invstd=*/saved[3], /*train=*/true, ctx->saved_data["eps"].toDouble(),
        {true, true, true});
    // d(weight * r) / d(weight) = r, and the bias + weight * d part adds d * dbias.
    const torch::Tensor dweight = dweight_renorm * r + dbias * d;
    return {dx,
            dweight,
            dbias,
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor batch_renorm2d(const torch::Tensor& x, const torch::Tensor& weight,
                             const torch::Tensor& bias, const torch::Tensor& running_mean,
                             const torch::Tensor& running_var, bool training, double r_max,
                             double d_max, double momentum, double eps) {
  constexpr const char* kOp = "batch_renorm2d";
  check_image_batch(kOp, x);
  check_channel_vectors(kOp, x,
                        {{"weight", &weight},
                         {"bias", &bias},
                         {"running_mean", &running_mean},
                         {"running_var", &running_var}});
  TORCH_CHECK(r_max >= 1.0 && d_max >= 0.0,
              "batch_renorm2d: r_max must be >= 1 and d_max >= 0, got ", r_max, " and ", d_max);
  if (!training) {
    // mu and sigma: BatchNorm2d in evaluation, exactly.
    return torch::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/false,
                             momentum, eps, /*cudnn_enabled=*/true);
  }
  const std::int64_t count = x.size(0) * x.size(2) * x.size(3);
  TORCH_CHECK(count > 1, "Expected more than 1 value per channel when training, got input size ",
              x.sizes());
  return BatchRenormFunction::apply(x, weight, bias, running_mean, running_var, r_max, d_max,
                                    momentum, eps);
}

BatchRenorm2dImpl::BatchRenorm2dImpl(const BatchRenorm2dOptions& options_) : options(options_) {
  reset();
}

void BatchRenorm2dImpl::reset() {
  const std::int64_t channels = options.num_features();
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
  running_mean = register_buffer("running_mean", torch::zeros({channels}));
  running_var = register_buffer("running_var", torch::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  warmed_up_ = false;
}

void BatchRenorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "BatchRenorm2d(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=" << options.momentum() << ", r_max=" << options.r_max()
         << ", d_max=" << options.d_max() << ", warmup=" << options.warmup() << ")";
}

void BatchRenorm2dImpl::load(torch::serialize::InputArchive& archive) {
  torch::nn::Module::load(archive);
  warmed_up_ = false;
}

std::pair<double, double> BatchRenorm2dImpl::limits_after(std::int64_t steps) const {
  const double progress =
      options.warmup() <= 0 ? 1.0
                            : std::min(1.0, static_cast<double>(std::max<std::int64_t>(steps, 0)) /
                                                static_cast<double>(options.warmup()));
  return {1.0 + (options.r_max() - 1.0) * progress, options.d_max() * progress};
}

torch::Tensor BatchRenorm2dImpl::forward(const torch::Tensor& x) {
  double r_max = options.r_max();
  double d_max = options.d_max();
  if (is_training()) {
    if (!warmed_up_) {
      const std::int64_t steps = num_batches_tracked.item<std::int64_t>();
      std::tie(r_max, d_max) = limits_after(steps);
      warmed_up_ = steps >= options.warmup();
    }
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  return batch_renorm2d(x, weight, bias, running_mean, running_var, is_training(), r_max, d_max,
                        options.momentum(), options.eps());
}

}  // namespace normtrain
