// Where does a training step's time go? Times the phases of one SGD step (data, forward,
// backward, optimizer) and each layer's forward pass, as medians over many steps.
// Usage: normtrain_profile [--norm bn|ln|gn|in|none|brn|frn|rms] [--groups N] [--l1 X]
//                          [--weight-standardization] [--kernels fused|stock]
//                          [--batch-size N] [--threads N] [--steps N] [--trace FILE.json]
//                          [--eval-batch N] [--slices 1|2]
// --eval-batch N instead times evaluate() (the test pass) on 10,000 images in batches of N.
// --trace also records every operator of the timed steps with LibTorch's autograd profiler, as a
// Chrome trace (chrome://tracing); bench/trace_summary.py totals it per operator.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include "normtrain/data/batches.hpp"
#include "normtrain/model/kernels/kernel_threads.hpp"
#include "normtrain/model/model.hpp"
#include "normtrain/train/allocator_tuning.hpp"
#include "normtrain/train/objective.hpp"
#include "normtrain/train/sgd_step.hpp"
#include "normtrain/train/sliced_gradients.hpp"
#include "normtrain/train/trainer.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  normtrain::keep_freed_memory_for_reuse();
  normtrain::TrainConfig config;
  std::string norm = "gn";
  std::string kernels = "fused";
  int steps = 60;
  std::string trace_path;
  CLI::App app{"Time the phases of a normtrain training step"};
  app.add_option("--norm", norm)
      ->check(CLI::IsMember({"bn", "ln", "gn", "in", "none", "brn", "frn", "rms"}));
  app.add_option("--groups", config.groups);
  app.add_flag("--weight-standardization", config.weight_standardization);
  int batch_size = 128;
  app.add_option("--batch-size", batch_size)->check(CLI::PositiveNumber);
  app.add_option("--l1", config.l1);
  app.add_option("--kernels", kernels)->check(CLI::IsMember({"fused", "stock"}));
  app.add_option("--threads", config.threads);
  app.add_option("--steps", steps);
  int slices = 1;
  app.add_option("--slices", slices,
                 "2: the batch's forward and backward passes as two concurrent slices, one "
                 "thread each, as the trainer runs small batches without batch statistics")
      ->check(CLI::Range(1, 2));
  app.add_option("--trace", trace_path, "Chrome trace of the timed steps' operators");
  std::int64_t eval_batch = 0;
  app.add_option("--eval-batch", eval_batch, "Time the test pass on 10,000 images instead")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  config.norm = *normtrain::norm_from_flag(norm);
  config.fused_kernels = kernels == "fused" && normtrain::has_fused_kernels(config.norm);
  torch::set_num_threads(config.threads > 0 ? config.threads : 2);

  // Synthetic data of MNIST's size: timing does not depend on pixel values.
  torch::manual_seed(0);
  normtrain::TensorDataset data{torch::randint(0, 256, {60000, 28, 28}, torch::kUInt8),
                                torch::randint(0, 10, {60000}, torch::kInt64)};
  normtrain::NormNet model(normtrain::model_options(config));
  if (eval_batch > 0) {
    const normtrain::TensorDataset test{data.images.slice(0, 0, 10000),
                                        data.labels.slice(0, 0, 10000)};
    std::vector<double> passes;
    for (int pass = 0; pass < std::max(steps / 10, 1) + 1; ++pass) {
      const auto t = Clock::now();
      normtrain::evaluate(model, test, eval_batch);
      if (pass > 0) passes.push_back(ms_since(t));  // the first warms up
    }
    fmt::print(
        "{} {} kernels, {} threads, test pass of 10,000 images in batches of {}: {:.1f} ms "
        "(median of {})\n",
        norm, kernels, torch::get_num_threads(), eval_batch, median(passes), passes.size());
    return 0;
  }
  std::vector<torch::Tensor> params = model->parameters();
  torch::optim::SGD optimizer(params, torch::optim::SGDOptions(0.01).momentum(0.9));
  const normtrain::EpochBatches batches(data, batch_size, 1, 1);
  std::unique_ptr<normtrain::SlicedGradients> sliced;
  if (slices == 2) {
    torch::set_num_threads(1);  // one thread a slice
    sliced = std::make_unique<normtrain::SlicedGradients>(model, params);
  }

  std::map<std::string, std::vector<double>> phases;
  std::map<std::string, std::vector<double>> layers;
  std::unique_ptr<torch::autograd::profiler::RecordProfile> trace;
  for (int step = 0; step < steps + 10; ++step) {
    const bool record = step >= 10;  // the first steps warm up allocators and JIT kernels
    if (step == 10 && !trace_path.empty()) {
      trace = std::make_unique<torch::autograd::profiler::RecordProfile>(trace_path);
    }
    auto t = Clock::now();
    const normtrain::Batch batch = batches[step % batches.size()];
    const double data_ms = ms_since(t);
    t = Clock::now();
    double forward_ms = 0.0;
    double backward_ms = 0.0;
    if (sliced) {
      // Both passes at once: the phases' sum goes to "forward", the penalty to "backward".
      const torch::Tensor out = sliced->compute(batch.inputs, batch.targets);
      normtrain::objective_terms(out, batch.targets, params, config.l1);
      forward_ms = ms_since(t);
      t = Clock::now();
      normtrain::add_l1_subgradient(params, config.l1);
      backward_ms = ms_since(t);
    } else {
      optimizer.zero_grad();
      const torch::Tensor out = model->forward(batch.inputs);
      const normtrain::ObjectiveTerms terms =
          normtrain::objective_terms(out, batch.targets, params, config.l1);
      forward_ms = ms_since(t);
      t = Clock::now();
      terms.nll.backward();
      normtrain::add_l1_subgradient(params, config.l1);
      backward_ms = ms_since(t);
    }
    t = Clock::now();
    normtrain::sgd_step(optimizer);
    const double step_ms = ms_since(t);
    if (!record) continue;
    phases["1 data + augmentation"].push_back(data_ms);
    phases["2 forward + loss"].push_back(forward_ms);
    phases["3 backward"].push_back(backward_ms);
    phases["4 optimizer step"].push_back(step_ms);
    phases["5 total"].push_back(data_ms + forward_ms + backward_ms + step_ms);
  }
  trace.reset();  // writes the trace file

  // Per-layer forward times, after the steps: between steps they would let the slices' helper
  // thread fall asleep, and the next step pay for waking it.
  for (int pass = 0; pass < steps && trace_path.empty(); ++pass) {
    const normtrain::Batch batch = batches[pass % batches.size()];
    torch::Tensor x =
        config.fused_kernels ? normtrain::as_channels_last(batch.inputs) : batch.inputs;
    int index = 0;
    for (torch::nn::AnyModule& layer : *model->layers()) {
      const auto t = Clock::now();
      x = layer.forward(x);
      layers[fmt::format("{:02d} {}", ++index, layer.ptr()->name())].push_back(ms_since(t));
    }
  }
  fmt::print("{} {} kernels, batch {}, {} threads, median of {} steps (ms)\n", norm,
             config.fused_kernels ? "fused" : "stock", batch_size, torch::get_num_threads(), steps);
  if (sliced)
    fmt::print("  two concurrent slices: phase 2 holds the forward and backward passes\n");
  if (config.fused_kernels) {
    fmt::print("  the fused kernels split a batch over {} thread(s)\n",
               normtrain::fused_kernel_threads(batch_size));
  }
  for (const auto& [name, values] : phases) fmt::print("  {:<28} {:7.2f}\n", name, median(values));
  fmt::print("forward per layer (ms):\n");
  for (const auto& [name, values] : layers) fmt::print("  {:<40} {:7.3f}\n", name, median(values));
  return 0;
}
