#include "normtrain/train/divergence_watch.hpp"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "normtrain/train/dense_cpu_float.hpp"

namespace normtrain {
namespace {

// Whether a float's bits say infinity or NaN (all exponent bits set): an integer test that the
// compiler vectorizes, unlike a float comparison chain.
bool is_non_finite_bits(float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return (bits & 0x7f800000U) == 0x7f800000U;
}

// The first value of `values` that is not finite, if any: one pass over a dense CPU float
// tensor's memory (its order does not matter), LibTorch's operators for anything else.
std::optional<float> first_non_finite(const torch::Tensor& values) {
  if (!is_dense_cpu_float(values)) {
    torch::NoGradGuard no_grad;
    const torch::Tensor flat = values.reshape(-1);
    const torch::Tensor bad = flat.masked_select(torch::isfinite(flat).logical_not());
    if (bad.numel() == 0) return std::nullopt;
    return bad[0].item<float>();
  }
  const float* data = values.data_ptr<float>();
  const std::int64_t count = values.numel();
  bool any = false;
  for (std::int64_t i = 0; i < count; ++i) any |= is_non_finite_bits(data[i]);
  if (!any) return std::nullopt;
  for (std::int64_t i = 0; i < count; ++i) {
    if (is_non_finite_bits(data[i])) return data[i];
  }
  return std::nullopt;
}

std::string loss_reason(double loss) {
  return std::isnan(loss) ? "loss nan" : fmt::format("loss {}", loss);
}

std::string state_reason(double value) {
  return fmt::format("a parameter or running statistic became {}",
                     std::isnan(value) ? "nan" : "inf");
}

}  // namespace

DivergenceWatch::DivergenceWatch(std::vector<torch::Tensor> state, std::int64_t read_every)
    : state_(std::move(state)),
      read_every_(std::max<std::int64_t>(read_every, 1)),
      direct_(read_every_ == 1 && (state_.empty() || state_.front().is_cpu())) {}

void DivergenceWatch::record(const torch::Tensor& loss) {
  if (diverged_) return;
  if (direct_) {
    const std::int64_t index = checked_;
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      diverged_ = DivergedStep{index, loss_reason(value)};
      return;
    }
    for (const torch::Tensor& values : state_) {
      if (const std::optional<float> bad = first_non_finite(values)) {
        diverged_ = DivergedStep{index, state_reason(*bad)};
        return;
      }
    }
    ++checked_;
    return;
  }
  record(loss, check_value(loss));
}

void DivergenceWatch::record(const torch::Tensor& loss, const torch::Tensor& check) {
  TORCH_CHECK(!direct_, "DivergenceWatch: a precomputed check on a watch that checks directly");
  if (diverged_) return;
  pending_.push_back(check);
  losses_.push_back(loss);
}

torch::Tensor DivergenceWatch::check_value(const torch::Tensor& loss) const {
  // One concatenation and one reduction, queued on the device.
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat;
  flat.reserve(state_.size());
  for (const torch::Tensor& values : state_) flat.push_back(values.reshape(-1));
  return loss + torch::cat(flat).sum();
}

std::optional<DivergedStep> DivergenceWatch::poll(bool last) {
  if (!diverged_ && !pending_.empty() &&
      (last || static_cast<std::int64_t>(pending_.size()) >= read_every_)) {
    diverged_ = read_pending();
  }
  return diverged_;
}

std::optional<DivergedStep> DivergenceWatch::read_pending() {
  const torch::Tensor values = torch::stack(pending_).to(torch::kCPU, torch::kFloat64);
  const auto value_at = values.accessor<double, 1>();
  std::optional<DivergedStep> found;
  for (std::int64_t j = 0; j < values.size(0); ++j) {
    if (std::isfinite(value_at[j])) continue;
    const double loss = losses_[static_cast<std::size_t>(j)].item<double>();
    found = DivergedStep{checked_ + j,
                         std::isfinite(loss) ? state_reason(value_at[j]) : loss_reason(loss)};
    break;
  }
  checked_ += values.size(0);
  pending_.clear();
  losses_.clear();
  return found;
}

}  // namespace normtrain
