#include "normtrain/train/checkpoint.hpp"

#include <sstream>

#include <fmt/format.h>

#include "normtrain/cli/config_json.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"

namespace normtrain {
namespace {

// Bumped when the layout changes, so that an old file is refused with a clear message.
constexpr std::int64_t kCheckpointFormat = 1;

// Serializes with `save` into memory, then writes the bytes atomically: LibTorch's own file
// writer aborts the process when a write fails (a full disk), where this names the file and
// the system's reason, and leaves the previous file in place.
template <typename Save>
void write_serialized(const std::filesystem::path& path, Save save) {
  std::ostringstream buffer;
  save(buffer);
  write_file_atomically(path, buffer.str());
}

// The generator that dropout draws from on `device`.
at::Generator generator_for(const torch::Device& device) {
  return at::globalContext().defaultGenerator(device.is_cuda() ? device
                                                               : torch::Device(torch::kCPU));
}

torch::serialize::InputArchive open_archive(const std::filesystem::path& path,
                                            const torch::Device& device) {
  torch::serialize::InputArchive archive;
  try {
    // A Device converts to the optional load_from takes in LibTorch 1.13 and 2.x alike.
    archive.load_from(path.string(), device);
  } catch (const c10::Error&) {
    throw RuntimeError(
        fmt::format("{} is not a readable normtrain checkpoint (truncated or from another program)",
                    path.string()));
  }
  c10::IValue format;
  if (!archive.try_read("format", format) || !format.isInt() ||
      format.toInt() != kCheckpointFormat) {
    throw RuntimeError(
        fmt::format("{} is not a checkpoint of this normtrain version (format {} expected)",
                    path.string(), kCheckpointFormat));
  }
  return archive;
}

}  // namespace

std::filesystem::path find_checkpoint(const std::filesystem::path& path, const std::string& flag) {
  std::error_code ignored;
  const std::filesystem::path file =
      std::filesystem::is_directory(path, ignored) ? path / kCheckpointFileName : path;
  if (!std::filesystem::is_regular_file(file, ignored)) {
    throw RuntimeError(
        fmt::format("{} {}: no checkpoint at {}; give a run folder written by normtrain or its {}",
                    flag, path.string(), file.string(), kCheckpointFileName));
  }
  return file;
}

void save_checkpoint(const std::filesystem::path& path, NormNet& model,
                     torch::optim::SGD& optimizer, const TrainConfig& config, int epoch,
                     const torch::Device& device) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(kCheckpointFormat));
  archive.write("epoch", c10::IValue(static_cast<std::int64_t>(epoch)));
  archive.write("config", c10::IValue(config_to_json_text(config)));
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  at::Generator generator = generator_for(device);
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("generator", generator.get_state(), /*is_buffer=*/true);
  }
  // Generator states differ between devices; a resume on another device starts a fresh one.
  archive.write("generator_device", c10::IValue(device.is_cuda() ? std::string("cuda") : "cpu"));
  write_serialized(path, [&](std::ostream& out) { archive.save_to(out); });
}

std::filesystem::path run_folder_of(const std::filesystem::path& checkpoint) {
  return checkpoint.has_parent_path() ? checkpoint.parent_path() : std::filesystem::path(".");
}

CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) {
  torch::serialize::InputArchive archive = open_archive(path, torch::Device(torch::kCPU));
  c10::IValue epoch;
  c10::IValue config;
  if (!archive.try_read("epoch", epoch) || !archive.try_read("config", config) || !epoch.isInt() ||
      !config.isString()) {
    throw RuntimeError(fmt::format("{} lacks its epoch or configuration", path.string()));
  }
  return {config_from_json_text(config.toStringRef(), path.string()),
          static_cast<int>(epoch.toInt())};
}

void restore_model(const std::filesystem::path& path, NormNet& model, const torch::Device& device) {
  torch::serialize::InputArchive archive = open_archive(path, device);
  torch::serialize::InputArchive model_archive;
  try {
    archive.read("model", model_archive);
    model->load(model_archive);
  } catch (const c10::Error& error) {
    throw RuntimeError(fmt::format("{} does not fit this model: {}", path.string(),
                                   error.what_without_backtrace()));
  }
}

void restore_checkpoint(const std::filesystem::path& path, NormNet& model,
                        torch::optim::SGD& optimizer, const torch::Device& device) {
  torch::serialize::InputArchive archive = open_archive(path, device);
  torch::serialize::InputArchive model_archive;
  torch::serialize::InputArchive optimizer_archive;
  try {
    archive.read("model", model_archive);
    model->load(model_archive);
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
  } catch (const c10::Error& error) {
    throw RuntimeError(fmt::format("{} does not fit this model: {}", path.string(),
                                   error.what_without_backtrace()));
  }
  torch::Tensor state;
  c10::IValue saved_on;
  const std::string device_type = device.is_cuda() ? "cuda" : "cpu";
  if (archive.try_read("generator", state, /*is_buffer=*/true) &&
      archive.try_read("generator_device", saved_on) && saved_on.isString() &&
      saved_on.toStringRef() == device_type) {
    at::Generator generator = generator_for(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    try {
      generator.set_state(state.cpu());
    } catch (const c10::Error& error) {
      throw RuntimeError(fmt::format("{}: its random generator state cannot be restored ({})",
                                     path.string(), error.what_without_backtrace()));
    }
  }
}

void save_model(NormNet& model, const std::filesystem::path& path) {
  write_serialized(path, [&](std::ostream& out) { torch::save(model, out); });
}

}  // namespace normtrain
