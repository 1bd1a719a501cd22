#pragma once

#include <cstdint>

namespace normtrain {

// Whether the fused kernels were built with OpenMP, and so split a batch over threads.
bool fused_kernels_are_parallel();

// How many threads the fused kernels split `examples` examples over right now: LibTorch's
// intra-op thread count (at::set_num_threads), at most one per example; 1 in a build without
// OpenMP. Found by running the kernels' own parallel loop, so it also shows whether that loop
// obeys LibTorch's count (it would not on a second OpenMP runtime).
int fused_kernel_threads(std::int64_t examples);

}  // namespace normtrain
