#include "normtrain/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "normtrain/common/error.hpp"
#include "normtrain/data/batches.hpp"
#include "normtrain/model/convolution_check.hpp"
#include "normtrain/train/cuda_graph.hpp"
#include "normtrain/train/device.hpp"
#include "normtrain/train/divergence_watch.hpp"
#include "normtrain/train/graphed_step.hpp"
#include "normtrain/train/graphed_test_pass.hpp"
#include "normtrain/train/landscape_probe.hpp"
#include "normtrain/train/layer_diagnostics.hpp"
#include "normtrain/train/lr_schedule.hpp"
#include "normtrain/train/objective.hpp"
#include "normtrain/train/precise_batch_norm.hpp"
#include "normtrain/train/sgd_step.hpp"
#include "normtrain/train/sliced_gradients.hpp"
#include "normtrain/train/thread_plan.hpp"

namespace normtrain {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The model's state that a diverging step can break: its parameters and its floating-point
// buffers (BatchNorm's running statistics, which a test pass uses).
std::vector<torch::Tensor> model_state(const NormNet& model) {
  std::vector<torch::Tensor> state = model->parameters();
  for (const torch::Tensor& buffer : model->buffers()) {
    if (buffer.is_floating_point()) state.push_back(buffer);
  }
  return state;
}

// Whether an observer with cadence `every` (--diagnostics-every, --landscape-every) looks at
// 1-based `step`: step 1 and every `every` steps after; never when `every` is 0.
bool is_observed_step(std::int64_t step, int every) {
  return every > 0 && (step - 1) % every == 0;
}

// Whether a training step's output for an example depends on that example alone, with no
// random numbers drawn: what cutting the batch into concurrent slices needs. Norms with batch
// statistics (bn, brn) see the whole batch; dropout's masks would depend on which slice drew
// from the generator first.
bool examples_are_independent(const TrainConfig& config) {
  return !has_running_statistics(config.norm) && config.dropout == 0.0;
}

// How many concurrent slices a step of `config`'s batches is cut into (thread_plan.hpp).
int slice_count(const TrainConfig& config, bool on_cpu) {
  if (!on_cpu) return 1;
  return training_slice_count(config.batch_size, torch::get_num_threads(),
                              examples_are_independent(config));
}

// The CPU threads each slice of a step uses: one when the step is sliced, else as many as keep
// kMinImagesPerTrainingThread images each (thread_plan.hpp); on a GPU LibTorch's count.
int step_thread_count(const TrainConfig& config, bool on_cpu, int slices) {
  if (!on_cpu) return torch::get_num_threads();
  if (slices > 1) return 1;
  return training_thread_count(config.batch_size, torch::get_num_threads());
}

// Why the training steps of `config` on this device cannot replay a CUDA graph, or nothing.
std::optional<std::string> why_no_cuda_graphs(const TrainConfig& config, bool on_cuda) {
  if (config.cuda_graphs == CudaGraphs::kOff) return std::string("--cuda-graphs off");
  if (!on_cuda) return std::string("training runs on the CPU");
  if (std::optional<std::string> why = why_steps_cannot_be_captured(config)) return why;
  if (!cuda_graphs_built()) {
    return std::string("this build has no CUDA graphs (its LibTorch has no CUDA library)");
  }
  return std::nullopt;
}

// An exception's message, for LibTorch's errors without the C++ backtrace they carry.
std::string message_of(const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  return torch_error != nullptr ? torch_error->what_without_backtrace() : error.what();
}

}  // namespace

torch::Tensor log_probabilities(NormNet& model, const TensorDataset& data,
                                std::int64_t batch_size) {
  TORCH_CHECK(batch_size > 1, "log_probabilities: the batch size must be at least 2, got ",
              batch_size);
  model->eval();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> batches;
  for (std::int64_t start = 0; start < data.size(); start += batch_size) {
    const std::int64_t count = std::min(batch_size, data.size() - start);
    // oneDNN convolves a lone image with other kernels than a batch, which round differently:
    // a last batch of one is sent with the image before it, whose result is dropped.
    const std::int64_t extra = count == 1 && start > 0 ? 1 : 0;
    const Batch batch = plain_batch(data, start - extra, count + extra);
    batches.push_back(model->forward(batch.inputs).slice(0, extra));
  }
  return torch::cat(batches);
}

