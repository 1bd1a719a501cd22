// How fast are the ReLU + norm passes, per build? Times each of the four passes over 128
// examples of every normalized block's shape in this network, on one thread, in each available
// instruction-set build, as nanoseconds per activation value (medians of --reps runs).
// Usage: normtrain_pass_timing [--reps N] [--examples N]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "normtrain/model/kernels/relu_norm_passes.hpp"

namespace {

using normtrain::kernels::InstructionSet;
using normtrain::kernels::ReluNormPasses;

struct BlockShape {
  int channels;
  std::int64_t hw;
};

// The normalized blocks' outputs: 8 x 26 x 26, 24 x 24 x 24, then 16 x 10 x 10, 8 x 8, 6 x 6.
constexpr BlockShape kBlocks[] = {{8, 676}, {24, 576}, {16, 100}, {16, 64}, {16, 36}};

// Median nanoseconds per value of `pass` run once over each of `examples` examples.
double ns_per_value(const std::function<void(std::int64_t offset)>& pass, std::int64_t examples,
                    std::int64_t values_per_example, int reps) {
  std::vector<double> ns;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t n = 0; n < examples; ++n) pass(n * values_per_example);
    const std::chrono::duration<double, std::nano> elapsed =
        std::chrono::steady_clock::now() - start;
    ns.push_back(elapsed.count() / static_cast<double>(examples * values_per_example));
  }
  std::sort(ns.begin(), ns.end());
  return ns[ns.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 21;
  std::int64_t examples = 128;
  CLI::App app{"Time the ReLU + norm passes in each instruction-set build"};
  app.add_option("--reps", reps, "repetitions, median shown")->check(CLI::PositiveNumber);
  app.add_option("--examples", examples, "examples per repetition")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::vector<InstructionSet> builds = {InstructionSet::kBaseline};
  if (normtrain::kernels::available(InstructionSet::kAvx2)) builds.push_back(InstructionSet::kAvx2);
  fmt::print("ns per value, {} examples, one thread, median of {}{}\n", examples, reps,
             builds.size() == 1 ? " (no AVX2 + FMA build on this CPU)" : "");
  fmt::print("{:<12} {:<16} {:>10} {:>10} {:>8}\n", "block", "pass", "baseline", "avx2", "speedup");
  std::mt19937 generator(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const BlockShape& block : kBlocks) {
    const std::int64_t values = block.hw * block.channels;
    std::vector<float> x(static_cast<std::size_t>(examples * values));
    std::vector<float> dy(x.size());
    for (float& v : x) v = normal(generator);
    for (float& v : dy) v = normal(generator);
    std::vector<float> out(x.size());
    const std::vector<float> k(static_cast<std::size_t>(block.channels), 0.5f);
    std::vector<float> center(k.size());
    std::vector<double> s1(k.size());
    std::vector<double> s2(k.size());
    const std::string name = fmt::format("{}x{}", block.channels, block.hw);
    const char* pass_names[] = {"relu_moments", "gradient_moments", "affine_forward",
                                "affine_backward"};
    for (int pass = 0; pass < 4; ++pass) {
      std::vector<double> timing;
      for (const InstructionSet isa : builds) {
        const ReluNormPasses<float>& p =
            normtrain::kernels::relu_norm_passes<float>(block.channels, isa);
        const std::int64_t hw = block.hw;
        const std::int64_t c = block.channels;
        const std::function<void(std::int64_t)> run[] = {
            [&](std::int64_t o) {
              p.relu_moments(&x[o], hw, c, center.data(), s1.data(), s2.data());
            },
            [&](std::int64_t o) {
              p.gradient_moments(&dy[o], &x[o], hw, c, k.data(), s1.data(), s2.data());
            },
            [&](std::int64_t o) {
              p.affine_forward(&x[o], hw, c, k.data(), k.data(), k.data(), &out[o]);
            },
            [&](std::int64_t o) {
              p.affine_backward(&dy[o], &x[o], hw, c, k.data(), k.data(), k.data(), k.data(),
                                &out[o]);
            }};
        timing.push_back(ns_per_value(run[pass], examples, values, reps));
      }
      const bool both = timing.size() == 2;
      fmt::print("{:<12} {:<16} {:>10.3f} {:>10} {:>8}\n", name, pass_names[pass], timing[0],
                 both ? fmt::format("{:.3f}", timing[1]) : "-",
                 both ? fmt::format("{:.2f}x", timing[0] / timing[1]) : "-");
    }
  }
  return 0;
}
