#pragma once

#include <array>
#include <numeric>
#include <vector>

namespace normtrain {

// The channel counts of the network's normalized blocks, first to last: what the model is
// built from and what a norm's groups must divide. Torch-free, so that configuration checks
// can use it.
inline constexpr std::array<int, 5> kNormalizedBlockChannels = {8, 24, 16, 16, 16};
// The channels of the 1x1 transition convolution before the max-pool.
inline constexpr int kTransitionChannels = 18;

// The GroupNorm group counts that divide every normalized block's channel count, ascending.
inline std::vector<int> valid_group_counts() {
  int common = 0;
  for (int channels : kNormalizedBlockChannels) common = std::gcd(common, channels);
  std::vector<int> counts;
  for (int groups = 1; groups <= common; ++groups) {
    if (common % groups == 0) counts.push_back(groups);
  }
  return counts;
}

}  // namespace normtrain
