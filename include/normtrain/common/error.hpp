#pragma once

#include <stdexcept>
#include <string>

namespace normtrain {

// Whose fault an error is decides the exit status: the caller's (2) or the run's (1).
enum class ErrorKind { kUsage, kRuntime };

// The one exception type of the project. Its message is written for a person: it names the
// flag, file or folder involved and says what to do.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}

  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

inline Error UsageError(const std::string& message) {
  return Error(ErrorKind::kUsage, message);
}
inline Error RuntimeError(const std::string& message) {
  return Error(ErrorKind::kRuntime, message);
}

}  // namespace normtrain
