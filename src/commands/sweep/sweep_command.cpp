#include "normtrain/commands/sweep/sweep_command.hpp"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "normtrain/commands/sweep/grid.hpp"
#include "normtrain/commands/sweep/local_runner.hpp"
#include "normtrain/commands/sweep/lr_scaling.hpp"
#include "normtrain/commands/sweep/run_naming.hpp"
#include "normtrain/commands/sweep/slurm_plan.hpp"
#include "normtrain/commands/sweep/slurm_submission.hpp"
#include "normtrain/commands/sweep/subprocess.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/run_record.hpp"

namespace normtrain {
namespace {

// The cores this process may run on (its affinity mask, as nproc counts them).
int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1U, std::thread::hardware_concurrency());
}

std::filesystem::path this_program() {
  std::error_code error;
  const std::filesystem::path program = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    throw RuntimeError(
        fmt::format("cannot find this program's file (/proc/self/exe: {})", error.message()));
  }
  return program;
}

// The sweep folder without a trailing separator (so that it has a name), absolute for Slurm,
// whose tasks start elsewhere.
std::filesystem::path sweep_folder(const SweepRequest& request) {
  std::filesystem::path dir =
      (request.slurm ? std::filesystem::absolute(request.out) : request.out).lexically_normal();
  if (!dir.has_filename() && dir.has_parent_path()) dir = dir.parent_path();
  return dir;
}

std::string refusal_message(const std::vector<SweepRun>& runs, std::size_t refused) {
  std::string message =
      fmt::format("sweep: normtrain refuses {} of the {} runs, so the sweep starts none:", refused,
                  runs.size());
  for (const SweepRun& run : runs) {
    if (!run.plan) message += fmt::format("\n  {}: {}", run.name, run.refusal);
  }
  return message +
         "\nNothing was run or changed. Give this grid another --out, or move those folders "
         "away.";
}

std::vector<std::string> command_line(const std::filesystem::path& program, const SweepRun& run,
                                      int threads) {
  std::vector<std::string> args = {program.string()};
  for (std::string& arg : run_arguments(run, threads)) args.push_back(std::move(arg));
  return args;
}

int print_dry_run(const std::vector<SweepRun>& runs, const std::filesystem::path& program,
                  int threads, std::ostream& out) {
  int starts = 0;
  int continues = 0;
  int skipped = 0;
  int diverged = 0;
  int refused = 0;
  for (const SweepRun& run : runs) {
    const std::string action = action_word(run);
    if (needs_training(run)) {
      (run.plan->action == RunAction::kStart ? starts : continues) += 1;
      out << fmt::format("{:<8} {}: {}  # {}\n", action, run.name,
                         shell_words(command_line(program, run, threads)), run.plan->detail);
      continue;
    }
    if (!run.plan) {
      ++refused;
    } else {
      ++(run.plan->action == RunAction::kSkip ? skipped : diverged);
    }
    out << fmt::format("{:<8} {}: {}\n", action, run.name,
                       run.plan ? run.plan->detail : run.refusal);
  }
  std::string line = fmt::format(
      "sweep (dry run): {} runs: {} to start, {} to resume or extend, {} skipped as complete, {} "
      "diverged (not retried)",
      runs.size(), starts, continues, skipped, diverged);
  if (refused > 0) line += fmt::format(", {} refused (the sweep would start none)", refused);
  out << line << "\n" << std::flush;
  if (refused > 0) {
    throw UsageError(fmt::format(
        "normtrain refuses {} of the {} runs (listed above), so the sweep would start none",
        refused, runs.size()));
  }
  return 0;
}

// Appends `lines` to the run's normtrain.log, creating its folder; empty, or why it cannot.
std::string prepare_run_folder(const SweepRun& run, const std::string& lines) {
  try {
    std::error_code error;
    std::filesystem::create_directories(run.dir, error);
    if (error) return fmt::format("cannot create {}: {}", run.dir.string(), error.message());
    OutputFile log(run.dir / "normtrain.log", OutputFile::Mode::kAppend);
    log.write(lines);
    log.close();
    return {};
  } catch (const Error& error) {
    return error.what();
  }
}

