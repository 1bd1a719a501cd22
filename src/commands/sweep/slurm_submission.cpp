#include "normtrain/commands/sweep/slurm_submission.hpp"

#include <time.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "normtrain/commands/sweep/run_naming.hpp"
#include "normtrain/commands/sweep/slurm_plan.hpp"
#include "normtrain/commands/sweep/subprocess.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/exit_status.hpp"
#include "normtrain/common/file_io.hpp"

namespace normtrain {
namespace {

// CPUs per task when neither --threads-per-job nor the grid's --threads says (fewer when the
// nodes have fewer).
constexpr int kDefaultSlurmThreads = 4;
constexpr const char* kDefaultTimeLimit = "02:00:00";
// Slurm's own default, assumed by --dry-run where Slurm's commands are missing.
constexpr int kDefaultMaxArraySize = 1001;
// How often --wait asks squeue about the arrays.
constexpr int kWaitSeconds = 2;

constexpr const char* kSlurmCommands[] = {"sbatch", "squeue", "sinfo", "scontrol"};
// squeue's format: job id, array task index, state, comment (the plan file; last, as it may
// hold any character but a newline).
constexpr const char* kSqueueFormat = "%i|%K|%T|%k";

std::string trimmed(std::string text) {
  const std::size_t end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  const std::size_t start = text.find_first_not_of(" \t\r\n");
  return start == std::string::npos ? std::string() : text.substr(start);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!trimmed(line).empty()) lines.push_back(line);
  }
  return lines;
}

// Runs a Slurm command; a runtime Error with its message when it fails.
std::string slurm_output(const std::vector<std::string>& args) {
  const CommandResult result = run_command(args);
  if (result.status.code != 0) {
    std::string message = trimmed(result.err);
    std::replace(message.begin(), message.end(), '\n', ' ');
    throw RuntimeError(
        fmt::format("{} failed (exit {}): {}", fmt::join(args, " "), result.status.code, message));
  }
  return result.out;
}

// The array's job number of a task id ("123_4" -> 123).
long array_number(const std::string& job) {
  try {
    return std::stol(job.substr(0, job.find('_')));
  } catch (const std::exception&) {
    return -1;
  }
}

// This sweep's array tasks that squeue lists (with `all_states`, finished ones it still
// remembers too), by run name: those whose plan file is in SWEEP/.sweep and names the run.
std::map<std::string, QueuedTask> sweep_tasks(const std::filesystem::path& sweep_dir,
                                              bool all_states) {
  std::vector<std::string> args = {"squeue", "--me", "-h", "-r", "-o", kSqueueFormat};
  if (all_states) args.insert(args.begin() + 1, {"-t", "all"});
  const std::filesystem::path plans = sweep_dir / ".sweep";
  std::map<std::filesystem::path, std::optional<ArrayPlan>> read_plans;
  std::map<std::string, QueuedTask> tasks;
  for (const QueuedTask& task : queued_tasks_from(slurm_output(args))) {
    if (task.index < 0 || task.plan.parent_path() != plans) continue;
    auto [entry, fresh] = read_plans.try_emplace(task.plan);
    if (fresh) {
      try {
        entry->second = read_array_plan(task.plan);
      } catch (const Error& error) {
        spdlog::warn("job {} of this sweep: {}", task.job, error.what());
      }
    }
    const std::optional<ArrayPlan>& plan = entry->second;
    if (!plan || static_cast<std::size_t>(task.index) >= plan->tasks.size()) continue;
    // A run in several arrays (submitted, failed, submitted again): the newest array's task.
    auto [kept, added] =
        tasks.try_emplace(plan->tasks[static_cast<std::size_t>(task.index)].name, task);
    if (!added && array_number(task.job) > array_number(kept->second.job)) kept->second = task;
  }
  return tasks;
}

// CPUs of each task: --threads-per-job, or the grid's --threads, or 4; never more than the
// nodes of the partition have.
struct Threads {
  int per_run = 1;        // --threads given to runs whose flags do not set it
  int cpus_per_task = 1;  // the most any run uses
};

