#pragma once

#include "normtrain/model/kernels/relu_norm_passes.hpp"

// The builds of the ReLU + norm passes, one per instruction set, each in its own translation
// unit compiled with that instruction set's flags. compiled_channels: 8, 16, 24, or 0 for a
// count given at run time. Only relu_norm_passes.cpp calls them, after checking the CPU.
namespace normtrain::kernels::builds {

template <typename T>
ReluNormPasses<T> baseline(int compiled_channels);

template <typename T>
ReluNormPasses<T> avx2(int compiled_channels);

}  // namespace normtrain::kernels::builds