EvalResult evaluate(NormNet& model, const TensorDataset& data, std::int64_t batch_size) {
  return evaluation_of(log_probabilities(model, data, batch_size), data);
}

EvalResult evaluation_of(const torch::Tensor& log_probs, const TensorDataset& data) {
  torch::NoGradGuard no_grad;
  const auto [best_log_prob, predicted] = log_probs.max(1);
  EvalResult result;
  result.predictions = predicted.cpu();
  result.confidences = best_log_prob.exp().cpu();
  result.correct = result.predictions.eq(data.labels.cpu()).sum().item<std::int64_t>();
  // The per-example losses added one by one in example order: a sum per batch would round
  // differently for every batch size.
  const torch::Tensor losses =
      torch::nll_loss(log_probs, data.labels, /*weight=*/{}, at::Reduction::None)
          .to(torch::kCPU, torch::kFloat64)
          .contiguous();
  const double* loss_at = losses.data_ptr<double>();
  double loss_sum = 0.0;
  for (std::int64_t i = 0; i < losses.numel(); ++i) loss_sum += loss_at[i];
  result.loss = loss_sum / static_cast<double>(data.size());
  result.accuracy = 100.0 * static_cast<double>(result.correct) / static_cast<double>(data.size());
  return result;
}

TestPredictions to_test_predictions(const EvalResult& result) {
  const torch::Tensor predicted = result.predictions.to(torch::kUInt8).contiguous();
  const torch::Tensor confidence = result.confidences.to(torch::kFloat32).contiguous();
  TestPredictions out;
  out.predicted.assign(predicted.data_ptr<std::uint8_t>(),
                       predicted.data_ptr<std::uint8_t>() + predicted.numel());
  out.confidence.assign(confidence.data_ptr<float>(),
                        confidence.data_ptr<float>() + confidence.numel());
  return out;
}

Trainer::Trainer(NormNet model, const TrainConfig& config)
    : model_(std::move(model)),
      config_(config),
      parameters_(model_->parameters()),
      state_(model_state(model_)),
      optimizer_(parameters_, torch::optim::SGDOptions(config.lr).momentum(config.momentum)),
      step_slices_(slice_count(config, parameters_.front().is_cpu())),
      step_threads_(step_thread_count(config, parameters_.front().is_cpu(), step_slices_)) {
  const std::optional<std::string> no_graphs =
      why_no_cuda_graphs(config, parameters_.front().is_cuda());
  if (no_graphs && config.cuda_graphs == CudaGraphs::kOn) {
    throw RuntimeError(
        fmt::format("--cuda-graphs on: {}; use --cuda-graphs auto or off", *no_graphs));
  }
  if (!no_graphs) {
    graphed_ = std::make_unique<GraphedStep>(config.batch_size, parameters_.front().device());
    graphed_diagnosed_ =
        std::make_unique<GraphedStep>(config.batch_size, parameters_.front().device());
    graphed_test_ = std::make_unique<GraphedTestPass>();
  }
  cuda_graphs_ = no_graphs ? "off: " + *no_graphs : "on";
  // Before the first step, with the steps' threads and batch sizes: a wrong convolution must
  // not train silently.
  const ScopedThreadCount threads(step_threads_);
  // Observed steps (diagnostics, landscape probes) run whole batches even when the others are
  // sliced.
  ensure_correct_convolutions(model_, config.batch_size, ConvolutionUse::kTraining);
  if (step_slices_ > 1) {
    sliced_ = std::make_unique<SlicedGradients>(model_, parameters_);
    const std::int64_t half = config.batch_size / 2;
    ensure_correct_convolutions(model_, half, ConvolutionUse::kTraining);
    if (config.batch_size - half != half) {
      ensure_correct_convolutions(model_, config.batch_size - half, ConvolutionUse::kTraining);
    }
  }
}