Threads slurm_threads(const SweepRequest& request, const std::vector<SweepRun>& runs,
                      std::optional<int> node_cpus) {
  const std::string where =
      request.partition.empty() ? "the default partition" : "partition " + request.partition;
  Threads threads;
  threads.per_run = request.threads_per_job.value_or(
      node_cpus ? std::min(kDefaultSlurmThreads, *node_cpus) : kDefaultSlurmThreads);
  if (node_cpus && request.threads_per_job && *request.threads_per_job > *node_cpus) {
    throw UsageError(fmt::format(
        "--threads-per-job {}: the nodes of {} have at most {} CPUs, and a task runs on one "
        "node; give --threads-per-job {} or less",
        *request.threads_per_job, where, *node_cpus, *node_cpus));
  }
  threads.cpus_per_task = 0;
  for (const SweepRun& run : runs) {
    if (!has_flag(run, "--threads")) {
      threads.cpus_per_task = std::max(threads.cpus_per_task, threads.per_run);
      continue;
    }
    // --threads 0 means every core: the whole node.
    const int wanted = run.config.threads > 0 ? run.config.threads : node_cpus.value_or(1);
    if (node_cpus && wanted > *node_cpus) {
      throw UsageError(fmt::format(
          "the grid's --threads {} (run {}) is more than the {} CPUs of any node of {}; give "
          "--threads {} or less",
          run.config.threads, run.name, *node_cpus, where, *node_cpus));
    }
    threads.cpus_per_task = std::max(threads.cpus_per_task, wanted);
  }
  threads.cpus_per_task = std::max(threads.cpus_per_task, 1);
  return threads;
}

// "#SBATCH --output=..." wants a path with spaces in double quotes.
std::string sbatch_path(const std::filesystem::path& path) {
  const std::string text = path.string();
  return text.find_first_of(" \t") == std::string::npos ? text : "\"" + text + "\"";
}

std::string array_job_id(const std::string& sbatch_output) {
  const std::string first = trimmed(sbatch_output.substr(0, sbatch_output.find(';')));
  if (first.empty() || first.find_first_not_of("0123456789") != std::string::npos) {
    throw RuntimeError(fmt::format("sbatch answered '{}', not a job id", trimmed(sbatch_output)));
  }
  return first;
}

void pause_seconds(int seconds) {
  const timespec pause = {seconds, 0};
  ::nanosleep(&pause, nullptr);  // a signal cuts it short
}

// --wait: until squeue lists no task of this sweep's arrays, then every run as its folder says.
int wait_and_report(std::vector<SweepRun>& runs, const std::set<std::string>& watched,
                    std::ostream& out) {
  const std::filesystem::path sweep_dir = runs.front().dir.parent_path();
  const StopSignals signals;
  std::string last_progress;
  while (true) {
    const std::map<std::string, QueuedTask> active = sweep_tasks(sweep_dir, false);
    if (active.empty()) break;
    int running = 0;
    for (const auto& [name, task] : active) running += task.state == "RUNNING" ? 1 : 0;
    const std::string progress = fmt::format(
        "sweep: waiting for {} tasks of this sweep ({} running)", active.size(), running);
    if (progress != last_progress) out << progress << std::endl;
    last_progress = progress;
    pause_seconds(kWaitSeconds);
    if (signals.count() > 0) {
      out << "sweep: stopped waiting; the tasks carry on on the cluster (squeue --me lists "
             "them), and the same command with --wait reports them\n"
          << std::flush;
      return kExitInterrupted;
    }
  }

  const std::map<std::string, QueuedTask> finished = sweep_tasks(sweep_dir, true);
  plan_sweep(runs);
  SweepTally tally;
  for (const SweepRun& run : runs) {
    const std::string log = (run.dir / "normtrain.log").string();
    const bool was_watched = watched.count(run.name) > 0;
    if (run.plan && run.plan->action == RunAction::kSkip) {
      (was_watched ? tally.completed : tally.skipped) += 1;
    } else if (run.plan && run.plan->action == RunAction::kDiverged) {
      ++tally.diverged;
      tally.listed.push_back(fmt::format("  diverged: {} (log: {})", run.dir.string(), log));
    } else {
      ++tally.failed;
      const auto task = finished.find(run.name);
      const std::string slurm =
          task == finished.end()
              ? std::string()
              : fmt::format("Slurm task {} {}, log {}; ", task->second.job, task->second.state,
                            (sweep_dir / fmt::format("slurm-{}.log", task->second.job)).string());
      tally.listed.push_back(fmt::format("  failed: {} ({}{}: {}; log: {})", run.dir.string(),
                                         slurm, action_word(run),
                                         run.plan ? run.plan->detail : run.refusal, log));
    }
  }
  print_summary(tally, runs, out);
  return exit_status(tally, false);
}

}  // namespace

