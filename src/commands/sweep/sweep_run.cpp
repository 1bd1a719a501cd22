#include "normtrain/commands/sweep/sweep_run.hpp"

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

#include "normtrain/commands/sweep/subprocess.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/exit_status.hpp"

namespace normtrain {

void plan_sweep(std::vector<SweepRun>& runs) {
  for (SweepRun& run : runs) {
    run.plan.reset();
    run.refusal.clear();
    try {
      run.plan = plan_run(run.config);
    } catch (const Error& error) {
      run.refusal = error.what();
    }
  }
}

std::string action_word(const SweepRun& run) {
  return run.plan ? to_string(run.plan->action) : "refused";
}

bool needs_training(const SweepRun& run) {
  return run.plan &&
         (run.plan->action == RunAction::kStart || run.plan->action == RunAction::kResume ||
          run.plan->action == RunAction::kExtend);
}

bool has_flag(const SweepRun& run, const std::string& flag) {
  return std::any_of(run.flags.begin(), run.flags.end(), [&](const std::string& word) {
    return word == flag || word.rfind(flag + "=", 0) == 0;
  });
}

std::vector<std::string> run_arguments(const SweepRun& run, int threads) {
  std::vector<std::string> args = run.flags;
  if (!has_flag(run, "--threads")) {
    args.push_back("--threads");
    args.push_back(std::to_string(threads));
  }
  if (!has_flag(run, "--quiet")) args.push_back("--quiet");
  args.push_back("--out");
  args.push_back(run.dir.string());
  args.push_back("--continue");
  return args;
}

void print_summary(const SweepTally& tally, const std::vector<SweepRun>& runs, std::ostream& out) {
  std::string line =
      fmt::format("sweep: {} completed now, {} skipped as complete, {} diverged, {} failed",
                  tally.completed, tally.skipped, tally.diverged, tally.failed);
  if (tally.stopped > 0) line += fmt::format(", {} stopped", tally.stopped);
  if (tally.not_started > 0) line += fmt::format(", {} not started", tally.not_started);
  out << line << "\n";
  for (const std::string& listed : tally.listed) out << listed << "\n";
  std::vector<std::string> command = {"normtrain", "report", "--aggregate"};
  for (const SweepRun& run : runs) {
    std::error_code ignored;
    if (std::filesystem::exists(run.dir / "run.json", ignored) &&
        std::filesystem::exists(run.dir / "metrics.csv", ignored)) {
      command.push_back(run.dir.string());
    }
  }
  if (command.size() > 3) {
    out << fmt::format("\nMean and standard deviation over seeds ({} run folders):\n  {}\n",
                       command.size() - 3, shell_words(command));
  }
  out << std::flush;
}

int exit_status(const SweepTally& tally, bool stopped) {
  if (stopped) return kExitInterrupted;
  if (tally.failed > 0) return kExitRuntimeError;
  if (tally.diverged > 0) return kExitDiverged;
  return 0;
}

}  // namespace normtrain
