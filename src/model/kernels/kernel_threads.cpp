#include "normtrain/model/kernels/kernel_threads.hpp"

#include <atomic>

#include "kernel_parallel_for.hpp"

namespace normtrain {

bool fused_kernels_are_parallel() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

int fused_kernel_threads(std::int64_t examples) {
  std::atomic<int> highest{0};
  at::parallel_for(0, examples, 1, [&](std::int64_t, std::int64_t) {
    const int thread = at::get_thread_num();
    int seen = highest.load();
    while (thread > seen && !highest.compare_exchange_weak(seen, thread)) {
    }
  });
  return highest.load() + 1;
}

}  // namespace normtrain
