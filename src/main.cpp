// normtrain: command-line entry point. Everything but exit codes lives in the core library.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "normtrain/cli/cli.hpp"
#include "normtrain/commands/eval_command.hpp"
#include "normtrain/commands/export_command.hpp"
#include "normtrain/commands/predict_command.hpp"
#include "normtrain/commands/report_command.hpp"
#include "normtrain/commands/sweep/sweep_command.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/exit_status.hpp"
#include "normtrain/data/data_preparation.hpp"
#include "normtrain/data/mnist_download.hpp"
#include "normtrain/train/allocator_tuning.hpp"
#include "normtrain/train/interrupt.hpp"
#include "normtrain/train/training_run.hpp"

namespace {

void configure_logging(bool quiet) {
  // Logs go to stderr so that stdout stays clean for output other programs read.
  auto logger = spdlog::stderr_color_mt("normtrain");
  logger->set_pattern("[%H:%M:%S] %^%l%$ %v");
  logger->set_level(quiet ? spdlog::level::warn : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

// A training run's exit status, given without tearing LibTorch down: after a GPU run that took
// a third of a second of the run (its CUDA graphs, memory pools and context), and every file
// is written, synced and closed by now. Sanitizer builds exit normally, for their leak check.
int leave_after_run(int status) {
#if defined(__SANITIZE_ADDRESS__)
  return status;
#else
  std::cout.flush();
  spdlog::shutdown();
  std::fflush(nullptr);
  std::_Exit(status);
#endif
}

int exit_status_of(normtrain::RunOutcome outcome) {
  switch (outcome) {
    case normtrain::RunOutcome::kCompleted:
      return normtrain::kExitDone;
    case normtrain::RunOutcome::kInterrupted:
      return normtrain::kExitInterrupted;
    case normtrain::RunOutcome::kDiverged:
      return normtrain::kExitDiverged;
  }
  return normtrain::kExitDone;
}

}  // namespace

int main(int argc, char** argv) {
  normtrain::keep_freed_memory_for_reuse();
  try {
    const auto command = normtrain::parse_command_line(argc, argv, std::cout);
    if (!command) return 0;
    normtrain::RunOutcome outcome;
    if (const auto* predict = std::get_if<normtrain::PredictRequest>(&*command)) {
      configure_logging(/*quiet=*/true);
      normtrain::run_predict(*predict, std::cout);
      return 0;
    }
    if (const auto* report = std::get_if<normtrain::ReportRequest>(&*command)) {
      configure_logging(/*quiet=*/true);
      return normtrain::run_report(*report, std::cout);
    }
    if (const auto* sweep = std::get_if<normtrain::SweepRequest>(&*command)) {
      configure_logging(/*quiet=*/false);
      return normtrain::run_sweep(*sweep, std::cout);
    }
    if (const auto* export_request = std::get_if<normtrain::ExportRequest>(&*command)) {
      configure_logging(/*quiet=*/true);
      normtrain::run_export(*export_request, std::cout);
      return 0;
    }
    if (const auto* eval = std::get_if<normtrain::EvalRequest>(&*command)) {
      configure_logging(eval->quiet);
      normtrain::run_eval(*eval, std::cout);
      return 0;
    }
    if (const auto* resume = std::get_if<normtrain::ResumeRequest>(&*command)) {
      configure_logging(resume->quiet);
      outcome = normtrain::resume_training(*resume);
    } else {
      const auto& config = std::get<normtrain::TrainConfig>(*command);
      configure_logging(config.quiet);
      if (config.verify_data) {
        return normtrain::verify_data(config, std::cout) ? normtrain::kExitDone
                                                         : normtrain::kExitRuntimeError;
      }
      outcome = normtrain::run_training(config, std::cout);
    }
    return leave_after_run(exit_status_of(outcome));
  } catch (const normtrain::DownloadInterrupted& stopped) {
    fmt::print(stderr, "normtrain: {}\n", stopped.what());
    return normtrain::kExitInterrupted;
  } catch (const normtrain::Error& error) {
    fmt::print(stderr, "normtrain: error: {}\n", error.what());
    return error.kind() == normtrain::ErrorKind::kUsage ? normtrain::kExitUsageError
                                                        : normtrain::kExitRuntimeError;
  } catch (const std::exception& error) {
    fmt::print(stderr, "normtrain: error: {}\n", error.what());
    return normtrain::kExitRuntimeError;
  }
}
