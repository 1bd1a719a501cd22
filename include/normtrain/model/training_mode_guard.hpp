#pragma once

#include <torch/torch.h>

namespace normtrain {

// Puts a module's training mode back as it was when the guard goes out of scope: for code that
// switches a model between modes for a moment (checks, statistics) and must leave it as it was.
class TrainingModeGuard {
 public:
  explicit TrainingModeGuard(torch::nn::Module& module)
      : module_(module), training_(module.is_training()) {}
  ~TrainingModeGuard() { module_.train(training_); }
  TrainingModeGuard(const TrainingModeGuard&) = delete;
  TrainingModeGuard& operator=(const TrainingModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool training_;
};

}  // namespace normtrain
