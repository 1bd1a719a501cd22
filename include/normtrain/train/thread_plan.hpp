#pragma once

#include <cstdint>

namespace normtrain {

// The fewest images per CPU thread for which a training step's operators gain from being
// split between threads. Below it the threads' start and wait cost more than they save: on
// 2 cores (Debian 12, LibTorch 1.13, the fused kernels on both threads) a step of 8 images took
// 7-14% less time on one thread than on two (43% less for GN), one of 16 images 2-9% less on
// two, and one of 32 images (LN) 27% less on two.
inline constexpr std::int64_t kMinImagesPerTrainingThread = 8;

// The CPU threads a training step of `batch_size` images uses when `available` are allowed:
// as many as keep at least kMinImagesPerTrainingThread images each, one at the least. Test
// passes (batches of 1,000) use every allowed thread.
int training_thread_count(std::int64_t batch_size, int available);

}  // namespace normtrain