int run_local_sweep(const std::vector<SweepRun>& runs, const std::filesystem::path& program,
                    int parallel, int threads, std::ostream& out) {
  std::vector<const SweepRun*> todo;
  SweepTally tally;
  for (const SweepRun& run : runs) {
    if (needs_training(run)) {
      todo.push_back(&run);
    } else if (run.plan->action == RunAction::kSkip) {
      ++tally.skipped;
    } else {
      ++tally.diverged;
      tally.listed.push_back(fmt::format("  diverged: {} (log: {})", run.dir.string(),
                                         (run.dir / "normtrain.log").string()));
    }
  }
  const std::filesystem::path sweep_dir = runs.front().dir.parent_path();
  std::string line = fmt::format("sweep: {} runs in {}: {} to do, {} skipped as complete",
                                 runs.size(), sweep_dir.string(), todo.size(), tally.skipped);
  if (tally.diverged > 0) line += fmt::format(", {} diverged before (not retried)", tally.diverged);
  out << line << fmt::format("; {} at a time", parallel) << std::endl;

  std::vector<LocalJob> jobs;
  for (const SweepRun* run : todo) {
    std::vector<std::string> args = command_line(program, *run, threads);
    args.front() = "normtrain";
    jobs.push_back({std::move(args), run->dir / "normtrain.log"});
  }
  JobEvents events;
  events.starting = [&](std::size_t job) {
    const SweepRun& run = *todo[job];
    const std::string stamp = utc_timestamp();
    const std::string refusal =
        prepare_run_folder(run, fmt::format("# sweep {}: {}: {}\n# sweep {}: {}\n", stamp,
                                            action_word(run), run.plan->detail, stamp,
                                            shell_words(command_line(program, run, threads))));
    if (refusal.empty())
      out << fmt::format("sweep: {} {}", action_word(run), run.name) << std::endl;
    return refusal;
  };
  events.ended = [&](std::size_t job, const JobResult& result) {
    const SweepRun& run = *todo[job];
    const std::string log = (run.dir / "normtrain.log").string();
    switch (result.end) {
      case JobEnd::kCompleted:
        ++tally.completed;
        out << fmt::format("sweep: done {}\n", run.name);
        break;
      case JobEnd::kDiverged:
        ++tally.diverged;
        out << fmt::format("sweep: diverged {} (it keeps the epochs before), log: {}\n", run.name,
                           log);
        tally.listed.push_back(fmt::format("  diverged: {} (log: {})", run.dir.string(), log));
        break;
      case JobEnd::kStopped:
        ++tally.stopped;
        out << fmt::format("sweep: stopped {} (it keeps its finished epochs), log: {}\n", run.name,
                           log);
        tally.listed.push_back(fmt::format("  stopped: {} (log: {})", run.dir.string(), log));
        break;
      case JobEnd::kFailed:
      case JobEnd::kNotStarted: {
        ++tally.failed;
        const std::string why = !result.error.empty() ? result.error
                                : result.status.signal != 0
                                    ? fmt::format("killed by signal {}", result.status.signal)
                                    : fmt::format("exit {}", result.status.code);
        out << fmt::format("sweep: FAILED {} ({}), log: {}\n", run.name, why, log);
        tally.listed.push_back(fmt::format("  failed: {} (log: {})", run.dir.string(), log));
        break;
      }
    }
    out << std::flush;
  };
  const PoolResult result = run_pool(program, jobs, parallel, events);
  for (const JobResult& job : result.jobs) {
    if (job.end == JobEnd::kNotStarted) ++tally.not_started;
  }
  print_summary(tally, runs, out);
  if (result.interrupted) out << "sweep: stopped; run the same command again to continue\n";
  out << std::flush;
  return exit_status(tally, result.interrupted);
}

}  // namespace

