#pragma once

#include <cmath>

namespace normtrain {

// The mean and sample standard deviation of values added one at a time (Welford's update, so
// that values that all agree give exactly 0, not a rounding residue).
class Spread {
 public:
  void add(double value) {
    ++count_;
    const double delta = value - mean_;
    mean_ += delta / count_;
    squares_ += delta * (value - mean_);
  }

  int count() const { return count_; }
  // 0 for no values.
  double mean() const { return mean_; }
  // 0 for fewer than two values.
  double sample_std() const { return count_ < 2 ? 0.0 : std::sqrt(squares_ / (count_ - 1)); }

 private:
  int count_ = 0;
  double mean_ = 0.0;
  double squares_ = 0.0;  // sum of squared deviations from the mean
};

}  // namespace normtrain
