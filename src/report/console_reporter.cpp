#include "normtrain/report/console_reporter.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace normtrain {

ConsoleReporter::ConsoleReporter(int total_epochs, bool show_progress)
    : total_epochs_(total_epochs) {
  if (show_progress) progress_.emplace(stderr);
}

void ConsoleReporter::on_batch_end(int epoch, std::int64_t batch, std::int64_t batches) {
  if (!progress_) return;
  if (batch == 1) progress_->start(fmt::format("epoch {}/{}", epoch, total_epochs_), batches);
  progress_->update(batch);
}

void ConsoleReporter::on_epoch_end(const EpochMetrics& m, const std::vector<StepMetrics>&) {
  if (progress_) progress_->clear();
  spdlog::info(
      "epoch {:>2}/{}  train loss {:.4f} acc {:.2f}%  test loss {:.4f} acc {:.2f}%  "
      "({:.1f}s + {:.1f}s)",
      m.epoch, total_epochs_, m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.train_seconds,
      m.test_seconds);
}

}  // namespace normtrain
