#include "normtrain/cli/config.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "normtrain/common/error.hpp"
#include "normtrain/model/architecture.hpp"

namespace normtrain {
namespace {

// More threads than this is a typing mistake, and OpenMP would try to start them all.
constexpr int kMaxThreads = 1024;

bool is_device_spec(const std::string& device) {
  if (device == "auto" || device == "cpu" || device == "cuda") return true;
  const std::string prefix = "cuda:";
  // Up to three digits: no machine has a thousand GPUs, and longer numbers overflow LibTorch.
  if (device.size() <= prefix.size() || device.size() > prefix.size() + 3 ||
      device.compare(0, prefix.size(), prefix) != 0) {
    return false;
  }
  return std::all_of(device.begin() + prefix.size(), device.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// One option of a run's identity: its flag, and its value in a configuration, or nullopt where
// the option does not apply to it.
struct IdentityOption {
  const char* flag;
  std::function<std::optional<std::string>(const RunSpec&)> value;
  // Where the option applies, for the message when it is given elsewhere; nullptr: always.
  const char* applies_with = nullptr;
};

template <typename T>
std::optional<std::string> always(const T& value) {
  return fmt::format("{}", value);
}

std::optional<std::string> under(const RunSpec& config, SchedulerKind kind, double value) {
  if (config.schedule.kind != kind) return std::nullopt;
  return fmt::format("{}", value);
}

// The one list of what makes a run: the command line's resume rules, the sweep's notion of
// "the same run" and the comparison of a folder's saved run all read it.
const std::vector<IdentityOption>& identity_options() {
  static const std::vector<IdentityOption> options = {
      {"--dataset", [](const RunSpec& c) { return always(dataset_info(c.dataset).flag); }},
      {"--norm", [](const RunSpec& c) { return always(to_flag(c.norm)); }},
      {"--groups",
       [](const RunSpec& c) {
         return c.norm == NormKind::kGroup ? always(c.groups) : std::nullopt;
       },
       "--norm gn"},
      {"--brn-rmax",
       [](const RunSpec& c) {
         return c.norm == NormKind::kBatchRenorm ? always(c.batch_renorm.r_max) : std::nullopt;
       },
       "--norm brn"},
      {"--brn-dmax",
       [](const RunSpec& c) {
         return c.norm == NormKind::kBatchRenorm ? always(c.batch_renorm.d_max) : std::nullopt;
       },
       "--norm brn"},
      {"--brn-warmup",
       [](const RunSpec& c) {
         return c.norm == NormKind::kBatchRenorm ? always(c.batch_renorm.warmup) : std::nullopt;
       },
       "--norm brn"},
      {"--weight-standardization",
       [](const RunSpec& c) { return always(c.weight_standardization ? "true" : "false"); }},
      {"--l1", [](const RunSpec& c) { return always(c.l1); }},
      {"--batch-size", [](const RunSpec& c) { return always(c.batch_size); }},
      {"--lr",
       [](const RunSpec& c) {
         // One-cycle takes its rates from --max-lr; --lr plays no part there.
         return c.schedule.kind == SchedulerKind::kOneCycle ? std::nullopt : always(c.lr);
       },
       "--scheduler none or step: one-cycle's rates come from --max-lr (with --div-factor and "
       "--final-div-factor), so give --max-lr instead"},
      {"--momentum", [](const RunSpec& c) { return always(c.momentum); }},
      {"--scheduler", [](const RunSpec& c) { return always(to_flag(c.schedule.kind)); }},
      {"--step-size",
       [](const RunSpec& c) {
         return c.schedule.kind == SchedulerKind::kStep ? always(c.schedule.step_size)
                                                        : std::nullopt;
       },
       "--scheduler step"},
      {"--gamma", [](const RunSpec& c) { return under(c, SchedulerKind::kStep, c.schedule.gamma); },
       "--scheduler step"},
      {"--max-lr",
       [](const RunSpec& c) { return under(c, SchedulerKind::kOneCycle, c.schedule.max_lr); },
       "--scheduler onecycle"},
      {"--pct-start",
       [](const RunSpec& c) { return under(c, SchedulerKind::kOneCycle, c.schedule.pct_start); },
       "--scheduler onecycle"},
      {"--div-factor",
       [](const RunSpec& c) { return under(c, SchedulerKind::kOneCycle, c.schedule.div_factor); },
       "--scheduler onecycle"},
      {"--final-div-factor",
       [](const RunSpec& c) {
         return under(c, SchedulerKind::kOneCycle, c.schedule.final_div_factor);
       },
       "--scheduler onecycle"},
      {"--dropout", [](const RunSpec& c) { return always(c.dropout); }},
      {"--seed", [](const RunSpec& c) { return always(c.seed); }},
      {"--kernels", [](const RunSpec& c) { return always(c.fused_kernels ? "fused" : "stock"); }},
      {"--limit-train", [](const RunSpec& c) { return always(c.limit_train); }},
      {"--limit-test", [](const RunSpec& c) { return always(c.limit_test); }},
  };
  return options;
}

// "1, 2, 4 or 8": a list as a sentence says it.
std::string spoken_list(const std::vector<int>& values, const char* conjunction) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += i + 1 == values.size() ? fmt::format(" {} ", conjunction) : ", ";
    text += std::to_string(values[i]);
  }
  return text;
}

}  // namespace

std::vector<IdentityFlag> identity_flags(const RunSpec& config) {
  std::vector<IdentityFlag> flags;
  for (const IdentityOption& option : identity_options()) {
    if (auto value = option.value(config)) flags.push_back({option.flag, std::move(*value)});
  }
  return flags;
}

void check_identity_flags_apply(const RunSpec& spec, const std::vector<std::string>& given) {
  for (const IdentityOption& option : identity_options()) {
    const bool is_given = std::find(given.begin(), given.end(), option.flag) != given.end();
    if (is_given && option.applies_with != nullptr && !option.value(spec)) {
      throw UsageError(fmt::format("{} applies only to {}", option.flag, option.applies_with));
    }
  }
}

const std::vector<std::string>& identity_flag_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const IdentityOption& option : identity_options()) all.emplace_back(option.flag);
    return all;
  }();
  return names;
}

