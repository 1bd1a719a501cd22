// The ReLU + norm passes for the compiler's default instruction set.
#include "relu_norm_pass_builds.hpp"
#include "relu_norm_pass_loops.hpp"

NORMTRAIN_DEFINE_RELU_NORM_PASS_BUILD(baseline)
