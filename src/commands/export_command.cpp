#include "normtrain/commands/export_command.hpp"

#include <ostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/data/dataset_info.hpp"
#include "normtrain/model/pytorch_state.hpp"
#include "normtrain/model/safetensors.hpp"
#include "normtrain/model/torchscript_module.hpp"
#include "normtrain/model/trained_model.hpp"
#include "normtrain/train/torch_errors.hpp"
#include "normtrain/version.hpp"

namespace normtrain {
namespace {

// What scripts/to_pytorch.py checks before it trusts a file's metadata.
constexpr const char* kNetworkName = "normtrain-mnist-cnn";
// The TorchScript archive's extra file that holds the metadata, as JSON.
constexpr const char* kTorchScriptMetadataFile = "normtrain.json";

std::string safetensors_dtype(const torch::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case torch::kFloat32:
      return "F32";
    case torch::kFloat64:
      return "F64";
    case torch::kInt64:
      return "I64";
    case torch::kInt32:
      return "I32";
    default:
      throw std::logic_error(std::string("no safetensors dtype for ") +
                             c10::toString(tensor.scalar_type()));
  }
}

std::string safetensors_file(NormNet& model, const std::map<std::string, std::string>& metadata) {
  std::vector<NamedTensor> state = pytorch_state_dict(model);
  std::vector<SafetensorsTensor> tensors;
  for (NamedTensor& entry : state) {
    // Kept in `state`, which outlives the views below.
    entry.tensor = entry.tensor.detach().to(torch::kCPU).contiguous();
    const auto* bytes = static_cast<const char*>(entry.tensor.data_ptr());
    tensors.push_back({entry.name, safetensors_dtype(entry.tensor), entry.tensor.sizes().vec(),
                       std::string_view(bytes, entry.tensor.nbytes())});
  }
  return encode_safetensors(tensors, metadata);
}

std::string torchscript_file(NormNet& model, const TrainConfig& config,
                             const std::map<std::string, std::string>& metadata) {
  torch::jit::Module module = to_torchscript(model, model_options(config));
  const torch::jit::ExtraFilesMap extra_files = {
      {kTorchScriptMetadataFile, nlohmann::json(metadata).dump(2) + "\n"}};
  std::ostringstream buffer;
  module.save(buffer, extra_files);
  return buffer.str();
}

// The file is replaced atomically; its folder is created when missing.
void write_export(const std::filesystem::path& path, ExportFormat format,
                  const std::string& bytes) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    const char* example = format == ExportFormat::kSafetensors ? "model.safetensors" : "model.pt";
    throw RuntimeError(fmt::format("--out {} is a folder; give a file name, such as {}",
                                   path.string(), (path / example).string()));
  }
  if (path.has_parent_path()) ensure_writable_dir(path.parent_path(), "--out");
  try {
    write_file_atomically(path, bytes);
  } catch (const Error& error) {
    throw RuntimeError(fmt::format("{}; choose another --out", error.what()));
  }
}

}  // namespace

std::map<std::string, std::string> export_metadata(const TrainConfig& config, int epochs) {
  const DatasetInfo& dataset = dataset_info(config.dataset);
  std::map<std::string, std::string> metadata = {
      {"format", "pt"},  // tensors laid out as PyTorch's, the convention safetensors tools read
      {"network", kNetworkName},
      {"normtrain_version", kVersion},
      {"norm", to_flag(config.norm)},
      {"dropout", fmt::format("{}", config.dropout)},
      {"dataset", dataset.flag},
      {"dataset_title", dataset.title},
      {"mean", fmt::format("{}", dataset.mean)},
      {"std", fmt::format("{}", dataset.std)},
      {"class_names", nlohmann::json(dataset.class_names).dump()},
      {"variant_label", variant_label(config)},
      {"epochs", std::to_string(epochs)},
      {"limit_test", std::to_string(config.limit_test)}};
  if (config.norm == NormKind::kGroup) metadata["groups"] = std::to_string(config.groups);
  if (config.weight_standardization) metadata["weight_standardization"] = "true";
  if (config.norm == NormKind::kBatchRenorm) {
    // What training in PyTorch needs to carry on as normtrain would; evaluation needs none.
    metadata["brn_rmax"] = fmt::format("{}", config.batch_renorm.r_max);
    metadata["brn_dmax"] = fmt::format("{}", config.batch_renorm.d_max);
    metadata["brn_warmup"] = std::to_string(config.batch_renorm.warmup);
  }
  return metadata;
}

void run_export(const ExportRequest& request, std::ostream& out) {
  if (request.out.empty()) throw UsageError("--out needs a file name");
  with_torch_errors([&] {
    TrainedModel trained = load_trained_model(request.checkpoint, "--checkpoint", torch::kCPU);
    const std::map<std::string, std::string> metadata =
        export_metadata(trained.config, trained.epochs);
    const std::string bytes = request.format == ExportFormat::kSafetensors
                                  ? safetensors_file(trained.model, metadata)
                                  : torchscript_file(trained.model, trained.config, metadata);
    write_export(request.out, request.format, bytes);
    out << fmt::format("wrote {} ({}): {} after {} epoch{}\n", request.out, to_flag(request.format),
                       variant_label(trained.config), trained.epochs,
                       trained.epochs == 1 ? "" : "s");
  });
}

}  // namespace normtrain
