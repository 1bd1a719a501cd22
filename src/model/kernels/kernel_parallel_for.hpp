#pragma once

// at::parallel_for is an inline template: compiled without OpenMP it runs the whole range on the
// calling thread, silently. Every kernel file that splits work with it includes this header, so
// that a build which lost the kernels' OpenMP flag (src/model/kernels/CMakeLists.txt) fails
// instead of running them on one thread.
#include <ATen/Parallel.h>

#if !defined(_OPENMP) && !defined(NORMTRAIN_SERIAL_KERNELS)
#error "The fused kernels need OpenMP (-fopenmp), or at::parallel_for runs them on one thread"
#endif
