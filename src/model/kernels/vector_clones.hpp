#pragma once

// What the hand-written convolution kernels share: loops over GCC's (and Clang's) vector
// extension, inlined into a second copy of each kernel built for AVX2 and chosen at run time on
// x86-64. The copies do not contract multiply-adds (no FMA target), so both round alike.
#include <cstring>

#include "normtrain/model/kernels/relu_norm_passes.hpp"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define NORMTRAIN_AVX2_CLONES 1
#define NORMTRAIN_INLINE inline __attribute__((always_inline))
#else
#define NORMTRAIN_AVX2_CLONES 0
#define NORMTRAIN_INLINE inline
#endif

namespace normtrain::kernels {

// By reference, not by value: a vector returned or passed by value would have an ABI that
// depends on the instruction set.
template <typename V, typename T>
NORMTRAIN_INLINE void load_vector(V& value, const T* from) {
  std::memcpy(&value, from, sizeof(V));
}

template <typename V, typename T>
NORMTRAIN_INLINE void store_vector(const V& value, T* to) {
  std::memcpy(to, &value, sizeof(V));
}

// Whether the AVX2 copies may run: the CPU check the norms' passes use (AVX2 with FMA, though
// these loops need AVX2 alone).
inline bool run_avx2_clones() {
  static const bool avx2 = available(InstructionSet::kAvx2);
  return avx2;
}

}  // namespace normtrain::kernels
