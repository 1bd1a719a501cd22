#pragma once

#include <torch/torch.h>

namespace normtrain {

// Whether `t` is a dense float tensor in CPU memory, which the step's bookkeeping loops
// (divergence_watch.cpp, objective.cpp) read directly: at small batches a step's dozens of tiny
// operators cost more than their arithmetic.
inline bool is_dense_cpu_float(const torch::Tensor& t) {
  return t.is_cpu() && t.scalar_type() == torch::kFloat && t.is_non_overlapping_and_dense();
}

}  // namespace normtrain
