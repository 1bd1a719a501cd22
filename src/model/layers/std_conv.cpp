#include "normtrain/model/layers/std_conv.hpp"

#include <cmath>

namespace normtrain {

torch::Tensor standardize_weight(const torch::Tensor& weight, double eps) {
  TORCH_CHECK(weight.defined() && weight.dim() >= 2,
              "standardize_weight: the weight must have shape [out, in, ...]");
  TORCH_CHECK(eps > 0.0, "standardize_weight: eps must be positive, got ", eps);
  // timm's formulation: batch statistics over each output channel's fan-in, no running ones.
  const std::int64_t out_channels = weight.size(0);
  return torch::batch_norm(weight.reshape({1, out_channels, -1}), /*weight=*/{}, /*bias=*/{},
                           /*running_mean=*/{}, /*running_var=*/{}, /*training=*/true,
                           /*momentum=*/0.0, eps, /*cudnn_enabled=*/true)
      .reshape_as(weight);
}

StdConv2dImpl::StdConv2dImpl(const StdConv2dOptions& options_) : options(options_) {
  reset();
}

void StdConv2dImpl::reset() {
  const std::int64_t kernel = options.kernel_size();
  weight = register_parameter(
      "weight", torch::empty({options.out_channels(), options.in_channels(), kernel, kernel}));
  // Conv2d's initialisation (ConvNdImpl::reset_parameters).
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
}

void StdConv2dImpl::pretty_print(std::ostream& stream) const {
  stream << "StdConv2d(" << options.in_channels() << ", " << options.out_channels()
         << ", kernel_size=" << options.kernel_size() << ", bias=false, eps=" << options.eps()
         << ")";
}

torch::Tensor StdConv2dImpl::forward(const torch::Tensor& x) {
  return torch::conv2d(x, standardize_weight(weight, options.eps()));
}

}  // namespace normtrain