std::vector<std::string> identity_differences(const RunSpec& saved, const RunSpec& requested) {
  std::vector<std::string> differences;
  for (const IdentityOption& option : identity_options()) {
    const std::optional<std::string> was = option.value(saved);
    const std::optional<std::string> now = option.value(requested);
    if (was != now) {
      differences.push_back(fmt::format("{} {} (saved) vs {} (requested)", option.flag,
                                        was.value_or("unset"), now.value_or("unset")));
    }
  }
  return differences;
}

std::string to_flag(NormKind norm) {
  switch (norm) {
    case NormKind::kBatch:
      return "bn";
    case NormKind::kLayer:
      return "ln";
    case NormKind::kGroup:
      return "gn";
    case NormKind::kInstance:
      return "in";
    case NormKind::kNone:
      return "none";
    case NormKind::kBatchRenorm:
      return "brn";
    case NormKind::kFilterResponse:
      return "frn";
    case NormKind::kRms:
      return "rms";
  }
  return "?";
}

std::optional<NormKind> norm_from_flag(const std::string& flag) {
  for (NormKind norm :
       {NormKind::kBatch, NormKind::kLayer, NormKind::kGroup, NormKind::kInstance, NormKind::kNone,
        NormKind::kBatchRenorm, NormKind::kFilterResponse, NormKind::kRms}) {
    if (to_flag(norm) == flag) return norm;
  }
  return std::nullopt;
}

bool has_fused_kernels(NormKind norm) {
  return norm != NormKind::kBatchRenorm && norm != NormKind::kFilterResponse &&
         norm != NormKind::kRms;
}

bool has_running_statistics(NormKind norm) {
  return norm == NormKind::kBatch || norm == NormKind::kBatchRenorm;
}

