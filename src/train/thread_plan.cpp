#include "normtrain/train/thread_plan.hpp"

#include <algorithm>

namespace normtrain {

int training_thread_count(std::int64_t batch_size, int available) {
  const std::int64_t useful = batch_size / kMinImagesPerTrainingThread;
  return static_cast<int>(std::clamp<std::int64_t>(useful, 1, std::max(available, 1)));
}

}  // namespace normtrain
