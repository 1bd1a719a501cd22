#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "normtrain/cli/config.hpp"
#include "normtrain/train/training_observer.hpp"

namespace normtrain {

// Everything run.json says about a run: how it was configured, where it ran, how it went.
struct RunRecord {
  TrainConfig config;
  std::string variant;        // e.g. "gn-8"
  std::string variant_label;  // e.g. "GN (8 groups)"
  std::string device;         // e.g. "cpu", "cuda:0 (NVIDIA H200)"
  int threads = 0;
  int train_threads = 0;  // of `threads`, those a training step uses (thread_plan.hpp)
  // Slices of a batch a training step computes at once, each on train_threads threads: 2 for
  // small batches of models without batch statistics (thread_plan.hpp), else 1.
  int train_slices = 1;
  // "on" when CUDA training steps replay a captured graph, else "off: " and why (trainer.hpp).
  std::string cuda_graphs;
  std::int64_t parameters = 0;
  std::int64_t train_examples = 0;
  std::int64_t test_examples = 0;
  std::map<std::string, std::string> versions;  // library name -> version
  std::string started_at;                       // UTC, ISO 8601
  std::string finished_at;
  std::string status = "running";  // running, completed, interrupted, failed, diverged
  // Where training diverged (status "diverged"): the epoch, the step over the whole run (as in
  // steps.csv) and what was not finite.
  int diverged_epoch = 0;
  std::int64_t diverged_step = 0;
  std::string diverged_reason;
  int epochs_completed = 0;
  double best_train_acc = 0.0;
  int best_train_epoch = 0;
  double best_test_acc = 0.0;
  int best_test_epoch = 0;
  double final_test_acc = 0.0;
  double final_test_loss = 0.0;
  double train_seconds = 0.0;  // sum of the epochs' training passes
  double total_seconds = 0.0;  // wall time from start to the last write
};

// Folds one finished epoch into the best / final figures.
void record_epoch(RunRecord& record, const EpochMetrics& epoch);

std::string to_json_text(const RunRecord& record);

// The current UTC time as "2026-11-23T12:34:56Z".
std::string utc_timestamp();

// Keeps run.json current: written at the start, after every epoch and at the end, each time
// atomically, so that a reader never sees half a file.
class RunRecorder : public TrainingObserver {
 public:
  RunRecorder(std::filesystem::path path, RunRecord record);

  void on_epoch_end(const EpochMetrics& epoch, const std::vector<StepMetrics>& steps) override;
  void finish(const std::string& status);
  // Whether training steps replay CUDA graphs, as it stands now (a failed capture turns them
  // off); written with the next update.
  void set_cuda_graphs(const std::string& cuda_graphs) { record_.cuda_graphs = cuda_graphs; }
  // Marks the run "diverged" at `step` of `epoch`, for `reason`.
  void finish_diverged(int epoch, std::int64_t step, const std::string& reason);
  const RunRecord& record() const { return record_; }

 private:
  void write();

  std::filesystem::path path_;
  RunRecord record_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace normtrain
