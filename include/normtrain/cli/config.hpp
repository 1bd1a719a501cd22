#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "normtrain/data/dataset_info.hpp"
#include "normtrain/data/image_input.hpp"
#include "normtrain/train/lr_schedule.hpp"

namespace normtrain {

// The normalization layer of every conv block: batch, layer (one group), group, instance (one
// group per channel) or none at all, all after the block's ReLU; batch renormalization (after
// the ReLU), filter response normalization (whose TLU takes the ReLU's place) or RMS
// normalization (after the ReLU).
enum class NormKind {
  kBatch,
  kLayer,
  kGroup,
  kInstance,
  kNone,
  kBatchRenorm,
  kFilterResponse,
  kRms
};

// What a fresh run does when its --out folder already holds a run: refuse (the default, so
// that no run is ever silently replaced), remove it first (--overwrite), or carry on with it
// when it is a run of this same configuration (--continue: skip it when complete, resume it
// otherwise).
enum class ExistingRunPolicy { kRefuse, kOverwrite, kContinue };

// Whether a CUDA run's training steps replay a captured CUDA graph instead of launching each
// operator: on CUDA whenever the run allows it (auto), always (on: refuse a run that does not
// allow it) or never (off). Replays run the same kernels on the same memory as eager steps.
enum class CudaGraphs { kAuto, kOn, kOff };

// Flag spelling of a norm ("bn", "ln", "gn", "in", "none", "brn", "frn", "rms") and back.
std::string to_flag(NormKind norm);
std::optional<NormKind> norm_from_flag(const std::string& flag);

// Whether the fused ReLU + norm CPU kernels implement `norm` (bn, ln, gn, in, none). The others
// always run LibTorch's operators: --kernels defaults to stock for them and refuses fused.
bool has_fused_kernels(NormKind norm);

// Whether `norm` keeps running statistics for the test pass (bn, brn): what --precise-bn
// recomputes.
bool has_running_statistics(NormKind norm);

// Flag spelling of a --cuda-graphs mode ("auto", "on", "off") and back.
std::string to_flag(CudaGraphs mode);
std::optional<CudaGraphs> cuda_graphs_from_flag(const std::string& flag);

// Batch renormalization's corrections r = clip(sigma_B / sigma, 1 / r_max, r_max) and
// d = clip((mu_B - mu) / sigma, -d_max, d_max), their limits raised linearly from 1 and 0 over
// the first `warmup` training steps (batch normalization at step 0).
struct BatchRenormSpec {
  double r_max = 3.0;
  double d_max = 5.0;
  // About one epoch of the default recipe (469 steps of batch 128): the moving averages that r
  // and d divide by settle within a few dozen steps at momentum 0.1, but follow weights that
  // change fastest in the first epoch. The paper held r_max = 1, d_max = 0 for 5k of its much
  // longer runs' steps, then relaxed them over 20k-35k more.
  std::int64_t warmup = 500;
};

// What a run computes: its identity. Two runs with the same spec produce the same numbers
// wherever and however they run; the spec is saved in the checkpoint and run.json, fixed on
// resume (but for --epochs, which may grow), and what --continue and sweeps compare. The
// defaults reproduce the original notebook's recipe; the command line reads into these
// structs and nothing else invents defaults.
struct RunSpec {
  // Which data set; Fashion-MNIST has MNIST's format and shapes.
  DatasetKind dataset = DatasetKind::kMnist;
  // Which normalization follows each convolution block.
  NormKind norm = NormKind::kBatch;
  // GroupNorm groups; only meaningful for kGroup. Must divide every block's channel count.
  int groups = 8;
  // Batch renormalization's limits; only meaningful for kBatchRenorm.
  BatchRenormSpec batch_renorm;
  // Every 3x3 convolution standardizes its weight per output channel (mean 0, variance 1 over
  // its fan-in) before convolving; with any norm.
  bool weight_standardization = false;
  // Weight of the L1 penalty lambda * sum(|p|) over all parameters; 0 disables it.
  double l1 = 0.0;
  // Passes over the training set.
  int epochs = 20;
  // Training examples per SGD step; the last partial batch is kept.
  int batch_size = 128;
  // SGD learning rate and momentum; no weight decay and no schedule in the original recipe.
  double lr = 0.01;
  double momentum = 0.9;
  // Learning-rate schedule; none keeps lr constant, as the original recipe does.
  ScheduleOptions schedule;
  // Dropout probability after every normalization layer.
  double dropout = 0.0;
  // Fused ReLU + norm CPU kernels over channels-last activations (fast), or LibTorch's own
  // operators in the default layout (the reference they are checked against). Only for norms
  // with fused kernels (has_fused_kernels); the command line resolves its default to stock for
  // the others.
  bool fused_kernels = true;
  // Seeds weight initialisation, shuffling and augmentation.
  std::uint64_t seed = 1;
  // Use only the first N training / test examples; 0 means all.
  std::int64_t limit_train = 0;
  std::int64_t limit_test = 0;
};

// The default cadence of layers.csv: about a hundredth of a step's time per step (see the
// README's "Per-layer diagnostics").
inline constexpr int kDefaultDiagnosticsEvery = 20;

// The default step sizes of a landscape probe, as multiples of the step's learning rate.
inline const std::vector<double> kDefaultLandscapeSteps = {0.5, 1.0, 2.0, 4.0};

// Where and how a run happens. Changing any of it changes no number a run computes (on the
// CPU with the same thread count, not even the last digit), so a resumed run may change it.
struct RunEnvironment {
  // "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
  std::string device = "auto";
  // Intra-op threads; 0 means every core.
  int threads = 0;
  // Folder holding the four IDX files, raw or gzip.
  std::string data_dir = "data/mnist";
  // Download missing MNIST files; where from (empty: NORMTRAIN_MNIST_MIRROR or the defaults).
  bool download = true;
  std::string mirror;
  // Output folder; empty means runs/<variant slug>.
  std::string out_dir;
  // How many wrongly classified test images misclassified.png shows; 0 writes none.
  int misclassified = 10;
  // layers.csv gets a row per normalized block at step 1 and every this many steps after;
  // 0 writes none. It observes the step and changes nothing the run computes.
  int diagnostics_every = kDefaultDiagnosticsEvery;
  // After each epoch, also test with BatchNorm statistics recomputed from this many training
  // images under the epoch's weights (precise_batch_norm.hpp); 0 = not. bn and brn only. The
  // trained model and its saved statistics stay as they are.
  std::int64_t precise_bn = 0;
  // landscape.csv and landscape_summary.csv probe the loss along the gradient at step 1 and
  // every this many steps after (landscape_probe.hpp); 0 = never. Each probe costs about one
  // training step per step size, and changes nothing the run computes.
  int landscape_every = 0;
  // The probes' step sizes, as multiples of the step's learning rate.
  std::vector<double> landscape_steps = kDefaultLandscapeSteps;
  // Capture the CUDA training step once and replay it (cuda_graph.hpp); CPU runs ignore auto.
  CudaGraphs cuda_graphs = CudaGraphs::kAuto;
  // No summary, no per-epoch lines, no progress bar.
  bool quiet = false;
};

// Why a training step of `spec` cannot be replayed from a captured CUDA graph, or nothing
// when it can. A graph replays its kernels with the arguments they were captured with, so the
// step may keep no state on the host that changes from step to step.
std::optional<std::string> why_steps_cannot_be_captured(const RunSpec& spec);

// A fresh training command: the run's spec, the environment it runs in, and what the command
// does besides training.
struct TrainConfig : RunSpec, RunEnvironment {
  // Only check the data files against the official MNIST checksums, then exit.
  bool verify_data = false;
  // What to do when out_dir already holds a run.
  ExistingRunPolicy existing_run = ExistingRunPolicy::kRefuse;
  // Only say what the command would do with out_dir (start, resume, skip, ...), then exit.
  bool dry_run = false;
};

// `normtrain --resume PATH`: continue a saved run with its saved configuration, changed only
// by the flags that cannot alter its results (or, for --epochs, only extend them).
struct ResumeRequest {
  std::string path;  // the run folder or its checkpoint file
  std::optional<int> epochs;
  std::optional<int> threads;
  std::optional<std::string> device;
  std::optional<std::string> data_dir;
  std::optional<int> misclassified;
  std::optional<int> diagnostics_every;
  std::optional<std::int64_t> precise_bn;
  std::optional<int> landscape_every;
  std::optional<std::vector<double>> landscape_steps;
  std::optional<CudaGraphs> cuda_graphs;
  bool quiet = false;
  bool download = true;
  std::string mirror;
};

// `normtrain predict`: classify the user's own images with a trained run's model.
struct PredictRequest {
  std::string checkpoint;  // a run folder or its checkpoint file
  std::vector<std::string> images;
  Polarity polarity = Polarity::kAuto;
  bool json = false;  // one JSON array on stdout instead of a line per image
  std::string device = "auto";
  int threads = 0;
};

// `normtrain eval`: test a trained run's model without training, writing confusion.csv and the
// misclassified images.
struct EvalRequest {
  std::string checkpoint;
  std::optional<std::string> data_dir;  // default: the run's own
  std::optional<std::int64_t> limit_test;
  // Also test with precise BatchNorm statistics from this many training images; 0 = not.
  std::int64_t precise_bn = 0;
  std::string out_dir;  // default: the run's folder
  int misclassified = 10;
  std::string device = "auto";
  int threads = 0;
  bool quiet = false;
  bool download = true;
  std::string mirror;
};

// The options that decide what a run computes: its identity. Two runs with the same identity
// (and epochs) produce the same numbers, whatever the device, threads, data folder or output
// options; a resumed run keeps them, and a folder holding another identity is another run.
// Each entry is the option's flag and its value as the command line spells it; options that
// do not apply to the configuration (--groups without --norm gn, a scheduler's parameters
// under another scheduler) are left out. --epochs is not among them: a run can be extended.
struct IdentityFlag {
  std::string flag;
  std::string value;
};
std::vector<IdentityFlag> identity_flags(const RunSpec& spec);

// Throws a usage Error for the first flag in `given` that is part of the identity table but
// does not apply to `spec` (--groups without --norm gn, --lr with --scheduler onecycle, ...):
// a flag given must take effect.
void check_identity_flags_apply(const RunSpec& spec, const std::vector<std::string>& given);

// Every flag that can be part of a run's identity, whatever the configuration.
const std::vector<std::string>& identity_flag_names();

// The identity flags whose values differ, each as "--lr 0.01 (saved) vs 0.05 (requested)";
// empty when both configurations are the same run.
std::vector<std::string> identity_differences(const RunSpec& saved, const RunSpec& requested);

// The saved configuration with the request's changes applied.
TrainConfig apply_resume_request(TrainConfig saved, const ResumeRequest& request);

// Throws a usage Error naming the offending flag when a value is out of range.
void validate(const TrainConfig& config);

// The part of validate() that the predict and eval subcommands share with training.
void validate_device_and_threads(const std::string& device, int threads);

// Designs that train but cannot learn, or not what they seem, on this network with
// `train_examples` training images: one sentence each saying why, for the run to print at its
// start. Empty for a sound design.
std::vector<std::string> design_warnings(const RunSpec& config, std::int64_t train_examples);

// Short, file-system-safe name of the variant, e.g. "bn-l1-0.01", "ln", "gn-8".
std::string variant_slug(const RunSpec& config);
// Human name used in legends and tables, e.g. "BN + L1 0.01", "LN", "GN (8 groups)".
std::string variant_label(const RunSpec& config);
// The folder a run writes to: out_dir, or runs/<variant slug> when none was given, with
// "-seed-N" appended when the seed is not 1 (runs/gn-8-seed-2), so that seeds do not share one.
std::string resolved_out_dir(const TrainConfig& config);

}  // namespace normtrain
