#include "normtrain/train/allocator_tuning.hpp"

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

namespace normtrain {
namespace {

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 33)
// The effect, not the call: after tuning, an activation-sized block comes from the reusable heap
// rather than from a fresh mmap(), which would cost a page fault per 4 KiB on every step.
TEST(AllocatorTuning, ActivationSizedBlocksComeFromTheHeap) {
  if (!keep_freed_memory_for_reuse()) {
    GTEST_SKIP() << "the allocator in use (a sanitizer's, say) does not take glibc's settings";
  }
  const struct mallinfo2 before = mallinfo2();
  constexpr std::size_t kBlock = 7u << 20;  // one batch's largest activation is ~7 MB
  void* block = std::malloc(kBlock);
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBlock);
  const struct mallinfo2 during = mallinfo2();
  std::free(block);
  EXPECT_EQ(during.hblks, before.hblks) << "the block was mmap()ed";
  EXPECT_GE(during.uordblks, before.uordblks + kBlock);
}
#else
TEST(AllocatorTuning, IsANoOpOutsideGlibc) {
  EXPECT_FALSE(keep_freed_memory_for_reuse());
}
#endif

}  // namespace
}  // namespace normtrain
