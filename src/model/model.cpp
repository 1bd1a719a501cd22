#include "normtrain/model/model.hpp"

#include "normtrain/model/architecture.hpp"
#include "normtrain/model/kernels/fused_relu_norm.hpp"
#include "normtrain/model/kernels/max_pool_relu.hpp"
#include "normtrain/model/kernels/pointwise_conv_kernel.hpp"
#include "normtrain/model/kernels/single_channel_conv.hpp"
#include "normtrain/model/layers/batch_renorm.hpp"
#include "normtrain/model/layers/filter_response_norm.hpp"
#include "normtrain/model/layers/pointwise_conv.hpp"
#include "normtrain/model/layers/rms_norm.hpp"
#include "normtrain/model/layers/std_conv.hpp"

namespace normtrain {
namespace {

namespace nn = torch::nn;

// ReLU and the norm as one fused module.
nn::AnyModule make_relu_norm(const ModelOptions& options, int channels) {
  switch (options.norm) {
    case NormKind::kBatch:
      return nn::AnyModule(ReluBatchNorm(channels));
    case NormKind::kLayer:
    case NormKind::kGroup:
    case NormKind::kInstance:
      return nn::AnyModule(ReluGroupNorm(group_norm_groups(options, channels), channels));
    case NormKind::kNone:
      return nn::AnyModule(nn::ReLU());
    case NormKind::kBatchRenorm:
    case NormKind::kFilterResponse:
    case NormKind::kRms:
      break;
  }
  throw std::logic_error("no fused ReLU + norm module for --norm " + to_flag(options.norm));
}

nn::AnyModule make_norm(const ModelOptions& options, int channels) {
  switch (options.norm) {
    case NormKind::kBatch:
      return nn::AnyModule(nn::BatchNorm2d(channels));
    case NormKind::kLayer:
    case NormKind::kGroup:
    case NormKind::kInstance:
      return nn::AnyModule(
          nn::GroupNorm(nn::GroupNormOptions(group_norm_groups(options, channels), channels)));
    case NormKind::kBatchRenorm: {
      const BatchRenormSpec& brn = options.batch_renorm;
      return nn::AnyModule(BatchRenorm2d(
          BatchRenorm2dOptions(channels).r_max(brn.r_max).d_max(brn.d_max).warmup(brn.warmup)));
    }
    case NormKind::kFilterResponse:
      return nn::AnyModule(FilterResponseNormTlu2d(FilterResponseNormTlu2dOptions(channels)));
    case NormKind::kRms:
      return nn::AnyModule(RmsNorm2d(RmsNorm2dOptions(channels)));
    case NormKind::kNone:
      break;
  }
  throw std::logic_error("unknown norm kind");
}

nn::Conv2d conv(int in_channels, int out_channels, int kernel) {
  return nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, kernel).bias(false));
}

// A 1x1 convolution; fused, by normtrain's own kernel on the CPU.
nn::AnyModule pointwise_conv(const ModelOptions& options, int in_channels, int out_channels) {
  if (options.fused) return nn::AnyModule(FusedPointwiseConv2d(in_channels, out_channels));
  return nn::AnyModule(PointwiseConv2d(in_channels, out_channels));
}

// A block's 3x3 convolution, weight-standardized or not; fused, the first block's (one input
// channel) is hand-written.
nn::AnyModule block_conv(const ModelOptions& options, int in_channels, int out_channels) {
  if (options.weight_standardization) {
    return nn::AnyModule(StdConv2d(StdConv2dOptions(in_channels, out_channels, 3)));
  }
  if (options.fused && in_channels == 1) return nn::AnyModule(SingleChannelConv2d(out_channels));
  return nn::AnyModule(conv(in_channels, out_channels, 3));
}

// Appends a block's layers and returns where its norm's input and output are.
NormSite add_block(nn::Sequential& layers, const ModelOptions& options, int in_channels,
                   int out_channels) {
  NormSite site;
  site.conv = layers->size();
  layers->push_back(block_conv(options, in_channels, out_channels));
  if (options.fused) {
    site.input_from = site.conv;
    site.input_is_relu_of_output = true;
    site.output_from = layers->size();
    if (options.norm != NormKind::kNone) site.norm = layers->size();
    layers->push_back(make_relu_norm(options, out_channels));
  } else if (options.norm == NormKind::kFilterResponse) {
    // The TLU inside it is the block's activation, in place of the ReLU.
    site.input_from = site.conv;
    site.output_from = site.norm.emplace(layers->size());
    layers->push_back(make_norm(options, out_channels));
  } else {
    site.input_from = site.output_from = layers->size();
    layers->push_back(nn::ReLU());
    if (options.norm != NormKind::kNone) {
      site.output_from = site.norm.emplace(layers->size());
      layers->push_back(make_norm(options, out_channels));
    }
  }
  layers->push_back(nn::Dropout(options.dropout));
  return site;
}

}  // namespace

int group_norm_groups(const ModelOptions& options, int channels) {
  switch (options.norm) {
    case NormKind::kLayer:
      // One group: statistics over C x H x W per example, whatever the spatial size.
      return 1;
    case NormKind::kGroup:
      return options.groups;
    case NormKind::kInstance:
      // One group per channel: statistics over H x W of each channel of each example.
      return channels;
    case NormKind::kBatch:
    case NormKind::kNone:
    case NormKind::kBatchRenorm:
    case NormKind::kFilterResponse:
    case NormKind::kRms:
      break;
  }
  throw std::logic_error("--norm " + to_flag(options.norm) + " is not a group norm");
}