std::string to_flag(CudaGraphs mode) {
  switch (mode) {
    case CudaGraphs::kAuto:
      return "auto";
    case CudaGraphs::kOn:
      return "on";
    case CudaGraphs::kOff:
      return "off";
  }
  return "?";
}

std::optional<CudaGraphs> cuda_graphs_from_flag(const std::string& flag) {
  for (CudaGraphs mode : {CudaGraphs::kAuto, CudaGraphs::kOn, CudaGraphs::kOff}) {
    if (to_flag(mode) == flag) return mode;
  }
  return std::nullopt;
}

std::optional<std::string> why_steps_cannot_be_captured(const RunSpec& spec) {
  if (spec.schedule.kind == SchedulerKind::kOneCycle) {
    return "--scheduler onecycle changes the learning rate every step, and a captured step "
           "keeps the rate it was captured with";
  }
  if (spec.norm == NormKind::kBatchRenorm) {
    return "--norm brn reads its step count on the host to relax its limits";
  }
  if (spec.dropout > 0.0) {
    return "--dropout draws its masks from a generator whose state a replay would not follow "
           "step by step as an eager run does";
  }
  return std::nullopt;
}

void validate_device_and_threads(const std::string& device, int threads) {
  if (threads < 0 || threads > kMaxThreads) {
    throw UsageError(
        fmt::format("--threads must be 0 (all cores) to {}, got {}", kMaxThreads, threads));
  }
  if (!is_device_spec(device)) {
    throw UsageError(fmt::format("--device must be auto, cpu, cuda or cuda:N, got '{}'", device));
  }
}

