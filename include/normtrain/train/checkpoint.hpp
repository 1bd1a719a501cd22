#pragma once

#include <filesystem>

#include <torch/torch.h>

#include "normtrain/cli/config.hpp"
#include "normtrain/model/model.hpp"

namespace normtrain {

// The file, in a run folder, that holds the state to resume from.
inline constexpr const char* kCheckpointFileName = "checkpoint.pt";

// What a checkpoint says about its run, readable without building a model.
struct CheckpointInfo {
  TrainConfig config;
  int epoch = 0;  // epochs completed; 0 is the state before training
};

// A run folder or a checkpoint file -> the checkpoint file. Throws a runtime Error naming the
// path and `flag` (the option that gave it) when there is none.
std::filesystem::path find_checkpoint(const std::filesystem::path& path,
                                      const std::string& flag = "--resume");

// Writes the whole training state after `epoch`: model, optimizer (momentum buffers), random
// generator state, epoch and configuration. Atomic: a crash leaves the previous checkpoint.
void save_checkpoint(const std::filesystem::path& path, NormNet& model,
                     torch::optim::SGD& optimizer, const TrainConfig& config, int epoch,
                     const torch::Device& device);

// The run folder a checkpoint file lies in ("." for a bare file name).
std::filesystem::path run_folder_of(const std::filesystem::path& checkpoint);

CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

// Loads the model, optimizer and generator state saved by save_checkpoint onto `device`.
void restore_checkpoint(const std::filesystem::path& path, NormNet& model,
                        torch::optim::SGD& optimizer, const torch::Device& device);

// Loads only the model's parameters and buffers from a checkpoint, for evaluation and
// prediction.
void restore_model(const std::filesystem::path& path, NormNet& model, const torch::Device& device);

// Saves the model alone (parameters and buffers) with torch::save, atomically.
void save_model(NormNet& model, const std::filesystem::path& path);

}  // namespace normtrain
