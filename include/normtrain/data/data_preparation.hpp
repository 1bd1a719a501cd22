#pragma once

#include <iosfwd>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// Makes sure --data-dir holds the four MNIST files: downloads the missing ones (from --mirror,
// NORMTRAIN_MNIST_MIRROR or the default mirrors) unless --no-download was given. Files already
// there are the user's and are left alone.
void prepare_data(const TrainConfig& config);

// For --verify-data: writes one line per file saying whether it matches the official MNIST
// checksum. Returns true when all four match.
bool verify_data(const TrainConfig& config, std::ostream& out);

}  // namespace normtrain
