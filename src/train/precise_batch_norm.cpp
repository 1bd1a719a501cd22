#include "normtrain/train/precise_batch_norm.hpp"

#include <algorithm>

#include "normtrain/data/batches.hpp"
#include "normtrain/model/training_mode_guard.hpp"

namespace normtrain {
namespace {

// Copies of every buffer of the model, to put back when done.
std::vector<torch::Tensor> save_buffers(NormNet& model) {
  std::vector<torch::Tensor> saved;
  for (const torch::Tensor& buffer : model->buffers()) saved.push_back(buffer.detach().clone());
  return saved;
}

void restore_buffers(NormNet& model, const std::vector<torch::Tensor>& saved) {
  const torch::NoGradGuard no_grad;
  std::size_t i = 0;
  for (torch::Tensor& buffer : model->buffers()) buffer.copy_(saved[i++]);
}

// The running_mean and running_var buffers of each block's norm.
std::vector<std::pair<torch::Tensor, torch::Tensor>> running_statistics(NormNet& model) {
  std::vector<std::pair<torch::Tensor, torch::Tensor>> statistics;
  for (const NormSite& site : model->norm_sites()) {
    TORCH_CHECK(site.norm.has_value(), "precise statistics: block ", site.name, " has no norm");
    const auto buffers = model->layers()[*site.norm]->named_buffers(/*recurse=*/false);
    const torch::Tensor* mean = buffers.find("running_mean");
    const torch::Tensor* var = buffers.find("running_var");
    TORCH_CHECK(mean != nullptr && var != nullptr, "precise statistics: the norm of ", site.name,
                " keeps no running statistics");
    statistics.emplace_back(*mean, *var);
  }
  return statistics;
}

}  // namespace

PreciseStatistics precise_statistics(NormNet& model, const TensorDataset& train,
                                     std::int64_t images, std::int64_t batch_size) {
  TORCH_CHECK(images > 0 && batch_size > 0,
              "precise statistics: images and batch size must be positive");
  running_statistics(model);  // refuses models without running statistics
  const TrainingModeGuard restore_mode(*model);
  const std::vector<torch::Tensor> saved = save_buffers(model);
  // The norms in training mode, as training computes each block's input; dropout off, so that
  // no random number is drawn.
  model->eval();
  for (const NormSite& site : model->norm_sites()) model->layers()[*site.norm]->train();

  const torch::NoGradGuard no_grad;
  const std::int64_t count = std::min(images, train.size());
  PreciseStatistics sums;
  std::int64_t batches = 0;
  for (std::int64_t start = 0; start < count; start += batch_size, ++batches) {
    const Batch batch = plain_batch(train, start, std::min(batch_size, count - start));
    std::vector<NormSiteActivations> taps;
    model->forward(batch.inputs, taps);
    for (std::size_t i = 0; i < taps.size(); ++i) {
      const torch::Tensor x = taps[i].input.to(torch::kFloat64);
      const torch::Tensor mean = x.mean({0, 2, 3});
      // Unbiased, as BatchNorm's running variance is.
      const double n = static_cast<double>(x.numel() / x.size(1));
      const torch::Tensor variance =
          (x - mean.view({1, -1, 1, 1})).square().sum({0, 2, 3}) / std::max(n - 1.0, 1.0);
      if (batches == 0) {
        sums.means.push_back(mean);
        sums.variances.push_back(variance);
      } else {
        sums.means[i] += mean;
        sums.variances[i] += variance;
      }
    }
  }
  restore_buffers(model, saved);
  for (std::size_t i = 0; i < sums.means.size(); ++i) {
    sums.means[i] = (sums.means[i] / static_cast<double>(batches)).to(torch::kFloat32);
    sums.variances[i] = (sums.variances[i] / static_cast<double>(batches)).to(torch::kFloat32);
  }
  return sums;
}

EvalResult evaluate_with_precise_statistics(NormNet& model, const TensorDataset& train,
                                            std::int64_t images, std::int64_t batch_size,
                                            const TensorDataset& test) {
  const PreciseStatistics precise = precise_statistics(model, train, images, batch_size);
  const TrainingModeGuard restore_mode(*model);
  const std::vector<torch::Tensor> saved = save_buffers(model);
  {
    const torch::NoGradGuard no_grad;
    const auto statistics = running_statistics(model);
    for (std::size_t i = 0; i < statistics.size(); ++i) {
      statistics[i].first.copy_(precise.means[i]);
      statistics[i].second.copy_(precise.variances[i]);
    }
  }
  EvalResult result = evaluate(model, test);
  restore_buffers(model, saved);
  return result;
}

}  // namespace normtrain
