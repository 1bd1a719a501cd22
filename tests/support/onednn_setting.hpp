#pragma once

#include <cstdint>

#include <ATen/Context.h>

#include "normtrain/model/convolution_check.hpp"

namespace normtrain::testing {

// Puts LibTorch's process-wide "use oneDNN" setting back as it was when it goes out of scope:
// the convolution check may turn oneDNN off, and the next test must not inherit that.
class OneDnnSettingRestorer {
 public:
  OneDnnSettingRestorer() : enabled_(at::globalContext().userEnabledMkldnn()) {}
  ~OneDnnSettingRestorer() { at::globalContext().setUserEnabledMkldnn(enabled_); }
  OneDnnSettingRestorer(const OneDnnSettingRestorer&) = delete;
  OneDnnSettingRestorer& operator=(const OneDnnSettingRestorer&) = delete;

 private:
  bool enabled_;
};

// Makes LibTorch's NCHW convolutions right here, as normtrain does for its stock models (it may
// turn oneDNN off), for tests that run them outside a NormNet: a TorchScript module of the
// network runs the stock model's convolutions. Use with an OneDnnSettingRestorer.
inline void use_right_nchw_convolutions(std::int64_t batch_size) {
  NormNet stock(ModelOptions{NormKind::kGroup, 8, 0.0, /*fused=*/false});
  ensure_correct_convolutions(stock, batch_size, ConvolutionUse::kEvaluation);
}

}  // namespace normtrain::testing
