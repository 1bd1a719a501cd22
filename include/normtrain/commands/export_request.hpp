#pragma once

#include <string>

namespace normtrain {

// The file formats `normtrain export` writes: safetensors (the weights, with the run's
// configuration as metadata, for scripts/to_pytorch.py or any safetensors reader) or a
// TorchScript module (torch.jit.load).
enum class ExportFormat { kSafetensors, kTorchScript };

// The --format spelling.
inline std::string to_flag(ExportFormat format) {
  return format == ExportFormat::kSafetensors ? "safetensors" : "torchscript";
}

// `normtrain export`: write a trained run's model in a format PyTorch reads without normtrain.
struct ExportRequest {
  std::string checkpoint;  // a run folder or its checkpoint file
  ExportFormat format = ExportFormat::kSafetensors;
  std::string out;  // the file to write
};

}  // namespace normtrain
