// The ReLU + norm passes for AVX2 with FMA: CMake compiles this file with -mavx2 -mfma
// -ffp-contract=off (no fused multiply-adds, so that the results stay the baseline's bit for
// bit). relu_norm_passes.cpp calls it only on a CPU that has both.
#include "relu_norm_pass_builds.hpp"
#include "relu_norm_pass_loops.hpp"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "relu_norm_passes_avx2.cpp must be compiled with -mavx2 -mfma"
#endif

NORMTRAIN_DEFINE_RELU_NORM_PASS_BUILD(avx2)