Trainer::~Trainer() = default;

EpochResult Trainer::run_epoch(int epoch, const TensorDataset& train, const TensorDataset& test,
                               const BatchCallback& on_batch, const StopCheck& stop_requested) {
  const auto train_start = std::chrono::steady_clock::now();
  model_->train();
  const EpochBatches batches(train, config_.batch_size, config_.seed, epoch);
  const std::int64_t batch_count = batches.size();
  const LearningRateSchedule schedule(config_.schedule, config_.lr, config_.epochs, batch_count);
  auto& sgd_options =
      static_cast<torch::optim::SGDOptions&>(optimizer_.param_groups().front().options());

  // Per-batch figures stay on the device until the epoch ends: reading one per batch would
  // stall a GPU on every step.
  std::vector<torch::Tensor> losses;
  std::vector<torch::Tensor> nlls;
  std::vector<torch::Tensor> correct;
  std::vector<std::int64_t> sizes;
  // The diagnostics steps and their values, also read when the epoch ends.
  std::vector<std::int64_t> diagnosed_steps;
  std::vector<torch::Tensor> diagnosed_values;
  std::vector<LandscapeProbe> landscape;
  DivergenceWatch watch(state_, parameters_.front().is_cuda() ? kDeviceDivergenceCheckEvery : 1);
  losses.reserve(batch_count);
  nlls.reserve(batch_count);
  correct.reserve(batch_count);
  // Until the test pass, which splits its large batches between every thread.
  std::optional<ScopedThreadCount> threads(std::in_place, step_threads_);
  // Graphs are captured on a stream other than the default; the whole epoch runs there, in
  // order, the eager steps and the test pass too.
  std::optional<CudaStreamScope> stream;
  if (graphed_) stream.emplace(static_cast<int>(parameters_.front().device().index()));
  for (std::int64_t i = 0; i < batch_count; ++i) {
    // Asked before each batch, so that a stop after the last one keeps the finished epoch.
    if (stop_requested && stop_requested()) {
      EpochResult stopped;
      stopped.interrupted = true;
      return stopped;
    }
    const std::int64_t step = (epoch - 1) * batch_count + i + 1;
    const bool diagnose = is_observed_step(step, config_.diagnostics_every);
    const bool probe = is_observed_step(step, config_.landscape_every);
    sgd_options.lr(schedule.lr_at(epoch, i));
    // Landscape probes, partial batches and the first steps of a run stay eager.
    const torch::Tensor figures = graphed_ && !probe && steps_taken_ >= kEagerStepsBeforeCapture &&
                                          (i + 1) * config_.batch_size <= train.size()
                                      ? graphed_step(batches, i, train, watch, diagnose)
                                      : torch::Tensor();
    ++steps_taken_;
    if (figures.defined()) {
      // A diagnostics step's figures come in float64, before its values: back to float32,
      // exactly, as the other steps' are.
      const torch::Tensor head = diagnose ? figures.slice(0, 0, 4).to(torch::kFloat32) : figures;
      losses.push_back(head[0]);
      nlls.push_back(head[1]);
      correct.push_back(head[2]);
      watch.record(head[0], head[3]);
      sizes.push_back(config_.batch_size);
      if (diagnose) {
        diagnosed_steps.push_back(step);
        diagnosed_values.push_back(figures.slice(0, 4));
      }
    } else {
      const Batch batch = batches[i];
      std::optional<ForwardPassState> before_forward;
      if (probe) before_forward.emplace(model_);
      // Observed steps run the whole batch at once, as the observers' own passes do.
      const bool sliced = sliced_ && !diagnose && !probe && batch.targets.size(0) >= 2;
      // A diagnostics step runs the same forward pass, handing out what enters and leaves each
      // norm on the way.
      std::vector<NormSiteActivations> taps;
      torch::Tensor log_probs;
      if (sliced) {
        log_probs = sliced_->compute(batch.inputs, batch.targets);  // sets the gradients
      } else {
        // A captured graph keeps writing to the gradients' memory: they must stay where they are.
        if (graphed_) {
          zero_gradients_in_place(parameters_);
        } else {
          optimizer_.zero_grad();
        }
        log_probs = diagnose ? model_->forward(batch.inputs, taps) : model_->forward(batch.inputs);
      }
      const ObjectiveTerms terms =
          objective_terms(log_probs, batch.targets, parameters_, config_.l1);
      const torch::Tensor& nll = terms.nll;
      const torch::Tensor& loss = terms.total;
      if (!sliced) nll.backward();
      add_l1_subgradient(parameters_, config_.l1);
      if (probe) {
        const ProbedStep probed{step,           epoch, batch, loss, config_.l1, sgd_options.lr(),
                                *before_forward};
        landscape.push_back(probe_landscape(model_, parameters_, probed, config_.landscape_steps));
      }
      const std::vector<torch::Tensor> weights_before =
          diagnose ? block_conv_weights(model_) : std::vector<torch::Tensor>();
      sgd_step(optimizer_);
      if (diagnose) {
        diagnosed_steps.push_back(step);
        diagnosed_values.push_back(layer_diagnostics_values(model_, taps, weights_before));
      }

      losses.push_back(loss);  // a value already, without a graph
      nlls.push_back(nll.detach());
      correct.push_back(log_probs.detach().argmax(1).eq(batch.targets).sum());
      watch.record(loss);
      sizes.push_back(batch.targets.size(0));
    }
    if (const std::optional<DivergedStep> failed = watch.poll(i + 1 == batch_count)) {
      EpochResult diverged;
      diverged.divergence =
          Divergence{epoch, (epoch - 1) * batch_count + failed->index + 1, failed->reason};
      return diverged;
    }
    if (on_batch) on_batch(i + 1, batch_count);
  }
  const torch::Tensor loss_values = torch::stack(losses).to(torch::kCPU, torch::kFloat64);
  const torch::Tensor nll_values = torch::stack(nlls).to(torch::kCPU, torch::kFloat64);
  // Graphed steps count their correct predictions in float (exact to 2^24), eager ones in int64.
  const torch::Tensor correct_values = torch::stack(correct).to(torch::kCPU, torch::kInt64);
  const double train_seconds = seconds_since(train_start);
  threads.reset();

  EpochResult result;
  if (!diagnosed_values.empty()) {
    const std::vector<torch::Tensor> read =
        torch::stack(diagnosed_values).to(torch::kCPU).unbind(/*dim=*/0);
    for (std::size_t d = 0; d < read.size(); ++d) {
      std::vector<LayerDiagnostics> rows =
          layer_diagnostics_rows(model_, read[d], diagnosed_steps[d], epoch);
      result.layers.insert(result.layers.end(), std::make_move_iterator(rows.begin()),
                           std::make_move_iterator(rows.end()));
    }
  }
  result.landscape = std::move(landscape);
  const auto loss_at = loss_values.accessor<double, 1>();
  const auto nll_at = nll_values.accessor<double, 1>();
  const auto correct_at = correct_values.accessor<std::int64_t, 1>();
  double loss_sum = 0.0;
  double nll_sum = 0.0;
  std::int64_t seen = 0;
  std::int64_t right = 0;
  for (std::int64_t i = 0; i < batch_count; ++i) {
    loss_sum += loss_at[i] * static_cast<double>(sizes[i]);
    nll_sum += nll_at[i] * static_cast<double>(sizes[i]);
    seen += sizes[i];
    right += correct_at[i];
    result.steps.push_back({(epoch - 1) * batch_count + i + 1, epoch, i + 1, loss_at[i],
                            100.0 * static_cast<double>(right) / static_cast<double>(seen)});
  }

  const auto test_start = std::chrono::steady_clock::now();
  result.test = test_pass(test);
  const EvalResult& tested = result.test;
  if (!std::isfinite(tested.loss)) {
    // Training stayed finite, yet the trained model is not: divergence all the same.
    EpochResult diverged;
    diverged.divergence =
        Divergence{epoch, epoch * batch_count,
                   fmt::format("test loss {}", std::isnan(tested.loss) ? "nan" : "inf")};
    return diverged;
  }
  EpochMetrics& m = result.metrics;
  m.epoch = epoch;
  m.train_loss = loss_sum / static_cast<double>(seen);
  m.train_nll = nll_sum / static_cast<double>(seen);
  m.train_acc = 100.0 * static_cast<double>(right) / static_cast<double>(seen);
  m.test_loss = tested.loss;
  m.test_acc = tested.accuracy;
  m.lr = sgd_options.lr();  // the rate of the epoch's last step
  m.train_seconds = train_seconds;
  m.test_seconds = seconds_since(test_start);
  if (config_.precise_bn > 0) {
    const EvalResult precise = evaluate_with_precise_statistics(model_, train, config_.precise_bn,
                                                                config_.batch_size, test);
    m.test_loss_precise = precise.loss;
    m.test_acc_precise = precise.accuracy;
  }
  return result;
}

