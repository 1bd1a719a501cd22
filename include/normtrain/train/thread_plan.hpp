#pragma once

#include <cstdint>

namespace normtrain {

// The fewest images per CPU thread for which a training step's operators gain from being
// split between threads. Below it the threads' start and wait cost more than they save: on
// 2 cores (Debian 12, LibTorch 1.13) a step of 8 images ran 15-18% faster on one thread than
// on two for every norm, 16 images ran about even and 32 ran about 10% faster on two.
inline constexpr std::int64_t kMinImagesPerTrainingThread = 16;

// The CPU threads a training step of `batch_size` images uses when `available` are allowed:
// as many as keep at least kMinImagesPerTrainingThread images each, one at the least. Test
// passes (batches of 1,000) use every allowed thread.
int training_thread_count(std::int64_t batch_size, int available);

}  // namespace normtrain
