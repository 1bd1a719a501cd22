#include "normtrain/model/layers/pointwise_conv.hpp"

#include <vector>

namespace normtrain {

PointwiseConv2dImpl::PointwiseConv2dImpl(std::int64_t in_channels, std::int64_t out_channels)
    : torch::nn::Conv2dImpl(torch::nn::Conv2dOptions(in_channels, out_channels, 1).bias(false)) {}

torch::Tensor PointwiseConv2dImpl::forward(const torch::Tensor& x) {
  if (!x.is_cpu()) return torch::nn::Conv2dImpl::forward(x);
  const std::vector<std::int64_t> stride = {1, 1};
  const std::vector<std::int64_t> padding = {0, 0};
  const std::vector<std::int64_t> dilation = {2, 2};
  return torch::conv2d(x, weight, /*bias=*/torch::Tensor(), stride, padding, dilation);
}

}  // namespace normtrain
