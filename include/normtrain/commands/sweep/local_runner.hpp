#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "normtrain/commands/sweep/subprocess.hpp"

namespace normtrain {

// One job of a local sweep: a command line and the file its output is appended to.
struct LocalJob {
  std::vector<std::string> args;  // args[0] is the name the program sees
  std::filesystem::path log;
};

// How a job ended, from its exit status: 0 completed, 3 diverged (normtrain's "the run worked,
// the model did not"), 130 or ended by the signal passed on: stopped; anything else failed.
enum class JobEnd { kNotStarted, kCompleted, kDiverged, kStopped, kFailed };

struct JobResult {
  JobEnd end = JobEnd::kNotStarted;
  ExitStatus status;
  std::string error;  // why it could not be started
};

// Told as jobs start and end, on the calling thread.
struct JobEvents {
  // Just before a job starts; a non-empty answer is why it cannot, and it fails unstarted.
  std::function<std::string(std::size_t job)> starting;
  std::function<void(std::size_t job, const JobResult& result)> ended;
};

struct PoolResult {
  std::vector<JobResult> jobs;  // in the order given
  bool interrupted = false;     // SIGINT or SIGTERM arrived
};

// Runs the jobs in order, `parallel` at a time, each a child process of `program` in a process
// group of its own, stdin from /dev/null and output appended to its log. SIGINT or SIGTERM
// while it runs starts no more jobs and passes the signal on to the running ones, once for
// each signal received (normtrain stops after its batch on the first, at once on the second),
// then waits for them to end. The previous signal handlers are back when it returns.
PoolResult run_pool(const std::filesystem::path& program, const std::vector<LocalJob>& jobs,
                    int parallel, const JobEvents& events);

}  // namespace normtrain
