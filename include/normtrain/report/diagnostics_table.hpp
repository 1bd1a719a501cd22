#pragma once

#include <string>
#include <vector>

#include "normtrain/report/run_table.hpp"

namespace normtrain {

// `normtrain report --diagnostics`: what each run's diagnostics files say, as three Markdown
// tables with a heading each, one row per run:
// - the blocks (layers.csv, each figure the mean over the normalized blocks): convolution
//   weight norm and norm gamma at the first and last diagnostics step, the growth of the
//   effective learning rate that the shrinking norm implies for scale-invariant blocks
//   ((|w| first / |w| last)^2; "-" without a norm or weight standardization), the fraction
//   of zeros entering the norm and the median update ratio in the first and last epoch;
// - test accuracy with running and with precise BatchNorm statistics (metrics.csv, runs with
//   --precise-bn): final, lowest and highest over the epochs;
// - the landscape (landscape_summary.csv): probes, and the medians of the loss range and of
//   beta-smoothness in the first epoch and after it.
// A run without a file has "-" in that table. Throws a runtime Error naming a file that is
// there but cannot be read.
std::string diagnostics_tables(const std::vector<RunSummary>& runs);

}  // namespace normtrain
