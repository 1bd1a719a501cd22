#pragma once

#include <string>
#include <vector>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// One flag of a sweep's grid with the values it takes: `--seed 1,2,3` is {"--seed", {"1", "2",
// "3"}}. A flag without a value (--no-download) has none.
struct GridFlag {
  std::string flag;
  std::vector<std::string> values;
};

// A grid's runs are the cartesian product of its flags' values, first flag outermost.
using Grid = std::vector<GridFlag>;

// Reads the words after a sweep's `--` into grids, one more after each further `--`. A word
// starting with "--" is a flag (or --flag=VALUE); the word after a flag, unless it is a flag
// itself, is its value, split at commas (except for the flags whose one value is a list,
// list_flag_names, such as --landscape-steps). Throws a usage Error for a word that is not a flag,
// an empty value, a flag given twice in a grid, and the flags the sweep sets itself (--out,
// --continue, ...) or that do not train (--help, --verify-data).
std::vector<Grid> parse_grids(const std::vector<std::string>& words);

// One run of the grid: its normtrain flags and the configuration normtrain reads from them.
struct GridPoint {
  std::vector<std::string> flags;  // "--flag", "value", ... in grid order
  TrainConfig config;
};

// Every run of the grids, in order, each read by normtrain's own command-line parsing, so that
// a value normtrain refuses is refused here, naming the run. An option that does not apply to
// a run's configuration (identity_flags leaves it out: --groups but --norm bn, --gamma but
// --scheduler none) is dropped from that run, and so is a flag outside the identity that
// normtrain refuses beside the run's other flags when the run is accepted without it
// (--precise-bn but --norm gn); runs made identical that way are kept once. A flag that applies
// to no run at all is a usage error, with normtrain's reason.
std::vector<GridPoint> expand_grids(const std::vector<Grid>& grids);

// The training configuration normtrain reads from `flags` (its command line without the
// program's name), or normtrain's usage Error.
TrainConfig parse_training_flags(const std::vector<std::string>& flags);

}  // namespace normtrain
