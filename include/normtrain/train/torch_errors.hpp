#pragma once

#include <filesystem>

#include <fmt/format.h>
#include <torch/torch.h>

#include "normtrain/common/error.hpp"

namespace normtrain {

// Runs `body`, turning LibTorch's and the file system's exceptions into runtime Errors with a
// message for a person (LibTorch's own messages carry a C++ backtrace nobody wants to read).
template <typename Body>
auto with_torch_errors(Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const c10::Error& error) {
    throw RuntimeError(fmt::format("LibTorch failed: {}", error.what_without_backtrace()));
  } catch (const std::filesystem::filesystem_error& error) {
    throw RuntimeError(error.what());
  }
}

}  // namespace normtrain
