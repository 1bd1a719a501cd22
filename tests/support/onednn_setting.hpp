#pragma once

#include <ATen/Context.h>

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

}  // namespace normtrain::testing
