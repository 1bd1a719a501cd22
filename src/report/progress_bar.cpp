#include "normtrain/report/progress_bar.hpp"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

namespace normtrain {

void ProgressBar::start(std::string label, std::int64_t total) {
  label_ = std::move(label);
  total_ = total;
  started_ = std::chrono::steady_clock::now();
  last_draw_ = {};
}

void ProgressBar::update(std::int64_t done) {
  const auto now = std::chrono::steady_clock::now();
  // Redraw at most ten times a second: a terminal write per batch would cost more than a batch.
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  fmt::print(stream_, "\r{}\x1b[K", render(label_, done, total_, elapsed, width_));
  std::fflush(stream_);
}

void ProgressBar::clear() {
  fmt::print(stream_, "\r\x1b[K");
  std::fflush(stream_);
}

std::string ProgressBar::render(const std::string& label, std::int64_t done, std::int64_t total,
                                double elapsed_seconds, int width) {
  const double fraction =
      total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0)
                : 1.0;
  const int filled = static_cast<int>(fraction * width);
  const double remaining = done > 0 ? elapsed_seconds * (1.0 - fraction) / fraction : 0.0;
  return fmt::format("{} [{}{}] {}/{} {:.1f}s<{:.1f}s", label, std::string(filled, '#'),
                     std::string(width - filled, '.'), done, total, elapsed_seconds, remaining);
}

bool stream_is_terminal(std::FILE* stream) {
  return isatty(fileno(stream)) != 0;
}

}  // namespace normtrain
