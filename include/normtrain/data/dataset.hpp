#pragma once

#include <torch/torch.h>

#include "normtrain/data/dataset_info.hpp"
#include "normtrain/data/mnist.hpp"

namespace normtrain {

// One split held as tensors on the training device, so that batching never leaves it:
// images as uint8 [N, 28, 28], labels as int64 [N].
struct TensorDataset {
  torch::Tensor images;
  torch::Tensor labels;
  // The data set's pixel statistics, used to normalize every batch.
  double mean = 0.0;
  double std = 1.0;

  std::int64_t size() const { return labels.size(0); }
};

TensorDataset to_tensor_dataset(const MnistSplit& split, const torch::Device& device,
                                const DatasetInfo& info);

// uint8 [B, 28, 28] pixels -> float [B, 1, 28, 28] in [0, 1].
torch::Tensor to_unit_range(const torch::Tensor& pixels);

// (x - mean) / std, applied to images in [0, 1].
torch::Tensor normalize(const torch::Tensor& unit_images, double mean, double std);

}  // namespace normtrain
