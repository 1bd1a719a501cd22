#include "normtrain/data/batches.hpp"

#include <algorithm>

#include <ATen/CPUGeneratorImpl.h>

#include "normtrain/data/augment.hpp"
#include "normtrain/data/augmented_inputs.hpp"

namespace normtrain {
namespace {

// SplitMix64 finaliser: spreads (seed, epoch) pairs so that neighbouring epochs and seeds
// get unrelated generator streams.
std::uint64_t mix(std::uint64_t value) {
  value += 0x9e3779b97f4a7c15ULL;
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

}  // namespace

EpochBatches::EpochBatches(const TensorDataset& data, std::int64_t batch_size, std::uint64_t seed,
                           int epoch)
    : data_(data), batch_size_(batch_size) {
  // Drawn on the CPU so that CPU and CUDA runs see the same order and angles, then moved once
  // per epoch to where the data lives.
  at::Generator generator =
      at::make_generator<at::CPUGeneratorImpl>(mix(seed ^ mix(static_cast<std::uint64_t>(epoch))));
  const std::int64_t n = data.size();
  order_ = torch::randperm(n, generator, torch::kInt64).to(data.images.device());
  angles_ =
      ((torch::rand({n}, generator) * 2.0 - 1.0) * kMaxRotationDegrees).to(data.images.device());
}

Batch EpochBatches::operator[](std::int64_t index) const {
  return drawn_batch(data_, picked(index), angles(index));
}

torch::Tensor EpochBatches::picked(std::int64_t index) const {
  const std::int64_t start = index * batch_size_;
  return order_.slice(0, start, std::min(start + batch_size_, data_.size()));
}

torch::Tensor EpochBatches::angles(std::int64_t index) const {
  const std::int64_t start = index * batch_size_;
  return angles_.slice(0, start, std::min(start + batch_size_, data_.size()));
}

Batch drawn_batch(const TensorDataset& data, const torch::Tensor& picked,
                  const torch::Tensor& angles) {
  return {augmented_inputs(data.images, picked, angles, data.mean, data.std),
          data.labels.index_select(0, picked)};
}

Batch plain_batch(const TensorDataset& data, std::int64_t start, std::int64_t count) {
  const torch::Tensor images = data.images.slice(0, start, start + count);
  return {normalize(to_unit_range(images), data.mean, data.std),
          data.labels.slice(0, start, start + count)};
}

}  // namespace normtrain
