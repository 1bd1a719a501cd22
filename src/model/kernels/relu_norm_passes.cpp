#include "normtrain/model/kernels/relu_norm_passes.hpp"

#include <stdexcept>
#include <string>

#include "relu_norm_pass_builds.hpp"

namespace normtrain::kernels {

bool available(InstructionSet isa) {
  switch (isa) {
    case InstructionSet::kBaseline:
      return true;
    case InstructionSet::kAvx2:
#if defined(NORMTRAIN_HAS_AVX2_KERNELS)
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
      return false;
#endif
  }
  return false;
}

namespace {

template <typename T>
ReluNormPasses<T> build(InstructionSet isa, int compiled_channels) {
  if (!available(isa)) {
    throw std::invalid_argument("relu_norm_passes: instruction set " +
                                std::to_string(static_cast<int>(isa)) +
                                " is not available in this build or on this CPU");
  }
#if defined(NORMTRAIN_HAS_AVX2_KERNELS)
  if (isa == InstructionSet::kAvx2) return builds::avx2<T>(compiled_channels);
#endif
  return builds::baseline<T>(compiled_channels);
}

}  // namespace

template <typename T, int kChannels>
const ReluNormPasses<T>& relu_norm_passes(InstructionSet isa) {
  if (isa == InstructionSet::kAvx2) {
    static const ReluNormPasses<T> avx2 = build<T>(InstructionSet::kAvx2, kChannels);
    return avx2;
  }
  static const ReluNormPasses<T> baseline = build<T>(InstructionSet::kBaseline, kChannels);
  return baseline;
}

template <typename T, int kChannels>
const ReluNormPasses<T>& relu_norm_passes() {
  static const InstructionSet fastest =
      available(InstructionSet::kAvx2) ? InstructionSet::kAvx2 : InstructionSet::kBaseline;
  return relu_norm_passes<T, kChannels>(fastest);
}

template <typename T>
const ReluNormPasses<T>& relu_norm_passes(std::int64_t channels, InstructionSet isa) {
  return with_compiled_channel_count(channels, [isa](auto compiled) -> const ReluNormPasses<T>& {
    return relu_norm_passes<T, decltype(compiled)::value>(isa);
  });
}

template const ReluNormPasses<float>& relu_norm_passes(std::int64_t, InstructionSet);
template const ReluNormPasses<double>& relu_norm_passes(std::int64_t, InstructionSet);

#define NORMTRAIN_INSTANTIATE_PASSES(T, C)                    \
  template const ReluNormPasses<T>& relu_norm_passes<T, C>(); \
  template const ReluNormPasses<T>& relu_norm_passes<T, C>(InstructionSet isa);
NORMTRAIN_INSTANTIATE_PASSES(float, 0)
NORMTRAIN_INSTANTIATE_PASSES(float, 8)
NORMTRAIN_INSTANTIATE_PASSES(float, 16)
NORMTRAIN_INSTANTIATE_PASSES(float, 24)
NORMTRAIN_INSTANTIATE_PASSES(double, 0)
NORMTRAIN_INSTANTIATE_PASSES(double, 8)
NORMTRAIN_INSTANTIATE_PASSES(double, 16)
NORMTRAIN_INSTANTIATE_PASSES(double, 24)
#undef NORMTRAIN_INSTANTIATE_PASSES

}  // namespace normtrain::kernels
