#pragma once

#include <string>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// The configuration as a JSON object, as stored in run.json and in checkpoints.
std::string config_to_json_text(const TrainConfig& config);

// Reads what config_to_json_text wrote. Throws a runtime Error naming `source` when the text is
// not such an object; keys it lacks keep their defaults, so older files still load.
TrainConfig config_from_json_text(const std::string& text, const std::string& source);

}  // namespace normtrain
