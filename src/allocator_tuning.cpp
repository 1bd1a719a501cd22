#include "normtrain/allocator_tuning.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace normtrain {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  // Serve blocks below 256 MiB from the heap, which is reused, rather than from mmap().
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  // Give memory back to the kernel only when over 1 GiB of it lies free at the heap's top.
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace normtrain
