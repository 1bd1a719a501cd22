#pragma once

#include <filesystem>
#include <string>

#include <torch/torch.h>

#include "normtrain/cli/config.hpp"
#include "normtrain/model/model.hpp"

namespace normtrain {

// A model restored from a run's checkpoint, with the configuration it was trained with.
struct TrainedModel {
  TrainConfig config;
  int epochs = 0;  // epochs completed when the checkpoint was written
  std::filesystem::path checkpoint;
  NormNet model{nullptr};
};

// `path` is a run folder or its checkpoint file; `flag` names the option it came from in
// error messages. The model is on `device`, in evaluation mode, its convolutions checked
// (convolution_check.hpp).
TrainedModel load_trained_model(const std::string& path, const std::string& flag,
                                const torch::Device& device);

}  // namespace normtrain
