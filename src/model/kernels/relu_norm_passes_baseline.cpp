// The ReLU + norm passes for the compiler's default instruction set.
#include "relu_norm_pass_builds.hpp"
#include "relu_norm_pass_loops.hpp"

namespace normtrain::kernels::builds {

template <typename T>
ReluNormPasses<T> baseline(int compiled_channels) {
  return make_relu_norm_passes<T>(compiled_channels);
}

template ReluNormPasses<float> baseline(int);
template ReluNormPasses<double> baseline(int);

}  // namespace normtrain::kernels::builds
