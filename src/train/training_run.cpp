#include "normtrain/train/training_run.hpp"

#include <cstdio>
#include <filesystem>
#include <optional>
#include <ostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <spdlog/version.h>
#include <torch/torch.h>
#include <CLI/Version.hpp>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/data/data_preparation.hpp"
#include "normtrain/data/dataset.hpp"
#include "normtrain/data/mnist.hpp"
#include "normtrain/model/model.hpp"
#include "normtrain/model/model_summary.hpp"
#include "normtrain/report/console_reporter.hpp"
#include "normtrain/report/evaluation_report.hpp"
#include "normtrain/report/metrics_csv.hpp"
#include "normtrain/report/run_record.hpp"
#include "normtrain/train/checkpoint.hpp"
#include "normtrain/train/device.hpp"
#include "normtrain/train/folder_lock.hpp"
#include "normtrain/train/interrupt.hpp"
#include "normtrain/train/run_folder.hpp"
#include "normtrain/train/thread_plan.hpp"
#include "normtrain/train/torch_errors.hpp"
#include "normtrain/train/trainer.hpp"
#include "normtrain/version.hpp"

namespace normtrain {
namespace {

// Where a resumed run picks up: its checkpoint and the epochs already finished.
struct ResumePoint {
  std::filesystem::path checkpoint;
  int completed_epochs = 0;
};

std::map<std::string, std::string> library_versions() {
  return {
      {"normtrain", kVersion},
      {"libtorch", TORCH_VERSION},
      {"fmt",
       fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100)},
      {"spdlog", fmt::format("{}.{}.{}", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH)},
      {"cli11", CLI11_VERSION},
      {"compiler", __VERSION__},
  };
}

RunOutcome train(const TrainConfig& config, const std::optional<ResumePoint>& resume) {
  InterruptGuard interrupt_guard;
  const int threads = apply_thread_count(config.threads);
  const torch::Device device = resolve_device(config.device);
  const std::filesystem::path out_dir = resolved_out_dir(config);

  std::future<void> device_started = start_device(device);
  prepare_data(config);
  const MnistSplit train_split =
      load_mnist_split(config.data_dir, Split::kTrain, config.limit_train);
  const MnistSplit test_split = load_mnist_split(config.data_dir, Split::kTest, config.limit_test);
  device_started.get();
  const DatasetInfo& dataset = dataset_info(config.dataset);
  const TensorDataset train_data = to_tensor_dataset(train_split, device, dataset);
  const TensorDataset test_data = to_tensor_dataset(test_split, device, dataset);
  if (interrupt_requested()) {
    spdlog::warn("interrupted before training started; nothing was trained");
    return RunOutcome::kInterrupted;
  }
  spdlog::info("{}: {} {} training and {} test images from {} on {} ({} thread{})",
               variant_label(config), train_data.size(), dataset.title, test_data.size(),
               config.data_dir, device.str(), threads, threads == 1 ? "" : "s");
  for (const std::string& warning : design_warnings(config, train_data.size())) {
    spdlog::warn("{}", warning);
  }

  torch::manual_seed(config.seed);
  NormNet model(model_options(config));
  model->to(device);
  const std::string summary = model_summary(model);
  write_file_atomically(out_dir / "summary.txt", summary);
  if (!config.quiet && !resume) fmt::print("{}", summary);

  Trainer trainer(model, config);
  if (trainer.step_slices() > 1) {
    spdlog::info(
        "training steps of {} images run as {} slices at once, one thread each (faster than "
        "splitting each operation at batches up to {}); test passes on {} threads",
        config.batch_size, trainer.step_slices(), kMaxImagesForSlicedSteps, threads);
  } else if (trainer.step_threads() < threads) {
    spdlog::info(
        "training steps of {} images run on {} thread{} (fewer than {} images a thread "
        "do not gain from the split); test passes on {}",
        config.batch_size, trainer.step_threads(), trainer.step_threads() == 1 ? "" : "s",
        kMinImagesPerTrainingThread, threads);
  }
  if (device.is_cuda()) spdlog::info("CUDA graphs: {}", trainer.cuda_graphs());
  const std::filesystem::path checkpoint = out_dir / kCheckpointFileName;
  RunRecord record;
  record.config = config;
  record.variant = variant_slug(config);
  record.variant_label = variant_label(config);
  record.device = device.str();
  record.threads = threads;
  record.train_threads = trainer.step_threads();
  record.train_slices = trainer.step_slices();
  record.cuda_graphs = trainer.cuda_graphs();
  record.parameters = count_parameters(*model);
  record.train_examples = train_data.size();
  record.test_examples = test_data.size();
  record.versions = library_versions();
  int first_epoch = 1;
  if (resume) {
    restore_checkpoint(resume->checkpoint, model, trainer.optimizer(), device);
    truncate_run_csvs(out_dir, resume->completed_epochs);
    for (const EpochMetrics& done : read_metrics_csv(out_dir / "metrics.csv")) {
      record_epoch(record, done);
    }
    first_epoch = resume->completed_epochs + 1;
    spdlog::info("resuming {} after epoch {} of {}", out_dir.string(), resume->completed_epochs,
                 config.epochs);
  } else {
    // Epoch 0: lets a run interrupted in its first epoch be resumed too.
    save_checkpoint(checkpoint, model, trainer.optimizer(), config, 0, device);
  }

  RunRecorder recorder(out_dir / "run.json", record);
  MetricsCsvWriter csv(out_dir,
                       resume ? MetricsCsvWriter::Mode::kAppend : MetricsCsvWriter::Mode::kCreate,
                       OptionalCsvs{config.diagnostics_every > 0, config.landscape_every > 0});
  ConsoleReporter console(config.epochs, !config.quiet && stream_is_terminal(stderr));
  const std::vector<TrainingObserver*> observers = {&csv, &recorder, &console};

  try {
    EpochResult last;
    for (int epoch = first_epoch; epoch <= config.epochs; ++epoch) {
      EpochResult result = trainer.run_epoch(
          epoch, train_data, test_data,
          [&](std::int64_t batch, std::int64_t batches) {
            for (TrainingObserver* observer : observers)
              observer->on_batch_end(epoch, batch, batches);
          },
          interrupt_requested);
      recorder.set_cuda_graphs(trainer.cuda_graphs());
      if (result.divergence) {
        const Divergence& diverged = *result.divergence;
        recorder.finish_diverged(diverged.epoch, diverged.step, diverged.reason);
        spdlog::error(
            "training diverged at epoch {}, step {} ({}); try a lower --lr. Epochs 1 to {} "
            "are kept in {}",
            diverged.epoch, diverged.step, diverged.reason, epoch - 1, out_dir.string());
        return RunOutcome::kDiverged;
      }
      if (result.interrupted) {
        recorder.finish("interrupted");
        spdlog::warn(
            "interrupted during epoch {}; epochs 1 to {} are saved in {}. Continue with: "
            "normtrain --resume {}",
            epoch, epoch - 1, out_dir.string(), out_dir.string());
        return RunOutcome::kInterrupted;
      }
      // CSV rows first, then the checkpoint: a resume drops rows past the checkpoint's epoch.
      for (TrainingObserver* observer : observers) observer->on_layer_diagnostics(result.layers);
      for (TrainingObserver* observer : observers) observer->on_landscape(result.landscape);
      for (TrainingObserver* observer : observers) {
        observer->on_epoch_end(result.metrics, result.steps);
      }
      save_checkpoint(checkpoint, model, trainer.optimizer(), config, epoch, device);
      last = std::move(result);
    }

    save_model(model, out_dir / "model.pt");
    write_evaluation_report(out_dir, test_split, to_test_predictions(last.test),
                            config.misclassified, dataset.class_names);
    recorder.finish("completed");
  } catch (...) {
    // run.json must not claim a run that died is still running; but when it cannot be
    // written either (a full disk), the first error is the one to report.
    try {
      recorder.finish("failed");
    } catch (const Error&) {
    }
    throw;
  }
  const RunRecord& done = recorder.record();
  spdlog::info("best test accuracy {:.2f}% (epoch {}), final {:.2f}%; files in {}",
               done.best_test_acc, done.best_test_epoch, done.final_test_acc, out_dir.string());
  return RunOutcome::kCompleted;
}

// Continues the run whose checkpoint is `checkpoint` under the request, its folder locked.
RunOutcome resume_locked(const std::filesystem::path& checkpoint, const ResumeRequest& request,
                         const std::optional<TrainConfig>& expected) {
  const CheckpointInfo saved = read_checkpoint_info(checkpoint);
  if (expected) {
    // run.json said this is the requested run; its checkpoint must say so too.
    const std::vector<std::string> differences = identity_differences(saved.config, *expected);
    if (!differences.empty()) {
      throw UsageError(fmt::format("{} holds a checkpoint of a different run: {}",
                                   checkpoint.string(), fmt::join(differences, "; ")));
    }
  }
  if (request.epochs && *request.epochs != saved.config.epochs &&
      saved.config.schedule.kind == SchedulerKind::kOneCycle) {
    throw UsageError(fmt::format(
        "--epochs cannot change on --resume of a --scheduler onecycle run: its learning rate "
        "depends on the total number of epochs ({}), so past epochs would no longer fit",
        saved.config.epochs));
  }
  TrainConfig config = apply_resume_request(saved.config, request);
  // The run lives where its checkpoint is now, even if its folder was moved.
  config.out_dir = run_folder_of(checkpoint).string();
  validate(config);
  if (saved.epoch >= config.epochs) {
    throw UsageError(fmt::format(
        "--resume {}: the run already has {} of {} epochs; pass --epochs with a larger number "
        "to continue it",
        request.path, saved.epoch, config.epochs));
  }
  return train(config, ResumePoint{checkpoint, saved.epoch});
}

// The --resume request that carries `config`'s environment over to the run saved in its
// folder: what --continue does with an unfinished run of the same configuration.
ResumeRequest continuation_of(const TrainConfig& config, const std::filesystem::path& dir) {
  ResumeRequest request;
  request.path = dir.string();
  request.epochs = config.epochs;
  request.threads = config.threads;
  request.device = config.device;
  request.data_dir = config.data_dir;
  request.misclassified = config.misclassified;
  request.diagnostics_every = config.diagnostics_every;
  request.precise_bn = config.precise_bn;
  request.landscape_every = config.landscape_every;
  request.landscape_steps = config.landscape_steps;
  request.quiet = config.quiet;
  request.download = config.download;
  request.mirror = config.mirror;
  return request;
}

}  // namespace