void validate(const SweepRequest& request) {
  if (request.jobs && *request.jobs < 1) {
    throw UsageError(fmt::format("--jobs must be a positive whole number, got {}", *request.jobs));
  }
  if (request.threads_per_job && *request.threads_per_job < 1) {
    throw UsageError(fmt::format("--threads-per-job must be a positive whole number, got {}",
                                 *request.threads_per_job));
  }
  if (!request.slurm && (!request.partition.empty() || request.time_limit ||
                         !request.sbatch_args.empty() || request.wait)) {
    throw UsageError("--partition, --time, --sbatch-arg and --wait are for --slurm sweeps");
  }
  if (request.wait && request.dry_run) {
    throw UsageError("--wait has nothing to wait for with --dry-run, which submits nothing");
  }
  if (request.time_limit &&
      (request.time_limit->empty() ||
       !std::isdigit(static_cast<unsigned char>(request.time_limit->front())) ||
       request.time_limit->find_first_not_of("0123456789:-") != std::string::npos)) {
    throw UsageError(
        fmt::format("--time must look like HH:MM:SS (or D-HH:MM:SS, or minutes), got '{}'",
                    *request.time_limit));
  }
  if (request.partition.find_first_of(" \t\n") != std::string::npos) {
    throw UsageError("--partition must not contain spaces");
  }
  for (const std::string& arg : request.sbatch_args) {
    if (arg.find('\n') != std::string::npos) throw UsageError("--sbatch-arg must be one line");
  }
  if (request.lr_scaling.reference_batch < 1) {
    throw UsageError(fmt::format("--lr-reference-batch must be a positive whole number, got {}",
                                 request.lr_scaling.reference_batch));
  }
  if (request.slurm) {
    const std::string out = std::filesystem::absolute(request.out).string();
    if (out.find_first_of("\"\n") != std::string::npos) {
      throw UsageError("--out must not contain a double quote or a newline for --slurm sweeps");
    }
  }
  if (!request.plan.empty() || request.task_index) {
    if (request.plan.empty() || !request.task_index) {
      throw UsageError("--plan and --task-index go together (sweep.sbatch gives both)");
    }
    if (request.grid_given || !request.grid.empty() || request.slurm || request.dry_run ||
        request.jobs || request.threads_per_job || request.default_names ||
        request.lr_scaling.kind != LrScalingKind::kNone) {
      throw UsageError(
          "--plan and --task-index run one task of a submitted sweep; they take no grid and no "
          "other option");
    }
    return;
  }
  if (!request.grid_given) {
    throw UsageError(
        "no grid: give training flags after '--', e.g. normtrain sweep -- --norm ln,gn --seed "
        "1,2");
  }
}

int run_sweep(const SweepRequest& request, std::ostream& out) {
  validate(request);
  const std::filesystem::path program = request.program.empty() ? this_program() : request.program;
  if (!request.plan.empty()) {
    return run_array_task(request.plan, *request.task_index, program, out);
  }
  std::vector<GridPoint> points = expand_grids(parse_grids(request.grid));
  scale_learning_rates(points, request.lr_scaling);
  std::vector<SweepRun> runs = name_runs(
      std::move(points), sweep_folder(request),
      request.default_names ? FolderNames::kNormtrainDefault : FolderNames::kVaryingFlags);
  plan_sweep(runs);
  const auto refused = static_cast<std::size_t>(
      std::count_if(runs.begin(), runs.end(), [](const SweepRun& run) { return !run.plan; }));
  if (refused > 0 && !(request.dry_run && !request.slurm)) {
    throw UsageError(refusal_message(runs, refused));
  }
  if (request.slurm) return run_slurm_sweep(request, runs, program, out);
  const int parallel = request.jobs.value_or(1);
  const int threads = request.threads_per_job.value_or(std::max(1, available_cores() / parallel));
  if (request.dry_run) return print_dry_run(runs, program, threads, out);
  return run_local_sweep(runs, program, parallel, threads, out);
}

}  // namespace normtrain