void validate(const TrainConfig& config) {
  if (config.epochs < 1) {
    throw UsageError(fmt::format("--epochs must be at least 1, got {}", config.epochs));
  }
  if (config.batch_size < 1) {
    throw UsageError(fmt::format("--batch-size must be at least 1, got {}", config.batch_size));
  }
  for (const auto& [flag, value] : {std::pair<const char*, double>{"--lr", config.lr},
                                    {"--l1", config.l1},
                                    {"--momentum", config.momentum},
                                    {"--dropout", config.dropout},
                                    {"--gamma", config.schedule.gamma},
                                    {"--brn-rmax", config.batch_renorm.r_max},
                                    {"--brn-dmax", config.batch_renorm.d_max},
                                    {"--max-lr", config.schedule.max_lr},
                                    {"--div-factor", config.schedule.div_factor},
                                    {"--final-div-factor", config.schedule.final_div_factor}}) {
    if (!std::isfinite(value)) {
      throw UsageError(fmt::format("{} must be a finite number, got {}", flag, value));
    }
  }
  if (!(config.lr > 0.0)) {
    throw UsageError(fmt::format("--lr must be greater than 0, got {}", config.lr));
  }
  if (!(config.momentum >= 0.0 && config.momentum < 1.0)) {
    throw UsageError(fmt::format("--momentum must be in [0, 1), got {}", config.momentum));
  }
  if (!(config.l1 >= 0.0)) {
    throw UsageError(fmt::format("--l1 must be 0 or more, got {}", config.l1));
  }
  if (!(config.dropout >= 0.0 && config.dropout < 1.0)) {
    throw UsageError(fmt::format("--dropout must be in [0, 1), got {}", config.dropout));
  }
  validate_device_and_threads(config.device, config.threads);
  const ScheduleOptions& schedule = config.schedule;
  if (schedule.step_size < 1) {
    throw UsageError(fmt::format("--step-size must be at least 1, got {}", schedule.step_size));
  }
  if (!(schedule.gamma > 0.0)) {
    throw UsageError(fmt::format("--gamma must be greater than 0, got {}", schedule.gamma));
  }
  if (!(schedule.max_lr > 0.0)) {
    throw UsageError(fmt::format("--max-lr must be greater than 0, got {}", schedule.max_lr));
  }
  if (!(schedule.pct_start > 0.0 && schedule.pct_start < 1.0)) {
    throw UsageError(fmt::format("--pct-start must be in (0, 1), got {}", schedule.pct_start));
  }
  if (!(schedule.div_factor > 0.0) || !(schedule.final_div_factor > 0.0)) {
    throw UsageError("--div-factor and --final-div-factor must be greater than 0");
  }
  if (config.misclassified < 0 || config.misclassified > 1000) {
    throw UsageError(
        fmt::format("--misclassified must be between 0 and 1000, got {}", config.misclassified));
  }
  if (config.diagnostics_every < 0) {
    throw UsageError(fmt::format("--diagnostics-every must be 0 (none) or more steps, got {}",
                                 config.diagnostics_every));
  }
  if (config.cuda_graphs == CudaGraphs::kOn) {
    if (const std::optional<std::string> why = why_steps_cannot_be_captured(config)) {
      throw UsageError(fmt::format("--cuda-graphs on: {}; use --cuda-graphs auto or off", *why));
    }
    if (config.device == "cpu") {
      throw UsageError("--cuda-graphs on needs a CUDA device; --device cpu has none");
    }
  }
  if (config.landscape_every < 0) {
    throw UsageError(fmt::format("--landscape-every must be 0 (never) or more steps, got {}",
                                 config.landscape_every));
  }
  if (config.landscape_steps.empty()) {
    throw UsageError("--landscape-steps needs at least one step size, e.g. 0.5,1,2,4");
  }
  for (const double multiple : config.landscape_steps) {
    if (!std::isfinite(multiple) || multiple < 0.0) {
      throw UsageError(fmt::format(
          "--landscape-steps: each step size is a multiple of the learning rate, 0 or more, "
          "got {}",
          multiple));
    }
  }
  if (config.precise_bn < 0) {
    throw UsageError(
        fmt::format("--precise-bn must be 0 (off) or a number of training images, "
                    "got {}",
                    config.precise_bn));
  }
  if (config.precise_bn > 0 && !has_running_statistics(config.norm)) {
    throw UsageError(fmt::format(
        "--precise-bn: --norm {} keeps no running statistics to recompute (only bn and brn do)",
        to_flag(config.norm)));
  }
  if (config.limit_train < 0 || config.limit_test < 0) {
    throw UsageError("--limit-train and --limit-test must be 0 (all) or more");
  }
  if (!(config.batch_renorm.r_max >= 1.0)) {
    throw UsageError(
        fmt::format("--brn-rmax must be 1 or more, got {}", config.batch_renorm.r_max));
  }
  if (!(config.batch_renorm.d_max >= 0.0)) {
    throw UsageError(
        fmt::format("--brn-dmax must be 0 or more, got {}", config.batch_renorm.d_max));
  }
  if (config.batch_renorm.warmup < 0) {
    throw UsageError(fmt::format("--brn-warmup must be 0 (no warm-up) or more steps, got {}",
                                 config.batch_renorm.warmup));
  }
  if (config.fused_kernels && !has_fused_kernels(config.norm)) {
    throw UsageError(fmt::format(
        "--kernels fused: there are no fused kernels for --norm {} (only for bn, ln, gn, in and "
        "none); it runs LibTorch's operators, so drop --kernels or give --kernels stock",
        to_flag(config.norm)));
  }
  if (config.norm == NormKind::kGroup) {
    const std::vector<int> valid = valid_group_counts();
    if (std::find(valid.begin(), valid.end(), config.groups) == valid.end()) {
      std::vector<int> channels(kNormalizedBlockChannels.begin(), kNormalizedBlockChannels.end());
      channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
      throw UsageError(fmt::format("--groups {} does not divide the channel counts {}; use {}",
                                   config.groups, spoken_list(channels, "and"),
                                   spoken_list(valid, "or")));
    }
  }
}