int max_array_size_from(const std::string& scontrol_show_config) {
  for (const std::string& line : lines_of(scontrol_show_config)) {
    const std::size_t equals = line.find('=');
    if (equals == std::string::npos || trimmed(line.substr(0, equals)) != "MaxArraySize") continue;
    try {
      return std::stoi(trimmed(line.substr(equals + 1)));
    } catch (const std::exception&) {
      break;
    }
  }
  throw RuntimeError("scontrol show config does not say MaxArraySize");
}

std::optional<int> node_cpus_from(const std::string& sinfo_output, const std::string& partition) {
  std::optional<int> most;
  for (const std::string& line : lines_of(sinfo_output)) {
    const std::size_t bar = line.find('|');
    if (bar == std::string::npos) continue;
    std::string name = trimmed(line.substr(0, bar));
    const bool is_default = !name.empty() && name.back() == '*';
    if (is_default) name.pop_back();
    if (partition.empty() ? !is_default : name != partition) continue;
    try {
      const int cpus = std::stoi(trimmed(line.substr(bar + 1)));
      most = std::max(most.value_or(0), cpus);
    } catch (const std::exception&) {
      continue;
    }
  }
  return most;
}

std::vector<QueuedTask> queued_tasks_from(const std::string& squeue_output) {
  std::vector<QueuedTask> tasks;
  for (const std::string& line : lines_of(squeue_output)) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    while (fields.size() < 3) {
      const std::size_t bar = line.find('|', start);
      if (bar == std::string::npos) break;
      fields.push_back(line.substr(start, bar - start));
      start = bar + 1;
    }
    if (fields.size() < 3) continue;
    QueuedTask task;
    task.job = trimmed(fields[0]);
    const std::string index = trimmed(fields[1]);
    task.index = !index.empty() && index.find_first_not_of("0123456789") == std::string::npos
                     ? std::stoi(index)
                     : -1;
    task.state = trimmed(fields[2]);
    task.plan = trimmed(line.substr(start));
    tasks.push_back(std::move(task));
  }
  return tasks;
}

std::vector<std::pair<std::size_t, std::size_t>> array_parts(std::size_t runs, int max_array_size) {
  if (max_array_size < 1) {
    throw RuntimeError(
        fmt::format("this cluster takes no job arrays (MaxArraySize={})", max_array_size));
  }
  std::vector<std::pair<std::size_t, std::size_t>> parts;
  for (std::size_t first = 0; first < runs; first += static_cast<std::size_t>(max_array_size)) {
    parts.emplace_back(first, std::min(runs, first + static_cast<std::size_t>(max_array_size)));
  }
  return parts;
}

std::string sbatch_script(const SbatchSettings& settings) {
  std::string script = "#!/bin/sh\n";
  script += fmt::format("#SBATCH --cpus-per-task={}\n", settings.cpus_per_task);
  script += fmt::format("#SBATCH --time={}\n", settings.time_limit);
  if (!settings.partition.empty())
    script += fmt::format("#SBATCH --partition={}\n", settings.partition);
  script += fmt::format("#SBATCH --output={}\n", sbatch_path(settings.log_pattern));
  for (const std::string& line : settings.extra_lines) script += fmt::format("#SBATCH {}\n", line);
  script +=
      "# Written by normtrain sweep --slurm, which submits it once per job array:\n"
      "#   sbatch --job-name=SWEEP --comment=PLAN --array=0-N sweep.sbatch PLAN\n"
      "# Task i carries on run i of PLAN (SWEEP/.sweep/plan-ID.json, never changed once written):\n"
      "# it checks the run folder, then runs normtrain with --continue (a complete run is\n"
      "# skipped, a stopped one resumed, a folder holding another run refused), its output in\n"
      "# the run folder's normtrain.log. The same normtrain sweep --slurm command submits again\n"
      "# what did not finish, and nothing that is still queued or running.\n";
  script += fmt::format(
      "exec {} sweep --plan \"${{1:?the plan file: normtrain sweep --slurm submits this "
      "script}}\" --task-index \"${{SLURM_ARRAY_TASK_ID:?run with sbatch --array}}\"\n",
      shell_quote(settings.program.string()));
  return script;
}

