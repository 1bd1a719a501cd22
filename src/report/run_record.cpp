#include "normtrain/report/run_record.hpp"

#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "normtrain/cli/config_json.hpp"
#include "normtrain/common/file_io.hpp"

namespace normtrain {
void record_epoch(RunRecord& record, const EpochMetrics& epoch) {
  record.epochs_completed = epoch.epoch;
  // Ties keep the earliest epoch: the first time an accuracy was reached.
  if (record.best_train_epoch == 0 || epoch.train_acc > record.best_train_acc) {
    record.best_train_acc = epoch.train_acc;
    record.best_train_epoch = epoch.epoch;
  }
  if (record.best_test_epoch == 0 || epoch.test_acc > record.best_test_acc) {
    record.best_test_acc = epoch.test_acc;
    record.best_test_epoch = epoch.epoch;
  }
  record.final_test_acc = epoch.test_acc;
  record.final_test_loss = epoch.test_loss;
  record.train_seconds += epoch.train_seconds;
}

std::string to_json_text(const RunRecord& r) {
  nlohmann::json json = {
      {"variant", r.variant},
      {"variant_label", r.variant_label},
      {"status", r.status},
      {"config", nlohmann::json::parse(config_to_json_text(r.config))},
      {"device", r.device},
      {"threads", r.threads},
      {"train_threads", r.train_threads},
      {"train_slices", r.train_slices},
      {"cuda_graphs", r.cuda_graphs},
      {"parameters", r.parameters},
      {"train_examples", r.train_examples},
      {"test_examples", r.test_examples},
      {"versions", r.versions},
      {"started_at", r.started_at},
      {"finished_at", r.finished_at},
      {"epochs_completed", r.epochs_completed},
      {"best_train_acc", r.best_train_acc},
      {"best_train_epoch", r.best_train_epoch},
      {"best_test_acc", r.best_test_acc},
      {"best_test_epoch", r.best_test_epoch},
      {"final_test_acc", r.final_test_acc},
      {"final_test_loss", r.final_test_loss},
      {"train_seconds", r.train_seconds},
      {"total_seconds", r.total_seconds},
  };
  if (r.status == "diverged") {
    json["diverged"] = {
        {"epoch", r.diverged_epoch}, {"step", r.diverged_step}, {"reason", r.diverged_reason}};
  }
  return json.dump(2) + "\n";
}

std::string utc_timestamp() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr)));
}

RunRecorder::RunRecorder(std::filesystem::path path, RunRecord record)
    : path_(std::move(path)),
      record_(std::move(record)),
      started_(std::chrono::steady_clock::now()) {
  if (record_.started_at.empty()) record_.started_at = utc_timestamp();
  write();
}

void RunRecorder::on_epoch_end(const EpochMetrics& epoch, const std::vector<StepMetrics>&) {
  record_epoch(record_, epoch);
  write();
}

void RunRecorder::finish(const std::string& status) {
  record_.status = status;
  record_.finished_at = utc_timestamp();
  write();
}

void RunRecorder::finish_diverged(int epoch, std::int64_t step, const std::string& reason) {
  record_.diverged_epoch = epoch;
  record_.diverged_step = step;
  record_.diverged_reason = reason;
  finish("diverged");
}

void RunRecorder::write() {
  record_.total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  write_file_atomically(path_, to_json_text(record_));
}

}  // namespace normtrain
