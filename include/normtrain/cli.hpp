#pragma once

#include <iosfwd>
#include <optional>

#include "normtrain/config.hpp"

namespace normtrain {

// Reads the command line into a validated TrainConfig. Returns nullopt when the command line
// asked only for --help or --version, which have then been written to `out`. Throws a usage
// Error whose message names the offending flag for anything else that is wrong.
std::optional<TrainConfig> parse_command_line(int argc, const char* const* argv, std::ostream& out);

}  // namespace normtrain