TrainConfig apply_resume_request(TrainConfig saved, const ResumeRequest& request) {
  if (request.epochs) saved.epochs = *request.epochs;
  if (request.threads) saved.threads = *request.threads;
  if (request.device) saved.device = *request.device;
  if (request.data_dir) saved.data_dir = *request.data_dir;
  if (request.misclassified) saved.misclassified = *request.misclassified;
  if (request.diagnostics_every) saved.diagnostics_every = *request.diagnostics_every;
  if (request.precise_bn) saved.precise_bn = *request.precise_bn;
  if (request.landscape_every) saved.landscape_every = *request.landscape_every;
  if (request.landscape_steps) saved.landscape_steps = *request.landscape_steps;
  if (request.cuda_graphs) saved.cuda_graphs = *request.cuda_graphs;
  saved.quiet = request.quiet;
  saved.download = request.download;
  saved.mirror = request.mirror;
  return saved;
}

std::vector<std::string> design_warnings(const RunSpec& config, std::int64_t train_examples) {
  std::vector<std::string> warnings;
  if (config.norm == NormKind::kInstance) {
    warnings.push_back(
        "--norm in cannot learn on this network: the last instance norm makes each channel's "
        "spatial mean exactly its beta for every image, so the global average pool after it "
        "passes nothing that depends on the input and test accuracy stays at chance (about "
        "10%)");
  }
  if (train_examples > 0 && config.batch_size > train_examples) {
    warnings.push_back(fmt::format(
        "--batch-size {} is larger than the {} training images: each epoch is a single step "
        "over all {} (full-batch gradient descent), not the minibatch SGD the flag suggests",
        config.batch_size, train_examples, train_examples));
  }
  if (config.norm == NormKind::kBatch && config.batch_size == 1) {
    warnings.push_back(
        "--norm bn with --batch-size 1 normalizes each image by its own statistics while "
        "training but by running averages over images at test time, so test accuracy can be "
        "far below training accuracy; --norm gn or ln do not depend on the batch");
  }
  return warnings;
}

std::string variant_slug(const RunSpec& config) {
  std::string slug = to_flag(config.norm);
  if (config.dataset != DatasetKind::kMnist) slug = dataset_info(config.dataset).flag + "-" + slug;
  if (config.norm == NormKind::kGroup) slug += fmt::format("-{}", config.groups);
  if (config.weight_standardization) slug += "-ws";
  if (config.l1 > 0.0) slug += fmt::format("-l1-{}", config.l1);
  if (config.schedule.kind != SchedulerKind::kNone) slug += "-" + to_flag(config.schedule.kind);
  return slug;
}

std::string variant_label(const RunSpec& config) {
  std::string label;
  switch (config.norm) {
    case NormKind::kBatch:
      label = "BN";
      break;
    case NormKind::kLayer:
      label = "LN";
      break;
    case NormKind::kGroup:
      label = fmt::format("GN ({} group{})", config.groups, config.groups == 1 ? "" : "s");
      break;
    case NormKind::kInstance:
      label = "IN";
      break;
    case NormKind::kNone:
      label = "No norm";
      break;
    case NormKind::kBatchRenorm:
      label = "BRN";
      break;
    case NormKind::kFilterResponse:
      label = "FRN";
      break;
    case NormKind::kRms:
      label = "RMS norm";
      break;
  }
  if (config.weight_standardization) label += " + WS";
  if (config.l1 > 0.0) label += fmt::format(" + L1 {}", config.l1);
  switch (config.schedule.kind) {
    case SchedulerKind::kNone:
      break;
    case SchedulerKind::kStep:
      label += fmt::format(", step LR x{} / {} epochs", config.schedule.gamma,
                           config.schedule.step_size);
      break;
    case SchedulerKind::kOneCycle:
      label += fmt::format(", one-cycle LR (max {})", config.schedule.max_lr);
      break;
  }
  return label;
}

std::string resolved_out_dir(const TrainConfig& config) {
  if (!config.out_dir.empty()) return config.out_dir;
  std::string dir = "runs/" + variant_slug(config);
  if (config.seed != 1) dir += fmt::format("-seed-{}", config.seed);
  return dir;
}

}  // namespace normtrain
