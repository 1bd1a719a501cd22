#include <limits>
#include <optional>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "normtrain/train/divergence_watch.hpp"

namespace normtrain {
namespace {

const float kNan = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// A model state of a dense weight, a channels-last weight and a double buffer (which the direct
// pass leaves to LibTorch's operators).
std::vector<torch::Tensor> make_state() {
  return {torch::randn({4, 3}),
          torch::randn({2, 3, 2, 2}).contiguous(at::MemoryFormat::ChannelsLast),
          torch::randn({5}, torch::kFloat64)};
}

torch::Tensor loss_of(float value) {
  return torch::scalar_tensor(value);
}

// Records `steps` finite steps, then a step that `break_step` breaks, then finite ones again;
// returns what the watch reports once every step is recorded.
template <typename Break>
std::optional<DivergedStep> watch_a_pass(std::int64_t read_every, int steps, Break break_step) {
  std::vector<torch::Tensor> state = make_state();
  DivergenceWatch watch(state, read_every);
  std::optional<DivergedStep> seen;
  for (int i = 0; i < steps + 3; ++i) {
    torch::Tensor loss = loss_of(0.5F);
    if (i == steps) break_step(state, loss);
    watch.record(loss);
    seen = watch.poll(i + 1 == steps + 3);
    if (seen) break;
  }
  return seen;
}

class DivergenceWatchBothWays : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(DivergenceWatchBothWays, FiniteStepsPass) {
  const auto seen = watch_a_pass(GetParam(), 6, [](auto&, torch::Tensor&) {});
  EXPECT_FALSE(seen.has_value());
}

TEST_P(DivergenceWatchBothWays, NamesTheStepWhoseLossIsNotFinite) {
  for (const float bad : {kNan, kInf, -kInf}) {
    const auto seen =
        watch_a_pass(GetParam(), 4, [&](auto&, torch::Tensor& loss) { loss = loss_of(bad); });
    ASSERT_TRUE(seen.has_value()) << bad;
    EXPECT_EQ(seen->index, 4);
    EXPECT_EQ(seen->reason, std::isnan(bad) ? "loss nan" : bad > 0 ? "loss inf" : "loss -inf");
  }
}

TEST_P(DivergenceWatchBothWays, NamesTheStepThatBrokeAnyStateTensor) {
  for (std::size_t which = 0; which < 3; ++which) {
    for (const float bad : {kNan, -kInf}) {
      const auto seen =
          watch_a_pass(GetParam(), 5, [&](std::vector<torch::Tensor>& state, torch::Tensor&) {
            torch::NoGradGuard no_grad;
            state[which].select(0, state[which].size(0) - 1).fill_(bad);
          });
      ASSERT_TRUE(seen.has_value()) << "tensor " << which;
      EXPECT_EQ(seen->index, 5);
      EXPECT_EQ(seen->reason, std::string("a parameter or running statistic became ") +
                                  (std::isnan(bad) ? "nan" : "inf"));
    }
  }
}

// 1: each step checked as recorded (the CPU's way); 4: checks queued and read every 4 steps
// (a GPU's way, here on the CPU).
INSTANTIATE_TEST_SUITE_P(ReadEvery, DivergenceWatchBothWays, ::testing::Values(1, 4));

TEST(DivergenceWatch, QueuedChecksAreReadOnlyWhenDueOrLast) {
  const std::vector<torch::Tensor> state = make_state();
  DivergenceWatch watch(state, 3);
  watch.record(loss_of(kNan));
  EXPECT_FALSE(watch.poll(false).has_value());  // 1 of 3 queued
  watch.record(loss_of(1.0F));
  EXPECT_FALSE(watch.poll(false).has_value());  // 2 of 3
  watch.record(loss_of(1.0F));
  const auto seen = watch.poll(false);  // due
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->index, 0);

  DivergenceWatch last(state, 50);
  last.record(loss_of(1.0F));
  last.record(loss_of(kInf));
  EXPECT_FALSE(last.poll(false).has_value());
  ASSERT_TRUE(last.poll(true).has_value());
  EXPECT_EQ(last.poll(true)->index, 1);
}

TEST(DivergenceWatch, KeepsReportingTheFirstDivergence) {
  std::vector<torch::Tensor> state = make_state();
  DivergenceWatch watch(state, 1);
  watch.record(loss_of(kInf));
  watch.record(loss_of(kNan));
  ASSERT_TRUE(watch.poll(false).has_value());
  EXPECT_EQ(watch.poll(false)->index, 0);
  EXPECT_EQ(watch.poll(true)->reason, "loss inf");
}

}  // namespace
}  // namespace normtrain
