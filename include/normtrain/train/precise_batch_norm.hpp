#pragma once

#include <cstdint>

#include "normtrain/data/dataset.hpp"
#include "normtrain/model/model.hpp"
#include "normtrain/train/trainer.hpp"

namespace normtrain {

// "Precise BatchNorm" (Wu & Johnson, "Rethinking Batch in BatchNorm", 2021; fvcore's
// update_bn_stats): BatchNorm's running statistics are an exponential average over weights
// that kept changing while it was taken. These are recomputed under the current weights, from
// the first `images` training images (not augmented) in batches of `batch_size`, as the plain
// average over those batches of each batch's mean and (unbiased) variance, every block's
// statistics in training mode as training computes them. The test pass then runs with them.
// The model is left exactly as it was (parameters, running statistics, mode), and no random
// number is drawn. For models with running statistics (bn, brn; has_running_statistics).
EvalResult evaluate_with_precise_statistics(NormNet& model, const TensorDataset& train,
                                            std::int64_t images, std::int64_t batch_size,
                                            const TensorDataset& test);

// The per-channel statistics that precise BatchNorm computes, one [channels] tensor per
// normalized block, without evaluating anything; the model is left as it was.
struct PreciseStatistics {
  std::vector<torch::Tensor> means;
  std::vector<torch::Tensor> variances;
};
PreciseStatistics precise_statistics(NormNet& model, const TensorDataset& train,
                                     std::int64_t images, std::int64_t batch_size);

}  // namespace normtrain
