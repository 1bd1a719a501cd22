#include "normtrain/commands/sweep/lr_scaling.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "normtrain/common/error.hpp"

namespace normtrain {
namespace {

// Sets the value of `flag` in a run's words (`--flag VALUE` or `--flag=VALUE`) where it is, or
// appends it.
void set_flag_value(std::vector<std::string>& words, const std::string& flag,
                    const std::string& value) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == flag && i + 1 < words.size()) {
      words[i + 1] = value;
      return;
    }
    if (words[i].rfind(flag + "=", 0) == 0) {
      words[i] = flag + "=" + value;
      return;
    }
  }
  words.push_back(flag);
  words.push_back(value);
}

}  // namespace

std::string to_flag(LrScalingKind kind) {
  return kind == LrScalingKind::kLinear ? "linear" : "none";
}

std::optional<LrScalingKind> lr_scaling_from_flag(const std::string& flag) {
  for (LrScalingKind kind : {LrScalingKind::kNone, LrScalingKind::kLinear}) {
    if (to_flag(kind) == flag) return kind;
  }
  return std::nullopt;
}

void scale_learning_rates(std::vector<GridPoint>& points, const LrScaling& scaling) {
  if (scaling.kind == LrScalingKind::kNone) return;
  if (scaling.reference_batch < 1) {
    throw UsageError(
        fmt::format("--lr-reference-batch must be at least 1, got {}", scaling.reference_batch));
  }
  for (GridPoint& point : points) {
    const bool one_cycle = point.config.schedule.kind == SchedulerKind::kOneCycle;
    const double base = one_cycle ? point.config.schedule.max_lr : point.config.lr;
    const double scaled = base * static_cast<double>(point.config.batch_size) /
                          static_cast<double>(scaling.reference_batch);
    // Twelve significant digits: 0.0046875, not the 0.004687500000000001 of 0.1 * 3 / 64, in
    // the run's flags and its folder's name; the rounding is far below any rate's precision.
    set_flag_value(point.flags, one_cycle ? "--max-lr" : "--lr", fmt::format("{:.12g}", scaled));
    try {
      point.config = parse_training_flags(point.flags);
    } catch (const Error& error) {
      throw UsageError(
          fmt::format("grid: with --lr-scaling linear, normtrain refuses the run '{}': {}",
                      fmt::join(point.flags, " "), error.what()));
    }
  }
}

}  // namespace normtrain