int run_slurm_sweep(const SweepRequest& request, std::vector<SweepRun>& runs,
                    const std::filesystem::path& program, std::ostream& out) {
  std::vector<std::string> missing;
  for (const char* command : kSlurmCommands) {
    if (!on_path(command)) missing.emplace_back(command);
  }
  if (!missing.empty() && !request.dry_run) {
    throw RuntimeError(fmt::format(
        "{} not found on PATH: Slurm is not installed here. Submit from a machine of the "
        "cluster, or run the sweep here without --slurm; --dry-run shows the job script",
        fmt::join(missing, ", ")));
  }
  if (runs.empty()) return 0;
  const std::filesystem::path sweep_dir = runs.front().dir.parent_path();

  // What the cluster says: this sweep's queued tasks, the nodes' CPUs, MaxArraySize. A dry run
  // goes on without them where Slurm cannot be asked.
  std::string unasked =
      missing.empty() ? "" : fmt::format("{} not on PATH here", fmt::join(missing, ", "));
  std::map<std::string, QueuedTask> queued;
  std::optional<int> node_cpus;
  int max_array_size = kDefaultMaxArraySize;
  if (unasked.empty()) {
    try {
      queued = sweep_tasks(sweep_dir, false);
      node_cpus =
          node_cpus_from(slurm_output({"sinfo", "-h", "-N", "-o", "%P|%c"}), request.partition);
      max_array_size = max_array_size_from(slurm_output({"scontrol", "show", "config"}));
    } catch (const Error& error) {
      if (!request.dry_run) throw;
      unasked = error.what();
    }
    if (unasked.empty() && !node_cpus) {
      throw UsageError(
          request.partition.empty()
              ? "sinfo lists no default partition; give --partition"
              : fmt::format("--partition {}: sinfo lists no node in it", request.partition));
    }
  }

  // Which runs to submit: those with training to do that no array of this sweep holds.
  std::vector<const SweepRun*> todo;
  std::set<std::string> watched;
  int skipped = 0;
  int diverged = 0;
  std::vector<std::string> notes;
  for (const SweepRun& run : runs) {
    const auto task = queued.find(run.name);
    if (task != queued.end()) {
      watched.insert(run.name);
      notes.push_back(fmt::format("queued   {}: task {} is {}", run.name, task->second.job,
                                  task->second.state));
    } else if (needs_training(run)) {
      todo.push_back(&run);
      watched.insert(run.name);
    } else {
      ++(run.plan->action == RunAction::kSkip ? skipped : diverged);
      notes.push_back(fmt::format("{:<8} {}: {}", action_word(run), run.name, run.plan->detail));
    }
  }
  const std::string tally =
      fmt::format("{} skipped as complete, {} diverged (not retried), {} already queued or running",
                  skipped, diverged, queued.size());

  const Threads threads = slurm_threads(request, runs, node_cpus);

  SbatchSettings settings;
  settings.program = program;
  settings.log_pattern = sweep_dir / "slurm-%A_%a.log";
  settings.cpus_per_task = threads.cpus_per_task;
  settings.time_limit = request.time_limit.value_or(kDefaultTimeLimit);
  settings.partition = request.partition;
  settings.extra_lines = request.sbatch_args;
  const std::string script = sbatch_script(settings);
  const std::filesystem::path script_path = sweep_dir / "sweep.sbatch";

  std::vector<PlannedTask> all_tasks;
  for (const SweepRun& run : runs) {
    all_tasks.push_back({run.name, run.dir, run_arguments(run, threads.per_run)});
  }
  std::vector<ArrayPlan> plans;
  std::error_code error;
  const std::filesystem::path workdir = std::filesystem::current_path(error);
  for (const auto& [first, last] : array_parts(todo.size(), max_array_size)) {
    std::vector<PlannedTask> tasks;
    for (std::size_t i = first; i < last; ++i) {
      tasks.push_back({todo[i]->name, todo[i]->dir, run_arguments(*todo[i], threads.per_run)});
    }
    plans.push_back(make_array_plan(sweep_dir, workdir, std::move(tasks)));
  }
  const std::string job_name = folder_safe(sweep_dir.filename().string());
  const auto sbatch_command = [&](const ArrayPlan& plan) {
    const std::filesystem::path plan_path = array_plan_path(sweep_dir, plan.id);
    std::string array = fmt::format("--array=0-{}", plan.tasks.size() - 1);
    if (request.jobs) array += fmt::format("%{}", *request.jobs);
    return std::vector<std::string>{
        "sbatch", "--parsable",         "--job-name=" + job_name, "--comment=" + plan_path.string(),
        array,    script_path.string(), plan_path.string()};
  };

  if (request.dry_run) {
    out << script;
    if (!unasked.empty()) {
      out << fmt::format(
          "# (Slurm could not be asked: {}. Queued runs and the nodes' CPUs were not checked, "
          "and MaxArraySize is assumed {})\n",
          unasked, kDefaultMaxArraySize);
    }
    for (const ArrayPlan& plan : plans) {
      out << fmt::format("# would run: {}\n", shell_words(sbatch_command(plan)));
      for (std::size_t i = 0; i < plan.tasks.size(); ++i) {
        const SweepRun& run = **std::find_if(todo.begin(), todo.end(), [&](const SweepRun* r) {
          return r->name == plan.tasks[i].name;
        });
        out << fmt::format("#   task {}: {:<8} {}: {}\n", i, action_word(run), run.name,
                           run.plan->detail);
      }
    }
    for (const std::string& note : notes) out << "# " << note << "\n";
    out << "# sweep (dry run): "
        << (todo.empty() ? fmt::format("nothing to submit: of the {} runs in {}, {}", runs.size(),
                                       sweep_dir.string(), tally)
                         : fmt::format("{} runs to submit in {} job array{}, {}", todo.size(),
                                       plans.size(), plans.size() == 1 ? "" : "s", tally))
        << "\n"
        << std::flush;
    return 0;
  }

  if (todo.empty()) {
    out << fmt::format("sweep: nothing to submit: of the {} runs in {}, {}\n", runs.size(),
                       sweep_dir.string(), tally)
        << std::flush;
    return request.wait ? wait_and_report(runs, watched, out) : 0;
  }
  ensure_writable_dir(sweep_dir, "--out");
  write_file_atomically(sweep_dir / "sweep.json", sweep_json_text(request.grid, all_tasks));
  write_file_atomically(script_path, script);
  out << fmt::format("sweep: {} runs in {}: {} to submit, {}\n", runs.size(), sweep_dir.string(),
                     todo.size(), tally);
  for (const ArrayPlan& plan : plans) {
    const std::filesystem::path plan_path = write_array_plan(plan);
    const std::vector<std::string> command = sbatch_command(plan);
    const CommandResult result = run_command(command);
    if (result.status.code != 0) {
      throw RuntimeError(fmt::format("sbatch failed to submit {} for {} (exit {}): {}",
                                     script_path.string(), plan_path.string(), result.status.code,
                                     trimmed(result.err)));
    }
    const std::string job = array_job_id(result.out);
    out << fmt::format(
               "sweep: submitted job array {} ({} tasks, plan {}); logs in {} and each run's "
               "normtrain.log\n",
               job, plan.tasks.size(), plan_path.string(),
               (sweep_dir / fmt::format("slurm-{}_*.log", job)).string())
        << std::flush;
  }
  return request.wait ? wait_and_report(runs, watched, out) : 0;
}

}  // namespace normtrain
