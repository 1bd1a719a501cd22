#include "normtrain/train/allocator_tuning.hpp"

// glibc's <malloc.h> defines the M_* tunables; other C libraries lack them, and the call below
// is compiled out. (Test for the macros, not for __GLIBC__: that one is only defined once a libc
// header has been included, and this file must not depend on what happens to come before.)
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

namespace normtrain {

bool keep_freed_memory_for_reuse() {
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
  // Serve blocks below 32 MiB (glibc's ceiling for this setting) from the heap, which is
  // reused, rather than from mmap().
  const bool heap = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  // Give memory back to the kernel only when over 1 GiB of it lies free at the heap's top.
  const bool kept = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return heap && kept;
#else
  return false;
#endif
}

}  // namespace normtrain
