#include "normtrain/checkpoint.hpp"

#include <fmt/format.h>

#include "normtrain/error.hpp"

namespace normtrain {

void save_model(NormNet& model, const std::filesystem::path& path) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  torch::save(model, temporary.string());
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    throw RuntimeError(
        fmt::format("cannot write checkpoint {}: {}", path.string(), error.message()));
  }
}

}  // namespace normtrain
