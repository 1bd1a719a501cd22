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

// The largest batch whose training step runs as two slices at once (SlicedGradients), one
// thread each, when the model allows it: below it that beats splitting every operator between
// threads, and running the whole batch on one (measured on 2 cores, Debian 12; see the README).
inline constexpr std::int64_t kMaxImagesForSlicedSteps = 16;

// How many slices, each on a thread of its own, a training step of `batch_size` images is cut
// into when `available` CPU threads are allowed: 2 for batches of 2 to kMaxImagesForSlicedSteps
// images on at least 2 threads when `per_example` (the model's output for an example depends on
// that example alone and no random numbers are drawn: no batch statistics, no dropout), else 1.
int training_slice_count(std::int64_t batch_size, int available, bool per_example);

}  // namespace normtrain
