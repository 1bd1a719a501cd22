#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace normtrain {

// A one-line progress bar redrawn in place with '\r'. Meant for a terminal only: callers
// decide whether to use one (see stream_is_terminal).
class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* stream, int width = 30) : stream_(stream), width_(width) {}

  // Starts timing a new pass of `total` steps, labelled e.g. "epoch 3/20".
  void start(std::string label, std::int64_t total);
  void update(std::int64_t done);
  // Erases the line so that the next log line starts clean.
  void clear();

  // The text of the bar alone, e.g. "epoch 3/20 [#####.....] 50/100 1.2s<1.2s".
  static std::string render(const std::string& label, std::int64_t done, std::int64_t total,
                            double elapsed_seconds, int width);

 private:
  std::FILE* stream_;
  int width_;
  std::string label_;
  std::int64_t total_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_;
};

bool stream_is_terminal(std::FILE* stream);

}  // namespace normtrain
