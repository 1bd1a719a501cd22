#include "normtrain/data/dataset.hpp"

namespace normtrain {

TensorDataset to_tensor_dataset(const MnistSplit& split, const torch::Device& device,
                                const DatasetInfo& info) {
  // from_blob borrows the vectors' memory; clone() gives the tensors storage of their own.
  auto* images = const_cast<std::uint8_t*>(split.images.data());
  auto* labels = const_cast<std::uint8_t*>(split.labels.data());
  TensorDataset dataset;
  dataset.images = torch::from_blob(images, {split.count, kImageSide, kImageSide}, torch::kUInt8)
                       .to(device, /*non_blocking=*/false, /*copy=*/true);
  dataset.labels = torch::from_blob(labels, {split.count}, torch::kUInt8).to(device, torch::kInt64);
  dataset.mean = info.mean;
  dataset.std = info.std;
  return dataset;
}

torch::Tensor to_unit_range(const torch::Tensor& pixels) {
  return pixels.unsqueeze(1).to(torch::kFloat32).div_(255.0);
}

torch::Tensor normalize(const torch::Tensor& unit_images, double mean, double std) {
  return (unit_images - mean) / std;
}

}  // namespace normtrain
