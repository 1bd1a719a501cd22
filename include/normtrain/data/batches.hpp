#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "normtrain/data/dataset.hpp"

namespace normtrain {

// A batch ready for the network: normalized float inputs [B, 1, 28, 28], int64 targets [B].
struct Batch {
  torch::Tensor inputs;
  torch::Tensor targets;
};

// The training batches of one epoch: shuffled, rotated, normalized. The order and the angles
// come from a generator seeded by (seed, epoch) alone, so any epoch can be replayed exactly,
// after a resume too, without saving generator state. The last partial batch is kept.
class EpochBatches {
 public:
  EpochBatches(const TensorDataset& data, std::int64_t batch_size, std::uint64_t seed, int epoch);

  std::int64_t size() const { return (data_.size() + batch_size_ - 1) / batch_size_; }
  Batch operator[](std::int64_t index) const;
  // What batch `index` is drawn from: its example indices and their angles (degrees).
  torch::Tensor picked(std::int64_t index) const;
  torch::Tensor angles(std::int64_t index) const;

  // The epoch's permutation of example indices and the angle (degrees) given to each position.
  const torch::Tensor& order() const { return order_; }
  const torch::Tensor& angles() const { return angles_; }

 private:
  const TensorDataset& data_;
  std::int64_t batch_size_;
  torch::Tensor order_;
  torch::Tensor angles_;
};

// The batch of examples `picked` of `data`, each rotated by its angle in `angles` (degrees),
// normalized.
Batch drawn_batch(const TensorDataset& data, const torch::Tensor& picked,
                  const torch::Tensor& angles);

// Examples [start, start + count) in file order, normalized but not augmented (for evaluation).
Batch plain_batch(const TensorDataset& data, std::int64_t start, std::int64_t count);

}  // namespace normtrain