ModelOptions model_options(const TrainConfig& config) {
  ModelOptions options;
  options.norm = config.norm;
  options.groups = config.groups;
  options.dropout = config.dropout;
  options.fused = config.fused_kernels && has_fused_kernels(config.norm);
  options.batch_renorm = config.batch_renorm;
  options.weight_standardization = config.weight_standardization;
  return options;
}

NormNetImpl::NormNetImpl(const ModelOptions& options)
    : fused_(options.fused), channels_last_on_gpu_(options.norm == NormKind::kBatch) {
  TORCH_CHECK(!options.fused || has_fused_kernels(options.norm),
              "NormNet: there are no fused kernels for --norm ", to_flag(options.norm),
              "; build it with fused = false");
  const auto& channels = kNormalizedBlockChannels;
  nn::Sequential layers;
  norm_sites_.push_back(add_block(layers, options, 1, channels[0]));            // 8 x 26 x 26
  norm_sites_.push_back(add_block(layers, options, channels[0], channels[1]));  // 24 x 24 x 24
  // Transition: fewer channels, then halve the resolution.
  layers->push_back(pointwise_conv(options, channels[1], kTransitionChannels));
  if (options.fused) {
    // ReLU is monotonic, so max-pooling first gives exactly the same values and gradients;
    // fused, both take one pass. The identity keeps the later layers at their indices, which
    // name their parameters in checkpoints.
    layers->push_back(MaxPool2Relu());  // 18 x 12 x 12
    layers->push_back(nn::Identity());
  } else {
    layers->push_back(nn::ReLU());
    layers->push_back(nn::MaxPool2d(2));  // 18 x 12 x 12
  }
  norm_sites_.push_back(add_block(layers, options, kTransitionChannels, channels[2]));  // 16x10x10
  norm_sites_.push_back(add_block(layers, options, channels[2], channels[3]));  // 16 x 8 x 8
  norm_sites_.push_back(add_block(layers, options, channels[3], channels[4]));  // 16 x 6 x 6
  for (std::size_t i = 0; i < norm_sites_.size(); ++i) {
    norm_sites_[i].name = "block" + std::to_string(i + 1);
  }
  layers->push_back(nn::AvgPool2d(6));  // global average: 16 x 1 x 1
  layers->push_back(pointwise_conv(options, channels[4], 10));
  layers->push_back(nn::Flatten());
  layers->push_back(nn::LogSoftmax(1));
  layers_ = register_module("layers", layers);
  match_weight_layout();
}

void NormNetImpl::match_weight_layout() {
  torch::NoGradGuard no_grad;
  for (const std::shared_ptr<nn::Module>& layer : layers_->children()) {
    if (auto* conv = layer->as<nn::Conv2d>()) {
      torch::Tensor& weight = conv->weight;
      const auto layout = channels_last_on(weight.device()) ? at::MemoryFormat::ChannelsLast
                                                            : at::MemoryFormat::Contiguous;
      if (!weight.is_contiguous(layout)) weight.set_data(weight.contiguous(layout));
    }
  }
}

void NormNetImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  Module::to(device, dtype, non_blocking);
  match_weight_layout();
}

void NormNetImpl::to(torch::Dtype dtype, bool non_blocking) {
  Module::to(dtype, non_blocking);
  match_weight_layout();
}

void NormNetImpl::to(torch::Device device, bool non_blocking) {
  Module::to(device, non_blocking);
  match_weight_layout();
}

void NormNetImpl::load(torch::serialize::InputArchive& archive) {
  Module::load(archive);
  match_weight_layout();
}

torch::Tensor NormNetImpl::forward(const torch::Tensor& images) {
  return run_layers(images, nullptr);
}

torch::Tensor NormNetImpl::forward(const torch::Tensor& images,
                                   std::vector<NormSiteActivations>& taps) {
  taps.assign(norm_sites_.size(), {});
  return run_layers(images, &taps);
}

torch::Tensor NormNetImpl::run_layers(const torch::Tensor& images,
                                      std::vector<NormSiteActivations>* taps) {
  // A channels-last input makes every convolution produce (and the norms keep) channels-last
  // activations.
  torch::Tensor x = channels_last_on(images.device()) ? as_channels_last(images) : images;
  if (taps == nullptr) return layers_->forward(x);
  std::size_t index = 0;
  for (nn::AnyModule& layer : *layers_) {
    x = layer.forward(x);
    for (std::size_t site = 0; site < norm_sites_.size(); ++site) {
      const NormSite& where = norm_sites_[site];
      if (index == where.input_from) {
        (*taps)[site].input = where.input_is_relu_of_output ? torch::relu(x.detach()) : x.detach();
      }
      if (index == where.output_from) (*taps)[site].output = x.detach();
    }
    ++index;
  }
  return x;
}

torch::Tensor as_channels_last(const torch::Tensor& images) {
  if (images.dim() == 4 && images.size(1) == 1 && images.is_contiguous()) {
    // With one channel, NCHW and NHWC hold the same bytes, and LibTorch reads such a tensor as
    // NCHW: the first convolution would then answer in NCHW, and the next layer pay a transpose
    // forward and backward. Strides that say NHWC outright, over the same memory, avoid both.
    const std::int64_t height = images.size(2);
    const std::int64_t width = images.size(3);
    return images.as_strided(images.sizes(), {height * width, 1, width, 1});
  }
  return images.contiguous(at::MemoryFormat::ChannelsLast);
}

std::int64_t count_parameters(const torch::nn::Module& module) {
  std::int64_t total = 0;
  for (const torch::Tensor& parameter : module.parameters()) {
    if (parameter.requires_grad()) total += parameter.numel();
  }
  return total;
}

}  // namespace normtrain