RunOutcome run_training(const TrainConfig& config, std::ostream& out) {
  return with_torch_errors([&] {
    // Decided before anything is created or locked, so that a refusal touches nothing.
    RunPlan plan = plan_run(config);
    if (config.dry_run) {
      out << fmt::format("{}: {}\n", to_string(plan.action), plan.detail);
      return RunOutcome::kCompleted;
    }
    ensure_writable_dir(plan.dir, "--out");
    const FolderLock lock(plan.dir);
    // Again, now that no other normtrain can change the folder.
    plan = plan_run(config);
    switch (plan.action) {
      case RunAction::kSkip:
        spdlog::info("skipped: {}", plan.detail);
        return RunOutcome::kCompleted;
      case RunAction::kDiverged:
        spdlog::error("not trained again: {}", plan.detail);
        return RunOutcome::kDiverged;
      case RunAction::kResume:
      case RunAction::kExtend:
        return resume_locked(find_checkpoint(plan.dir), continuation_of(config, plan.dir), config);
      case RunAction::kOverwrite:
        spdlog::info("--overwrite: deleting the run in {}", plan.dir.string());
        remove_run_files(plan.dir);
        break;
      case RunAction::kStart:
        break;
    }
    return train(config, std::nullopt);
  });
}

RunOutcome resume_training(const ResumeRequest& request) {
  return with_torch_errors([&] {
    const std::filesystem::path checkpoint = find_checkpoint(request.path);
    const std::filesystem::path dir = run_folder_of(checkpoint);
    ensure_writable_dir(dir, "--resume");
    const FolderLock lock(dir);
    return resume_locked(checkpoint, request, std::nullopt);
  });
}

}  // namespace normtrain