EvalResult Trainer::test_pass(const TensorDataset& test) {
  if (!graphed_test_) return evaluate(model_, test);
  try {
    return evaluation_of(graphed_test_->run(model_, test, kEvalBatchSize), test);
  } catch (const std::exception& error) {
    spdlog::warn("the test pass could not be captured as a CUDA graph ({}); testing on without",
                 message_of(error));
    graphed_test_.reset();
    return evaluate(model_, test);
  }
}

torch::Tensor Trainer::graphed_step(const EpochBatches& batches, std::int64_t index,
                                    const TensorDataset& train, const DivergenceWatch& watch,
                                    bool diagnose) {
  // The same work as an eager step on a whole batch, gradients zeroed in place.
  const auto body = [&](const torch::Tensor& picked, const torch::Tensor& angles) {
    const Batch batch = drawn_batch(train, picked, angles);
    zero_gradients_in_place(parameters_);
    std::vector<NormSiteActivations> taps;
    const torch::Tensor log_probs =
        diagnose ? model_->forward(batch.inputs, taps) : model_->forward(batch.inputs);
    const ObjectiveTerms terms = objective_terms(log_probs, batch.targets, parameters_, config_.l1);
    terms.nll.backward();
    add_l1_subgradient(parameters_, config_.l1);
    const std::vector<torch::Tensor> weights_before =
        diagnose ? block_conv_weights(model_) : std::vector<torch::Tensor>();
    sgd_step(optimizer_);
    torch::NoGradGuard no_grad;
    const torch::Tensor correct =
        log_probs.detach().argmax(1).eq(batch.targets).sum().to(torch::kFloat);
    const torch::Tensor figures =
        torch::stack({terms.total, terms.nll.detach(), correct, watch.check_value(terms.total)});
    if (!diagnose) return figures;
    return torch::cat(
        {figures.to(torch::kFloat64), layer_diagnostics_values(model_, taps, weights_before)});
  };
  const double lr =
      static_cast<torch::optim::SGDOptions&>(optimizer_.param_groups().front().options()).lr();
  try {
    GraphedStep& graphed = diagnose ? *graphed_diagnosed_ : *graphed_;
    return graphed.run(batches.picked(index), batches.angles(index), lr, body);
  } catch (const std::exception& error) {
    if (config_.cuda_graphs == CudaGraphs::kOn) {
      throw RuntimeError(
          fmt::format("--cuda-graphs on: the training step could not be captured "
                      "as a CUDA graph ({}); use --cuda-graphs off",
                      message_of(error)));
    }
    spdlog::warn(
        "the training step could not be captured as a CUDA graph ({}); training on without "
        "graphs (--cuda-graphs off skips the attempt)",
        message_of(error));
    graphed_.reset();
    graphed_diagnosed_.reset();
    graphed_test_.reset();  // it would replay on the stream that goes with the step's graphs
    cuda_graphs_ = "off: the step could not be captured";
    return torch::Tensor();
  }
}

}  // namespace normtrain
