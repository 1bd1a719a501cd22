#include "normtrain/commands/sweep/local_runner.hpp"

#include <signal.h>
#include <time.h>

#include <csignal>
#include <utility>

#include "normtrain/commands/sweep/sweep_run.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/exit_status.hpp"

namespace normtrain {
namespace {

// How often the pool looks for ended children; a signal cuts the wait short.
constexpr long kPollNanoseconds = 20'000'000;

JobEnd classify(const ExitStatus& status, bool interrupted) {
  if (status.signal == 0 && status.code == 0) return JobEnd::kCompleted;
  if (status.signal == 0 && status.code == kExitDiverged) return JobEnd::kDiverged;
  if (status.code == kExitInterrupted ||
      (interrupted && (status.signal == SIGINT || status.signal == SIGTERM))) {
    return JobEnd::kStopped;
  }
  return JobEnd::kFailed;
}

}  // namespace

PoolResult run_pool(const std::filesystem::path& program, const std::vector<LocalJob>& jobs,
                    int parallel, const JobEvents& events) {
  PoolResult result;
  result.jobs.resize(jobs.size());
  const StopSignals signals;
  std::vector<std::pair<std::size_t, pid_t>> running;
  std::size_t next = 0;
  int signals_seen = 0;
  while (true) {
    if (signals.count() != signals_seen) {
      signals_seen = signals.count();
      result.interrupted = true;
      for (const auto& [job, pid] : running) ::kill(pid, signals.last());
    }
    while (!result.interrupted && next < jobs.size() &&
           running.size() < static_cast<std::size_t>(parallel)) {
      const std::size_t job = next++;
      try {
        const std::string refusal = events.starting ? events.starting(job) : std::string();
        if (!refusal.empty()) throw RuntimeError(refusal);
        SpawnOptions options;
        options.output = jobs[job].log;
        options.own_process_group = true;
        running.emplace_back(job, spawn(program, jobs[job].args, options));
      } catch (const Error& error) {
        result.jobs[job].end = JobEnd::kFailed;
        result.jobs[job].error = error.what();
        if (events.ended) events.ended(job, result.jobs[job]);
      }
    }
    if (running.empty()) break;
    bool any_ended = false;
    for (auto it = running.begin(); it != running.end();) {
      ExitStatus status;
      if (!reap(it->second, /*block=*/false, status)) {
        ++it;
        continue;
      }
      JobResult& job = result.jobs[it->first];
      job.status = status;
      job.end = classify(status, result.interrupted);
      if (events.ended) events.ended(it->first, job);
      it = running.erase(it);
      any_ended = true;
    }
    if (!any_ended) {
      const timespec pause = {0, kPollNanoseconds};
      ::nanosleep(&pause, nullptr);
    }
  }
  return result;
}

}  // namespace normtrain
