#include "normtrain/train/thread_plan.hpp"

#include <algorithm>

namespace normtrain {

int training_thread_count(std::int64_t batch_size, int available) {
  const std::int64_t useful = batch_size / kMinImagesPerTrainingThread;
  return static_cast<int>(std::clamp<std::int64_t>(useful, 1, std::max(available, 1)));
}

int training_slice_count(std::int64_t batch_size, int available, bool per_example) {
  const bool sliced =
      per_example && available >= 2 && batch_size >= 2 && batch_size <= kMaxImagesForSlicedSteps;
  return sliced ? 2 : 1;
}

}  // namespace normtrain
