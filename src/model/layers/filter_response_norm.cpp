#include "normtrain/model/layers/filter_response_norm.hpp"

#include "normtrain/model/layers/layer_arguments.hpp"

#include <utility>

namespace normtrain {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// FRN + TLU with its backward written out. With s = 1 / sqrt(nu^2 + eps) per plane of P
// positions and dy = dz where z > tau (else the gradient goes to tau):
//   dx = s * weight * dy - x * s^3 * weight * sum(dy * x) / P,
//   dweight = sum(dy * x * s), dbias = sum(dy), dtau = sum(dz) - sum(dy).
// Autograd through the formula's operators (the maximum's backward most of all) took six times
// as long as batch normalization's backward.
class FilterResponseNormTluFunction
    : public torch::autograd::Function<FilterResponseNormTluFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& tau, double eps) {
    const std::vector<std::int64_t> spatial = {2, 3};
    const torch::Tensor inv_rms = (x.square().mean(spatial, /*keepdim=*/true) + eps).rsqrt();
    const torch::Tensor scale = inv_rms * per_channel(weight);  // [N, C, 1, 1]
    const torch::Tensor z =
        torch::maximum(torch::addcmul(per_channel(bias), x, scale), per_channel(tau));
    ctx->save_for_backward({x, z, inv_rms, weight, tau});
    return z;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& z = saved[1];
    const torch::Tensor& inv_rms = saved[2];
    const torch::Tensor& weight = saved[3];
    const torch::Tensor& tau = saved[4];
    const torch::Tensor& dz = grad_outputs[0];
    const std::vector<std::int64_t> spatial = {2, 3};
    const std::vector<std::int64_t> all_but_channels = {0, 2, 3};
    // z > tau exactly where y > tau, and there z = y.
    const torch::Tensor dy = torch::where(z > per_channel(tau), dz, torch::zeros({}, dz.options()));
    const torch::Tensor dbias = dy.sum(all_but_channels);
    const torch::Tensor dtau = (dz - dy).sum(all_but_channels);
    const torch::Tensor dy_x = (dy * x).sum(spatial, /*keepdim=*/true);  // [N, C, 1, 1]
    const torch::Tensor dweight = (dy_x * inv_rms).sum(all_but_channels);
    const double positions = static_cast<double>(x.size(2) * x.size(3));
    const torch::Tensor scale = inv_rms * per_channel(weight);
    const torch::Tensor dx =
        torch::addcmul(dy * scale, x, scale * inv_rms.square() * dy_x, -1.0 / positions);
    return {dx, dweight, dbias, dtau, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor filter_response_norm_tlu2d(const torch::Tensor& x, const torch::Tensor& weight,
                                         const torch::Tensor& bias, const torch::Tensor& tau,
                                         double eps) {
  constexpr const char* kOp = "filter_response_norm_tlu2d";
  check_image_batch(kOp, x);
  check_channel_vectors(kOp, x, {{"weight", &weight}, {"bias", &bias}, {"tau", &tau}});
  TORCH_CHECK(eps > 0.0, "filter_response_norm_tlu2d: eps must be positive, got ", eps);
  return FilterResponseNormTluFunction::apply(x, weight, bias, tau, eps);
}

FilterResponseNormTlu2dImpl::FilterResponseNormTlu2dImpl(
    const FilterResponseNormTlu2dOptions& options_)
    : options(options_) {
  reset();
}

void FilterResponseNormTlu2dImpl::reset() {
  const std::int64_t channels = options.num_features();
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
  tau = register_parameter("tau", torch::zeros({channels}));
}

void FilterResponseNormTlu2dImpl::pretty_print(std::ostream& stream) const {
  stream << "FilterResponseNormTlu2d(" << options.num_features() << ", eps=" << options.eps()
         << ")";
}

torch::Tensor FilterResponseNormTlu2dImpl::forward(const torch::Tensor& x) {
  return filter_response_norm_tlu2d(x, weight, bias, tau, options.eps());
}

}  // namespace normtrain
