#pragma once

#include <filesystem>

#include "normtrain/model.hpp"

namespace normtrain {

// Saves the model's parameters and buffers with torch::save, atomically.
void save_model(NormNet& model, const std::filesystem::path& path);

}  // namespace normtrain
